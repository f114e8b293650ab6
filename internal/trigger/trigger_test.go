//go:build linux

package trigger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// Scenarios that change the process for good (credentials, cgroup) run in a
// child: the test binary re-executed with these variables set.
const (
	childScenarioEnv = "SYSCALLHEALTH_TRIGGER_TEST_SCENARIO"
	childOptionsEnv  = "SYSCALLHEALTH_TRIGGER_TEST_OPTIONS"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childScenarioEnv); name != "" {
		os.Exit(runChild(name, os.Getenv(childOptionsEnv)))
	}
	os.Exit(m.Run())
}

func runChild(name, options string) int {
	var o Options
	if err := json.Unmarshal([]byte(options), &o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, _ := Lookup(name)
	r, err := s.Run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

// inChild runs the scenario in a child process and returns its result and pid.
func inChild(t *testing.T, name string, o Options) (Result, int, error) {
	t.Helper()
	options, err := json.Marshal(o)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childScenarioEnv+"="+name, childOptionsEnv+"="+string(options))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Result{}, 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r Result
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r), stdout.String())
	return r, cmd.Process.Pid, nil
}

// changesTheSystem says why some scenario tests skip unless run as root.
const changesTheSystem = "the scenario mounts a tmpfs, changes credentials, or creates a pids cgroup or a network namespace"

func scenario(t *testing.T, name string) Scenario {
	t.Helper()
	s, ok := Lookup(name)
	require.True(t, ok, name)
	return s
}

func TestValidate(t *testing.T) {
	tests := []struct {
		scenario string
		opts     Options
		wantErr  string
	}{
		{"emfile", Options{Failures: 0}, "at least 1"},
		{"emfile", Options{Failures: 1, Interval: -time.Second}, "-interval must not be negative"},
		{"enospc", Options{Failures: 1}, "-dir is required"},
		{"enospc", Options{Failures: 1, Dir: "/mnt", Syscall: "mmap"}, "-syscall must be write or openat"},
		{"econnrefused", Options{Failures: 1, Address: netip.MustParseAddr("192.0.2.1")}, "loopback"},
		{"eaddrinuse", Options{Failures: 1, Address: netip.MustParseAddr("2001:db8::1")}, "loopback"},
		{"eacces", Options{Failures: 1}, "-path is required"},
		{"econnrefused", Options{Failures: 2, Address: netip.MustParseAddr("::1")}, ""},
		{"econnrefused", Options{Failures: 1, Mode: "async"}, "-mode must be one of blocking, nonblocking, dial"},
		{"etimedout", Options{Failures: 1, Address: netip.MustParseAddr("10.0.0.1")}, "loopback"},
		{"etimedout", Options{Failures: 1, Mode: ModeDial, Address: netip.MustParseAddr("::ffff:127.0.0.1")}, "Go dials v4-mapped addresses over IPv4"},
		{"etimedout", Options{Failures: 3, Mode: ModeBlocking}, ""},
		{"eagain-fork", Options{Failures: 1}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.scenario+"/"+tt.wantErr, func(t *testing.T) {
			err := scenario(t, tt.scenario).Validate(tt.opts)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestLookup(t *testing.T) {
	assert.Equal(t, []string{"emfile", "enospc", "enomem", "econnrefused", "etimedout", "eaddrinuse", "eacces", "eagain-fork"}, Names())
	_, ok := Lookup("enoent")
	assert.False(t, ok)
}

func TestEMFILE(t *testing.T) {
	var before unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &before))
	r, err := scenario(t, "emfile").Run(Options{Failures: 5})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: "openat", Errno: "EMFILE", Failures: 5, Path: "/dev/null"}, r)
	var after unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &after))
	assert.Equal(t, before, after, "RLIMIT_NOFILE must be restored")
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err, "descriptors must be released")
	unix.Close(fd)
}

func TestENOMEM(t *testing.T) {
	var before unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_AS, &before))
	r, err := scenario(t, "enomem").Run(Options{Failures: 3})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: "mmap", Errno: "ENOMEM", Failures: 3}, r)
	var after unix.Rlimit
	require.NoError(t, unix.Getrlimit(unix.RLIMIT_AS, &after))
	assert.Equal(t, before, after, "RLIMIT_AS must be restored")
	// The same mapping succeeds without the lowered limit: the limit caused the failures.
	b, err := unix.Mmap(-1, 0, mmapRegion, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	require.NoError(t, err)
	require.NoError(t, unix.Munmap(b))
}

