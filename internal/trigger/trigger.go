//go:build linux

// Package trigger causes real, counted syscall failures in the calling process
// so that the kernel probes and the collector can be checked end to end. Every
// scenario makes exactly the requested number of calls fail with one errno, and
// issues those calls as raw syscalls so the failing syscall is exactly the one
// it names. Scenarios change process state (rlimits, credentials, cgroup) and
// are meant to run in a process of their own, such as syscallhealth-trigger.
package trigger

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options parameterise a scenario; Scenario.Options lists which ones apply.
type Options struct {
	// Failures is the exact number of failing calls to cause (at least 1).
	Failures int
	// Dir is the tiny filesystem (a tmpfs) that the enospc scenario fills.
	Dir string
	// Syscall selects the failing call of enospc: "write" (fill the blocks) or
	// "openat" (fill the inodes of a tmpfs mounted with nr_inodes=).
	Syscall string
	// Address is the loopback address of the network scenarios; 127.0.0.1 when invalid.
	Address netip.Addr
	// Port is the closed port of econnrefused or the port held by eaddrinuse; 0 picks a free one.
	Port uint16
	// Path is the file that eacces opens after dropping privileges.
	Path string
	// Cgroup is an existing pids cgroup directory for eagain-fork; empty creates a temporary one.
	Cgroup string
	// Interval is a pause between failing calls, so a rate limiter refills in between.
	Interval time.Duration
	// Mode is how econnrefused and etimedout connect: ModeBlocking, ModeNonblocking or
	// ModeDial; empty means blocking for econnrefused and nonblocking for etimedout.
	Mode string
	// Unix is an abstract unix socket name ("@name") that econnrefused connects to instead of a
	// loopback port; nothing listens on it.
	Unix string
	// Comm, when set, renames the process and its failing thread first (any bytes the kernel keeps:
	// at most 15), as any program may name itself.
	Comm string
}

// Scenario is one way of causing a (syscall, errno) failure.
type Scenario struct {
	Name    string
	Summary string
	// Options names the Options fields (as CLI flags) that the scenario reads besides Failures.
	Options []string
	run     func(o Options, r *Result) error
}

// Scenarios lists every scenario in a stable order.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "emfile", Summary: "openat fails with EMFILE under a lowered RLIMIT_NOFILE", run: runEMFILE},
		{Name: "enospc", Summary: "write (or openat with -syscall openat) fails with ENOSPC on a full tiny tmpfs", Options: []string{"dir", "syscall"}, run: runENOSPC},
		{Name: "enomem", Summary: "mmap fails with ENOMEM under a lowered RLIMIT_AS", run: runENOMEM},
		{Name: "econnrefused", Summary: "connect to a closed loopback port (or with -unix an abstract unix socket nothing listens on) fails with ECONNREFUSED (-mode blocking, nonblocking: EINPROGRESS then SO_ERROR, dial: Go net.Dial)", Options: []string{"address", "port", "mode", "unix"}, run: runECONNREFUSED},
		{Name: "etimedout", Summary: "connect times out with ETIMEDOUT in a private network namespace that drops SYNs, in ~3 s (needs root; -mode as econnrefused, default nonblocking)", Options: []string{"address", "port", "mode"}, run: runETIMEDOUT},
		{Name: "eaddrinuse", Summary: "bind to a loopback address:port already listening fails with EADDRINUSE", Options: []string{"address", "port"}, run: runEADDRINUSE},
		{Name: "eacces", Summary: "openat of a file unreadable by uid 65534 fails with EACCES (root drops to 65534 first)", Options: []string{"path"}, run: runEACCES},
		{Name: "eagain-fork", Summary: "clone fails with EAGAIN inside a pids cgroup at its limit (needs root)", Options: []string{"cgroup"}, run: runEAGAINFork},
	}
}

