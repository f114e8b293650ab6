//go:build linux

package syscallhealthreceiver

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const (
	// shutdownFailures is how many refused connects the shutdown tests cause: 750 KiB of events, all still
	// queued when Shutdown starts.
	shutdownFailures = 2000
	// shutdownRingSize keeps them below half the ring, where the kernel's storm guard starts holding events back.
	shutdownRingSize = 4 << 20
)

// heldProbe is the real kernel probe with its reader held back until Shutdown drains it, as a reader busy
// elsewhere would be: every event the test causes is still in the kernel ring when Shutdown starts.
type heldProbe struct {
	*bpf.Probe
	release chan struct{}
	once    sync.Once
}

func (p *heldProbe) ReadEvent(ev *bpf.Event) error {
	<-p.release
	return p.Probe.ReadEvent(ev)
}

func (p *heldProbe) Drain() error {
	p.once.Do(func() { close(p.release) })
	return p.Probe.Drain()
}

// newOwnConnectsReceiver is a receiver on the real probes that sees only this test process's connects,
// with a burst that lets every one of shutdownFailures become an event and no collection before Shutdown.
func newOwnConnectsReceiver(t *testing.T, logs *consumertest.LogsSink, metrics *consumertest.MetricsSink) *syscallHealthReceiver {
	t.Helper()
	cfg := createDefaultConfig()
	cfg.Syscalls = []string{"connect"}
	cfg.CollectionInterval = time.Hour
	cfg.RateLimit.Burst = shutdownFailures
	cfg.RingBufferSize = shutdownRingSize
	cfg.Findings.Enabled = false
	r, err := newSyscallHealthReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	r.nextLogs, r.nextMetrics = logs, metrics
	r.load = func(opts bpf.Options) (kernelProbe, error) {
		opts.PIDFilter = uint32(os.Getpid())
		p, err := bpf.Load(opts)
		if err != nil {
			return nil, err
		}
		return &heldProbe{Probe: p, release: make(chan struct{})}, nil
	}
	return r
}

func TestShutdownDrainsTheRing(t *testing.T) {
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes (CAP_BPF and CAP_PERFMON)")
	logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
	r := newOwnConnectsReceiver(t, logs, metrics)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	refuseConnects(t, testenv.ClosedLoopbackPort(t), shutdownFailures)
	require.Zero(t, logs.LogRecordCount(), "the reader is held: the events wait in the ring")

	started := time.Now()
	require.NoError(t, r.Shutdown(context.Background()))
	t.Logf("Shutdown turned %d queued events into records and sent the final counts in %s",
		shutdownFailures, time.Since(started).Round(time.Microsecond))

	pid := int64(os.Getpid())
	assert.Equal(t, shutdownFailures, connectRecords(logs.AllLogs(), pid), "one record per failure")
	assert.Equal(t, int64(shutdownFailures), latestFailureCount(metrics.AllMetrics(), pid, "connect", "ECONNREFUSED"))
	assert.Equal(t, map[string]int64{"backpressure": 0, "consumer_error": 0, "malformed_record": 0, "ring_buffer_full": 0, "shutdown": 0},
		finalDrops(t, metrics.AllMetrics()))
}

func TestShutdownOutOfTimeCountsTheRest(t *testing.T) {
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes (CAP_BPF and CAP_PERFMON)")
	logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
	r := newOwnConnectsReceiver(t, logs, metrics)
	r.drainLimit = 0 // no time to enrich: what is left in the ring is only counted
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	refuseConnects(t, testenv.ClosedLoopbackPort(t), shutdownFailures)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, r.Shutdown(ctx))

	pid := int64(os.Getpid())
	records := connectRecords(logs.AllLogs(), pid)
	drops := finalDrops(t, metrics.AllMetrics())
	t.Logf("%d events became records, %d were counted as dropped at shutdown", records, drops["shutdown"])
	assert.Positive(t, drops["shutdown"], "events left in the ring are counted")
	assert.Equal(t, int64(shutdownFailures), int64(records)+drops["shutdown"], "every event is a record or a counted drop")
	assert.Equal(t, int64(shutdownFailures), latestFailureCount(metrics.AllMetrics(), pid, "connect", "ECONNREFUSED"),
		"the final count is exact either way")
}

