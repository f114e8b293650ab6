//go:build linux && (amd64 || arm64)

package bpf

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// runInCgroup runs processes copies of the trigger (scenario and flags in
// args) at once, each started in cg, and returns their pids.
func runInCgroup(t *testing.T, cg testenv.Cgroup, processes int, bin string, args ...string) map[uint32]bool {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		pids = make(map[uint32]bool)
		errs []error
	)
	for range processes {
		wg.Go(func() {
			p := triggertest.Command(bin, args...).WithSysProcAttr(cg.SysProcAttr())
			err := p.Run()
			var r trigger.Result
			if err == nil {
				r, err = p.Result()
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			pids[uint32(r.PID)] = true
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return pids
}

// Exact under pressure: with more series than the tracking map holds, every
// failure of real processes is in a series' count or in Stats.Untracked,
// exactly, never lost to an eviction. Deleting the series of exited processes
// (as the receiver does after reporting their final counts) makes room again.
// The probe watches only the test's own cgroup, so nothing else on the host
// takes room in the map.
func TestTrackingMapFullCountsEveryFailure(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	const (
		mapSize   = 8
		processes = 16 // one (connect, ECONNREFUSED) series each: twice the map
		failures  = 3  // per process
	)
	cg := testenv.NewCgroup(t)
	bin := triggertest.Build(t)
	port := strconv.Itoa(testenv.ClosedLoopbackPort(t))
	p := loadProbe(t, Options{
		TrackingMapSize: mapSize,
		Scope:           Scope{Include: ScopeMatch{Cgroups: []uint64{cg.ID}}},
		Rules:           []Rule{{Syscall: "connect", Errnos: []Errno{eCONNREFUSED}}},
	})

	connect := mustSyscall(t, "connect")
	var caused, deleted uint64
	for wave := 1; wave <= 2; wave++ {
		pids := runInCgroup(t, cg, processes, bin, "econnrefused", "-n", strconv.Itoa(failures), "-port", port)
		caused += processes * failures

		counts, err := p.Counts()
		if err != nil {
			t.Fatal(err)
		}
		stats, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		var counted uint64
		var keys []CountKey
		for _, c := range counts {
			if !pids[c.Key.PID] || c.Key.Syscall != connect || c.Key.Errno != eCONNREFUSED {
				t.Errorf("wave %d: series %+v (count %d) is not one of this wave's processes", wave, c.Key, c.Count)
			}
			if c.Count > failures {
				t.Errorf("wave %d: series %+v counted %d failures, its process caused %d", wave, c.Key, c.Count, failures)
			}
			counted += c.Count
			keys = append(keys, c.Key)
		}
		t.Logf("wave %d: %d series hold %d failures, untracked %d since load, %d counted in deleted series; %d caused",
			wave, len(counts), counted, stats.Untracked, deleted, caused)
		if len(counts) != mapSize {
			t.Errorf("wave %d: %d series in a map of %d with %d processes failing", wave, len(counts), mapSize, processes)
		}
		if stats.Untracked == 0 {
			t.Errorf("wave %d: nothing untracked with %d series for a map of %d", wave, processes, mapSize)
		}
		if got := deleted + counted + stats.Untracked; got != caused {
			t.Fatalf("wave %d: counted %d + untracked %d + deleted %d = %d, want the %d failures caused",
				wave, counted, stats.Untracked, deleted, got, caused)
		}
		// The processes have exited: free their room as the receiver does.
		if err := p.DeleteCounts(keys); err != nil {
			t.Fatal(err)
		}
		deleted += counted
	}
}

// BenchmarkTrackingMapFull measures, side by side, a failing write to
// /dev/full without the probe, watched and counted in its series, and watched
// but refused by a full tracking map (counted as untracked), with the tp_btf
// program. Besides wall time it reports the thread's CPU time per call
// (cpu-ns/op), which other load on the machine does not inflate.
func BenchmarkTrackingMapFull(b *testing.B) {
	testenv.RequireRoot(b, loadsProbes)
	full, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(full)
	one := []byte{0}
	write := func() { unix.RawSyscall(unix.SYS_WRITE, uintptr(full), uintptr(unsafe.Pointer(&one[0])), 1) }
	opts := Options{TrackingMapSize: 1, PIDFilter: uint32(os.Getpid()), Rules: []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}}

	for _, c := range []struct {
		name        string
		probe, full bool
	}{{"no-probe", false, false}, {"counted", true, false}, {"untracked", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			var p *Probe
			if c.probe {
				if p, err = load(opts, []Hook{HookTPBTF}, hookChain); err != nil {
					b.Fatal(err)
				}
				defer p.Close()
			}
			if c.full {
				// A series no process has (tgids stay below 2^22) takes the only entry.
				other := healthTrackingKey{Tgid: ^uint32(0), SyscallNr: 1, ErrnoNr: 1}
				if err := p.tracking.Update(&other, &healthTrackingValue{}, ebpf.UpdateNoExist); err != nil {
					b.Fatal(err)
				}
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			write()
			var untrackedBefore uint64
			if p != nil {
				stats, err := p.Stats()
				if err != nil {
					b.Fatal(err)
				}
				untrackedBefore = stats.Untracked
			}
			cpuStart := threadCPUTime(b)
			for b.Loop() {
				write()
			}
			b.ReportMetric(float64(threadCPUTime(b)-cpuStart)/float64(b.N), "cpu-ns/op")
			if p != nil {
				stats, err := p.Stats()
				if err != nil {
					b.Fatal(err)
				}
				if untracked := stats.Untracked - untrackedBefore; c.full != (untracked > 0) {
					b.Fatalf("map full: %v, but %d failures untracked", c.full, untracked)
				}
			}
		})
	}
}

// threadCPUTime is the calling thread's CPU time in ns, user and system.
func threadCPUTime(b *testing.B) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return ts.Nano()
}
