//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

// output is what the guest's collector wrote with the file exporter: one OTLP JSON request per line.
type output struct {
	records []record
	// failures holds the newest syscallhealth.failures value per series.
	failures map[series]int64
	newest   map[series]pcommon.Timestamp
}

type record struct {
	series series
	attrs  map[string]any
}

// series is one (process, syscall, errno).
type series struct {
	pid            int64
	syscall, errno string
}

func readOutput(path string) (*output, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no collector output: %w", err)
	}
	o := &output{failures: map[series]int64{}, newest: map[series]pcommon.Timestamp{}}
	for line := range bytes.Lines(data) {
		switch {
		case bytes.Contains(line, []byte(`"resourceLogs"`)):
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			if err != nil {
				return nil, fmt.Errorf("collector output: %w", err)
			}
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						attrs := lr.Attributes().AsRaw()
						o.records = append(o.records, record{series: seriesOf(rl.Resource(), attrs), attrs: attrs})
					}
				}
			}
		case bytes.Contains(line, []byte(`"resourceMetrics"`)):
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			if err != nil {
				return nil, fmt.Errorf("collector output: %w", err)
			}
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						if m.Name() != "syscallhealth.failures" || m.Type() != pmetric.MetricTypeSum {
							continue
						}
						for _, p := range m.Sum().DataPoints().All() {
							s := seriesOf(rm.Resource(), p.Attributes().AsRaw())
							if p.Timestamp() >= o.newest[s] {
								o.failures[s], o.newest[s] = p.IntValue(), p.Timestamp()
							}
						}
					}
				}
			}
		}
	}
	return o, nil
}

func seriesOf(res pcommon.Resource, attrs map[string]any) series {
	pid, _ := res.Attributes().Get("process.pid")
	syscall, _ := attrs["syscallhealth.syscall.name"].(string)
	errno, _ := attrs["error.type"].(string)
	return series{pid: pid.Int(), syscall: syscall, errno: errno}
}

// check compares the output with the trigger run whose result the guest saved at base.json: reported, the
// failures metric holds the exact count and there is one record per failure (all within the default burst of
// 20) naming the path or the addresses; not reported, neither exists. It returns what is wrong, "" when nothing.
func (o *output) check(base string, reported bool) string {
	name := filepath.Base(base)
	b, err := os.ReadFile(base + ".json")
	if err != nil {
		stderr, _ := os.ReadFile(base + ".err")
		return fmt.Sprintf("%s: the trigger failed: %s", name, bytes.TrimSpace(stderr))
	}
	var r trigger.Result
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Sprintf("%s: trigger output %q: %v", name, b, err)
	}
	s := series{pid: int64(r.PID), syscall: r.Syscall, errno: r.Errno}
	var records []record
	for _, rec := range o.records {
		if rec.series == s {
			records = append(records, rec)
		}
	}
	count, counted := o.failures[s]
	if !reported {
		if counted || len(records) > 0 {
			return fmt.Sprintf("%s: %d failures and %d records reported where none can be", name, count, len(records))
		}
		return ""
	}
	if count != int64(r.Failures) || len(records) != r.Failures {
		return fmt.Sprintf("%s: syscallhealth.failures=%d and %d records for %d failures", name, count, len(records), r.Failures)
	}
	want := map[string]any{}
	switch {
	case r.Path != "":
		want["file.path"] = r.Path
	case r.Syscall == "bind":
		want["network.local.address"], want["network.local.port"] = r.Address, int64(r.Port)
	case r.Address != "":
		want["network.peer.address"], want["network.peer.port"] = r.Address, int64(r.Port)
	}
	for _, rec := range records {
		for k, v := range want {
			if rec.attrs[k] != v {
				return fmt.Sprintf("%s: record %s=%v, want %v", name, k, rec.attrs[k], v)
			}
		}
	}
	return ""
}
