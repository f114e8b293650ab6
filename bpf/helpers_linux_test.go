//go:build linux && (amd64 || arm64)

package bpf

import (
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// loadsProbes says why the kernel tests skip unless run as root.
const loadsProbes = "this kernel test loads and attaches eBPF programs"

// loadProbe loads with hooks for the syscall exit program (nil: the whole
// chain) and closes the probe at cleanup.
func loadProbe(t *testing.T, opts Options, hooks ...Hook) *Probe {
	t.Helper()
	if hooks == nil {
		hooks = hookChain
	}
	return loadProbeHooks(t, opts, hooks, hookChain)
}

// loadProbeHooks loads with the given hook chains for the syscall exit and the
// TCP state programs and closes the probe at cleanup.
func loadProbeHooks(t *testing.T, opts Options, hooks, socketHooks []Hook) *Probe {
	t.Helper()
	testenv.RequireRoot(t, loadsProbes)
	p, err := load(opts, hooks, socketHooks)
	if err != nil {
		t.Fatalf("loading the probe: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// eventLog collects a probe's events from one reader goroutine.
type eventLog struct {
	mu        sync.Mutex
	events    []Event
	malformed int
	done      chan struct{}
}

// collectEvents reads p's events until p is closed (at cleanup, before Close's own check).
func collectEvents(t *testing.T, p *Probe) *eventLog {
	t.Helper()
	l := &eventLog{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for {
			var ev Event
			err := p.ReadEvent(&ev)
			if err == ErrClosed {
				return
			}
			l.mu.Lock()
			if err != nil {
				l.malformed++
			} else {
				l.events = append(l.events, ev)
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.Close()
		select {
		case <-l.done:
		case <-time.After(5 * time.Second):
			t.Error("ReadEvent did not return ErrClosed within 5s of Close")
		}
		if l.malformed > 0 {
			t.Errorf("%d malformed events", l.malformed)
		}
	})
	return l
}

// matching returns the events that keep returns true for, in arrival order.
func (l *eventLog) matching(keep func(Event) bool) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.events {
		if keep(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// waitFor polls until keep matches an event, and returns it.
func (l *eventLog) waitFor(t *testing.T, what string, keep func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if evs := l.matching(keep); len(evs) > 0 {
			return evs[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no event for %s within 5s", what)
	return Event{}
}

// failWriteFull makes write(2) fail with ENOSPC once in this process: /dev/full
// changes no process state, so it can run in the test itself.
func failWriteFull(t *testing.T) {
	t.Helper()
	fd, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{0}); err != unix.ENOSPC {
		t.Fatalf("write to /dev/full: %v, want ENOSPC", err)
	}
}

// marker fails a write to /dev/full and waits for its event: every event the
// kernel submitted before it has then been read too, as the ring is FIFO.
func marker(t *testing.T, l *eventLog) {
	t.Helper()
	write, _ := SyscallByName("write")
	pid := uint32(os.Getpid())
	before := len(l.matching(func(ev Event) bool { return ev.PID == pid && ev.Syscall == write }))
	failWriteFull(t)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(l.matching(func(ev Event) bool { return ev.PID == pid && ev.Syscall == write })) > before {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the marker event (write ENOSPC on /dev/full by the test) did not arrive within 5s")
}

// countOf returns the kernel's count for key, 0 when it has none. A key without ProcessStartNs stands for
// whichever process had the PID: there must be at most one.
func countOf(t testing.TB, p *Probe, key CountKey) Count {
	t.Helper()
	counts, err := p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	found := Count{Key: key}
	matches := 0
	for _, c := range counts {
		k := c.Key
		if key.ProcessStartNs == 0 {
			k.ProcessStartNs = 0
		}
		if k == key {
			found = c
			matches++
		}
	}
	if matches > 1 {
		t.Fatalf("%d processes with PID %d have series %+v: name the one by its start time", matches, key.PID, key)
	}
	return found
}

func mustSyscall(t testing.TB, name string) uint32 {
	t.Helper()
	nr, ok := SyscallByName(name)
	if !ok {
		t.Fatalf("no syscall %q on this architecture", name)
	}
	return nr
}
