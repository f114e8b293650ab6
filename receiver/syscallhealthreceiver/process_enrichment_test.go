//go:build linux

package syscallhealthreceiver

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

const postgresContainer = "3f4b2c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"

// testUsers stands in for /etc/passwd so the results do not depend on the machine running the tests.
var testUsers = map[uint32]string{0: "root", 33: "www-data", 999: "postgres", 1000: "deploy"}

// copyProcFixture copies testdata/proc (files and exe symlinks) so a test can change it, and returns the
// root the copy is the proc directory of.
func copyProcFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, "proc")
	src := filepath.Join("testdata", "proc")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		default:
			raw, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, raw, 0o644)
		}
	})
	require.NoError(t, err)
	return root
}

type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

// newTestProcessCache reads the proc directory under root.
func newTestProcessCache(root string, readCommandArgs bool, clock *testClock) *processCache {
	c := newProcessCache(hostfs.New(root, time.Minute, nil), readCommandArgs)
	c.now = clock.Now
	c.lookupUser = func(uid uint32) string { return testUsers[uid] }
	return c
}

func TestProcessEnrichmentFromProc(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache("testdata", false, clock)

	p := cache.forEvent(&bpf.Event{PID: 4242, TID: 4243, PPID: 1, UID: 999, Comm: "postgres: walwr", CgroupID: 77})
	assert.Equal(t, uint32(4242), p.PID)
	assert.Equal(t, uint32(1), p.PPID)
	assert.Equal(t, "postgres", p.ExecutableName, "the base name of /proc/<pid>/exe, not the thread's name")
	assert.Equal(t, "/usr/lib/postgresql/16/bin/postgres", p.ExecutablePath)
	assert.Equal(t, postgresContainer, p.ContainerID)
	assert.Equal(t, "postgres", p.UserName)
	assert.True(t, p.RealUIDKnown)
	assert.Equal(t, uint32(999), p.RealUID)
	assert.True(t, p.EffectiveUIDKnown)
	assert.Equal(t, uint32(999), p.EffectiveUID)
	assert.Equal(t, "postgres", p.Command)
	// btime 1700000000 (testdata/proc/stat) plus 812345 ticks of 10 ms.
	assert.Equal(t, "2023-11-15T00:28:43.450Z", p.CreationTime)
	assert.Empty(t, p.CommandArgs, "command lines are read only when enabled")

	withCmdline := newTestProcessCache("testdata", true, clock)
	p = withCmdline.forEvent(&bpf.Event{PID: 4300, UID: 1000, Comm: "api"})
	assert.Equal(t, []string{"/app/api", "--db=postgres://app:s3cret@10.0.0.5:5432/app"}, p.CommandArgs, "argv as the process received it, never joined")
	// A set-user-ID binary: the effective user (process.user.id) is not the real one (process.real_user.id).
	assert.Equal(t, uint32(1000), p.RealUID)
	assert.Equal(t, uint32(0), p.EffectiveUID)
	assert.Equal(t, "root", p.UserName, "the effective user's name")
	assert.Equal(t, "2023-11-15T00:45:30.000Z", p.CreationTime)
	assert.Equal(t, "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d", p.ContainerID)
	assert.Equal(t, uint32(4290), p.PPID)
}

func TestProcessEnrichmentOfExitedProcess(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache("testdata", true, clock)

	// A container's process is seen first; its cgroup is remembered.
	cache.forEvent(&bpf.Event{PID: 4242, UID: 999, Comm: "postgres", CgroupID: 77})

	// PID 5000 exited before the event was read: what the kernel sent is all there is, plus the container
	// of its cgroup if another process of that cgroup was seen.
	p := cache.forEvent(&bpf.Event{PID: 5000, PPID: 4242, UID: 1000, Comm: "worker", CgroupID: 77})
	// The kernel's comm names it for people, but is not posed as its executable; without /proc the effective
	// user is unknown (the creation time comes with the kernel's start of the process, not in this event).
	assert.Equal(t, &processInfo{PID: 5000, PPID: 4242, RealUID: 1000, RealUIDKnown: true, Command: "worker",
		ContainerID: postgresContainer, workloadKnown: true, leaderComm: "worker"}, p)

	p = cache.forEvent(&bpf.Event{PID: 5001, PPID: 1, UID: 0, Comm: "cron", CgroupID: 12})
	assert.Equal(t, &processInfo{PID: 5001, PPID: 1, RealUID: 0, RealUIDKnown: true, Command: "cron", leaderComm: "cron"}, p)

	assert.True(t, cache.exited(5000, 0))
	assert.False(t, cache.exited(4242, 0))

	// Counts of a process never seen in an event and gone: only the PID is known.
	assert.Equal(t, &processInfo{PID: 6000}, cache.forPID(6000))
	// Its workload too, once an event of its cgroup was read.
	p, known := cache.forCounts(6001, 0, 12345)
	assert.False(t, known)
	assert.Equal(t, &processInfo{PID: 6001}, p)
	p, known = cache.forCounts(6002, 0, 77)
	assert.True(t, known)
	assert.Equal(t, postgresContainer, p.ContainerID)
}

