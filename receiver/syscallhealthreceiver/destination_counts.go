//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// maxDestinationSeries bounds the per-destination connect series kept at once. Failures towards further
// destinations are not broken down by destination; they stay counted in syscallhealth.failures.
const maxDestinationSeries = 4096

type destinationKey struct {
	peer  netip.AddrPort
	errno bpf.Errno
}

type destinationSeries struct {
	peer  netip.AddrPort
	errno bpf.Errno
	count uint64
	start pcommon.Timestamp
}

// destinationCounts accumulates failed connects per (process, destination, errno) from the events, for
// the optional syscallhealth.connect.failures metric. Each event counts itself plus the failures the
// rate limiter held back before it, so a destination's total follows the exact kernel count.
type destinationCounts struct {
	logger    *zap.Logger
	connectNr uint32
	watching  bool // the metric is enabled and connect exists on this architecture

	mu       sync.Mutex
	previous pcommon.Timestamp // the previous collection: new series start there
	byPID    map[uint32]map[destinationKey]*destinationSeries
	size     int
	warned   bool
	// refused counts the series not started because maxDestinationSeries were held.
	refused atomic.Uint64
}

func newDestinationCounts(logger *zap.Logger, enabled bool, loadTime pcommon.Timestamp) *destinationCounts {
	nr, ok := bpf.SyscallByName("connect")
	return &destinationCounts{
		logger:    logger,
		connectNr: nr,
		watching:  enabled && ok,
		previous:  loadTime,
		byPID:     make(map[uint32]map[destinationKey]*destinationSeries),
	}
}

func (d *destinationCounts) observe(ev *bpf.Event) {
	if !d.watching || ev.Syscall != d.connectNr || !ev.Peer.IsValid() {
		return
	}
	key := destinationKey{peer: netip.AddrPortFrom(ev.Peer.Addr().Unmap(), ev.Peer.Port()), errno: ev.Errno}
	d.mu.Lock()
	defer d.mu.Unlock()
	series := d.byPID[ev.PID]
	if s, ok := series[key]; ok {
		s.count += 1 + ev.Suppressed
		return
	}
	if d.size >= maxDestinationSeries {
		d.refused.Add(1)
		if !d.warned {
			d.warned = true
			d.logger.Warn("syscallhealth.connect.failures holds the most destination series it keeps; failures towards further destinations are counted only in syscallhealth.failures",
				zap.Int("series", maxDestinationSeries))
		}
		return
	}
	if series == nil {
		series = make(map[destinationKey]*destinationSeries)
		d.byPID[ev.PID] = series
	}
	series[key] = &destinationSeries{peer: key.peer, errno: key.errno, count: 1 + ev.Suppressed, start: d.previous}
	d.size++
}

// snapshot returns the series of one process in a stable order.
func (d *destinationCounts) snapshot(pid uint32) []destinationSeries {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]destinationSeries, 0, len(d.byPID[pid]))
	for _, s := range d.byPID[pid] {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b destinationSeries) int {
		return cmp.Or(a.peer.Compare(b.peer), cmp.Compare(a.errno, b.errno))
	})
	return out
}

func (d *destinationCounts) pids() []uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Collect(maps.Keys(d.byPID))
}

func (d *destinationCounts) forget(pid uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.size -= len(d.byPID[pid])
	delete(d.byPID, pid)
}

func (d *destinationCounts) setPrevious(ts pcommon.Timestamp) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.previous = ts
}
