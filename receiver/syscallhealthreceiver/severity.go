//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"sync"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// errorErrnos are failures that mean a resource is exhausted or broken: the service is degraded now.
var errorErrnos = map[string]bool{
	"ENOSPC":  true, // disk full
	"EDQUOT":  true, // disk quota exceeded
	"EIO":     true, // I/O error: failing device or filesystem
	"EROFS":   true, // filesystem remounted read-only, often after errors
	"EFBIG":   true, // file size limit (RLIMIT_FSIZE or filesystem maximum)
	"EMFILE":  true, // the process is out of file descriptors
	"ENFILE":  true, // the host is out of file descriptors
	"ENOMEM":  true, // out of memory (or address space, RLIMIT_AS)
	"ENOBUFS": true, // the kernel is out of buffer space
}

// warnErrnos are failures that usually mean a dependency or the configuration is wrong.
var warnErrnos = map[string]bool{
	"ECONNREFUSED":  true, // nothing listens at the destination
	"ETIMEDOUT":     true, // the destination does not answer
	"EHOSTUNREACH":  true,
	"ENETUNREACH":   true,
	"ECONNRESET":    true,
	"EADDRINUSE":    true, // port conflict
	"EADDRNOTAVAIL": true, // no such local address, or ephemeral ports exhausted
	"EACCES":        true, // permission denied
	"EPERM":         true,
}

// processCreationSyscalls fail with EAGAIN when a process or thread limit is hit (RLIMIT_NPROC, pids.max,
// kernel.threads-max); elsewhere EAGAIN only means "try again".
var processCreationSyscalls = map[string]bool{"clone": true, "clone3": true, "fork": true, "vfork": true}

// baseSeverity is the severity of one failure before escalation:
// ERROR for exhausted or broken resources (ENOSPC, EDQUOT, EIO, EROFS, EFBIG, EMFILE, ENFILE, ENOMEM, ENOBUFS,
// and EAGAIN from clone/clone3/fork/vfork); WARN for unreachable dependencies, port conflicts and permission
// problems (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENETUNREACH, ECONNRESET, EADDRINUSE, EADDRNOTAVAIL, EACCES,
// EPERM); INFO for everything else (errnos opted into with "all", such as ENOENT).
func baseSeverity(syscall, errno string) plog.SeverityNumber {
	switch {
	case errorErrnos[errno], errno == "EAGAIN" && processCreationSyscalls[syscall]:
		return plog.SeverityNumberError
	case warnErrnos[errno]:
		return plog.SeverityNumberWarn
	default:
		return plog.SeverityNumberInfo
	}
}

// escalated raises a severity one level, INFO -> WARN -> ERROR. ERROR stays ERROR: FATAL is left to
// processes that die.
func escalated(sev plog.SeverityNumber) plog.SeverityNumber {
	switch sev {
	case plog.SeverityNumberInfo:
		return plog.SeverityNumberWarn
	case plog.SeverityNumberWarn:
		return plog.SeverityNumberError
	default:
		return sev
	}
}

func severityText(sev plog.SeverityNumber) string {
	switch sev {
	case plog.SeverityNumberError:
		return "ERROR"
	case plog.SeverityNumberWarn:
		return "WARN"
	default:
		return "INFO"
	}
}

const (
	// escalationRate is the failure rate of one (process, syscall, errno) at which its events are raised
	// one severity level: ten times the default event rate limit, a storm rather than a retry.
	escalationRate = 100
	// escalationWindowNs is the shortest span over which the rate is measured.
	escalationWindowNs = uint64(1e9)
	// maxEscalationKeys bounds the remembered keys; past it the history restarts.
	maxEscalationKeys = 16384
)

type failureKey struct {
	PID     uint32
	Syscall uint32
	Errno   bpf.Errno
}

type rateWindow struct {
	startNs    uint64
	startCount uint64
	fast       bool
}

// escalationTracker decides whether a key fails fast. Each event carries the exact count of its key, so
// the rate is known even when the rate limiter holds most events back. The rule: a key is fast when its
// count grew by at least escalationRate per second over the last completed window of at least one second,
// or by escalationRate within the current window; it stays fast until a completed window says otherwise.
type escalationTracker struct {
	mu      sync.Mutex
	windows map[failureKey]*rateWindow
}

func newEscalationTracker() *escalationTracker {
	return &escalationTracker{windows: make(map[failureKey]*rateWindow)}
}

func (t *escalationTracker) fast(key failureKey, timestampNs, count uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, ok := t.windows[key]
	if !ok || count < w.startCount || timestampNs < w.startNs {
		// New key, or the kernel restarted its count.
		if len(t.windows) >= maxEscalationKeys {
			clear(t.windows)
		}
		t.windows[key] = &rateWindow{startNs: timestampNs, startCount: count}
		return false
	}
	grown := count - w.startCount
	elapsed := timestampNs - w.startNs
	if elapsed >= escalationWindowNs {
		w.fast = float64(grown)*1e9 >= escalationRate*float64(elapsed)
		w.startNs, w.startCount = timestampNs, count
		return w.fast
	}
	if grown >= escalationRate {
		w.fast = true
	}
	return w.fast
}

// forget drops the keys of processes that exited.
func (t *escalationTracker) forget(pids map[uint32]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key := range t.windows {
		if pids[key.PID] {
			delete(t.windows, key)
		}
	}
}

// severityOf is the severity of an event: the errno's base severity, escalated one level while the key
// fails fast.
func (t *escalationTracker) severityOf(ev *bpf.Event, syscall, errno string) plog.SeverityNumber {
	sev := baseSeverity(syscall, errno)
	if t.fast(failureKey{PID: ev.PID, Syscall: ev.Syscall, Errno: ev.Errno}, ev.TimestampNs, ev.ErrorCount) {
		sev = escalated(sev)
	}
	return sev
}
