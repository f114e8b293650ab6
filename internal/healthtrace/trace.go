// Package healthtrace is the file format of health_trace.json: failure events
// recorded from the kernel probes by cmd/syscallhealth-record while
// syscallhealth-trigger processes caused known failures. Tests decode it into
// bpf.Event values; it is never replayed as live data.
package healthtrace

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

// Trace is one recording session.
type Trace struct {
	RecordedAt time.Time `json:"recorded_at"`
	// Kernel is the kernel release, Arch the GOARCH whose syscall numbers the events carry.
	Kernel string `json:"kernel"`
	Arch   string `json:"arch"`
	// Hook is the attach mechanism the probes used.
	Hook string `json:"hook"`
	// Command is how the trace was recorded.
	Command string `json:"command"`
	Runs    []Run  `json:"runs"`
}

// Run is one trigger process and the events the kernel sent for it.
type Run struct {
	Args    []string       `json:"args"`
	Trigger trigger.Result `json:"trigger"`
	// Count is the exact in-kernel count for the trigger's (pid, syscall, errno) after the run.
	Count  uint64  `json:"count"`
	Events []Event `json:"events"`
}

// Event is bpf.Event with readable names beside the numbers.
type Event struct {
	TimestampNs uint64 `json:"timestamp_ns"`
	// Time is TimestampNs as wall-clock time, converted while recording.
	Time         time.Time `json:"time"`
	PID          uint32    `json:"pid"`
	TID          uint32    `json:"tid"`
	PPID         uint32    `json:"ppid"`
	UID          uint32    `json:"uid"`
	GID          uint32    `json:"gid"`
	CgroupID     uint64    `json:"cgroup_id"`
	Syscall      uint32    `json:"syscall"`
	SyscallName  string    `json:"syscall_name"`
	Errno        uint16    `json:"errno"`
	ErrnoName    string    `json:"errno_name"`
	Category     uint8     `json:"category"`
	CategoryName string    `json:"category_name"`
	Async        bool      `json:"async"`
	Comm         string    `json:"comm"`
	Path         string    `json:"path,omitempty"`
	// Local and Peer are "address:port" ("[v6]:port"), absent when not applicable.
	Local      string `json:"local,omitempty"`
	Peer       string `json:"peer,omitempty"`
	ErrorCount uint64 `json:"error_count"`
	Suppressed uint64 `json:"suppressed"`
}

// FromBPF converts a decoded kernel event; wall is its wall-clock time.
func FromBPF(ev *bpf.Event, wall time.Time) Event {
	e := Event{
		TimestampNs: ev.TimestampNs, Time: wall,
		PID: ev.PID, TID: ev.TID, PPID: ev.PPID, UID: ev.UID, GID: ev.GID, CgroupID: ev.CgroupID,
		Syscall: ev.Syscall, SyscallName: bpf.SyscallName(ev.Syscall),
		Errno: uint16(ev.Errno), ErrnoName: ev.Errno.Name(),
		Category: uint8(ev.Category), CategoryName: ev.Category.String(),
		Async: ev.Async, Comm: ev.Comm, Path: ev.Path,
		ErrorCount: ev.ErrorCount, Suppressed: ev.Suppressed,
	}
	if ev.Local.IsValid() {
		e.Local = ev.Local.String()
	}
	if ev.Peer.IsValid() {
		e.Peer = ev.Peer.String()
	}
	return e
}

// BPF returns the event as the bpf package decodes it.
func (e Event) BPF() (bpf.Event, error) {
	ev := bpf.Event{
		TimestampNs: e.TimestampNs,
		PID:         e.PID, TID: e.TID, PPID: e.PPID, UID: e.UID, GID: e.GID, CgroupID: e.CgroupID,
		Syscall: e.Syscall, Errno: bpf.Errno(e.Errno), Category: bpf.Category(e.Category),
		Async: e.Async, Comm: e.Comm, Path: e.Path,
		ErrorCount: e.ErrorCount, Suppressed: e.Suppressed,
	}
	var err error
	if e.Local != "" {
		if ev.Local, err = netip.ParseAddrPort(e.Local); err != nil {
			return ev, fmt.Errorf("local %q: %w", e.Local, err)
		}
	}
	if e.Peer != "" {
		if ev.Peer, err = netip.ParseAddrPort(e.Peer); err != nil {
			return ev, fmt.Errorf("peer %q: %w", e.Peer, err)
		}
	}
	return ev, nil
}

// Read loads a trace file.
func Read(path string) (Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Trace{}, err
	}
	var t Trace
	if err := json.Unmarshal(data, &t); err != nil {
		return Trace{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Events returns every run's events in recording order, as bpf.Event values.
func (t Trace) Events() ([]bpf.Event, error) {
	var out []bpf.Event
	for _, run := range t.Runs {
		for _, e := range run.Events {
			ev, err := e.BPF()
			if err != nil {
				return nil, err
			}
			out = append(out, ev)
		}
	}
	return out, nil
}
