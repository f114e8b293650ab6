//go:build linux

package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// TestHungFilesystemStallsNothing fails a process on a real FUSE filesystem whose server answers that
// process (creating a file: ENOSPC) and nobody else: the collector's own lookups of the failing path hang
// for good, as on a dead NFS or sshfs mount. The failure must still become a record and a finding, the
// metrics must keep coming every collection_interval, other findings must still open, and the collector
// must stop promptly, all while the filesystem still hangs (it is aborted through fusectl at cleanup).
//
// It also checks the process as it was: a process whose failure waits behind the hung lookup (the
// enricher is stuck on it for the lookup deadline) exec's sleep meanwhile; its record must describe the
// program that failed (the kernel's name), not sleep.
func TestHungFilesystemStallsNothing(t *testing.T) {
	requireCollector(t)
	requireHangingFSTools(t)
	triggerPath := triggertest.Build(t)
	work := t.TempDir()
	output := filepath.Join(work, "output.json")
	collector := startCollector(t, withCommandArgs(t, findingsConfig), output)

	hung := mountHangingFS(t)
	// The process failing on the filesystem runs in the filesystem's mount namespace, the only one that has it.
	onFUSE := startScript(t, []string{"nsenter", "--mount=" + hung.namespace, "--"},
		"read _; echo x > "+hung.dir+"/f; read _; echo x > "+hung.dir+"/d/g; read _")
	hung.answer(onFUSE.pid)
	// A process of uid 65534 failing to open a root-only file, then exec'ing sleep.
	secret := filepath.Join(work, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("root only"), 0o600))
	require.NoError(t, os.Chmod(work, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	execs := startScript(t, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"},
		"read _; echo x > "+secret+"; exec sleep 60")

	started := time.Now()
	onFUSE.proceed(t)
	require.Eventually(t, func() bool { return hung.created.Load() > 0 }, 10*time.Second, 5*time.Millisecond,
		"the workload's create never reached the FUSE server")
	execs.proceed(t) // its event now queues behind the hung lookup of the first one

	// The failure on the hung filesystem becomes a record and a disk_full finding about that filesystem.
	var record logRecord
	waitOutput(t, output, collector, "the record of the failure on the hung filesystem", func(logs []logRecord, _ []dataPoint) bool {
		for _, lr := range logs {
			pid, _ := lr.resource.Get("process.pid")
			if path, _ := lr.record.Attributes().Get("file.path"); pid.Int() == int64(onFUSE.pid) && path.Str() == hung.dir+"/f" {
				record = lr
				return true
			}
		}
		return false
	})
	t.Logf("record of the failure on the hung filesystem after %s", time.Since(started).Round(time.Millisecond))
	assert.Equal(t, "ENOSPC", record.record.Attributes().AsRaw()["error.type"])
	finding := waitForFinding(t, output, collector, "disk_full on the hung filesystem", func(f findingRecord) bool {
		return f.kind == "disk_full" && f.state == "open" && strings.HasPrefix(f.subject, hung.dir+" (mount namespace ")
	})
	t.Logf("disk_full finding %q after %s", finding.subject, time.Since(started).Round(time.Millisecond))
	assert.Equal(t, hung.dir, finding.record.Attributes().AsRaw()["system.filesystem.mountpoint"])
	require.Positive(t, hung.unanswered.Load(), "the collector's lookup never reached the FUSE server")
	waitOutput(t, output, collector, "a lookup_timeout in syscallhealth.lookups.failed", func(_ []logRecord, points []dataPoint) bool {
		return latestValueWith(points, "syscallhealth.lookups.failed", "syscallhealth.lookup.reason", "lookup_timeout") >= 1
	})
	// A second failure there is not looked up again (the filesystem is known unresponsive): counted, and its
	// record goes out without waiting for a deadline. It creates in a subdirectory: the collector's lookup
	// stuck in the root holds the root's lock, which a create there would wait for (as on any hung mount).
	again := time.Now()
	onFUSE.proceed(t)
	waitOutput(t, output, collector, "the record of the second failure on the hung filesystem", func(logs []logRecord, points []dataPoint) bool {
		return latestValueWith(points, "syscallhealth.lookups.failed", "syscallhealth.lookup.reason", "filesystem_unresponsive") >= 1 &&
			slices.ContainsFunc(logs, func(lr logRecord) bool {
				path, _ := lr.record.Attributes().Get("file.path")
				return path.Str() == hung.dir+"/d/g"
			})
	})
	t.Logf("second failure on the hung filesystem: record and filesystem_unresponsive count after %s", time.Since(again).Round(time.Millisecond))

	// The process that exec'd sleep while its failure waited is reported as it was at the failure.
	var denied []logRecord
	waitOutput(t, output, collector, "the record of the process that exec'd", func(logs []logRecord, _ []dataPoint) bool {
		denied = nil
		for _, lr := range logs {
			if pid, _ := lr.resource.Get("process.pid"); pid.Int() == int64(execs.pid) {
				denied = append(denied, lr)
			}
		}
		return len(denied) > 0
	})
	require.Eventually(t, func() bool { return commOf(execs.pid) == "sleep" }, 10*time.Second, 10*time.Millisecond)
	for _, lr := range denied {
		resource, attrs := lr.resource.AsRaw(), lr.record.Attributes().AsRaw()
		assert.Equal(t, "EACCES", attrs["error.type"])
		assert.Equal(t, "busybox", attrs["thread.name"], "the kernel's name at the failure")
		assert.NotContains(t, resource, "process.executable.name", "the executable now is sleep's: %v", resource)
		assert.NotContains(t, resource, "process.executable.path", "the executable now is sleep's: %v", resource)
		assert.NotContains(t, resource, "process.command_args", "the arguments now are sleep's: %v", resource)
		assert.Equal(t, int64(65534), resource["process.real_user.id"], "what the kernel sent stays")
	}

	// Other findings still open while the filesystem hangs: a full tmpfs.
	full := testenv.MountTmpfs(t, "size=1m,nr_inodes=8")
	r, err := triggertest.Run(triggerPath, "enospc", "-n", "3", "-dir", full, "-syscall", "openat", "-linger", "2s")
	require.NoError(t, err)
	other := waitForFinding(t, output, collector, "disk_full on a healthy tmpfs", func(f findingRecord) bool {
		return f.kind == "disk_full" && f.state == "open" && f.subject == full
	})
	assert.Equal(t, r.Path, other.record.Attributes().AsRaw()["file.path"])

	// The metrics kept coming every collection interval (1s) all along. The steps above may take less than
	// three intervals: wait for the third collection rather than count too early.
	var collections []time.Time
	require.Eventually(t, func() bool {
		_, points := readOutput(t, output)
		collections = collections[:0]
		for _, p := range points {
			if p.name == "syscallhealth.lookups.failed" && p.point.Timestamp().AsTime().After(started) {
				collections = append(collections, p.point.Timestamp().AsTime())
			}
		}
		slices.SortFunc(collections, func(a, b time.Time) int { return a.Compare(b) })
		collections = slices.Compact(collections)
		return len(collections) >= 3
	}, outputTimeout, 250*time.Millisecond, "three collections since the hang")
	var longest time.Duration
	for i := 1; i < len(collections); i++ {
		longest = max(longest, collections[i].Sub(collections[i-1]))
	}
	t.Logf("%d collections in the %s since the hang, at most %s apart (collection_interval 1s)",
		len(collections), collections[len(collections)-1].Sub(collections[0]).Round(time.Millisecond), longest.Round(time.Millisecond))
	assert.Less(t, longest, 10*time.Second, "a collection waited on the hung filesystem")

	// Shutdown returns promptly with the filesystem still hanging. The collector's thread stuck in the
	// filesystem cannot even exit until the connection is aborted: the kernel waits out a request the server
	// has read, as it does for any process on a dead mount.
	stopping := time.Now()
	require.NoError(t, collector.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		collector.mu.Lock()
		defer collector.mu.Unlock()
		return slices.ContainsFunc(collector.log, func(line string) bool { return strings.Contains(line, "Shutdown complete") })
	}, 30*time.Second, 10*time.Millisecond, "the collector's shutdown did not complete within 30s of SIGTERM\n%s", collector.logTail())
	t.Logf("shutdown complete %s after SIGTERM, the filesystem still hanging (%d requests unanswered)",
		time.Since(stopping).Round(time.Millisecond), hung.unanswered.Load())
	hung.abort(t)
	select {
	case err := <-collector.done:
		require.NoError(t, err, "the collector must exit cleanly\n%s", collector.logTail())
	case <-time.After(30 * time.Second):
		t.Fatalf("the collector did not exit within 30s of the connection's abort\n%s", collector.logTail())
	}
	collector.mu.Lock()
	defer collector.mu.Unlock()
	for _, line := range collector.log {
		if fields := strings.SplitN(line, "\t", 3); len(fields) == 3 && fields[1] == "error" {
			t.Errorf("the collector logged an error: %s", line)
		}
	}
}

