//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// TestRootPath: the receiver reads /proc at <root_path>/proc, as a collector in a container does with the
// host's root mounted at, say, /hostfs. With a procfs of this PID namespace there, the processes are
// described from it; with the procfs of another PID namespace, which does not show them, they are not:
// /proc itself is not read. A root_path without a procfs is refused with a message naming the setting.
func TestRootPath(t *testing.T) {
	requireCollector(t)
	requireTool(t, "unshare")
	triggerPath := triggertest.Build(t)

	ours := t.TempDir()
	mountProc(t, filepath.Join(ours, "proc"))
	r, logs := runWithRootPath(t, triggerPath, ours)
	for _, lr := range logs {
		assert.Equal(t, triggerPath, lr.resource.AsRaw()["process.executable.path"], "described from <root_path>/proc/%d", r.PID)
	}

	foreign := t.TempDir()
	procOfNewPIDNamespace(t, filepath.Join(foreign, "proc"))
	r, logs = runWithRootPath(t, triggerPath, foreign)
	for _, lr := range logs {
		assert.NotContains(t, lr.resource.AsRaw(), "process.executable.path", "pid %d is not in <root_path>/proc", r.PID)
	}

	_, err := launchCollector(t, nil, collectorPath, "", "testdata/config.yaml", filepath.Join(t.TempDir(), "out.json"),
		"receivers::syscallhealth::root_path="+t.TempDir())
	require.Error(t, err, "a root_path without procfs")
	assert.Contains(t, err.Error(), "root_path")
	assert.Contains(t, err.Error(), "is not")
}

// runWithRootPath runs a collector with root_path set and one refused-connect trigger, and returns the
// trigger's records once they all arrived.
func runWithRootPath(t *testing.T, triggerPath, root string) (trigger.Result, []logRecord) {
	t.Helper()
	output := filepath.Join(t.TempDir(), "output.json")
	collector := startCollectorIn(t, "", "testdata/config.yaml", output, "receivers::syscallhealth::root_path="+root)
	const failures = 3
	r, err := triggertest.Run(triggerPath, "econnrefused", "-n", strconv.Itoa(failures), "-linger", triggerLinger.String())
	require.NoError(t, err)
	var logs []logRecord
	waitOutput(t, output, collector, "the trigger's records", func(all []logRecord, _ []dataPoint) bool {
		logs = recordsOf(all, r)
		return len(logs) == failures
	})
	collector.stop(t)
	return r, logs
}

// mountProc mounts a procfs of this PID namespace on dir until the test ends.
func mountProc(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, unix.Mount("proc", dir, "proc", 0, ""))
	t.Cleanup(func() { assert.NoError(t, unix.Unmount(dir, unix.MNT_DETACH)) })
}

// procOfNewPIDNamespace mounts on dir the procfs of a new PID namespace, kept alive by a sleeping process
// until the test ends: it shows none of this namespace's processes.
func procOfNewPIDNamespace(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	cmd := exec.Command("unshare", "--pid", "--fork", "--", "sh", "-c", "mount -t proc proc "+dir+" && exec sleep 600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool {
		_, err := os.Stat(filepath.Join(dir, "1"))
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the new PID namespace's procfs was not mounted on %s", dir)
}
