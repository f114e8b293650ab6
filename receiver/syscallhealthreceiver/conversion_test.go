//go:build linux

package syscallhealthreceiver

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/expected_*.yaml from the current output")

const testHostName = "node-7"

// bootBase is the wall-clock time of boot in the recorded sequence: boot time 0 maps to it.
var bootBase = time.Date(2025, 11, 25, 9, 0, 0, 0, time.UTC)

// fixedBootClock maps boot-time nanoseconds to wall-clock time like bpf.BootClock, at a fixed boot time.
type fixedBootClock struct{ boot time.Time }

func (c fixedBootClock) Time(bootNs uint64) time.Time { return c.boot.Add(time.Duration(bootNs)) }

func syscallNr(t testing.TB, name string) uint32 {
	t.Helper()
	nr, ok := bpf.SyscallByName(name)
	require.True(t, ok, name)
	return nr
}

func errnoOf(t testing.TB, name string) bpf.Errno {
	t.Helper()
	e, ok := bpf.ErrnoByName(name)
	require.True(t, ok, name)
	return e
}

// recordedFailures is a sequence of failures as the kernel reports them on an x86-64 or arm64 host running
// postgres in docker (4242), a Go API in Kubernetes (4300), nginx on the host (4400), a Java client in podman
// (4500) and a short-lived worker that exited before its event was read (5000). The /proc of the live ones is
// testdata/proc.
func recordedFailures(t testing.TB) []bpf.Event {
	ev := func(ts float64, pid, tid, ppid, uid uint32, comm, syscall, errno string, count, suppressed uint64) bpf.Event {
		return bpf.Event{
			TimestampNs: uint64(ts * 1e9), PID: pid, TID: tid, PPID: ppid, UID: uid, GID: uid, CgroupID: 7000 + uint64(pid),
			Syscall: syscallNr(t, syscall), Errno: errnoOf(t, errno), Category: bpf.SyscallCategory(syscall),
			Comm: comm, ErrorCount: count, Suppressed: suppressed,
		}
	}
	diskFull := ev(100.000, 4242, 4251, 1, 999, "postgres", "openat", "ENOSPC", 1, 0)
	diskFull.Path = "/var/lib/pg/base/1234"
	walFull := ev(100.010, 4242, 4242, 1, 999, "postgres", "write", "ENOSPC", 1, 0)
	refused := ev(101.000, 4300, 4305, 4290, 1000, "api", "connect", "ECONNREFUSED", 1, 0)
	refused.Peer = netip.MustParseAddrPort("10.0.0.5:5432")
	refused.Local = netip.MustParseAddrPort("10.0.0.7:40312")
	refused.Async, refused.Transport = true, bpf.TransportTCP
	// 50 ms later the count is 160: the rate limiter held back 158 events, the key fails fast -> escalated.
	refusedStorm := refused
	refusedStorm.TimestampNs, refusedStorm.TID, refusedStorm.ErrorCount, refusedStorm.Suppressed = 101_050_000_000, 4307, 160, 158
	refusedStorm.Local = netip.MustParseAddrPort("10.0.0.7:40474")
	portTaken := ev(102.000, 4400, 4400, 1, 33, "nginx", "bind", "EADDRINUSE", 1, 0)
	portTaken.Local, portTaken.Transport = netip.MustParseAddrPort("0.0.0.0:8080"), bpf.TransportTCP
	forkLimit := ev(102.500, 5000, 5000, 4242, 1000, "worker", "clone", "EAGAIN", 1, 0)
	forkLimit.CgroupID = 7000 + 4242 // same cgroup as postgres: the container is known from it
	kafkaRefused := ev(103.000, 4500, 4517, 4490, 1000, "kafka-producer", "connect", "ECONNREFUSED", 3, 0)
	kafkaRefused.Peer = netip.MustParseAddrPort("[::1]:9092")
	kafkaRefused.Local = netip.MustParseAddrPort("[::1]:51000")
	timeout := ev(103.050, 4500, 4518, 4490, 1000, "kafka-producer", "connect", "ETIMEDOUT", 1, 0)
	timeout.Peer = netip.MustParseAddrPort("[::ffff:10.0.0.9]:443") // a dual-stack socket to an IPv4 host
	timeout.Async, timeout.Transport = true, bpf.TransportTCP
	outOfMemory := ev(103.100, 4242, 4260, 1, 999, "postgres", "mmap", "ENOMEM", 1, 0)
	missingConfig := ev(103.200, 4400, 4400, 1, 33, "nginx", "openat", "ENOENT", 1, 0)
	missingConfig.Path = "/etc/nginx/conf.d/missing.conf"
	return []bpf.Event{diskFull, walFull, refused, refusedStorm, portTaken, forkLimit, kafkaRefused, timeout, outOfMemory, missingConfig}
}

