//go:build linux && (amd64 || arm64)

package bpf

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// scopeRun is one short-lived process failing write(2) with ENOSPC n times.
type scopeRun struct {
	name string
	cmd  *exec.Cmd
}

// runCounted runs each process to its end and returns the kernel's count for each.
func runCounted(t *testing.T, p *Probe, runs []scopeRun, n int) map[string]uint64 {
	t.Helper()
	write := mustSyscall(t, "write")
	got := make(map[string]uint64)
	for _, r := range runs {
		if err := r.cmd.Run(); err == nil {
			t.Fatalf("%s: the last write to /dev/full succeeded", r.name)
		}
		got[r.name] = countOf(t, p, CountKey{PID: uint32(r.cmd.Process.Pid), Syscall: write, Errno: eNOSPC}).Count
	}
	return got
}

// scopeCostRound is how many calls BenchmarkScopeCost times at once.
const scopeCostRound = 10000

func failures(n int) string { return strings.Repeat("echo x > /dev/full 2>/dev/null; ", n) }

// Each scope rule, applied in the kernel before counting: an excluded failure is in no count.
func TestScopes(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	in, out, container := cg.Mkdir("in"), cg.Mkdir("out"), cg.Mkdir("libpod_parent/libpod-"+testContainerID)
	base := Options{Rules: writeENOSPCRules, CgroupController: cg.Controller()}
	p := loadProbe(t, base)
	const n = 3
	asUser := func(uid uint32, cmd *exec.Cmd) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
		return cmd
	}
	ours := ScopeMatch{Cgroups: []uint64{cg.ID(cg.Root)}}
	for _, tc := range []struct {
		name  string
		scope Scope
		runs  func() []scopeRun
		want  map[string]uint64
	}{
		{"cgroup include and exclude, descendants created after the update",
			Scope{Include: ours, Exclude: ScopeMatch{Cgroups: []uint64{cg.ID(out)}}},
			func() []scopeRun {
				return []scopeRun{
					{"in", cg.Shell(in, failures(n))},
					{"in/new", cg.Shell(cg.Mkdir("in/new/deeper"), failures(n))},
					{"out", cg.Shell(out, failures(n))},
					{"out/new", cg.Shell(cg.Mkdir("out/new"), failures(n))},
				}
			},
			map[string]uint64{"in": n, "in/new": n, "out": 0, "out/new": 0}},
		{"include whose cgroups do not exist yet matches nothing",
			Scope{Include: ScopeMatch{Cgroups: []uint64{}}},
			func() []scopeRun { return []scopeRun{{"in", cg.Shell(in, failures(n))}} },
			map[string]uint64{"in": 0}},
		{"uid include",
			Scope{Include: ScopeMatch{UIDs: []uint32{65534}}},
			func() []scopeRun {
				return []scopeRun{
					{"nobody", asUser(65534, exec.Command("/bin/sh", "-c", failures(n)))},
					{"root", exec.Command("/bin/sh", "-c", failures(n))},
				}
			},
			map[string]uint64{"nobody": n, "root": 0}},
		{"uid exclude wins over include",
			Scope{Include: ours, Exclude: ScopeMatch{UIDs: []uint32{0}}},
			func() []scopeRun { return []scopeRun{{"root in ours", cg.Shell(in, failures(n))}} },
			map[string]uint64{"root in ours": 0}},
		{"executable include",
			Scope{Include: ScopeMatch{Executables: []string{"busybox"}}},
			func() []scopeRun {
				return []scopeRun{
					{"busybox", exec.Command("/bin/busybox", "sh", "-c", failures(n))},
					{"dash", exec.Command("/bin/sh", "-c", failures(n))},
				}
			},
			map[string]uint64{"busybox": n, "dash": 0}},
		{"executable exclude",
			Scope{Include: ours, Exclude: ScopeMatch{Executables: []string{"dash"}}},
			func() []scopeRun {
				return []scopeRun{
					{"busybox", cg.Shell(in, "exec /bin/busybox sh -c '"+failures(n)+"'")},
					{"dash", cg.Shell(in, failures(n))},
				}
			},
			map[string]uint64{"busybox": n, "dash": 0}},
		{"containers only",
			Scope{Include: ours, Workloads: WorkloadsContainers, Containers: []uint64{cg.ID(container)}},
			func() []scopeRun {
				return []scopeRun{
					{"container", cg.Shell(container, failures(n))},
					{"container/nested", cg.Shell(cg.Mkdir("libpod_parent/libpod-"+testContainerID+"/nested"), failures(n))},
					{"host", cg.Shell(in, failures(n))},
				}
			},
			map[string]uint64{"container": n, "container/nested": n, "host": 0}},
		{"host only",
			Scope{Include: ours, Workloads: WorkloadsHost, Containers: []uint64{cg.ID(container)}},
			func() []scopeRun {
				return []scopeRun{
					{"container", cg.Shell(container, failures(n))},
					{"host", cg.Shell(in, failures(n))},
				}
			},
			map[string]uint64{"container": 0, "host": n}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := base
			opts.Scope = tc.scope
			if err := p.Update(opts); err != nil {
				t.Fatal(err)
			}
			got := runCounted(t, p, tc.runs(), n)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: counted %d, want %d", name, got[name], want)
				}
			}
		})
	}
	stats, err := p.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Untracked != 0 {
		t.Errorf("%d failures untracked: excluded failures must not reach the tracking map", stats.Untracked)
	}
}

