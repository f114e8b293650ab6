//go:build linux

package syscallhealthreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// failureSeries is one syscallhealth.failures point with its resource, for comparisons.
type failureSeries struct {
	container, pod, executable string
	pid                        int64
	syscall, errno             string
	value                      int64
	start                      pcommon.Timestamp
}

func failurePoints(md pmetric.Metrics) []failureSeries {
	var out []failureSeries
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		res := rm.Resource().Attributes().AsRaw()
		str := func(k string) string { s, _ := res[k].(string); return s }
		pid, _ := res["process.pid"].(int64)
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() != "syscallhealth.failures" {
					continue
				}
				dps := ms.At(k).Sum().DataPoints()
				for d := 0; d < dps.Len(); d++ {
					a := dps.At(d).Attributes().AsRaw()
					out = append(out, failureSeries{str("container.id"), str("k8s.pod.uid"), str("process.executable.name"), pid,
						a["syscallhealth.syscall.name"].(string), a["error.type"].(string), dps.At(d).IntValue(), dps.At(d).StartTimestamp()})
				}
			}
		}
	}
	return out
}

// Short-lived processes of one container, each failing and exiting between collections: the container's
// series holds the exact total across them, outlives them, and goes once the container stays idle.
func TestFailureGranularities(t *testing.T) {
	const pod = "0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e"
	const container = "4b825dc642cb6eb9a060e54bf8d69288fbee4904a1b2c3d4e5f60718293a4b5c"
	write := syscallNr(t, "write")
	count := func(pid uint32, n uint64, cgroup uint64, comm string) bpf.Count {
		return bpf.Count{Key: bpf.CountKey{PID: pid, Syscall: write, Errno: 28}, Category: bpf.CategoryFile,
			Count: n, FirstSeenNs: uint64(pid), CgroupID: cgroup, Executable: comm}
	}
	// Collections: each a snapshot of the kernel map; the receiver deletes exited processes' series.
	rounds := [][]bpf.Count{
		{count(9001, 1, 88, "job"), count(9002, 2, 88, "job"), count(9100, 5, 99, "cron")},
		{count(9003, 1, 88, "job"), count(9100, 6, 99, "cron")},
		{count(9100, 6, 99, "cron")},
		// 9100's series was evicted from the kernel map and counted again from 1.
		{count(9100, 1, 99, "cron")},
	}
	type want struct{ container, executable, host int64 }
	wants := []struct{ job, cron want }{
		{want{3, 3, 8}, want{5, 5, 8}},
		{want{4, 4, 10}, want{6, 6, 10}},
		{want{4, 4, 10}, want{6, 6, 10}},
		{want{4, 4, 11}, want{7, 7, 11}},
	}
	for _, g := range []Granularity{GranularityContainer, GranularityExecutable, GranularityHost} {
		t.Run(string(g), func(t *testing.T) {
			clock := &testClock{now: time.Unix(1_700_000_000, 0)}
			processes := newTestProcessCache("testdata", false, clock)
			// Their events: the cgroups' paths, from the kernel; none of the processes is in /proc.
			for _, pid := range []uint32{9001, 9002, 9003} {
				processes.forEvent(&bpf.Event{PID: pid, CgroupID: 88, Comm: "job", CgroupPath: "/kubepods/pod" + pod + "/" + container})
			}
			processes.forEvent(&bpf.Event{PID: 9100, CgroupID: 99, Comm: "cron", CgroupPath: "/system.slice/cron.service"})
			mb := metadata.NewMetricsBuilder(metadata.NewDefaultMetricsBuilderConfig(), receivertest.NewNopSettings(metadata.Type))
			loadTime := time.Unix(1_700_000_000, 0)
			collector := newMetricsCollector(mb, hostInfo{name: testHostName}, processes,
				newDestinationCounts(zap.NewNop(), false, pcommon.NewTimestampFromTime(loadTime)), &dropCounters{},
				newEscalationTracker(), nil, processes.host, fixedBootClock{boot: loadTime}, loadTime, 100, g)
			var firstStart pcommon.Timestamp
			for i, counts := range rounds {
				exited := map[process]bool{{pid: 9001}: true, {pid: 9002}: true, {pid: 9003}: true}
				metrics := collector.collect(counts, exited, bpf.Stats{}, loadTime.Add(time.Duration(i+1)*10*time.Second))
				collector.delivered(exited)
				points := failurePoints(metrics)
				for _, p := range points {
					assert.Zero(t, p.pid, "round %d: no process series at %s granularity: %+v", i, g, p)
				}
				switch g {
				case GranularityContainer:
					assert.ElementsMatch(t, []int64{wants[i].job.container, wants[i].cron.container}, values(points), "round %d", i)
					for _, p := range points {
						if p.value == wants[i].job.container {
							assert.Equal(t, container, p.container)
							assert.Equal(t, pod, p.pod)
							if i == 0 {
								firstStart = p.start
							}
							assert.Equal(t, firstStart, p.start, "the container's series keeps its start")
						}
					}
				case GranularityExecutable:
					assert.ElementsMatch(t, []int64{wants[i].job.executable, wants[i].cron.executable}, values(points), "round %d", i)
					for _, p := range points {
						assert.Contains(t, []string{"job", "cron"}, p.executable)
					}
				case GranularityHost:
					assert.Equal(t, []int64{wants[i].job.host}, values(points), "round %d", i)
				}
			}
			// Idle long enough, the series go.
			for i := range aggregateIdleRounds + 1 {
				metrics := collector.collect(nil, nil, bpf.Stats{}, loadTime.Add(time.Duration(i+10)*10*time.Second))
				if i == aggregateIdleRounds {
					assert.Empty(t, failurePoints(metrics))
				}
			}
		})
	}
}

func values(points []failureSeries) []int64 {
	var out []int64
	for _, p := range points {
		out = append(out, p.value)
	}
	return out
}