// The kernel's cgroup of an event wins over /proc: the process may have moved or exited.
func TestProcessEnrichmentFromKernelCgroup(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache("testdata", false, clock)
	const pod, container = "0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e", "4b825dc642cb6eb9a060e54bf8d69288fbee4904a1b2c3d4e5f60718293a4b5c"
	p := cache.forEvent(&bpf.Event{PID: 7000, UID: 1000, Comm: "job", CgroupID: 88,
		CgroupPath: "/kubepods/besteffort/pod" + pod + "/" + container})
	assert.Equal(t, container, p.ContainerID)
	assert.Equal(t, pod, p.PodUID)
	// An asynchronous failure of the cgroup carries no path: its id tells.
	p = cache.forEvent(&bpf.Event{PID: 7001, UID: 1000, Comm: "job", CgroupID: 88})
	assert.Equal(t, pod, p.PodUID)
	p, known := cache.forCounts(7002, 0, 88)
	assert.True(t, known)
	assert.Equal(t, container, p.ContainerID)
}

func TestProcessEnrichmentNoticesReuseAndExec(t *testing.T) {
	root := copyProcFixture(t)
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache(root, false, clock)
	ev := &bpf.Event{PID: 4400, UID: 33, Comm: "nginx"}

	first := cache.forEvent(ev)
	assert.Equal(t, "nginx", first.ExecutableName)
	assert.Empty(t, first.ContainerID)

	// The PID is reused by another process (new start time) with another executable.
	stat := filepath.Join(root, "proc", "4400", "stat")
	raw, err := os.ReadFile(stat)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stat, []byte(strings.Replace(string(raw), " 700000 ", " 990000 ", 1)), 0o644))
	require.NoError(t, os.Remove(filepath.Join(root, "proc", "4400", "exe")))
	require.NoError(t, os.Symlink("/usr/bin/python3.12", filepath.Join(root, "proc", "4400", "exe")))

	assert.Same(t, first, cache.forEvent(ev), "within revalidateAfter /proc is not read again")
	assert.True(t, cache.exited(4400, 0), "the process the cache knew is gone: its PID has a new start time")

	clock.now = clock.now.Add(revalidateAfter)
	reused := cache.forEvent(ev)
	assert.NotSame(t, first, reused)
	assert.Equal(t, "python3.12", reused.ExecutableName)
	assert.False(t, cache.exited(4400, 0))

	// exec keeps the start time but changes the leader's name: the new program's failures read /proc again,
	// a failure from before the exec (still queued) keeps the program that failed.
	raw, err = os.ReadFile(stat)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(stat, []byte(strings.Replace(string(raw), "(nginx)", "(gunicorn)", 1)), 0o644))
	clock.now = clock.now.Add(revalidateAfter)
	after := &bpf.Event{PID: 4400, UID: 33, Comm: "gunicorn"}
	execed := cache.forEvent(after)
	assert.NotSame(t, reused, execed)
	assert.Same(t, reused, cache.forEvent(ev), "a failure from before the exec is the program that failed")

	// Nothing changed: the entry is kept.
	clock.now = clock.now.Add(revalidateAfter)
	assert.Same(t, execed, cache.forEvent(after))
}

