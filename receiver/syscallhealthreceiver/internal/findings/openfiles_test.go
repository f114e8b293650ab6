package findings

import (
	"os"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

const openFilesMountInfo = `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:50 / /tmp/tiny rw - tmpfs tiny rw,size=64k
3 1 8:2 / /srv ro - ext4 /dev/sdb ro
4 1 0:5 / /proc rw - proc proc rw
5 1 8:3 / /var rw - xfs /dev/sdc rw
`

// newOpenFilesFixture makes process 100 have the files open, in this order.
func newOpenFilesFixture(t *testing.T, files ...hostfs.OpenFile) (*openFilesystems, probeStub, *testClock) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", openFilesMountInfo)
	clock := newTestClock()
	probe := probeStub{files: map[uint32][]hostfs.OpenFile{100: files}}
	return newOpenFilesystems(probe, newMountResolver(proc.host, probe, clock), clock), probe, clock
}

func TestOpenFilesystemsPicksFullFilesystem(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t,
		hostfs.OpenFile{MountID: 4, Regular: true, Full: true}, // /proc: pseudo filesystem, never the answer
		hostfs.OpenFile{MountID: 1, Regular: false},            // a pipe or socket
		hostfs.OpenFile{MountID: 5, Regular: true},
		hostfs.OpenFile{MountID: 2, Regular: true, Full: true},
		hostfs.OpenFile{MountID: 1, Regular: true},
	)
	u, ok := o.filesystemFor(KindDiskFull, 100)
	if !ok || u.mount.MountPoint != "/tmp/tiny" {
		t.Errorf("disk_full -> %q, %v; want /tmp/tiny (the full one)", u.mount.MountPoint, ok)
	}
	u, ok = o.filesystemFor(KindReadOnlyFilesystem, 100)
	if ok {
		t.Errorf("read_only_filesystem with three writable candidates -> %q, want no answer", u.mount.MountPoint)
	}
}

func TestOpenFilesystemsPicksReadOnlyFilesystem(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t,
		hostfs.OpenFile{MountID: 5, Regular: true},
		hostfs.OpenFile{MountID: 3, Regular: true},
	)
	u, ok := o.filesystemFor(KindReadOnlyFilesystem, 100)
	if !ok || u.mount.MountPoint != "/srv" {
		t.Errorf("read_only_filesystem -> %q, %v; want /srv", u.mount.MountPoint, ok)
	}
	if u, ok := o.filesystemFor(KindIOError, 100); ok {
		t.Errorf("io_error with two candidates -> %q, want no answer", u.mount.MountPoint)
	}
}

func TestOpenFilesystemsSingleCandidateAndCache(t *testing.T) {
	o, probe, clock := newOpenFilesFixture(t, hostfs.OpenFile{MountID: 5, Regular: true})
	u, ok := o.filesystemFor(KindIOError, 100)
	if !ok || u.mount.MountPoint != "/var" {
		t.Fatalf("io_error with one candidate -> %q, %v; want /var", u.mount.MountPoint, ok)
	}
	// The process closes its file: the cached scan still answers until it expires.
	probe.files[100] = nil
	if _, ok := o.filesystemFor(KindIOError, 100); !ok {
		t.Error("cached scan not used")
	}
	clock.Advance(openFilesTTL)
	if u, ok := o.filesystemFor(KindIOError, 100); ok {
		t.Errorf("expired scan still answers %q", u.mount.MountPoint)
	}
}

func TestOpenFilesystemsProcessGone(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t)
	if u, ok := o.filesystemFor(KindDiskFull, 4242); ok {
		t.Errorf("a process without /proc entry -> %q, want no answer", u.mount.MountPoint)
	}
}

// TestOpenFilesReal checks the kernel's answers on this test's own descriptors.
func TestOpenFilesReal(t *testing.T) {
	if !isLinux {
		t.Skip("the kernel probe is Linux only")
	}
	f, err := os.CreateTemp(t.TempDir(), "open")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	host := hostfs.New("/", time.Minute, nil)
	pid := uint32(os.Getpid())
	files, err := host.OpenFiles(pid)
	if err != nil {
		t.Fatal(err)
	}
	r := newMountResolver(host, host, newTestClock())
	l := r.resolve(pid, f.Name(), 0)
	if !l.mounted || l.fileType != hostfs.FileTypeRegular {
		t.Fatalf("temp file resolves to %+v", l)
	}
	var regularOnItsMount bool
	for _, of := range files {
		regularOnItsMount = regularOnItsMount || (of.Regular && of.MountID == l.mount.ID && of.Device == l.mount.Device)
	}
	if !regularOnItsMount {
		t.Errorf("no open regular file on the temp file's mount %d (%s) among %+v", l.mount.ID, l.mount.Device, files)
	}
}
