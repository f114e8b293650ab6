//go:build linux && (amd64 || arm64)

package bpf

import (
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// System tests: syscallhealth-trigger causes exactly N real failures in a
// child process (rlimits, credentials and cgroups change there, not here), and
// the probe must report them with their context and count them exactly.

// systemRateLimit lets a burst of 3 events through, then one per second.
var systemRateLimit = RateLimit{EventsPerSecond: 1, Burst: 3}

const burstFailures = 20

// triggered is one run of the trigger, with the clocks around it.
type triggered struct {
	trigger.Result
	bootStart, bootEnd uint64
	wallStart, wallEnd time.Time
	elapsed            time.Duration
}

// runTrigger runs the trigger at bin, timing the process alone.
func runTrigger(t *testing.T, bin string, args ...string) triggered {
	t.Helper()
	p := triggertest.Command(bin, args...)
	run := triggered{bootStart: bootNow(t), wallStart: time.Now()}
	err := p.Run()
	run.bootEnd, run.wallEnd = bootNow(t), time.Now()
	run.elapsed = run.wallEnd.Sub(run.wallStart)
	if err != nil {
		t.Fatal(err)
	}
	if run.Result, err = p.Result(); err != nil {
		t.Fatal(err)
	}
	return run
}

func bootNow(t *testing.T) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}

// want is what every event of a scenario must carry.
type want struct {
	syscall     string
	errno       Errno
	category    Category
	path        string // "" when no path applies
	fd          bool   // the event names the descriptor
	local, peer netip.AddrPort
	// localPorts are the source ports of the failures (the trigger's local_ports,
	// in the order it made them, which connects timing out together need not
	// fail in): each event carries local's address and a port of them, no two the same.
	localPorts []int
	// anyLocalPort: the events carry local's address and a source port the trigger could not read.
	anyLocalPort bool
	// async: learned after the syscall returned (a non-blocking connect).
	async bool
	// transport of the socket, unknown for syscalls on files.
	transport Transport
	uid, gid  uint32
}

// checkFailures asserts the exact count of run's failures, the events that
// reported them under the rate limit, and every field of those events.
func checkFailures(t *testing.T, p *Probe, log *eventLog, run triggered, w want, limit RateLimit) {
	t.Helper()
	nr := mustSyscall(t, w.syscall)
	if run.Syscall != w.syscall || run.Errno != w.errno.Name() || run.Failures < 1 {
		t.Fatalf("trigger reported %+v, want %s %s", run.Result, w.syscall, w.errno.Name())
	}
	pid := uint32(run.PID)
	key := CountKey{PID: pid, Syscall: nr, Errno: w.errno}

	c := countOf(t, p, key)
	if c.Count != uint64(run.Failures) {
		t.Errorf("kernel counted %d %s %s failures for pid %d, the trigger caused exactly %d", c.Count, w.syscall, w.errno.Name(), pid, run.Failures)
	}
	if c.Category != w.category || c.FirstSeenNs < run.bootStart || c.LastSeenNs > run.bootEnd || c.FirstSeenNs > c.LastSeenNs {
		t.Errorf("count %+v: want category %s, seen within [%d, %d]", c, w.category, run.bootStart, run.bootEnd)
	}

	marker(t, log)
	events := log.matching(func(ev Event) bool { return ev.PID == pid && ev.Syscall == nr && ev.Errno == w.errno })
	maxEvents := int(limit.Burst) + int(math.Ceil(run.elapsed.Seconds()*limit.EventsPerSecond))
	if len(events) < min(run.Failures, int(limit.Burst)) || len(events) > min(run.Failures, maxEvents) {
		t.Errorf("%d events for %d failures in %v; the rate limit (%v/s, burst %d) allows %d-%d",
			len(events), run.Failures, run.elapsed, limit.EventsPerSecond, limit.Burst, min(run.Failures, int(limit.Burst)), min(run.Failures, maxEvents))
	}
	if run.Failures > maxEvents && len(events) >= run.Failures {
		t.Errorf("every one of %d failures was emitted despite the rate limit", run.Failures)
	}

	clock := NewBootClock()
	self := uint32(os.Getpid())
	seenPorts := map[uint16]bool{}
	var previous uint64
	for i, ev := range events {
		// Each event's count is exact: the gap to the previous event is itself plus what was held back.
		if ev.ErrorCount != previous+1+ev.Suppressed {
			t.Errorf("event %d: error count %d after %d with %d suppressed", i, ev.ErrorCount, previous, ev.Suppressed)
		}
		previous = ev.ErrorCount
		if ev.TID != uint32(run.TID) || ev.PPID != self || ev.UID != w.uid || ev.GID != w.gid || ev.Comm != "syscallhealth-t" {
			t.Errorf("event %d identity: tid %d ppid %d uid %d gid %d comm %q; want %d %d %d %d %q",
				i, ev.TID, ev.PPID, ev.UID, ev.GID, ev.Comm, run.TID, self, w.uid, w.gid, "syscallhealth-t")
		}
		if ev.Transport != w.transport {
			t.Errorf("event %d: transport %v, want %v", i, ev.Transport, w.transport)
		}
		if ev.Category != w.category || ev.Async != w.async || ev.CgroupID == 0 {
			t.Errorf("event %d: category %s async %v cgroup %d; want %s async %v", i, ev.Category, ev.Async, ev.CgroupID, w.category, w.async)
		}
		// The trigger runs in the test's mount namespace; an asynchronous failure is learned outside the task.
		if wantNS := map[bool]uint32{false: ownMountNamespace(t), true: 0}[w.async]; ev.MountNamespace != wantNS {
			t.Errorf("event %d: mount namespace %d, want %d", i, ev.MountNamespace, wantNS)
		}
		if ev.TimestampNs < run.bootStart || ev.TimestampNs > run.bootEnd {
			t.Errorf("event %d at boot %d, outside the trigger's run [%d, %d]", i, ev.TimestampNs, run.bootStart, run.bootEnd)
		}
		if wall := clock.Time(ev.TimestampNs); wall.Before(run.wallStart.Add(-time.Millisecond)) || wall.After(run.wallEnd.Add(time.Millisecond)) {
			t.Errorf("event %d at %v, outside the trigger's run [%v, %v]", i, wall, run.wallStart, run.wallEnd)
		}
		if ev.Path != w.path {
			t.Errorf("event %d: path %q, want %q", i, ev.Path, w.path)
		}
		if (ev.FD >= 0) != w.fd {
			t.Errorf("event %d: fd %d, want a descriptor: %v", i, ev.FD, w.fd)
		}
		local := w.local
		switch {
		case w.localPorts != nil && slices.Contains(w.localPorts, int(ev.Local.Port())) && !seenPorts[ev.Local.Port()]:
			local = netip.AddrPortFrom(w.local.Addr(), ev.Local.Port())
			seenPorts[ev.Local.Port()] = true
		case w.localPorts != nil:
			t.Errorf("event %d: source port %d is not one of the trigger's %v, or seen twice", i, ev.Local.Port(), w.localPorts)
		case w.anyLocalPort && ev.Local.Addr() == w.local.Addr() && ev.Local.Port() != 0:
			local = ev.Local
		}
		if ev.Local != local || ev.Peer != w.peer {
			t.Errorf("event %d: local %v peer %v, want %v %v", i, ev.Local, ev.Peer, local, w.peer)
		}
	}
	if previous > uint64(run.Failures) {
		t.Errorf("last event counts %d failures, more than the %d caused", previous, run.Failures)
	}
	t.Logf("%d %s %s failures: counted %d, %d events", run.Failures, w.syscall, w.errno.Name(), c.Count, len(events))
}

