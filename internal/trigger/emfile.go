//go:build linux

package trigger

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// spareDescriptors is how many descriptors above the highest open one the
// lowered RLIMIT_NOFILE leaves, so the fill loop stays short.
const spareDescriptors = 8

// runEMFILE lowers the soft RLIMIT_NOFILE just above the open descriptors,
// opens /dev/null until openat fails with EMFILE, and keeps calling until
// exactly o.Failures calls failed. The soft limit is raised back afterwards
// (allowed without CAP_SYS_RESOURCE since it stays below the hard limit).
func runEMFILE(o Options, r *Result) error {
	r.Syscall, r.Errno, r.Path = "openat", unix.ErrnoName(unix.EMFILE), os.DevNull
	// A pipe registers with the runtime's poller now, so the runtime needs
	// no descriptor of its own while none are left.
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	defer pw.Close()
	highest, err := highestOpenFD()
	if err != nil {
		return err
	}
	var orig unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &orig); err != nil {
		return fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	limit := min(uint64(highest+1+spareDescriptors), orig.Cur)
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: orig.Max}, nil); err != nil {
		return fmt.Errorf("lowering RLIMIT_NOFILE to %d: %w", limit, err)
	}
	var opened []int
	defer func() {
		for _, fd := range opened {
			unix.Close(fd)
		}
		unix.Prlimit(0, unix.RLIMIT_NOFILE, &orig, nil)
	}()
	for r.Failures < o.Failures {
		fd, err := unix.Openat(unix.AT_FDCWD, os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		switch {
		case err == nil && r.Failures == 0 && uint64(len(opened)) < limit:
			opened = append(opened, fd)
		case err == unix.EMFILE:
			counted(o, r)
		default:
			if err == nil {
				unix.Close(fd)
			}
			return unexpected("openat", err, unix.EMFILE, r.Failures)
		}
	}
	return nil
}

// highestOpenFD returns the largest descriptor number open in this process.
func highestOpenFD() (int, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("listing open descriptors: %w", err)
	}
	highest := 2
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			highest = max(highest, fd)
		}
	}
	return highest, nil
}
