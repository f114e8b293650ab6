//go:build linux && (amd64 || arm64)

package bpf

import (
	"errors"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// The decoder's layout is the C struct's, as bpf2go read it from the object's BTF.
func TestEventLayoutMatchesKernelStruct(t *testing.T) {
	var e healthHealthEvent
	offsets := map[string][2]uintptr{
		"timestamp_ns":     {unsafe.Offsetof(e.TimestampNs), offTimestamp},
		"cgroup_id":        {unsafe.Offsetof(e.CgroupId), offCgroupID},
		"error_count":      {unsafe.Offsetof(e.ErrorCount), offErrorCount},
		"suppressed":       {unsafe.Offsetof(e.Suppressed), offSuppressed},
		"pid":              {unsafe.Offsetof(e.Pid), offPID},
		"tid":              {unsafe.Offsetof(e.Tid), offTID},
		"ppid":             {unsafe.Offsetof(e.Ppid), offPPID},
		"uid":              {unsafe.Offsetof(e.Uid), offUID},
		"gid":              {unsafe.Offsetof(e.Gid), offGID},
		"syscall_nr":       {unsafe.Offsetof(e.SyscallNr), offSyscall},
		"error_code":       {unsafe.Offsetof(e.ErrorCode), offErrorCode},
		"fd":               {unsafe.Offsetof(e.Fd), offFD},
		"local_port":       {unsafe.Offsetof(e.LocalPort), offLocalPort},
		"peer_port":        {unsafe.Offsetof(e.PeerPort), offPeerPort},
		"category":         {unsafe.Offsetof(e.Category), offCategory},
		"flags":            {unsafe.Offsetof(e.Flags), offFlags},
		"family":           {unsafe.Offsetof(e.Family), offFamily},
		"local_addr":       {unsafe.Offsetof(e.LocalAddr), offLocalAddr},
		"peer_addr":        {unsafe.Offsetof(e.PeerAddr), offPeerAddr},
		"comm":             {unsafe.Offsetof(e.Comm), offComm},
		"path":             {unsafe.Offsetof(e.Path), offPath},
		"mnt_ns":           {unsafe.Offsetof(e.MntNs), offMountNS},
		"cgroup_path":      {unsafe.Offsetof(e.CgroupPath), offCgroupPath},
		"process_start_ns": {unsafe.Offsetof(e.ProcessStartNs), offProcessStart},
	}
	for field, o := range offsets {
		if o[0] != o[1] {
			t.Errorf("health_event.%s is at %d in C, the decoder reads %d", field, o[0], o[1])
		}
	}
	if s := unsafe.Sizeof(e); s != eventSize || unsafe.Sizeof(rawEvent{}) != eventSize {
		t.Errorf("health_event is %d bytes in C, decoder expects %d (benchmark mirror %d)", s, eventSize, unsafe.Sizeof(rawEvent{}))
	}
	if len(e.Comm) != commLen || len(e.Path) != pathLen || len(e.CgroupPath) != cgroupPathLen {
		t.Errorf("comm/path/cgroup_path are %d/%d/%d bytes in C", len(e.Comm), len(e.Path), len(e.CgroupPath))
	}
	var cfg healthHealthConfig
	if len(cfg.Rules) != maxSyscalls || len(cfg.Rules[0].Errnos) != errnoBitmapWords {
		t.Errorf("config has %d rules of %d errno words; Go assumes %d and %d", len(cfg.Rules), len(cfg.Rules[0].Errnos), maxSyscalls, errnoBitmapWords)
	}
}

func TestLoadHealthProgram(t *testing.T) {
	p := loadProbe(t, Options{})

	// tp_btf is the first of the chain and this kernel (6.x with BTF) accepts it, for both programs.
	if p.Hook() != HookTPBTF {
		t.Errorf("Load attached %s; tp_btf is available on this kernel and should win", p.Hook())
	}
	if hook, err := p.SocketHook(); hook != HookTPBTF || err != nil {
		t.Errorf("SocketHook() = %q, %v; tp_btf is available on this kernel and should win", hook, err)
	}
	if len(p.programs) != 3 || p.programs[healthProgSysExitBtf] == nil || p.programs[healthProgTcpConnectStartBtf] == nil ||
		p.programs[healthProgTcpConnectEndBtf] == nil {
		t.Errorf("programs loaded: %v, want only the three tp_btf ones", slices.Sorted(maps.Keys(p.programs)))
	}
	want := map[string]struct {
		typ        ebpf.MapType
		maxEntries uint32
	}{
		healthMapEvents:          {ebpf.RingBuf, DefaultRingBufferSize},
		healthMapTracking:        {ebpf.Hash, DefaultTrackingMapSize},
		healthMapConfig:          {ebpf.Array, 2},
		healthMapStats:           {ebpf.PerCPUArray, 1},
		healthMapConnectAttempts: {ebpf.Hash, 8192},
		healthMapConnectThreads:  {ebpf.Hash, 4096},
		healthMapConnectRunning:  {ebpf.Hash, 4096},
		healthMapConnectReported: {ebpf.LRUHash, 2048},
	}
	for name, w := range want {
		m := p.maps.Maps[name]
		if m == nil {
			t.Errorf("map %s missing", name)
			continue
		}
		if m.Type() != w.typ || m.MaxEntries() != w.maxEntries {
			t.Errorf("map %s is %s with %d entries, want %s with %d", name, m.Type(), m.MaxEntries(), w.typ, w.maxEntries)
		}
	}
	var total uint64
	for name, m := range p.maps.Maps {
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		memlock, _ := info.Memlock()
		total += memlock
		t.Logf("map %-16s %-12s memlock %8d B", name, m.Type(), memlock)
	}
	t.Logf("maps memlock total %d B (%.2f MiB)", total, float64(total)/(1<<20))
	for name, prog := range p.programs {
		info, err := prog.Info()
		if err != nil {
			t.Fatal(err)
		}
		insns, _ := info.Instructions()
		jited, _ := info.JitedSize()
		memlock, _ := info.Memlock()
		t.Logf("program %s: %d instructions, %d B JITed, memlock %d B", name, len(insns), jited, memlock)
	}

	// The config slot the programs read holds the defaults.
	var slot uint32
	if err := p.slot.Get(&slot); err != nil || slot != 0 {
		t.Fatalf("active config slot %d (%v), want 0", slot, err)
	}
	var got healthHealthConfig
	if err := p.config.Lookup(slot, &got); err != nil {
		t.Fatal(err)
	}
	wantCfg, err := kernelConfig(Options{}.withDefaults(), DefaultRingBufferSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg.Generation = 1 // the first configuration written
	if got != *wantCfg {
		t.Error("the config map does not hold the default configuration")
	}
	openat := mustSyscall(t, "openat")
	if r := got.Rules[openat]; r.Watched != 1 || r.Category != uint8(CategoryFile) || r.Errnos[0]&(1<<28) == 0 {
		t.Errorf("openat rule in the kernel: %+v", r)
	}
	if got.EmitIntervalNs != 100_000_000 || got.BurstToleranceNs != 1_900_000_000 {
		t.Errorf("rate limit in the kernel: interval %d tolerance %d", got.EmitIntervalNs, got.BurstToleranceNs)
	}

	// Close is idempotent and leaves every method with a clear error.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var ev Event
	if err := p.ReadEvent(&ev); !errors.Is(err, ErrClosed) {
		t.Errorf("ReadEvent after Close: %v, want ErrClosed", err)
	}
	if err := p.Update(Options{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Counts(); !errors.Is(err, ErrClosed) {
		t.Errorf("Counts after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Stats(); !errors.Is(err, ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	if err := p.DeleteCounts([]CountKey{{PID: 1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteCounts after Close: %v, want ErrClosed", err)
	}

	// Invalid options fail before anything is loaded, naming the field.
	if _, err := Load(Options{RingBufferSize: 12345}); err == nil || !strings.Contains(err.Error(), "RingBufferSize") {
		t.Errorf("Load with a bad ring size: %v", err)
	}
}

func TestAttachTracepoints(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	programTypes := map[Hook]ebpf.ProgramType{
		HookTPBTF:         ebpf.Tracing,
		HookRawTracepoint: ebpf.RawTracepoint,
		HookTracepoint:    ebpf.TracePoint,
	}
	self := uint32(os.Getpid())
	write, openat := mustSyscall(t, "write"), mustSyscall(t, "openat")
	for _, hook := range hookChain {
		t.Run(string(hook), func(t *testing.T) {
			// The tracepoint program finds the syscall's registers with bpf_task_pt_regs (Linux 5.15): before
			// it, that hook cannot load, and says so.
			if hook == HookTracepoint && features.HaveProgramHelper(ebpf.TracePoint, asm.FnTaskPtRegs) != nil {
				_, err := load(Options{PIDFilter: self}, []Hook{hook}, nil)
				if err == nil || !strings.Contains(err.Error(), "needs the BPF helper") {
					t.Fatalf("Load with the tracepoint hook on a kernel without bpf_task_pt_regs: %v", err)
				}
				t.Logf("as expected on Linux %s: %v", kernelRelease(), err)
				return
			}
			p := loadProbe(t, Options{IncludePaths: true, PIDFilter: self}, hook)
			if p.Hook() != hook {
				t.Fatalf("Hook() = %s", p.Hook())
			}
			prog := p.programs[sysExitTracepoint.programs[hook]]
			if prog.Type() != programTypes[hook] {
				t.Errorf("program type %s, want %s", prog.Type(), programTypes[hook])
			}
			info, err := p.links[0].Info()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: link type %d, program %s", hook, info.Type, prog.Type())
			log := collectEvents(t, p)

			// Unwatched errno (openat ENOENT is opt-in) and a success: neither is counted.
			if _, err := unix.Open("/nonexistent/syscallhealth", unix.O_RDONLY, 0); err != unix.ENOENT {
				t.Fatalf("open of a missing file: %v", err)
			}
			if fd, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0); err == nil {
				unix.Write(fd, []byte{0})
				unix.Close(fd)
			}
			failWriteFull(t)
			ev := log.waitFor(t, "write ENOSPC", func(ev Event) bool { return ev.Syscall == write })
			if ev.Errno != eNOSPC || ev.PID != self || ev.Path != "/dev/full" || ev.FD < 0 || ev.Category != CategoryFile || ev.ErrorCount != 1 {
				t.Errorf("event %+v", ev)
			}
			if c := countOf(t, p, CountKey{PID: self, Syscall: write, Errno: eNOSPC}); c.Count != 1 || c.Category != CategoryFile || c.FirstSeenNs != ev.TimestampNs {
				t.Errorf("count %+v, want 1 first seen at the event's time %d", c, ev.TimestampNs)
			}
			if c := countOf(t, p, CountKey{PID: self, Syscall: openat, Errno: 2}); c.Count != 0 {
				t.Errorf("openat ENOENT counted %d times although not watched", c.Count)
			}
			if n := len(log.matching(func(ev Event) bool { return ev.Syscall == openat })); n != 0 {
				t.Errorf("%d openat events although ENOENT is not watched", n)
			}
		})
	}
}

func TestRingBufferCreation(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	self := uint32(os.Getpid())
	write := mustSyscall(t, "write")
	noLimit := RateLimit{EventsPerSecond: MaxEventsPerSecond, Burst: 1 << 20}

	t.Run("size", func(t *testing.T) {
		p := loadProbe(t, Options{RingBufferSize: 4 << 20, PIDFilter: self, IncludePaths: true})
		events := p.maps.Maps[healthMapEvents]
		if events.Type() != ebpf.RingBuf || events.MaxEntries() != 4<<20 {
			t.Errorf("ring is %s of %d bytes, want RingBuf of 4 MiB", events.Type(), events.MaxEntries())
		}
		var cfg healthHealthConfig
		if err := p.config.Lookup(uint32(0), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.StormThreshold != 2<<20 || cfg.WakeupThreshold != 1<<20 {
			t.Errorf("thresholds storm %d wakeup %d, want half and a quarter of 4 MiB", cfg.StormThreshold, cfg.WakeupThreshold)
		}
		log := collectEvents(t, p)
		failWriteFull(t)
		log.waitFor(t, "write ENOSPC", func(ev Event) bool { return ev.Syscall == write && ev.PID == self })
	})

	// A one-page ring holds 6 records of 648 bytes (event + 8-byte header).
	// The storm guard stops a series once half the ring is unread; every
	// failure is still counted, and the next event reports the held-back ones.
	t.Run("storm guard", func(t *testing.T) {
		page := os.Getpagesize()
		if page != 4096 {
			t.Skipf("the arithmetic below assumes 4 KiB pages, this host has %d", page)
		}
		p := loadProbe(t, Options{RingBufferSize: page, PIDFilter: self, RateLimit: noLimit})
		for range 100 {
			failWriteFull(t)
		}
		key := CountKey{PID: self, Syscall: write, Errno: eNOSPC}
		if c := countOf(t, p, key); c.Count != 100 {
			t.Fatalf("count %d, want 100", c.Count)
		}
		const emitted = 4 // 3 records (1944 B) < 2048 <= 4 records (2592 B)
		stats, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if stats.Suppressed != 100-emitted || stats.RingbufDrops != 0 {
			t.Errorf("stats %+v, want %d suppressed and no drops", stats, 100-emitted)
		}
		var ev Event
		for i := range emitted {
			if err := p.ReadEvent(&ev); err != nil {
				t.Fatal(err)
			}
			if ev.ErrorCount != uint64(i+1) || ev.Suppressed != 0 {
				t.Errorf("event %d: count %d suppressed %d", i, ev.ErrorCount, ev.Suppressed)
			}
		}
		// The ring is drained: the next failure is emitted and carries the held-back ones.
		failWriteFull(t)
		if err := p.ReadEvent(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.ErrorCount != 101 || ev.Suppressed != 100-emitted {
			t.Errorf("event after the storm: count %d suppressed %d, want 101 and %d", ev.ErrorCount, ev.Suppressed, 100-emitted)
		}
	})

	// First failures of new series pass the storm guard; when the ring is full
	// they are dropped, counted per CPU, and still counted exactly per series.
	t.Run("drops", func(t *testing.T) {
		page := os.Getpagesize()
		if page != 4096 {
			t.Skipf("the arithmetic below assumes 4 KiB pages, this host has %d", page)
		}
		// Sixteen syscalls that fail with EBADF on fd -1, each its own series.
		names := []string{"fchmod", "fchown", "fsync", "fdatasync", "ftruncate", "fallocate", "fstat", "fstatfs",
			"fchdir", "lseek", "getdents64", "pread64", "readahead", "syncfs", "dup", "dup3"}
		var rules []Rule
		for _, n := range names {
			rules = append(rules, Rule{Syscall: n, Errnos: []Errno{9}})
		}
		p := loadProbe(t, Options{RingBufferSize: page, PIDFilter: self, RateLimit: noLimit, Rules: rules})
		for _, n := range names {
			nr := mustSyscall(t, n)
			if _, _, errno := unix.Syscall6(uintptr(nr), ^uintptr(0), 0, 0, 0, 0, 0); errno != unix.EBADF {
				t.Fatalf("%s(-1): %v, want EBADF", n, errno)
			}
		}
		const fit = 6 // 6 x 648 B = 3888 B <= 4096 B < 7 x 648 B
		stats, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if stats.RingbufDrops != uint64(len(names)-fit) || stats.Suppressed != 0 {
			t.Errorf("stats %+v, want %d drops", stats, len(names)-fit)
		}
		for _, n := range names {
			if c := countOf(t, p, CountKey{PID: self, Syscall: mustSyscall(t, n), Errno: 9}); c.Count != 1 {
				t.Errorf("%s EBADF counted %d times, want 1", n, c.Count)
			}
		}
	})
}

func TestConfigMapUpdate(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	self := uint32(os.Getpid())
	write := mustSyscall(t, "write")
	key := CountKey{PID: self, Syscall: write, Errno: eNOSPC}
	openatOnly := []Rule{{Syscall: "openat", Errnos: []Errno{eACCES}}}
	writeENOSPC := []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}

	p := loadProbe(t, Options{Rules: openatOnly, PIDFilter: self})
	log := collectEvents(t, p)
	failWriteFull(t)
	if c := countOf(t, p, key); c.Count != 0 {
		t.Fatalf("write counted %d times while not watched", c.Count)
	}

	// Watch write, with paths: takes effect for the very next syscall.
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self, IncludePaths: true}); err != nil {
		t.Fatal(err)
	}
	failWriteFull(t)
	if c := countOf(t, p, key); c.Count != 1 {
		t.Fatalf("count %d after watching write, want 1", c.Count)
	}
	ev := log.waitFor(t, "write with path", func(ev Event) bool { return ev.Syscall == write && ev.ErrorCount == 1 })
	if ev.Path != "/dev/full" {
		t.Errorf("path %q with IncludePaths", ev.Path)
	}

	// Paths off: the event keeps its fd but no path.
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self}); err != nil {
		t.Fatal(err)
	}
	failWriteFull(t)
	ev = log.waitFor(t, "write without path", func(ev Event) bool { return ev.Syscall == write && ev.ErrorCount == 2 })
	if ev.Path != "" || ev.FD < 0 {
		t.Errorf("without IncludePaths: path %q fd %d", ev.Path, ev.FD)
	}

	// Filters: another pid, then a scope of a cgroup that is not ours, exclude this process; our cgroup includes it.
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: uint32(os.Getppid())}); err != nil {
		t.Fatal(err)
	}
	failWriteFull(t)
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self, Scope: Scope{Include: ScopeMatch{Cgroups: []uint64{ev.CgroupID + 1000}}}}); err != nil {
		t.Fatal(err)
	}
	failWriteFull(t)
	if c := countOf(t, p, key); c.Count != 2 {
		t.Fatalf("count %d after filtering this process out, want still 2", c.Count)
	}
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self, Scope: Scope{Include: ScopeMatch{Cgroups: []uint64{ev.CgroupID}}}}); err != nil {
		t.Fatal(err)
	}
	failWriteFull(t)
	if c := countOf(t, p, key); c.Count != 3 {
		t.Fatalf("count %d with our own cgroup as filter, want 3", c.Count)
	}

	// Rate limit: one event, no burst. Let the previous 10/s schedule lapse first.
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self, RateLimit: RateLimit{EventsPerSecond: 1, Burst: 1}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for range 5 {
		failWriteFull(t)
	}
	if c := countOf(t, p, key); c.Count != 8 {
		t.Fatalf("count %d after 5 more failures, want 8 (counting happens before rate limiting)", c.Count)
	}
	log.waitFor(t, "first write under the 1/s limit", func(ev Event) bool { return ev.Syscall == write && ev.ErrorCount == 4 })
	time.Sleep(50 * time.Millisecond)
	if n := len(log.matching(func(ev Event) bool { return ev.Syscall == write && ev.ErrorCount > 4 })); n != 0 {
		t.Errorf("%d events beyond the burst of 1", n)
	}
	stats, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Suppressed != 4 {
		t.Errorf("suppressed %d, want 4", stats.Suppressed)
	}

	// Invalid updates and size changes are refused, and leave the configuration as it was.
	var before uint32
	p.slot.Get(&before)
	for _, bad := range []Options{
		{Rules: []Rule{{Syscall: "nope", AllErrnos: true}}},
		{RingBufferSize: 2 * DefaultRingBufferSize},
		{TrackingMapSize: 5},
	} {
		if err := p.Update(bad); err == nil {
			t.Errorf("Update(%+v) succeeded", bad)
		}
	}
	var after uint32
	p.slot.Get(&after)
	if after != before {
		t.Errorf("a refused update switched the config slot from %d to %d", before, after)
	}
	// Zero sizes keep the current ones.
	if err := p.Update(Options{Rules: writeENOSPC, PIDFilter: self}); err != nil {
		t.Errorf("Update with zero sizes: %v", err)
	}
}

