//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// Capability numbers (include/uapi/linux/capability.h).
const (
	capSysPtrace = 19
	capPerfmon   = 38
	capBPF       = 39
)

// TestCollectorRunsWithLeastPrivilege runs the collector as uid 65534 with nothing but the capabilities
// the README lists: CAP_BPF and CAP_PERFMON load and attach the probes, CAP_SYS_PTRACE reads other
// users' /proc/<pid>/exe. It reports the failures of root's processes exactly; without CAP_SYS_PTRACE it
// still does, with the kernel's 15-byte process name and no executable path; without CAP_BPF or
// CAP_PERFMON it exits with a message naming the missing capability.
func TestCollectorRunsWithLeastPrivilege(t *testing.T) {
	requireCollector(t)
	_, err := exec.LookPath("setpriv")
	require.NoError(t, err, "setpriv (util-linux) runs the collector with a chosen capability set")
	triggerPath := triggertest.Build(t)
	// uid 65534 must reach the binary, the configuration and the output directory.
	work := t.TempDir()
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	require.NoError(t, os.Chmod(work, 0o777))
	binary := filepath.Join(work, "otelcol-syscallhealth")
	copyFile(t, collectorPath, binary, 0o755)
	config := filepath.Join(work, "config.yaml")
	copyFile(t, "testdata/config.yaml", config, 0o644)

	for _, tc := range []struct {
		name      string
		caps      []string
		wantPath  bool   // process.executable.path of root's process
		wantError string // the exit message, when the collector cannot start
	}{
		{name: "CAP_BPF CAP_PERFMON CAP_SYS_PTRACE", caps: []string{"bpf", "perfmon", "sys_ptrace"}, wantPath: true},
		{name: "CAP_BPF CAP_PERFMON", caps: []string{"bpf", "perfmon"}},
		{name: "without CAP_PERFMON", caps: []string{"bpf", "sys_ptrace"}, wantError: "needs root, or CAP_BPF and CAP_PERFMON (missing: CAP_PERFMON"},
		{name: "without CAP_BPF", caps: []string{"perfmon", "sys_ptrace"}, wantError: "needs root, or CAP_BPF and CAP_PERFMON (missing: CAP_BPF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := "-all,+" + strings.Join(tc.caps, ",+")
			setpriv := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
				"--inh-caps=" + set, "--ambient-caps=" + set, "--bounding-set=" + set}
			output := filepath.Join(work, strings.ReplaceAll(tc.name, " ", "_")+".json")
			collector, err := launchCollector(t, setpriv, binary, "", config, output)
			if tc.wantError != "" {
				require.Error(t, err, "the collector must not start with %v", tc.caps)
				assert.Contains(t, err.Error(), tc.wantError)
				return
			}
			require.NoError(t, err)
			requireCredentials(t, collector.cmd.Process.Pid, tc.caps)

			const failures = 3
			r, err := triggertest.Run(triggerPath, "econnrefused", "-n", strconv.Itoa(failures), "-linger", triggerLinger.String())
			require.NoError(t, err)
			var logs []logRecord
			var points []dataPoint
			deadline := time.Now().Add(outputTimeout)
			for len(recordsOf(logs, r)) < failures || latestValue(points, "syscallhealth.failures", seriesOf(r)) != failures {
				require.False(t, time.Now().After(deadline), "root's failures not reported within %s\n%s", outputTimeout, collector.logTail())
				time.Sleep(250 * time.Millisecond)
				logs, points = readOutput(t, output)
			}
			collector.stop(t)
			const warning = "without CAP_SYS_PTRACE, other users' processes are reported with the kernel's 15-byte name"
			if tc.wantPath {
				assert.NotContains(t, strings.Join(collector.log, "\n"), warning)
			} else {
				assert.Contains(t, strings.Join(collector.log, "\n"), warning, "the collector says what it cannot read")
			}
			for _, lr := range recordsOf(logs, r) {
				resource := lr.resource.AsRaw()
				assert.Equal(t, int64(0), resource["process.user.id"], "a process of another user (root)")
				if tc.wantPath {
					assert.Equal(t, "syscallhealth-trigger", resource["process.executable.name"])
					assert.Equal(t, triggerPath, resource["process.executable.path"])
				} else {
					// The executable is only known from /proc/<pid>/exe; the kernel's 15-byte comm is the thread's name.
					assert.NotContains(t, resource, "process.executable.name", "/proc/<pid>/exe of another user needs CAP_SYS_PTRACE")
					assert.NotContains(t, resource, "process.executable.path", "/proc/<pid>/exe of another user needs CAP_SYS_PTRACE")
					assert.Equal(t, "syscallhealth-t", lr.record.Attributes().AsRaw()["thread.name"], "the kernel's name, 15 bytes")
				}
			}
		})
	}
}

// requireCredentials checks that the collector runs as uid 65534 with exactly the capabilities caps.
func requireCredentials(t *testing.T, pid int, caps []string) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	numbers := map[string]uint{"bpf": capBPF, "perfmon": capPerfmon, "sys_ptrace": capSysPtrace}
	var want uint64
	for _, c := range caps {
		want |= 1 << numbers[c]
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(status)) {
		key, value, _ := strings.Cut(line, ":")
		fields[key] = strings.TrimSpace(value)
	}
	assert.Equal(t, "65534", strings.Fields(fields["Uid"])[1], "effective uid")
	assert.Equal(t, fmt.Sprintf("%016x", want), fields["CapEff"], "effective capabilities")
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, data, mode))
}