func TestECONNREFUSED(t *testing.T) {
	s := scenario(t, "econnrefused")
	r, err := s.Run(Options{Failures: 4})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: "connect", Errno: "ECONNREFUSED", Failures: 4, Address: "127.0.0.1", Port: r.Port,
		Mode: ModeBlocking, LocalPorts: r.LocalPorts}, r)
	assert.NotZero(t, r.Port)
	checkLocalPorts(t, r)

	t.Run("given closed port", func(t *testing.T) {
		r2, err := s.Run(Options{Failures: 2, Port: uint16(r.Port)})
		require.NoError(t, err)
		assert.Equal(t, r.Port, r2.Port)
	})
	t.Run("ipv6", func(t *testing.T) {
		if fd, _, err := listenLoopback(netip.IPv6Loopback(), 0); err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		} else {
			unix.Close(fd)
		}
		r6, err := s.Run(Options{Failures: 2, Address: netip.IPv6Loopback()})
		require.NoError(t, err)
		assert.Equal(t, "::1", r6.Address)
		assert.Equal(t, 2, r6.Failures)
	})
	t.Run("open port is an error", func(t *testing.T) {
		for _, mode := range connectModes {
			// A listener each: the backlog of 1 holds one unaccepted connection.
			fd, port, err := listenLoopback(netip.MustParseAddr("127.0.0.1"), 0)
			require.NoError(t, err)
			_, err = s.Run(Options{Failures: 1, Port: port, Mode: mode})
			unix.Close(fd)
			require.ErrorContains(t, err, "succeeded after 0 failures", mode)
		}
	})
	// Non-blocking clients: connect returns EINPROGRESS and the refusal comes from SO_ERROR.
	for _, mode := range []string{ModeNonblocking, ModeDial} {
		for _, addr := range []string{"127.0.0.1", "::1", "::ffff:127.0.0.1"} {
			if mode == ModeDial && addr == "::ffff:127.0.0.1" {
				continue
			}
			t.Run(mode+" "+addr, func(t *testing.T) {
				if netip.MustParseAddr(addr).Is6() {
					requireIPv6Loopback(t)
				}
				r, err := s.Run(Options{Failures: 3, Mode: mode, Address: netip.MustParseAddr(addr)})
				require.NoError(t, err)
				assert.Equal(t, mode, r.Mode)
				assert.Equal(t, addr, r.Address)
				assert.Equal(t, 3, r.Failures)
				if mode == ModeDial {
					assert.Nil(t, r.LocalPorts, "Go closes the socket of a failed dial")
				} else {
					checkLocalPorts(t, r)
				}
			})
		}
	}
}

// checkLocalPorts asserts one distinct, non-zero source port per failure.
func checkLocalPorts(t *testing.T, r Result) {
	t.Helper()
	require.Len(t, r.LocalPorts, r.Failures)
	seen := map[int]bool{}
	for _, p := range r.LocalPorts {
		assert.NotZero(t, p)
		assert.False(t, seen[p], "source port %d twice", p)
		seen[p] = true
	}
}

func requireIPv6Loopback(t *testing.T) {
	t.Helper()
	fd, _, err := listenLoopback(netip.IPv6Loopback(), 0)
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	unix.Close(fd)
}

// netnsOfThread identifies the calling thread's network namespace.
func netnsOfThread(t *testing.T) string {
	t.Helper()
	ns, err := os.Readlink("/proc/thread-self/ns/net")
	require.NoError(t, err)
	return ns
}

func TestETIMEDOUT(t *testing.T) {
	testenv.RequireRoot(t, changesTheSystem)
	s := scenario(t, "etimedout")
	hostRetries, err := os.ReadFile("/proc/sys/net/ipv4/tcp_syn_retries")
	require.NoError(t, err)
	// The scenario runs on this goroutine's thread: it must leave it in the host's namespace.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	hostNetns := netnsOfThread(t)
	for _, tc := range []struct {
		mode, addr string
		failures   int
	}{
		{ModeNonblocking, "127.0.0.1", 3},
		{ModeBlocking, "::1", 1},
		{ModeDial, "127.0.0.1", 1},
	} {
		t.Run(tc.mode+" "+tc.addr, func(t *testing.T) {
			if tc.addr == "::1" {
				requireIPv6Loopback(t)
			}
			start := time.Now()
			r, err := s.Run(Options{Failures: tc.failures, Mode: tc.mode, Address: netip.MustParseAddr(tc.addr)})
			require.NoError(t, err)
			elapsed := time.Since(start)
			assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: "connect", Errno: "ETIMEDOUT", Failures: tc.failures,
				Address: tc.addr, Port: blackholePort, Mode: tc.mode, LocalPorts: r.LocalPorts}, r)
			if tc.mode != ModeDial {
				checkLocalPorts(t, r)
			}
			// tcp_syn_retries=1: a SYN, one retry after 1 s, give up 2 s later; parallel connects together.
			assert.Greater(t, elapsed, 2500*time.Millisecond)
			assert.Less(t, elapsed, time.Duration(tc.failures)*3*time.Second+5*time.Second)
		})
	}
	assert.Equal(t, hostNetns, netnsOfThread(t), "the thread is back in the host network namespace")
	after, err := os.ReadFile("/proc/sys/net/ipv4/tcp_syn_retries")
	require.NoError(t, err)
	assert.Equal(t, string(hostRetries), string(after), "the host's tcp_syn_retries is untouched")
	if nft, err := findTool("nft"); err == nil {
		out, err := exec.Command(nft, "list", "tables").CombinedOutput()
		require.NoError(t, err, string(out))
		assert.NotContains(t, string(out), "syscallhealth_trigger", "the drop rule lived in the private namespace only")
	}
}

