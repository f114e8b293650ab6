package findings

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// The host: devtmpfs on /dev with the shm tmpfs below it, a tiny tmpfs, pseudo filesystems.
const deviceHostMountInfo = `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:6 / /dev rw - devtmpfs devtmpfs rw,size=12334432k
3 2 0:23 / /dev/shm rw - tmpfs tmpfs rw
4 1 0:50 / /tmp/tiny rw - tmpfs tiny rw,size=64k
5 1 0:5 / /proc rw - proc proc rw
6 1 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
7 1 0:60 / /run rw - tmpfs tmpfs rw
`

// A container: its runtime puts the device nodes on a plain tmpfs /dev.
const deviceContainerMountInfo = `1 0 0:70 / / rw - overlay overlay rw
2 1 0:71 / /dev rw - tmpfs tmpfs rw
3 2 0:72 / /dev/shm rw - tmpfs shm rw
`

// deviceProbe is what the kernel says of the fixture's paths; mount IDs fit both tables
// (2 is /dev in each).
var deviceProbe = probeStub{paths: map[string]hostfs.PathStat{
	"/dev/full":                           {MountID: 2, Type: hostfs.FileTypeCharDevice},
	"/dev/tty1":                           {MountID: 2, Type: hostfs.FileTypeCharDevice},
	"/dev/sdb":                            {MountID: 2, Type: hostfs.FileTypeBlockDevice},
	"/dev/newfile":                        {MountID: 2, Type: hostfs.FileTypeAbsent},
	"/dev/shm/seg":                        {MountID: 3, Type: hostfs.FileTypeRegular},
	"/tmp/tiny/x":                         {MountID: 4, Type: hostfs.FileTypeRegular},
	"/tmp/tiny/new/file":                  {MountID: 4, Type: hostfs.FileTypeAbsent},
	"/tmp/tiny/fifo":                      {MountID: 4, Type: hostfs.FileTypeFIFO},
	"/run/app.sock":                       {MountID: 7, Type: hostfs.FileTypeSocket},
	"/proc/42/mem":                        {MountID: 5, Type: hostfs.FileTypeRegular},
	"/sys/fs/cgroup/pids/ci/cgroup.procs": {MountID: 6, Type: hostfs.FileTypeRegular},
	"/var/lib":                            {MountID: 1, Type: hostfs.FileTypeDirectory},
}}

func newDeviceFixture(t *testing.T) *procFixture {
	proc := newProcFixture(t)
	proc.processWithMountInfo(1, "mnt:[4026531840]", deviceHostMountInfo)
	proc.processWithMountInfo(100, "mnt:[4026531840]", deviceHostMountInfo)
	proc.cwd(100, "/dev")
	proc.processWithMountInfo(101, "mnt:[4026531840]", deviceHostMountInfo)
	proc.processWithMountInfo(200, "mnt:[4026532001]", deviceContainerMountInfo)
	return proc
}

// TestFilesystemKindsCountDataFilesOnly: the rule of filesystemSubject, kind by kind.
func TestFilesystemKindsCountDataFilesOnly(t *testing.T) {
	proc := newDeviceFixture(t)
	r := newSubjectResolver(proc.host, deviceProbe, newTestClock())
	const ignored = "(not evidence)"
	tests := []struct {
		kind      Kind
		pid       uint32
		container string
		path      string
		want      string // subject name, or ignored
	}{
		// Character devices, FIFOs, sockets: never.
		{KindDiskFull, 100, "", "/dev/full", ignored},
		{KindDiskFull, 100, "", "full", ignored}, // relative to the working directory /dev
		{KindReadOnlyFilesystem, 100, "", "/dev/full", ignored},
		{KindIOError, 100, "", "/dev/tty1", ignored},
		{KindDiskFull, 100, "", "/tmp/tiny/fifo", ignored},
		{KindIOError, 100, "", "/run/app.sock", ignored},
		// Block devices: io_error only, the device as subject.
		{KindIOError, 100, "", "/dev/sdb", "/dev/sdb"},
		{KindIOError, 100, "", "sdb", "/dev/sdb"},
		{KindDiskFull, 100, "", "/dev/sdb", ignored},
		{KindReadOnlyFilesystem, 100, "", "/dev/sdb", ignored},
		// Pseudo filesystems, devtmpfs included.
		{KindDiskFull, 100, "", "/dev/newfile", ignored},
		{KindDiskFull, 100, "", "/sys/fs/cgroup/pids/ci/cgroup.procs", ignored},
		{KindIOError, 100, "", "/proc/42/mem", ignored},
		// Regular files, directories and files being created on data filesystems.
		{KindDiskFull, 100, "", "/tmp/tiny/x", "/tmp/tiny"},
		{KindDiskFull, 100, "", "/tmp/tiny/new/file", "/tmp/tiny"},
		{KindDiskFull, 100, "", "/dev/shm/seg", "/dev/shm"},
		{KindReadOnlyFilesystem, 100, "", "/var/lib", "/"},
		{KindIOError, 100, "", "/tmp/tiny/x", "/tmp/tiny"},
		// A live container process: its /dev is a plain tmpfs, the file type decides.
		{KindDiskFull, 200, "c0ffee", "/dev/full", ignored},
		{KindDiskFull, 200, "c0ffee", "/dev/shm/seg", "/dev/shm (mount namespace 4026532001)"},
		// A container process that is gone: nothing to examine, /dev holds device nodes; the
		// cached table of its namespace tells the mount.
		{KindDiskFull, 999, "c0ffee", "/dev/full", ignored},
		{KindIOError, 999, "c0ffee", "/dev/pts/0", ignored},
		{KindDiskFull, 999, "c0ffee", "/dev/shm/seg", "/dev/shm (mount namespace 4026532001)"},
		{KindDiskFull, 999, "c0ffee", "/data/x", "/ (mount namespace 4026532001)"},
		// A process gone from a namespace never read: no table is the right one.
		{KindDiskFull, 997, "", "/tmp/tiny/x", "fallback unknown filesystem (sh)"},
		// A host process that is gone: examined through the host's root (pid 1).
		{KindDiskFull, 998, "", "/dev/full", ignored},
		{KindIOError, 998, "", "/dev/sdb", "/dev/sdb"},
		{KindDiskFull, 998, "", "/tmp/tiny/x", "/tmp/tiny"},
	}
	// The mount namespaces the processes were in, as the receiver read them while they ran.
	namespaces := map[uint32]uint64{200: 4026532001, 999: 4026532001, 998: 4026531840, 997: 4026532999}
	for _, tt := range tests {
		o := Observation{PID: tt.pid, ContainerID: tt.container, MountNamespace: namespaces[tt.pid], Executable: "sh", Syscall: "write", Path: tt.path}
		subject, res := r.resolve(tt.kind, &o)
		got := subject.Name
		switch res {
		case notEvidence:
			got = ignored
		case subjectFallback:
			got = "fallback " + got
		}
		if got != tt.want {
			t.Errorf("%s by pid %d on %q: %q, want %q", tt.kind, tt.pid, tt.path, got, tt.want)
		}
	}
}

