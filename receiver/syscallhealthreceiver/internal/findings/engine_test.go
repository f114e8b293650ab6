package findings

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

const engineMountInfo = `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:50 / /tmp/tiny rw - tmpfs tiny rw,size=64k
3 1 8:3 / /var rw - xfs /dev/sdc rw
`

type engineFixture struct {
	t      *testing.T
	engine *Engine
	clock  *testClock
	proc   *procFixture
}

func newEngineFixture(t *testing.T, configure func(*Config)) *engineFixture {
	t.Helper()
	cfg := NewDefaultConfig()
	if configure != nil {
		configure(&cfg)
	}
	proc := newProcFixture(t)
	for _, pid := range []uint32{1, 100, 101, 102, 103} {
		proc.processWithMountInfo(pid, "mnt:[4026531840]", engineMountInfo)
	}
	clock := newTestClock()
	e, err := NewEngine(cfg, Settings{UpdateInterval: 10 * time.Second, Host: proc.host, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return &engineFixture{t: t, engine: e, clock: clock, proc: proc}
}

func (f *engineFixture) evaluate() []Transition { return f.engine.Evaluate() }

// expect evaluates and checks the (kind, state, subject) of the transitions.
func (f *engineFixture) expect(want ...string) []Transition {
	f.t.Helper()
	got := f.engine.Evaluate()
	var gotKeys []string
	for _, tr := range got {
		gotKeys = append(gotKeys, tr.Kind.String()+" "+tr.State.String()+" "+tr.Subject.Name)
	}
	if strings.Join(gotKeys, "\n") != strings.Join(want, "\n") {
		f.t.Fatalf("at +%s transitions:\n  %s\nwant:\n  %s", f.clock.now.Sub(newTestClock().now), strings.Join(gotKeys, "\n  "), strings.Join(want, "\n  "))
	}
	return got
}

func (f *engineFixture) active(k Kind) int64 {
	for _, c := range f.engine.Active() {
		if c.Kind == k {
			return c.Active
		}
	}
	f.t.Fatalf("kind %s missing from Active()", k)
	return 0
}

func diskFull(pid uint32, syscall, path string, total uint64, at time.Time) Observation {
	return Observation{Time: at, PID: pid, Executable: "postgres", Syscall: syscall, Errno: "ENOSPC", Category: "file", Path: path, Total: total}
}

func refused(pid uint32, exe, container, peer string, total uint64, at time.Time) Observation {
	o := Observation{Time: at, PID: pid, Executable: exe, ContainerID: container, Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Total: total}
	if peer != "" {
		o.Peer = netip.MustParseAddrPort(peer)
	}
	return o
}

func TestLifecycleOpenOngoingResolved(t *testing.T) {
	f := newEngineFixture(t, nil)
	t0 := f.clock.Now()
	f.engine.ObserveEvent(diskFull(100, "openat", "/tmp/tiny/base/1234", 1, t0))
	if f.active(KindDiskFull) != 0 {
		t.Error("a finding is active before Evaluate applied the rules")
	}
	tr := f.expect("disk_full open /tmp/tiny")[0]
	if tr.Severity != SeverityError || tr.WindowCount != 1 || tr.TotalCount != 1 || tr.AffectedProcesses != 1 || tr.ID == "" {
		t.Errorf("open record: %+v", tr)
	}
	if tr.Subject.Mount.Source != "tiny" || tr.Subject.Mount.FSType != "tmpfs" || tr.Path != "/tmp/tiny/base/1234" {
		t.Errorf("subject mount = %+v, path %q; want the tiny tmpfs", tr.Subject.Mount, tr.Path)
	}
	if !tr.FirstSeen.Equal(t0) || !tr.LastSeen.Equal(t0) {
		t.Errorf("first/last seen = %s/%s, want %s", tr.FirstSeen, tr.LastSeen, t0)
	}
	id := tr.ID
	if f.active(KindDiskFull) != 1 {
		t.Error("active disk_full != 1 after open")
	}
	f.expect() // evaluating again at the same instant emits nothing

	// More failures: writes, whose missing path is taken from the same process's failed open,
	// and the rate limiter held some back. No record before the update interval.
	f.clock.Advance(2 * time.Second)
	f.engine.ObserveEvent(diskFull(100, "write", "", 4, f.clock.Now()))
	f.expect()
	f.clock.Advance(8 * time.Second)
	tr = f.expect("disk_full ongoing /tmp/tiny")[0]
	if tr.ID != id || tr.WindowCount != 5 || tr.TotalCount != 5 || tr.Rate != 5.0/60 || !tr.LastSeen.Equal(t0.Add(2*time.Second)) {
		t.Errorf("ongoing record: id %s (want %s), window %d, total %d, rate %v, last seen %s", tr.ID, id, tr.WindowCount, tr.TotalCount, tr.Rate, tr.LastSeen)
	}
	if got := strings.Join(tr.Syscalls, ","); got != "write,openat" {
		t.Errorf("syscalls by count = %s, want write,openat", got)
	}
	// Without new failures there is no ongoing record, however long it lasts.
	f.clock.Advance(30 * time.Second)
	f.expect()
	// The quiet period (60s) runs from the last failure at +2s.
	f.clock.Advance(21*time.Second + 999*time.Millisecond)
	f.expect()
	if f.active(KindDiskFull) != 1 {
		t.Error("finding not active during its quiet period")
	}
	f.clock.Advance(time.Millisecond)
	tr = f.expect("disk_full resolved /tmp/tiny")[0]
	if tr.ID != id || tr.Severity != SeverityInfo || tr.Resolution != ResolutionQuiet || tr.TotalCount != 5 {
		t.Errorf("resolved record: %+v", tr)
	}
	if f.active(KindDiskFull) != 0 {
		t.Error("resolved finding still active")
	}
	f.clock.Advance(time.Hour)
	f.expect()
}

func TestLifecycleResolvesAfterQuietPeriod(t *testing.T) {
	f := newEngineFixture(t, nil)
	t0 := f.clock.Now()
	f.engine.ObserveEvent(diskFull(100, "openat", "/tmp/tiny/a", 1, t0))
	id := f.expect("disk_full open /tmp/tiny")[0].ID
	f.clock.Advance(2 * time.Second)
	f.engine.ObserveEvent(diskFull(101, "openat", "/tmp/tiny/b", 4, f.clock.Now()))
	f.clock.Advance(8 * time.Second)
	f.expect("disk_full ongoing /tmp/tiny")
	f.clock.Advance(51*time.Second + 999*time.Millisecond) // just short of 60s after the last failure at +2s
	f.expect()
	f.clock.Advance(time.Millisecond)
	tr := f.expect("disk_full resolved /tmp/tiny")[0]
	if tr.ID != id || tr.Severity != SeverityInfo || tr.Resolution != ResolutionQuiet {
		t.Errorf("resolved record: %+v", tr)
	}
	if tr.TotalCount != 5 || tr.AffectedProcesses != 2 || tr.QuietPeriod != time.Minute {
		t.Errorf("resolved record covers the episode: total %d (want 5), affected %d (want 2), quiet %s", tr.TotalCount, tr.AffectedProcesses, tr.QuietPeriod)
	}
	if f.active(KindDiskFull) != 0 {
		t.Error("resolved finding still active")
	}
	f.clock.Advance(time.Hour)
	f.expect()

	// A new episode of the same subject gets a new ID.
	f.engine.ObserveEvent(diskFull(100, "openat", "/tmp/tiny/a", 2, f.clock.Now()))
	if tr := f.expect("disk_full open /tmp/tiny")[0]; tr.ID == id || tr.TotalCount != 1 {
		t.Errorf("new episode: id %s (old %s), total %d (want 1)", tr.ID, id, tr.TotalCount)
	}
}

func TestThresholdAndWindow(t *testing.T) {
	f := newEngineFixture(t, nil) // connection_refused: 5 failures within 60s
	peer := "127.0.0.1:5432"
	for i := uint64(1); i <= 4; i++ {
		f.engine.ObserveEvent(refused(100, "api", "", peer, i, f.clock.Now()))
		f.clock.Advance(time.Second)
	}
	f.expect()
	f.engine.ObserveEvent(refused(100, "api", "", peer, 5, f.clock.Now()))
	tr := f.expect("connection_refused open 127.0.0.1:5432")[0]
	if tr.Severity != SeverityWarn || tr.WindowCount != 5 {
		t.Errorf("open record: severity %s, window count %d", tr.Severity, tr.WindowCount)
	}

	// Failures spread wider than the window never trip the rule.
	f = newEngineFixture(t, nil)
	for i := uint64(1); i <= 20; i++ {
		f.engine.ObserveEvent(refused(100, "api", "", "10.0.0.5:80", i, f.clock.Now()))
		f.expect()
		f.clock.Advance(20 * time.Second)
	}

	// A configured threshold of 1 opens on the first failure.
	f = newEngineFixture(t, func(c *Config) { setRule(c, KindConnectionRefused, func(r *KindConfig) { r.Threshold = 1 }) })
	f.engine.ObserveEvent(refused(100, "api", "", peer, 1, f.clock.Now()))
	f.expect("connection_refused open 127.0.0.1:5432")
}

func TestDisabledKind(t *testing.T) {
	f := newEngineFixture(t, func(c *Config) { setRule(c, KindDiskFull, func(r *KindConfig) { r.Enabled = false }) })
	f.engine.ObserveEvent(diskFull(100, "openat", "/tmp/tiny/a", 1, f.clock.Now()))
	f.engine.ObserveCount(diskFull(100, "openat", "", 10, f.clock.Now()))
	f.expect()
	for _, c := range f.engine.Active() {
		if c.Kind == KindDiskFull {
			t.Error("disabled kind reported by Active")
		}
	}
}

func TestUnclassifiedFailuresIgnored(t *testing.T) {
	f := newEngineFixture(t, nil)
	for _, o := range []Observation{
		{PID: 100, Syscall: "openat", Errno: "ENOENT", Category: "file", Path: "/x", Total: 1},
		{PID: 100, Syscall: "connect", Errno: "EADDRINUSE", Category: "network", Total: 1},
		{PID: 100, Syscall: "write", Errno: "EAGAIN", Category: "file", Total: 1},
	} {
		f.engine.ObserveEvent(o)
	}
	f.expect()
	if len(f.engine.findings) != 0 || len(f.engine.series.byKey) != 0 {
		t.Errorf("unclassified failures tracked: %d findings, %d series", len(f.engine.findings), len(f.engine.series.byKey))
	}
}

// TestHysteresisFlapping: a failure every 70s with a 60s quiet period would open and
// resolve every time; the doubled quiet period keeps it open after the first flap.
func TestHysteresisFlapping(t *testing.T) {
	f := newEngineFixture(t, nil)
	opens, resolves := 0, 0
	var lastResolved Transition
	total := uint64(0)
	for i := 0; i < 26; i++ { // ~30 minutes
		total++
		f.engine.ObserveEvent(diskFull(100, "openat", "/var/lib/pg/x", total, f.clock.Now()))
		for step := 0; step < 7; step++ {
			for _, tr := range f.evaluate() {
				switch tr.State {
				case StateOpen:
					opens++
				case StateResolved:
					resolves++
				}
			}
			f.clock.Advance(10 * time.Second)
		}
	}
	if opens != 2 || resolves != 1 {
		t.Errorf("flapping every 70s for 30 minutes: %d opens, %d resolves; want 2 and 1", opens, resolves)
	}
	// Once the failures stop, it resolves after the doubled quiet period (2m).
	for range 30 {
		for _, tr := range f.evaluate() {
			if tr.State == StateResolved {
				lastResolved = tr
			}
		}
		f.clock.Advance(5 * time.Second)
	}
	if lastResolved.QuietPeriod != 2*time.Minute {
		t.Errorf("resolved after quiet period %s, want 2m", lastResolved.QuietPeriod)
	}
	// Remembered for max_quiet_period, then forgotten: the next episode starts without backoff.
	f.clock.Advance(10 * time.Minute)
	f.evaluate()
	total++
	f.engine.ObserveEvent(diskFull(100, "openat", "/var/lib/pg/x", total, f.clock.Now()))
	f.expect("disk_full open /var")
	f.clock.Advance(time.Minute)
	if tr := f.expect("disk_full resolved /var")[0]; tr.QuietPeriod != time.Minute {
		t.Errorf("after being forgotten the quiet period is %s, want 1m", tr.QuietPeriod)
	}
}

func TestQuietPeriodBackoff(t *testing.T) {
	f := newEngineFixture(t, nil)
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for flaps, w := range want {
		if got := f.engine.quietPeriod(flaps); got != w {
			t.Errorf("quietPeriod(%d) = %s, want %s", flaps, got, w)
		}
	}
	if got := f.engine.quietPeriod(200); got != 10*time.Minute {
		t.Errorf("quietPeriod(200) = %s, want the cap", got)
	}
}

func TestEvictionOfSubjects(t *testing.T) {
	f := newEngineFixture(t, func(c *Config) { c.MaxSubjects = 2 })
	bind := func(pid uint32, local string, total uint64) Observation {
		return Observation{Time: f.clock.Now(), PID: pid, Executable: "nginx", Syscall: "bind", Errno: "EADDRINUSE", Category: "network", Local: netip.MustParseAddrPort(local), Total: total}
	}
	f.engine.ObserveEvent(bind(100, "0.0.0.0:80", 1))
	f.clock.Advance(time.Second)
	f.engine.ObserveEvent(bind(101, "0.0.0.0:443", 1))
	f.expect("port_conflict open 0.0.0.0:443", "port_conflict open 0.0.0.0:80")
	f.clock.Advance(time.Second)
	f.engine.ObserveEvent(bind(102, "0.0.0.0:8080", 1))
	got := f.expect("port_conflict resolved 0.0.0.0:80", "port_conflict open 0.0.0.0:8080")
	if got[0].Resolution != ResolutionEvicted || !strings.HasPrefix(got[0].Body, "No longer tracked") {
		t.Errorf("evicted record: resolution %q, body %q", got[0].Resolution, got[0].Body)
	}
	if s := f.engine.Stats(); s.EvictedSubjects != 1 {
		t.Errorf("EvictedSubjects = %d, want 1", s.EvictedSubjects)
	}
	if len(f.engine.findings) != 2 {
		t.Errorf("%d subjects tracked, want max_subjects 2", len(f.engine.findings))
	}
}

func TestEvictionPrefersResolvedAndUntripped(t *testing.T) {
	f := newEngineFixture(t, func(c *Config) { c.MaxSubjects = 2 })
	f.engine.ObserveEvent(diskFull(100, "openat", "/var/a", 1, f.clock.Now()))
	f.expect("disk_full open /var")
	f.clock.Advance(time.Minute)
	f.expect("disk_full resolved /var")
	// An open finding, then an untripped connection_refused subject (1 of 5).
	f.engine.ObserveEvent(diskFull(101, "openat", "/tmp/tiny/a", 1, f.clock.Now()))
	f.expect("disk_full open /tmp/tiny")
	// A third subject: the resolved /var goes, silently.
	f.engine.ObserveEvent(refused(102, "api", "", "10.0.0.1:5432", 1, f.clock.Now()))
	f.expect()
	if _, ok := f.engine.findings[subjectKey{KindDiskFull, "/var"}]; ok {
		t.Fatal("the resolved finding was kept instead of evicted")
	}
	f.engine.ObserveEvent(refused(102, "api", "", "10.0.0.2:5432", 2, f.clock.Now()))
	f.expect()
	if f.active(KindDiskFull) != 1 {
		t.Error("the open finding was evicted while an untripped subject could go")
	}
	if s := f.engine.Stats(); s.EvictedSubjects != 2 {
		t.Errorf("EvictedSubjects = %d, want 2 (the resolved /var, then the first refused subject)", s.EvictedSubjects)
	}
}

func TestAffectedProcessesAndContainers(t *testing.T) {
	f := newEngineFixture(t, nil)
	peer := "127.0.0.1:5432"
	f.engine.ObserveEvent(refused(100, "api", "c0ffee", peer, 3, f.clock.Now()))
	f.engine.ObserveEvent(refused(101, "worker", "", peer, 2, f.clock.Now()))
	tr := f.expect("connection_refused open 127.0.0.1:5432")[0]
	if tr.AffectedProcesses != 2 || tr.AffectedContainers != 1 || len(tr.Samples) != 2 {
		t.Errorf("open: affected %d processes, %d containers, %d samples; want 2, 1, 2", tr.AffectedProcesses, tr.AffectedContainers, len(tr.Samples))
	}
	if !strings.Contains(tr.Body, "5 failed connection attempts by 2 processes in 1 container in the last 60s") {
		t.Errorf("body %q", tr.Body)
	}
	// A minute later only the worker still fails: the window counts one process.
	f.clock.Advance(61 * time.Second)
	f.engine.ObserveEvent(refused(101, "worker", "", peer, 3, f.clock.Now()))
	tr = f.expect("connection_refused ongoing 127.0.0.1:5432")[0]
	if tr.AffectedProcesses != 1 || tr.Samples[0].Executable != "worker" {
		t.Errorf("ongoing: affected %d (want 1), first sample %+v (want the worker)", tr.AffectedProcesses, tr.Samples[0])
	}
	f.clock.Advance(time.Minute)
	tr = f.expect("connection_refused resolved 127.0.0.1:5432")[0]
	if tr.AffectedProcesses != 2 || tr.AffectedContainers != 1 || tr.TotalCount != 6 {
		t.Errorf("resolved: affected %d, containers %d, total %d; want 2, 1, 6", tr.AffectedProcesses, tr.AffectedContainers, tr.TotalCount)
	}
}

func TestAffectedProcessesBounded(t *testing.T) {
	f := newEngineFixture(t, nil)
	for pid := uint32(1000); pid < 1000+3*maxTrackedProcesses; pid++ {
		f.engine.ObserveEvent(refused(pid, "client", "", "127.0.0.1:9", 1, f.clock.Now()))
	}
	fd := f.engine.findings[subjectKey{KindConnectionRefused, "127.0.0.1:9"}]
	if len(fd.processes) != maxTrackedProcesses {
		t.Errorf("%d processes remembered, want the bound %d", len(fd.processes), maxTrackedProcesses)
	}
	tr := f.expect("connection_refused open 127.0.0.1:9")[0]
	if tr.TotalCount != 3*maxTrackedProcesses {
		t.Errorf("total %d, want %d", tr.TotalCount, 3*maxTrackedProcesses)
	}
}

// TestEventAndCountPathsCountOnce feeds the same failures through both paths in the
// orders the receiver produces them.
func TestEventAndCountPathsCountOnce(t *testing.T) {
	peer := "127.0.0.1:5432"
	total := func(f *engineFixture, k Kind, subject string) uint64 {
		t.Helper()
		fd, ok := f.engine.findings[subjectKey{k, subject}]
		if !ok {
			t.Fatalf("no %s finding for %q", k, subject)
		}
		return fd.total
	}

	t.Run("events then the tracking map", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		for i := uint64(1); i <= 3; i++ {
			f.engine.ObserveEvent(refused(100, "api", "", peer, i, f.clock.Now()))
		}
		f.engine.ObserveCount(refused(100, "api", "", "", 3, f.clock.Now()))
		if got := total(f, KindConnectionRefused, peer); got != 3 {
			t.Errorf("total %d, want 3", got)
		}
	})

	t.Run("rate limited events", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		for i := uint64(1); i <= 20; i++ { // the burst
			f.engine.ObserveEvent(refused(100, "api", "", peer, i, f.clock.Now()))
		}
		// 100 suppressed, then one event: its error count covers them.
		f.engine.ObserveEvent(refused(100, "api", "", peer, 121, f.clock.Now()))
		if got := total(f, KindConnectionRefused, peer); got != 121 {
			t.Errorf("after the suppressed burst: total %d, want 121", got)
		}
		// The tracking map knows 29 more that no event reported yet.
		f.engine.ObserveCount(refused(100, "api", "", "", 150, f.clock.Now()))
		// A late event from before the map read adds nothing.
		f.engine.ObserveEvent(refused(100, "api", "", peer, 140, f.clock.Now()))
		if got := total(f, KindConnectionRefused, peer); got != 150 {
			t.Errorf("total %d, want exactly 150", got)
		}
		if tr := f.expect("connection_refused open 127.0.0.1:5432")[0]; tr.WindowCount != 150 {
			t.Errorf("window count %d, want 150", tr.WindowCount)
		}
	})

	t.Run("tracking map before the event", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		f.engine.ObserveCount(refused(100, "api", "", "", 6, f.clock.Now()))
		f.expect() // no destination yet: waiting for the event
		f.engine.ObserveEvent(refused(100, "api", "", peer, 2, f.clock.Now()))
		if got := total(f, KindConnectionRefused, peer); got != 6 {
			t.Errorf("total %d, want 6", got)
		}
		f.expect("connection_refused open 127.0.0.1:5432")
	})

	t.Run("tracking map only", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		f.engine.ObserveCount(refused(100, "api", "", "", 7, f.clock.Now()))
		f.clock.Advance(9 * time.Second)
		f.expect()
		f.clock.Advance(time.Second) // one update interval without an event: attribute anyway
		tr := f.expect("connection_refused open unknown address (api)")[0]
		if tr.TotalCount != 7 {
			t.Errorf("total %d, want 7", tr.TotalCount)
		}
	})

	t.Run("process subjects need no event", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		emfile := Observation{Time: f.clock.Now(), PID: 100, Executable: "api", Syscall: "openat", Errno: "EMFILE", Category: "file", Total: 42}
		f.engine.ObserveCount(emfile)
		tr := f.expect("fd_exhaustion open pid 100 (api)")[0]
		if tr.TotalCount != 42 {
			t.Errorf("total %d, want 42", tr.TotalCount)
		}
	})

	t.Run("exited process and reused pid", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		for i := uint64(1); i <= 10; i++ {
			f.engine.ObserveEvent(refused(100, "api", "", peer, i, f.clock.Now()))
		}
		f.engine.ForgetProcess(100)
		// A late event of the exited process adds nothing.
		f.engine.ObserveEvent(refused(100, "api", "", peer, 9, f.clock.Now()))
		// A new process with the same pid fails 12 times; its events arrive before the map read.
		for i := uint64(1); i <= 12; i++ {
			f.engine.ObserveEvent(refused(100, "api2", "", peer, i, f.clock.Now()))
		}
		f.engine.ObserveCount(Observation{Time: f.clock.Now(), PID: 100, Executable: "api2", Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Total: 12, FirstSeenNs: 5000})
		f.engine.ObserveEvent(refused(100, "api2", "", peer, 13, f.clock.Now()))
		if got := total(f, KindConnectionRefused, peer); got != 23 {
			t.Errorf("total %d, want 10 + 13", got)
		}
	})

	t.Run("exited process whose series was not deleted", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		count := Observation{Time: f.clock.Now(), PID: 100, Executable: "api", Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Peer: netip.MustParseAddrPort(peer), Total: 8, FirstSeenNs: 1000}
		f.engine.ObserveCount(count)
		f.engine.ForgetProcess(100)
		// DeleteCounts failed: the next map read reports the same series again.
		f.engine.ObserveCount(count)
		f.engine.ForgetProcess(100)
		if got := total(f, KindConnectionRefused, peer); got != 8 {
			t.Errorf("total %d, want 8", got)
		}
		// Deleted at last, then a new process with the pid fails twice.
		count.Total, count.FirstSeenNs = 2, 7000
		f.engine.ObserveCount(count)
		if got := total(f, KindConnectionRefused, peer); got != 10 {
			t.Errorf("total %d, want 8 + 2", got)
		}
	})

	t.Run("kernel recreated the series", func(t *testing.T) {
		f := newEngineFixture(t, nil)
		f.engine.ObserveEvent(refused(100, "api", "", peer, 1, f.clock.Now()))
		f.engine.ObserveCount(Observation{Time: f.clock.Now(), PID: 100, Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Total: 50, FirstSeenNs: 1000})
		f.engine.ObserveCount(Observation{Time: f.clock.Now(), PID: 100, Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Total: 50, FirstSeenNs: 1000})
		f.engine.ObserveCount(Observation{Time: f.clock.Now(), PID: 100, Syscall: "connect", Errno: "ECONNREFUSED", Category: "network", Total: 5, FirstSeenNs: 9000})
		if got := total(f, KindConnectionRefused, peer); got != 55 {
			t.Errorf("total %d, want 55", got)
		}
	})
}