// connectRecords counts the failure records of process pid.
func connectRecords(all []plog.Logs, pid int64) int {
	n := 0
	for _, ld := range all {
		for _, rl := range ld.ResourceLogs().All() {
			if v, ok := rl.Resource().Attributes().Get("process.pid"); ok && v.Int() == pid {
				for _, sl := range rl.ScopeLogs().All() {
					n += sl.LogRecords().Len()
				}
			}
		}
	}
	return n
}

// finalDrops is syscallhealth.events.dropped by reason in the last emission.
func finalDrops(t *testing.T, all []pmetric.Metrics) map[string]int64 {
	t.Helper()
	require.NotEmpty(t, all, "the final counts were emitted")
	drops := make(map[string]int64)
	for _, rm := range all[len(all)-1].ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != "syscallhealth.events.dropped" {
					continue
				}
				for _, dp := range m.Sum().DataPoints().All() {
					reason, _ := dp.Attributes().Get("syscallhealth.drop.reason")
					drops[reason.Str()] = dp.IntValue()
				}
			}
		}
	}
	return drops
}

// TestFinalCountSurvivesTransientConsumerError: a real process fails and exits while the metrics consumer
// rejects every emission; its final count must still arrive once the consumer recovers, and only then leave
// the kernel map.
func TestFinalCountSurvivesTransientConsumerError(t *testing.T) {
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes (CAP_BPF and CAP_PERFMON)")
	triggerPath := triggertest.Build(t)
	metrics := new(flakyMetrics)
	metrics.rejecting.Store(true)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = 100 * time.Millisecond
	cfg.Findings.Enabled = false
	r, err := newSyscallHealthReceiver(cfg, receivertest.NewNopSettings(metadata.Type))
	require.NoError(t, err)
	r.nextLogs, r.nextMetrics = consumertest.NewNop(), metrics
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, r.Shutdown(context.Background())) }()

	const failures = 5
	result, err := triggertest.Run(triggerPath, "econnrefused", "-n", strconv.Itoa(failures))
	require.NoError(t, err)
	require.Equal(t, failures, result.Failures)
	pid := int64(result.PID)
	rejectedFinal := func() int {
		metrics.mu.Lock()
		defer metrics.mu.Unlock()
		n := 0
		for _, md := range metrics.rejected {
			if latestFailureCount([]pmetric.Metrics{md}, pid, "connect", "ECONNREFUSED") == failures {
				n++
			}
		}
		return n
	}
	// Once the process has exited, a rejected emission used to be its last.
	require.Eventually(t, func() bool { return rejectedFinal() >= 3 }, 30*time.Second, 20*time.Millisecond,
		"the exited process's final count is emitted again after each rejection")

	metrics.rejecting.Store(false)
	require.Eventually(t, func() bool {
		return latestFailureCount(metrics.AllMetrics(), pid, "connect", "ECONNREFUSED") == failures
	}, 30*time.Second, 20*time.Millisecond, "the final count arrives once the consumer accepts again")

	// Delivered: forgotten, here and in the kernel map.
	accepted := len(metrics.AllMetrics())
	require.Eventually(t, func() bool { return len(metrics.AllMetrics()) > accepted }, 30*time.Second, 20*time.Millisecond)
	assert.Equal(t, int64(-1), latestFailureCount(metrics.AllMetrics()[accepted:], pid, "connect", "ECONNREFUSED"))
	counts, err := r.probe.Counts()
	require.NoError(t, err)
	for _, c := range counts {
		assert.NotEqual(t, uint32(pid), c.Key.PID, "the delivered final count left the kernel map")
	}
}
