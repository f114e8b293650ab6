package findings

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// testClock is the fake clock the engine tests drive by hand.
type testClock struct{ now time.Time }

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
}

func (c *testClock) Now() time.Time          { return c.now }
func (c *testClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// procFixture builds a /proc-like tree for resolution tests.
type procFixture struct {
	t    *testing.T
	root string
}

func newProcFixture(t *testing.T) *procFixture {
	return &procFixture{t: t, root: t.TempDir()}
}

func (p *procFixture) dir(pid uint32) string {
	return filepath.Join(p.root, strconv.FormatUint(uint64(pid), 10))
}

// process creates pid with a mount namespace link and the mountinfo of a fixture file.
func (p *procFixture) process(pid uint32, ns, mountinfoFixture string) {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/mountinfo", mountinfoFixture))
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

// fds creates /proc/<pid>/fd entries (their targets do not matter: probeStub answers).
func (p *procFixture) fds(pid uint32, names ...string) {
	p.t.Helper()
	dir := filepath.Join(p.dir(pid), "fd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
}

// probeStub answers fsProbe from tables, as the kernel would for the fixture.
type probeStub struct {
	paths map[string]pathStat     // absolute path -> what the kernel says of it
	files map[string]openFileInfo // fd path -> open file
}

func (s probeStub) statInRoot(_ string, _ uint32, absPath string) (pathStat, bool) {
	st, ok := s.paths[absPath]
	return st, ok
}

func (s probeStub) openFile(fdPath string) (openFileInfo, bool) {
	info, ok := s.files[fdPath]
	return info, ok
}
