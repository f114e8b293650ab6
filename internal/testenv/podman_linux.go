//go:build linux

package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// BusyboxImage is the image Podman builds: FROM scratch with Debian's static busybox.
const BusyboxImage = "localhost/syscallhealth-test-busybox:latest"

// podmanConf configures Podman as it works on hybrid-cgroup hosts: runc (crun refuses hybrid cgroups),
// the cgroupfs manager, and no default ulimits (root may not raise RLIMIT_NOFILE/NPROC here).
const podmanConf = `[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
`

// Podman runs podman with the test configuration; Build has made BusyboxImage.
type Podman struct {
	tb   testing.TB
	conf string
}

var buildBusybox sync.Mutex

// NewPodman returns a Podman with BusyboxImage built (no registry: the image has no base). It skips
// when podman or /bin/busybox (busybox-static) is not installed.
func NewPodman(tb testing.TB) *Podman {
	tb.Helper()
	RequireRoot(tb, "the test runs containers with podman")
	if _, err := exec.LookPath("podman"); err != nil {
		tb.Skip("podman is not installed (apt-get install podman runc)")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("/bin/busybox is not installed (apt-get install busybox-static)")
	}
	dir := tb.TempDir()
	p := &Podman{tb: tb, conf: filepath.Join(dir, "containers.conf")}
	require.NoError(tb, os.WriteFile(p.conf, []byte(podmanConf), 0o644))
	busybox, err := os.ReadFile("/bin/busybox")
	require.NoError(tb, err)
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "busybox"), busybox, 0o755))
	require.NoError(tb, os.WriteFile(filepath.Join(dir, "Containerfile"),
		[]byte("FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"), 0o644))
	buildBusybox.Lock()
	defer buildBusybox.Unlock()
	p.Run("build", "-q", "-t", BusyboxImage, dir)
	return p
}

// Command is podman with args and the test configuration.
func (p *Podman) Command(args ...string) *exec.Cmd {
	cmd := exec.Command("podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	return cmd
}

// Run runs podman with args, fails the test when it fails, and returns its trimmed standard output.
func (p *Podman) Run(args ...string) string {
	p.tb.Helper()
	out, err := p.Command(args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		p.tb.Fatalf("podman %s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// Create creates a busybox container running args (removed at cleanup) and returns its id.
func (p *Podman) Create(args ...string) string {
	p.tb.Helper()
	id := p.Run(append([]string{"create", BusyboxImage}, args...)...)
	p.tb.Cleanup(func() { p.Command("rm", "-f", id).Run() })
	return id
}