// TestProcessAsItWas: a process that failed as sh and exec'd sleep before /proc was read is reported as
// the kernel saw it at the failure, without what /proc now says of sleep.
func TestProcessAsItWas(t *testing.T) {
	root := copyProcFixture(t)
	dir := filepath.Join(root, "proc", "4400")
	raw, err := os.ReadFile(filepath.Join(dir, "stat"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(strings.Replace(string(raw), "(nginx)", "(sleep)", 1)), 0o644))
	require.NoError(t, os.Remove(filepath.Join(dir, "exe")))
	require.NoError(t, os.Symlink("/usr/bin/sleep", filepath.Join(dir, "exe")))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte("sleep\x0060\x00"), 0o644))
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache(root, true, clock)

	// The kernel sends the process's start: 700000 ticks after boot, as its /proc/<pid>/stat says.
	const started = 700000 * uint64(time.Second/clockTicksPerSecond)
	failed := &bpf.Event{PID: 4400, TID: 4400, PPID: 4399, UID: 1000, Comm: "sh", ProcessStartNs: started}
	p := cache.forEvent(failed)
	assert.Equal(t, "sh", p.Command)
	assert.Empty(t, p.ExecutableName, "the executable now is sleep's")
	assert.Empty(t, p.ExecutablePath, "the executable now is sleep's")
	assert.Empty(t, p.CommandArgs, "the command line now is sleep's")
	assert.False(t, p.EffectiveUIDKnown, "the effective user now is sleep's")
	assert.Equal(t, uint32(4399), p.PPID)
	assert.Equal(t, uint32(1000), p.RealUID)
	assert.Equal(t, cache.creationTime(700000), p.CreationTime, "the kernel's start of the process, which exec keeps")
	assert.Same(t, p, cache.forEvent(failed), "the same failing program again: remembered")

	now := cache.forEvent(&bpf.Event{PID: 4400, TID: 4400, PPID: 4399, UID: 1000, Comm: "sleep", ProcessStartNs: started})
	assert.Equal(t, "/usr/bin/sleep", now.ExecutablePath, "a failure of the new program is described by /proc")
	assert.Equal(t, []string{"sleep", "60"}, now.CommandArgs)
	assert.Same(t, p, cache.forEvent(failed), "and the old one's still queued failures keep the old program")
}

func TestProcessEnrichmentSurvivesProcRaces(t *testing.T) {
	root := copyProcFixture(t)
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache(root, true, clock)

	// Files emptied or cut short by a process exiting while they are read.
	for _, name := range []string{"stat", "status", "cmdline", "cgroup"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, "proc", "4500", name), nil, 0o644))
	}
	require.NoError(t, os.Remove(filepath.Join(root, "proc", "4500", "exe")))
	p := cache.forEvent(&bpf.Event{PID: 4500, PPID: 4490, UID: 1000, Comm: "java"})
	assert.Equal(t, &processInfo{PID: 4500, PPID: 4490, RealUID: 1000, RealUIDKnown: true, Command: "java", leaderComm: "java"}, p)

	// A stat line cut in the middle.
	require.NoError(t, os.WriteFile(filepath.Join(root, "proc", "4300", "stat"), []byte("4300 (api) S 4290 43"), 0o644))
	p = cache.forPID(4300)
	assert.Equal(t, &processInfo{PID: 4300}, p)
	assert.True(t, cache.exited(4300, 0))
}

func TestProcessCacheIsBounded(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	cache := newTestProcessCache(t.TempDir(), false, clock)
	for pid := uint32(1); pid <= processCacheSize+10; pid++ {
		cache.forEvent(&bpf.Event{PID: pid, Comm: "p" + strconv.Itoa(int(pid))})
	}
	assert.Len(t, cache.byPID, processCacheSize)
	assert.Equal(t, processCacheSize, cache.recency.Len())
	assert.NotContains(t, cache.byPID, uint32(1), "the least recently used process is forgotten first")
	assert.Contains(t, cache.byPID, uint32(processCacheSize+10))

	cache.forget(processCacheSize + 10)
	assert.NotContains(t, cache.byPID, uint32(processCacheSize+10))
	assert.Equal(t, processCacheSize-1, cache.recency.Len())
}

func TestCommandArgsOnlyWhenEnabled(t *testing.T) {
	clock := &testClock{now: time.Unix(1_700_000_000, 0)}
	p := newTestProcessCache("testdata", true, clock).forEvent(&bpf.Event{PID: 4300, UID: 1000, Comm: "api"})
	require.NotEmpty(t, p.CommandArgs)

	cfg := createDefaultConfig()
	res := processResource(metadata.NewResourceBuilder(cfg.ResourceAttributes), hostInfo{}, p)
	_, ok := res.Attributes().Get("process.command_args")
	assert.False(t, ok, "off by default: command lines can hold secrets")

	cfg.ResourceAttributes.ProcessCommandArgs.Enabled = true
	res = processResource(metadata.NewResourceBuilder(cfg.ResourceAttributes), hostInfo{}, p)
	v, ok := res.Attributes().Get("process.command_args")
	require.True(t, ok)
	assert.Equal(t, []any{"/app/api", "--db=postgres://app:s3cret@10.0.0.5:5432/app"}, v.Slice().AsRaw())
	for key, want := range map[string]any{"process.user.id": int64(0), "process.real_user.id": int64(1000), "process.user.name": "root",
		"process.creation.time": "2023-11-15T00:45:30.000Z", "process.executable.name": "api"} {
		got, ok := res.Attributes().Get(key)
		if assert.True(t, ok, key) {
			assert.Equal(t, want, got.AsRaw(), key)
		}
	}
}
