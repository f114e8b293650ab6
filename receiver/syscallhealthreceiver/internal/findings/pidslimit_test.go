package findings

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type cgroupFixture struct {
	t    *testing.T
	proc *procFixture
	fs   string // where the fixture's cgroup hierarchies are "mounted"
}

// newCgroupFixture lays out the host's mount table (pid 1's, as read under a root_path)
// with the given cgroup mounts (fmt verbs %[1]s are replaced by /sys/fs/cgroup, which
// the fixture's files are under).
func newCgroupFixture(t *testing.T, hostMountInfo string) *cgroupFixture {
	proc := newProcFixture(t)
	f := &cgroupFixture{t: t, proc: proc, fs: filepath.Join(proc.root, "sys", "fs", "cgroup")}
	proc.write(1, "mountinfo", fmt.Sprintf(hostMountInfo, "/sys/fs/cgroup"))
	return f
}

func (f *cgroupFixture) file(rel, content string) {
	f.t.Helper()
	p := filepath.Join(f.fs, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

const hybridMounts = `39 31 0:36 / %[1]s/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / %[1]s/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / %[1]s/unified rw,relatime - cgroup2 cgroup2 rw
`

func TestPidsLimitV1AncestorAtLimit(t *testing.T) {
	f := newCgroupFixture(t, hybridMounts)
	f.proc.write(100, "cgroup", "9:name=systemd:/\n8:pids:/ci/job1\n4:memory:/ci/job1\n0::/\n")
	f.file("pids/ci/job1/pids.max", "max\n")
	f.file("pids/ci/job1/pids.current", "20\n")
	f.file("pids/ci/job1/pids.events", "max 0\n")
	f.file("pids/ci/pids.max", "20\n")
	f.file("pids/ci/pids.current", "20\n")
	f.file("pids/ci/pids.events", "max 0\n")
	p := newPidsLimits(f.proc.host)
	got, ok := p.limitHit(100)
	if !ok || got != (pidsLimit{cgroup: "/ci", max: 20}) {
		t.Errorf("limitHit = %+v, %v; want /ci with pids.max 20", got, ok)
	}
}

func TestPidsLimitEventsCounterGrows(t *testing.T) {
	f := newCgroupFixture(t, hybridMounts)
	f.proc.write(100, "cgroup", "8:pids:/job\n0::/\n")
	f.file("pids/job/pids.max", "50\n")
	f.file("pids/job/pids.current", "12\n") // the children exited since the fork failed
	f.file("pids/job/pids.events", "max 0\n")
	p := newPidsLimits(f.proc.host)
	if got, ok := p.limitHit(100); ok {
		t.Fatalf("below the limit and no refused fork: got %+v", got)
	}
	f.file("pids/job/pids.events", "max 1\n")
	if got, ok := p.limitHit(100); !ok || got.cgroup != "/job" {
		t.Errorf("pids.events max grew: got %+v, %v; want /job", got, ok)
	}
	if got, ok := p.limitHit(100); ok {
		t.Errorf("counter unchanged since the last look: got %+v, want no hit", got)
	}
}

func TestPidsLimitCgroupV2(t *testing.T) {
	f := newCgroupFixture(t, "30 23 0:26 / %[1]s rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
	f.proc.write(100, "cgroup", "0::/kubepods/pod1/c1\n")
	f.file("kubepods/pod1/c1/pids.max", "max\n")
	f.file("kubepods/pod1/c1/pids.current", "7\n")
	f.file("kubepods/pod1/pids.max", "8\n")
	f.file("kubepods/pod1/pids.current", "8\n")
	f.file("kubepods/pod1/pids.events", "max 4\n")
	got, ok := newPidsLimits(f.proc.host).limitHit(100)
	if !ok || got != (pidsLimit{cgroup: "/kubepods/pod1", max: 8}) {
		t.Errorf("limitHit = %+v, %v; want /kubepods/pod1 with pids.max 8", got, ok)
	}
}

func TestPidsLimitMountedSubtree(t *testing.T) {
	// The hierarchy is mounted from /ci (root field), so /ci/job1 lives at <mount>/job1.
	f := newCgroupFixture(t, "39 31 0:36 /ci %[1]s/pids rw - cgroup cgroup rw,pids\n")
	f.proc.write(100, "cgroup", "8:pids:/ci/job1\n")
	f.file("pids/job1/pids.max", "3\n")
	f.file("pids/job1/pids.current", "3\n")
	got, ok := newPidsLimits(f.proc.host).limitHit(100)
	if !ok || got.max != 3 {
		t.Errorf("limitHit = %+v, %v; want pids.max 3", got, ok)
	}
}

func TestPidsLimitNone(t *testing.T) {
	f := newCgroupFixture(t, hybridMounts)
	f.proc.write(100, "cgroup", "8:pids:/user.slice\n0::/\n")
	f.file("pids/user.slice/pids.max", "max\n")
	f.file("pids/user.slice/pids.current", "400\n")
	p := newPidsLimits(f.proc.host)
	if got, ok := p.limitHit(100); ok {
		t.Errorf("no limit anywhere: got %+v", got)
	}
	if got, ok := p.limitHit(4242); ok {
		t.Errorf("unknown process: got %+v", got)
	}
}
