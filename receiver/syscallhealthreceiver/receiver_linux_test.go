//go:build linux

package syscallhealthreceiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// recordingProbe hands recorded events to the receiver the way bpf.Probe does: ReadEvent blocks until an
// event, Drain or Close. Counts and Stats return what the test sets.
type recordingProbe struct {
	events    chan readResult
	drained   chan struct{}
	closed    chan struct{}
	drainOnce sync.Once
	closeOnce sync.Once
	closes    atomic.Int32
	detaches  atomic.Int32

	mu      sync.Mutex
	counts  []bpf.Count
	stats   bpf.Stats
	deleted []bpf.CountKey
	updates []bpf.Options
}

type readResult struct {
	ev  bpf.Event
	err error
}

func newRecordingProbe() *recordingProbe {
	return &recordingProbe{events: make(chan readResult), drained: make(chan struct{}), closed: make(chan struct{})}
}

func (p *recordingProbe) Hook() bpf.Hook { return "tp_btf" }

func (p *recordingProbe) SocketHook() (bpf.Hook, error) { return "tp_btf", nil }

func (p *recordingProbe) ReadEvent(ev *bpf.Event) error {
	select {
	case r := <-p.events:
		if r.err == nil {
			*ev = r.ev
		}
		return r.err
	case <-p.drained:
		return bpf.ErrDrained
	case <-p.closed:
		return bpf.ErrClosed
	}
}

func (p *recordingProbe) Detach() error {
	p.detaches.Add(1)
	return nil
}

func (p *recordingProbe) Drain() error {
	p.drainOnce.Do(func() { close(p.drained) })
	return nil
}

func (p *recordingProbe) Counts() ([]bpf.Count, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bpf.Count(nil), p.counts...), nil
}

func (p *recordingProbe) DeleteCounts(keys []bpf.CountKey) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deleted = append(p.deleted, keys...)
	p.counts = slices.DeleteFunc(p.counts, func(c bpf.Count) bool { return slices.Contains(keys, c.Key) })
	return nil
}

func (p *recordingProbe) Stats() (bpf.Stats, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats, nil
}

func (p *recordingProbe) Update(opts bpf.Options) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updates = append(p.updates, opts)
	return nil
}

func (p *recordingProbe) Close() error {
	p.closes.Add(1)
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

func (p *recordingProbe) send(t *testing.T, r readResult) {
	t.Helper()
	select {
	case p.events <- r:
	case <-time.After(5 * time.Second):
		t.Fatal("the receiver stopped reading events")
	}
}

func newTestReceiver(t *testing.T, cfg *Config, probe kernelProbe, logs consumer.Logs, metrics consumer.Metrics) *syscallHealthReceiver {
	t.Helper()
	r, err := newSyscallHealthReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	r.load = func(bpf.Options) (kernelProbe, error) { return probe, nil }
	r.host = hostfs.New("testdata", time.Minute, nil)
	r.nextLogs, r.nextMetrics = logs, metrics
	return r
}

func TestReceiverBatchesRecordsAndFlushesPromptly(t *testing.T) {
	probe := newRecordingProbe()
	sink := new(consumertest.LogsSink)
	r := newTestReceiver(t, createDefaultConfig(), probe, sink, nil)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))

	events := recordedFailures(t)
	const rounds = 300
	for i := range rounds {
		probe.send(t, readResult{ev: events[i%len(events)]})
	}
	require.Eventually(t, func() bool { return sink.LogRecordCount() == rounds }, 5*time.Second, 10*time.Millisecond)
	assert.Less(t, len(sink.AllLogs()), rounds/10, "records are batched: many per ConsumeLogs call")

	// A lone event after a quiet period is flushed by the timer, not held back until more arrive.
	sink.Reset()
	sent := time.Now()
	probe.send(t, readResult{ev: events[0]})
	require.Eventually(t, func() bool { return sink.LogRecordCount() == 1 }, 2*time.Second, 5*time.Millisecond)
	assert.Less(t, time.Since(sent), 2*flushInterval, "flushed within the flush interval")

	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()), "Shutdown is safe twice")
	assert.Equal(t, int32(1), probe.closes.Load())
}

