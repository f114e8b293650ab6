//go:build linux

package trigger

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

const (
	// maxFillBytes bounds what enospc writes: a directory with more free space
	// is refused so that a wrong -dir never fills a real disk.
	maxFillBytes = 64 << 20
	// maxFillInodes bounds the files that enospc -syscall openat creates.
	maxFillInodes = 4096
	fillChunk     = 64 << 10
)

// runENOSPC fills o.Dir, a tiny tmpfs, and makes exactly o.Failures calls
// fail with ENOSPC: writes to one file once the blocks are used up, or, with
// -syscall openat, creations of one file name once the inodes are used up.
// It removes what it wrote before returning.
func runENOSPC(o Options, r *Result) error {
	r.Errno = unix.ErrnoName(unix.ENOSPC)
	var st unix.Statfs_t
	if err := unix.Statfs(o.Dir, &st); err != nil {
		return fmt.Errorf("-dir %s: %w", o.Dir, err)
	}
	target := filepath.Join(o.Dir, "syscallhealth-trigger-"+strconv.Itoa(os.Getpid()))
	r.Path = target
	if o.Syscall == "openat" {
		r.Syscall = "openat"
		if st.Ffree > maxFillInodes {
			return fmt.Errorf("-dir %s has %d free inodes; refusing to fill more than %d: mount a tiny tmpfs, e.g. mount -t tmpfs -o size=1m,nr_inodes=16 tmpfs %s", o.Dir, st.Ffree, maxFillInodes, o.Dir)
		}
		return fillInodes(target, int(st.Ffree), o, r)
	}
	r.Syscall = "write"
	free := st.Bavail * uint64(st.Bsize)
	if free > maxFillBytes {
		return fmt.Errorf("-dir %s has %d MiB free; refusing to fill more than %d MiB: mount a tiny tmpfs, e.g. mount -t tmpfs -o size=1m tmpfs %s", o.Dir, free>>20, maxFillBytes>>20, o.Dir)
	}
	return fillBlocks(target, free, o, r)
}

// fillBlocks writes to target until writes fail with ENOSPC. Writes that
// still succeed in between (the tail of a partly used page) are not failures.
func fillBlocks(target string, free uint64, o Options, r *Result) error {
	fd, err := unix.Openat(unix.AT_FDCWD, target, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", target, err)
	}
	defer unix.Unlink(target)
	defer unix.Close(fd)
	chunk := make([]byte, fillChunk)
	var written uint64
	for r.Failures < o.Failures {
		n, err := unix.Write(fd, chunk)
		switch {
		case err == nil:
			written += uint64(n)
			if written > 2*free+fillChunk {
				return fmt.Errorf("wrote %d bytes into %s without ENOSPC although only %d were free", written, target, free)
			}
		case err == unix.ENOSPC:
			counted(o, r)
		default:
			return unexpected("write", err, unix.ENOSPC, r.Failures)
		}
	}
	return nil
}

// fillInodes creates target and renames it aside until creating it fails with
// ENOSPC, so every failing openat names the same path.
func fillInodes(target string, free int, o Options, r *Result) error {
	var fills []string
	defer func() {
		for _, f := range fills {
			unix.Unlink(f)
		}
	}()
	for r.Failures < o.Failures {
		fd, err := unix.Openat(unix.AT_FDCWD, target, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		switch {
		case err == nil && r.Failures == 0:
			unix.Close(fd)
			fill := target + "-fill-" + strconv.Itoa(len(fills))
			if err := unix.Renameat(unix.AT_FDCWD, target, unix.AT_FDCWD, fill); err != nil {
				unix.Unlink(target)
				return fmt.Errorf("renaming %s aside: %w", target, err)
			}
			fills = append(fills, fill)
			if len(fills) > free+spareDescriptors {
				return fmt.Errorf("created %d files in %s without ENOSPC although only %d inodes were free", len(fills), filepath.Dir(target), free)
			}
		case err == unix.ENOSPC:
			counted(o, r)
		default:
			if err == nil {
				unix.Close(fd)
				unix.Unlink(target)
			}
			return unexpected("openat", err, unix.ENOSPC, r.Failures)
		}
	}
	return nil
}
