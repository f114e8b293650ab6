package healthtrace

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/bpf"
)

func TestEventRoundTrip(t *testing.T) {
	connect, ok := bpf.SyscallByName("connect")
	require.True(t, ok)
	refused, ok := bpf.ErrnoByName("ECONNREFUSED")
	require.True(t, ok)
	in := bpf.Event{
		TimestampNs: 123456789, PID: 10, TID: 11, PPID: 1, UID: 1000, GID: 1000, CgroupID: 42,
		Syscall: connect, Errno: refused, Category: bpf.CategoryNetwork, Comm: "curl",
		Peer:       netip.MustParseAddrPort("[::1]:5432"),
		ErrorCount: 7, Suppressed: 2,
	}
	e := FromBPF(&in, time.Unix(1700000000, 0))
	assert.Equal(t, "connect", e.SyscallName)
	assert.Equal(t, "ECONNREFUSED", e.ErrnoName)
	assert.Equal(t, "network", e.CategoryName)
	assert.Equal(t, "[::1]:5432", e.Peer)
	assert.Empty(t, e.Local)
	out, err := e.BPF()
	require.NoError(t, err)
	assert.Equal(t, in, out)

	e.Local = "not an address"
	_, err = e.BPF()
	assert.ErrorContains(t, err, "local")
}

// The committed trace must be what the kernel really sent for the triggers:
// consistent names, exact counts, and error counts that add up with the
// suppressed failures in between.
func TestRecordedTrace(t *testing.T) {
	trace, err := Read("../../receiver/syscallhealthreceiver/testdata/health_trace.json")
	require.NoError(t, err)
	require.NotEmpty(t, trace.Runs)
	assert.NotEmpty(t, trace.Hook)
	seen := map[string]bool{}
	for _, run := range trace.Runs {
		name := run.Trigger.Syscall + "/" + run.Trigger.Errno
		seen[name] = true
		assert.Equal(t, uint64(run.Trigger.Failures), run.Count, name)
		require.NotEmpty(t, run.Events, name)
		previous := uint64(0)
		for _, e := range run.Events {
			assert.Equal(t, uint32(run.Trigger.PID), e.PID, name)
			assert.Equal(t, run.Trigger.Syscall, e.SyscallName, name)
			assert.Equal(t, run.Trigger.Errno, e.ErrnoName, name)
			errno, ok := bpf.ErrnoByName(e.ErrnoName)
			assert.True(t, ok)
			assert.Equal(t, uint16(errno), e.Errno)
			assert.Equal(t, bpf.Category(e.Category).String(), e.CategoryName)
			assert.Equal(t, previous+1+e.Suppressed, e.ErrorCount, "%s: error_count after %d", name, previous)
			previous = e.ErrorCount
			if run.Trigger.Path != "" {
				assert.Equal(t, run.Trigger.Path, e.Path, name)
			}
			if run.Trigger.Syscall == "connect" {
				assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr(run.Trigger.Address), uint16(run.Trigger.Port)).String(), e.Peer, name)
			}
			if run.Trigger.Syscall == "bind" {
				assert.Equal(t, netip.AddrPortFrom(netip.MustParseAddr(run.Trigger.Address), uint16(run.Trigger.Port)).String(), e.Local, name)
			}
		}
		assert.LessOrEqual(t, previous, run.Count, name)
	}
	for _, want := range []string{"openat/EMFILE", "write/ENOSPC", "openat/ENOSPC", "mmap/ENOMEM", "connect/ECONNREFUSED", "bind/EADDRINUSE", "openat/EACCES", "clone/EAGAIN"} {
		assert.True(t, seen[want], "the trace holds %s", want)
	}
	events, err := trace.Events()
	require.NoError(t, err)
	assert.NotEmpty(t, events)
}
