//go:build linux

package syscallhealthreceiver

import (
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/healthtrace"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const tracePath = "testdata/health_trace.json"

// loadRecordedTrace reads the events recorded from the kernel (make record-trace). Their syscall numbers
// are those of the recording machine's architecture.
func loadRecordedTrace(t testing.TB) healthtrace.Trace {
	t.Helper()
	trace, err := healthtrace.Read(filepath.FromSlash(tracePath))
	require.NoError(t, err)
	if trace.Arch != runtime.GOARCH {
		t.Skipf("%s holds %s syscall numbers; this test runs on %s", tracePath, trace.Arch, runtime.GOARCH)
	}
	require.NotEmpty(t, trace.Runs)
	return trace
}

// TestRecordedTraceToLogs converts the real kernel events of every recorded run and checks each record
// against what the trigger process did. The processes are long gone, as for a receiver that reads an event
// after a short-lived process exited: the resource comes from what the kernel sent.
func TestRecordedTraceToLogs(t *testing.T) {
	trace := loadRecordedTrace(t)
	for _, run := range trace.Runs {
		t.Run(strings.Join(run.Args, " "), func(t *testing.T) {
			require.NotEmpty(t, run.Events)
			pipeline := newConversionPipeline(t, t.TempDir())
			// The recorder converted boot time with bpf.BootClock: use the same boot time.
			first := run.Events[0]
			pipeline.clock = fixedBootClock{boot: first.Time.Add(-time.Duration(first.TimestampNs))}

			var carried uint64
			for _, recorded := range run.Events {
				ev, err := recorded.BPF()
				require.NoError(t, err)
				require.True(t, pipeline.handle(&ev))
				carried += 1 + ev.Suppressed
			}
			last := run.Events[len(run.Events)-1]
			assert.Equal(t, last.ErrorCount, carried, "each event carries itself and the failures held back before it")
			assert.LessOrEqual(t, last.ErrorCount, run.Count)
			assert.Equal(t, uint64(run.Trigger.Failures), run.Count, "the kernel counted every failure the trigger caused")

			logs, n := pipeline.batch.take()
			require.Equal(t, len(run.Events), n)
			require.Equal(t, 1, logs.ResourceLogs().Len(), "one process")
			res := logs.ResourceLogs().At(0).Resource().Attributes().AsRaw()
			assert.Equal(t, int64(run.Trigger.PID), res["process.pid"])
			assert.NotContains(t, res, "process.executable.name", "the process had exited: its executable is unknown, the comm is no substitute")
			assert.Equal(t, int64(first.PPID), res["process.parent_pid"])
			assert.Equal(t, int64(first.UID), res["process.real_user.id"])
			assert.NotContains(t, res, "process.user.id", "the kernel sends the real user ID only; the effective one is read from /proc")

			records := logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			for i := 0; i < records.Len(); i++ {
				lr, recorded := records.At(i), run.Events[i]
				attrs := lr.Attributes().AsRaw()
				assert.Equal(t, failureEventName, lr.EventName())
				assert.Equal(t, run.Trigger.Syscall, attrs["syscallhealth.syscall.name"])
				assert.Equal(t, recorded.Comm, attrs["thread.name"])
				assert.Equal(t, run.Trigger.Errno, attrs["error.type"])
				assert.Equal(t, int64(recorded.ErrorCount), attrs["syscallhealth.error_count"])
				assert.Equal(t, int64(recorded.Suppressed), attrs["syscallhealth.suppressed_count"])
				assert.Equal(t, recorded.Time, lr.Timestamp().AsTime().UTC(), "the failure's wall-clock time")
				assert.Equal(t, baseSeverityOrEscalated(lr), lr.SeverityNumber())
				body := lr.Body().Str()
				assert.True(t, strings.HasPrefix(body, run.Trigger.Syscall), body)
				assert.Contains(t, body, " failed: "+run.Trigger.Errno+" (")
				if run.Trigger.Path != "" {
					assert.Equal(t, run.Trigger.Path, attrs["file.path"])
					assert.Contains(t, body, strconv.Quote(run.Trigger.Path))
				}
				switch run.Trigger.Syscall {
				case "connect":
					assert.Equal(t, run.Trigger.Address, attrs["network.peer.address"])
					assert.Equal(t, int64(run.Trigger.Port), attrs["network.peer.port"])
					assert.Contains(t, body, "connect to ")
				case "bind":
					assert.Equal(t, run.Trigger.Address, attrs["network.local.address"])
					assert.Equal(t, int64(run.Trigger.Port), attrs["network.local.port"])
					assert.Contains(t, body, "bind to ")
				}
			}
		})
	}
}

// baseSeverityOrEscalated is the severity a recorded record may have: the errno's base severity, or one
// level up when its key failed fast.
func baseSeverityOrEscalated(lr plog.LogRecord) plog.SeverityNumber {
	attrs := lr.Attributes().AsRaw()
	base := baseSeverity(attrs["syscallhealth.syscall.name"].(string), attrs["error.type"].(string), attrs["syscallhealth.category"].(string))
	if lr.SeverityNumber() != base {
		return escalated(base)
	}
	return base
}

// TestRecordedTraceToMetrics feeds each run's exact kernel count to the metrics conversion: the value is
// the number of failures the trigger caused, and the exited trigger's series are released.
func TestRecordedTraceToMetrics(t *testing.T) {
	trace := loadRecordedTrace(t)
	pipeline := newConversionPipeline(t, t.TempDir())
	var counts []bpf.Count
	want := map[int64]int64{}
	for _, run := range trace.Runs {
		for _, recorded := range run.Events {
			ev, err := recorded.BPF()
			require.NoError(t, err)
			pipeline.handle(&ev)
		}
		first := run.Events[0]
		counts = append(counts, bpf.Count{
			Key:      bpf.CountKey{PID: first.PID, Syscall: first.Syscall, Errno: bpf.Errno(first.Errno)},
			Category: bpf.Category(first.Category), Count: run.Count,
			FirstSeenNs: first.TimestampNs, LastSeenNs: run.Events[len(run.Events)-1].TimestampNs,
		})
		want[int64(first.PID)] = int64(run.Count)
	}
	cfg := createDefaultConfig()
	mb := metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, receivertest.NewNopSettings(metadata.Type))
	collector := newMetricsCollector(mb, hostInfo{name: testHostName}, pipeline.processes, pipeline.destination, &dropCounters{},
		pipeline.escalation, pipeline.findings, pipeline.processes.host, pipeline.clock, trace.RecordedAt, len(counts), GranularityProcess)
	exited := collector.exitedAmong(counts)
	metrics := collector.collect(counts, exited, bpf.Stats{}, trace.RecordedAt.Add(10*time.Second))
	assert.Len(t, collector.delivered(exited), len(counts), "every trigger process has exited")

	got := map[int64]int64{}
	for i := 0; i < metrics.ResourceMetrics().Len(); i++ {
		rm := metrics.ResourceMetrics().At(i)
		pid, ok := rm.Resource().Attributes().Get("process.pid")
		if !ok {
			continue
		}
		forEachDataPoint(singleResource(rm), func(name string, dp pmetric.NumberDataPoint) {
			if name == "syscallhealth.failures" {
				got[pid.Int()] = dp.IntValue()
			}
		})
	}
	assert.Equal(t, want, got)
}

func singleResource(rm pmetric.ResourceMetrics) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm.CopyTo(md.ResourceMetrics().AppendEmpty())
	return md
}
