package findings

import (
	"fmt"
	"testing"
)

// The subject resolver's caches are bounded, and what they drop is counted in Engine.Stats
// (syscallhealth.cache.evictions).

func TestMountTableCacheCountsEvictions(t *testing.T) {
	proc := newProcFixture(t)
	r := newMountResolver(proc.host, probeStub{}, newTestClock())
	for pid := uint32(100); pid < 100+maxMountTables+2; pid++ {
		proc.processWithMountInfo(pid, fmt.Sprintf("mnt:[%d]", pid), "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
		if l := r.resolve(pid, "/data/x", 0); l.mount.MountPoint != "/" {
			t.Fatalf("pid %d: got %q", pid, l.mount.MountPoint)
		}
	}
	if got := r.evicted.Load(); got != 2 {
		t.Errorf("%d namespaces through a cache of %d: %d evictions counted, want 2", maxMountTables+2, maxMountTables, got)
	}
}

func TestOpenFileScanCacheCountsEvictions(t *testing.T) {
	o, _, clock := newOpenFilesFixture(t)
	for pid := range uint32(maxOpenFileScans) {
		o.scans[pid] = openFilesScan{at: clock.Now()}
	}
	o.scan(99999) // one more fresh scan: the full cache of fresh scans is dropped
	if got := o.evicted.Load(); got != maxOpenFileScans {
		t.Errorf("evicted %d, want %d", got, maxOpenFileScans)
	}
	if len(o.scans) != 1 {
		t.Errorf("%d scans kept, want the new one", len(o.scans))
	}
}

func TestPidsEventCountersCountEvictions(t *testing.T) {
	f := newCgroupFixture(t, hybridMounts)
	f.proc.write(100, "cgroup", "8:pids:/job\n0::/\n")
	f.file("pids/job/pids.max", "50\n")
	f.file("pids/job/pids.current", "1\n")
	f.file("pids/job/pids.events", "max 0\n")
	p := newPidsLimits(f.proc.host)
	for i := range maxPidsEventCounters {
		p.lastMaxEvents[fmt.Sprint(i)] = 0
	}
	p.limitHit(100)
	if got := p.evicted.Load(); got != maxPidsEventCounters {
		t.Errorf("evicted %d, want %d", got, maxPidsEventCounters)
	}
}
