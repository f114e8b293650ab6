//go:build linux

package bpf

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The table agrees with golang.org/x/sys, generated from the kernel headers independently.
func TestErrnoTableMatchesKernelHeaders(t *testing.T) {
	for e := Errno(1); e <= 133; e++ {
		want := unix.ErrnoName(unix.Errno(e))
		if want == "" {
			continue
		}
		// x/sys sometimes picks an alias (ENOTSUP for EOPNOTSUPP): both must resolve to e.
		if got, ok := ErrnoByName(want); !ok || got != e {
			t.Errorf("ErrnoByName(%q) = %d, %v; x/sys says it is %d (we name it %s)", want, got, ok, e, e.Name())
		}
	}
}