// Lookup returns the scenario with that name.
func Lookup(name string) (Scenario, bool) {
	i := slices.IndexFunc(Scenarios(), func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return Scenarios()[i], true
}

// Names returns the scenario names, for usage messages.
func Names() []string {
	var names []string
	for _, s := range Scenarios() {
		names = append(names, s.Name)
	}
	return names
}

// Validate checks the options that do not need the system.
func (s Scenario) Validate(o Options) error {
	if o.Interval < 0 {
		return fmt.Errorf("%s: -interval must not be negative, got %s", s.Name, o.Interval)
	}
	if len(o.Comm) > maxComm || strings.ContainsRune(o.Comm, 0) {
		return fmt.Errorf("%s: -comm %q must be at most %d bytes without NUL (the kernel keeps no more)", s.Name, o.Comm, maxComm)
	}
	if o.Failures < 1 {
		return fmt.Errorf("%s: the number of failures (-n) must be at least 1, got %d", s.Name, o.Failures)
	}
	switch s.Name {
	case "enospc":
		if o.Dir == "" {
			return errors.New("enospc: -dir is required: mount a tiny tmpfs first, e.g. mount -t tmpfs -o size=1m,nr_inodes=16 tmpfs /mnt/full")
		}
		if o.Syscall != "" && o.Syscall != "write" && o.Syscall != "openat" {
			return fmt.Errorf("enospc: -syscall must be write or openat, got %q", o.Syscall)
		}
	case "econnrefused", "etimedout", "eaddrinuse":
		if o.Address.IsValid() && !o.Address.IsLoopback() {
			return fmt.Errorf("%s: -address must be a loopback address (127.0.0.1 or ::1), got %s", s.Name, o.Address)
		}
		if s.Name == "eaddrinuse" {
			break
		}
		if o.Unix != "" && (!strings.HasPrefix(o.Unix, "@") || len(o.Unix) < 2 || strings.Contains(o.Unix, "\x00")) {
			return fmt.Errorf("%s: -unix must be an abstract socket name, @ and at least one byte other than NUL, got %q", s.Name, o.Unix)
		}
		if o.Unix != "" && (o.Address.IsValid() || o.Port != 0 || (o.Mode != "" && o.Mode != ModeBlocking)) {
			return fmt.Errorf("%s: -unix connects blocking to a unix socket; it does not take -address, -port or -mode", s.Name)
		}
		if o.Mode != "" && !slices.Contains(connectModes, o.Mode) {
			return fmt.Errorf("%s: -mode must be one of %s, got %q", s.Name, strings.Join(connectModes, ", "), o.Mode)
		}
		if o.Mode == ModeDial && o.Address.Is4In6() {
			return fmt.Errorf("%s: -mode dial cannot use %s: Go dials v4-mapped addresses over IPv4; use -mode nonblocking or blocking", s.Name, o.Address)
		}
	case "eacces":
		if o.Path == "" {
			return errors.New("eacces: -path is required: a file that uid 65534 cannot read, e.g. install -m 0600 /dev/null /tmp/secret")
		}
	}
	return nil
}

// Run causes exactly o.Failures failures of the scenario's (syscall, errno) in
// this process, all from one OS thread, and reports them. On error the result
// still holds the failures caused so far.
func (s Scenario) Run(o Options) (Result, error) {
	if err := s.Validate(o); err != nil {
		return Result{}, err
	}
	// One thread makes every failing call, so Result.TID names it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := Result{PID: os.Getpid(), TID: unix.Gettid()}
	if o.Comm != "" {
		if err := setComm(o.Comm); err != nil {
			return r, fmt.Errorf("%s: -comm: %w", s.Name, err)
		}
	}
	if err := s.run(o, &r); err != nil {
		return r, fmt.Errorf("%s: %w", s.Name, err)
	}
	if r.Failures != o.Failures {
		return r, fmt.Errorf("%s: caused %d failures instead of %d", s.Name, r.Failures, o.Failures)
	}
	return r, nil
}

// counted records one failure and, unless it was the last, pauses for
// o.Interval with a raw nanosleep: the thread keeps its P, so the runtime
// never needs another thread meanwhile (see eagain-fork).
func counted(o Options, r *Result) {
	r.Failures++
	if r.Failures < o.Failures && o.Interval > 0 {
		ts := unix.NsecToTimespec(o.Interval.Nanoseconds())
		for {
			_, _, errno := unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
			if errno != unix.EINTR {
				return
			}
		}
	}
}

// unexpected describes a call that did not fail the way the scenario needs.
func unexpected(call string, got error, want unix.Errno, done int) error {
	if got == nil {
		return fmt.Errorf("%s succeeded after %d failures; expected %s", call, done, unix.ErrnoName(want))
	}
	return fmt.Errorf("%s failed with %v after %d failures; expected %s", call, got, done, unix.ErrnoName(want))
}
