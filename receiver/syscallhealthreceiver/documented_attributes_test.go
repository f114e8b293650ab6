//go:build linux

package syscallhealthreceiver

import (
	"path/filepath"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

// documentedEvents reads metadata.yaml: the attributes each event declares and the resource attributes,
// from which documentation.md is generated.
func documentedEvents(t *testing.T) (events map[string][]string, resource map[string]bool) {
	t.Helper()
	cm, err := confmaptest.LoadConf("metadata.yaml")
	require.NoError(t, err)
	var md struct {
		Events map[string]struct {
			Attributes []string `mapstructure:"attributes"`
		} `mapstructure:"events"`
		ResourceAttributes map[string]any `mapstructure:"resource_attributes"`
		Attributes         map[string]any `mapstructure:"attributes"`
	}
	// Event names hold dots, which confmap reads as plain characters (its separator is ::).
	require.NoError(t, cm.Unmarshal(&md, confmap.WithIgnoreUnused()))
	events = make(map[string][]string)
	for name, ev := range md.Events {
		for _, a := range ev.Attributes {
			assert.Contains(t, md.Attributes, a, "event %s: attribute %s is declared under attributes", name, a)
		}
		events[name] = ev.Attributes
	}
	resource = make(map[string]bool)
	for name := range md.ResourceAttributes {
		resource[name] = true
	}
	return events, resource
}

// Every attribute a failure or finding record carries, and every resource attribute, is documented in
// metadata.yaml (and so in documentation.md) under its event.
func TestEveryEmittedAttributeIsDocumented(t *testing.T) {
	events, resource := documentedEvents(t)
	require.Contains(t, events, failureEventName)
	require.Contains(t, events, "syscallhealth.issue")
	for _, file := range []string{"expected_logs.yaml", "expected_finding_logs.yaml"} {
		logs, err := golden.ReadLogs(filepath.Join("testdata", file))
		require.NoError(t, err)
		seen := 0
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			rl := logs.ResourceLogs().At(i)
			for key := range rl.Resource().Attributes().All() {
				assert.True(t, resource[key], "%s: resource attribute %s is not in metadata.yaml", file, key)
			}
			records := rl.ScopeLogs().At(0).LogRecords()
			for j := 0; j < records.Len(); j++ {
				lr := records.At(j)
				declared, ok := events[lr.EventName()]
				if !assert.True(t, ok, "%s: event %q is not in metadata.yaml", file, lr.EventName()) {
					continue
				}
				for key := range lr.Attributes().All() {
					assert.Contains(t, declared, key, "%s: %s carries %s, which metadata.yaml does not declare for it", file, lr.EventName(), key)
					seen++
				}
			}
		}
		assert.NotZero(t, seen, file)
	}
}
