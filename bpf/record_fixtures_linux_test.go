//go:build linux && (amd64 || arm64)

package bpf

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// TestRecordEventFixtures rewrites testdata/events (raw ring-buffer records of
// real failures and what the failing process knew about each) when
// SYSCALLHEALTH_RECORD_FIXTURES=1, e.g. after struct health_event changed:
//
//	sudo SYSCALLHEALTH_RECORD_FIXTURES=1 go test ./bpf -run TestRecordEventFixtures
func TestRecordEventFixtures(t *testing.T) {
	if os.Getenv("SYSCALLHEALTH_RECORD_FIXTURES") != "1" {
		t.Skip("records fixtures only with SYSCALLHEALTH_RECORD_FIXTURES=1")
	}
	testenv.RequireRoot(t, loadsProbes)
	ipv6Loopback(t)
	bin := triggertest.Build(t)
	p := loadProbe(t, Options{IncludePaths: true, Rules: allConnectErrnos()})
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cgroups, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	v2Path := ""
	for line := range strings.Lines(string(cgroups)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			v2Path = rest
		}
	}
	self := recordedEvent{PID: uint32(os.Getpid()), TID: uint32(unix.Gettid()), PPID: uint32(os.Getppid()), Comm: "bpf.test", CgroupPath: v2Path}
	var recorded []recordedEvent

	// record reads the next record of r's process and failure (others are skipped) and writes it to
	// r.File; fdFromEvent takes the descriptor from the record, for a process that does not print it.
	record := func(r recordedEvent, fdFromEvent bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			p.reader.SetDeadline(deadline)
			rec, err := p.reader.Read()
			if err != nil {
				t.Fatal(err)
			}
			var ev Event
			if err := DecodeEvent(rec.RawSample, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.PID != r.PID || SyscallName(ev.Syscall) != r.Syscall || ev.Errno.Name() != r.Errno {
				continue
			}
			if err := os.WriteFile(filepath.Join("testdata/events", r.File), rec.RawSample, 0o644); err != nil {
				t.Fatal(err)
			}
			if fdFromEvent {
				r.FD = ev.FD
			}
			recorded = append(recorded, r)
			return
		}
		t.Fatalf("no event for %s", r.File)
	}

	r := self
	r.File, r.Syscall, r.Errno, r.Path = "write_enospc.bin", "write", "ENOSPC", "/dev/full"
	fd, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{0}); err != unix.ENOSPC {
		t.Fatalf("write to /dev/full: %v", err)
	}
	r.FD = int32(fd)
	record(r, false)

	r = self
	r.File, r.Syscall, r.Errno = "connect_econnrefused_ipv4.bin", "connect", "ECONNREFUSED"
	port := testenv.ClosedLoopbackPort(t)
	fd = socket(t, unix.AF_INET)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != unix.ECONNREFUSED {
		t.Fatalf("connect: %v", err)
	}
	// The source port stays in the socket after the refusal; the address is the loopback the SYN left from.
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	r.FD, r.Peer = int32(fd), "127.0.0.1:"+strconv.Itoa(port)
	r.Local = "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	record(r, false)

	r = self
	r.File, r.Syscall, r.Errno = "bind_eaddrinuse_ipv6.bin", "bind", "EADDRINUSE"
	first := socket(t, unix.AF_INET6)
	if err := unix.Bind(first, &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16()}); err != nil {
		t.Fatal(err)
	}
	sa, err = unix.Getsockname(first)
	if err != nil {
		t.Fatal(err)
	}
	port = sa.(*unix.SockaddrInet6).Port
	fd = socket(t, unix.AF_INET6)
	if err := unix.Bind(fd, &unix.SockaddrInet6{Addr: netip.IPv6Loopback().As16(), Port: port}); err != unix.EADDRINUSE {
		t.Fatalf("bind: %v", err)
	}
	r.FD, r.Local = int32(fd), "[::1]:"+strconv.Itoa(port)
	record(r, false)

	r = self
	r.File, r.Syscall, r.Errno, r.Path = "connect_econnrefused_unix_abstract.bin", "connect", "ECONNREFUSED", "@syscallhealth-recorded"
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: "@syscallhealth-recorded"}); err != unix.ECONNREFUSED {
		t.Fatalf("connect: %v", err)
	}
	r.FD = int32(fd)
	record(r, false)

	// Asynchronous failures, in trigger processes.
	for _, tc := range []struct{ file, scenario, errno, addr string }{
		{"connect_econnrefused_async_ipv6.bin", "econnrefused", "ECONNREFUSED", "::1"},
		{"connect_etimedout_async_ipv4.bin", "etimedout", "ETIMEDOUT", "127.0.0.1"},
	} {
		run, err := triggertest.Run(bin, tc.scenario, "-n", "1", "-mode", trigger.ModeNonblocking, "-address", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		peer := netip.AddrPortFrom(netip.MustParseAddr(run.Address), uint16(run.Port))
		r := recordedEvent{File: tc.file, PID: uint32(run.PID), TID: uint32(run.TID), PPID: uint32(os.Getpid()), Syscall: "connect",
			Errno: tc.errno, Peer: peer.String(), Local: netip.AddrPortFrom(peer.Addr(), uint16(run.LocalPorts[0])).String(),
			Comm: "syscallhealth-t", Async: true}
		record(r, true)
	}

	data, err := json.MarshalIndent(recorded, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/events/recorded.json", append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func socket(t *testing.T, family int) int {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}