// conversionPipeline is the receiver's event path without the kernel: enrich, observe for findings,
// escalate, batch.
type conversionPipeline struct {
	processes   *processCache
	escalation  *escalationTracker
	destination *destinationCounts
	findings    *findings.Engine
	batch       *logBatch
	clock       wallClock
	now         *testClock
}

// newConversionPipeline builds the receiver's pipeline on a host root whose proc directory is a fixture.
func newConversionPipeline(t testing.TB, root string) *conversionPipeline {
	clock := &testClock{now: bootBase.Add(104 * time.Second)}
	cfg := createDefaultConfig()
	engine, err := findings.NewEngine(cfg.Findings, findings.Settings{
		UpdateInterval: cfg.CollectionInterval, MaxSeries: 2 * cfg.TrackingMapSize, Host: hostfs.New(root, time.Minute, nil), Clock: clock,
	})
	require.NoError(t, err)
	return &conversionPipeline{
		processes:   newTestProcessCache(root, false, clock),
		escalation:  newEscalationTracker(),
		destination: newDestinationCounts(zap.NewNop(), true, pcommon.NewTimestampFromTime(bootBase.Add(90*time.Second))),
		findings:    engine,
		batch:       newLogBatch(hostInfo{name: testHostName}, cfg.ResourceAttributes, "v0.1.0-test"),
		clock:       fixedBootClock{boot: bootBase},
		now:         clock,
	}
}

// handle is the receiver's handleEvent with a logs pipeline.
func (c *conversionPipeline) handle(ev *bpf.Event) bool {
	p := c.processes.forEvent(ev)
	c.destination.observe(ev)
	names := namesOf(ev)
	c.findings.ObserveEvent(eventObservation(ev, p, names, c.clock))
	added, _ := c.batch.add(p, ev, names, c.escalation.severityOf(ev, names.syscall, names.errno), c.clock, c.now.now)
	return added
}

func TestEventsToLogs(t *testing.T) {
	pipeline := newConversionPipeline(t, "testdata")
	events := recordedFailures(t)
	for i := range events {
		require.True(t, pipeline.handle(&events[i]))
	}
	logs, n := pipeline.batch.take()
	require.Equal(t, len(events), n)
	require.Equal(t, len(events), logs.LogRecordCount())
	assert.Equal(t, 5, logs.ResourceLogs().Len(), "one resource per process")

	path := filepath.Join("testdata", "expected_logs.yaml")
	if *updateGolden {
		require.NoError(t, golden.WriteLogs(t, path, logs))
	}
	expected, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, logs))
	// plogtest does not compare EventName.
	assert.Equal(t, eventNames(expected), eventNames(logs))

	bodies := map[string]plog.SeverityNumber{}
	forEachRecord(logs, func(lr plog.LogRecord) { bodies[lr.Body().Str()] = lr.SeverityNumber() })
	assert.Equal(t, map[string]plog.SeverityNumber{
		`openat("/var/lib/pg/base/1234") failed: ENOSPC (No space left on device)`:            plog.SeverityNumberError,
		`write failed: ENOSPC (No space left on device)`:                                      plog.SeverityNumberError,
		`connect to 10.0.0.5:5432 failed: ECONNREFUSED (Connection refused)`:                  plog.SeverityNumberError, // the storm's record, escalated
		`bind to 0.0.0.0:8080 failed: EADDRINUSE (Address already in use)`:                    plog.SeverityNumberWarn,
		`clone failed: EAGAIN (Resource temporarily unavailable)`:                             plog.SeverityNumberError,
		`connect to [::1]:9092 failed: ECONNREFUSED (Connection refused)`:                     plog.SeverityNumberWarn,
		`connect to 10.0.0.9:443 failed: ETIMEDOUT (Connection timed out)`:                    plog.SeverityNumberWarn,
		`mmap failed: ENOMEM (Cannot allocate memory)`:                                        plog.SeverityNumberError,
		`openat("/etc/nginx/conf.d/missing.conf") failed: ENOENT (No such file or directory)`: plog.SeverityNumberInfo,
	}, bodies)
}