// withCommandArgs writes a copy of a configuration in testdata with process.command_args enabled (a --set
// cannot name the dotted attribute) and returns its path.
func withCommandArgs(t *testing.T, config string) string {
	t.Helper()
	raw, err := os.ReadFile(config)
	require.NoError(t, err)
	const receiver = "  syscallhealth:\n"
	require.Contains(t, string(raw), receiver)
	text := strings.Replace(string(raw), receiver, receiver+"    resource_attributes:\n      process.command_args:\n        enabled: true\n", 1)
	path := filepath.Join(t.TempDir(), filepath.Base(config))
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// requireHangingFSTools fails the test when a tool it needs is missing (CI installs them), and skips it
// on a kernel without FUSE.
func requireHangingFSTools(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE on this kernel (%v)", err)
	}
	for _, tool := range []string{"busybox", "nsenter", "setpriv"} {
		requireTool(t, tool)
	}
}

// hangingFS is a FUSE filesystem, mounted in a mount namespace of its own so that nothing else on the
// machine runs into it, whose server answers only the process it was told to and leaves every other
// request unanswered until the test ends.
type hangingFS struct {
	dir        string // the mount point
	namespace  string // its mount namespace, for nsenter --mount
	state      *hangingState
	unanswered *atomic.Int64
	created    *atomic.Int64
	// abort fails every request still waiting (once; cleanup does it too).
	abort func(t *testing.T)
}

