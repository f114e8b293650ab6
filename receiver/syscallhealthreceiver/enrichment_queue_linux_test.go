//go:build linux

package syscallhealthreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// TestReaderDropsPastAStuckEnricher: with the enricher stuck in a lookup for longer than
// enricherStallLimit, the reader goes on taking events off the ring; past the queue they are counted as
// dropped (backpressure), and once the lookup returns the queued ones become records, in ring order.
func TestReaderDropsPastAStuckEnricher(t *testing.T) {
	probe := newRecordingProbe()
	sink := new(consumertest.LogsSink)
	r := newTestReceiver(t, createDefaultConfig(), probe, sink, nil)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	release := make(chan struct{})
	// Set before the first event is sent: the send orders it before the enricher's read.
	r.processes.lookupUser = func(uint32) string {
		<-release
		return ""
	}

	const beyond = 100
	events := recordedFailures(t)
	for i := range enrichQueueSize + beyond {
		ev := events[i%len(events)]
		ev.ErrorCount = uint64(i + 1) // the ring order, readable on the records
		probe.send(t, readResult{ev: ev})
	}
	// One event is in the stuck enricher, enrichQueueSize wait in the queue: the rest were dropped.
	require.Eventually(t, func() bool { return r.drops.backpressure.Load() >= beyond-1 }, 5*time.Second, time.Millisecond)
	assert.LessOrEqual(t, r.drops.backpressure.Load(), uint64(beyond))
	close(release)

	want := enrichQueueSize + beyond - int(r.drops.backpressure.Load())
	require.Eventually(t, func() bool { return sink.LogRecordCount() == want }, 30*time.Second, 10*time.Millisecond)
	var previous int64
	for _, logs := range sink.AllLogs() {
		for i := range logs.ResourceLogs().Len() {
			records := logs.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords()
			for j := range records.Len() {
				count, _ := records.At(j).Attributes().Get("syscallhealth.error_count")
				assert.Greater(t, count.Int(), previous, "records of one resource in ring order")
				previous = count.Int()
			}
			previous = 0
		}
	}
}

// TestReaderWaitsOutABriefStall: an enricher held up for less than enricherStallLimit (a descheduled
// goroutine on a busy host) costs no event: the reader waits, and the kernel's ring holds what arrives.
func TestReaderWaitsOutABriefStall(t *testing.T) {
	probe := newRecordingProbe()
	sink := new(consumertest.LogsSink)
	r := newTestReceiver(t, createDefaultConfig(), probe, sink, nil)
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	stalled := time.Now()
	r.processes.lookupUser = func(uint32) string {
		time.Sleep(time.Until(stalled.Add(enricherStallLimit / 4)))
		return ""
	}

	const beyond = 100
	events := recordedFailures(t)
	for i := range enrichQueueSize + beyond {
		probe.send(t, readResult{ev: events[i%len(events)]})
	}
	require.Eventually(t, func() bool { return sink.LogRecordCount() == enrichQueueSize+beyond }, 30*time.Second, 10*time.Millisecond)
	assert.Zero(t, r.drops.backpressure.Load(), "no event dropped for a stall shorter than %s", enricherStallLimit)
}
