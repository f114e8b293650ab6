package hostfs

import (
	"sync"
	"sync/atomic"
	"time"
)

const (
	// unresponsiveFor is how long a filesystem that let a call time out is not asked again: the
	// caller gets ErrUnresponsive at once instead of losing a deadline (and a thread) per failure.
	unresponsiveFor = 30 * time.Second
	// maxUnresponsive bounds the filesystems remembered; past it the oldest mark is dropped.
	maxUnresponsive = 64
)

// unresponsiveFilesystems remembers, by device, the filesystems whose calls timed out.
type unresponsiveFilesystems struct {
	mu    sync.Mutex
	until map[Device]time.Time
	// evicted counts the marks dropped to stay within maxUnresponsive.
	evicted atomic.Uint64
}

func newUnresponsiveFilesystems() *unresponsiveFilesystems {
	return &unresponsiveFilesystems{until: make(map[Device]time.Time)}
}

func (u *unresponsiveFilesystems) avoided(d Device, now time.Time) bool {
	if d.isZero() {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	until, ok := u.until[d]
	if ok && now.After(until) {
		delete(u.until, d)
		return false
	}
	return ok
}

func (u *unresponsiveFilesystems) mark(d Device, now time.Time) {
	if d.isZero() {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.until[d]; !ok && len(u.until) >= maxUnresponsive {
		var oldest Device
		var oldestUntil time.Time
		for dev, t := range u.until {
			if oldestUntil.IsZero() || t.Before(oldestUntil) {
				oldest, oldestUntil = dev, t
			}
		}
		delete(u.until, oldest)
		u.evicted.Add(1)
	}
	u.until[d] = now.Add(unresponsiveFor)
}
