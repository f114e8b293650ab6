//go:build linux

package syscallhealthreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const tickNs = uint64(time.Second / clockTicksPerSecond)

// A process that failed and exited before its event was read still has its creation time: the kernel
// sends the process's start with the event.
func TestCreationTimeOfProcessGoneAtOnce(t *testing.T) {
	cache := newTestProcessCache("testdata", false, &testClock{now: time.Unix(1_700_000_000, 0)})
	require.NotZero(t, cache.bootTime, "testdata/proc/stat has the boot time")

	p := cache.forEvent(&bpf.Event{PID: 5000, PPID: 4400, Comm: "worker", ProcessStartNs: 812345*tickNs + 6789})
	assert.Equal(t, cache.creationTime(812345), p.CreationTime)
	assert.NotEmpty(t, p.CreationTime)

	// Its counts alone (no event read) carry it too.
	p, _ = cache.forCounts(5001, 812346*tickNs, 0)
	assert.Equal(t, cache.creationTime(812346), p.CreationTime)
}

// PID 4400 failed, exited, and was given to the process testdata/proc shows (started 700000 ticks after
// boot), which failed too: two processes, two series with their own counts and creation times. Only the
// exited one's series are released, and its counts never add to the new process's.
func TestReusedPIDHasSeriesOfItsOwn(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	processes := newTestProcessCache("testdata", false, clock)
	write := syscallNr(t, "write")
	earlier := bpf.CountKey{PID: 4400, ProcessStartNs: 600000 * tickNs, Syscall: write, Errno: 28}
	current := bpf.CountKey{PID: 4400, ProcessStartNs: 700000 * tickNs, Syscall: write, Errno: 28}
	counts := []bpf.Count{
		{Key: earlier, Category: bpf.CategoryFile, Count: 3, FirstSeenNs: 600001 * tickNs},
		{Key: current, Category: bpf.CategoryFile, Count: 5, FirstSeenNs: 700001 * tickNs},
	}
	mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
	loadTime := time.Unix(1_700_000_000, 0)
	collector := newMetricsCollector(mb, hostInfo{name: testHostName}, processes,
		newDestinationCounts(zap.NewNop(), false, pcommon.NewTimestampFromTime(loadTime)), &dropCounters{},
		newEscalationTracker(), nil, processes.host, fixedBootClock{boot: loadTime}, loadTime, 100, GranularityProcess)

	exited := collector.exitedAmong(counts)
	assert.Equal(t, map[process]bool{processOfKey(earlier): true}, exited, "the earlier process is gone, the current one runs")
	metrics := collector.collect(counts, exited, bpf.Stats{}, loadTime.Add(10*time.Second))

	created := map[int64]string{}
	for i := 0; i < metrics.ResourceMetrics().Len(); i++ {
		rm := metrics.ResourceMetrics().At(i)
		ct, ok := rm.Resource().Attributes().Get("process.creation.time")
		if !ok {
			continue
		}
		ms := rm.ScopeMetrics().At(0).Metrics()
		for k := 0; k < ms.Len(); k++ {
			if ms.At(k).Name() == "syscallhealth.failures" {
				created[ms.At(k).Sum().DataPoints().At(0).IntValue()] = ct.Str()
			}
		}
	}
	assert.Equal(t, map[int64]string{3: processes.creationTime(600000), 5: processes.creationTime(700000)}, created,
		"each process's exact count under its own creation time")

	assert.Equal(t, []bpf.CountKey{earlier}, collector.delivered(exited), "only the exited process's series are released")
	assert.Contains(t, collector.series, current)
	assert.NotContains(t, collector.series, earlier)
}
