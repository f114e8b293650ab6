//go:build linux

package syscallhealthreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadatatest"
)

// With the real probes, the collector's own telemetry has the ring buffer's fill, the reader's lag and, while
// the kernel accounts BPF program statistics, the programs' runs and run time.
func TestSelfTelemetryWithKernelProbes(t *testing.T) {
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes (CAP_BPF and CAP_PERFMON)")
	// Accounting on for as long as this file descriptor is open (the kernel turns it off when it closes),
	// instead of the kernel.bpf_stats_enabled sysctl an administrator would set.
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	require.NoError(t, err)
	defer stats.Close()

	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	cfg := createDefaultConfig()
	factory := NewFactory()
	rcvr, err := factory.CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, rcvr.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcvr.Shutdown(context.Background())) }()

	refuseConnects(t, testenv.ClosedLoopbackPort(t), 3)
	require.Eventually(t, func() bool {
		m, err := tt.GetMetric("otelcol_receiver_syscallhealth_reader_lag")
		if err != nil {
			return false
		}
		lag := m.Data.(metricdata.Gauge[float64]).DataPoints
		return len(lag) == 1 && lag[0].Value > 0
	}, 10*time.Second, 20*time.Millisecond, "an event was read and its lag measured")
	m, err := tt.GetMetric("otelcol_receiver_syscallhealth_reader_lag")
	require.NoError(t, err)
	lag := m.Data.(metricdata.Gauge[float64]).DataPoints[0].Value
	t.Logf("reader lag of the latest event: %.6fs", lag)
	assert.Less(t, lag, 10.0)

	m, err = tt.GetMetric("otelcol_receiver_syscallhealth_ring_buffer_fill")
	require.NoError(t, err)
	fill := m.Data.(metricdata.Gauge[float64]).DataPoints
	require.Len(t, fill, 1)
	assert.GreaterOrEqual(t, fill[0].Value, 0.0)
	assert.LessOrEqual(t, fill[0].Value, 1.0)

	m, err = tt.GetMetric("otelcol_receiver_syscallhealth_bpf_program_runs")
	require.NoError(t, err)
	var runs int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		program, _ := dp.Attributes.Value("program")
		t.Logf("program %s: %d runs", program.AsString(), dp.Value)
		runs += dp.Value
	}
	assert.Positive(t, runs, "the syscall exit program ran (every syscall of the host runs it)")
	m, err = tt.GetMetric("otelcol_receiver_syscallhealth_bpf_program_run_time")
	require.NoError(t, err)
	var seconds float64
	for _, dp := range m.Data.(metricdata.Sum[float64]).DataPoints {
		seconds += dp.Value
	}
	assert.Positive(t, seconds)
	t.Logf("%d runs in %.6fs: %.0f ns per run", runs, seconds, seconds*1e9/float64(runs))
}
