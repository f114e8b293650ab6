//go:build linux

package trigger

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// runEADDRINUSE listens on a loopback address (on -port, or a free port) and
// makes exactly o.Failures bind calls to the same address on fresh sockets.
func runEADDRINUSE(o Options, r *Result) error {
	addr := loopback(o)
	listener, port, err := listenLoopback(addr, o.Port)
	if err != nil {
		return fmt.Errorf("holding the address: %w", err)
	}
	defer unix.Close(listener)
	r.Syscall, r.Errno = "bind", unix.ErrnoName(unix.EADDRINUSE)
	r.Address, r.Port = addr.String(), int(port)
	local := sockaddr(addr, port)
	for r.Failures < o.Failures {
		fd, err := streamSocket(addr)
		if err != nil {
			return err
		}
		err = unix.Bind(fd, local)
		unix.Close(fd)
		if err != unix.EADDRINUSE {
			return unexpected(fmt.Sprintf("bind %s", netip.AddrPortFrom(addr, port)), err, unix.EADDRINUSE, r.Failures)
		}
		counted(o, r)
	}
	return nil
}
