//go:build linux && (amd64 || arm64)

package bpf

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// Connects that fail after connect() returned (issue 4): the TCP state
// program must count them exactly, once, under the process that connected,
// whatever the client's I/O model, and never count EINPROGRESS, EALREADY or
// EISCONN, even when every connect errno is watched.

const (
	eALREADY    Errno = 114
	eINPROGRESS Errno = 115
	eISCONN     Errno = 106
	eCONNABORTD Errno = 103
)

// allConnectErrnos is the default rule set with every errno of connect watched.
func allConnectErrnos() []Rule {
	rules := DefaultRules()
	for i := range rules {
		if rules[i].Syscall == "connect" {
			rules[i] = Rule{Syscall: "connect", AllErrnos: true}
		}
	}
	return rules
}

// asyncProbe loads allConnectErrnos with paths and the system tests' rate limit.
func asyncProbe(t *testing.T) (*Probe, *eventLog) {
	t.Helper()
	p := loadProbe(t, Options{IncludePaths: true, RateLimit: systemRateLimit, Rules: allConnectErrnos()})
	return p, collectEvents(t, p)
}

// connectWant is what a connect scenario's events carry. Failures are
// asynchronous unless the client blocked; fdKnown says whether the event can
// name the descriptor (not when a timer learned the failure).
func connectWant(run triggered, errno Errno, fdKnown bool) want {
	peer := netip.AddrPortFrom(netip.MustParseAddr(run.Address), uint16(run.Port))
	w := want{syscall: "connect", errno: errno, category: CategoryNetwork, fd: fdKnown, peer: peer,
		local: netip.AddrPortFrom(peer.Addr(), 0), localPorts: run.LocalPorts, async: run.Mode != trigger.ModeBlocking,
		transport: TransportTCP}
	if run.LocalPorts == nil {
		w.anyLocalPort = true
	}
	return w
}

// blockingConnectWant is what a blocking connect's failures carry: the source address only where the TCP state
// program runs (Linux 5.15), as the kernel has disconnected the socket by the syscall's exit.
func blockingConnectWant(p *Probe, run triggered, errno Errno) want {
	w := connectWant(run, errno, true)
	if _, err := p.SocketHook(); err != nil {
		w.local, w.localPorts, w.anyLocalPort = netip.AddrPort{}, nil, false
	}
	return w
}

// checkOnlyConnectSeries fails when pid has a connect series other than errno
// (EINPROGRESS above all), and when the probe still holds state for pid's
// connects or tid's running connect once they are over.
func checkOnlyConnectSeries(t *testing.T, p *Probe, pid, tid uint32, errno Errno) {
	t.Helper()
	connect := mustSyscall(t, "connect")
	counts, err := p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.Key.PID == pid && c.Key.Syscall == connect && c.Key.Errno != errno {
			t.Errorf("pid %d has a connect %s series counted %d times; only %s failed", pid, c.Key.Errno.Name(), c.Count, errno.Name())
		}
	}
	checkNoConnectState(t, p, pid, tid)
}

// checkNoConnectState fails when the probe still follows a connect of pid or
// a running connect syscall of thread tid. (Sockets remembered as reported stay until
// evicted: closing a reset socket changes no TCP state to forget them by.)
func checkNoConnectState(t *testing.T, p *Probe, pid, tid uint32) {
	t.Helper()
	var (
		sk      uint64
		attempt healthConnectAttempt
		socket  uint64
	)
	for it := p.maps.Maps[healthMapConnectAttempts].Iterate(); it.Next(&sk, &attempt); {
		if attempt.Tgid == pid {
			t.Errorf("connect attempt of pid %d still followed: %+v", pid, attempt)
		}
	}
	if err := p.maps.Maps[healthMapConnectThreads].Lookup(&tid, &socket); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("thread %d still has a running connect recorded (%v)", tid, err)
	}
	var runner uint32
	for it := p.maps.Maps[healthMapConnectRunning].Iterate(); it.Next(&sk, &runner); {
		if runner == tid {
			t.Errorf("a connect syscall of thread %d is still marked running", tid)
		}
	}
}

