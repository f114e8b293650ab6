package findings

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

func TestMountResolverPrefixInProcessNamespace(t *testing.T) {
	proc := newProcFixture(t)
	proc.process(100, "mnt:[4026532001]", "container.txt")
	proc.cwd(100, "/mnt/my data")
	proc.process(1, "mnt:[4026531840]", "host_hybrid_cgroups.txt")
	r := newMountResolver(proc.host, probeStub{}, newTestClock())

	const hostNS, containerNS, otherNS = 4026531840, 4026532001, 4026532002
	tests := []struct {
		pid    uint32
		path   string
		ns     uint64 // the namespace the event's process was in; 0 unknown
		want   string
		wantOK bool
		inHost bool
	}{
		{100, "/var/lib/postgresql/data/base/1", containerNS, "/var/lib/postgresql/data", true, false},
		{100, "/tmp/full/x", 0, "/", true, false}, // the container does not see the host's /tmp/full
		{100, "sub/file", 0, "/mnt/my data", true, false},
		{1, "/tmp/full/x", 0, "/tmp/full", true, true},
		{999, "/tmp/full/x", hostNS, "/tmp/full", true, true},                                     // gone, ran on the host: host table
		{999, "/tmp/full/x", 0, "", false, false},                                                 // gone, namespace unknown: unknown, never the host's
		{999, "/var/lib/postgresql/data/x", containerNS, "/var/lib/postgresql/data", true, false}, // gone: its namespace's cached table
		{999, "/tmp/full/x", otherNS, "", false, false},                                           // gone from a namespace never read: unknown
		{1, "relative/without/cwd", 0, "", false, false},                                          // pid 1 has no cwd link in the fixture
		{100, "", 0, "", false, false},
	}
	for _, tt := range tests {
		l := r.resolve(tt.pid, tt.path, tt.ns)
		if l.mounted != tt.wantOK || l.mount.MountPoint != tt.want || l.inHost != tt.inHost {
			t.Errorf("resolve(%d, %q, ns %d) = %q, %v, in host %v; want %q, %v, %v", tt.pid, tt.path, tt.ns, l.mount.MountPoint, l.mounted, l.inHost, tt.want, tt.wantOK, tt.inHost)
		}
	}
}

func TestMountResolverCachePerNamespaceWithTTL(t *testing.T) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	proc.processWithMountInfo(101, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	clock := newTestClock()
	r := newMountResolver(proc.host, probeStub{}, clock)

	if l := r.resolve(100, "/data/x", 0); l.mount.MountPoint != "/" {
		t.Fatalf("got %q, want /", l.mount.MountPoint)
	}
	// /data is mounted afterwards; pid 101 shares the namespace, whose table is cached.
	proc.write(101, "mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:2 / /data rw - xfs /dev/sdb rw\n")
	if l := r.resolve(101, "/data/x", 0); l.mount.MountPoint != "/" {
		t.Errorf("within the TTL: got %q, want the cached table's /", l.mount.MountPoint)
	}
	clock.Advance(mountTableTTL)
	if l := r.resolve(101, "/data/x", 0); l.mount.MountPoint != "/data" {
		t.Errorf("after the TTL: got %q, want /data", l.mount.MountPoint)
	}
	if len(r.tables) != 1 {
		t.Errorf("%d tables cached for one namespace, want 1", len(r.tables))
	}
}

func TestMountResolverKernelMountIDBeatsStaleTable(t *testing.T) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	// The kernel says /data/x lives on mount 2 (mounted after the table was cached),
	// and /link/y on mount 1 although a prefix would say /link (a symlink into /).
	probe := probeStub{paths: map[string]hostfs.PathStat{"/data/x": {MountID: 2, Type: hostfs.FileTypeRegular}, "/link/y": {MountID: 1, Type: hostfs.FileTypeAbsent}}}
	clock := newTestClock()
	r := newMountResolver(proc.host, probe, clock)
	if l := r.resolve(100, "/data/x", 0); l.mount.MountPoint != "/" || l.fileType != hostfs.FileTypeRegular {
		t.Fatalf("mount 2 not in any table yet: got %q (%v), want the prefix answer / for the regular file", l.mount.MountPoint, l.fileType)
	}
	proc.write(100, "mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / /data rw - tmpfs tiny rw\n3 1 8:3 / /link rw - ext4 /dev/sdc rw\n")
	clock.Advance(pathLookupTTL) // the first lookup is reused until then
	l := r.resolve(100, "/data/x", 0)
	if !l.mounted || l.mount.MountPoint != "/data" || l.mount.Source != "tiny" {
		t.Errorf("unknown kernel mount ID must reload the cached table: got %+v", l)
	}
	if l := r.resolve(100, "/link/y", 0); l.mount.MountPoint != "/" || l.fileType != hostfs.FileTypeAbsent {
		t.Errorf("kernel mount ID must win over the prefix: got %q (%v), want / for a file being created", l.mount.MountPoint, l.fileType)
	}
}

