package hostfs

import (
	"errors"
	"testing"
	"time"
)

// TestLookupDeadline: a call that blocks returns ErrTimeout at its deadline and is counted; calls
// still blocked hold their slots, so past maxBlockedLookups new calls are refused at once, until the
// blocked ones return.
func TestLookupDeadline(t *testing.T) {
	stats := &counters{}
	l := newLookups(20*time.Millisecond, stats, nil)
	release := make(chan struct{})
	blocked := func() (int, error) {
		<-release
		return 1, nil
	}
	started := time.Now()
	if _, err := call(l, "test", blocked); !errors.Is(err, ErrTimeout) {
		t.Fatalf("blocked call: err = %v, want ErrTimeout", err)
	}
	if waited := time.Since(started); waited > 10*time.Second {
		t.Fatalf("the caller waited %s for a 20ms deadline", waited)
	}
	for range maxBlockedLookups - 1 {
		if _, err := call(l, "test", blocked); !errors.Is(err, ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	}
	if _, err := call(l, "test", func() (int, error) { return 2, nil }); !errors.Is(err, ErrSaturated) {
		t.Fatalf("with %d calls blocked: err = %v, want ErrSaturated", maxBlockedLookups, err)
	}
	if s := stats.snapshot(); s.TimedOut != maxBlockedLookups || s.Saturated != 1 {
		t.Errorf("stats %+v, want %d timed out and 1 saturated", s, maxBlockedLookups)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := call(l, "test", func() (int, error) { return 3, nil })
		if err == nil {
			if v != 3 {
				t.Fatalf("got %d, want 3", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slots were not freed once the blocked calls returned: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	if !Unanswered(ErrTimeout) || !Unanswered(ErrSaturated) || !Unanswered(ErrUnresponsive) || Unanswered(errors.New("ENOENT")) {
		t.Error("Unanswered must tell the lookup's own errors from the system's answers")
	}
}

func TestUnresponsiveFilesystemsBounded(t *testing.T) {
	u := newUnresponsiveFilesystems()
	now := time.Now()
	if u.avoided(Device{}, now) {
		t.Error("an unknown device is never avoided")
	}
	u.mark(Device{}, now)
	if len(u.until) != 0 {
		t.Error("an unknown device is never marked")
	}
	fuse := Device{0, 55}
	u.mark(fuse, now)
	if !u.avoided(fuse, now.Add(unresponsiveFor-time.Second)) {
		t.Error("a filesystem that timed out is avoided for unresponsiveFor")
	}
	if u.avoided(fuse, now.Add(unresponsiveFor+time.Second)) {
		t.Error("and asked again after")
	}
	for i := range maxUnresponsive + 10 {
		u.mark(Device{1, uint32(i)}, now.Add(time.Duration(i)))
	}
	if len(u.until) != maxUnresponsive {
		t.Errorf("%d filesystems remembered, want the bound %d", len(u.until), maxUnresponsive)
	}
}

func TestUnresponsiveMarksCountEvictions(t *testing.T) {
	h := New(t.TempDir(), time.Second, nil)
	now := time.Unix(1_700_000_000, 0)
	for minor := range uint32(maxUnresponsive + 2) {
		h.hung.mark(Device{Major: 0, Minor: minor + 1}, now.Add(time.Duration(minor)))
	}
	if got := h.EvictedUnresponsiveMarks(); got != 2 {
		t.Errorf("%d marks through a table of %d: %d evictions counted, want 2", maxUnresponsive+2, maxUnresponsive, got)
	}
}
