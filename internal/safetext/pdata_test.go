package safetext

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	logsv1 "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

const (
	hostileComm   = "ev\n\x1b[31mil"
	hostileSocket = "@x failed\nFAKE LINE \x1b[2J"
	hostilePath   = "/tmp/secret-\xff\xfe"
)

func hostileLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("process.executable.name", hostileComm)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetStr("connect to " + hostileSocket + " failed: ECONNREFUSED (Connection refused)")
	lr.Attributes().PutStr("network.peer.address", hostileSocket)
	lr.Attributes().PutStr("file.path", hostilePath)
	lr.Attributes().PutInt("process.pid", 1)
	lr.Attributes().PutEmptySlice("syscallhealth.issue.sample_executables").AppendEmpty().SetStr(hostileComm)
	lr.Attributes().PutEmptyMap("nested").PutStr("path", hostilePath)
	return ld
}

func TestLogsAreStrictOTLPAfterEscaping(t *testing.T) {
	ld := hostileLogs()
	raw, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	require.ErrorContains(t, proto.Unmarshal(raw, &logsv1.ExportLogsServiceRequest{}), "invalid UTF-8",
		"the unescaped records must be what a strict backend rejects, else this test proves nothing")

	Logs(ld)
	testenv.RequireStrictOTLPLogs(t, ld)
	rl := ld.ResourceLogs().At(0)
	name, _ := rl.Resource().Attributes().Get("process.executable.name")
	assert.Equal(t, `ev\n\x1b[31mil`, name.Str())
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, `connect to @x failed\nFAKE LINE \x1b[2J failed: ECONNREFUSED (Connection refused)`, lr.Body().Str())
	path, _ := lr.Attributes().Get("file.path")
	assert.Equal(t, `/tmp/secret-\xff\xfe`, path.Str())
	exes, _ := lr.Attributes().Get("syscallhealth.issue.sample_executables")
	assert.Equal(t, `ev\n\x1b[31mil`, exes.Slice().At(0).Str())
	nested, _ := lr.Attributes().Get("nested")
	nestedPath, _ := nested.Map().Get("path")
	assert.Equal(t, `/tmp/secret-\xff\xfe`, nestedPath.Str())
	pid, _ := lr.Attributes().Get("process.pid")
	assert.Equal(t, int64(1), pid.Int())
}

func TestMetricsAreStrictOTLPAfterEscaping(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("process.command_line", "trigger -path "+hostilePath)
	metrics := rm.ScopeMetrics().AppendEmpty().Metrics()
	sum := metrics.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty()
	sum.Attributes().PutStr("network.peer.address", hostileSocket)
	gauge := metrics.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	gauge.Attributes().PutStr("system.filesystem.mountpoint", hostilePath)
	histogram := metrics.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
	histogram.Attributes().PutStr("a", hostileComm)
	exponential := metrics.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	exponential.Attributes().PutStr("a", hostileComm)
	summary := metrics.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	summary.Attributes().PutStr("a", hostileComm)

	Metrics(md)
	testenv.RequireStrictOTLPMetrics(t, md)
	for _, m := range []map[string]any{
		rm.Resource().Attributes().AsRaw(), sum.Attributes().AsRaw(), gauge.Attributes().AsRaw(),
		histogram.Attributes().AsRaw(), exponential.Attributes().AsRaw(), summary.Attributes().AsRaw(),
	} {
		for k, v := range m {
			assert.Contains(t, []string{"trigger -path " + Escape(hostilePath), Escape(hostileSocket), Escape(hostilePath), Escape(hostileComm)}, v, k)
		}
	}
}