func TestSeriesEviction(t *testing.T) {
	f := newEngineFixture(t, nil)
	f.engine.series = newSeriesTable(2)
	f.engine.ObserveCount(refused(100, "api", "", "", 2, f.clock.Now())) // pending: no destination
	f.engine.ObserveEvent(refused(101, "api", "", "127.0.0.1:1", 1, f.clock.Now()))
	f.engine.ObserveEvent(refused(102, "api", "", "127.0.0.1:2", 1, f.clock.Now()))
	if s := f.engine.Stats(); s.EvictedSeries != 1 {
		t.Errorf("EvictedSeries = %d, want 1", s.EvictedSeries)
	}
	// The evicted series' pending failures were attributed, not lost.
	if fd, ok := f.engine.findings[subjectKey{KindConnectionRefused, "unknown address (api)"}]; !ok || fd.total != 2 {
		t.Errorf("pending failures of the evicted series lost: %+v", fd)
	}
	if len(f.engine.pending) != 0 {
		t.Errorf("%d series still pending", len(f.engine.pending))
	}
}

func TestPathlessWriteFindsFullFilesystem(t *testing.T) {
	f := newEngineFixture(t, nil)
	probe := probeStub{files: map[uint32][]hostfs.OpenFile{
		100: {{MountID: 3, Regular: true}, {MountID: 2, Regular: true, Full: true}},
	}}
	f.engine.resolver = newSubjectResolver(f.proc.host, probe, f.clock)
	f.engine.ObserveEvent(diskFull(100, "write", "", 1, f.clock.Now()))
	f.engine.ObserveEvent(diskFull(103, "write", "", 1, f.clock.Now())) // no open files known
	f.expect("disk_full open /tmp/tiny", "disk_full open unknown filesystem (postgres)")
}

