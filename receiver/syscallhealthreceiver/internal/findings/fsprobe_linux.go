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

func (kernelFS) mountIDInRoot(procRoot string, pid uint32, absPath string) (int, bool) {
	root, err := unix.Open(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "root"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(root)
	// RESOLVE_IN_ROOT: absolute symlinks inside the process's tree resolve against its
	// root, not against the collector's.
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	rel := strings.TrimPrefix(path.Clean(absPath), "/")
	for {
		name := rel
		if name == "" {
			name = "."
		}
		fd, err := unix.Openat2(root, name, &how)
		if err == nil {
			id, ok := statxMountID(fd, "", unix.AT_EMPTY_PATH)
			unix.Close(fd)
			return id, ok
		}
		// The failed syscall may have been creating the file: look at its directory.
		if rel == "" || !(errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
			return 0, false
		}
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
	info := openFileInfo{mountID: int(st.Mnt_id), regular: st.Mode&unix.S_IFMT == unix.S_IFREG}
	if info.regular {
		var fs unix.Statfs_t
		if err := unix.Statfs(fdPath, &fs); err == nil {
			info.full = fs.Bavail == 0 || (fs.Files > 0 && fs.Ffree == 0)
		}
	}
	return info, true
}

func statxMountID(dirfd int, name string, flags int) (int, bool) {
	var st unix.Statx_t
	if err := unix.Statx(dirfd, name, flags|unix.AT_STATX_DONT_SYNC, unix.STATX_MNT_ID, &st); err != nil {
		return 0, false
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return 0, false
	}
	return int(st.Mnt_id), true
}
