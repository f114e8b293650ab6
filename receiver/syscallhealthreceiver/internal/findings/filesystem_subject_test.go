package findings

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
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
var deviceProbe = probeStub{paths: map[string]pathStat{
	"/dev/full":                           {2, fileTypeCharDevice},
	"/dev/tty1":                           {2, fileTypeCharDevice},
	"/dev/sdb":                            {2, fileTypeBlockDevice},
	"/dev/newfile":                        {2, fileTypeAbsent},
	"/dev/shm/seg":                        {3, fileTypeRegular},
	"/tmp/tiny/x":                         {4, fileTypeRegular},
	"/tmp/tiny/new/file":                  {4, fileTypeAbsent},
	"/tmp/tiny/fifo":                      {4, fileTypeFIFO},
	"/run/app.sock":                       {7, fileTypeSocket},
	"/proc/42/mem":                        {5, fileTypeRegular},
	"/sys/fs/cgroup/pids/ci/cgroup.procs": {6, fileTypeRegular},
	"/var/lib":                            {1, fileTypeDirectory},
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
	r := newSubjectResolver(proc.root, deviceProbe, newTestClock())
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
		{KindDiskFull, 200, "c0ffee", "/dev/shm/seg", "/dev/shm"},
		// A container process that is gone: nothing to examine, /dev holds device nodes.
		{KindDiskFull, 999, "c0ffee", "/dev/full", ignored},
		{KindIOError, 999, "c0ffee", "/dev/pts/0", ignored},
		{KindDiskFull, 999, "c0ffee", "/dev/shm/seg", "/dev/shm"},
		{KindDiskFull, 999, "c0ffee", "/data/x", "/data"},
		// A host process that is gone: examined through the host's root (pid 1).
		{KindDiskFull, 998, "", "/dev/full", ignored},
		{KindIOError, 998, "", "/dev/sdb", "/dev/sdb"},
		{KindDiskFull, 998, "", "/tmp/tiny/x", "/tmp/tiny"},
	}
	for _, tt := range tests {
		o := Observation{PID: tt.pid, ContainerID: tt.container, Executable: "sh", Syscall: "write", Path: tt.path}
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
	f.engine.resolver = newSubjectResolver(proc.root, deviceProbe, f.clock)
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
	f.engine.resolver = newSubjectResolver(proc.root, deviceProbe, f.clock)
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