// A Go client and an explicit non-blocking client, over IPv4, IPv6 and a
// v4-mapped IPv6 socket, to a closed loopback port: each connect returns
// EINPROGRESS, the refusal comes through SO_ERROR.
func TestDetectAsyncECONNREFUSED(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	for _, tc := range []struct{ mode, addr string }{
		{trigger.ModeDial, "127.0.0.1"},
		{trigger.ModeNonblocking, "127.0.0.1"},
		{trigger.ModeDial, "::1"},
		{trigger.ModeNonblocking, "::1"},
		{trigger.ModeNonblocking, "::ffff:127.0.0.1"},
	} {
		t.Run(tc.mode+" "+tc.addr, func(t *testing.T) {
			if netip.MustParseAddr(tc.addr).Is6() {
				ipv6Loopback(t)
			}
			p, log := asyncProbe(t)
			run := runTrigger(t, bin, "econnrefused", "-n", n(burstFailures), "-mode", tc.mode, "-address", tc.addr)
			// On loopback the RST is processed before connect returns EINPROGRESS:
			// reported at that syscall's exit, so the event names the descriptor.
			checkFailures(t, p, log, run, connectWant(run, eCONNREFUSED, true), systemRateLimit)
			checkOnlyConnectSeries(t, p, uint32(run.PID), uint32(run.TID), eCONNREFUSED)
		})
	}
}

// SYNs dropped in the trigger's private network namespace, with
// tcp_syn_retries 1 there: every connect times out after about 3 s, from the
// TCP retransmit timer with another task (or none) current.
func TestDetectAsyncETIMEDOUT(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	bin := triggertest.Build(t)
	for _, tc := range []struct {
		mode, addr string
		failures   int
	}{
		{trigger.ModeNonblocking, "127.0.0.1", 3},
		{trigger.ModeDial, "::1", 1},
		{trigger.ModeBlocking, "127.0.0.1", 1},
	} {
		t.Run(tc.mode+" "+tc.addr, func(t *testing.T) {
			if netip.MustParseAddr(tc.addr).Is6() {
				ipv6Loopback(t)
			}
			p, log := asyncProbe(t)
			run := runTrigger(t, bin, "etimedout", "-n", strconv.Itoa(tc.failures), "-mode", tc.mode, "-address", tc.addr)
			if run.elapsed < 2*time.Second || run.elapsed > 20*time.Second {
				t.Errorf("the connects timed out after %v; tcp_syn_retries=1 makes that about 3 s", run.elapsed)
			}
			// Only the blocking connect is still in its syscall when the timer gives up.
			blocking := tc.mode == trigger.ModeBlocking
			checkFailures(t, p, log, run, connectWant(run, eTIMEDOUT, blocking), systemRateLimit)
			checkOnlyConnectSeries(t, p, uint32(run.PID), uint32(run.TID), eTIMEDOUT)
		})
	}
}

