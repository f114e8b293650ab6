package findings

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

const openFilesMountInfo = `1 0 8:1 / / rw - ext4 /dev/sda1 rw
2 1 0:50 / /tmp/tiny rw - tmpfs tiny rw,size=64k
3 1 8:2 / /srv ro - ext4 /dev/sdb ro
4 1 0:5 / /proc rw - proc proc rw
5 1 8:3 / /var rw - xfs /dev/sdc rw
`

func newOpenFilesFixture(t *testing.T, files map[string]openFileInfo) (*openFilesystems, *procFixture, *testClock) {
	proc := newProcFixture(t)
	proc.processWithMountInfo(100, "mnt:[1]", openFilesMountInfo)
	stubbed := make(map[string]openFileInfo)
	var names []string
	for name, info := range files {
		names = append(names, name)
		stubbed[filepath.Join(proc.dir(100), "fd", name)] = info
	}
	proc.fds(100, names...)
	clock := newTestClock()
	probe := probeStub{files: stubbed}
	return newOpenFilesystems(proc.root, probe, newMountResolver(proc.root, probe, clock), clock), proc, clock
}

func TestOpenFilesystemsPicksFullFilesystem(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t, map[string]openFileInfo{
		"0": {mountID: 4, regular: true, full: true}, // /proc: pseudo filesystem, never the answer
		"1": {mountID: 1, regular: false},            // a pipe or socket
		"3": {mountID: 5, regular: true},
		"4": {mountID: 2, regular: true, full: true},
		"5": {mountID: 1, regular: true},
	})
	m, ok := o.filesystemFor(KindDiskFull, 100)
	if !ok || m.MountPoint != "/tmp/tiny" {
		t.Errorf("disk_full -> %q, %v; want /tmp/tiny (the full one)", m.MountPoint, ok)
	}
	m, ok = o.filesystemFor(KindReadOnlyFilesystem, 100)
	if ok {
		t.Errorf("read_only_filesystem with three writable candidates -> %q, want no answer", m.MountPoint)
	}
}

func TestOpenFilesystemsPicksReadOnlyFilesystem(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t, map[string]openFileInfo{
		"3": {mountID: 5, regular: true},
		"4": {mountID: 3, regular: true},
	})
	m, ok := o.filesystemFor(KindReadOnlyFilesystem, 100)
	if !ok || m.MountPoint != "/srv" {
		t.Errorf("read_only_filesystem -> %q, %v; want /srv", m.MountPoint, ok)
	}
	if m, ok := o.filesystemFor(KindIOError, 100); ok {
		t.Errorf("io_error with two candidates -> %q, want no answer", m.MountPoint)
	}
}

func TestOpenFilesystemsSingleCandidateAndCache(t *testing.T) {
	o, proc, clock := newOpenFilesFixture(t, map[string]openFileInfo{
		"7": {mountID: 5, regular: true},
	})
	m, ok := o.filesystemFor(KindIOError, 100)
	if !ok || m.MountPoint != "/var" {
		t.Fatalf("io_error with one candidate -> %q, %v; want /var", m.MountPoint, ok)
	}
	// The process closes its file: the cached scan still answers until it expires.
	if err := os.Remove(filepath.Join(proc.dir(100), "fd", "7")); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.filesystemFor(KindIOError, 100); !ok {
		t.Error("cached scan not used")
	}
	clock.Advance(openFilesTTL)
	if m, ok := o.filesystemFor(KindIOError, 100); ok {
		t.Errorf("expired scan still answers %q", m.MountPoint)
	}
}

func TestOpenFilesystemsProcessGone(t *testing.T) {
	o, _, _ := newOpenFilesFixture(t, nil)
	if m, ok := o.filesystemFor(KindDiskFull, 4242); ok {
		t.Errorf("a process without /proc entry -> %q, want no answer", m.MountPoint)
	}
}

// TestOpenFilesReal checks the kernel probe on this test's own descriptors.
func TestOpenFilesReal(t *testing.T) {
	if !isLinux {
		t.Skip("kernel probe is Linux only")
	}
	f, err := os.CreateTemp(t.TempDir(), "open")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, ok := (kernelFS{}).openFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(f.Fd()))))
	if !ok || !info.regular {
		t.Fatalf("openFile(temp file) = %+v, %v; want a regular file", info, ok)
	}
	r := newMountResolver("/proc", kernelFS{}, newTestClock())
	l := r.resolve(uint32(os.Getpid()), f.Name(), false)
	if !l.mounted || l.mount.ID != info.mountID || l.fileType != fileTypeRegular {
		t.Errorf("temp file: fd says mount %d, path resolves to %+v", info.mountID, l)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if info, ok := (kernelFS{}).openFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(null.Fd())))); !ok || info.regular {
		t.Errorf("openFile(/dev/null) = %+v, %v; want a non-regular file", info, ok)
	}
}
