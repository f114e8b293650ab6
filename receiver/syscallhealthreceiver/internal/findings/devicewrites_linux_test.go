//go:build linux && (amd64 || arm64)

package findings

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// TestRealWritesToDevFullOpenNoFinding writes to /dev/full (every write fails with
// ENOSPC) from child shells and feeds the engine what the kernel probes report, the
// events as they arrive and then the exact counts, as the receiver does: no finding,
// whether the shell exited before its event was resolved (nothing left to examine) or
// still runs (its /dev/full is examined through its root). A child filling a tiny
// tmpfs in the same run shows that the pipeline sees a full disk: disk_full on that
// tmpfs is the only finding.
func TestRealWritesToDevFullOpenNoFinding(t *testing.T) {
	testenv.RequireRoot(t, "loads the kernel probes and mounts a tmpfs")
	probe, err := bpf.Load(bpf.Options{IncludePaths: true})
	if err != nil {
		t.Fatalf("loading the kernel probes: %v", err)
	}
	engine, err := NewEngine(NewDefaultConfig(), Settings{})
	if err != nil {
		t.Fatal(err)
	}
	full := testenv.MountTmpfs(t, "size=64k")
	fill := filepath.Join(full, "fill")

	self := uint32(os.Getpid())
	var mu sync.Mutex
	seen := make(map[string]int) // ENOSPC events fed to the engine, by path
	fed := make(map[uint32]bool)
	read := make(chan struct{})
	go func() {
		defer close(read)
		var ev bpf.Event
		for {
			err := probe.ReadEvent(&ev)
			if errors.Is(err, bpf.ErrClosed) {
				return
			}
			if err != nil || ev.Errno.Name() != "ENOSPC" || !(ev.Path == "/dev/full" && ev.PPID == self || ev.Path == fill) {
				continue
			}
			engine.ObserveEvent(Observation{
				PID: ev.PID, UID: ev.UID, Command: ev.Comm, MountNamespace: uint64(ev.MountNamespace),
				Syscall: bpf.SyscallName(ev.Syscall), Errno: ev.Errno.Name(), Category: ev.Category.String(),
				Path: ev.Path, Total: ev.ErrorCount,
			})
			mu.Lock()
			seen[ev.Path]++
			fed[ev.PID] = true
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if err := probe.Close(); err != nil {
			t.Errorf("closing the probes: %v", err)
		}
		<-read
	})
	waitForEvents := func(path string, n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			got := seen[path]
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d kernel events of ENOSPC writes to %s, want %d", got, path, n)
			}
		}
	}
	shell := func(script string) *exec.Cmd {
		cmd := exec.Command("sh", "-c", script)
		cmd.Stderr = new(strings.Builder)
		return cmd
	}
	mustFail := func(cmd *exec.Cmd, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded, want a failed write (stderr %q)", cmd, cmd.Stderr)
		}
	}

	const exitingWriters = 3
	for range exitingWriters {
		cmd := shell("echo x > /dev/full")
		mustFail(cmd, cmd.Run())
	}
	waitForEvents("/dev/full", exitingWriters)
	// This one stays until its writes have been resolved.
	running := shell("for i in 1 2 3; do echo x > /dev/full; done; read _")
	stdin, err := running.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := running.Start(); err != nil {
		t.Fatal(err)
	}
	waitForEvents("/dev/full", exitingWriters+3)
	stdin.Close()
	_ = running.Wait() // its status is read's, at the end of its input: the events tell of the writes
	// cat is gone before its event is resolved: the kernel's mount namespace of the
	// event says the host's mounts apply.
	filler := shell("cat /dev/zero > " + fill)
	mustFail(filler, filler.Run())
	waitForEvents(fill, 1)

	counts, err := probe.Counts()
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, c := range counts {
		if fed[c.Key.PID] {
			engine.ObserveCount(Observation{
				FirstSeenNs: c.FirstSeenNs, PID: c.Key.PID,
				Syscall: bpf.SyscallName(c.Key.Syscall), Errno: c.Key.Errno.Name(), Category: c.Category.String(),
				Total: c.Count,
			})
		}
	}
	mu.Unlock()

	got := engine.Evaluate()
	if len(got) != 1 || got[0].Kind != KindDiskFull || got[0].Subject.Name != full {
		t.Fatalf("transitions %+v; want only disk_full on %s (none for /dev/full)", got, full)
	}
	for _, a := range engine.Active() {
		if a.Kind == KindDiskFull && a.Active != 1 {
			t.Errorf("%d disk_full findings open, want 1", a.Active)
		}
	}
}