// systemProbe loads the default rules with paths and the system tests' rate limit.
func systemProbe(t *testing.T) (*Probe, *eventLog) {
	t.Helper()
	p := loadProbe(t, Options{IncludePaths: true, RateLimit: systemRateLimit})
	return p, collectEvents(t, p)
}

func n(count int) string { return strconv.Itoa(count) }

func TestDetectENOSPC(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	t.Run("write", func(t *testing.T) {
		dir := testenv.MountTmpfs(t, "size=1m")
		p, log := systemProbe(t)
		run := runTrigger(t, bin, "enospc", "-n", n(burstFailures), "-dir", dir, "-syscall", "write")
		// The path of write's descriptor, resolved in the kernel.
		checkFailures(t, p, log, run, want{syscall: "write", errno: eNOSPC, category: CategoryFile, path: run.Path, fd: true}, systemRateLimit)
	})
	t.Run("openat", func(t *testing.T) {
		dir := testenv.MountTmpfs(t, "size=1m,nr_inodes=16")
		p, log := systemProbe(t)
		run := runTrigger(t, bin, "enospc", "-n", n(burstFailures), "-dir", dir, "-syscall", "openat")
		checkFailures(t, p, log, run, want{syscall: "openat", errno: eNOSPC, category: CategoryFile, path: run.Path}, systemRateLimit)
	})
}

func TestDetectEMFILE(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	p, log := systemProbe(t)
	run := runTrigger(t, bin, "emfile", "-n", n(burstFailures))
	checkFailures(t, p, log, run, want{syscall: "openat", errno: eMFILE, category: CategoryFile, path: "/dev/null"}, systemRateLimit)
}

func TestDetectENOMEM(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	p, log := systemProbe(t)
	run := runTrigger(t, bin, "enomem", "-n", n(burstFailures))
	checkFailures(t, p, log, run, want{syscall: "mmap", errno: eNOMEM, category: CategoryMemory}, systemRateLimit)
}

// ipv6Loopback skips when ::1 is not configured.
func ipv6Loopback(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	l.Close()
}

