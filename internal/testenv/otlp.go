package testenv

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	logsv1 "go.opentelemetry.io/proto/slim/otlp/collector/logs/v1"
	metricsv1 "go.opentelemetry.io/proto/slim/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// RequireStrictOTLPLogs marshals ld with pdata's protobuf marshaler, as the OTLP exporter does, and
// decodes it with google.golang.org/protobuf and the OTLP message types, which reject invalid UTF-8
// in string fields as a conforming backend does.
func RequireStrictOTLPLogs(tb testing.TB, ld plog.Logs) {
	tb.Helper()
	raw, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(tb, err)
	require.NoError(tb, proto.Unmarshal(raw, &logsv1.ExportLogsServiceRequest{}), "a strict OTLP decoder rejects the logs")
}

// RequireStrictOTLPMetrics is RequireStrictOTLPLogs for metrics.
func RequireStrictOTLPMetrics(tb testing.TB, md pmetric.Metrics) {
	tb.Helper()
	raw, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	require.NoError(tb, err)
	require.NoError(tb, proto.Unmarshal(raw, &metricsv1.ExportMetricsServiceRequest{}), "a strict OTLP decoder rejects the metrics")
}
