//go:build linux

// Package e2e runs the built collector, bin/otelcol-syscallhealth, against
// real failing workloads: separate syscallhealth-trigger processes cause an
// exact number of failures, and the test reads what the file exporter wrote.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

const (
	collectorPath = "../bin/otelcol-syscallhealth"
	// triggerLinger keeps each trigger alive after its failures so the
	// receiver can read its /proc entry.
	triggerLinger = 3 * time.Second
	// Timeouts generous enough for a loaded CI machine.
	readyTimeout  = 60 * time.Second
	outputTimeout = 45 * time.Second
	// The receiver's default rate limit burst (per process, syscall, errno).
	defaultBurst = 20
	// Severity numbers of WARN and ERROR in the OTel log data model.
	severityWarn  = plog.SeverityNumberWarn
	severityError = plog.SeverityNumberError
)

// failureCase is one trigger run and what the collector must report for it.
type failureCase struct {
	name     string
	args     []string
	failures int
	category string
	severity plog.SeverityNumber // the lowest acceptable (it may escalate)
	errno    syscall.Errno
	// Per-record attribute expectations derived from the trigger's result.
	attrs func(r trigger.Result) map[string]any
	// uid the failures run as.
	uid int64
	// wantSuppressed: the failures outlast the burst while the bucket refills, so
	// some records must carry failures held back before them.
	wantSuppressed bool
}

// requireCollector skips the test when not root and fails it when the collector binary is missing.
func requireCollector(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "the collector loads eBPF programs and the triggers mount a tmpfs, setuid and use a pids cgroup")
	if _, err := os.Stat(collectorPath); err != nil {
		t.Fatalf("%s is missing (%v): run `make build` first (`make test` builds it)", collectorPath, err)
	}
}

func TestCollectorReportsRealFailures(t *testing.T) {
	requireCollector(t)
	work := t.TempDir()
	triggerPath := triggertest.Build(t)

	cases := failureCases(t, work)
	output := filepath.Join(work, "output.json")
	collector := startCollector(t, "testdata/config.yaml", output)
	run := runCases(t, collector, triggerPath, output, cases)
	t.Logf("all failures reported %s after the triggers started", run.ended.Sub(run.started).Round(time.Millisecond))

	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkCase(t, c, run.results[i], triggerPath, run.logs, run.points, run.started, run.ended)
		})
	}
	t.Run("suppressed total", func(t *testing.T) {
		// Host-wide, since the receiver started: at least what the rate limiter held back from our triggers.
		assert.GreaterOrEqual(t, latestValue(run.points, "syscallhealth.events.suppressed", nil), heldBack(cases, run.results, run.logs))
	})
	collector.stop(t)
}

// casesRun is the cases' trigger results and what the collector wrote for them.
type casesRun struct {
	results        []trigger.Result
	logs           []logRecord
	points         []dataPoint
	started, ended time.Time // from the triggers' start until the output was complete
}

// runCases runs every case's trigger at once (each its own process, so its series are its own),
// lingering so the receiver can read its /proc entry, and waits until every metric series reached
// its exact count and the records arrived.
func runCases(t *testing.T, collector *runningCollector, triggerPath, output string, cases []failureCase) casesRun {
	t.Helper()
	run := casesRun{started: time.Now(), results: make([]trigger.Result, len(cases))}
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			run.results[i], errs[i] = triggertest.Run(triggerPath, append(c.args, "-linger", triggerLinger.String())...)
		})
	}
	wg.Wait()
	for i, c := range cases {
		require.NoError(t, errs[i], c.name)
		require.Equal(t, c.failures, run.results[i].Failures, c.name)
	}

	deadline := time.Now().Add(outputTimeout)
	for {
		run.logs, run.points = readOutput(t, output)
		missing := missingOutput(cases, run.results, run.logs, run.points)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the output still lacks: %s\ncollector log tail:\n%s", outputTimeout, strings.Join(missing, "; "), collector.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
	run.ended = time.Now()
	return run
}

