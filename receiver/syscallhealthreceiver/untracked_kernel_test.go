//go:build linux

package syscallhealthreceiver

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// With more series than the kernel's tracking map holds, what the receiver exports accounts for every
// failure exactly: the final syscallhealth.failures of each series plus syscallhealth.failures.untracked
// equal the failures caused. Processes fail in waves while the receiver collects; deleting the series of
// the exited ones frees room for the next waves. The probe watches only the test's own cgroup.
func TestExportedCountsAccountForEveryFailure(t *testing.T) {
	testenv.RequireRoot(t, "the test loads the kernel probes and starts processes in a cgroup of its own")
	const (
		mapSize   = 8
		waves     = 3
		processes = 16 // per wave, one (connect, ECONNREFUSED) series each
		failures  = 3  // per process
	)
	cg := testenv.NewCgroup(t)
	bin := triggertest.Build(t)
	port := strconv.Itoa(testenv.ClosedLoopbackPort(t))
	probe, err := bpf.Load(bpf.Options{
		TrackingMapSize: mapSize,
		Scope:           bpf.Scope{Include: bpf.ScopeMatch{Cgroups: []uint64{cg.ID}}},
		Rules:           []bpf.Rule{{Syscall: "connect", Errnos: []bpf.Errno{errnoOf(t, "ECONNREFUSED")}}},
	})
	require.NoError(t, err)

	metricsSink := new(consumertest.MetricsSink)
	cfg := createDefaultConfig()
	cfg.CollectionInterval = 50 * time.Millisecond
	cfg.TrackingMapSize = mapSize
	r := newTestReceiver(t, cfg, probe, nil, metricsSink)
	r.host = hostfs.New("/", hostfs.DefaultDeadline, nil)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	var wg sync.WaitGroup
	for range waves {
		for range processes {
			wg.Go(func() {
				p := triggertest.Command(bin, "econnrefused", "-n", strconv.Itoa(failures), "-port", port).WithSysProcAttr(cg.SysProcAttr())
				assert.NoError(t, p.Run())
			})
		}
		wg.Wait()
		time.Sleep(2 * cfg.CollectionInterval) // the receiver finds the exited processes and frees their room
	}
	caused := int64(waves * processes * failures)

	// Every series left the kernel map once emitted a last time; the next collection has the final untracked count.
	require.Eventually(t, func() bool {
		counts, err := probe.Counts()
		return err == nil && len(counts) == 0
	}, 10*time.Second, 10*time.Millisecond, "the receiver did not delete the series of the exited processes")
	exports := len(metricsSink.AllMetrics())
	require.Eventually(t, func() bool { return len(metricsSink.AllMetrics()) > exports }, 10*time.Second, 10*time.Millisecond)

	final := map[string]int64{} // by pid: every process had one series
	var untracked int64
	for _, md := range metricsSink.AllMetrics() {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			pid, _ := rm.Resource().Attributes().Get("process.pid")
			forEachDataPoint(singleResource(rm), func(name string, dp pmetric.NumberDataPoint) {
				switch name {
				case "syscallhealth.failures":
					final[pid.AsString()] = max(final[pid.AsString()], dp.IntValue())
				case "syscallhealth.failures.untracked":
					untracked = dp.IntValue()
				}
			})
		}
	}
	var counted int64
	for _, n := range final {
		counted += n
	}
	t.Logf("%d failures caused by %d processes: %d counted in %d series, %d untracked (tracking map of %d)",
		caused, waves*processes, counted, len(final), untracked, mapSize)
	assert.Equal(t, caused, counted+untracked, "every failure is in syscallhealth.failures or syscallhealth.failures.untracked")
	assert.Positive(t, untracked, "the map was too small for a wave")
	assert.Greater(t, len(final), mapSize, "the series of exited processes were deleted, making room for later waves")
}
