package hostfs

import (
	"os"
	"time"
)

// maxOpenFiles bounds the descriptors examined per scan for processes with huge descriptor tables.
const maxOpenFiles = 4096

// FileType is what a path names.
type FileType uint8

const (
	FileTypeUnknown FileType = iota // not examined: the process is gone, or the kernel would not say
	FileTypeAbsent                  // does not exist: the failed syscall was creating it
	FileTypeRegular
	FileTypeDirectory
	FileTypeCharDevice
	FileTypeBlockDevice
	FileTypeFIFO
	FileTypeSocket
)

// PathStat is what the kernel says of a path.
type PathStat struct {
	// MountID is the mount ID (the first mountinfo field) of the path, or of its nearest
	// existing ancestor when it does not exist (then Type is FileTypeAbsent).
	MountID int
	Device  Device
	Type    FileType
}

// OpenFile is one open descriptor of a process.
type OpenFile struct {
	MountID int
	Device  Device
	Regular bool
	// Full: no block (for unprivileged writers) or no inode is left on its filesystem.
	Full bool
}

// StatInRoot examines absPath, or its nearest existing ancestor, resolved inside the root of
// process pid (so symlinks and mounts are those the process sees). fs is the device of the
// filesystem the caller expects the path on (zero when unknown): after a timeout on a
// filesystem, it is not asked again for a while (ErrUnresponsive).
func (h *Host) StatInRoot(pid uint32, absPath string, fs Device) (PathStat, error) {
	now := time.Now()
	if h.hung.avoided(fs, now) {
		h.stats.unresponsive.Add(1)
		return PathStat{}, ErrUnresponsive
	}
	st, err := call(h.calls, "stat path", func() (PathStat, error) { return statInRoot(h.pidPath(pid, "root"), absPath) })
	if err == ErrTimeout {
		h.hung.mark(fs, now)
	}
	return st, err
}

// OpenFiles examines the regular files and other descriptors process pid has open
// (/proc/<pid>/fd/*), at most maxOpenFiles of them, under one deadline.
func (h *Host) OpenFiles(pid uint32) ([]OpenFile, error) {
	return call(h.calls, "open files", func() ([]OpenFile, error) {
		d, err := os.Open(h.pidPath(pid, "fd"))
		if err != nil {
			return nil, err
		}
		names, _ := d.Readdirnames(maxOpenFiles)
		d.Close()
		files := make([]OpenFile, 0, len(names))
		for _, name := range names {
			if f, ok := openFile(h.pidPath(pid, "fd", name)); ok {
				files = append(files, f)
			}
		}
		return files, nil
	})
}

// Cwd returns the working directory of pid.
func (h *Host) Cwd(pid uint32) (string, error) {
	return call(h.calls, "cwd", func() (string, error) { return readlink(h.pidPath(pid, "cwd")) })
}

func readlink(name string) (string, error) { return os.Readlink(name) }
