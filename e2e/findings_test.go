//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

const (
	// findingsConfig sets quiet_period and max_quiet_period to findingsQuietPeriod.
	findingsConfig      = "testdata/findings.yaml"
	findingsQuietPeriod = 2 * time.Second
	// findingTimeout bounds each wait for a finding record or gauge value, on a loaded 2-core CI machine.
	findingTimeout = 45 * time.Second
	// forkLoopLimit bounds the bash fork loop of the process_limit scenario should the test not stop it.
	forkLoopLimit = time.Minute
	// The default rule window of every kind, reported in syscallhealth.issue.window_seconds.
	defaultWindowSeconds = 60.0
)

// findingCondition is a condition caused for real, and what its finding must report.
type findingCondition struct {
	// subjects lists the acceptable subjects: a process subject names the executable, which is the
	// kernel's comm or the executable's file name depending on when the receiver read /proc.
	subjects []string
	// body is a part of the open record's Body.
	body string
	// pids are the processes that failed; the open record samples each of them.
	pids []int
	// total is the exact number of failures of the episode; 0 when the workload decides (bash's retries).
	total int64
	// attrs are further attributes of the open record.
	attrs map[string]any
	// stop ends the condition; nil when it ended by itself (a trigger that returned).
	stop func()
}

// findingScenario causes one kind of finding for real.
type findingScenario struct {
	name     string
	kind     string
	severity plog.SeverityNumber
	cause    func(t *testing.T) findingCondition
}

// TestCollectorReportsRealFindings causes each condition for real against the built collector, then
// checks the finding's open record (kind, subject, severity, figures), its resolved record once the
// condition has stopped for the quiet period, and syscallhealth.issues.active going to 1 and back to 0.
// The scenarios run at once: their kinds differ, so one scenario's finding never moves another's gauge.
func TestCollectorReportsRealFindings(t *testing.T) {
	requireCollector(t)
	triggerPath := triggertest.Build(t)
	output := filepath.Join(t.TempDir(), "output.json")
	collector := startCollector(t, findingsConfig, output)

	started := time.Now()
	passed := t.Run("scenarios", func(t *testing.T) {
		for _, s := range findingScenarios(triggerPath) {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				checkFindingScenario(t, s, output, collector)
			})
		}
	})
	if passed {
		t.Logf("all scenarios opened and resolved their findings within %s", time.Since(started).Round(time.Millisecond))
	}
	collector.stop(t)
}

