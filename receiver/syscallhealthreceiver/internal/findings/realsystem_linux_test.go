//go:build linux

package findings

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// realSystem says why the real system tests skip unless run as root.
const realSystem = "the test mounts a tmpfs or creates a pids cgroup"

// TestRealFullTmpfs fills a real tmpfs until write(2) fails with ENOSPC, then resolves
// the failure as the engine does: a write without path through the open files, and
// an open with a path through the mount table and the kernel's mount ID.
func TestRealFullTmpfs(t *testing.T) {
	testenv.RequireRoot(t, realSystem)
	dir := testenv.MountTmpfs(t, "size=64k")
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	var writeErr error
	for range 1000 {
		if _, writeErr = f.Write(block); writeErr != nil {
			break
		}
	}
	if !errors.Is(writeErr, unix.ENOSPC) {
		t.Fatalf("filling the tmpfs ended with %v, want ENOSPC", writeErr)
	}

	e, err := NewEngine(NewDefaultConfig(), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	self := uint32(os.Getpid())
	e.ObserveEvent(Observation{PID: self, Executable: "findings.test", Syscall: "write", Errno: "ENOSPC", Category: "file", Total: 1})
	e.ObserveEvent(Observation{PID: self, Executable: "findings.test", Syscall: "openat", Errno: "ENOSPC", Category: "file", Path: filepath.Join(dir, "new", "file"), Total: 1})
	got := e.Evaluate()
	if len(got) != 1 || got[0].Kind != KindDiskFull || got[0].Subject.Name != dir || got[0].Subject.Mount.FSType != "tmpfs" || got[0].TotalCount != 2 {
		t.Fatalf("transitions %+v, want one disk_full finding on %s with 2 failures", got, dir)
	}
	if !strings.HasPrefix(got[0].Body, "Disk full on "+dir+" (ENOSPC): 2 failed syscalls by findings.test") {
		t.Errorf("body %q", got[0].Body)
	}
}

// TestRealReadOnlyMount resolves EROFS from a real read-only tmpfs.
func TestRealReadOnlyMount(t *testing.T) {
	testenv.RequireRoot(t, realSystem)
	dir := testenv.MountTmpfs(t, "size=64k")
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "x")
	if _, err := os.Create(path); !errors.Is(err, unix.EROFS) {
		t.Fatalf("creating a file on the read-only tmpfs: %v, want EROFS", err)
	}
	e, err := NewEngine(NewDefaultConfig(), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	e.ObserveEvent(Observation{PID: uint32(os.Getpid()), Executable: "findings.test", Syscall: "openat", Errno: "EROFS", Category: "file", Path: path, Total: 1})
	got := e.Evaluate()
	if len(got) != 1 || got[0].Kind != KindReadOnlyFilesystem || got[0].Subject.Name != dir || !got[0].Subject.Mount.ReadOnly {
		t.Fatalf("transitions %+v, want read_only_filesystem on %s", got, dir)
	}
}

// TestRealPidsCgroupAtLimit puts a process into a real pids cgroup at its limit (v1
// pids controller or cgroup v2, whichever holds pids here) and finds that cgroup.
func TestRealPidsCgroupAtLimit(t *testing.T) {
	testenv.RequireRoot(t, realSystem)
	limits := newPidsLimits(hostfs.New("/", time.Minute, nil))
	hierarchies := limits.discovered()
	var base string
	for _, h := range hierarchies {
		if _, err := os.Stat(filepath.Join(h.MountPoint, "cgroup.procs")); err == nil && h.Root == "/" {
			if h.V2 {
				controllers, _ := os.ReadFile(filepath.Join(h.MountPoint, "cgroup.controllers"))
				if !strings.Contains(string(controllers), "pids") {
					continue
				}
			}
			base = h.MountPoint
			break
		}
	}
	if base == "" {
		t.Skip("no writable pids cgroup hierarchy on this host")
	}
	name := "syscallhealth-findings-test-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(base, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a pids cgroup in %s: %v", base, err)
	}
	child := exec.Command("sleep", "60")
	if err := child.Start(); err != nil {
		os.Remove(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
		_ = os.Remove(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "pids.max"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(child.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	got, ok := limits.limitHit(uint32(child.Process.Pid))
	if !ok || got.cgroup != "/"+name || got.max != 1 {
		t.Errorf("limitHit = %+v, %v; want /%s with pids.max 1", got, ok, name)
	}
	if got, ok := limits.limitHit(uint32(os.Getpid())); ok {
		t.Errorf("the test process is not in a limited cgroup, got %+v", got)
	}
}
