package findings

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// testClock is the fake clock the engine tests drive by hand.
type testClock struct{ now time.Time }

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// procFixture builds a host root with a /proc-like tree for resolution tests.
type procFixture struct {
	t    *testing.T
	root string
	host *hostfs.Host
}

func newProcFixture(t *testing.T) *procFixture {
	root := t.TempDir()
	return &procFixture{t: t, root: root, host: hostfs.New(root, time.Minute, nil)}
}

func (p *procFixture) dir(pid uint32) string {
	return filepath.Join(p.root, "proc", strconv.FormatUint(uint64(pid), 10))
}

// process creates pid with a mount namespace link and the mountinfo of a fixture file.
func (p *procFixture) process(pid uint32, ns, mountinfoFixture string) {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join("../hostfs/testdata/mountinfo", mountinfoFixture))
	if err != nil {
		p.t.Fatal(err)
	}
	p.processWithMountInfo(pid, ns, string(data))
}

func (p *procFixture) processWithMountInfo(pid uint32, ns, mountinfo string) {
	p.t.Helper()
	dir := p.dir(pid)
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		p.t.Fatal(err)
	}
	link := filepath.Join(dir, "ns", "mnt")
	os.Remove(link)
	if err := os.Symlink(ns, link); err != nil {
		p.t.Fatal(err)
	}
	p.write(pid, "mountinfo", mountinfo)
}

func (p *procFixture) cwd(pid uint32, cwd string) {
	p.t.Helper()
	if err := os.Symlink(cwd, filepath.Join(p.dir(pid), "cwd")); err != nil {
		p.t.Fatal(err)
	}
}

func (p *procFixture) write(pid uint32, name, content string) {
	p.t.Helper()
	if err := os.MkdirAll(p.dir(pid), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir(pid), name), []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// probeStub answers fsProbe from tables, as the kernel would for the fixture.
type probeStub struct {
	paths map[string]hostfs.PathStat   // absolute path -> what the kernel says of it
	files map[uint32][]hostfs.OpenFile // pid -> its open files
}

var errNotStubbed = errors.New("not in the stub's tables")

func (s probeStub) StatInRoot(_ uint32, absPath string, _ hostfs.Device) (hostfs.PathStat, error) {
	st, ok := s.paths[absPath]
	if !ok {
		return hostfs.PathStat{}, errNotStubbed
	}
	return st, nil
}

func (s probeStub) OpenFiles(pid uint32) ([]hostfs.OpenFile, error) {
	files, ok := s.files[pid]
	if !ok {
		return nil, errNotStubbed
	}
	return files, nil
}