// TestFindingsToLogs: the findings the recorded sequence opens become records of the same batch as the
// failures, under the host resource.
func TestFindingsToLogs(t *testing.T) {
	pipeline := newConversionPipeline(t, "testdata")
	events := recordedFailures(t)
	for i := range events {
		require.True(t, pipeline.handle(&events[i]))
	}
	opened := pipeline.findings.Evaluate()
	require.Len(t, opened, 4)
	pipeline.batch.addFindings(opened)
	logs, n := pipeline.batch.take()
	require.Equal(t, len(events)+len(opened), n)
	assert.Equal(t, 6, logs.ResourceLogs().Len(), "one resource per process, and the host's for the findings")

	findingLogs := plog.NewLogs()
	for _, rl := range logs.ResourceLogs().All() {
		if _, isProcess := rl.Resource().Attributes().Get("process.pid"); !isProcess {
			rl.CopyTo(findingLogs.ResourceLogs().AppendEmpty())
		}
	}
	require.Equal(t, 1, findingLogs.ResourceLogs().Len())
	path := filepath.Join("testdata", "expected_finding_logs.yaml")
	if *updateGolden {
		require.NoError(t, golden.WriteLogs(t, path, findingLogs))
	}
	expected, err := golden.ReadLogs(path)
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, findingLogs))
	assert.Equal(t, []string{findings.EventName, findings.EventName, findings.EventName, findings.EventName}, eventNames(findingLogs))

	// A minute and a quiet period later every finding resolves, with an informational record.
	pipeline.now.now = pipeline.now.now.Add(2 * time.Minute)
	resolved := pipeline.findings.Evaluate()
	require.Len(t, resolved, 4)
	pipeline.batch.addFindings(resolved)
	logs, n = pipeline.batch.take()
	require.Equal(t, 4, n)
	require.Equal(t, 1, logs.ResourceLogs().Len())
	forEachRecord(logs, func(lr plog.LogRecord) {
		state, _ := lr.Attributes().Get("syscallhealth.issue.state")
		assert.Equal(t, "resolved", state.Str())
		assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
	})
}

func TestEveryFindingKindIsAMetricAttributeValue(t *testing.T) {
	for _, k := range findings.Kinds() {
		_, ok := metadata.MapAttributeSyscallhealthIssueKind[k.String()]
		assert.True(t, ok, "metadata.yaml lists %s in the syscallhealth.issue.kind enum", k)
	}
	assert.Len(t, metadata.MapAttributeSyscallhealthIssueKind, len(findings.Kinds()))
}

func eventNames(logs plog.Logs) []string {
	var names []string
	forEachRecord(logs, func(lr plog.LogRecord) { names = append(names, lr.EventName()) })
	return names
}

func forEachRecord(logs plog.Logs, fn func(plog.LogRecord)) {
	for i := 0; i < logs.ResourceLogs().Len(); i++ {
		sls := logs.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				fn(lrs.At(k))
			}
		}
	}
}

func TestLogBatchIsBounded(t *testing.T) {
	pipeline := newConversionPipeline(t, "testdata")
	ev := recordedFailures(t)[0]
	for range maxPendingRecords {
		require.True(t, pipeline.handle(&ev))
	}
	assert.False(t, pipeline.handle(&ev), "a full batch refuses records; the receiver counts them as backpressure drops")
	_, n := pipeline.batch.take()
	assert.Equal(t, maxPendingRecords, n)
	assert.True(t, pipeline.handle(&ev), "after a flush the batch accepts again")
}

