package safetext // import "github.com/syscallhealth/syscallhealth/internal/safetext"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Logs escapes, in place, every string value of ld: resource and record attributes (nested slices
// and maps included) and bodies. Attribute keys are the receiver's own names and are left alone.
func Logs(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		escapeMap(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				escapeValue(lr.Body())
				escapeMap(lr.Attributes())
			}
		}
	}
}

// Metrics escapes, in place, every string value of md's resource and data point attributes.
func Metrics(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		escapeMap(rm.Resource().Attributes())
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				escapeDataPoints(m)
			}
		}
	}
}

func escapeDataPoints(m pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			escapeMap(dp.Attributes())
		}
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			escapeMap(dp.Attributes())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			escapeMap(dp.Attributes())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			escapeMap(dp.Attributes())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			escapeMap(dp.Attributes())
		}
	}
}

func escapeMap(m pcommon.Map) {
	for _, v := range m.All() {
		escapeValue(v)
	}
}

func escapeValue(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s := v.Str(); firstUnsafe(s) >= 0 {
			v.SetStr(Escape(s))
		}
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			escapeValue(e)
		}
	case pcommon.ValueTypeMap:
		escapeMap(v.Map())
	}
}
