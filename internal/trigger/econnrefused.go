//go:build linux

package trigger

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// runECONNREFUSED makes exactly o.Failures blocking connect calls to a closed
// loopback port, each on a fresh socket. Without -port it finds a closed port
// by listening on a free one and closing it.
func runECONNREFUSED(o Options, r *Result) error {
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
	r.Syscall, r.Errno = "connect", unix.ErrnoName(unix.ECONNREFUSED)
	r.Address, r.Port = addr.String(), int(port)
	peer := sockaddr(addr, port)
	for r.Failures < o.Failures {
		fd, err := streamSocket(addr)
		if err != nil {
			return err
		}
		err = unix.Connect(fd, peer)
		unix.Close(fd)
		if err != unix.ECONNREFUSED {
			return unexpected(fmt.Sprintf("connect to %s", netip.AddrPortFrom(addr, port)), err, unix.ECONNREFUSED, r.Failures)
		}
		counted(o, r)
	}
	return nil
}
