//go:build linux

package bpf

import (
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// bootClockResync is how often (in boot time) BootClock re-reads the offset
// between the clocks, so NTP steps and suspend are picked up.
const bootClockResync = 10 * time.Second

// BootClock converts CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns, which
// keeps counting during suspend) to wall-clock time. It is safe for concurrent use.
type BootClock struct {
	// offsetNs is CLOCK_REALTIME minus CLOCK_BOOTTIME; syncedAt is the boot time it was read at.
	offsetNs atomic.Int64
	syncedAt atomic.Int64
}

// NewBootClock reads the current offset between the boot and wall clocks.
func NewBootClock() *BootClock {
	c := &BootClock{}
	c.resync()
	return c
}

// Time returns the wall-clock time of a CLOCK_BOOTTIME timestamp.
func (c *BootClock) Time(bootNs uint64) time.Time {
	if int64(bootNs)-c.syncedAt.Load() > int64(bootClockResync) {
		c.resync()
	}
	return time.Unix(0, int64(bootNs)+c.offsetNs.Load())
}

// resync samples REALTIME, BOOTTIME, REALTIME a few times and keeps the pair
// with the tightest bracket, taking the realtime midpoint.
func (c *BootClock) resync() {
	var bestOffset, bestBoot int64
	bestWindow := int64(-1)
	for range 3 {
		var r1, b, r2 unix.Timespec
		if unix.ClockGettime(unix.CLOCK_REALTIME, &r1) != nil ||
			unix.ClockGettime(unix.CLOCK_BOOTTIME, &b) != nil ||
			unix.ClockGettime(unix.CLOCK_REALTIME, &r2) != nil {
			continue
		}
		window := r2.Nano() - r1.Nano()
		if bestWindow < 0 || window < bestWindow {
			bestWindow = window
			bestBoot = b.Nano()
			bestOffset = r1.Nano() + window/2 - b.Nano()
		}
	}
	if bestWindow < 0 {
		return // the clocks could not be read: keep the previous offset
	}
	c.offsetNs.Store(bestOffset)
	c.syncedAt.Store(bestBoot)
}