func TestBootClock(t *testing.T) {
	c := NewBootClock()
	for range 3 {
		var boot unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
			t.Fatal(err)
		}
		got := c.Time(uint64(boot.Nano()))
		if d := time.Since(got); d < -time.Millisecond || d > 10*time.Millisecond {
			t.Errorf("boot time now converts to %v, %v from the wall clock", got, d)
		}
	}
	// Monotonic in its input.
	if a, b := c.Time(1e9), c.Time(2e9); b.Sub(a) != time.Second {
		t.Errorf("one boot second apart converts to %v apart", b.Sub(a))
	}
}

// Without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN, Load says what is missing and how to fix it.
func TestLoadErrorsWithoutCapabilities(t *testing.T) {
	errc := make(chan error)
	go func() {
		// Capabilities are per thread: drop them on a locked thread, which
		// is never unlocked so it exits with the goroutine.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		for _, c := range []uint{capSysAdmin, capBPF, capPerfmon} {
			data[c/32].Effective &^= 1 << (c % 32)
		}
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		_, err := Load(Options{})
		errc <- err
	}()
	err := <-errc
	if err == nil {
		t.Fatal("Load succeeded without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN")
	}
	t.Logf("Load without capabilities: %v", err)
	for _, want := range []string{"CAP_BPF", "CAP_PERFMON", "root", "setcap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("error %v does not wrap os.ErrPermission", err)
	}
}

