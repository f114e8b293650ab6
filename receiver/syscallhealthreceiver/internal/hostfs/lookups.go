package hostfs

import (
	"errors"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	// maxBlockedLookups bounds the calls in flight, those stuck in the kernel included: each holds
	// a thread until the kernel answers, so a hung filesystem costs at most this many.
	maxBlockedLookups = 32
	// timeoutLogEvery rate-limits the warning about missed deadlines.
	timeoutLogEvery = time.Minute
)

// Stats counts the lookups answered "unknown", by reason (syscallhealth.lookups.failed).
type Stats struct {
	TimedOut           uint64 // missed the deadline
	Saturated          uint64 // not attempted: maxBlockedLookups calls were still blocked
	Unresponsive       uint64 // not attempted: the path's filesystem timed out recently
	MountTableTooLarge uint64 // a mount table over its bounds was not used
}

type counters struct {
	timedOut, saturated, unresponsive, mountTableTooLarge atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		TimedOut: c.timedOut.Load(), Saturated: c.saturated.Load(),
		Unresponsive: c.unresponsive.Load(), MountTableTooLarge: c.mountTableTooLarge.Load(),
	}
}

// lookups runs each call on a goroutine of its own and waits for it at most the deadline. A
// goroutine blocked in a system call cannot be interrupted, so a call that misses the deadline
// keeps running until the kernel answers (a hung FUSE or NFS mount: possibly never); its result
// is discarded. The slots bound how many such calls may pile up.
type lookups struct {
	deadline time.Duration
	slots    chan struct{}
	stats    *counters
	logger   *zap.Logger
	lastLog  atomic.Int64 // unix nanoseconds of the last timeout warning
}

func newLookups(deadline time.Duration, stats *counters, logger *zap.Logger) *lookups {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &lookups{deadline: deadline, slots: make(chan struct{}, maxBlockedLookups), stats: stats, logger: logger}
}

type result[T any] struct {
	v   T
	err error
}

// call runs f under the deadline; op names it in the warning.
func call[T any](l *lookups, op string, f func() (T, error)) (T, error) {
	var zero T
	select {
	case l.slots <- struct{}{}:
	default:
		l.stats.saturated.Add(1)
		return zero, ErrSaturated
	}
	done := make(chan result[T], 1)
	go func() {
		defer func() { <-l.slots }()
		v, err := f()
		done <- result[T]{v, err}
	}()
	timer := time.NewTimer(l.deadline)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-timer.C:
		l.timedOut(op)
		return zero, ErrTimeout
	}
}

func (l *lookups) timedOut(op string) {
	n := l.stats.timedOut.Add(1)
	now := time.Now().UnixNano()
	last := l.lastLog.Load()
	if now-last < int64(timeoutLogEvery) || !l.lastLog.CompareAndSwap(last, now) {
		return
	}
	l.logger.Warn("a /proc or filesystem lookup missed its deadline; its attributes or subject are reported as unknown "+
		"(counted in syscallhealth.lookups.failed, reason lookup_timeout)",
		zap.String("lookup", op), zap.Duration("deadline", l.deadline), zap.Uint64("timeouts_so_far", n))
}

// Unanswered tells the errors of lookups that were not answered (missed the deadline, or not
// attempted): they say nothing about the process or file asked about.
func Unanswered(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrSaturated) || errors.Is(err, ErrUnresponsive)
}
