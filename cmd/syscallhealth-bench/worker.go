//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A syscallCase is one measured syscall loop, run in a child process of its own so that its rlimits and
// descriptors are its own and a configuration's probes see it as an ordinary process.
type syscallCase struct {
	name  string // worker argument and table key
	title string // table row
	// calls is how many calls one measurement times; enough for ~0.2-0.5 s at bare speed.
	calls int
	// want is the errno every timed call must return (0: success), so a case measures what it claims.
	want unix.Errno
	// prepare sets the process up and returns the call.
	prepare func() (func() unix.Errno, error)
}

var syscallCases = []syscallCase{
	{name: "getppid", title: "getppid (success, unwatched)", calls: 2_000_000, prepare: prepareGetppid},
	{name: "openat-enoent", title: "openat ENOENT (failure, unwatched errno)", calls: 400_000, want: unix.ENOENT, prepare: prepareOpenatENOENT},
	{name: "openat-emfile", title: "openat EMFILE (watched, rate limited)", calls: 1_000_000, want: unix.EMFILE, prepare: prepareOpenatEMFILE},
	// Few enough calls that every event fits in half the bench's 64 MiB ring: the storm guard never
	// engages, so each call pays for a full event.
	{name: "openat-emfile-every", title: "openat EMFILE (watched, every event emitted)", calls: 50_000, want: unix.EMFILE, prepare: prepareOpenatEMFILE},
}

// atFDCWD is AT_FDCWD as a raw syscall argument.
var atFDCWD = func() uintptr { fd := unix.AT_FDCWD; return uintptr(fd) }()

func errnoName(e unix.Errno) string {
	if e == 0 {
		return "success"
	}
	return unix.ErrnoName(e)
}

func caseByName(name string) (syscallCase, bool) {
	for _, c := range syscallCases {
		if c.name == name {
			return c, true
		}
	}
	return syscallCase{}, false
}

func prepareGetppid() (func() unix.Errno, error) {
	return func() unix.Errno {
		_, _, e := unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		return e
	}, nil
}

func prepareOpenatENOENT() (func() unix.Errno, error) {
	path, err := unix.BytePtrFromString("/nonexistent-syscallhealth-bench/file")
	if err != nil {
		return nil, err
	}
	return func() unix.Errno {
		_, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(path)), unix.O_RDONLY, 0, 0, 0)
		return e
	}, nil
}

// prepareOpenatEMFILE lowers RLIMIT_NOFILE to the descriptors in use and fills the table, so every
// openat fails with EMFILE.
func prepareOpenatEMFILE() (func() unix.Errno, error) {
	path, err := unix.BytePtrFromString(os.DevNull)
	if err != nil {
		return nil, err
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	lim.Cur = 64
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return nil, fmt.Errorf("lowering RLIMIT_NOFILE: %w", err)
	}
	for {
		if _, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			if errors.Is(err, unix.EMFILE) {
				break
			}
			return nil, err
		}
	}
	return func() unix.Errno {
		_, _, e := unix.RawSyscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		return e
	}, nil
}

// runWorker is the child side: `syscallhealth-bench worker -case NAME [-calls N] [-cpu C]` prints the mean
// CPU nanoseconds per call of one timed loop.
func runWorker(args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	name := fs.String("case", "", "syscall case")
	calls := fs.Int("calls", 0, "calls to time (0: the case's default)")
	cpu := fs.Int("cpu", 0, "CPU to pin the loop to (-1: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ok := caseByName(*name)
	if !ok {
		return fmt.Errorf("unknown case %q", *name)
	}
	n := c.calls
	if *calls > 0 {
		n = *calls
	}
	runtime.LockOSThread()
	if *cpu >= 0 {
		var set unix.CPUSet
		set.Set(*cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return fmt.Errorf("pinning to CPU %d: %w", *cpu, err)
		}
	}
	call, err := c.prepare()
	if err != nil {
		return err
	}
	for range n / 20 { // warm caches and the kernel's per-key state
		call()
	}
	// The thread's CPU time (the scheduler's exact runtime, syscalls included) rather than wall time: on a
	// shared machine the loop may be descheduled, which wall time would charge to the syscall.
	start, err := threadCPUTime()
	if err != nil {
		return err
	}
	var wrong int
	for range n {
		if call() != c.want {
			wrong++
		}
	}
	end, err := threadCPUTime()
	if err != nil {
		return err
	}
	elapsed := end - start
	if wrong > 0 {
		return fmt.Errorf("case %s: %d of %d calls did not return %q", c.name, wrong, n, errnoName(c.want))
	}
	fmt.Printf("%.2f\n", float64(elapsed.Nanoseconds())/float64(n))
	return nil
}

func threadCPUTime() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("reading the thread's CPU clock: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}
