package findings

import "time"

// windowBuckets is the resolution of a sliding window: a 60s window counts in 5s steps.
const windowBuckets = 12

// slidingWindow counts failures in the last window with a fixed ring of buckets, so
// memory per subject is constant whatever the failure rate. A failure stays counted
// for between window-window/windowBuckets and window.
type slidingWindow struct {
	width  int64 // bucket width in ns
	head   int64 // absolute index (unix ns / width) of the newest bucket
	counts [windowBuckets]uint64
}

func newSlidingWindow(window time.Duration) slidingWindow {
	width := int64(window) / windowBuckets
	if width < 1 {
		width = 1
	}
	return slidingWindow{width: width}
}

func (w *slidingWindow) bucket(t time.Time) int64 { return t.UnixNano() / w.width }

// advance moves the head to bucket idx, clearing the buckets that fell out.
func (w *slidingWindow) advance(idx int64) {
	if idx <= w.head {
		return
	}
	if idx-w.head >= windowBuckets {
		w.counts = [windowBuckets]uint64{}
	} else {
		for i := w.head + 1; i <= idx; i++ {
			w.counts[i%windowBuckets] = 0
		}
	}
	w.head = idx
}

// add counts n failures at t. Failures older than the window are not in it any more.
func (w *slidingWindow) add(t time.Time, n uint64) {
	idx := w.bucket(t)
	w.advance(idx)
	if w.head-idx >= windowBuckets {
		return
	}
	w.counts[idx%windowBuckets] += n
}

// sum returns the failures in the window ending at now.
func (w *slidingWindow) sum(now time.Time) uint64 {
	w.advance(w.bucket(now))
	var total uint64
	for _, c := range w.counts {
		total += c
	}
	return total
}