func TestReceiverCountsWhatItDrops(t *testing.T) {
	probe := newRecordingProbe()
	rejecting := consumertest.NewErr(errors.New("pipeline refused"))
	metricsSink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = time.Hour // only the final collection at Shutdown
	r := newTestReceiver(t, cfg, probe, rejecting, metricsSink)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))

	events := recordedFailures(t)
	for i := range events {
		probe.send(t, readResult{ev: events[i]})
	}
	probe.send(t, readResult{err: fmt.Errorf("record of 3 bytes: %w", bpf.ErrMalformedEvent)})
	probe.send(t, readResult{err: fmt.Errorf("record of 700 bytes: %w", bpf.ErrMalformedEvent)})
	probe.mu.Lock()
	probe.stats = bpf.Stats{RingbufDrops: 5, Suppressed: 11}
	probe.mu.Unlock()
	require.Eventually(t, func() bool { return r.drops.consumerError.Load() == uint64(len(events)) }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))

	require.Len(t, metricsSink.AllMetrics(), 1, "the counts are emitted one last time at Shutdown")
	dropped := map[string]int64{}
	var suppressed int64
	forEachDataPoint(metricsSink.AllMetrics()[0], func(name string, dp pmetric.NumberDataPoint) {
		switch name {
		case "syscallhealth.events.dropped":
			reason, _ := dp.Attributes().Get("syscallhealth.drop.reason")
			dropped[reason.Str()] = dp.IntValue()
		case "syscallhealth.events.suppressed":
			suppressed = dp.IntValue()
		}
	})
	assert.Equal(t, map[string]int64{
		"ring_buffer_full": 5,
		"shutdown":         0,
		"malformed_record": 2,
		"consumer_error":   int64(len(events)),
		"backpressure":     0,
	}, dropped)
	assert.Equal(t, int64(11), suppressed)
}

// Records still pending at Shutdown that the next consumer rejects are counted in the final metrics.
func TestReceiverCountsRecordsRejectedAtShutdown(t *testing.T) {
	probe := newRecordingProbe()
	metricsSink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = time.Hour // only the final collection at Shutdown
	r := newTestReceiver(t, cfg, probe, consumertest.NewErr(errors.New("pipeline refused")), metricsSink)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	events := recordedFailures(t)
	for i := range events {
		probe.send(t, readResult{ev: events[i]})
	}
	require.NoError(t, r.Shutdown(context.Background()))

	require.Len(t, metricsSink.AllMetrics(), 1)
	var rejected int64
	forEachDataPoint(metricsSink.AllMetrics()[0], func(name string, dp pmetric.NumberDataPoint) {
		if reason, _ := dp.Attributes().Get("syscallhealth.drop.reason"); name == "syscallhealth.events.dropped" && reason.Str() == "consumer_error" {
			rejected = dp.IntValue()
		}
	})
	assert.Equal(t, int64(len(events)), rejected)
}

func TestReceiverForgetsExitedProcesses(t *testing.T) {
	probe := newRecordingProbe()
	metricsSink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = 20 * time.Millisecond
	r := newTestReceiver(t, cfg, probe, nil, metricsSink)
	live := bpf.CountKey{PID: 4242, Syscall: syscallNr(t, "openat"), Errno: errnoOf(t, "ENOSPC")}
	gone := bpf.CountKey{PID: 5000, Syscall: syscallNr(t, "clone"), Errno: errnoOf(t, "EAGAIN")}
	probe.counts = []bpf.Count{{Key: live, Count: 3}, {Key: gone, Count: 1}}
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))

	require.Eventually(t, func() bool {
		probe.mu.Lock()
		defer probe.mu.Unlock()
		return len(probe.deleted) > 0
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))

	probe.mu.Lock()
	defer probe.mu.Unlock()
	assert.Contains(t, probe.deleted, gone, "the exited process's series leave the kernel map")
	assert.NotContains(t, probe.deleted, live)
	gonePoints := 0
	for _, m := range metricsSink.AllMetrics() {
		forEachDataPoint(m, func(name string, dp pmetric.NumberDataPoint) {
			if name == "syscallhealth.failures" && dp.IntValue() == 1 {
				gonePoints++
			}
		})
	}
	assert.GreaterOrEqual(t, gonePoints, 1, "the exited process's series was emitted before it was forgotten")
}

// racingProbe is a recordingProbe whose process keeps failing right after each read of the counts, the way a
// process can fail once more and exit between the receiver's read and its exit check.
type racingProbe struct {
	*recordingProbe
}

func (p racingProbe) Counts() ([]bpf.Count, error) {
	counts, err := p.recordingProbe.Counts()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.counts {
		p.counts[i].Count++
	}
	return counts, err
}

