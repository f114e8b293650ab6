//go:build linux

package syscallhealthreceiver

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// TestHostileStringsAreEscaped: a local user's process name, abstract socket name and file name reach the
// records and the metrics escaped, and the result passes a strict OTLP decoder.
func TestHostileStringsAreEscaped(t *testing.T) {
	pipeline := newConversionPipeline(t, "testdata")
	// PID 7777 has no /proc entry in the fixture: the kernel's comm is all that names its thread.
	refused := bpf.Event{TimestampNs: 100e9, PID: 7777, TID: 7777, PPID: 1, UID: 65534, GID: 65534, Comm: "ev\n\x1b[31mil",
		Syscall: syscallNr(t, "connect"), Errno: errnoOf(t, "ECONNREFUSED"), Category: bpf.CategoryNetwork,
		Path: "@x failed\nFAKE LINE \x1b[2J", ErrorCount: 1}
	denied := refused
	denied.Syscall, denied.Errno, denied.Category, denied.Path = syscallNr(t, "openat"), errnoOf(t, "EACCES"), bpf.SyscallCategory("openat"), "/tmp/secret-\xff\xfe"
	require.True(t, pipeline.handle(&refused))
	require.True(t, pipeline.handle(&denied))
	pipeline.batch.addFindings(pipeline.findings.Evaluate())

	logs, n := pipeline.batch.take()
	require.GreaterOrEqual(t, n, 2)
	testenv.RequireStrictOTLPLogs(t, logs)
	var bodies []string
	var peers, paths, names []any
	forEachRecord(logs, func(lr plog.LogRecord) {
		bodies = append(bodies, lr.Body().Str())
		if v, ok := lr.Attributes().Get("thread.name"); ok && lr.EventName() == failureEventName {
			names = append(names, v.Str())
		}
		if v, ok := lr.Attributes().Get("network.peer.address"); ok {
			peers = append(peers, v.Str())
		}
		if v, ok := lr.Attributes().Get("file.path"); ok {
			paths = append(paths, v.Str())
		}
	})
	assert.Equal(t, []any{`ev\n\x1b[31mil`, `ev\n\x1b[31mil`}, names)
	assert.Equal(t, []any{`@x failed\nFAKE LINE \x1b[2J`}, peers)
	assert.Equal(t, []any{`/tmp/secret-\xff\xfe`}, paths)
	assert.Contains(t, bodies, `connect to @x failed\nFAKE LINE \x1b[2J failed: ECONNREFUSED (Connection refused)`)
	assert.Contains(t, bodies, `openat("/tmp/secret-\xff\xfe") failed: EACCES (Permission denied)`)

	cfg := createDefaultConfig()
	mb := metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, receivertest.NewNopSettings(metadata.Type))
	collector := newMetricsCollector(mb, hostInfo{name: testHostName}, pipeline.processes, pipeline.destination, &dropCounters{},
		pipeline.escalation, pipeline.findings, pipeline.processes.host, pipeline.clock, bootBase, 1, GranularityProcess)
	counts := []bpf.Count{{Key: bpf.CountKey{PID: 7777, Syscall: refused.Syscall, Errno: refused.Errno}, Category: bpf.CategoryNetwork, Count: 1, FirstSeenNs: 100e9}}
	metrics := collector.collect(counts, nil, bpf.Stats{}, bootBase.Add(101*time.Second))
	testenv.RequireStrictOTLPMetrics(t, metrics)
	var metricNames []any
	for _, rm := range metrics.ResourceMetrics().All() {
		if name, ok := rm.Resource().Attributes().Get("process.executable.name"); ok {
			metricNames = append(metricNames, name.Str())
		}
	}
	assert.Empty(t, metricNames, "the kernel's comm does not pose as the executable")
}

// TestHostileFindingIsEscaped: a finding about a hostile path (its subject, title and body) is exported
// escaped too.
func TestHostileFindingIsEscaped(t *testing.T) {
	pipeline := newConversionPipeline(t, "testdata")
	denied := bpf.Event{TimestampNs: 100e9, PID: 7777, TID: 7777, PPID: 1, UID: 65534, GID: 65534, Comm: "ev\n\x1b[31mil",
		Syscall: syscallNr(t, "openat"), Errno: errnoOf(t, "EACCES"), Category: bpf.SyscallCategory("openat"), Path: "/tmp/secret-\xff\xfe\n\x1b[2J"}
	for count := range uint64(3) { // permission_denied opens at 3 failures
		denied.ErrorCount, denied.TimestampNs = count+1, denied.TimestampNs+1e6
		require.True(t, pipeline.handle(&denied))
	}
	opened := pipeline.findings.Evaluate()
	require.Len(t, opened, 1)
	require.Contains(t, opened[0].Body, "\x1b[2J", "the engine keeps the raw path; only the export escapes it")
	pipeline.batch.addFindings(opened)

	logs, _ := pipeline.batch.take()
	testenv.RequireStrictOTLPLogs(t, logs)
	var finding plog.LogRecord
	forEachRecord(logs, func(lr plog.LogRecord) {
		if lr.EventName() != failureEventName {
			finding = lr
		}
	})
	require.NotZero(t, finding.EventName(), "the finding record is in the batch")
	assert.Contains(t, finding.Body().Str(), `/tmp/secret-\xff\xfe\n\x1b[2J`)
	for k, v := range finding.Attributes().All() {
		assert.NotContains(t, v.AsString(), "\x1b", k)
		assert.True(t, utf8.ValidString(v.AsString()), k)
	}
}
