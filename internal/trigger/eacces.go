//go:build linux

package trigger

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// nobody is the unprivileged uid and gid that root drops to.
const nobody = 65534

// runEACCES makes exactly o.Failures openat calls on o.Path fail with EACCES.
// Run as root, it first drops every thread to uid and gid 65534 for good
// (root would otherwise bypass the permission check); run unprivileged, it
// opens the file as it is.
func runEACCES(o Options, r *Result) error {
	r.Syscall, r.Errno, r.Path = "openat", unix.ErrnoName(unix.EACCES), o.Path
	var st unix.Stat_t
	if err := unix.Stat(o.Path, &st); err != nil {
		return fmt.Errorf("-path %s: %w", o.Path, err)
	}
	if st.Mode&0o004 != 0 {
		return fmt.Errorf("-path %s is readable by others (mode %#o); use a file with mode 0600 owned by root", o.Path, st.Mode&0o777)
	}
	if unix.Geteuid() == 0 {
		if st.Uid == nobody {
			return fmt.Errorf("-path %s is owned by uid %d, the uid this scenario drops to; use a file owned by root", o.Path, nobody)
		}
		// The syscall package applies these to every thread of the process.
		if err := syscall.Setgroups(nil); err != nil {
			return fmt.Errorf("dropping supplementary groups: %w", err)
		}
		if err := syscall.Setgid(nobody); err != nil {
			return fmt.Errorf("setgid %d: %w", nobody, err)
		}
		if err := syscall.Setuid(nobody); err != nil {
			return fmt.Errorf("setuid %d: %w", nobody, err)
		}
	}
	for r.Failures < o.Failures {
		fd, err := unix.Openat(unix.AT_FDCWD, o.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EACCES {
			if err == nil {
				unix.Close(fd)
			}
			return unexpected("openat "+o.Path, err, unix.EACCES, r.Failures)
		}
		counted(o, r)
	}
	return nil
}