func TestInterval(t *testing.T) {
	start := time.Now()
	r, err := scenario(t, "eaddrinuse").Run(Options{Failures: 3, Interval: 30 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, 3, r.Failures)
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond, "two pauses between three failures")
}

func TestEADDRINUSE(t *testing.T) {
	r, err := scenario(t, "eaddrinuse").Run(Options{Failures: 3})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: "bind", Errno: "EADDRINUSE", Failures: 3, Address: "127.0.0.1", Port: r.Port}, r)
	// The listener is released: the address is free again.
	fd, _, err := listenLoopback(netip.MustParseAddr("127.0.0.1"), uint16(r.Port))
	require.NoError(t, err)
	unix.Close(fd)
}

func TestENOSPCRefusesLargeFilesystem(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	if st.Bavail*uint64(st.Bsize) <= maxFillBytes {
		t.Skipf("%s has less than %d MiB free, nothing to refuse", dir, maxFillBytes>>20)
	}
	_, err := scenario(t, "enospc").Run(Options{Failures: 1, Dir: dir})
	require.ErrorContains(t, err, "refusing to fill")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing may be written before the check")
}

func TestENOSPC(t *testing.T) {
	testenv.RequireRoot(t, changesTheSystem)
	dir := testenv.MountTmpfs(t, "size=1m,nr_inodes=16")
	s := scenario(t, "enospc")
	for _, call := range []string{"write", "openat"} {
		t.Run(call, func(t *testing.T) {
			r, err := s.Run(Options{Failures: 4, Dir: dir, Syscall: call})
			require.NoError(t, err)
			assert.Equal(t, Result{PID: os.Getpid(), TID: r.TID, Syscall: call, Errno: "ENOSPC", Failures: 4,
				Path: filepath.Join(dir, fmt.Sprintf("syscallhealth-trigger-%d", os.Getpid()))}, r)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "the scenario removes what it wrote")
		})
	}
}

func TestEACCES(t *testing.T) {
	testenv.RequireRoot(t, changesTheSystem)
	dir := t.TempDir()
	// uid 65534 may traverse to the file (t.TempDir's parent is 0700), not read it.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("x"), 0o600))

	r, pid, err := inChild(t, "eacces", Options{Failures: 3, Path: secret})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: pid, TID: r.TID, Syscall: "openat", Errno: "EACCES", Failures: 3, Path: secret}, r)

	readable := filepath.Join(dir, "readable")
	require.NoError(t, os.WriteFile(readable, []byte("x"), 0o644))
	_, _, err = inChild(t, "eacces", Options{Failures: 1, Path: readable})
	require.ErrorContains(t, err, "readable by others")
}

func TestEAGAINFork(t *testing.T) {
	testenv.RequireRoot(t, changesTheSystem)
	h, err := FindPidsHierarchy()
	if err != nil {
		t.Skipf("no pids cgroup controller on this machine: %v", err)
	}
	r, pid, err := inChild(t, "eagain-fork", Options{Failures: 3})
	require.NoError(t, err)
	assert.Equal(t, Result{PID: pid, TID: r.TID, Syscall: "clone", Errno: "EAGAIN", Failures: 3}, r)
	assert.NoDirExists(t, filepath.Join(h.Mount, fmt.Sprintf("syscallhealth-trigger-%d", pid)), "the scenario removes its cgroup")
}

func TestPidsHierarchy(t *testing.T) {
	hybrid := `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	unified := `29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
`
	container := `700 690 0:26 /kubepods/pod1/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw
`
	withPids := func(string) []string { return []string{"cpu", "memory", "pids"} }
	withoutPids := func(string) []string { return []string{"hugetlb"} }

	h, err := pidsHierarchyFrom(strings.NewReader(hybrid), withoutPids)
	require.NoError(t, err)
	assert.Equal(t, PidsHierarchy{Mount: "/sys/fs/cgroup/pids", Root: "/"}, h)
	dir, err := h.dirFrom("9:name=systemd:/\n8:pids:/user.slice\n4:memory:/x\n0::/\n")
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup/pids/user.slice", dir)

	h, err = pidsHierarchyFrom(strings.NewReader(unified), withPids)
	require.NoError(t, err)
	assert.Equal(t, PidsHierarchy{Mount: "/sys/fs/cgroup", Root: "/", V2: true}, h)
	dir, err = h.dirFrom("0::/system.slice/ssh.service\n")
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup/system.slice/ssh.service", dir)

	h, err = pidsHierarchyFrom(strings.NewReader(container), withPids)
	require.NoError(t, err)
	dir, err = h.dirFrom("0::/kubepods/pod1/abc/app\n")
	require.NoError(t, err)
	assert.Equal(t, "/sys/fs/cgroup/app", dir)

	_, err = pidsHierarchyFrom(strings.NewReader(unified), withoutPids)
	require.ErrorContains(t, err, "no cgroup hierarchy with the pids controller")
	_, err = PidsHierarchy{Mount: "/sys/fs/cgroup/pids", Root: "/"}.dirFrom("0::/\n")
	require.ErrorContains(t, err, "no cgroup in the pids hierarchy")
}
