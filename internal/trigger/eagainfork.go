//go:build linux

package trigger

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// spareThreadCount is how many idle OS threads the runtime gets before the
// cgroup reaches its limit: it reuses them instead of creating threads, which
// would fail there and abort the process.
const spareThreadCount = 4

// runEAGAINFork joins a pids cgroup, sets pids.max to the number of tasks
// already in it and makes exactly o.Failures raw clone(SIGCHLD) calls (fork
// semantics, the same on amd64 and arm64) that fail with EAGAIN. Afterwards it
// restores the limit, moves back to its original cgroup and removes the cgroup
// it created.
func runEAGAINFork(o Options, r *Result) (err error) {
	r.Syscall, r.Errno = "clone", unix.ErrnoName(unix.EAGAIN)
	h, err := FindPidsHierarchy()
	if err != nil {
		return err
	}
	origin, err := h.current()
	if err != nil {
		return err
	}
	dir := o.Cgroup
	if dir == "" {
		dir = filepath.Join(h.Mount, "syscallhealth-trigger-"+strconv.Itoa(os.Getpid()))
		if err := createPidsCgroup(h, dir); err != nil {
			return err
		}
		defer func() {
			if rmErr := unix.Rmdir(dir); rmErr != nil && err == nil {
				err = fmt.Errorf("removing cgroup %s: %w", dir, rmErr)
			}
		}()
	}
	previousMax, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	if err != nil {
		return fmt.Errorf("cgroup %s has no readable pids.max (is it a pids cgroup? run as root): %w", dir, err)
	}
	maxFile, err := os.OpenFile(filepath.Join(dir, "pids.max"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("opening pids.max of %s (run as root): %w", dir, err)
	}
	defer maxFile.Close()

	// One P, no collection and spare idle threads: the runtime must not need a
	// new thread while the cgroup is at its limit.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	spareThreads()

	if err := joinCgroup(dir); err != nil {
		return err
	}
	defer func() {
		if backErr := joinCgroup(origin); backErr != nil && err == nil {
			err = backErr
		}
	}()
	current, err := os.ReadFile(filepath.Join(dir, "pids.current"))
	if err != nil {
		return fmt.Errorf("reading pids.current of %s: %w", dir, err)
	}
	return failForks(int(maxFile.Fd()), []byte(strings.TrimSpace(string(current))), previousMax, o, r)
}

// failForks is the window in which the cgroup is at its limit: only raw
// syscalls, which never hand the thread's P to another thread.
func failForks(maxFD int, limit, previousMax []byte, o Options, r *Result) error {
	if errno := rawPwrite(maxFD, limit); errno != 0 {
		return fmt.Errorf("setting pids.max to %s: %w", limit, errno)
	}
	var callErr error
	for r.Failures < o.Failures {
		pid, errno := rawFork()
		if errno == unix.EAGAIN {
			counted(o, r)
			continue
		}
		if errno == 0 {
			var status unix.WaitStatus
			unix.Wait4(pid, &status, 0, nil)
			callErr = unexpected("clone under pids.max="+string(limit), nil, unix.EAGAIN, r.Failures)
		} else {
			callErr = unexpected("clone", errno, unix.EAGAIN, r.Failures)
		}
		break
	}
	if errno := rawPwrite(maxFD, previousMax); errno != 0 && callErr == nil {
		callErr = fmt.Errorf("restoring pids.max to %s: %w", strings.TrimSpace(string(previousMax)), errno)
	}
	return callErr
}

// rawFork is clone(SIGCHLD): fork semantics. A child, if the limit let one
// through, exits at once without returning into the Go runtime.
func rawFork() (int, unix.Errno) {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(pid), errno
}

// rawPwrite writes b at offset 0 without entering the scheduler's syscall path.
func rawPwrite(fd int, b []byte) unix.Errno {
	_, _, errno := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	return errno
}

// spareThreads has the runtime start threads for goroutines blocked in a
// syscall; they stay parked and are reused later.
func spareThreads() {
	var wg sync.WaitGroup
	for range spareThreadCount {
		wg.Go(func() { unix.Nanosleep(&unix.Timespec{Nsec: 20_000_000}, nil) })
	}
	wg.Wait()
}

// createPidsCgroup creates dir under the hierarchy, enabling the pids
// controller for children of the v2 root first.
func createPidsCgroup(h PidsHierarchy, dir string) error {
	if h.V2 {
		if err := os.WriteFile(filepath.Join(h.Mount, "cgroup.subtree_control"), []byte("+pids"), 0); err != nil {
			return fmt.Errorf("enabling the pids controller in %s (run as root): %w", h.Mount, err)
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("creating cgroup %s (run as root): %w", dir, err)
	}
	return nil
}

// joinCgroup moves the whole process (every thread) into dir.
func joinCgroup(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
		return fmt.Errorf("moving this process into cgroup %s (run as root): %w", dir, err)
	}
	return nil
}
