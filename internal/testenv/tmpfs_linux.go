//go:build linux

package testenv

import (
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs mounts a tmpfs with the given mount options (size=1m,
// nr_inodes=8...) on a fresh directory and returns that directory with
// symlinks resolved, as the kernel reports paths. The tmpfs is unmounted when
// the test ends; a failed unmount (something still using it) fails the test.
func MountTmpfs(tb testing.TB, options string) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, options); err != nil {
		tb.Fatalf("mounting a tmpfs (%s) on %s: %v", options, dir, err)
	}
	tb.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			tb.Errorf("unmounting the tmpfs on %s: %v", dir, err)
		}
	})
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return real
}