func findingScenarios(triggerPath string) []findingScenario {
	run := func(t *testing.T, args ...string) trigger.Result {
		t.Helper()
		r, err := triggertest.Run(triggerPath, append(args, "-linger", "1s")...)
		require.NoError(t, err)
		return r
	}
	processSubjects := func(pid int) []string {
		return []string{fmt.Sprintf("pid %d (syscallhealth-trigger)", pid), fmt.Sprintf("pid %d (syscallhealth-t)", pid)}
	}
	return []findingScenario{
		{
			// A tiny tmpfs without free inodes: openat(O_CREAT) fails with ENOSPC on a path below it.
			name: "disk_full", kind: "disk_full", severity: plog.SeverityNumberError,
			cause: func(t *testing.T) findingCondition {
				dir := testenv.MountTmpfs(t, "size=1m,nr_inodes=8")
				r := run(t, "enospc", "-n", "3", "-dir", dir, "-syscall", "openat")
				return findingCondition{
					subjects: []string{dir}, body: "Disk full on " + dir + " (ENOSPC): ", pids: []int{r.PID}, total: 3,
					attrs: map[string]any{
						"system.filesystem.mountpoint": dir, "system.filesystem.type": "tmpfs", "file.path": r.Path,
						"error.type": "ENOSPC", "syscallhealth.issue.syscalls": []any{"openat"},
					},
				}
			},
		},
		{
			// The trigger lowers its own RLIMIT_NOFILE and opens until openat fails with EMFILE.
			name: "fd_exhaustion", kind: "fd_exhaustion", severity: plog.SeverityNumberError,
			cause: func(t *testing.T) findingCondition {
				r := run(t, "emfile", "-n", "3")
				return findingCondition{
					subjects: processSubjects(r.PID), body: fmt.Sprintf("(pid %d) has run out of file descriptors (EMFILE): ", r.PID),
					pids: []int{r.PID}, total: 3,
					attrs: map[string]any{"process.pid": int64(r.PID), "error.type": "EMFILE"},
				}
			},
		},
		{
			// Two processes connect to the same closed loopback port, 3 times each: the rule (5 within
			// 60s) can only trip once both have failed.
			name: "connection_refused from two processes", kind: "connection_refused", severity: plog.SeverityNumberWarn,
			cause: func(t *testing.T) findingCondition {
				port := testenv.ClosedLoopbackPort(t)
				var results [2]trigger.Result
				var errs [2]error
				var wg sync.WaitGroup
				for i := range results {
					wg.Go(func() {
						results[i], errs[i] = triggertest.Run(triggerPath, "econnrefused", "-n", "3", "-port", strconv.Itoa(port), "-linger", "1s")
					})
				}
				wg.Wait()
				require.NoError(t, errs[0])
				require.NoError(t, errs[1])
				subject := fmt.Sprintf("127.0.0.1:%d", port)
				return findingCondition{
					// The rule may trip at the fifth failure or after the sixth: the body's count varies.
					subjects: []string{subject}, body: "Connections to " + subject + " are refused (ECONNREFUSED): ",
					pids: []int{results[0].PID, results[1].PID}, total: 6,
					attrs: map[string]any{
						"network.peer.address": "127.0.0.1", "network.peer.port": int64(port), "error.type": "ECONNREFUSED",
					},
				}
			},
		},
		{
			// The trigger holds a loopback port and binds it again on fresh sockets.
			name: "port_conflict", kind: "port_conflict", severity: plog.SeverityNumberWarn,
			cause: func(t *testing.T) findingCondition {
				r := run(t, "eaddrinuse", "-n", "2")
				subject := fmt.Sprintf("127.0.0.1:%d", r.Port)
				return findingCondition{
					subjects: []string{subject}, body: "Address " + subject + " is already in use (EADDRINUSE): ", pids: []int{r.PID}, total: 2,
					attrs: map[string]any{
						"network.local.address": "127.0.0.1", "network.local.port": int64(r.Port), "error.type": "EADDRINUSE",
					},
				}
			},
		},
		{
			// bash alone in a pids cgroup with pids.max 1: every fork fails with EAGAIN and bash retries,
			// so the cgroup stays at its limit until the test kills it.
			name: "process_limit in a pids cgroup", kind: "process_limit", severity: plog.SeverityNumberError,
			cause: func(t *testing.T) findingCondition {
				cg := newPidsCgroup(t, 1)
				loop := startForkLoop(t, cg)
				return findingCondition{
					subjects: []string{"cgroup " + cg.path}, body: "Cgroup " + cg.path + " is at its pids limit (pids.max 1) (EAGAIN): ",
					pids: []int{loop.cmd.Process.Pid},
					attrs: map[string]any{
						"syscallhealth.issue.cgroup": cg.path, "syscallhealth.issue.pids_max": int64(1), "error.type": "EAGAIN",
					},
					stop: loop.stop,
				}
			},
		},
	}
}