// connectLoopback makes n non-blocking connects from this thread to a
// listener, accepting each, as well as n Go dials and n blocking connects.
func connectLoopback(t *testing.T, n int, l *net.TCPListener) {
	t.Helper()
	addr := netip.MustParseAddrPort(l.Addr().String())
	family := unix.AF_INET6
	var sa unix.Sockaddr = &unix.SockaddrInet6{Addr: addr.Addr().As16(), Port: int(addr.Port())}
	if addr.Addr().Is4() {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Addr: addr.Addr().As4(), Port: int(addr.Port())}
	}
	accept := func() {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	for range n {
		for _, blocking := range []bool{false, true} {
			flags := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
			if !blocking {
				flags |= unix.SOCK_NONBLOCK
			}
			fd, err := unix.Socket(family, flags, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = unix.Connect(fd, sa)
			if !blocking && err == unix.EINPROGRESS {
				fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
				unix.Poll(fds, 5000)
				if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != 0 {
					err = unix.Errno(v)
				} else {
					err = nil
				}
				// Polling loops call connect again: it returns 0 once connected, then EISCONN.
				if again := unix.Connect(fd, sa); again != nil {
					t.Errorf("connect again once connected: %v, want success", again)
				}
				if again := unix.Connect(fd, sa); again != unix.EISCONN {
					t.Errorf("connect on a connected socket: %v, want EISCONN", again)
				}
			}
			if err != nil {
				unix.Close(fd)
				t.Fatalf("connect to %s: %v", addr, err)
			}
			accept()
			unix.Close(fd)
		}
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		accept()
		c.Close()
	}
}

// Successful connects, blocking and non-blocking, produce neither counts nor
// events, and leave nothing behind in the probe's maps.
func TestSuccessfulConnectsReportNothing(t *testing.T) {
	self := uint32(os.Getpid())
	p := loadProbe(t, Options{IncludePaths: true, PIDFilter: self, Rules: allConnectErrnos()})
	log := collectEvents(t, p)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := uint32(unix.Gettid())
	for _, network := range []string{"tcp4", "tcp6"} {
		l, err := net.Listen(network, map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0"}[network])
		if err != nil {
			if network == "tcp6" {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatal(err)
		}
		connectLoopback(t, 25, l.(*net.TCPListener))
		l.Close()
	}
	marker(t, log)
	connect := mustSyscall(t, "connect")
	if evs := log.matching(func(ev Event) bool { return ev.Syscall == connect }); len(evs) > 0 {
		t.Errorf("%d connect events for successful connects, first %+v", len(evs), evs[0])
	}
	checkOnlyConnectSeries(t, p, self, tid, 0)
	var sk uint64
	var attempt healthConnectAttempt
	if p.maps.Maps[healthMapConnectAttempts].Iterate().Next(&sk, &attempt) {
		t.Errorf("a connect is still followed after every connect completed: %+v", attempt)
	}
}

// refuseOnce makes one non-blocking connect from this thread to a closed
// loopback port and waits for its refusal; the socket stays open.
func refuseOnce(t *testing.T) (fd int, peer unix.Sockaddr) {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	peer = &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, peer); err != unix.EINPROGRESS {
		t.Fatalf("non-blocking connect to a closed port: %v, want EINPROGRESS", err)
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	if _, err := unix.Poll(fds, 5000); err != nil || fds[0].Revents == 0 {
		t.Fatalf("poll: %v, revents %#x", err, fds[0].Revents)
	}
	return fd, peer
}

// A polling loop calls connect again on the socket: the kernel returns the
// refusal once more (or ECONNABORTED once SO_ERROR consumed it). That is the
// same failure, already counted, not a second one.
func TestConnectPollingLoopCountedOnce(t *testing.T) {
	self := uint32(os.Getpid())
	p := loadProbe(t, Options{IncludePaths: true, PIDFilter: self, Rules: allConnectErrnos()})
	log := collectEvents(t, p)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	connect := mustSyscall(t, "connect")

	// connect again right away: ECONNREFUSED.
	fd, peer := refuseOnce(t)
	if err := unix.Connect(fd, peer); err != unix.ECONNREFUSED {
		t.Fatalf("connect after the refusal: %v, want ECONNREFUSED", err)
	}
	unix.Close(fd)
	// SO_ERROR first, then connect again: ECONNABORTED.
	fd, peer = refuseOnce(t)
	if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != int(unix.ECONNREFUSED) {
		t.Fatalf("SO_ERROR %d, want ECONNREFUSED", v)
	}
	if err := unix.Connect(fd, peer); err != unix.ECONNABORTED {
		t.Fatalf("connect after reading SO_ERROR: %v, want ECONNABORTED", err)
	}
	unix.Close(fd)

	if c := countOf(t, p, CountKey{PID: self, Syscall: connect, Errno: eCONNREFUSED}); c.Count != 2 {
		t.Errorf("%d refusals counted for 2 refused connects", c.Count)
	}
	marker(t, log)
	events := log.matching(func(ev Event) bool { return ev.Syscall == connect })
	if len(events) != 2 {
		t.Fatalf("%d connect events for 2 refused connects: %+v", len(events), events)
	}
	for _, ev := range events {
		if ev.Errno != eCONNREFUSED || !ev.Async || ev.FD < 0 || ev.Peer.Port() != uint16(peerPort(peer)) && ev.ErrorCount == 2 {
			t.Errorf("event %+v", ev)
		}
	}
	checkOnlyConnectSeries(t, p, self, uint32(unix.Gettid()), eCONNREFUSED)
}

func peerPort(sa unix.Sockaddr) int { return sa.(*unix.SockaddrInet4).Port }

// Asynchronous failures obey the rules, errnos, filters and path switch like the others.
func TestAsyncConnectFollowsConfig(t *testing.T) {
	self := uint32(os.Getpid())
	connect := mustSyscall(t, "connect")
	key := CountKey{PID: self, Syscall: connect, Errno: eCONNREFUSED}
	refused := func(t *testing.T, p *Probe, n int) {
		t.Helper()
		s, _ := trigger.Lookup("econnrefused")
		if _, err := s.Run(trigger.Options{Failures: n, Mode: trigger.ModeNonblocking}); err != nil {
			t.Fatal(err)
		}
	}
	p := loadProbe(t, Options{PIDFilter: self, Rules: []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}})
	log := collectEvents(t, p)
	steps := []struct {
		name  string
		opts  Options
		count uint64
	}{
		{"connect not watched", Options{PIDFilter: self, Rules: []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}}, 0},
		{"ECONNREFUSED not watched", Options{PIDFilter: self, Rules: []Rule{{Syscall: "connect", Errnos: []Errno{eTIMEDOUT}}}}, 0},
		{"another process", Options{PIDFilter: uint32(os.Getppid()), Rules: allConnectErrnos()}, 0},
		{"watched, without addresses", Options{PIDFilter: self, Rules: allConnectErrnos()}, 2},
		{"another cgroup", Options{PIDFilter: self, Scope: Scope{Include: ScopeMatch{Cgroups: []uint64{^uint64(0)}}}, Rules: allConnectErrnos()}, 2},
		{"watched, with addresses", Options{PIDFilter: self, Rules: allConnectErrnos(), IncludePaths: true}, 4},
	}
	for _, step := range steps {
		if err := p.Update(step.opts); err != nil {
			t.Fatal(err)
		}
		refused(t, p, 2)
		if c := countOf(t, p, key); c.Count != step.count {
			t.Errorf("%s: count %d, want %d", step.name, c.Count, step.count)
		}
	}
	marker(t, log)
	for _, ev := range log.matching(func(ev Event) bool { return ev.Syscall == connect }) {
		withAddresses := ev.ErrorCount > 2
		if !ev.Async || ev.Peer.IsValid() != withAddresses || ev.Local.IsValid() != withAddresses {
			t.Errorf("event %+v: want async, addresses %v", ev, withAddresses)
		}
	}
}

// Every flavour of the TCP state programs reports, whichever the sys_exit program uses.
func TestAsyncConnectHooks(t *testing.T) {
	self := uint32(os.Getpid())
	connect := mustSyscall(t, "connect")
	programTypes := map[Hook]ebpf.ProgramType{HookTPBTF: ebpf.Tracing, HookRawTracepoint: ebpf.RawTracepoint, HookTracepoint: ebpf.TracePoint}
	for _, hook := range hookChain {
		t.Run(string(hook), func(t *testing.T) {
			p := loadProbeHooks(t, Options{PIDFilter: self, IncludePaths: true}, []Hook{HookRawTracepoint}, []Hook{hook})
			if got, err := p.SocketHook(); got != hook || err != nil {
				t.Fatalf("SocketHook() = %q, %v", got, err)
			}
			for _, tp := range tcpStateTracepoints {
				if prog := p.programs[tp.programs[hook]]; prog == nil || prog.Type() != programTypes[hook] {
					t.Fatalf("TCP state program %s: %v", tp.programs[hook], prog)
				}
			}
			log := collectEvents(t, p)
			s, _ := trigger.Lookup("econnrefused")
			run, err := s.Run(trigger.Options{Failures: 3, Mode: trigger.ModeNonblocking})
			if err != nil {
				t.Fatal(err)
			}
			if c := countOf(t, p, CountKey{PID: self, Syscall: connect, Errno: eCONNREFUSED}); c.Count != 3 {
				t.Errorf("count %d, want 3", c.Count)
			}
			ev := log.waitFor(t, "async ECONNREFUSED", func(ev Event) bool { return ev.Syscall == connect && ev.ErrorCount == 3 })
			if !ev.Async || ev.TID != uint32(run.TID) || ev.Local.Port() != uint16(run.LocalPorts[2]) || ev.Peer.Port() != uint16(run.Port) {
				t.Errorf("event %+v, want async from thread %d, %d -> %d", ev, run.TID, run.LocalPorts[2], run.Port)
			}
		})
	}
}

// BenchmarkConnectOverhead measures what following TCP state adds to a
// successful loopback connect (connect, accept, close both ends), side by
// side in one run: without a probe, with the syscall exit program alone, and
// with the TCP state programs too. A failed non-blocking connect (refused;
// counted, events rate-limited) shows the reporting path. Besides the wall
// clock, the kernel's BPF statistics give each program's own run time per
// operation (sys_exit-ns/op, connect_start-ns/op, connect_end-ns/op) and
// invocations (*-runs/op).
func BenchmarkConnectOverhead(b *testing.B) {
	testenv.RequireRoot(b, loadsProbes)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF run time statistics: %v", err)
	}
	defer stats.Close()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	listener, err := l.(*net.TCPListener).File()
	if err != nil {
		b.Fatal(err)
	}
	defer listener.Close()
	open := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: l.Addr().(*net.TCPAddr).Port}
	closedListener, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	closed := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: closedListener.Addr().(*net.TCPAddr).Port}
	closedListener.Close()
	// SO_LINGER 0: close with a RST, so no TIME_WAIT uses up the ephemeral ports.
	abort := func(fd int) {
		unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(fd)
	}
	workloads := []struct {
		name string
		run  func(b *testing.B)
	}{
		{"connect-accept-close", func(b *testing.B) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Connect(fd, open); err != nil {
				b.Fatal(err)
			}
			nfd, _, err := unix.Accept4(int(listener.Fd()), unix.SOCK_CLOEXEC)
			if err != nil {
				b.Fatal(err)
			}
			abort(fd)
			unix.Close(nfd)
		}},
		{"nonblocking-refused", func(b *testing.B) {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := unix.Connect(fd, closed); err != unix.EINPROGRESS {
				b.Fatal(err)
			}
			if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); v != int(unix.ECONNREFUSED) {
				b.Fatalf("SO_ERROR %d", v)
			}
			unix.Close(fd)
		}},
	}
	probes := []struct {
		name        string
		socketHooks []Hook
	}{
		{"none", nil},
		{"sys_exit", []Hook{}},
		{"sys_exit+tcp_state", hookChain},
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			for _, probe := range probes {
				b.Run(probe.name, func(b *testing.B) {
					var programs map[string]*ebpf.Program
					if probe.socketHooks != nil {
						p, err := load(Options{}, []Hook{HookTPBTF}, probe.socketHooks)
						if err != nil {
							b.Fatal(err)
						}
						defer p.Close()
						if hook, _ := p.SocketHook(); (hook != "") != (len(probe.socketHooks) > 0) {
							b.Fatalf("TCP state hook %q", hook)
						}
						programs = p.programs
					}
					before := programStats(b, programs)
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					for b.Loop() {
						w.run(b)
					}
					after := programStats(b, programs)
					for name, label := range map[string]string{healthProgSysExitBtf: "sys_exit",
						healthProgTcpConnectStartBtf: "connect_start", healthProgTcpConnectEndBtf: "connect_end"} {
						if _, ok := programs[name]; !ok {
							continue
						}
						runs := after[name].RunCount - before[name].RunCount
						b.ReportMetric(float64(after[name].Runtime-before[name].Runtime)/float64(b.N), label+"-ns/op")
						b.ReportMetric(float64(runs)/float64(b.N), label+"-runs/op")
					}
				})
			}
		})
	}
}