func TestCountsToMetrics(t *testing.T) {
	root := copyProcFixture(t)
	pipeline := newConversionPipeline(t, root)
	events := recordedFailures(t)
	for i := range events {
		pipeline.handle(&events[i])
	}

	cfg := createDefaultConfig()
	cfg.Metrics.SyscallhealthConnectFailures.Enabled = true
	loadTime := bootBase.Add(90 * time.Second)
	mb := metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, receivertest.NewNopSettings(metadata.Type))
	var drops dropCounters
	drops.malformed.Add(1)
	drops.backpressure.Add(7)
	collector := newMetricsCollector(mb, hostInfo{name: testHostName}, pipeline.processes, pipeline.destination, &drops,
		pipeline.escalation, pipeline.findings, pipeline.processes.host, pipeline.clock, loadTime, 16, GranularityProcess)
	// The flush loop has evaluated the rules since the events: the gauge counts the findings they opened
	// (disk_full, connection_refused, port_conflict, process_limit).
	require.Len(t, pipeline.findings.Evaluate(), 4)

	count := func(pid uint32, syscall, errno string, n, firstSeen uint64) bpf.Count {
		return bpf.Count{
			Key:      bpf.CountKey{PID: pid, Syscall: syscallNr(t, syscall), Errno: errnoOf(t, errno)},
			Category: bpf.SyscallCategory(syscall), Count: n, FirstSeenNs: firstSeen * 1e9, LastSeenNs: 103e9,
		}
	}
	first := []bpf.Count{
		count(4242, "openat", "ENOSPC", 1, 100),
		count(4242, "write", "ENOSPC", 40, 100),
		count(4242, "mmap", "ENOMEM", 1, 103),
		count(4300, "connect", "ECONNREFUSED", 160, 101),
		count(4400, "bind", "EADDRINUSE", 1, 102),
		count(4400, "openat", "ENOENT", 1, 103),
		count(4500, "connect", "ECONNREFUSED", 3, 103),
		count(4500, "connect", "ETIMEDOUT", 1, 103),
		count(5000, "clone", "EAGAIN", 1, 102),
	}
	t1 := bootBase.Add(100 * time.Second)
	exited := collector.exitedAmong(first)
	metrics := collector.collect(first, exited, bpf.Stats{RingbufDrops: 2, Suppressed: 158, Untracked: 4, UntrackedConnects: 1, MissedRuns: 2}, t1)
	compareGoldenMetrics(t, filepath.Join("testdata", "expected_metrics.yaml"), metrics)
	assert.Equal(t, []bpf.CountKey{first[8].Key}, collector.delivered(exited),
		"the exited worker's series are emitted once, then removed from the kernel map")

	// Ten seconds later: postgres's write count went down (deleted and counted anew), the API kept
	// failing, the Java client's PID was reused by a new process, and a process never seen in an event and
	// already gone shows up in the counts.
	stat := filepath.Join(root, "proc", "4500", "stat")
	rewriteFile(t, stat, " 955555 ", " 999999 ")
	second := []bpf.Count{
		count(4242, "openat", "ENOSPC", 1, 100),
		count(4242, "write", "ENOSPC", 3, 105),
		count(4242, "mmap", "ENOMEM", 1, 103),
		count(4300, "connect", "ECONNREFUSED", 210, 101),
		count(4400, "bind", "EADDRINUSE", 1, 102),
		count(4400, "openat", "ENOENT", 1, 103),
		count(4500, "connect", "ECONNREFUSED", 3, 103),
		count(4500, "connect", "ETIMEDOUT", 1, 103),
		count(6000, "openat", "EMFILE", 12, 108),
	}
	t2 := t1.Add(10 * time.Second)
	exited = collector.exitedAmong(second)
	metrics = collector.collect(second, exited, bpf.Stats{RingbufDrops: 2, Suppressed: 208, Untracked: 4, UntrackedConnects: 3, MissedRuns: 5}, t2)
	compareGoldenMetrics(t, filepath.Join("testdata", "expected_metrics_second_collection.yaml"), metrics)
	assert.ElementsMatch(t, []bpf.CountKey{second[6].Key, second[7].Key, second[8].Key}, collector.delivered(exited))

	// Nothing is remembered of the processes that are gone.
	for _, pid := range []uint32{4500, 5000, 6000} {
		assert.NotContains(t, pipeline.processes.byPID, pid)
		assert.Empty(t, pipeline.destination.snapshot(pid))
		for key := range collector.series {
			assert.NotEqual(t, pid, key.PID)
		}
	}
	assert.Len(t, collector.series, 6)
}

func compareGoldenMetrics(t *testing.T, path string, actual pmetric.Metrics) {
	t.Helper()
	if *updateGolden {
		require.NoError(t, golden.WriteMetrics(t, path, actual, golden.SkipMetricTimestampNormalization()))
	}
	expected, err := golden.ReadMetrics(path)
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(expected, actual,
		pmetrictest.IgnoreResourceMetricsOrder(), pmetrictest.IgnoreMetricsOrder(), pmetrictest.IgnoreMetricDataPointsOrder()))
}

func rewriteFile(t *testing.T, path, old, replacement string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(raw), old)
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(raw), old, replacement, 1)), 0o644))
}
