// Package testenv holds what the kernel, system and end-to-end tests of
// several packages need from the machine: root, a small tmpfs, a closed
// loopback port. It is imported by tests only.
package testenv

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// RequireRoot skips tb unless it runs as root; why says what the test does
// that needs root, so the skip message says what running unprivileged misses.
func RequireRoot(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("needs root: %s; run the tests as root (`sudo make test`, as CI does)", why)
	}
}

// ClosedLoopbackPort returns a loopback TCP port nothing listens on: a free
// one, listened on and closed.
func ClosedLoopbackPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(tb, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(tb, l.Close())
	return port
}