// A program the verifier rejects yields an error with the log's tail that still unwraps to *ebpf.VerifierError.
func TestVerifierErrorIsExplained(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	_, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.RawTracepoint,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Reg(asm.R0, asm.R2), // R2 is never initialised: rejected
			asm.Return(),
		},
	})
	if err == nil {
		t.Fatal("the verifier accepted a program reading an uninitialised register")
	}
	explained := explainLoadError(HookRawTracepoint, healthProgSysExitRaw, err)
	t.Logf("explained: %v", explained)
	var ve *ebpf.VerifierError
	if !errors.As(explained, &ve) {
		t.Errorf("explained error %v lost the *ebpf.VerifierError", explained)
	}
	for _, want := range []string{"verifier rejected the raw_tracepoint program", "R2 !read_ok", kernelRelease()} {
		if !strings.Contains(explained.Error(), want) {
			t.Errorf("explained error does not contain %q:\n%v", want, explained)
		}
	}
}

// Counts reads the whole tracking map across batches; DeleteCounts forgets
// exactly the given series. The series are written from userspace here: what
// is tested is the Go side's iteration, on the real kernel map.
func TestCountsAndDeleteCounts(t *testing.T) {
	p := loadProbe(t, Options{TrackingMapSize: 8192})
	const series = 3 * countsBatch
	for i := range series {
		key := healthTrackingKey{Tgid: uint32(1_000_000 + i), SyscallNr: 257, ErrnoNr: 28}
		value := healthTrackingValue{Count: uint64(i + 1), FirstSeenNs: 10, LastSeenNs: 20, Category: uint8(CategoryFile)}
		if err := p.tracking.Update(&key, &value, ebpf.UpdateNoExist); err != nil {
			t.Fatalf("inserting series %d: %v", i, err)
		}
	}
	fromUs := func(counts []Count) map[uint32]Count {
		m := map[uint32]Count{}
		for _, c := range counts {
			if c.Key.PID >= 1_000_000 {
				if _, dup := m[c.Key.PID]; dup {
					t.Errorf("series %+v returned twice", c.Key)
				}
				m[c.Key.PID] = c
			}
		}
		return m
	}
	counts, err := p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	got := fromUs(counts)
	if len(got) != series {
		t.Fatalf("Counts returned %d of the %d series", len(got), series)
	}
	if c := got[1_000_041]; c.Count != 42 || c.Key.Syscall != 257 || c.Key.Errno != eNOSPC || c.Category != CategoryFile || c.FirstSeenNs != 10 || c.LastSeenNs != 20 {
		t.Errorf("series 41 read back as %+v", c)
	}
	// The iterator fallback (kernels before 5.6) reads the same.
	iterated, err := p.iterateCounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(fromUs(iterated)) != series {
		t.Errorf("iterating returned %d of the %d series", len(fromUs(iterated)), series)
	}

	var gone []CountKey
	for i := 0; i < series; i += 2 {
		gone = append(gone, CountKey{PID: uint32(1_000_000 + i), Syscall: 257, Errno: eNOSPC})
	}
	gone = append(gone, CountKey{PID: 7, Syscall: 1, Errno: 1}, CountKey{PID: 7, Syscall: 1 << 20, Errno: 1}) // never tracked
	if err := p.DeleteCounts(gone); err != nil {
		t.Fatal(err)
	}
	counts, err = p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	got = fromUs(counts)
	if len(got) != series/2 {
		t.Errorf("%d series left after deleting half of %d", len(got), series)
	}
	for pid := range got {
		if pid%2 == 0 { // the even pids were deleted
			t.Errorf("series of pid %d survived its deletion", pid)
			break
		}
	}
}

