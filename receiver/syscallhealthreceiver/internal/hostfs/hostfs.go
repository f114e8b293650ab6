// Package hostfs is the receiver's one way to the host's /proc and filesystems: every
// read of /proc/<pid>/*, the cgroup filesystem and every stat of a failing path goes
// through a Host. Each call runs under a deadline (see lookups), so a caller — the
// event enricher, the finding engine, the metrics loop — never waits on a hung
// filesystem longer than that; a call that misses it returns ErrTimeout and is counted.
//
// The parsers of the /proc formats (stat, status, cgroup, mountinfo, limits) live
// here too, one per file, so every part of the receiver reads them alike.
package hostfs // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"

import (
	"errors"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// DefaultDeadline is the per-call deadline. Healthy lookups take 12-250µs (median)
// and at most 4ms at the 99th percentile, measured on a 2-core machine at load
// average 7-11 (BenchmarkLookups); the worst seen, 131ms, was a process read while
// that machine compiled. A call past 200ms waits on something that may never answer.
// A timeout delays the events queued behind it by the deadline, and only the first
// on a filesystem does (unresponsiveFor), so it is kept that short.
const DefaultDeadline = 200 * time.Millisecond

var (
	// ErrTimeout: the call did not return within the deadline; its answer is unknown.
	ErrTimeout = errors.New("hostfs: lookup missed its deadline")
	// ErrSaturated: too many earlier calls are still stuck in the kernel; this one was not attempted.
	ErrSaturated = errors.New("hostfs: too many lookups still blocked in the kernel")
	// ErrUnresponsive: the filesystem let an earlier call time out recently; it was not asked again.
	ErrUnresponsive = errors.New("hostfs: filesystem recently unresponsive")
	// ErrTooLarge: the file is larger than the bound this package reads.
	ErrTooLarge = errors.New("hostfs: file over its size bound")
)

// Host reads the host's /proc and filesystems under RootPath.
type Host struct {
	root  string // the host's root as the receiver sees it: "/" or e.g. /hostfs
	proc  string // procfs: root/proc
	calls *lookups
	hung  *unresponsiveFilesystems
	stats *counters
}

// New returns a Host for the host root mounted at rootPath ("" or "/" for the
// receiver's own root). deadline <= 0 means DefaultDeadline.
func New(rootPath string, deadline time.Duration, logger *zap.Logger) *Host {
	if rootPath == "" {
		rootPath = "/"
	}
	if deadline <= 0 {
		deadline = DefaultDeadline
	}
	stats := &counters{}
	return &Host{
		root:  filepath.Clean(rootPath),
		proc:  filepath.Join(rootPath, "proc"),
		calls: newLookups(deadline, stats, logger),
		hung:  newUnresponsiveFilesystems(),
		stats: stats,
	}
}

// pidPath is the path of /proc/<pid>/elem... under the root: the one place /proc paths are built.
func (h *Host) pidPath(pid uint32, elem ...string) string {
	return filepath.Join(append([]string{h.proc, uitoa(pid)}, elem...)...)
}

// procPath is the path of /proc/elem... (host-wide files such as loadavg).
func (h *Host) procPath(elem ...string) string {
	return filepath.Join(append([]string{h.proc}, elem...)...)
}

// hostPath is where the host's absolute path p is under the root.
func (h *Host) hostPath(p string) string {
	return filepath.Join(h.root, p)
}

// Stats returns the lookups that could not be answered, by reason.
func (h *Host) Stats() Stats { return h.stats.snapshot() }

// EvictedUnresponsiveMarks counts the unresponsive-filesystem marks dropped to stay within
// maxUnresponsive (such a filesystem is asked again, and may cost one more deadline).
func (h *Host) EvictedUnresponsiveMarks() uint64 { return h.hung.evicted.Load() }

func uitoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
