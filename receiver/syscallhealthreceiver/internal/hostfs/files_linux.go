//go:build linux

package hostfs

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// statInRoot asks the kernel itself, so a stale mount table or a symlink in the path cannot
// mislead the mount resolution.
func statInRoot(procRoot string, absPath string) (PathStat, error) {
	root, err := unix.Open(procRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return PathStat{}, err
	}
	defer unix.Close(root)
	// RESOLVE_IN_ROOT: absolute symlinks inside the process's tree resolve against its
	// root, not against the collector's. O_PATH opens no device, FIFO or socket.
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	rel := strings.TrimPrefix(path.Clean(absPath), "/")
	exists := true
	for {
		name := rel
		if name == "" {
			name = "."
		}
		fd, err := unix.Openat2(root, name, &how)
		if err == nil {
			st, err := statxPath(fd)
			unix.Close(fd)
			if !exists {
				st.Type = FileTypeAbsent
			}
			return st, err
		}
		// The failed syscall may have been creating the file: look at its directory.
		if rel == "" || !(errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
			return PathStat{}, err
		}
		exists = false
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			rel = rel[:i]
		} else {
			rel = ""
		}
	}
}

var errNoMountID = errors.New("statx did not return the mount ID")

// statxPath examines the file behind an O_PATH descriptor.
func statxPath(fd int) (PathStat, error) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE|unix.STATX_MNT_ID, &st); err != nil {
		return PathStat{}, err
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return PathStat{}, errNoMountID
	}
	return PathStat{MountID: int(st.Mnt_id), Device: Device{st.Dev_major, st.Dev_minor}, Type: fileTypeOf(st.Mode)}, nil
}

func openFile(fdPath string) (OpenFile, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, fdPath, unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE|unix.STATX_MNT_ID, &st); err != nil {
		return OpenFile{}, false
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return OpenFile{}, false
	}
	f := OpenFile{MountID: int(st.Mnt_id), Device: Device{st.Dev_major, st.Dev_minor}, Regular: fileTypeOf(st.Mode) == FileTypeRegular}
	if f.Regular {
		var fs unix.Statfs_t
		if err := unix.Statfs(fdPath, &fs); err == nil {
			f.Full = fs.Bavail == 0 || (fs.Files > 0 && fs.Ffree == 0)
		}
	}
	return f, true
}

func fileTypeOf(mode uint16) FileType {
	switch uint32(mode) & unix.S_IFMT {
	case unix.S_IFREG:
		return FileTypeRegular
	case unix.S_IFDIR:
		return FileTypeDirectory
	case unix.S_IFCHR:
		return FileTypeCharDevice
	case unix.S_IFBLK:
		return FileTypeBlockDevice
	case unix.S_IFIFO:
		return FileTypeFIFO
	case unix.S_IFSOCK:
		return FileTypeSocket
	}
	return FileTypeUnknown
}

// CheckProcfs tells whether the root's /proc is a mounted procfs, with an error naming root_path if not.
func (h *Host) CheckProcfs() error {
	var st unix.Statfs_t
	if err := unix.Statfs(h.proc, &st); err != nil {
		return fmt.Errorf("root_path %s: %s is not readable: %w", h.root, h.proc, err)
	}
	if st.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("root_path %s: %s is not a procfs mount (mount the host's /proc there, e.g. -v /proc:%s:ro)", h.root, h.proc, h.proc)
	}
	return nil
}