const procLimits = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             %s                   %s                   processes
Max open files            1024                 1048576              files
`

func TestProcessLimitSubjects(t *testing.T) {
	cg := newCgroupFixture(t, hybridMounts)
	cg.proc.write(100, "cgroup", "8:pids:/ci\n0::/\n")
	cg.file("pids/ci/pids.max", "16\n")
	cg.file("pids/ci/pids.current", "16\n")
	for _, pid := range []uint32{101, 102, 103} {
		cg.proc.write(pid, "cgroup", "8:pids:/user.slice\n0::/\n")
	}
	cg.proc.write(101, "limits", fmt.Sprintf(procLimits, "64", "64"))
	cg.proc.write(102, "limits", fmt.Sprintf(procLimits, "unlimited", "unlimited"))
	cg.proc.write(103, "limits", fmt.Sprintf(procLimits, "64", "64")) // root: the kernel ignores RLIMIT_NPROC
	f := newEngineFixture(t, nil)
	f.engine.resolver = newSubjectResolver(cg.proc.host, probeStub{}, f.clock)
	fork := func(pid, uid uint32, exe string) Observation {
		return Observation{Time: f.clock.Now(), PID: pid, UID: uid, Executable: exe, Syscall: "clone", Errno: "EAGAIN", Category: "process", Total: 1}
	}
	f.engine.ObserveEvent(fork(100, 0, "sh"))
	f.engine.ObserveEvent(fork(101, 1000, "make"))
	f.engine.ObserveEvent(fork(102, 1000, "bash"))
	f.engine.ObserveEvent(fork(103, 0, "init"))
	got := f.expect("process_limit open cgroup /ci", "process_limit open uid 1000", "process_limit open unknown limit (bash)", "process_limit open unknown limit (init)")
	if got[0].Subject.Limit != 16 || !strings.HasPrefix(got[0].Body, "Cgroup /ci is at its pids limit (pids.max 16) (EAGAIN): 1 failed fork by sh (pid 100)") {
		t.Errorf("cgroup finding: limit %d, body %q", got[0].Subject.Limit, got[0].Body)
	}
	if !strings.HasPrefix(got[1].Body, "User 1000 has reached its process limit (RLIMIT_NPROC 64) (EAGAIN)") {
		t.Errorf("user finding body %q", got[1].Body)
	}
	if !strings.HasPrefix(got[2].Body, "Forks fail (bash) at a task limit that no longer held when checked (EAGAIN)") {
		t.Errorf("unknown limit body %q", got[2].Body)
	}
}

// TestProcessLimitKeepsConfirmedCgroup: a fork that fails again after the cgroup fell
// below its limit (the children exited before the engine looked) stays with the cgroup.
func TestProcessLimitKeepsConfirmedCgroup(t *testing.T) {
	cg := newCgroupFixture(t, hybridMounts)
	cg.proc.write(100, "cgroup", "8:pids:/ci\n0::/\n")
	cg.file("pids/ci/pids.max", "3\n")
	cg.file("pids/ci/pids.current", "3\n")
	f := newEngineFixture(t, nil)
	f.engine.resolver = newSubjectResolver(cg.proc.host, probeStub{}, f.clock)
	fork := func(total uint64) Observation {
		return Observation{Time: f.clock.Now(), PID: 100, Executable: "bash", Syscall: "clone", Errno: "EAGAIN", Category: "process", Total: total}
	}
	f.engine.ObserveEvent(fork(1))
	cg.file("pids/ci/pids.current", "1\n")
	f.engine.ObserveEvent(fork(2))
	tr := f.expect("process_limit open cgroup /ci")[0]
	if tr.TotalCount != 2 {
		t.Errorf("total %d, want 2", tr.TotalCount)
	}
}

func TestHostTaskLimit(t *testing.T) {
	proc := newProcFixture(t)
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(proc.root, "proc", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/kernel/threads-max", "4000\n")
	write("sys/kernel/pid_max", "32768\n")
	write("loadavg", "0.50 0.40 0.30 2/3000 4567\n")
	r := newSubjectResolver(proc.host, probeStub{}, newTestClock())
	if limit, ok := r.hostTaskLimit(); ok {
		t.Errorf("3000 of 4000 tasks: host blamed (limit %d)", limit)
	}
	write("loadavg", "9.50 4.40 1.30 40/3990 31000\n")
	limit, ok := r.hostTaskLimit()
	if !ok || limit != 4000 {
		t.Errorf("3990 of 4000 tasks: limit %d, %v; want 4000, true", limit, ok)
	}
	f := newEngineFixture(t, nil)
	f.engine.resolver = newSubjectResolver(proc.host, probeStub{}, f.clock)
	f.engine.ObserveEvent(Observation{Time: f.clock.Now(), PID: 100, UID: 1000, Executable: "sh", Syscall: "fork", Errno: "EAGAIN", Category: "process", Total: 1})
	tr := f.expect("process_limit open host")[0]
	if !strings.HasPrefix(tr.Body, "The host has run out of tasks (limit 4000 from kernel.threads-max, kernel.pid_max) (EAGAIN)") {
		t.Errorf("body %q", tr.Body)
	}
}

func TestSubjectsPerKind(t *testing.T) {
	f := newEngineFixture(t, func(c *Config) {
		setRule(c, KindPermissionDenied, func(r *KindConfig) { r.Threshold = 1 })
		setRule(c, KindMemoryExhaustion, func(r *KindConfig) { r.Threshold = 1 })
		setRule(c, KindConnectionTimeout, func(r *KindConfig) { r.Threshold = 1 })
		setRule(c, KindNetworkUnreachable, func(r *KindConfig) { r.Threshold = 1 })
	})
	now := f.clock.Now()
	for _, o := range []Observation{
		{PID: 100, Executable: "cp", Syscall: "write", Errno: "EROFS", Category: "file", Path: "/var/log/x"},
		{PID: 100, Executable: "cp", Syscall: "openat", Errno: "EIO", Category: "file", Path: "/tmp/tiny/x"},
		{PID: 100, Executable: "api", Syscall: "accept4", Errno: "ENFILE", Category: "network"},
		{PID: 101, Executable: "java", ContainerID: "abcdef0123456789", Syscall: "mmap", Errno: "ENOMEM", Category: "memory"},
		{PID: 100, Executable: "api", Syscall: "connect", Errno: "ETIMEDOUT", Category: "network", Peer: netip.MustParseAddrPort("10.0.0.5:5432")},
		{PID: 100, Executable: "api", Syscall: "connect", Errno: "EHOSTUNREACH", Category: "network", Peer: netip.MustParseAddrPort("[2001:db8::1]:443")},
		{PID: 100, Executable: "nginx", Syscall: "openat", Errno: "EACCES", Category: "file", Path: "/etc/ssl/private/key.pem"},
		{PID: 102, Executable: "web", Syscall: "bind", Errno: "EACCES", Category: "network", Local: netip.MustParseAddrPort("0.0.0.0:80")},
	} {
		o.Time, o.Total = now, 1
		f.engine.ObserveEvent(o)
	}
	got := f.expect(
		"read_only_filesystem open /var",
		"io_error open /tmp/tiny",
		"fd_exhaustion open host",
		"memory_exhaustion open pid 101 (java)",
		"connection_timeout open 10.0.0.5:5432",
		"network_unreachable open [2001:db8::1]:443",
		"permission_denied open /etc/ssl/private/key.pem (nginx)",
		"permission_denied open 0.0.0.0:80 (web)",
	)
	wantBodies := []string{
		"Read-only filesystem at /var (EROFS): 1 failed write by cp (pid 100) in the last 60s",
		"I/O errors on /tmp/tiny (EIO): 1 failed open by cp (pid 100) in the last 60s",
		"The host has run out of file descriptors (ENFILE): 1 failed accept by api (pid 100) in the last 60s",
		"Process java (pid 101) in container abcdef012345 cannot allocate memory (ENOMEM): 1 failed memory mapping in the last 60s",
		"Connections to 10.0.0.5:5432 time out (ETIMEDOUT): 1 failed connection attempt by api (pid 100) in the last 60s",
		"[2001:db8::1]:443 is unreachable (EHOSTUNREACH): 1 failed connection attempt by api (pid 100) in the last 60s",
		"Permission denied to nginx on /etc/ssl/private/key.pem (EACCES): 1 failed open by nginx (pid 100) in the last 60s",
		"Permission denied to web on 0.0.0.0:80 (EACCES): 1 failed bind by web (pid 102) in the last 60s; ports below 1024 need CAP_NET_BIND_SERVICE",
	}
	for i, want := range wantBodies {
		if !strings.HasPrefix(got[i].Body, want) {
			t.Errorf("%s body:\n  %q\nwant prefix\n  %q", got[i].Kind, got[i].Body, want)
		}
	}
}

func TestActiveCountsPerKind(t *testing.T) {
	f := newEngineFixture(t, nil)
	f.engine.ObserveEvent(diskFull(100, "openat", "/tmp/tiny/a", 1, f.clock.Now()))
	f.engine.ObserveEvent(diskFull(100, "openat", "/var/a", 2, f.clock.Now()))
	f.evaluate()
	active := f.engine.Active()
	if len(active) != len(Kinds()) {
		t.Fatalf("Active() has %d kinds, want every enabled kind (%d), zeros included", len(active), len(Kinds()))
	}
	for _, c := range active {
		want := int64(0)
		if c.Kind == KindDiskFull {
			want = 2
		}
		if c.Active != want {
			t.Errorf("%s active = %d, want %d", c.Kind, c.Active, want)
		}
	}
}

func TestObservationTimesClamped(t *testing.T) {
	f := newEngineFixture(t, nil)
	// A failure stamped in the future (clock skew) or without time counts now.
	f.engine.ObserveEvent(diskFull(100, "openat", "/var/a", 1, f.clock.Now().Add(time.Hour)))
	f.engine.ObserveEvent(diskFull(100, "openat", "/var/a", 2, time.Time{}))
	tr := f.expect("disk_full open /var")[0]
	if !tr.LastSeen.Equal(f.clock.Now()) || tr.WindowCount != 2 {
		t.Errorf("last seen %s (want %s), window count %d (want 2)", tr.LastSeen, f.clock.Now(), tr.WindowCount)
	}
}

func TestConcurrentFeeding(t *testing.T) {
	cfg := NewDefaultConfig()
	e, err := NewEngine(cfg, Settings{Host: hostfs.New(t.TempDir(), time.Minute, nil)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(1); i <= 500; i++ {
				o := refused(uint32(100+w), "api", "", "127.0.0.1:5432", i, time.Now())
				if w%2 == 0 {
					e.ObserveEvent(o)
				} else {
					e.ObserveCount(o)
				}
				if i%100 == 0 {
					e.Evaluate()
					e.Active()
				}
			}
		}()
	}
	wg.Wait()
	if fd := e.findings[subjectKey{KindConnectionRefused, "127.0.0.1:5432"}]; fd == nil || fd.total != 2000 || fd.distinctProcesses != 4 {
		t.Errorf("four processes' failures, two fed as events and two as counts, not counted exactly (2000)")
	}
}

func TestNewEngineRejectsInvalidConfig(t *testing.T) {
	cfg := NewDefaultConfig()
	setRule(&cfg, KindPortConflict, func(r *KindConfig) { r.Window = 0 })
	_, err := NewEngine(cfg, Settings{})
	if err == nil || !strings.Contains(err.Error(), "kinds::port_conflict: window must be at least 1s") {
		t.Errorf("NewEngine error = %v", err)
	}
}
