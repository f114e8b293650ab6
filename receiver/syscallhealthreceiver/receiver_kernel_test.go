//go:build linux

package syscallhealthreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// refuseConnects makes n blocking connects to a closed loopback port: each fails with ECONNREFUSED in
// the connect syscall itself.
func refuseConnects(t *testing.T, port, n int) {
	t.Helper()
	for range n {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		require.NoError(t, err)
		err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
		unix.Close(fd)
		require.True(t, errors.Is(err, unix.ECONNREFUSED), "connect: %v", err)
	}
}

func TestLifecycleWithKernelProbes(t *testing.T) {
	testenv.RequireRoot(t, "the receiver loads and attaches the kernel probes (CAP_BPF and CAP_PERFMON)")
	factory := NewFactory()
	cfg := factory.CreateDefaultConfig().(*Config)
	cfg.CollectionInterval = 200 * time.Millisecond
	set := receivertest.NewNopSettings(metadata.Type)
	logsSink, metricsSink := new(consumertest.LogsSink), new(consumertest.MetricsSink)

	logsRcvr, err := factory.CreateLogs(context.Background(), set, cfg, logsSink)
	require.NoError(t, err)
	metricsRcvr, err := factory.CreateMetrics(context.Background(), set, cfg, metricsSink)
	require.NoError(t, err)

	started := time.Now()
	require.NoError(t, logsRcvr.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, metricsRcvr.Start(context.Background(), componenttest.NewNopHost()))
	t.Logf("probes loaded and attached in %s", time.Since(started))
	shared := logsRcvr.(*receiverHandle).shared
	assert.Same(t, shared, metricsRcvr.(*receiverHandle).shared, "one set of probes for both pipelines")

	port := testenv.ClosedLoopbackPort(t)
	const failures = 3
	refuseConnects(t, port, failures)
	pid := int64(os.Getpid())
	body := fmt.Sprintf("connect to 127.0.0.1:%d failed: ECONNREFUSED (Connection refused)", port)

	var record plog.LogRecord
	var resource pcommon.Resource
	require.Eventually(t, func() bool {
		for _, logs := range logsSink.AllLogs() {
			for i := 0; i < logs.ResourceLogs().Len(); i++ {
				rl := logs.ResourceLogs().At(i)
				if v, ok := rl.Resource().Attributes().Get("process.pid"); !ok || v.Int() != pid {
					continue
				}
				lrs := rl.ScopeLogs().At(0).LogRecords()
				for j := 0; j < lrs.Len(); j++ {
					if lrs.At(j).Body().Str() == body {
						record, resource = lrs.At(j), rl.Resource()
						return true
					}
				}
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a log record for our refused connect")
	assert.Equal(t, failureEventName, record.EventName())
	assert.Equal(t, plog.SeverityNumberWarn, record.SeverityNumber())
	assert.Equal(t, map[string]any{
		"syscallhealth.syscall.name": "connect", "error.type": "ECONNREFUSED", "syscallhealth.errno": int64(unix.ECONNREFUSED),
		"syscallhealth.category": "network", "thread.id": record.Attributes().AsRaw()["thread.id"],
		"thread.name": threadName(t), "network.type": "ipv4", "network.transport": "tcp",
		"syscallhealth.error_count": int64(1), "syscallhealth.suppressed_count": int64(0),
		"network.peer.address": "127.0.0.1", "network.peer.port": int64(port),
	}, withoutLocalAddress(record.Attributes().AsRaw()))
	exe, err := os.Executable()
	require.NoError(t, err)
	attrs := resource.Attributes().AsRaw()
	assert.Equal(t, exe, attrs["process.executable.path"])
	assert.Equal(t, int64(os.Getppid()), attrs["process.parent_pid"])
	assert.Equal(t, "root", attrs["process.user.name"])
	assert.Equal(t, int64(os.Geteuid()), attrs["process.user.id"])
	assert.Equal(t, int64(os.Getuid()), attrs["process.real_user.id"])
	assert.NotEmpty(t, attrs["process.creation.time"])
	assert.Equal(t, "linux", attrs["os.type"])
	assert.WithinDuration(t, time.Now(), record.Timestamp().AsTime(), 30*time.Second, "the failure's wall-clock time")

	require.Eventually(t, func() bool {
		return latestFailureCount(metricsSink.AllMetrics(), pid, "connect", "ECONNREFUSED") == failures
	}, 10*time.Second, 50*time.Millisecond, "the exact count of the failures we caused")

	require.NoError(t, logsRcvr.Shutdown(context.Background()))
	require.NoError(t, metricsRcvr.Shutdown(context.Background()))
	require.NoError(t, logsRcvr.Shutdown(context.Background()), "Shutdown is safe twice")
	require.NoError(t, metricsRcvr.Shutdown(context.Background()))

	// A collector reload creates and starts the receiver again.
	again, err := factory.CreateMetrics(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, again.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, again.Shutdown(context.Background()))
}

// withoutLocalAddress drops the local address the kernel may or may not know for a failed connect.
func withoutLocalAddress(attrs map[string]any) map[string]any {
	delete(attrs, "network.local.address")
	delete(attrs, "network.local.port")
	return attrs
}

func latestFailureCount(all []pmetric.Metrics, pid int64, syscall, errno string) int64 {
	value := int64(-1)
	for _, md := range all {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			if v, ok := rm.Resource().Attributes().Get("process.pid"); !ok || v.Int() != pid {
				continue
			}
			ms := rm.ScopeMetrics().At(0).Metrics()
			for j := 0; j < ms.Len(); j++ {
				if ms.At(j).Name() != "syscallhealth.failures" {
					continue
				}
				dps := ms.At(j).Sum().DataPoints()
				for k := 0; k < dps.Len(); k++ {
					a := dps.At(k).Attributes().AsRaw()
					if a["syscallhealth.syscall.name"] == syscall && a["error.type"] == errno {
						value = dps.At(k).IntValue()
					}
				}
			}
		}
	}
	return value
}

// threadName is the kernel's name (comm) of this test process's threads: they inherit the process's, the
// executable's base name cut to 15 bytes.
func threadName(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}
