//go:build linux

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

const (
	// Debian's busybox-static: the workload containers' only file.
	busyboxPath = "/bin/busybox"
	// The agent's collection interval (deploy/image/config.yaml) is 10 s: counts take up to that, plus the
	// batching in agent and gateway.
	containerOutputTimeout = 90 * time.Second
	podmanTimeout          = 5 * time.Minute
)

// containersConf is the podman configuration of the test (CONTAINERS_CONF, for its podman commands only):
// runc, since crun refuses this kernel's hybrid cgroup hierarchy; cgroupfs, as no systemd manages the
// cgroups; no default ulimits, which root cannot raise here (RLIMIT_NOFILE/NPROC).
const containersConf = `[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// podman runs podman commands with the test's configuration.
type podman struct {
	t    *testing.T
	conf string
}

func (p podman) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), podmanTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+p.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (p podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	require.NoError(p.t, err)
	return out
}

// container starts a detached container and returns its id; it is removed when the test ends.
func (p podman) container(name string, args ...string) string {
	p.t.Helper()
	id := p.must(append([]string{"run", "-d", "--name", name}, args...)...)
	p.t.Cleanup(func() {
		if p.t.Failed() {
			logs, _ := p.run("logs", "--tail", "40", name)
			p.t.Logf("%s log tail:\n%s", name, logs)
		}
		p.run("rm", "-f", "-t", "2", name)
	})
	return id
}

func (p podman) image(tag, context string, file string) {
	p.t.Helper()
	p.must("build", "-q", "-f", file, "-t", tag, context)
	p.t.Cleanup(func() { p.run("rmi", "-f", tag) })
}

// requireContainerTools skips the test unless root and fails it when a tool CI installs is missing.
func requireContainerTools(t *testing.T) {
	t.Helper()
	requireCollector(t)
	for _, tool := range []string{"podman", "runc", "prometheus", busyboxPath} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (%v): apt-get install podman runc prometheus busybox-static (.ci/run does)", tool, err)
		}
	}
}

// TestContainerDeployment runs the image as the Kubernetes agent does (host PID namespace, CAP_BPF and
// CAP_PERFMON only, seccomp unconfined, read-only root and host mounts) and the gateway as a second
// container of the same image with deploy/kubernetes/gateway-config.yaml, unprivileged. Workload
// containers FROM scratch with busybox fail to read a root-only file: one keeps running, one exits at once.
// The gateway's file exporter must hold each failure with podman's container id, and a real Prometheus
// scraping the gateway must return the exact syscallhealth_failures_total of each container.
func TestContainerDeployment(t *testing.T) {
	requireContainerTools(t)
	started := time.Now()
	work := t.TempDir()
	suffix := randomSuffix(t)
	conf := filepath.Join(work, "containers.conf")
	require.NoError(t, os.WriteFile(conf, []byte(containersConf), 0o644))
	pm := podman{t: t, conf: conf}

	// The collector image, from the repository's Containerfile, as `make image` builds it (own tag: other
	// tests may build at the same time).
	collectorImage := "localhost/otelcol-syscallhealth:e2e-" + suffix
	buildStart := time.Now()
	pm.image(collectorImage, "..", "../Containerfile")
	t.Logf("collector image built in %s", time.Since(buildStart).Round(time.Millisecond))
	size := pm.must("image", "inspect", "--format", "{{.Size}}", collectorImage)
	t.Logf("collector image size %s bytes", size)

	// The workload image: busybox and a file only root may read.
	secret := "/secret-" + suffix
	workloadImage := "localhost/syscallhealth-workload:e2e-" + suffix
	workloadDir := workloadContext(t, filepath.Join(work, "workload"), secret)
	pm.image(workloadImage, workloadDir, filepath.Join(workloadDir, "Containerfile"))

	ports := struct{ otlp, prom, gatewayHealth, agentHealth, prometheus int }{
		testenv.ClosedLoopbackPort(t), testenv.ClosedLoopbackPort(t), testenv.ClosedLoopbackPort(t),
		testenv.ClosedLoopbackPort(t), testenv.ClosedLoopbackPort(t),
	}
	out := filepath.Join(work, "out")
	require.NoError(t, os.Mkdir(out, 0o777))
	require.NoError(t, os.Chmod(out, 0o777)) // the gateway runs as nobody
	require.NoError(t, os.Chmod(work, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	gatewayConfig, err := filepath.Abs("../deploy/kubernetes/gateway-config.yaml")
	require.NoError(t, err)
	overlay, err := filepath.Abs("testdata/gateway-e2e.yaml")
	require.NoError(t, err)

	// Loopback only: both collectors use the host's network namespace, on ports of their own.
	pm.container("syscallhealth-gateway-"+suffix,
		"--network=host", "--user=65534:65534", "--cap-drop=all", "--read-only", "--security-opt=no-new-privileges",
		"-v", gatewayConfig+":/etc/otelcol-syscallhealth/gateway.yaml:ro",
		"-v", overlay+":/etc/otelcol-syscallhealth/e2e.yaml:ro",
		"-v", out+":/out",
		"-e", fmt.Sprintf("OTLP_GRPC_ENDPOINT=127.0.0.1:%d", ports.otlp),
		"-e", fmt.Sprintf("PROMETHEUS_ENDPOINT=127.0.0.1:%d", ports.prom),
		"-e", fmt.Sprintf("HEALTH_CHECK_ENDPOINT=127.0.0.1:%d", ports.gatewayHealth),
		"-e", "BACKEND_OTLP_ENDPOINT=127.0.0.1:1",
		collectorImage,
		"--config=/etc/otelcol-syscallhealth/gateway.yaml", "--config=/etc/otelcol-syscallhealth/e2e.yaml")
	waitHealthy(t, "gateway", ports.gatewayHealth)

	// The agent: the image's own configuration; only its ports differ from a DaemonSet pod's, and it reads the
	// host's /proc at /hostfs/proc as agent-config.yaml does.
	pm.container("syscallhealth-agent-"+suffix,
		"--network=host", "--pid=host", "--cap-drop=all", "--cap-add=bpf,perfmon",
		"--security-opt=seccomp=unconfined", "--security-opt=no-new-privileges", "--read-only",
		"-v", "/sys/kernel/btf:/sys/kernel/btf:ro",
		"-v", "/sys/kernel/tracing:/sys/kernel/tracing:ro",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
		"-v", "/proc:/hostfs/proc:ro",
		"-e", fmt.Sprintf("OTLP_ENDPOINT=127.0.0.1:%d", ports.otlp),
		"-e", fmt.Sprintf("HEALTH_CHECK_ENDPOINT=127.0.0.1:%d", ports.agentHealth),
		collectorImage,
		"--config=/etc/otelcol-syscallhealth/config.yaml", "--set=service.telemetry.metrics.level=none",
		"--set=receivers::syscallhealth::root_path=/hostfs")
	waitHealthy(t, "agent", ports.agentHealth)

	prometheusURL := startPrometheus(t, work, ports.prometheus, ports.prom)

	// The workloads run as nobody: each read of the secret fails with EACCES.
	workloadArgs := []string{"--network=none", "--user=65534:65534", "--cap-drop=all", "--read-only", workloadImage}
	lives := workload{name: "lives", failures: 3}
	lives.id = pm.container("syscallhealth-lives-"+suffix, append(workloadArgs,
		// The trailing true keeps the shell from exec'ing sleep: the failing process itself lives on.
		"sh", "-c", fmt.Sprintf("for i in 1 2 3; do read x < %s; done; sleep 60; true", secret))...)
	// Its process fails and exits at once: its container is known only from what the kernel sent.
	exits := workload{name: "exits at once", failures: 4}
	exits.id = pm.container("syscallhealth-exits-"+suffix, append(workloadArgs,
		"sh", "-c", fmt.Sprintf("for i in 1 2 3 4; do read x < %s; done", secret))...)
	code := pm.must("wait", "syscallhealth-exits-"+suffix)
	require.Equal(t, "1", code, "the exiting workload's last read failed")
	workloads := []workload{lives, exits}

	// The gateway's files: one record per failure of each workload, with podman's container id, and the
	// exact count of its series.
	var logs []logRecord
	var points []dataPoint
	deadline := time.Now().Add(containerOutputTimeout)
	for !time.Now().After(deadline) {
		logs, _ = readOutput(t, filepath.Join(out, "logs.json"))
		_, points = readOutput(t, filepath.Join(out, "metrics.json"))
		if !slices.ContainsFunc(workloads, func(w workload) bool { return w.missing(logs, points, secret) != "" }) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, w := range workloads {
		t.Run(w.name, func(t *testing.T) {
			if missing := w.missing(logs, points, secret); missing != "" {
				t.Errorf("after %s: %s", containerOutputTimeout, missing)
			}
			// Prometheus, scraping the gateway's prometheus exporter every second, has the same exact count.
			query := fmt.Sprintf(`sum(syscallhealth_failures_total{container_id=%q, error_type="EACCES"})`, w.id)
			assert.Equal(t, strconv.Itoa(w.failures), waitPrometheusValue(t, prometheusURL, query, strconv.Itoa(w.failures)), query)
		})
	}
	t.Logf("container deployment checked %s after the test started", time.Since(started).Round(time.Millisecond))
}

// workload is a container that fails a known number of times.
type workload struct {
	name     string
	id       string
	failures int
}

// count is the newest EACCES count of the container's series (summed over its processes and syscalls),
// -1 when it has none.
func (w workload) count(points []dataPoint) int64 {
	type key struct{ pid, syscall string }
	newest := make(map[key]dataPoint)
	for _, p := range points {
		id, _ := p.resource.Get("container.id")
		attrs := p.point.Attributes().AsRaw()
		if p.name != "syscallhealth.failures" || id.Str() != w.id || attrs["error.type"] != "EACCES" {
			continue
		}
		pid, _ := p.resource.Get("process.pid")
		k := key{pid.AsString(), fmt.Sprint(attrs["syscallhealth.syscall.name"])}
		if old, ok := newest[k]; !ok || p.point.Timestamp() >= old.point.Timestamp() {
			newest[k] = p
		}
	}
	if len(newest) == 0 {
		return -1
	}
	var sum int64
	for _, p := range newest {
		sum += p.point.IntValue()
	}
	return sum
}

// missing says what the gateway's output lacks for the workload ("" when nothing): one failure record of
// the secret per failure (within the rate limiter's burst) carrying the container's id, and the exact count.
// Records of the secret without any container.id are listed, as they show what went wrong.
func (w workload) missing(logs []logRecord, points []dataPoint, secret string) string {
	var problems []string
	if got := w.count(points); got != int64(w.failures) {
		problems = append(problems, fmt.Sprintf("syscallhealth.failures of container %s = %d, want %d", w.id, got, w.failures))
	}
	records := 0
	var anonymous []string
	for _, lr := range logs {
		if path, ok := lr.record.Attributes().Get("file.path"); !ok || path.Str() != secret || lr.record.EventName() != "syscallhealth.failure" {
			continue
		}
		switch id, ok := lr.resource.Get("container.id"); {
		case !ok:
			anonymous = append(anonymous, fmt.Sprint(lr.resource.AsRaw()))
		case id.Str() == w.id:
			records++
		}
	}
	if records != w.failures {
		problems = append(problems, fmt.Sprintf("%d failure records with container.id %s, want %d (records of the secret without container.id: %v)",
			records, w.id, w.failures, anonymous))
	}
	return strings.Join(problems, "; ")
}

// workloadContext writes the workload image's build context: busybox and the secret, 0600 root.
func workloadContext(t *testing.T, dir, secret string) string {
	t.Helper()
	require.NoError(t, os.Mkdir(dir, 0o755))
	busybox, err := os.ReadFile(busyboxPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "busybox"), busybox, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secret"), []byte("root only\n"), 0o600))
	containerfile := fmt.Sprintf("FROM scratch\nCOPY busybox /bin/busybox\nCOPY secret %s\nENTRYPOINT [\"/bin/busybox\"]\n", secret)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644))
	return dir
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// waitHealthy waits until health_check on port answers 200 (the collector's pipelines are running).
func waitHealthy(t *testing.T, what string, port int) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s's health_check on port %d did not answer 200 within %s (last: %v)", what, port, readyTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startPrometheus runs Debian's Prometheus on loopback, scraping the gateway's prometheus exporter every
// second, and returns its URL.
func startPrometheus(t *testing.T, work string, port, target int) string {
	t.Helper()
	dir := filepath.Join(work, "prometheus")
	require.NoError(t, os.Mkdir(dir, 0o755))
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: syscallhealth-gateway
    static_configs:
      - targets: ["127.0.0.1:%d"]
`, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "prometheus",
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port))
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("prometheus log:\n%s", tail(string(log), 20))
		}
	})
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// waitPrometheusValue polls an instant query until its single sample is want, and returns the last value
// seen ("" when the query had no sample).
func waitPrometheusValue(t *testing.T, base, query, want string) string {
	t.Helper()
	deadline := time.Now().Add(containerOutputTimeout)
	var last string
	for {
		last = prometheusValue(t, base, query)
		if last == want || time.Now().After(deadline) {
			return last
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func prometheusValue(t *testing.T, base, query string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return "" // not listening yet
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var answer struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &answer), string(body))
	require.Equal(t, "success", answer.Status, string(body))
	if len(answer.Data.Result) != 1 {
		return ""
	}
	return fmt.Sprint(answer.Data.Result[0].Value[1])
}
