//go:build linux

package trigger

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	// addressHeadroom is what the lowered RLIMIT_AS leaves above the current
	// address-space size, so the Go runtime can keep allocating meanwhile.
	addressHeadroom = 256 << 20
	// mmapRegion is larger than the headroom, and small enough that the
	// mapping succeeds without the lowered limit.
	mmapRegion = 4 * addressHeadroom
)

// runENOMEM lowers the soft RLIMIT_AS a little above the current address-space
// size and maps a larger anonymous region until exactly o.Failures mmap calls
// failed with ENOMEM, then raises the soft limit back (it stays below the hard
// limit, so no CAP_SYS_RESOURCE is needed).
func runENOMEM(o Options, r *Result) error {
	r.Syscall, r.Errno = "mmap", unix.ErrnoName(unix.ENOMEM)
	size, err := addressSpaceSize()
	if err != nil {
		return err
	}
	var orig unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_AS, nil, &orig); err != nil {
		return fmt.Errorf("reading RLIMIT_AS: %w", err)
	}
	limit := min(size+addressHeadroom, orig.Cur)
	if err := unix.Prlimit(0, unix.RLIMIT_AS, &unix.Rlimit{Cur: limit, Max: orig.Max}, nil); err != nil {
		return fmt.Errorf("lowering RLIMIT_AS to %d: %w", limit, err)
	}
	defer unix.Prlimit(0, unix.RLIMIT_AS, &orig, nil)
	for r.Failures < o.Failures {
		addr, _, errno := unix.Syscall6(unix.SYS_MMAP, 0, mmapRegion,
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE, ^uintptr(0), 0)
		if errno != unix.ENOMEM {
			var err error
			if errno != 0 {
				err = errno
			} else {
				unix.Syscall(unix.SYS_MUNMAP, addr, mmapRegion, 0)
			}
			return unexpected(fmt.Sprintf("mmap of %d MiB under RLIMIT_AS=%d MiB", mmapRegion>>20, limit>>20), err, unix.ENOMEM, r.Failures)
		}
		counted(o, r)
	}
	return nil
}

// addressSpaceSize returns this process's virtual memory size (VmSize) in bytes.
func addressSpaceSize() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmSize:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmSize %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmSize in /proc/self/status")
}