// onOneCPU runs cmd pinned to CPU 0, so that all its failures meet the same per-CPU verdict cache.
func onOneCPU(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		t.Skip("needs taskset")
	}
	cmd.Args = append([]string{"taskset", "-c", "0"}, cmd.Args...)
	cmd.Path = taskset
	return cmd
}

// busyboxApplets copies busybox into a directory of its own under each of
// names, applets it runs by its file name: executables of those names, the
// same on any host (the kernel matrix's guests have only busybox).
func busyboxApplets(t *testing.T, names ...string) string {
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("needs busybox")
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Runnable by any user (the uid case runs them as nobody).
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A task's cached scope verdict is judged anew when what it was judged on
// changes: its executable (exec), its cgroup, its uid, or the configuration.
// Each process fails n times on each side of the change, on one CPU, so a
// stale verdict would count 0 or 2n where n is right.
func TestScopeVerdictFollowsTheTask(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	in, out := cg.Mkdir("in"), cg.Mkdir("out")
	bin := busyboxApplets(t, "sh", "ash", "su")
	sh, ash, su := filepath.Join(bin, "sh"), filepath.Join(bin, "ash"), filepath.Join(bin, "su")
	base := Options{Rules: writeENOSPCRules, CgroupController: cg.Controller()}
	p := loadProbe(t, base)
	const n = 5
	fail := failures(n)
	moveTo := func(dir string) string { return `echo $$ > "` + dir + `/cgroup.procs"; ` }
	ours := ScopeMatch{Cgroups: []uint64{cg.ID(cg.Root)}}
	for _, tc := range []struct {
		name  string
		scope Scope
		cmd   *exec.Cmd
	}{
		{"exec into an excluded executable",
			Scope{Exclude: ScopeMatch{Executables: []string{"ash"}}},
			exec.Command(sh, "-c", fail+"exec "+ash+" -c '"+fail+"'")},
		{"exec out of an excluded executable",
			Scope{Exclude: ScopeMatch{Executables: []string{"ash"}}},
			exec.Command(ash, "-c", fail+"exec "+sh+" -c '"+fail+"'")},
		{"moved into an excluded cgroup",
			Scope{Include: ours, Exclude: ScopeMatch{Cgroups: []uint64{cg.ID(out)}}},
			cg.ShellWith(sh, in, fail+moveTo(out)+fail)},
		{"moved out of an excluded cgroup",
			Scope{Include: ours, Exclude: ScopeMatch{Cgroups: []uint64{cg.ID(out)}}},
			cg.ShellWith(sh, out, fail+moveTo(in)+fail)},
		// busybox su changes the uid and execs the shell in the same process.
		{"uid changed out of an excluded uid",
			Scope{Exclude: ScopeMatch{UIDs: []uint32{0}}},
			exec.Command(sh, "-c", fail+"exec "+su+" -s "+sh+" nobody -c '"+fail+"'")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := base
			opts.Scope = tc.scope
			if err := p.Update(opts); err != nil {
				t.Fatal(err)
			}
			if got := runCounted(t, p, []scopeRun{{tc.name, onOneCPU(t, tc.cmd)}}, n)[tc.name]; got != n {
				t.Errorf("counted %d, want %d (the failures on the included side only)", got, n)
			}
		})
	}
	t.Run("configuration changed", func(t *testing.T) {
		opts := base
		opts.Scope = Scope{Exclude: ScopeMatch{Executables: []string{"sh"}}}
		if err := p.Update(opts); err != nil {
			t.Fatal(err)
		}
		cmd := onOneCPU(t, exec.Command(sh, "-c", fail+"echo excluded; read line; "+fail))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := stdout.Read(make([]byte, 64)); err != nil {
			t.Fatal(err)
		}
		// Still a scope (none at all skips the verdicts), now one that includes the shell.
		opts.Scope = Scope{Exclude: ScopeMatch{Executables: []string{"ash"}}}
		if err := p.Update(opts); err != nil {
			t.Fatal(err)
		}
		stdin.Write([]byte("go\n"))
		cmd.Wait()
		c := countOf(t, p, CountKey{PID: uint32(cmd.Process.Pid), Syscall: mustSyscall(t, "write"), Errno: eNOSPC})
		if c.Count != n {
			t.Errorf("counted %d, want %d (the failures after the scope changed)", c.Count, n)
		}
	})
}

