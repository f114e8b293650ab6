//go:build linux

package syscallhealthreceiver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// Every cache of the receiver is bounded, and what it drops to stay within its bound is counted
// (syscallhealth.cache.evictions).

func TestProcessCacheCountsEvictions(t *testing.T) {
	c := newTestProcessCache(t.TempDir(), false, &testClock{now: time.Unix(1_700_000_000, 0)})
	for pid := range uint32(processCacheSize + 3) {
		c.put(&cacheEntry{info: &processInfo{PID: pid + 1}})
	}
	assert.Equal(t, uint64(3), c.evictedProcesses.Load())
	assert.Len(t, c.byPID, processCacheSize)

	c.lookupUser = func(uint32) string { return "someone" }
	for uid := range uint32(maxRememberedIDs + 1) {
		c.userName(uid)
	}
	assert.Equal(t, uint64(maxRememberedIDs), c.evictedUsers.Load(), "the full table is forgotten at once")

	c.mu.Lock()
	for cgroup := range uint64(maxRememberedIDs + 1) {
		c.rememberIdentity(cgroup, cgroups.Identity{ContainerID: "c"})
	}
	c.mu.Unlock()
	assert.Equal(t, uint64(maxRememberedIDs), c.evictedContainers.Load())
}

func TestEscalationWindowsCountEvictions(t *testing.T) {
	tracker := newEscalationTracker()
	for pid := range uint32(maxEscalationKeys + 1) {
		tracker.fast(failureKey{PID: pid}, 1, 1)
	}
	assert.Equal(t, uint64(maxEscalationKeys), tracker.evicted.Load())
}

func TestDestinationSeriesCountRefusals(t *testing.T) {
	connect, ok := bpf.SyscallByName("connect")
	require.True(t, ok)
	d := newDestinationCounts(zap.NewNop(), true, pcommon.Timestamp(0))
	for port := range maxDestinationSeries + 2 {
		d.observe(&bpf.Event{PID: 1, Syscall: connect, Errno: 111, Peer: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(port+1))})
	}
	assert.Equal(t, uint64(2), d.refused.Load())
}
