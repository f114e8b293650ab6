package findings

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

const (
	// openFilesTTL: a process's open files are scanned at most this often (a scan that
	// failed or timed out included).
	openFilesTTL = 5 * time.Second
	// maxOpenFileScans bounds the cache of scans (one per process).
	maxOpenFileScans = 256
)

// filesystemUse is one filesystem holding a regular file the process has open.
type filesystemUse struct {
	mount hostfs.Mount
	full  bool
	ns    uint64
}

// openFilesystems finds the filesystem behind a failed write that carries no path
// (write(2) has only a descriptor): among the filesystems of the process's open
// regular files, the one that is full (disk_full) or read-only (read_only_filesystem),
// or the only one. Safe for concurrent use; no lock is held during a lookup.
type openFilesystems struct {
	probe  fsProbe
	mounts *mountResolver
	clock  Clock

	mu    sync.Mutex
	scans map[uint32]openFilesScan
	// evicted counts the scans dropped while still fresh, to stay within maxOpenFileScans.
	evicted atomic.Uint64
}

type openFilesScan struct {
	uses []filesystemUse
	at   time.Time
}

func newOpenFilesystems(probe fsProbe, mounts *mountResolver, clock Clock) *openFilesystems {
	return &openFilesystems{probe: probe, mounts: mounts, clock: clock, scans: make(map[uint32]openFilesScan)}
}

// filesystemFor picks the filesystem that explains a path-less failure of kind k by process pid.
func (o *openFilesystems) filesystemFor(k Kind, pid uint32) (filesystemUse, bool) {
	uses := o.scan(pid)
	for _, u := range uses {
		if (k == KindDiskFull && u.full) || (k == KindReadOnlyFilesystem && u.mount.ReadOnly) {
			return u, true
		}
	}
	if len(uses) == 1 {
		return uses[0], true
	}
	return filesystemUse{}, false
}

func (o *openFilesystems) scan(pid uint32) []filesystemUse {
	now := o.clock.Now()
	o.mu.Lock()
	s, ok := o.scans[pid]
	o.mu.Unlock()
	if ok && now.Sub(s.at) < openFilesTTL {
		return s.uses
	}
	uses := o.readOpenFiles(pid)
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.scans) >= maxOpenFileScans {
		for p, s := range o.scans {
			if now.Sub(s.at) >= openFilesTTL {
				delete(o.scans, p)
			}
		}
		if len(o.scans) >= maxOpenFileScans {
			o.evicted.Add(uint64(len(o.scans)))
			clear(o.scans)
		}
	}
	o.scans[pid] = openFilesScan{uses: uses, at: now}
	return uses
}

func (o *openFilesystems) readOpenFiles(pid uint32) []filesystemUse {
	files, err := o.probe.OpenFiles(pid)
	if err != nil || len(files) == 0 {
		return nil
	}
	table, fresh, err := o.mounts.table(pid, false)
	if err != nil {
		return nil
	}
	var uses []filesystemUse
	seen := make(map[int]bool)
	for _, f := range files {
		if !f.Regular || seen[f.MountID] {
			continue
		}
		seen[f.MountID] = true
		m, ok := table.ByMountID(f.MountID)
		if !ok && !fresh {
			if table, fresh, err = o.mounts.table(pid, true); err != nil {
				return uses
			}
			m, ok = table.ByMountID(f.MountID)
		}
		if !ok || pseudoFilesystems[m.FSType] {
			continue
		}
		uses = append(uses, filesystemUse{mount: m, full: f.Full, ns: table.Namespace})
	}
	return uses
}