// Switching between scopes that all include a process, as fast as Update
// goes, while it fails: every failure is counted exactly once.
func TestScopeSwitchLosesNothing(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	dir := cg.Mkdir("libpod-" + testContainerID)
	base := Options{Rules: writeENOSPCRules, CgroupController: cg.Controller()}
	root := cg.ID(cg.Root)
	scopes := []Scope{
		{Include: ScopeMatch{Cgroups: []uint64{root}}},
		{Include: ScopeMatch{Cgroups: []uint64{cg.ID(dir)}, UIDs: []uint32{0}}, Exclude: ScopeMatch{Executables: []string{"dash"}}},
		{Include: ScopeMatch{Executables: []string{"busybox"}}, Workloads: WorkloadsContainers, Containers: []uint64{cg.ID(dir)}},
		{},
	}
	p := loadProbe(t, base)
	const n = 20000
	cmd := cg.Shell(dir, "exec /bin/busybox sh -c 'i=0; while [ $i -lt "+strconv.Itoa(n)+" ]; do echo x > /dev/full 2>/dev/null; i=$((i+1)); done'")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	switches := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			opts := base
			opts.Scope = scopes[i%len(scopes)]
			if err := p.Update(opts); err != nil {
				t.Error(err)
				return
			}
			switches++
		}
	}()
	cmd.Wait()
	close(done)
	wg.Wait()
	c := countOf(t, p, CountKey{PID: uint32(cmd.Process.Pid), Syscall: mustSyscall(t, "write"), Errno: eNOSPC})
	t.Logf("%d failures across %d scope switches", c.Count, switches)
	if c.Count != n {
		t.Errorf("counted %d failures across %d scope switches, want %d", c.Count, switches, n)
	}
}