func failureCases(t *testing.T, work string) []failureCase {
	t.Helper()
	blocksFull := testenv.MountTmpfs(t, "size=1m")
	inodesFull := testenv.MountTmpfs(t, "size=1m,nr_inodes=8")
	private := filepath.Join(work, "private")
	require.NoError(t, os.Mkdir(private, 0o755))
	secret := filepath.Join(private, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root only"), 0o600))
	// uid 65534 may traverse to the file (t.TempDir's parent is 0700), not read it.
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	require.NoError(t, os.Chmod(work, 0o755))

	path := func(r trigger.Result) map[string]any { return map[string]any{"file.path": r.Path} }
	peer := func(r trigger.Result) map[string]any {
		return map[string]any{"network.peer.address": r.Address, "network.peer.port": int64(r.Port)}
	}
	local := func(r trigger.Result) map[string]any {
		return map[string]any{"network.local.address": r.Address, "network.local.port": int64(r.Port)}
	}
	none := func(trigger.Result) map[string]any { return nil }
	return []failureCase{
		// More failures than the burst, 20 ms apart (about 0.8 s): the count stays exact, the
		// records are rate limited, and the ones after a refill report what was held back.
		{name: "EMFILE", args: []string{"emfile", "-n", "40", "-interval", "20ms"}, failures: 40, category: "file", severity: severityError, errno: unix.EMFILE, attrs: path, wantSuppressed: true},
		{name: "ENOSPC write", args: []string{"enospc", "-n", "6", "-dir", blocksFull}, failures: 6, category: "file", severity: severityError, errno: unix.ENOSPC, attrs: path},
		{name: "ENOSPC openat", args: []string{"enospc", "-n", "3", "-dir", inodesFull, "-syscall", "openat"}, failures: 3, category: "file", severity: severityError, errno: unix.ENOSPC, attrs: path},
		{name: "ECONNREFUSED", args: []string{"econnrefused", "-n", "5"}, failures: 5, category: "network", severity: severityWarn, errno: unix.ECONNREFUSED, attrs: peer},
		{name: "EADDRINUSE", args: []string{"eaddrinuse", "-n", "4"}, failures: 4, category: "network", severity: severityWarn, errno: unix.EADDRINUSE, attrs: local},
		{name: "ENOMEM", args: []string{"enomem", "-n", "3"}, failures: 3, category: "memory", severity: severityError, errno: unix.ENOMEM, attrs: none},
		{name: "EACCES", args: []string{"eacces", "-n", "3", "-path", secret}, failures: 3, category: "file", severity: severityWarn, errno: unix.EACCES, attrs: path, uid: 65534},
		{name: "EAGAIN clone", args: []string{"eagain-fork", "-n", "3"}, failures: 3, category: "process", severity: severityError, errno: unix.EAGAIN, attrs: none},
	}
}

// missingOutput lists what the output does not hold yet.
func missingOutput(cases []failureCase, results []trigger.Result, logs []logRecord, points []dataPoint) []string {
	var missing []string
	for i, c := range cases {
		r := results[i]
		if got := latestValue(points, "syscallhealth.failures", seriesOf(r)); got != int64(c.failures) {
			missing = append(missing, fmt.Sprintf("%s: syscallhealth.failures=%d (want %d)", c.name, got, c.failures))
		}
		if n, want := len(recordsOf(logs, r)), min(c.failures, defaultBurst); n < want {
			missing = append(missing, fmt.Sprintf("%s: %d log records (want %d)", c.name, n, want))
		}
	}
	if got, want := latestValue(points, "syscallhealth.events.suppressed", nil), heldBack(cases, results, logs); got < want {
		missing = append(missing, fmt.Sprintf("syscallhealth.events.suppressed=%d (want at least %d)", got, want))
	}
	return missing
}

// heldBack is how many of the triggers' failures did not become log records.
func heldBack(cases []failureCase, results []trigger.Result, logs []logRecord) int64 {
	var n int64
	for i, c := range cases {
		n += int64(c.failures - len(recordsOf(logs, results[i])))
	}
	return n
}

func checkCase(t *testing.T, c failureCase, r trigger.Result, triggerPath string, logs []logRecord, points []dataPoint, started, ended time.Time) {
	errnoName := unix.ErrnoName(c.errno)
	records := recordsOf(logs, r)
	require.NotEmpty(t, records)
	if c.failures <= defaultBurst {
		assert.Len(t, records, c.failures, "every failure within the burst is a record")
	} else {
		assert.Less(t, len(records), c.failures, "the rate limiter must hold some of %d failures back", c.failures)
	}

	previousCount, suppressedTotal := int64(0), int64(0)
	for _, lr := range records {
		rec, attrs := lr.record, lr.record.Attributes().AsRaw()
		assert.Equal(t, "syscallhealth.failure", rec.EventName())
		assert.GreaterOrEqual(t, rec.SeverityNumber(), c.severity, "severity of %s", errnoName)
		assert.NotEmpty(t, rec.SeverityText())
		assert.Contains(t, rec.Body().AsString(), errnoName)
		ts := rec.Timestamp().AsTime()
		assert.WithinRange(t, ts, started.Add(-time.Second), ended.Add(time.Second), "record timestamp is the wall-clock failure time")

		assert.Equal(t, r.Syscall, attrs["syscallhealth.syscall.name"])
		assert.Equal(t, errnoName, attrs["error.type"])
		assert.Equal(t, int64(c.errno), attrs["syscallhealth.errno"])
		assert.Equal(t, c.category, attrs["syscallhealth.category"])
		assert.Equal(t, int64(r.TID), attrs["thread.id"])
		for k, v := range c.attrs(r) {
			assert.Equal(t, v, attrs[k], k)
		}
		// error_count is exact and counts the suppressed failures in between.
		count, _ := attrs["syscallhealth.error_count"].(int64)
		suppressed, ok := attrs["syscallhealth.suppressed_count"].(int64)
		assert.True(t, ok, "syscallhealth.suppressed_count is an int attribute")
		assert.Equal(t, previousCount+1+suppressed, count, "error_count after %d with %d suppressed", previousCount, suppressed)
		previousCount, suppressedTotal = count, suppressedTotal+suppressed
		checkResource(t, lr.resource, r, c, triggerPath)
	}
	assert.LessOrEqual(t, previousCount, int64(c.failures))
	if c.wantSuppressed {
		assert.Positive(t, suppressedTotal, "records after a refill carry syscallhealth.suppressed_count")
	}

	// The metric holds exactly the number of failures and never more.
	series := seriesOf(r)
	var seen int
	for _, p := range points {
		if p.name != "syscallhealth.failures" || !series.matches(p) {
			continue
		}
		seen++
		assert.LessOrEqual(t, p.point.IntValue(), int64(c.failures))
		assert.Equal(t, c.category, p.point.Attributes().AsRaw()["syscallhealth.category"])
		assert.NotZero(t, p.point.StartTimestamp(), "cumulative sums carry a start time")
		checkResource(t, p.resource, r, c, triggerPath)
	}
	assert.NotZero(t, seen)
	assert.Equal(t, int64(c.failures), latestValue(points, "syscallhealth.failures", series))
}

func checkResource(t *testing.T, res pcommon.Map, r trigger.Result, c failureCase, triggerPath string) {
	t.Helper()
	attrs := res.AsRaw()
	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, int64(r.PID), attrs["process.pid"])
	assert.Equal(t, int64(os.Getpid()), attrs["process.parent_pid"], "the trigger's parent is this test")
	name, _ := attrs["process.executable.name"].(string)
	assert.True(t, name == "syscallhealth-trigger" || name == "syscallhealth-t", "process.executable.name %q", name)
	assert.Equal(t, triggerPath, attrs["process.executable.path"])
	if uid, ok := attrs["process.user.id"]; ok {
		assert.Equal(t, c.uid, uid, "the effective user")
	}
	if name, ok := attrs["process.user.name"]; ok {
		assert.Equal(t, map[int64]string{0: "root", 65534: "nobody"}[c.uid], name)
	}
	assert.Contains(t, attrs, "process.real_user.id")
	assert.Contains(t, attrs, "process.creation.time", "the trigger lingers, so /proc was read")
	assert.Equal(t, hostname, attrs["host.name"])
	assert.Equal(t, "linux", attrs["os.type"])
	assert.NotContains(t, attrs, "process.command_args", "command lines are off by default")
	assert.NotContains(t, attrs, "container.id", "the trigger does not run in a container")
}

