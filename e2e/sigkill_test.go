//go:build linux

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// TestKilledCollectorLeavesNothingAttached: the probes live only as long as the collector's file
// descriptors (nothing is pinned), so a collector killed with SIGKILL, which runs no Shutdown, leaves no
// program, map or link of its own in the kernel.
func TestKilledCollectorLeavesNothingAttached(t *testing.T) {
	requireCollector(t)
	collector := startCollector(t, "testdata/config.yaml", filepath.Join(t.TempDir(), "output.json"))
	held := testenv.HeldBPFObjects(t, collector.cmd.Process.Pid)
	require.NotEmpty(t, held.Programs, "the running collector holds its programs")
	require.NotEmpty(t, held.Links, "the running collector holds the links attaching them")

	require.NoError(t, collector.cmd.Process.Kill())
	select {
	case <-collector.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the collector did not die within 30s of SIGKILL")
	}
	testenv.RequireBPFObjectsFreed(t, held, 10*time.Second)
	t.Logf("after SIGKILL: %d programs, %d maps, %d links of the collector freed", len(held.Programs), len(held.Maps), len(held.Links))
}