func checkFindingScenario(t *testing.T, s findingScenario, output string, collector *runningCollector) {
	started := time.Now()
	cond := s.cause(t)
	open := waitForFinding(t, output, collector, fmt.Sprintf("an open %s finding on %v", s.kind, cond.subjects), func(f findingRecord) bool {
		return f.kind == s.kind && f.state == "open" && slices.Contains(cond.subjects, f.subject)
	})
	t.Logf("open %s after %s: %s", s.kind, open.at.Sub(started).Round(time.Millisecond), open.record.Body().Str())
	if cond.stop != nil {
		cond.stop()
	}
	stopped := time.Now()

	hostname, err := os.Hostname()
	require.NoError(t, err)
	resource := open.resource.AsRaw()
	assert.Equal(t, hostname, resource["host.name"], "findings are reported under the host resource")
	assert.Equal(t, "linux", resource["os.type"])
	assert.NotContains(t, resource, "process.pid", "the affected processes are attributes, not the resource")

	rec, attrs := open.record, open.record.Attributes().AsRaw()
	assert.Equal(t, "syscallhealth.issue", rec.EventName())
	assert.Equal(t, s.severity, rec.SeverityNumber())
	assert.Equal(t, strings.ToUpper(s.severity.String()), rec.SeverityText())
	assert.Contains(t, rec.Body().Str(), cond.body)
	assert.NotEmpty(t, open.id)
	if len(cond.pids) > 1 {
		assert.Contains(t, rec.Body().Str(), fmt.Sprintf(" by %d processes in the last 60s", len(cond.pids)))
	}
	assert.Equal(t, int64(len(cond.pids)), attrs["syscallhealth.issue.affected_processes"])
	assert.Equal(t, int64(0), attrs["syscallhealth.issue.affected_containers"])
	samples, _ := attrs["syscallhealth.issue.sample_pids"].([]any)
	for _, pid := range cond.pids {
		assert.Contains(t, samples, int64(pid), "sample_pids")
	}
	assert.Equal(t, defaultWindowSeconds, attrs["syscallhealth.issue.window_seconds"])
	count, _ := attrs["syscallhealth.issue.failure_count"].(int64)
	assert.Positive(t, count)
	assert.InDelta(t, float64(count)/defaultWindowSeconds, attrs["syscallhealth.issue.failure_rate"], 1e-9)
	firstSeen, lastSeen := timeAttr(t, attrs, "first_seen"), timeAttr(t, attrs, "last_seen")
	assert.WithinRange(t, firstSeen, started.Add(-time.Second), open.at, "first_seen is a failure of this scenario")
	assert.False(t, lastSeen.Before(firstSeen))
	for k, v := range cond.attrs {
		assert.Equal(t, v, attrs[k], k)
	}

	// The condition stopped: the finding resolves after the quiet period, as an informational record.
	resolved := waitForFinding(t, output, collector, fmt.Sprintf("the resolution of %s finding %s", s.kind, open.id), func(f findingRecord) bool {
		return f.id == open.id && f.state == "resolved"
	})
	t.Logf("resolved %s %s after the condition stopped: %s", s.kind, resolved.at.Sub(stopped).Round(time.Millisecond), resolved.record.Body().Str())
	attrs = resolved.record.Attributes().AsRaw()
	assert.Equal(t, plog.SeverityNumberInfo, resolved.record.SeverityNumber())
	assert.Equal(t, s.kind, resolved.kind)
	assert.Equal(t, open.subject, resolved.subject)
	assert.Equal(t, "quiet", attrs["syscallhealth.issue.resolution"])
	assert.Equal(t, findingsQuietPeriod.Seconds(), attrs["syscallhealth.issue.quiet_period_seconds"])
	assert.True(t, strings.HasPrefix(resolved.record.Body().Str(), "Resolved: "), resolved.record.Body().Str())
	lastSeen = timeAttr(t, attrs, "last_seen")
	assert.False(t, lastSeen.After(stopped.Add(100*time.Millisecond)), "the last failure (%s) precedes the end of the condition (%s)", lastSeen, stopped)
	assert.GreaterOrEqual(t, resolved.at.Sub(lastSeen), findingsQuietPeriod, "resolved only after the quiet period without failures")
	assert.Equal(t, int64(len(cond.pids)), attrs["syscallhealth.issue.affected_processes"], "processes of the whole episode")
	total, _ := attrs["syscallhealth.issue.total_count"].(int64)
	if cond.total > 0 {
		assert.Equal(t, cond.total, total, "every failure of the episode, counted once")
	} else {
		assert.Positive(t, total)
	}

	checkActiveGauge(t, output, collector, s.kind, open, resolved)
}

