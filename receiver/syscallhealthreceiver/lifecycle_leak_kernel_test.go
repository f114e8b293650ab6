//go:build linux

package syscallhealthreceiver

import (
	"context"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/goleak"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// TestStartShutdownCyclesLeaveNothingBehind starts and shuts down the receiver (both pipelines, real
// kernel probes) 100 times in one process: afterwards the process holds the same file descriptors and
// goroutines as before, and the kernel knows none of the programs, maps and links any cycle loaded.
func TestStartShutdownCyclesLeaveNothingBehind(t *testing.T) {
	testenv.RequireRoot(t, "each cycle loads and attaches the kernel probes")
	const cycles = 100
	factory := NewFactory()
	cfg := factory.CreateDefaultConfig().(*Config)
	set := receivertest.NewNopSettings(metadata.Type)

	ignore := goleak.IgnoreCurrent()
	fdsBefore, goroutinesBefore := testenv.OpenFDs(t), runtime.NumGoroutine()
	var loaded testenv.BPFObjects
	for i := range cycles {
		logsRcvr, err := factory.CreateLogs(context.Background(), set, cfg, new(consumertest.LogsSink))
		require.NoError(t, err)
		metricsRcvr, err := factory.CreateMetrics(context.Background(), set, cfg, new(consumertest.MetricsSink))
		require.NoError(t, err)
		require.NoError(t, logsRcvr.Start(context.Background(), componenttest.NewNopHost()), "cycle %d", i)
		require.NoError(t, metricsRcvr.Start(context.Background(), componenttest.NewNopHost()), "cycle %d", i)
		held := testenv.HeldBPFObjects(t, os.Getpid())
		require.NotEmpty(t, held.Programs, "cycle %d: the receiver holds its programs", i)
		require.NotEmpty(t, held.Maps, "cycle %d: the receiver holds its maps", i)
		loaded.Add(held)
		require.NoError(t, logsRcvr.Shutdown(context.Background()), "cycle %d", i)
		require.NoError(t, metricsRcvr.Shutdown(context.Background()), "cycle %d", i)
	}

	assert.Empty(t, testenv.HeldBPFObjects(t, os.Getpid()), "no BPF object is held after the last Shutdown")
	testenv.RequireBPFObjectsFreed(t, loaded, 10*time.Second)
	goleak.VerifyNone(t, ignore)
	fdsAfter, goroutinesAfter := testenv.OpenFDs(t), runtime.NumGoroutine()
	slices.Sort(fdsBefore)
	slices.Sort(fdsAfter)
	assert.Equal(t, fdsBefore, fdsAfter, "open file descriptors")
	t.Logf("%d cycles: %d programs, %d maps, %d links loaded and freed; fds %d before, %d after; goroutines %d before, %d after",
		cycles, len(loaded.Programs), len(loaded.Maps), len(loaded.Links), len(fdsBefore), len(fdsAfter), goroutinesBefore, goroutinesAfter)
}