// BenchmarkScopeCost measures, side by side, a failing write to /dev/full
// without the probe, rejected because its errno is not watched (the cheapest
// rejection of a failure; without scopes, and for a process a scope includes),
// excluded by each kind of scope rule, and counted (without scopes, and
// included by a cgroup rule), with the tp_btf program. One process fails
// over and over, so the scope cases measure cached verdicts (scope.h).
// It reports the time per call of the fastest round of 10,000 calls
// (min-ns/op), which other load on the machine inflates least; the difference
// to no-probe is the program's cost.
func BenchmarkScopeCost(b *testing.B) {
	testenv.RequireRoot(b, loadsProbes)
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatalf("enabling BPF run time statistics: %v", err)
	}
	defer stats.Close()
	cg := testenv.NewCgroupTree(b)
	full, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(full)
	one := []byte{0}
	write := func() { unix.RawSyscall(unix.SYS_WRITE, uintptr(full), uintptr(unsafe.Pointer(&one[0])), 1) }
	// This process's cgroup in the probe's hierarchy: the hierarchy's root here, or the one /proc names.
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		b.Fatal(err)
	}
	ours := cg.ID(cg.Hierarchy.Mount)
	for line := range strings.Lines(string(self)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) == 3 && ((cg.Controller() == "" && parts[0] == "0") || (cg.Controller() != "" && strings.Contains(","+parts[1]+",", ","+cg.Controller()+","))) {
			if dir, ok := cg.Hierarchy.Dir(parts[2]); ok {
				ours = cg.ID(dir)
			}
		}
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	exeName := filepath.Base(exe)
	if len(exeName) > 31 {
		b.Skipf("the test binary's name %q is longer than an executable scope name may be", exeName)
	}
	watched := []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}
	for _, c := range []struct {
		name    string
		probe   bool
		rules   []Rule
		scope   Scope
		counted bool
	}{
		{"no-probe", false, nil, Scope{}, false},
		{"errno-not-watched", true, []Rule{{Syscall: "write", Errnos: []Errno{eIO}}}, Scope{}, false},
		{"errno-not-watched-in-scope", true, []Rule{{Syscall: "write", Errnos: []Errno{eIO}}}, Scope{Exclude: ScopeMatch{UIDs: []uint32{65534}}}, false},
		{"excluded-uid", true, watched, Scope{Exclude: ScopeMatch{UIDs: []uint32{uint32(os.Getuid())}}}, false},
		{"excluded-executable", true, watched, Scope{Exclude: ScopeMatch{Executables: []string{exeName}}}, false},
		{"excluded-cgroup", true, watched, Scope{Exclude: ScopeMatch{Cgroups: []uint64{ours}}}, false},
		{"not-included-cgroup", true, watched, Scope{Include: ScopeMatch{Cgroups: []uint64{cg.ID(cg.Root)}}}, false},
		{"counted", true, watched, Scope{}, true},
		{"counted-included-cgroup", true, watched, Scope{Include: ScopeMatch{Cgroups: []uint64{ours}}}, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			var p *Probe
			if c.probe {
				opts := Options{PIDFilter: uint32(os.Getpid()), Rules: c.rules, Scope: c.scope, CgroupController: cg.Controller()}
				if p, err = load(opts, []Hook{HookTPBTF}, hookChain); err != nil {
					b.Fatal(err)
				}
				defer p.Close()
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var before map[string]ebpf.ProgramStats
			if p != nil {
				before = programStats(b, p.programs)
			}
			// The fastest round of scopeCostRound calls: other work on the machine only ever adds time.
			best, round := time.Duration(math.MaxInt64), 0
			start := time.Now()
			for b.Loop() {
				write()
				if round++; round == scopeCostRound {
					best = min(best, time.Since(start))
					round, start = 0, time.Now()
				}
			}
			if best != time.Duration(math.MaxInt64) {
				b.ReportMetric(float64(best.Nanoseconds())/scopeCostRound, "min-ns/op")
			}
			if p != nil {
				// The program's own run time, which other programs on sys_exit and other load do not
				// inflate; its runs include other processes' syscall exits (runs/op above 1), mostly
				// successes that cost it a few ns.
				after := programStats(b, p.programs)
				prog := healthProgSysExitBtf
				runs := after[prog].RunCount - before[prog].RunCount
				if runs > 0 {
					b.ReportMetric(float64(after[prog].Runtime-before[prog].Runtime)/float64(runs), "prog-ns/run")
					b.ReportMetric(float64(runs)/float64(b.N), "runs/op")
				}
			}
			if p != nil {
				n := countOf(b, p, CountKey{PID: uint32(os.Getpid()), Syscall: mustSyscall(b, "write"), Errno: eNOSPC}).Count
				if (n > 0) != c.counted {
					b.Fatalf("counted %d failures; want counted: %v", n, c.counted)
				}
			}
		})
	}
}