// checkActiveGauge requires syscallhealth.issues.active for the kind to count the finding while it was
// open, exactly 1 when it was the only one of its kind, and to drop it after its resolution, back to 0.
// Other findings of the kind (other tests may fail the same way on this host) are read from their
// records and allowed for: some collection while ours was open reads others+1, some collection after
// it resolved reads others.
func checkActiveGauge(t *testing.T, output string, collector *runningCollector, kind string, open, resolved findingRecord) {
	t.Helper()
	deadline := time.Now().Add(findingTimeout)
	for {
		logs, points := readOutput(t, output)
		records := findingRecords(logs)
		var during, after []string
		counted, released := false, false
		for _, p := range activeGauge(points, kind) {
			others := int64(len(openFindings(records, kind, open.id, p.at)))
			reading := fmt.Sprintf("%s=%d", p.at.Format("15:04:05.000"), p.value)
			if others > 0 {
				reading += fmt.Sprintf(" (%d others open)", others)
			}
			switch {
			case !p.at.Before(open.at) && p.at.Before(resolved.at):
				during = append(during, reading)
				counted = counted || p.value == others+1
			case p.at.After(resolved.at):
				after = append(after, reading)
				released = released || p.value == others
			}
		}
		if counted && released {
			t.Logf("syscallhealth.issues.active{kind=%s} while open: %v; after the resolution: %v", kind, during, after)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("syscallhealth.issues.active{kind=%s} did not count the finding while open (%s to %s) and then drop it within %s: "+
				"while open %v; after %v; other %s findings open now: %v\ncollector log tail:\n%s",
				kind, open.at.Format("15:04:05.000"), resolved.at.Format("15:04:05.000"), findingTimeout, during, after,
				kind, openFindings(records, kind, open.id, time.Now()), collector.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type gaugeValue struct {
	at    time.Time
	value int64
}

// activeGauge returns the syscallhealth.issues.active points of one kind, oldest first.
func activeGauge(points []dataPoint, kind string) []gaugeValue {
	var out []gaugeValue
	for _, p := range points {
		if k, ok := p.point.Attributes().Get("syscallhealth.issue.kind"); ok && p.name == "syscallhealth.issues.active" && k.Str() == kind {
			out = append(out, gaugeValue{at: p.point.Timestamp().AsTime(), value: p.point.IntValue()})
		}
	}
	slices.SortFunc(out, func(a, b gaugeValue) int { return a.at.Compare(b.at) })
	return out
}

// openFindings lists the findings of the kind, other than the one with id, that were open at the
// time according to their records.
func openFindings(records []findingRecord, kind, id string, at time.Time) []string {
	opened := map[string]findingRecord{}
	closed := map[string]bool{}
	for _, f := range records {
		if f.kind != kind || f.id == id || f.at.After(at) {
			continue
		}
		switch f.state {
		case "open":
			opened[f.id] = f
		case "resolved":
			closed[f.id] = true
		}
	}
	var out []string
	for fid, f := range opened {
		if !closed[fid] {
			out = append(out, fmt.Sprintf("%q since %s", f.subject, f.at.Format("15:04:05.000")))
		}
	}
	slices.Sort(out)
	return out
}

// findingRecord is one syscallhealth.issue record of the output.
type findingRecord struct {
	logRecord
	kind, state, subject, id string
	at                       time.Time
}

func findingRecords(logs []logRecord) []findingRecord {
	var out []findingRecord
	for _, lr := range logs {
		if lr.record.EventName() != "syscallhealth.issue" {
			continue
		}
		attr := func(name string) string {
			v, _ := lr.record.Attributes().Get("syscallhealth.issue." + name)
			return v.Str()
		}
		out = append(out, findingRecord{
			logRecord: lr, kind: attr("kind"), state: attr("state"), subject: attr("subject"), id: attr("id"),
			at: lr.record.Timestamp().AsTime(),
		})
	}
	return out
}

// waitForFinding polls the output until a finding record matches.
func waitForFinding(t *testing.T, output string, collector *runningCollector, what string, match func(findingRecord) bool) findingRecord {
	t.Helper()
	deadline := time.Now().Add(findingTimeout)
	for {
		logs, _ := readOutput(t, output)
		records := findingRecords(logs)
		for _, f := range records {
			if match(f) {
				return f
			}
		}
		if time.Now().After(deadline) {
			var seen []string
			for _, f := range records {
				seen = append(seen, fmt.Sprintf("%s %s %q", f.kind, f.state, f.subject))
			}
			t.Fatalf("no record of %s after %s; finding records so far: [%s]\ncollector log tail:\n%s",
				what, findingTimeout, strings.Join(seen, "; "), collector.logTail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func timeAttr(t *testing.T, attrs map[string]any, name string) time.Time {
	t.Helper()
	text, _ := attrs["syscallhealth.issue."+name].(string)
	at, err := time.Parse(time.RFC3339Nano, text)
	require.NoError(t, err, "syscallhealth.issue.%s %q is an RFC 3339 time", name, text)
	return at
}

// pidsCgroup is a cgroup of the pids controller created for a test.
type pidsCgroup struct {
	dir  string // its directory in the mounted hierarchy
	path string // its path within the hierarchy, as in /proc/<pid>/cgroup
}

// newPidsCgroup creates a pids cgroup with the given pids.max under the pids hierarchy (the v1 pids
// controller, else cgroup v2), removed when the test ends.
func newPidsCgroup(t *testing.T, pidsMax int) pidsCgroup {
	t.Helper()
	h, err := trigger.FindPidsHierarchy()
	require.NoError(t, err)
	if h.V2 {
		require.NoError(t, os.WriteFile(filepath.Join(h.Mount, "cgroup.subtree_control"), []byte("+pids"), 0),
			"enabling the pids controller for the children of %s", h.Mount)
	}
	name := fmt.Sprintf("syscallhealth-e2e-%d", os.Getpid())
	dir := filepath.Join(h.Mount, name)
	require.NoError(t, os.Mkdir(dir, 0o755))
	t.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing the test's cgroup %s: %v", dir, err)
		}
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pids.max"), []byte(strconv.Itoa(pidsMax)), 0))
	return pidsCgroup{dir: dir, path: "/" + name}
}

// forkLoop is a bash process failing to fork in a pids cgroup.
type forkLoop struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // read only after done
	done   chan struct{}
	once   sync.Once
}

// startForkLoop starts bash, moves it into the cgroup and has it run /bin/true forever: at pids.max 1
// every fork fails with EAGAIN and bash retries. It returns once the cgroup refused a fork. The loop is
// killed by stop, at the latest when the test ends or after forkLoopLimit.
func startForkLoop(t *testing.T, cg pidsCgroup) *forkLoop {
	t.Helper()
	bash, err := exec.LookPath("bash")
	require.NoError(t, err, "the process_limit scenario runs a bash fork loop: install bash")
	ctx, cancel := context.WithTimeout(context.Background(), forkLoopLimit)
	loop := &forkLoop{done: make(chan struct{})}
	loop.cmd = exec.CommandContext(ctx, bash, "-c", `echo $$ > "$1" && while :; do /bin/true; done`, "fork-loop", filepath.Join(cg.dir, "cgroup.procs"))
	loop.cmd.Stderr = &loop.stderr
	loop.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, loop.cmd.Start())
	go func() {
		_ = loop.cmd.Wait()
		cancel()
		close(loop.done)
	}()
	t.Cleanup(loop.stop)

	deadline := time.Now().Add(findingTimeout)
	for {
		if refusedForks(t, cg) > 0 {
			return loop
		}
		select {
		case <-loop.done:
			t.Fatalf("bash exited before the cgroup %s refused a fork: %s", cg.dir, loop.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			loop.stop()
			t.Fatalf("the cgroup %s refused no fork of the bash loop within %s; bash said: %s", cg.dir, findingTimeout, loop.stderr.String())
		}
	}
}

// stop kills the loop and waits until it has exited; it may be called more than once.
func (l *forkLoop) stop() {
	l.once.Do(func() { _ = l.cmd.Process.Kill() })
	<-l.done
}

// refusedForks reads the "max" counter of the cgroup's pids.events: forks its pids.max refused.
func refusedForks(t *testing.T, cg pidsCgroup) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cg.dir, "pids.events"))
	require.NoError(t, err)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "max "); ok {
			n, err := strconv.Atoi(v)
			require.NoError(t, err, "pids.events line %q", line)
			return n
		}
	}
	t.Fatalf("pids.events of %s has no max line: %q", cg.dir, data)
	return 0
}
