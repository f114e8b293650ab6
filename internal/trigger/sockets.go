//go:build linux

package trigger

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// loopback returns the scenario's address, 127.0.0.1 unless one was given.
func loopback(o Options) netip.Addr {
	if o.Address.IsValid() {
		return o.Address
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// streamSocket opens a blocking TCP socket of the address's family.
func streamSocket(addr netip.Addr) (int, error) {
	family := unix.AF_INET
	if addr.Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	return fd, nil
}

// sockaddr converts an address and port to the raw form bind and connect take.
func sockaddr(addr netip.Addr, port uint16) unix.Sockaddr {
	if addr.Is6() {
		return &unix.SockaddrInet6{Port: int(port), Addr: addr.As16()}
	}
	return &unix.SockaddrInet4{Port: int(port), Addr: addr.As4()}
}

// listenLoopback opens a listening socket on addr:port (0 picks a free port)
// and returns it with the port it got.
func listenLoopback(addr netip.Addr, port uint16) (int, uint16, error) {
	fd, err := streamSocket(addr)
	if err != nil {
		return -1, 0, err
	}
	if err := unix.Bind(fd, sockaddr(addr, port)); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("bind %s: %w", netip.AddrPortFrom(addr, port), err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("listen: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, fmt.Errorf("getsockname: %w", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return fd, uint16(sa.Port), nil
	case *unix.SockaddrInet6:
		return fd, uint16(sa.Port), nil
	}
	unix.Close(fd)
	return -1, 0, fmt.Errorf("getsockname returned %T", sa)
}
