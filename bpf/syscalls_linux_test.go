//go:build linux && (amd64 || arm64)

package bpf

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The native table agrees with golang.org/x/sys's syscall numbers for this build.
func TestNativeSyscallTableMatchesUnix(t *testing.T) {
	for name, nr := range map[string]uint32{
		"openat": unix.SYS_OPENAT, "write": unix.SYS_WRITE, "mmap": unix.SYS_MMAP, "connect": unix.SYS_CONNECT,
		"bind": unix.SYS_BIND, "clone": unix.SYS_CLONE, "clone3": unix.SYS_CLONE3, "execve": unix.SYS_EXECVE,
	} {
		if got, ok := SyscallByName(name); !ok || got != nr {
			t.Errorf("SyscallByName(%q) = %d, %v; unix.SYS_ says %d", name, got, ok, nr)
		}
	}
}