func TestDetectECONNREFUSED(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			if addr == "::1" {
				ipv6Loopback(t)
			}
			p, log := systemProbe(t)
			run := runTrigger(t, bin, "econnrefused", "-n", n(burstFailures), "-address", addr)
			// A blocking connect: reported once, by its syscall, not as asynchronous,
			// with the source port the TCP state program saw before the socket was disconnected.
			checkFailures(t, p, log, run, blockingConnectWant(p, run, eCONNREFUSED), systemRateLimit)
		})
	}
	// With a pause between failures the bucket refills: at 5/s (one token per
	// 200 ms), burst 1, failures 100 ms apart alternate between emitted and held back.
	t.Run("rate limit refills", func(t *testing.T) {
		limit := RateLimit{EventsPerSecond: 5, Burst: 1}
		p := loadProbe(t, Options{IncludePaths: true, RateLimit: limit})
		log := collectEvents(t, p)
		run := runTrigger(t, bin, "econnrefused", "-n", "6", "-interval", "100ms")
		checkFailures(t, p, log, run, blockingConnectWant(p, run, eCONNREFUSED), limit)
		events := log.matching(func(ev Event) bool { return ev.PID == uint32(run.PID) && ev.Errno == eCONNREFUSED })
		var got []uint64
		for _, ev := range events {
			got = append(got, ev.ErrorCount)
		}
		if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 5 {
			t.Errorf("emitted failures %v, want [1 3 5]", got)
		}
	})
}

func TestDetectEADDRINUSE(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run("bind "+addr, func(t *testing.T) {
			if addr == "::1" {
				ipv6Loopback(t)
			}
			p, log := systemProbe(t)
			run := runTrigger(t, bin, "eaddrinuse", "-n", n(burstFailures), "-address", addr)
			local := netip.AddrPortFrom(netip.MustParseAddr(run.Address), uint16(run.Port))
			checkFailures(t, p, log, run, want{syscall: "bind", errno: eADDRINUSE, category: CategoryNetwork, fd: true, local: local, transport: TransportTCP}, systemRateLimit)
		})
	}
	// listen's address comes from the socket itself: two SO_REUSEADDR sockets
	// bind one port before either listens, and the second to listen fails. No process state changes,
	// so this runs in the test process.
	t.Run("listen", func(t *testing.T) {
		_, log := systemProbe(t)
		var fds []int
		t.Cleanup(func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		})
		var port int
		for i := range 2 {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			fds = append(fds, fd)
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
				t.Fatal(err)
			}
			if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				sa, err := unix.Getsockname(fd)
				if err != nil {
					t.Fatal(err)
				}
				port = sa.(*unix.SockaddrInet4).Port
			}
		}
		if err := unix.Listen(fds[0], 1); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(fds[1], 1); err != unix.EADDRINUSE {
			t.Fatalf("second listen: %v, want EADDRINUSE", err)
		}
		listen := mustSyscall(t, "listen")
		ev := log.waitFor(t, "listen EADDRINUSE", func(ev Event) bool { return ev.PID == uint32(os.Getpid()) && ev.Syscall == listen })
		if want := netip.MustParseAddrPort("127.0.0.1:" + strconv.Itoa(port)); ev.Errno != eADDRINUSE || ev.Local != want || ev.FD != int32(fds[1]) || ev.Peer.IsValid() {
			t.Errorf("listen event %+v, want EADDRINUSE on fd %d local %v", ev, fds[1], want)
		}
		if ev.Transport != TransportTCP {
			t.Errorf("listen event transport %v, want tcp (the socket's protocol)", ev.Transport)
		}
	})
	// The transport is the socket's protocol as the kernel knows it: a UDP port taken twice.
	t.Run("bind udp", func(t *testing.T) {
		_, log := systemProbe(t)
		first, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(first)
		if err := unix.Bind(first, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		sa, err := unix.Getsockname(first)
		if err != nil {
			t.Fatal(err)
		}
		second, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(second)
		if err := unix.Bind(second, sa); err != unix.EADDRINUSE {
			t.Fatalf("second UDP bind: %v, want EADDRINUSE", err)
		}
		bind := mustSyscall(t, "bind")
		ev := log.waitFor(t, "UDP bind EADDRINUSE", func(ev Event) bool {
			return ev.PID == uint32(os.Getpid()) && ev.Syscall == bind && ev.FD == int32(second)
		})
		if ev.Transport != TransportUDP || ev.Local.Port() != uint16(sa.(*unix.SockaddrInet4).Port) {
			t.Errorf("UDP bind event %+v, want transport udp on port %d", ev, sa.(*unix.SockaddrInet4).Port)
		}
	})
}

func TestDetectEACCES(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("no"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Let uid 65534 reach the file (t.TempDir makes its directories 0700), so
	// the denial is the file's own mode.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p, log := systemProbe(t)
	run := runTrigger(t, bin, "eacces", "-n", n(burstFailures), "-path", secret)
	// The child dropped to uid/gid 65534 before failing.
	checkFailures(t, p, log, run, want{syscall: "openat", errno: eACCES, category: CategoryFile, path: secret, uid: 65534, gid: 65534}, systemRateLimit)
}

func TestDetectEAGAINFork(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	p, log := systemProbe(t)
	run := runTrigger(t, bin, "eagain-fork", "-n", n(burstFailures))
	checkFailures(t, p, log, run, want{syscall: "clone", errno: eAGAIN, category: CategoryProcess}, systemRateLimit)
}

// ownMountNamespace is the inode of the test's mount namespace.
func ownMountNamespace(t *testing.T) uint32 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}