// BenchmarkHookOverhead measures what each hook adds to syscalls, side by side
// in one run: a successful unwatched syscall, a failure of an unwatched errno,
// and a watched failure (counted; events rate-limited to the default 10/s).
// Besides the wall clock, the kernel's BPF statistics give the sys_exit
// program's own time per run (prog-ns/run), beside that of an empty tp_btf
// program ("empty", the floor of any sys_exit hook): the difference is the
// probe's work on that path, unaffected by the syscall's own cost. Other
// processes' syscalls run the program too and are in the average.
func BenchmarkHookOverhead(b *testing.B) {
	testenv.RequireRoot(b, loadsProbes)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF run time statistics: %v", err)
	}
	defer stats.Close()
	full, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(full)
	one := []byte{0}
	calls := []struct {
		name string
		call func()
	}{
		{"getppid", func() { unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0) }},
		{"close-EBADF", func() { unix.RawSyscall(unix.SYS_CLOSE, ^uintptr(0), 0, 0) }},
		{"write-ENOSPC-watched", func() {
			unix.RawSyscall(unix.SYS_WRITE, uintptr(full), uintptr(unsafe.Pointer(&one[0])), 1)
		}},
	}
	for _, hook := range append([]Hook{"none", "empty"}, hookChain...) {
		b.Run(string(hook), func(b *testing.B) {
			var prog *ebpf.Program
			switch hook {
			case "none":
			case "empty":
				prog = attachEmptySysExit(b)
			default:
				p, err := load(Options{}, []Hook{hook}, hookChain)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				prog = p.programs[sysExitTracepoint.programs[hook]]
			}
			for _, c := range calls {
				b.Run(c.name, func(b *testing.B) {
					before := programRunStats(b, prog)
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					for b.Loop() {
						c.call()
					}
					if prog != nil {
						after := programRunStats(b, prog)
						if runs := after.RunCount - before.RunCount; runs > 0 {
							b.ReportMetric(float64(after.Runtime-before.Runtime)/float64(runs), "prog-ns/run")
						}
					}
				})
			}
		})
	}
}

// attachEmptySysExit attaches a tp_btf program on sys_exit that only returns, until the benchmark ends.
func attachEmptySysExit(b *testing.B) *ebpf.Program {
	b.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     "sys_exit",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		License:      "GPL",
	})
	if err != nil {
		b.Fatalf("loading the empty tp_btf program: %v", err)
	}
	b.Cleanup(func() { prog.Close() })
	l, err := link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	if err != nil {
		b.Fatalf("attaching the empty tp_btf program: %v", err)
	}
	b.Cleanup(func() { l.Close() })
	return prog
}

func programRunStats(b *testing.B, prog *ebpf.Program) ebpf.ProgramStats {
	b.Helper()
	if prog == nil {
		return ebpf.ProgramStats{}
	}
	s, err := prog.Stats()
	if err != nil {
		b.Fatalf("program statistics: %v", err)
	}
	return *s
}
