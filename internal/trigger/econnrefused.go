//go:build linux

package trigger

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// runECONNREFUSED makes exactly o.Failures connects to a closed loopback
// port fail, each on a fresh socket, the way o.Mode's client learns it
// (blocking by default). Without -port it finds a closed port by listening
// on a free one and closing it.
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
	return failConnects(o, r, ModeBlocking, netip.AddrPortFrom(addr, port), unix.ECONNREFUSED)
}
