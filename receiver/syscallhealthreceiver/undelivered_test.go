//go:build linux

package syscallhealthreceiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// flakyMetrics rejects metrics while rejecting is set and keeps what it accepts.
type flakyMetrics struct {
	consumertest.MetricsSink
	rejecting atomic.Bool
	mu        sync.Mutex
	rejected  []pmetric.Metrics
}

func (f *flakyMetrics) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (f *flakyMetrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if f.rejecting.Load() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.rejected = append(f.rejected, md)
		return errors.New("exporter queue full")
	}
	return f.MetricsSink.ConsumeMetrics(ctx, md)
}

func TestFinalCountsOfExitedProcessesAwaitDelivery(t *testing.T) {
	probe := newRecordingProbe()
	metrics := new(flakyMetrics)
	metrics.rejecting.Store(true)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = time.Hour // the test collects itself
	cfg.TrackingMapSize = 8            // exited processes may hold 2 series while they await delivery
	r := newTestReceiver(t, cfg, probe, consumertest.NewNop(), metrics)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()

	// PIDs 7001 to 7003 are not in testdata/proc: they have exited.
	count := func(pid uint32, errno string, n uint64) bpf.Count {
		return bpf.Count{Key: bpf.CountKey{PID: pid, Syscall: syscallNr(t, "connect"), Errno: errnoOf(t, errno)},
			Category: bpf.CategoryNetwork, Count: n, FirstSeenNs: 1e9, LastSeenNs: 2e9}
	}
	setCounts := func(counts ...bpf.Count) {
		probe.mu.Lock()
		defer probe.mu.Unlock()
		probe.counts = counts
	}
	deleted := func() []bpf.CountKey {
		probe.mu.Lock()
		defer probe.mu.Unlock()
		return append([]bpf.CountKey(nil), probe.deleted...)
	}
	a, b := count(7001, "ECONNREFUSED", 5), count(7002, "ECONNREFUSED", 3)
	c, d := count(7003, "ECONNREFUSED", 2), count(7003, "ETIMEDOUT", 4)
	ctx := context.Background()

	// Rejected: the exited processes' final counts stay in the kernel map, within the bound.
	setCounts(a, b)
	r.collect(ctx)
	assert.Empty(t, deleted(), "nothing is deleted before it was delivered")
	r.collect(ctx)
	assert.Empty(t, deleted())
	require.Len(t, metrics.rejected, 2)
	assert.Equal(t, int64(5), latestFailureCount(metrics.rejected, 7001, "connect", "ECONNREFUSED"), "emitted again")

	// Two more series of exited processes: over the bound, the longest waiting are given up and counted.
	setCounts(a, b, c, d)
	r.collect(ctx)
	assert.ElementsMatch(t, []bpf.CountKey{a.Key, b.Key}, deleted())

	// The consumer recovers: the final counts still waiting arrive, and only then leave the kernel map.
	metrics.rejecting.Store(false)
	r.collect(ctx)
	require.Len(t, metrics.AllMetrics(), 1)
	accepted := metrics.AllMetrics()
	assert.Equal(t, int64(2), latestFailureCount(accepted, 7003, "connect", "ECONNREFUSED"))
	assert.Equal(t, int64(4), latestFailureCount(accepted, 7003, "connect", "ETIMEDOUT"))
	assert.Equal(t, int64(-1), latestFailureCount(accepted, 7001, "connect", "ECONNREFUSED"), "given up")
	assert.Equal(t, int64(5+3), undeliveredFailures(accepted[0]))
	assert.ElementsMatch(t, []bpf.CountKey{a.Key, b.Key, c.Key, d.Key}, deleted())
	assert.Empty(t, r.collector.series, "nothing is kept of delivered exited processes")
}

func undeliveredFailures(md pmetric.Metrics) int64 {
	value := int64(-1)
	forEachDataPoint(md, func(name string, dp pmetric.NumberDataPoint) {
		if name == "syscallhealth.failures.undelivered" {
			value = dp.IntValue()
		}
	})
	return value
}
