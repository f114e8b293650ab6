//go:build linux

package trigger

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// How the connect scenarios' client connects (Options.Mode). Each learns the
// failure the way real clients do: blocking clients from connect itself,
// non-blocking ones (Go, Java NIO, Node.js, curl) from SO_ERROR after
// connect returned EINPROGRESS, so no failing syscall returns it.
const (
	// ModeBlocking: connect(2) on a blocking socket fails with the error.
	ModeBlocking = "blocking"
	// ModeNonblocking: connect(2) on a non-blocking socket returns EINPROGRESS;
	// poll(2) and getsockopt(SO_ERROR) then give the error.
	ModeNonblocking = "nonblocking"
	// ModeDial: Go's net.Dialer, which is non-blocking under the hood.
	ModeDial = "dial"
)

// connectModes are the valid Options.Mode values of the connect scenarios.
var connectModes = []string{ModeBlocking, ModeNonblocking, ModeDial}

// connectWait bounds how long one connect may take to fail (a SYN timeout with tcp_syn_retries=1 takes 3 s).
const connectWait = 30 * time.Second

// connectAttempt is one connect in flight, or done, on this thread.
type connectAttempt struct {
	fd   int
	peer netip.AddrPort
}

// startConnect opens a socket and connects it to peer. A blocking socket's
// connect returns the outcome as the error; a non-blocking one's must return
// EINPROGRESS, and the outcome comes from SO_ERROR.
func startConnect(peer netip.AddrPort, blocking bool) (connectAttempt, error) {
	family := unix.AF_INET
	if peer.Addr().Is6() {
		family = unix.AF_INET6
	}
	flags := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
	if !blocking {
		flags |= unix.SOCK_NONBLOCK
	}
	fd, err := unix.Socket(family, flags, 0)
	if err != nil {
		return connectAttempt{fd: -1}, fmt.Errorf("socket: %w", err)
	}
	a := connectAttempt{fd: fd, peer: peer}
	err = unix.Connect(fd, sockaddr(peer.Addr(), peer.Port()))
	if !blocking && err != unix.EINPROGRESS {
		return a, fmt.Errorf("non-blocking connect to %s returned %v, expected EINPROGRESS", peer, err)
	}
	if blocking {
		return a, err
	}
	return a, nil
}

// outcome is the error SO_ERROR holds once the connect finished (nil: connected).
func (a connectAttempt) outcome() error {
	v, err := unix.GetsockoptInt(a.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("getsockopt SO_ERROR: %w", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}

// localPort is the socket's source port, which getsockname still reports after a failed connect.
func (a connectAttempt) localPort() int {
	sa, err := unix.Getsockname(a.fd)
	if err != nil {
		return 0
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return sa.Port
	case *unix.SockaddrInet6:
		return sa.Port
	}
	return 0
}

func (a connectAttempt) close() {
	if a.fd >= 0 {
		unix.Close(a.fd)
	}
}

// waitConnects polls the non-blocking attempts until every one finished and
// returns their outcomes in order.
func waitConnects(attempts []connectAttempt) ([]error, error) {
	outcomes := make([]error, len(attempts))
	pending := make(map[int]int, len(attempts)) // fd -> index
	for i, a := range attempts {
		pending[a.fd] = i
	}
	deadline := time.Now().Add(connectWait)
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("%d connects still in progress after %s", len(pending), connectWait)
		}
		fds := make([]unix.PollFd, 0, len(pending))
		for fd := range pending {
			fds = append(fds, unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT})
		}
		if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
			return nil, fmt.Errorf("poll: %w", err)
		}
		for _, p := range fds {
			if p.Revents == 0 {
				continue
			}
			i := pending[int(p.Fd)]
			outcomes[i] = attempts[i].outcome()
			delete(pending, int(p.Fd))
		}
	}
	return outcomes, nil
}

// failConnects makes o.Failures connects to peer fail with want, in o.Mode
// (def when empty), from this thread, and records them in r.
func failConnects(o Options, r *Result, def string, peer netip.AddrPort, want unix.Errno) error {
	mode := o.Mode
	if mode == "" {
		mode = def
	}
	r.Syscall, r.Errno, r.Mode = "connect", unix.ErrnoName(want), mode
	r.Address, r.Port = peer.Addr().String(), int(peer.Port())
	check := func(err error) error {
		if !errors.Is(err, want) {
			return unexpected(fmt.Sprintf("%s connect to %s", mode, peer), err, want, r.Failures)
		}
		return nil
	}
	switch mode {
	case ModeDial:
		// Dial issues connect and getsockopt from this goroutine, which stays on this (locked) thread.
		var d net.Dialer
		for r.Failures < o.Failures {
			ctx, cancel := context.WithTimeout(context.Background(), connectWait)
			c, err := d.DialContext(ctx, "tcp", peer.String())
			cancel()
			if c != nil {
				c.Close()
			}
			if err := check(err); err != nil {
				return err
			}
			counted(o, r)
		}
	case ModeBlocking:
		for r.Failures < o.Failures {
			a, err := startConnect(peer, true)
			port := a.localPort()
			a.close()
			if err := check(err); err != nil {
				return err
			}
			r.LocalPorts = append(r.LocalPorts, port)
			counted(o, r)
		}
	case ModeNonblocking:
		// Without an interval every connect is in flight at once, as in a client's pool.
		batch := 1
		if o.Interval == 0 {
			batch = o.Failures
		}
		for r.Failures < o.Failures {
			if err := failNonblocking(o, r, peer, min(batch, o.Failures-r.Failures), check); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown -mode %q", mode)
	}
	return nil
}

// failNonblocking starts n non-blocking connects to peer, waits for all of
// them, and records each failure that check accepts.
func failNonblocking(o Options, r *Result, peer netip.AddrPort, n int, check func(error) error) error {
	attempts := make([]connectAttempt, 0, n)
	defer func() {
		for _, a := range attempts {
			a.close()
		}
	}()
	for range n {
		a, err := startConnect(peer, false)
		if err != nil {
			a.close()
			return err
		}
		attempts = append(attempts, a)
	}
	outcomes, err := waitConnects(attempts)
	if err != nil {
		return err
	}
	for i, out := range outcomes {
		if err := check(out); err != nil {
			return err
		}
		r.LocalPorts = append(r.LocalPorts, attempts[i].localPort())
		counted(o, r)
	}
	return nil
}