// programStats reads the kernel's run statistics of each program.
func programStats(b *testing.B, programs map[string]*ebpf.Program) map[string]ebpf.ProgramStats {
	b.Helper()
	out := make(map[string]ebpf.ProgramStats, len(programs))
	for name, prog := range programs {
		s, err := prog.Stats()
		if err != nil {
			b.Fatalf("statistics of %s: %v", name, err)
		}
		out[name] = *s
	}
	return out
}

// Go clients on many threads at once: every refusal counted once, under the
// right thread, and nothing left behind.
func TestAsyncConnectsFromManyThreads(t *testing.T) {
	self := uint32(os.Getpid())
	p := loadProbe(t, Options{IncludePaths: true, PIDFilter: self, Rules: allConnectErrnos(), RateLimit: RateLimit{EventsPerSecond: MaxEventsPerSecond, Burst: 1 << 20}})
	log := collectEvents(t, p)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const goroutines, dials = 8, 150
	tids := make(chan uint32, goroutines)
	errs := make(chan error, goroutines)
	for range goroutines {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- uint32(unix.Gettid())
			for range dials {
				if _, err := net.Dial("tcp", addr); !errors.Is(err, unix.ECONNREFUSED) {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	threads := map[uint32]bool{}
	for range goroutines {
		if err := <-errs; err != nil {
			t.Fatalf("dial: %v, want ECONNREFUSED", err)
		}
		threads[<-tids] = true
	}
	connect := mustSyscall(t, "connect")
	if c := countOf(t, p, CountKey{PID: self, Syscall: connect, Errno: eCONNREFUSED}); c.Count != goroutines*dials {
		t.Errorf("counted %d refusals, %d happened", c.Count, goroutines*dials)
	}
	marker(t, log)
	events := log.matching(func(ev Event) bool { return ev.Syscall == connect })
	if len(events) != goroutines*dials {
		t.Errorf("%d events for %d refusals without a rate limit", len(events), goroutines*dials)
	}
	for _, ev := range events {
		if !ev.Async || !threads[ev.TID] || ev.Errno != eCONNREFUSED {
			t.Errorf("event %+v: want an async refusal from one of the dialling threads", ev)
			break
		}
	}
	for tid := range threads {
		checkOnlyConnectSeries(t, p, self, tid, eCONNREFUSED)
	}
	if s, err := p.Stats(); err != nil || s.UntrackedConnects != 0 || s.RingbufDrops != 0 {
		t.Errorf("stats %+v (%v)", s, err)
	}
}

// With every slot of connect_attempts taken, a new connect is not followed:
// counted in Stats.UntrackedConnects, and its later failure goes uncounted
// rather than being misattributed. The slots are taken from user space, on
// the real kernel map.
func TestUntrackedConnectsWhenFull(t *testing.T) {
	self := uint32(os.Getpid())
	p := loadProbe(t, Options{PIDFilter: self, Rules: allConnectErrnos()})
	attempts := p.maps.Maps[healthMapConnectAttempts]
	for i := range attempts.MaxEntries() {
		sk := uint64(1+i) << 4 // never a real socket address: kernel pointers have their top bits set
		if err := attempts.Update(&sk, &healthConnectAttempt{Tgid: 1}, ebpf.UpdateNoExist); err != nil {
			t.Fatalf("taking slot %d: %v", i, err)
		}
	}
	s, _ := trigger.Lookup("econnrefused")
	if _, err := s.Run(trigger.Options{Failures: 2, Mode: trigger.ModeNonblocking}); err != nil {
		t.Fatal(err)
	}
	stats, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.UntrackedConnects != 2 {
		t.Errorf("UntrackedConnects %d, want 2", stats.UntrackedConnects)
	}
	if c := countOf(t, p, CountKey{PID: self, Syscall: mustSyscall(t, "connect"), Errno: eCONNREFUSED}); c.Count != 0 {
		t.Errorf("%d refusals counted for connects that could not be followed", c.Count)
	}
}

// When no TCP state hook can be attached (here: none offered), Load still
// succeeds, SocketHook says what is missing, and every failure a syscall
// returns is still reported.
func TestLoadWithoutTCPStateHook(t *testing.T) {
	self := uint32(os.Getpid())
	p := loadProbeHooks(t, Options{PIDFilter: self}, hookChain, []Hook{"unavailable"})
	hook, err := p.SocketHook()
	if hook != "" || err == nil || !strings.Contains(err.Error(), "connects that fail after connect() returned") {
		t.Fatalf("SocketHook() = %q, %v; want no hook and the reason", hook, err)
	}
	t.Logf("SocketHook: %v", err)
	s, _ := trigger.Lookup("econnrefused")
	if _, err := s.Run(trigger.Options{Failures: 2, Mode: trigger.ModeBlocking}); err != nil {
		t.Fatal(err)
	}
	if c := countOf(t, p, CountKey{PID: self, Syscall: mustSyscall(t, "connect"), Errno: eCONNREFUSED}); c.Count != 2 {
		t.Errorf("%d blocking refusals counted, want 2", c.Count)
	}
}

// The kernel skips a run of the connect outcome program when a state change
// in an interrupt arrives while the program runs for another socket on that
// CPU; a connect failure among them would go uncounted, so Stats counts the
// skipped runs. Loopback connects on every CPU make it happen within seconds
// here.
func TestSkippedRunsCounted(t *testing.T) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &major, &minor)
	if major < 5 || (major == 5 && minor < 12) {
		t.Skip("the kernel counts skipped runs from Linux 5.12")
	}
	p := loadProbe(t, Options{Rules: allConnectErrnos()})
	if _, err := p.SocketHook(); err != nil {
		t.Skip(err)
	}
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * runtime.NumCPU() {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
					c.Close()
				}
			}
		})
	}
	defer func() { close(done); wg.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		s, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if s.MissedRuns > 0 {
			t.Logf("%d runs skipped", s.MissedRuns)
			return
		}
	}
	t.Error("no skipped run counted in 30 s of loopback connects on every CPU")
}
