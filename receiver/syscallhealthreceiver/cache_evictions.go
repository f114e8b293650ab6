//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// recordCacheEvictions emits syscallhealth.cache.evictions, one point per bounded cache: every cache of the
// receiver has a bound, and what it drops to stay within it is counted. The finding resolver's caches exist
// only while findings are enabled.
func (m *metricsCollector) recordCacheEvictions(ts pcommon.Timestamp) {
	record := func(n uint64, cache metadata.AttributeSyscallhealthCache) {
		m.mb.RecordSyscallhealthCacheEvictionsDataPoint(ts, int64(n), cache)
	}
	record(m.processes.evictedProcesses.Load(), metadata.AttributeSyscallhealthCacheProcess)
	record(m.processes.evictedUsers.Load(), metadata.AttributeSyscallhealthCacheUserName)
	record(m.processes.evictedContainers.Load(), metadata.AttributeSyscallhealthCacheContainer)
	record(m.escalation.evicted.Load(), metadata.AttributeSyscallhealthCacheEscalation)
	record(m.destination.refused.Load(), metadata.AttributeSyscallhealthCacheDestination)
	record(m.hostFS.EvictedUnresponsiveMarks(), metadata.AttributeSyscallhealthCacheUnresponsiveFilesystem)
	if m.findings != nil {
		s := m.findings.Stats()
		record(s.EvictedMountTables, metadata.AttributeSyscallhealthCacheMountTable)
		record(s.EvictedPathLookups, metadata.AttributeSyscallhealthCachePathLookup)
		record(s.EvictedOpenFileScans, metadata.AttributeSyscallhealthCacheOpenFilesScan)
		record(s.EvictedPidsEventCounters, metadata.AttributeSyscallhealthCachePidsEvents)
	}
}
