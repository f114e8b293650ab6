//go:build linux

package syscallhealthreceiver

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadatatest"
)

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []componentstatus.Status
	for _, ev := range h.events {
		out = append(out, ev.Status())
	}
	return out
}

// The receiver's losses reach the collector's own telemetry, and its status is RecoverableError while it
// loses data and OK again after a collection without loss.
func TestSelfTelemetryAndStatus(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	probe := newRecordingProbe()
	r, err := newSyscallHealthReceiver(createDefaultConfig(), metadatatest.NewSettings(tt))
	require.NoError(t, err)
	test := newTestReceiver(t, createDefaultConfig(), probe, nil, new(consumertest.MetricsSink))
	r.load, r.host, r.nextMetrics = test.load, test.host, test.nextMetrics
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	ctx := context.Background()
	r.collect(ctx)
	assert.Empty(t, host.statuses(), "healthy: nothing to report beyond the collector's own OK")

	probe.mu.Lock()
	probe.stats = bpf.Stats{RingbufDrops: 3, Suppressed: 40, Untracked: 2, UntrackedConnects: 1, MissedRuns: 4}
	probe.mu.Unlock()
	r.drops.backpressure.Add(5)
	r.collect(ctx)
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, host.statuses(), "losing data")

	r.collect(ctx)
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, host.statuses(),
		"a collection without new loss: OK again")
	r.collect(ctx)
	assert.Len(t, host.statuses(), 2, "no repeated OK")

	// Runs of the kernel programs the kernel skipped are losses of their own.
	probe.mu.Lock()
	probe.stats.MissedRuns = 6
	probe.mu.Unlock()
	r.collect(ctx)
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK, componentstatus.StatusRecoverableError},
		host.statuses(), "skipped program runs: losing data")

	reason := func(r string) attribute.Set { return attribute.NewSet(attribute.String("reason", r)) }
	metadatatest.AssertEqualReceiverSyscallhealthEventsDropped(t, tt, []metricdata.DataPoint[int64]{
		{Attributes: reason("ring_buffer_full"), Value: 3},
		{Attributes: reason("malformed_record"), Value: 0},
		{Attributes: reason("consumer_error"), Value: 0},
		{Attributes: reason("backpressure"), Value: 5},
		{Attributes: reason("shutdown"), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverSyscallhealthEventsSuppressed(t, tt, []metricdata.DataPoint[int64]{{Value: 40}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverSyscallhealthFailuresUntracked(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverSyscallhealthConnectsUntracked(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualReceiverSyscallhealthProbeRunsMissed(t, tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
}