// TestWritesToDevFullOpenNoFinding: the events and the exact counts of writes to
// /dev/full, in either order, never open a finding; the same process's write to a
// full tmpfs does.
func TestWritesToDevFullOpenNoFinding(t *testing.T) {
	f := newEngineFixture(t, nil)
	proc := newDeviceFixture(t)
	f.engine.resolver = newSubjectResolver(proc.host, deviceProbe, f.clock)
	write := func(pid uint32, path string, total uint64) Observation {
		return Observation{Time: f.clock.Now(), PID: pid, Executable: "sh", Syscall: "write", Errno: "ENOSPC", Category: "file", Path: path, Total: total}
	}
	f.engine.ObserveEvent(write(100, "/dev/full", 1))
	f.engine.ObserveEvent(write(100, "/dev/full", 5))
	f.engine.ObserveCount(write(100, "", 40)) // the rate limiter held the other events back
	f.expect()
	// The count comes first: it waits for the event, which names /dev/full.
	f.engine.ObserveCount(write(101, "", 3))
	f.engine.ObserveEvent(write(101, "/dev/full", 4))
	f.clock.Advance(10 * time.Second)
	f.expect()
	if len(f.engine.pending) != 0 {
		t.Errorf("%d series still wait for their event", len(f.engine.pending))
	}
	// The same series then fails on a full tmpfs: from there on it counts.
	f.engine.ObserveEvent(write(100, "/tmp/tiny/x", 45))
	f.engine.ObserveCount(write(100, "", 47))
	f.clock.Advance(10 * time.Second)
	tr := f.expect("disk_full open /tmp/tiny")[0]
	if tr.TotalCount != 7 {
		t.Errorf("total %d, want the 7 failures since the last write to /dev/full", tr.TotalCount)
	}
}

// TestBlockDeviceIOError: EIO reading a block device opens io_error on the device.
func TestBlockDeviceIOError(t *testing.T) {
	f := newEngineFixture(t, nil)
	proc := newDeviceFixture(t)
	f.engine.resolver = newSubjectResolver(proc.host, deviceProbe, f.clock)
	f.engine.ObserveEvent(Observation{Time: f.clock.Now(), PID: 100, Executable: "dd", Syscall: "read", Errno: "EIO", Category: "file", Path: "/dev/sdb", Total: 1})
	f.engine.ObserveEvent(Observation{Time: f.clock.Now(), PID: 100, Executable: "dd", Syscall: "write", Errno: "EIO", Category: "file", Path: "/dev/tty1", Total: 1})
	tr := f.expect("io_error open /dev/sdb")[0]
	if !strings.HasPrefix(tr.Body, "I/O errors on device /dev/sdb (EIO): 1 failed") {
		t.Errorf("body %q", tr.Body)
	}
	lr := plog.NewLogRecord()
	FillLogRecord(&tr, lr)
	attrs := lr.Attributes()
	if v, _ := attrs.Get("system.device"); v.Str() != "/dev/sdb" {
		t.Errorf("system.device %q, want /dev/sdb", v.Str())
	}
	if _, ok := attrs.Get("system.filesystem.mountpoint"); ok {
		t.Error("a device subject has no mount point")
	}
}