func TestMountResolverBoundedCache(t *testing.T) {
	proc := newProcFixture(t)
	clock := newTestClock()
	r := newMountResolver(proc.host, probeStub{}, clock)
	for pid := uint32(1000); pid < 1000+maxMountTables+10; pid++ {
		proc.processWithMountInfo(pid, fmt.Sprintf("mnt:[%d]", pid), "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
		if l := r.resolve(pid, "/x", 0); !l.mounted {
			t.Fatalf("pid %d: not resolved", pid)
		}
		clock.Advance(1)
	}
	if len(r.tables) != maxMountTables {
		t.Errorf("%d tables cached, want the bound %d", len(r.tables), maxMountTables)
	}
	if _, ok := r.tables[1000]; ok {
		t.Error("the oldest table should have been evicted")
	}
}

// TestMountResolverRealProc resolves through the real /proc and kernel (no privileges needed).
func TestMountResolverRealProc(t *testing.T) {
	if !isLinux {
		t.Skip("the kernel probe is Linux only")
	}
	host := hostfs.New("/", time.Minute, nil)
	r := newMountResolver(host, host, newTestClock())
	pid := uint32(os.Getpid())
	for p, want := range map[string]hostfs.FileType{
		"/proc/self/status":         hostfs.FileTypeRegular,
		"/proc/self/does/not/exist": hostfs.FileTypeAbsent,
		"/proc/self":                hostfs.FileTypeDirectory,
	} {
		l := r.resolve(pid, p, 0)
		if !l.mounted || l.mount.MountPoint != "/proc" || l.mount.FSType != "proc" || l.fileType != want {
			t.Errorf("resolve(%q) = %+v; want the proc mount on /proc, file type %v", p, l, want)
		}
	}
	if l := r.resolve(pid, "/dev/null", 0); l.fileType != hostfs.FileTypeCharDevice {
		t.Errorf("/dev/null: file type %v, want a character device", l.fileType)
	}
}

// countingProbe counts the kernel's path lookups.
type countingProbe struct {
	probeStub
	stats *int
}

func (p countingProbe) StatInRoot(pid uint32, absPath string, dev hostfs.Device) (hostfs.PathStat, error) {
	*p.stats++
	return p.probeStub.StatInRoot(pid, absPath, dev)
}

func TestMountResolverReusesLookupsForOneSecondWithinBound(t *testing.T) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	stats := 0
	probe := countingProbe{probeStub{paths: map[string]hostfs.PathStat{"/data/x": {MountID: 1, Type: hostfs.FileTypeRegular}}}, &stats}
	clock := newTestClock()
	r := newMountResolver(proc.host, probe, clock)
	for range 1000 { // a process failing a thousand times on one file
		r.resolve(100, "/data/x", 0)
	}
	if stats != 1 {
		t.Errorf("%d kernel lookups for 1000 failures within %s, want 1", stats, pathLookupTTL)
	}
	clock.Advance(pathLookupTTL)
	r.resolve(100, "/data/x", 0)
	if stats != 2 {
		t.Errorf("%d kernel lookups after the reuse expired, want 2", stats)
	}
	for i := range maxPathLookups {
		r.resolve(100, fmt.Sprintf("/data/%d", i), 0)
	}
	if len(r.lookups) > maxPathLookups || r.evictedLookups.Load() != maxPathLookups {
		t.Errorf("%d lookups kept (bound %d), %d evicted (want %d)", len(r.lookups), maxPathLookups, r.evictedLookups.Load(), maxPathLookups)
	}
}
