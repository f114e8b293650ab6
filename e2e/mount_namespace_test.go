//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrivateRootTmpfsIsNotTheHostsRoot: an unprivileged user mounts a 4 KiB tmpfs in a user+mount
// namespace of its own, makes it its root (pivot_root) and fills it. The disk_full finding is about that
// tmpfs in that namespace, never about the host's /.
func TestPrivateRootTmpfsIsNotTheHostsRoot(t *testing.T) {
	requireCollector(t)
	for _, tool := range []string{"busybox", "setpriv", "unshare"} {
		requireTool(t, tool)
	}
	output := filepath.Join(t.TempDir(), "output.json")
	collector := startCollector(t, findingsConfig, output)

	// uid 65534 may reach the mount point (t.TempDir's parent is 0700).
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	const failures = 3
	user := startScript(t, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		"unshare", "--user", "--map-root-user", "--mount", "--"},
		"read _; busybox mount -t tmpfs -o size=4k none "+dir+" && cd "+dir+" && busybox mkdir old && busybox pivot_root . old && cd / && "+
			fmt.Sprintf("i=0; while [ $i -lt %d ]; do printf '%%01024d' 0 >> /fill || i=$((i+1)); done; read _", failures))
	// Its namespace, read while it waits (the test runs as root), once unshare has exec'd the shell.
	require.Eventually(t, func() bool { return commOf(user.pid) == "busybox" }, 10*time.Second, 5*time.Millisecond)
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", user.pid))
	require.NoError(t, err)
	hostLink, err := os.Readlink("/proc/self/ns/mnt")
	require.NoError(t, err)
	require.NotEqual(t, hostLink, link, "unshare --mount gave the user a namespace of its own")
	namespace := strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]")
	user.proceed(t)

	started := time.Now()
	want := "/ (mount namespace " + namespace + ")"
	finding := waitForFinding(t, output, collector, "disk_full on the user's tmpfs", func(f findingRecord) bool {
		return f.kind == "disk_full" && f.state == "open" && strings.HasPrefix(f.subject, "/")
	})
	t.Logf("disk_full %q after %s", finding.subject, time.Since(started).Round(time.Millisecond))
	attrs := finding.record.Attributes().AsRaw()
	assert.Equal(t, want, finding.subject, "the user's / is named with its namespace")
	assert.Equal(t, "/", attrs["system.filesystem.mountpoint"])
	assert.Equal(t, "tmpfs", attrs["system.filesystem.type"])
	assert.Equal(t, int64(failures), attrs["syscallhealth.issue.total_count"])
	logs, _ := readOutput(t, output)
	for _, f := range findingRecords(logs) {
		assert.NotEqual(t, "/", f.subject, "no finding about the host's /: %s %s", f.kind, f.state)
	}
	collector.stop(t)
}

// requireTool fails the test when a tool it needs is missing: CI installs it (.ci/run).
func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is missing: .ci/run installs it", tool)
	}
}
