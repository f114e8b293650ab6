//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
)

// errnoClass is what one errno says about the system, and the severity it gets.
type errnoClass struct {
	severity plog.SeverityNumber
	meaning  string
}

var (
	exhausted  = errnoClass{plog.SeverityNumberError, "exhausted or broken resource"}
	dependency = errnoClass{plog.SeverityNumberWarn, "unreachable dependency, port conflict or permission"}
)

// errnoClasses is the one table of errno severities. A failure that is evidence of a finding kind takes the
// kind's severity instead (findings.Classify), so the record and its finding cannot disagree; a test checks
// that the two tables agree wherever both speak. Errnos not listed (opted into with "all") are INFO.
var errnoClasses = map[string]errnoClass{
	"ENOSPC":  exhausted, // disk full
	"EDQUOT":  exhausted, // disk quota exceeded
	"EIO":     exhausted, // I/O error: failing device or filesystem
	"EROFS":   exhausted, // filesystem remounted read-only, often after errors
	"EFBIG":   exhausted, // file size limit (RLIMIT_FSIZE or filesystem maximum)
	"EMFILE":  exhausted, // the process is out of file descriptors
	"ENFILE":  exhausted, // the host is out of file descriptors
	"ENOMEM":  exhausted, // out of memory (or address space, RLIMIT_AS)
	"ENOBUFS": exhausted, // the kernel is out of buffer space

	"ECONNREFUSED":  dependency, // nothing listens at the destination
	"ETIMEDOUT":     dependency, // the destination does not answer
	"EHOSTUNREACH":  dependency,
	"ENETUNREACH":   dependency,
	"ECONNRESET":    dependency,
	"EADDRINUSE":    dependency, // port conflict
	"EADDRNOTAVAIL": dependency, // no such local address, or ephemeral ports exhausted
	"EACCES":        dependency, // permission denied
	"EPERM":         dependency,
}

// baseSeverity is the severity of one failure before escalation: its finding kind's when it is evidence of
// one (EAGAIN from clone, fork or execve is a process limit: ERROR), else its errno's class, else INFO.
func baseSeverity(syscall, errno, category string) plog.SeverityNumber {
	if k, ok := findings.Classify(syscall, errno, category); ok {
		return k.Severity().Number()
	}
	if c, ok := errnoClasses[errno]; ok {
		return c.severity
	}
	return plog.SeverityNumberInfo
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
	// evicted counts the windows forgotten to stay within maxEscalationKeys.
	evicted atomic.Uint64
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
			t.evicted.Add(uint64(len(t.windows)))
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
	sev := baseSeverity(syscall, errno, ev.Category.String())
	if t.fast(failureKey{PID: ev.PID, Syscall: ev.Syscall, Errno: ev.Errno}, ev.TimestampNs, ev.ErrorCount) {
		sev = escalated(sev)
	}
	return sev
}
