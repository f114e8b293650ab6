package findings

import (
	"os"
	"path/filepath"
	"time"
)

const (
	// openFilesTTL: a process's open files are scanned at most this often.
	openFilesTTL = 5 * time.Second
	// maxOpenFileScans bounds the cache of scans (one per process).
	maxOpenFileScans = 256
	// maxScannedFDs bounds the work per scan for processes with huge descriptor tables.
	maxScannedFDs = 4096
)

// filesystemUse is one filesystem holding a regular file the process has open.
type filesystemUse struct {
	mount Mount
	full  bool
}

// openFilesystems finds the filesystem behind a failed write that carries no path
// (write(2) has only a descriptor): among the filesystems of the process's open
// regular files, the one that is full (disk_full) or read-only (read_only_filesystem),
// or the only one.
type openFilesystems struct {
	procRoot string
	probe    fsProbe
	mounts   *mountResolver
	clock    Clock
	scans    map[uint32]openFilesScan
}

type openFilesScan struct {
	uses []filesystemUse
	at   time.Time
}

func newOpenFilesystems(procRoot string, probe fsProbe, mounts *mountResolver, clock Clock) *openFilesystems {
	return &openFilesystems{procRoot: procRoot, probe: probe, mounts: mounts, clock: clock, scans: make(map[uint32]openFilesScan)}
}

// filesystemFor picks the filesystem that explains a path-less failure of kind k by process pid.
func (o *openFilesystems) filesystemFor(k Kind, pid uint32) (Mount, bool) {
	uses := o.scan(pid)
	var matching []Mount
	for _, u := range uses {
		if (k == KindDiskFull && u.full) || (k == KindReadOnlyFilesystem && u.mount.ReadOnly) {
			matching = append(matching, u.mount)
		}
	}
	if len(matching) > 0 {
		return matching[0], true
	}
	if len(uses) == 1 {
		return uses[0].mount, true
	}
	return Mount{}, false
}

func (o *openFilesystems) scan(pid uint32) []filesystemUse {
	now := o.clock.Now()
	if s, ok := o.scans[pid]; ok && now.Sub(s.at) < openFilesTTL {
		return s.uses
	}
	uses := o.readOpenFiles(pid)
	if len(o.scans) >= maxOpenFileScans {
		for p, s := range o.scans {
			if now.Sub(s.at) >= openFilesTTL {
				delete(o.scans, p)
			}
		}
		if len(o.scans) >= maxOpenFileScans {
			clear(o.scans)
		}
	}
	o.scans[pid] = openFilesScan{uses: uses, at: now}
	return uses
}

func (o *openFilesystems) readOpenFiles(pid uint32) []filesystemUse {
	fdDir := o.mounts.procPath(pid, "fd")
	dir, err := os.Open(fdDir)
	if err != nil {
		return nil
	}
	names, _ := dir.Readdirnames(maxScannedFDs)
	dir.Close()
	table, fresh, err := o.mounts.table(pid, false)
	if err != nil {
		return nil
	}
	var uses []filesystemUse
	seen := make(map[int]bool)
	for _, name := range names {
		info, ok := o.probe.openFile(filepath.Join(fdDir, name))
		if !ok || !info.regular || seen[info.mountID] {
			continue
		}
		seen[info.mountID] = true
		m, ok := table.byMountID(info.mountID)
		if !ok && !fresh {
			if table, fresh, err = o.mounts.table(pid, true); err != nil {
				return uses
			}
			m, ok = table.byMountID(info.mountID)
		}
		if !ok || pseudoFilesystems[m.FSType] {
			continue
		}
		uses = append(uses, filesystemUse{mount: m, full: info.full})
	}
	return uses
}
