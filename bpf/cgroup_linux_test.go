//go:build linux && (amd64 || arm64)

package bpf

import (
	"os"
	"strings"
	"testing"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

const (
	testPodUID      = "0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e"
	testContainerID = "4b825dc642cb6eb9a060e54bf8d69288fbee4904a1b2c3d4e5f60718293a4b5c"
)

// writeENOSPCRules watches only write ENOSPC: the shell's `echo > /dev/full`.
var writeENOSPCRules = []Rule{{Syscall: "write", Errnos: []Errno{eNOSPC}}}

// failInCgroup runs a shell in dir that fails write(2) with ENOSPC n times and
// exits at once; it returns the shell's pid.
func failInCgroup(t *testing.T, cg *testenv.CgroupTree, dir string, n int) uint32 {
	t.Helper()
	script := strings.Repeat("echo x > /dev/full 2>/dev/null; ", n)
	cmd := cg.Shell(dir, script)
	if err := cmd.Run(); err == nil {
		t.Fatalf("%v: the last write to /dev/full succeeded", cmd.Args)
	}
	return uint32(cmd.Process.Pid)
}

// A process that exits right after failing keeps its container's cgroup: the
// kernel sends the cgroup's id and path with the event.
func TestCgroupOfProcessThatExitedAtOnce(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	dir := cg.Mkdir("kubepods/burstable/pod" + testPodUID + "/" + testContainerID)
	p := loadProbe(t, Options{Rules: writeENOSPCRules, CgroupController: cg.Controller(),
		Scope: Scope{Include: ScopeMatch{Cgroups: []uint64{cg.ID(cg.Root)}}}})
	log := collectEvents(t, p)

	pid := failInCgroup(t, cg, dir, 1)
	ev := log.waitFor(t, "the shell's write", func(ev Event) bool { return ev.PID == pid })
	if ev.CgroupPath != cg.Path(dir) || ev.CgroupID != cg.ID(dir) {
		t.Errorf("cgroup %d %q, want %d %q", ev.CgroupID, ev.CgroupPath, cg.ID(dir), cg.Path(dir))
	}
	// The series remembers whose it is: the cgroup and executable of its process (/bin/sh is dash here).
	if c := countOf(t, p, CountKey{PID: pid, Syscall: mustSyscall(t, "write"), Errno: eNOSPC}); c.Count != 1 || c.CgroupID != cg.ID(dir) || c.Executable != "dash" {
		t.Errorf("count %d cgroup %d executable %q, want 1 %d dash", c.Count, c.CgroupID, c.Executable, cg.ID(dir))
	}

	// Deeper than six levels: the innermost six, after "...".
	deep := cg.Mkdir("a/b/c/d/e/f/g")
	pid = failInCgroup(t, cg, deep, 1)
	ev = log.waitFor(t, "the deep shell's write", func(ev Event) bool { return ev.PID == pid })
	if ev.CgroupPath != ".../b/c/d/e/f/g" {
		t.Errorf("deep cgroup path %q", ev.CgroupPath)
	}
}

// The path the kernel sends is the one /proc/<pid>/cgroup shows for the hierarchy.
func TestCgroupPathMatchesProcCgroup(t *testing.T) {
	testenv.RequireRoot(t, loadsProbes)
	cg := testenv.NewCgroupTree(t)
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	p := loadProbe(t, Options{Rules: writeENOSPCRules, CgroupController: cg.Controller(), PIDFilter: uint32(os.Getpid())})
	log := collectEvents(t, p)
	failWriteFull(t)
	ev := log.waitFor(t, "the test's write", func(ev Event) bool { return ev.PID == uint32(os.Getpid()) })
	want := ""
	for line := range strings.Lines(string(self)) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		v2 := cg.Controller() == ""
		if len(parts) == 3 && ((v2 && parts[0] == "0") || (!v2 && strings.Contains(","+parts[1]+",", ","+cg.Controller()+","))) {
			want = parts[2]
		}
	}
	if ev.CgroupPath != want {
		t.Errorf("cgroup path %q, /proc/self/cgroup says %q", ev.CgroupPath, want)
	}
}