type logRecord struct {
	resource pcommon.Map
	record   plog.LogRecord
}

// dataPoint is one point of a sum or gauge.
type dataPoint struct {
	resource pcommon.Map
	name     string
	point    pmetric.NumberDataPoint
}

// readOutput parses the file exporter's output: one OTLP JSON request per line. Sums must be monotonic and
// cumulative.
func readOutput(t *testing.T, path string) ([]logRecord, []dataPoint) {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	require.NoError(t, err)
	var logs []logRecord
	var points []dataPoint
	for line := range bytes.Lines(data) {
		if !bytes.HasSuffix(line, []byte("\n")) {
			break // a line still being written
		}
		switch {
		case bytes.Contains(line, []byte(`"resourceLogs"`)):
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			require.NoError(t, err)
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, rec := range sl.LogRecords().All() {
						logs = append(logs, logRecord{resource: rl.Resource().Attributes(), record: rec})
					}
				}
			}
		case bytes.Contains(line, []byte(`"resourceMetrics"`)):
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			require.NoError(t, err)
			for _, rm := range md.ResourceMetrics().All() {
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						var dps pmetric.NumberDataPointSlice
						switch m.Type() {
						case pmetric.MetricTypeSum:
							assert.True(t, m.Sum().IsMonotonic(), m.Name())
							assert.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality(), m.Name())
							dps = m.Sum().DataPoints()
						case pmetric.MetricTypeGauge:
							dps = m.Gauge().DataPoints()
						default:
							continue
						}
						for _, p := range dps.All() {
							points = append(points, dataPoint{resource: rm.Resource().Attributes(), name: m.Name(), point: p})
						}
					}
				}
			}
		}
	}
	return logs, points
}

