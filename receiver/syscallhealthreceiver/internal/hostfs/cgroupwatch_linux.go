package hostfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// watchPoll bounds how long Watch takes to notice its context ended.
const watchPoll = 200 * time.Millisecond

// WatchCgroups calls changed once its watches are in place, then each time cgroups were created or removed
// in the hierarchy hier (events arriving together are coalesced into one call), until ctx ends. It watches
// every cgroup directory with inotify, adding the new ones as they appear. It returns ctx's error, or
// the error that stopped it.
func WatchCgroups(ctx context.Context, hier cgroups.Hierarchy, changed func()) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watching cgroups: %w", err)
	}
	defer unix.Close(fd)
	w := &watcher{fd: fd, dirs: make(map[int32]string)}
	if err := w.addTree(hier.Mount); err != nil {
		return err
	}
	changed()
	buf := make([]byte, 64<<10)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(watchPoll/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
			return fmt.Errorf("watching cgroups: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fds[0].Revents == 0 {
			continue
		}
		any := false
		for {
			n, err := unix.Read(fd, buf)
			if errors.Is(err, unix.EAGAIN) || n <= 0 {
				break
			}
			if err != nil {
				return fmt.Errorf("watching cgroups: %w", err)
			}
			if w.handle(buf[:n]) {
				any = true
			}
		}
		if w.err != nil {
			return w.err
		}
		if any {
			changed()
		}
	}
}

type watcher struct {
	fd   int
	dirs map[int32]string
	err  error
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_ONLYDIR

// addTree watches dir and every directory below it.
func (w *watcher) addTree(dir string) error {
	wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return nil // removed meanwhile
		}
		if errors.Is(err, unix.ENOSPC) {
			return fmt.Errorf("watching cgroup %s: out of inotify watches (raise fs.inotify.max_user_watches): %w", dir, err)
		}
		return fmt.Errorf("watching cgroup %s: %w", dir, err)
	}
	w.dirs[int32(wd)] = dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := w.addTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// handle processes a buffer of inotify events and reports whether a cgroup came or went.
func (w *watcher) handle(buf []byte) bool {
	changed := false
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		nameLen := int(ev.Len)
		name := ""
		if nameLen > 0 {
			raw := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+nameLen]
			for i, c := range raw {
				if c == 0 {
					raw = raw[:i]
					break
				}
			}
			name = string(raw)
		}
		off += unix.SizeofInotifyEvent + nameLen
		switch {
		case ev.Mask&unix.IN_Q_OVERFLOW != 0:
			changed = true // events lost: the caller resolves everything again anyway
		case ev.Mask&unix.IN_IGNORED != 0:
			delete(w.dirs, ev.Wd)
		case ev.Mask&unix.IN_ISDIR == 0:
		case ev.Mask&unix.IN_CREATE != 0:
			if parent, ok := w.dirs[ev.Wd]; ok && w.err == nil {
				w.err = w.addTree(filepath.Join(parent, name))
			}
			changed = true
		case ev.Mask&unix.IN_DELETE != 0:
			changed = true
		}
	}
	return changed
}
