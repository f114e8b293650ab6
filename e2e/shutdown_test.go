//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// TestDefaultConfigStopAtOnceLosesNothing runs `make run`'s own configuration (config/default.yaml: memory
// limiter, batch processor, debug exporter and a file exporter per signal, 10 s collection interval), causes
// failures in processes that exit at once, and stops the collector right away (Ctrl-C, or SIGTERM as systemd and Kubernetes do), well before its
// first collection. Only the shutdown can deliver the counts, and the processes are gone by then: the files must
// still hold one record per failure and the exact final counts.
func TestDefaultConfigStopAtOnceLosesNothing(t *testing.T) {
	requireCollector(t)
	triggerPath := triggertest.Build(t)
	config, err := filepath.Abs("../config/default.yaml")
	require.NoError(t, err)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { stopAtOnce(t, config, triggerPath, sig) })
	}
}

func stopAtOnce(t *testing.T, config, triggerPath string, sig syscall.Signal) {
	work := t.TempDir()

	// Within the rate limiter's burst, so each failure is a record too.
	const failures = defaultBurst
	runs := [][]string{
		{"econnrefused", "-n", "20"},
		{"emfile", "-n", "20"},
		{"eaddrinuse", "-n", "20"},
	}
	// Its internal metrics endpoint (localhost:8888) left out: other collectors on this host may hold the port.
	collector := startCollectorIn(t, work, config, "", "service::telemetry::metrics::level=none")
	ready := time.Now()
	results := make([]trigger.Result, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, args := range runs {
		wg.Go(func() { results[i], errs[i] = triggertest.Run(triggerPath, args...) })
	}
	wg.Wait()
	collector.stopWith(t, sig)
	t.Logf("stopped %s after the collector was ready (collection_interval 10s)", time.Since(ready).Round(time.Millisecond))

	logs, _ := readOutput(t, filepath.Join(work, "syscallhealth-logs.json"))
	_, points := readOutput(t, filepath.Join(work, "syscallhealth-metrics.json"))
	for i, r := range results {
		require.NoError(t, errs[i], runs[i])
		require.Equal(t, failures, r.Failures, runs[i])
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(r.PID)))
		require.True(t, os.IsNotExist(err), "trigger %d has exited", r.PID)

		assert.Len(t, recordsOf(logs, r), failures, "%s: one record per failure in syscallhealth-logs.json", r.Errno)
		assert.Equal(t, int64(failures), latestValue(points, "syscallhealth.failures", seriesOf(r)),
			"%s: the final count in syscallhealth-metrics.json", r.Errno)
	}
	for _, p := range points {
		if p.name == "syscallhealth.events.dropped" {
			assert.Zero(t, p.point.IntValue(), "events dropped: %v", p.point.Attributes().AsRaw())
		}
	}
	collector.mu.Lock()
	defer collector.mu.Unlock()
	for _, line := range collector.log {
		assert.NotContains(t, line, "closed pipe", "no exporter was stopped before the final data reached it")
	}
}
