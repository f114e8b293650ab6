package findings

import (
	"testing"
	"time"
)

func TestSlidingWindow(t *testing.T) {
	t0 := newTestClock().Now()
	w := newSlidingWindow(time.Minute) // 12 buckets of 5s
	w.add(t0, 3)
	w.add(t0.Add(30*time.Second), 2)
	if got := w.sum(t0.Add(30 * time.Second)); got != 5 {
		t.Errorf("sum at +30s = %d, want 5", got)
	}
	// Resolution is one bucket: a failure stays in the window between 55s and 60s.
	if got := w.sum(t0.Add(54 * time.Second)); got != 5 {
		t.Errorf("sum at +54s = %d, want 5", got)
	}
	if got := w.sum(t0.Add(61 * time.Second)); got != 2 {
		t.Errorf("sum at +61s = %d, want 2 (the first failures left the window)", got)
	}
	// Late arrivals land in their own bucket while it is in the window, and are dropped after.
	w.add(t0.Add(40*time.Second), 4)
	w.add(t0, 100)
	if got := w.sum(t0.Add(61 * time.Second)); got != 6 {
		t.Errorf("sum after late arrivals = %d, want 6", got)
	}
	if got := w.sum(t0.Add(10 * time.Minute)); got != 0 {
		t.Errorf("sum long after = %d, want 0", got)
	}
	// Querying the past does not move the window back.
	w.add(t0.Add(10*time.Minute), 1)
	if got := w.sum(t0); got != 1 {
		t.Errorf("sum for an earlier instant = %d, want 1", got)
	}
}
