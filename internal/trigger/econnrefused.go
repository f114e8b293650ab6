//go:build linux

package trigger

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// runECONNREFUSED makes exactly o.Failures connects to a closed loopback
// port (or to the abstract unix socket o.Unix) fail, each on a fresh socket,
// the way o.Mode's client learns it (blocking by default). Without -port it finds a closed port by listening
// on a free one and closing it.
func runECONNREFUSED(o Options, r *Result) error {
	if o.Unix != "" {
		return failUnixConnects(o, r)
	}
	addr := loopback(o)
	port := o.Port
	if port == 0 {
		fd, free, err := listenLoopback(addr, 0)
		if err != nil {
			return fmt.Errorf("finding a closed port: %w", err)
		}
		unix.Close(fd)
		port = free
	}
	return failConnects(o, r, ModeBlocking, netip.AddrPortFrom(addr, port), unix.ECONNREFUSED)
}

// failUnixConnects makes o.Failures blocking connects to the abstract unix
// socket o.Unix fail: nothing is bound to the name.
func failUnixConnects(o Options, r *Result) error {
	r.Syscall, r.Errno, r.Mode, r.Address = "connect", unix.ErrnoName(unix.ECONNREFUSED), ModeBlocking, o.Unix
	// The kernel's abstract names start with NUL where the address shows @.
	sa := &unix.SockaddrUnix{Name: o.Unix}
	for r.Failures < o.Failures {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		err = unix.Connect(fd, sa)
		unix.Close(fd)
		if err != unix.ECONNREFUSED {
			return unexpected(fmt.Sprintf("connect to %q", o.Unix), err, unix.ECONNREFUSED, r.Failures)
		}
		counted(o, r)
	}
	return nil
}
