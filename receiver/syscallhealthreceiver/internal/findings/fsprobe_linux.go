//go:build linux

package findings

import (
	"errors"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// kernelFS answers fsProbe with the kernel's own view, so a stale mount table or a
// symlink in the path cannot mislead the mount point resolution.
type kernelFS struct{}

func (kernelFS) statInRoot(procRoot string, pid uint32, absPath string) (pathStat, bool) {
	root, err := unix.Open(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathStat{}, false
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
			st, ok := statxPath(fd)
			unix.Close(fd)
			if !exists {
				st.fileType = fileTypeAbsent
			}
			return st, ok
		}
		// The failed syscall may have been creating the file: look at its directory.
		if rel == "" || !(errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
			return pathStat{}, false
		}
		exists = false
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			rel = rel[:i]
		} else {
			rel = ""
		}
	}
}

func (kernelFS) openFile(fdPath string) (openFileInfo, bool) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, fdPath, unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE|unix.STATX_MNT_ID, &st); err != nil {
		return openFileInfo{}, false
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return openFileInfo{}, false
	}
	info := openFileInfo{mountID: int(st.Mnt_id), regular: fileTypeOf(st.Mode) == fileTypeRegular}
	if info.regular {
		var fs unix.Statfs_t
		if err := unix.Statfs(fdPath, &fs); err == nil {
			info.full = fs.Bavail == 0 || (fs.Files > 0 && fs.Ffree == 0)
		}
	}
	return info, true
}

// statxPath examines the file behind an O_PATH descriptor.
func statxPath(fd int) (pathStat, bool) {
	var st unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_DONT_SYNC, unix.STATX_TYPE|unix.STATX_MNT_ID, &st); err != nil {
		return pathStat{}, false
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return pathStat{}, false
	}
	return pathStat{mountID: int(st.Mnt_id), fileType: fileTypeOf(st.Mode)}, true
}

func fileTypeOf(mode uint16) fileType {
	switch uint32(mode) & unix.S_IFMT {
	case unix.S_IFREG:
		return fileTypeRegular
	case unix.S_IFDIR:
		return fileTypeDirectory
	case unix.S_IFCHR:
		return fileTypeCharDevice
	case unix.S_IFBLK:
		return fileTypeBlockDevice
	case unix.S_IFIFO:
		return fileTypeFIFO
	case unix.S_IFSOCK:
		return fileTypeSocket
	}
	return fileTypeUnknown
}
