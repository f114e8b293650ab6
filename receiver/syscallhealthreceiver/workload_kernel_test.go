//go:build linux

package syscallhealthreceiver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const (
	testPodUID      = "0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e"
	testContainerID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904a1b2c3d4e5f60718293a4b5c"
)

// writeFullConfig watches write ENOSPC only (a shell's `echo x > /dev/full`), collecting often.
func writeFullConfig() *Config {
	cfg := createDefaultConfig()
	cfg.CollectionInterval = 100 * time.Millisecond
	cfg.Syscalls = []string{"write"}
	cfg.Errnos = []string{"ENOSPC"}
	return cfg
}

// startWithSinks starts a receiver for logs and metrics; it is shut down at cleanup.
func startWithSinks(t *testing.T, cfg *Config) (*consumertest.LogsSink, *consumertest.MetricsSink) {
	t.Helper()
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes")
	factory := NewFactory()
	set := receivertest.NewNopSettings(metadata.Type)
	logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
	lr, err := factory.CreateLogs(context.Background(), set, cfg, logs)
	require.NoError(t, err)
	mr, err := factory.CreateMetrics(context.Background(), set, cfg, metrics)
	require.NoError(t, err)
	require.NoError(t, lr.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, mr.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() {
		assert.NoError(t, lr.Shutdown(context.Background()))
		assert.NoError(t, mr.Shutdown(context.Background()))
	})
	return logs, metrics
}

// startMetricsOnly starts a receiver for metrics; the returned function shuts it down.
func startMetricsOnly(tb testing.TB, cfg *Config, sink consumer.Metrics) func() {
	tb.Helper()
	testenv.RequireRoot(tb, "the receiver loads and attaches the kernel probes")
	r, err := NewFactory().CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(tb, err)
	require.NoError(tb, r.Start(context.Background(), componenttest.NewNopHost()))
	return func() { assert.NoError(tb, r.Shutdown(context.Background())) }
}

// logResourceOf waits for a log record of pid and returns its resource's attributes.
func logResourceOf(t *testing.T, sink *consumertest.LogsSink, pid int) map[string]any {
	t.Helper()
	var attrs map[string]any
	require.Eventually(t, func() bool {
		attrs = findResource(sink.AllLogs(), pid)
		return attrs != nil
	}, 10*time.Second, 20*time.Millisecond, "a log record of pid %d", pid)
	return attrs
}

func findResource(all []plog.Logs, pid int) map[string]any {
	for _, logs := range all {
		for i := 0; i < logs.ResourceLogs().Len(); i++ {
			attrs := logs.ResourceLogs().At(i).Resource().Attributes().AsRaw()
			if attrs["process.pid"] == int64(pid) {
				return attrs
			}
		}
	}
	return nil
}

// metricResourceOf returns the resource of pid's latest failure series, nil when it has none.
func metricResourceOf(all []pmetric.Metrics, pid int) map[string]any {
	var found map[string]any
	for _, md := range all {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			attrs := md.ResourceMetrics().At(i).Resource().Attributes().AsRaw()
			if attrs["process.pid"] == int64(pid) {
				found = attrs
			}
		}
	}
	return found
}

// failWrites runs a shell in cgroup dir that fails write(2) with ENOSPC n times and exits at once.
func failWrites(t *testing.T, cg *testenv.CgroupTree, dir string, n int) int {
	t.Helper()
	cmd := cg.Shell(dir, strings.Repeat("echo x > /dev/full 2>/dev/null; ", n))
	require.Error(t, cmd.Run(), "the last write to /dev/full failed")
	return cmd.Process.Pid
}

// A pod's container process that fails and exits at once: its records and series carry the container
// and the pod the kernel saw it in, though /proc no longer knows the process.
func TestWorkloadIdentityOfProcessThatExitedAtOnce(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	dir := cg.Mkdir("kubepods/besteffort/pod" + testPodUID + "/" + testContainerID)
	cfg := writeFullConfig()
	cfg.Scope.Include.Cgroups = []string{cg.Path(cg.Root)}
	logs, metrics := startWithSinks(t, cfg)

	started := time.Now()
	pid := failWrites(t, cg, dir, 3)
	attrs := logResourceOf(t, logs, pid)
	assert.Equal(t, testContainerID, attrs["container.id"])
	assert.Equal(t, testPodUID, attrs["k8s.pod.uid"])
	assertCreatedAfter(t, attrs, started)
	require.Eventually(t, func() bool {
		return latestFailureCount(metrics.AllMetrics(), int64(pid), "write", "ENOSPC") == 3
	}, 10*time.Second, 20*time.Millisecond, "the exact count of the exited process")
	attrs = metricResourceOf(metrics.AllMetrics(), pid)
	assert.Equal(t, testContainerID, attrs["container.id"])
	assert.Equal(t, testPodUID, attrs["k8s.pod.uid"])
	assertCreatedAfter(t, attrs, started)
}

// assertCreatedAfter checks a resource's process.creation.time, which comes from the kernel even when the
// process was gone before /proc was read: not before started, less the boot time's truncation to the
// second (the time is boot time plus start, as ps computes it), and not in the future.
func assertCreatedAfter(t *testing.T, attrs map[string]any, started time.Time) {
	t.Helper()
	raw, _ := attrs["process.creation.time"].(string)
	created, err := time.Parse(time.RFC3339Nano, raw)
	if !assert.NoError(t, err, "process.creation.time %q", raw) {
		return
	}
	assert.False(t, created.Before(started.Add(-time.Second)), "created %v, the test started it at %v", created, started)
	assert.False(t, created.After(time.Now()), "created %v in the future", created)
}

// A real podman container whose process fails and exits at once: container.id is podman's id.
func TestPodmanContainerThatExitedAtOnce(t *testing.T) {
	podman := testenv.NewPodman(t)
	// Created (not started) before the receiver: the scope names it by id before its cgroup exists.
	id := podman.Create("sh", "-c", "echo x > /dev/full; echo x > /dev/full")
	cfg := writeFullConfig()
	cfg.Scope.Include.ContainerIDs = []string{id[:12]}
	logs, metrics := startWithSinks(t, cfg)

	// The container exits at once, with the failed write's status.
	require.Error(t, podman.Command("start", "-a", id).Run())
	// The host pid is the one of the records that carry the container's id.
	var pid int
	require.Eventually(t, func() bool {
		for _, l := range logs.AllLogs() {
			for i := 0; i < l.ResourceLogs().Len(); i++ {
				attrs := l.ResourceLogs().At(i).Resource().Attributes().AsRaw()
				if attrs["container.id"] == id {
					pid = int(attrs["process.pid"].(int64))
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a log record with container.id %s", id)
	require.Eventually(t, func() bool {
		return latestFailureCount(metrics.AllMetrics(), int64(pid), "write", "ENOSPC") == 2
	}, 10*time.Second, 20*time.Millisecond, "the container's exact count")
	assert.Equal(t, id, metricResourceOf(metrics.AllMetrics(), pid)["container.id"])
	// Nothing outside the scope was counted: every series is the container's.
	for _, md := range metrics.AllMetrics() {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			attrs := md.ResourceMetrics().At(i).Resource().Attributes().AsRaw()
			if _, ok := attrs["process.pid"]; ok {
				assert.Equal(t, id, attrs["container.id"], "a series outside the scope: %v", attrs)
			}
		}
	}
}