// series selects the data points of one (process, syscall, errno).
type series struct {
	pid            int64
	syscall, errno string
}

func seriesOf(r trigger.Result) *series {
	return &series{pid: int64(r.PID), syscall: r.Syscall, errno: r.Errno}
}

func (s *series) matches(p dataPoint) bool {
	pid, _ := p.resource.Get("process.pid")
	attrs := p.point.Attributes().AsRaw()
	return pid.Int() == s.pid && attrs["syscallhealth.syscall.name"] == s.syscall && attrs["error.type"] == s.errno
}

// latestValue is the value of the newest data point of the metric (of the series, when given), -1 when none.
func latestValue(points []dataPoint, name string, s *series) int64 {
	value, newest := int64(-1), pcommon.Timestamp(0)
	for _, p := range points {
		if p.name == name && (s == nil || s.matches(p)) && p.point.Timestamp() >= newest {
			value, newest = p.point.IntValue(), p.point.Timestamp()
		}
	}
	return value
}

// recordsOf returns the trigger's log records for its (syscall, errno), ordered by error_count.
func recordsOf(logs []logRecord, r trigger.Result) []logRecord {
	var out []logRecord
	for _, lr := range logs {
		pid, _ := lr.resource.Get("process.pid")
		attrs := lr.record.Attributes().AsRaw()
		if pid.Int() == int64(r.PID) && attrs["syscallhealth.syscall.name"] == r.Syscall && attrs["error.type"] == r.Errno {
			out = append(out, lr)
		}
	}
	count := func(lr logRecord) int64 {
		v, _ := lr.record.Attributes().Get("syscallhealth.error_count")
		return v.Int()
	}
	for i := 1; i < len(out); i++ { // insertion sort: a few dozen records
		for j := i; j > 0 && count(out[j]) < count(out[j-1]); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// runningCollector is the collector process under test.
type runningCollector struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  []string
	done chan error
}

// startCollector starts the built collector on a configuration in testdata whose file exporter writes to
// output, and waits until it is ready.
func startCollector(t *testing.T, config, output string) *runningCollector {
	t.Helper()
	return startCollectorIn(t, "", config, output)
}

// startCollectorIn starts the collector in the working directory dir ("": this one), where a configuration's
// relative paths lead; overrides are extra --set flags.
func startCollectorIn(t *testing.T, dir, config, output string, overrides ...string) *runningCollector {
	t.Helper()
	c, err := launchCollector(t, nil, collectorPath, dir, config, output, overrides...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// launchCollector starts the collector binary in dir, through wrapper (e.g. setpriv and its arguments)
// when given, with overrides as --set flags, and waits until it is ready; the error says why it exited or
// was not ready, with its log.
func launchCollector(t *testing.T, wrapper []string, binary, dir, config, output string, overrides ...string) (*runningCollector, error) {
	t.Helper()
	binary, err := filepath.Abs(binary)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	args := append(append(slices.Clone(wrapper), binary), "--config="+config)
	for _, o := range overrides {
		args = append(args, "--set="+o)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = dir
	// Killed with the test binary too, e.g. when go test times out before any cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "SYSCALLHEALTH_E2E_OUTPUT="+output)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = cmd.Stderr
	require.NoError(t, cmd.Start())
	c := &runningCollector{cmd: cmd, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(stderr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		var once sync.Once
		for s.Scan() {
			c.mu.Lock()
			c.log = append(c.log, s.Text())
			c.mu.Unlock()
			if strings.Contains(s.Text(), "Everything is ready") {
				once.Do(func() { close(ready) })
			}
		}
		c.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-c.done:
		return c, fmt.Errorf("the collector exited before it was ready: %v\n%s", err, c.logTail())
	case <-time.After(readyTimeout):
		return c, fmt.Errorf("the collector was not ready after %s\n%s", readyTimeout, c.logTail())
	}
	return c, nil
}

// stop sends SIGTERM and requires a clean exit; it logs the resident memory first.
func (c *runningCollector) stop(t *testing.T) {
	t.Helper()
	c.stopWith(t, syscall.SIGTERM)
}

// stopWith sends sig (SIGTERM, or SIGINT as Ctrl-C does) and requires a clean exit.
func (c *runningCollector) stopWith(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)); err == nil {
		for line := range strings.Lines(string(status)) {
			if strings.HasPrefix(line, "VmRSS:") || strings.HasPrefix(line, "VmHWM:") {
				t.Logf("collector %s", strings.Join(strings.Fields(line), " "))
			}
		}
	}
	require.NoError(t, c.cmd.Process.Signal(sig))
	select {
	case err := <-c.done:
		require.NoError(t, err, "the collector must exit cleanly on %s\n%s", sig, c.logTail())
	case <-time.After(30 * time.Second):
		t.Fatalf("the collector did not stop within 30s of %s\n%s", sig, c.logTail())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Contains(t, strings.Join(c.log, "\n"), "Shutdown complete")
	// Nothing may fail quietly: no component logs an error, from start to shutdown.
	for _, line := range c.log {
		if fields := strings.SplitN(line, "\t", 3); len(fields) == 3 && fields[1] == "error" {
			t.Errorf("the collector logged an error: %s", line)
		}
	}
}

func (c *runningCollector) logTail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.log[max(0, len(c.log)-40):], "\n")
}
