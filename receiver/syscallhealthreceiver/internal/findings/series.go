package findings

import (
	"container/list"
	"time"
)

// seriesKey is the kernel tracking map's key: one process, syscall and errno.
type seriesKey struct {
	pid     uint32
	syscall string
	errno   string
}

// series reconciles the two views of one kernel series: the events (context, rate
// limited) and the tracking map (exact count, no context).
type series struct {
	key  seriesKey
	kind Kind
	// accounted is the highest cumulative count already attributed to a subject:
	// both paths report cumulative counts, so each failure is counted once.
	accounted   uint64
	firstSeenNs uint64 // tracking-map stamp; a change means the kernel restarted the series
	// retired: the process exited and the receiver deleted the kernel series. Late
	// events of the old process must not count again, and a process reusing the pid
	// starts a new kernel series: until the tracking map reports it, events of a
	// retired series give context but no counts.
	retired    bool
	subject    Subject
	hasSubject bool
	// ignored: its last event was no evidence for its kind (a write to /dev/full for
	// disk_full). The failures the tracking map adds are taken to be more of the same
	// and not counted, until an event of the series names evidence.
	ignored bool
	// pending failures have been counted by the tracking map but no event has told
	// their subject yet (a path or an address).
	pending    uint64
	pendingObs Observation
	// pendingSubject is what the system told of the pending failures' subject when they
	// were counted, resolved then (outside the engine lock): used if their event never comes.
	pendingSubject    Subject
	pendingResolution resolution
	pendingSince      time.Time
	elem              *list.Element
}

// seriesTable holds the series, least recently used evicted first.
type seriesTable struct {
	max   int
	byKey map[seriesKey]*series
	byPID map[uint32][]*series
	lru   *list.List // front: most recently used
}

func newSeriesTable(max int) *seriesTable {
	return &seriesTable{max: max, byKey: make(map[seriesKey]*series), byPID: make(map[uint32][]*series), lru: list.New()}
}

func (t *seriesTable) get(k seriesKey) (*series, bool) {
	s, ok := t.byKey[k]
	if ok {
		t.lru.MoveToFront(s.elem)
	}
	return s, ok
}

// add inserts s and returns the series evicted to make room, if any.
func (t *seriesTable) add(s *series) *series {
	var evicted *series
	if len(t.byKey) >= t.max {
		if back := t.lru.Back(); back != nil {
			evicted = back.Value.(*series)
			t.remove(evicted)
		}
	}
	s.elem = t.lru.PushFront(s)
	t.byKey[s.key] = s
	t.byPID[s.key.pid] = append(t.byPID[s.key.pid], s)
	return evicted
}

func (t *seriesTable) remove(s *series) {
	t.lru.Remove(s.elem)
	delete(t.byKey, s.key)
	siblings := t.byPID[s.key.pid]
	for i, other := range siblings {
		if other == s {
			siblings = append(siblings[:i], siblings[i+1:]...)
			break
		}
	}
	if len(siblings) == 0 {
		delete(t.byPID, s.key.pid)
	} else {
		t.byPID[s.key.pid] = siblings
	}
}

// demote makes s the next series to be evicted.
func (t *seriesTable) demote(s *series) {
	t.lru.MoveToBack(s.elem)
}

func (t *seriesTable) ofProcess(pid uint32) []*series {
	return append([]*series(nil), t.byPID[pid]...)
}