func (h *hangingFS) answer(pid int) { h.state.answered.Store(int64(pid)) }

// hangingState is what the filesystem's directories share.
type hangingState struct {
	answered   atomic.Int64 // the one process whose requests are answered
	hanging    atomic.Bool
	release    chan struct{}
	unanswered atomic.Int64
	created    atomic.Int64
}

// gate blocks a request that is not to be answered until the test ends. Like a dead server it ignores
// the kernel's interrupts: a thread waiting for the answer is stuck even through a fatal signal (the
// kernel waits out a request the server has read) until the connection is aborted.
func (s *hangingState) gate(ctx context.Context) syscall.Errno {
	if !s.hanging.Load() {
		return 0
	}
	if caller, ok := fuse.FromContext(ctx); ok && int64(caller.Pid) == s.answered.Load() {
		return 0
	}
	s.unanswered.Add(1)
	<-s.release
	return syscall.EIO
}

// hangingDir is a directory that refuses to create files (ENOSPC). The root has one subdirectory, d.
type hangingDir struct {
	fs.Inode
	state *hangingState
	root  bool
}

var (
	_ fs.NodeLookuper  = (*hangingDir)(nil)
	_ fs.NodeCreater   = (*hangingDir)(nil)
	_ fs.NodeGetattrer = (*hangingDir)(nil)
	_ fs.NodeStatfser  = (*hangingDir)(nil)
)

func (d *hangingDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if errno := d.state.gate(ctx); errno != 0 {
		return nil, errno
	}
	if !d.root || name != "d" {
		return nil, syscall.ENOENT
	}
	out.Mode = syscall.S_IFDIR | 0o777
	return d.NewInode(ctx, &hangingDir{state: d.state}, fs.StableAttr{Mode: syscall.S_IFDIR}), 0
}

func (d *hangingDir) Create(ctx context.Context, _ string, _, _ uint32, _ *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if errno := d.state.gate(ctx); errno != 0 {
		return nil, nil, 0, errno
	}
	d.state.created.Add(1)
	return nil, nil, 0, syscall.ENOSPC
}

func (d *hangingDir) Getattr(ctx context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if errno := d.state.gate(ctx); errno != 0 {
		return errno
	}
	out.Mode = syscall.S_IFDIR | 0o777
	return 0
}

func (d *hangingDir) Statfs(ctx context.Context, _ *fuse.StatfsOut) syscall.Errno {
	return d.state.gate(ctx)
}

