//go:build linux

package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroup is a cgroup of the v2 hierarchy created for one test.
type Cgroup struct {
	Dir string
	// ID is the cgroup's id, as bpf_get_current_cgroup_id reports it (the directory's inode number).
	ID uint64
	fd int
}

// NewCgroup creates an empty cgroup in the cgroup v2 hierarchy (the unified
// mount on hybrid hosts), removed when the test ends; the test must have
// reaped the processes it started in it by then.
func NewCgroup(tb testing.TB) Cgroup {
	tb.Helper()
	mount, err := cgroup2Mount()
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp(mount, "syscallhealth-test-")
	if err != nil {
		tb.Fatalf("creating a cgroup: %v", err)
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		tb.Fatalf("opening the cgroup %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		unix.Close(fd)
		// An exited process leaves its cgroup a moment after it was reaped.
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := unix.Rmdir(dir)
			if err == nil || !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
				if err != nil {
					tb.Errorf("removing the cgroup %s: %v", dir, err)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		tb.Fatal(err)
	}
	return Cgroup{Dir: dir, ID: st.Ino, fd: fd}
}

// SysProcAttr starts a process directly in the cgroup (clone3 with CLONE_INTO_CGROUP),
// so none of its syscalls happen outside it.
func (c Cgroup) SysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: c.fd}
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields := strings.Fields(pre)
		if ok && len(fields) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			return filepath.Clean(fields[4]), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no cgroup v2 hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup/unified)")
}
