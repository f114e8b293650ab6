package findings

import (
	"fmt"
	"os"
	"testing"
)

func TestMountResolverPrefixInProcessNamespace(t *testing.T) {
	proc := newProcFixture(t)
	proc.process(100, "mnt:[4026532001]", "container.txt")
	proc.cwd(100, "/mnt/my data")
	proc.process(1, "mnt:[4026531840]", "host_hybrid_cgroups.txt")
	r := newMountResolver(proc.root, probeStub{}, newTestClock())

	tests := []struct {
		pid           uint32
		path          string
		hostNamespace bool
		want          string
		wantOK        bool
	}{
		{100, "/var/lib/postgresql/data/base/1", false, "/var/lib/postgresql/data", true},
		{100, "/tmp/full/x", false, "/", true}, // the container does not see the host's /tmp/full
		{100, "sub/file", false, "/mnt/my data", true},
		{1, "/tmp/full/x", false, "/tmp/full", true},
		{999, "/tmp/full/x", true, "/tmp/full", true}, // gone, ran on the host: host table
		{999, "/tmp/full/x", false, "", false},        // gone, ran in a container: unknown
		{1, "relative/without/cwd", false, "", false}, // pid 1 has no cwd link in the fixture
		{100, "", false, "", false},
	}
	for _, tt := range tests {
		l := r.resolve(tt.pid, tt.path, tt.hostNamespace)
		if l.mounted != tt.wantOK || l.mount.MountPoint != tt.want {
			t.Errorf("resolve(%d, %q, host=%v) = %q, %v; want %q, %v", tt.pid, tt.path, tt.hostNamespace, l.mount.MountPoint, l.mounted, tt.want, tt.wantOK)
		}
	}
}

func TestMountResolverCachePerNamespaceWithTTL(t *testing.T) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	proc.processWithMountInfo(101, "mnt:[1]", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
	clock := newTestClock()
	r := newMountResolver(proc.root, probeStub{}, clock)

	if l := r.resolve(100, "/data/x", false); l.mount.MountPoint != "/" {
		t.Fatalf("got %q, want /", l.mount.MountPoint)
	}
	// /data is mounted afterwards; pid 101 shares the namespace, whose table is cached.
	proc.write(101, "mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:2 / /data rw - xfs /dev/sdb rw\n")
	if l := r.resolve(101, "/data/x", false); l.mount.MountPoint != "/" {
		t.Errorf("within the TTL: got %q, want the cached table's /", l.mount.MountPoint)
	}
	clock.Advance(mountTableTTL)
	if l := r.resolve(101, "/data/x", false); l.mount.MountPoint != "/data" {
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
	probe := probeStub{paths: map[string]pathStat{"/data/x": {2, fileTypeRegular}, "/link/y": {1, fileTypeAbsent}}}
	r := newMountResolver(proc.root, probe, newTestClock())
	if l := r.resolve(100, "/data/x", false); l.mount.MountPoint != "/" || l.fileType != fileTypeRegular {
		t.Fatalf("mount 2 not in any table yet: got %q (%v), want the prefix answer / for the regular file", l.mount.MountPoint, l.fileType)
	}
	proc.write(100, "mountinfo", "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / /data rw - tmpfs tiny rw\n3 1 8:3 / /link rw - ext4 /dev/sdc rw\n")
	l := r.resolve(100, "/data/x", false)
	if !l.mounted || l.mount.MountPoint != "/data" || l.mount.Source != "tiny" {
		t.Errorf("unknown kernel mount ID must reload the cached table: got %+v", l)
	}
	if l := r.resolve(100, "/link/y", false); l.mount.MountPoint != "/" || l.fileType != fileTypeAbsent {
		t.Errorf("kernel mount ID must win over the prefix: got %q (%v), want / for a file being created", l.mount.MountPoint, l.fileType)
	}
}

func TestMountResolverBoundedCache(t *testing.T) {
	proc := newProcFixture(t)
	clock := newTestClock()
	r := newMountResolver(proc.root, probeStub{}, clock)
	for pid := uint32(1000); pid < 1000+maxMountTables+10; pid++ {
		proc.processWithMountInfo(pid, fmt.Sprintf("mnt:[%d]", pid), "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n")
		if l := r.resolve(pid, "/x", false); !l.mounted {
			t.Fatalf("pid %d: not resolved", pid)
		}
		clock.Advance(1)
	}
	if len(r.tables) != maxMountTables {
		t.Errorf("%d tables cached, want the bound %d", len(r.tables), maxMountTables)
	}
	if _, ok := r.tables["mnt:[1000]"]; ok {
		t.Error("the oldest table should have been evicted")
	}
}

// TestMountResolverRealProc resolves through the real /proc and kernel (no privileges needed).
func TestMountResolverRealProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no procfs:", err)
	}
	r := newMountResolver("/proc", kernelFS{}, newTestClock())
	pid := uint32(os.Getpid())
	for _, p := range []string{"/proc/self/status", "/proc/self/does/not/exist"} {
		l := r.resolve(pid, p, false)
		if !l.mounted || l.mount.MountPoint != "/proc" || l.mount.FSType != "proc" {
			t.Errorf("resolve(%q) = %+v; want the proc mount on /proc", p, l)
		}
	}
	if !isLinux {
		return
	}
	st, ok := (kernelFS{}).statInRoot("/proc", pid, "/proc/self/does/not/exist")
	if !ok || st.fileType != fileTypeAbsent {
		t.Fatalf("openat2+statx on a missing path under /proc = %+v, %v; want its ancestor's mount, absent", st, ok)
	}
	table, _, err := r.table(pid, false)
	if err != nil {
		t.Fatal(err)
	}
	if m, found := table.byMountID(st.mountID); !found || m.MountPoint != "/proc" {
		t.Errorf("kernel mount ID %d -> %+v, want the /proc mount", st.mountID, m)
	}
	for p, want := range map[string]fileType{"/dev/null": fileTypeCharDevice, "/proc/self": fileTypeDirectory, "/proc/self/status": fileTypeRegular} {
		if st, ok := (kernelFS{}).statInRoot("/proc", pid, p); !ok || st.fileType != want {
			t.Errorf("statInRoot(%s) = %+v, %v; want file type %v", p, st, ok, want)
		}
	}
}