// mountHangingFS mounts a hangingFS on a new directory, in a mount namespace of its own held by a locked
// thread, and starts hanging. At cleanup the connection is aborted through fusectl (a hung mount cannot
// even be stat'ed), which fails every request still waiting, and the namespace goes with its thread.
func mountHangingFS(t *testing.T) *hangingFS {
	t.Helper()
	dir := t.TempDir()
	state := &hangingState{release: make(chan struct{})}
	root := &hangingDir{state: state, root: true}
	type mounted struct {
		server *fuse.Server
		tid    int
		err    error
	}
	ready := make(chan mounted, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread, in its own mount namespace, exits with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			ready <- mounted{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			ready <- mounted{err: fmt.Errorf("making the mounts private: %w", err)}
			return
		}
		zero := time.Duration(0) // no caching in the kernel: every lookup reaches the server
		server, err := fs.Mount(dir, root, &fs.Options{
			EntryTimeout: &zero, AttrTimeout: &zero, NegativeTimeout: &zero,
			MountOptions: fuse.MountOptions{DirectMountStrict: true, FsName: "syscallhealth-hang", Name: "hang"},
		})
		ready <- mounted{server: server, tid: unix.Gettid(), err: err}
		if err != nil {
			return
		}
		<-done
	}()
	m := <-ready
	require.NoError(t, m.err, "mounting the FUSE filesystem")
	namespace := fmt.Sprintf("/proc/%d/task/%d/ns/mnt", os.Getpid(), m.tid)
	mountinfo := fmt.Sprintf("/proc/%d/task/%d/mountinfo", os.Getpid(), m.tid)
	var aborted sync.Once
	abort := func(t *testing.T) { aborted.Do(func() { abortFUSE(t, mountinfo, dir) }) }
	t.Cleanup(func() {
		abort(t)
		close(state.release)
		close(done)
		waited := make(chan struct{})
		go func() {
			m.server.Wait()
			close(waited)
		}()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Error("the FUSE server did not stop after its connection was aborted")
		}
	})
	state.hanging.Store(true)
	return &hangingFS{dir: dir, namespace: namespace, state: state, unanswered: &state.unanswered, created: &state.created, abort: abort}
}

// abortFUSE aborts the FUSE connection mounted on dir (its number is the minor of the mount's device in
// mountinfo), mounting fusectl if needed.
func abortFUSE(t *testing.T, mountinfo, dir string) {
	t.Helper()
	raw, err := os.ReadFile(mountinfo)
	require.NoError(t, err)
	var minor string
	for line := range strings.Lines(string(raw)) {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			_, minor, _ = strings.Cut(fields[2], ":")
		}
	}
	require.NotEmpty(t, minor, "the FUSE mount on %s is not in %s", dir, mountinfo)
	const connections = "/sys/fs/fuse/connections"
	if _, err := os.Stat(filepath.Join(connections, minor)); err != nil {
		if err := unix.Mount("fusectl", connections, "fusectl", 0, ""); err != nil && err != unix.EBUSY {
			t.Errorf("mounting fusectl on %s: %v", connections, err)
		}
	}
	if err := os.WriteFile(filepath.Join(connections, minor, "abort"), []byte("1"), 0o200); err != nil {
		t.Errorf("aborting FUSE connection %s: %v", minor, err)
	}
}

// script is a busybox shell that waits for a line on its stdin before each step.
type script struct {
	pid   int
	stdin io.WriteCloser
}

func (s *script) proceed(t *testing.T) {
	t.Helper()
	_, err := io.WriteString(s.stdin, "\n")
	require.NoError(t, err)
}

// startScript runs `busybox sh -c code` under the wrapper (which execs it: the pid stays the shell's).
func startScript(t *testing.T, wrapper []string, code string) *script {
	t.Helper()
	cmd := exec.Command(wrapper[0], append(slices.Clone(wrapper[1:]), "busybox", "sh", "-c", code)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	cmd.Stderr = new(strings.Builder)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &script{pid: cmd.Process.Pid, stdin: stdin}
}

// commOf is the kernel's name of a process, "" when it is gone.
func commOf(pid int) string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}

// waitOutput polls the output until done says it has what the test waits for.
func waitOutput(t *testing.T, output string, collector *runningCollector, what string, done func([]logRecord, []dataPoint) bool) {
	t.Helper()
	deadline := time.Now().Add(outputTimeout)
	for {
		if done(readOutput(t, output)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s\ncollector log tail:\n%s", what, outputTimeout, collector.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// latestValueWith is the newest value of a metric's data point whose attribute key has value, -1 when none.
func latestValueWith(points []dataPoint, name, key, value string) int64 {
	latest, newest := int64(-1), pcommon.Timestamp(0)
	for _, p := range points {
		if v, ok := p.point.Attributes().Get(key); p.name == name && ok && v.Str() == value && p.point.Timestamp() >= newest {
			latest, newest = p.point.IntValue(), p.point.Timestamp()
		}
	}
	return latest
}