func TestReceiverEmitsFinalCountsOfExitedProcesses(t *testing.T) {
	probe := racingProbe{newRecordingProbe()}
	metricsSink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = time.Hour // the one collection is Shutdown's
	r := newTestReceiver(t, cfg, probe, nil, metricsSink)
	gone := bpf.CountKey{PID: 5000, Syscall: syscallNr(t, "clone"), Errno: errnoOf(t, "EAGAIN")}
	probe.counts = []bpf.Count{{Key: gone, Count: 1}}
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, r.Shutdown(context.Background()))

	probe.mu.Lock()
	defer probe.mu.Unlock()
	require.Equal(t, []bpf.CountKey{gone}, probe.deleted)
	require.Len(t, metricsSink.AllMetrics(), 1)
	var last []int64
	forEachDataPoint(metricsSink.AllMetrics()[0], func(name string, dp pmetric.NumberDataPoint) {
		if name == "syscallhealth.failures" {
			last = append(last, dp.IntValue())
		}
	})
	assert.Equal(t, []int64{2}, last, "the series of a process that exited is emitted with the count read after its exit")
}

// statusHost records the component status events the receiver reports.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func TestReceiverErrorMode(t *testing.T) {
	loadErr := errors.New("loading the BPF programs: operation not permitted (run as root or grant CAP_BPF and CAP_PERFMON)")
	failing := func(bpf.Options) (kernelProbe, error) { return nil, loadErr }

	t.Run("propagate fails the start", func(t *testing.T) {
		r := newTestReceiver(t, createDefaultConfig(), nil, new(consumertest.LogsSink), nil)
		r.load = failing
		err := r.Start(context.Background(), componenttest.NewNopHost())
		require.ErrorIs(t, err, loadErr)
		assert.ErrorContains(t, err, "kernel probes not loaded")
		require.NoError(t, r.Shutdown(context.Background()))
	})

	t.Run("ignore keeps running and reports a permanent error", func(t *testing.T) {
		cfg := createDefaultConfig()
		cfg.ErrorMode = ErrorModeIgnore
		r := newTestReceiver(t, cfg, nil, new(consumertest.LogsSink), nil)
		r.load = failing
		host := &statusHost{Host: componenttest.NewNopHost()}
		require.NoError(t, r.Start(context.Background(), host))
		require.Len(t, host.events, 1)
		assert.Equal(t, componentstatus.StatusPermanentError, host.events[0].Status())
		assert.ErrorIs(t, host.events[0].Err(), loadErr)
		require.NoError(t, r.Shutdown(context.Background()))
		require.NoError(t, r.Shutdown(context.Background()))
	})
}

func TestLogsAndMetricsShareOneProbe(t *testing.T) {
	probe := newRecordingProbe()
	var loads atomic.Int32
	registry := newSharedReceivers()
	set := receivertest.NewNopSettings(metadata.Type)
	cfg := createDefaultConfig()
	logsSink, metricsSink := new(consumertest.LogsSink), new(consumertest.MetricsSink)

	logsHandle, err := registry.acquire(set, cfg, func(r *syscallHealthReceiver) {
		r.nextLogs = logsSink
		r.host = hostfs.New("testdata", time.Minute, nil)
		r.load = func(bpf.Options) (kernelProbe, error) { loads.Add(1); return probe, nil }
	})
	require.NoError(t, err)
	metricsHandle, err := registry.acquire(set, cfg, func(r *syscallHealthReceiver) { r.nextMetrics = metricsSink })
	require.NoError(t, err)
	require.Same(t, logsHandle.shared.receiver, metricsHandle.shared.receiver)

	host := componenttest.NewNopHost()
	require.NoError(t, logsHandle.Start(context.Background(), host))
	require.NoError(t, metricsHandle.Start(context.Background(), host))
	assert.Equal(t, int32(1), loads.Load(), "the kernel programs are loaded once for both pipelines")

	probe.send(t, readResult{ev: recordedFailures(t)[0]})
	require.Eventually(t, func() bool { return logsSink.LogRecordCount() == 1 }, 5*time.Second, 10*time.Millisecond)

	// The first Shutdown stops the shared receiver while both pipelines' consumers still run.
	require.NoError(t, logsHandle.Shutdown(context.Background()))
	assert.Equal(t, int32(1), probe.closes.Load())
	assert.Len(t, metricsSink.AllMetrics(), 1, "the final collection reached the metrics pipeline")
	require.NoError(t, metricsHandle.Shutdown(context.Background()))
	require.NoError(t, logsHandle.Shutdown(context.Background()), "Shutdown is safe twice")
	assert.Equal(t, int32(1), probe.closes.Load())
	assert.Empty(t, registry.byID, "a later collector start creates a fresh receiver")

	// A reload creates a new receiver for the same component ID.
	again, err := registry.acquire(set, cfg, func(r *syscallHealthReceiver) { r.nextLogs = logsSink })
	require.NoError(t, err)
	assert.NotSame(t, logsHandle.shared, again.shared)
	require.NoError(t, again.Shutdown(context.Background()))
}

func forEachDataPoint(md pmetric.Metrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				default:
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					fn(m.Name(), dps.At(l))
				}
			}
		}
	}
}
