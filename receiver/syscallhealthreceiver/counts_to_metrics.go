//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/safetext"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// process is one process whose failures are counted: its PID and its start (bpf.CountKey.ProcessStartNs),
// which tell apart the processes that had the PID one after the other. startNs is 0 for a process known
// only from its connect failures' destinations (per PID).
type process struct {
	pid     uint32
	startNs uint64
}

func processOfKey(k bpf.CountKey) process { return process{k.PID, k.ProcessStartNs} }

// seriesStart remembers, per kernel count, since when its cumulative value accumulates and how much of it
// the next consumer has accepted.
type seriesStart struct {
	start       pcommon.Timestamp
	count       uint64
	firstSeenNs uint64
	delivered   uint64
}

// metricsCollector turns snapshots of the in-kernel counts into cumulative sums: the one place counts
// become metric data. It is used by one goroutine at a time.
type metricsCollector struct {
	mb          *metadata.MetricsBuilder
	host        hostInfo
	processes   *processCache
	destination *destinationCounts
	drops       *dropCounters
	escalation  *escalationTracker
	// findings gets every count and provides the findings gauges; nil when findings are disabled.
	findings *findings.Engine
	// hostFS counts the lookups that went unanswered.
	hostFS *hostfs.Host
	// clock turns the counts' boot-time stamps into wall-clock time for the finding engine.
	clock wallClock

	loadTime pcommon.Timestamp
	// previous is the time of the previous collection: a series first seen now began after it.
	previous pcommon.Timestamp
	series   map[bpf.CountKey]*seriesStart

	// awaiting are the exited processes whose final counts the next consumer has not accepted yet, longest
	// waiting first. Their series stay here and in the kernel map, so each collection emits them again.
	awaiting []process
	// maxAwaitingSeries bounds the series of awaiting processes: they hold kernel map entries that live
	// processes need. Past it the longest waiting are given up and counted in undelivered.
	maxAwaitingSeries int
	undelivered       uint64

	// aggregates sums the counts per container, executable or host; nil at process granularity.
	aggregates *failureAggregates
	// pending is since when the series of processes whose workload is not known yet (gone before the first
	// event of their cgroup was enriched) are held back.
	pending map[process]time.Time
	// final is set for the last collection at shutdown: nothing is held back any more.
	final bool
}

// maxPending bounds how long the series of a process gone before any event of its cgroup was enriched wait
// for that event (it tells the workload; the enricher may lag behind under load): after that (the events
// were lost to a full ring) they are emitted without it.
const maxPending = 10 * time.Second

func newMetricsCollector(mb *metadata.MetricsBuilder, host hostInfo, processes *processCache,
	destination *destinationCounts, drops *dropCounters, escalation *escalationTracker,
	engine *findings.Engine, hostFS *hostfs.Host, clock wallClock, loadTime time.Time, maxAwaitingSeries int, granularity Granularity,
) *metricsCollector {
	ts := pcommon.NewTimestampFromTime(loadTime)
	m := &metricsCollector{
		mb: mb, host: host, processes: processes, destination: destination, drops: drops, escalation: escalation,
		findings: engine, hostFS: hostFS, clock: clock, loadTime: ts, previous: ts, series: make(map[bpf.CountKey]*seriesStart),
		maxAwaitingSeries: maxAwaitingSeries, pending: make(map[process]time.Time),
	}
	if granularity != GranularityProcess {
		m.aggregates = newFailureAggregates(granularity)
	}
	return m
}

// exitedAmong returns the processes with counts or connect series that have exited: a process whose PID is
// gone or now belongs to a process that started at another time. The caller asks before it reads the counts
// it passes to collect: a process already gone can fail no more, so those counts are its final ones (counts
// read before the exit check could miss the last failures of a process exiting meanwhile).
func (m *metricsCollector) exitedAmong(counts []bpf.Count) map[process]bool {
	exited := make(map[process]bool)
	for _, c := range counts {
		p := processOfKey(c.Key)
		if _, checked := exited[p]; !checked {
			exited[p] = m.processes.exited(p.pid, p.startNs)
		}
	}
	for _, pid := range m.destination.pids() {
		p := process{pid: pid}
		if _, checked := exited[p]; !checked {
			exited[p] = m.processes.exited(pid, 0)
		}
	}
	maps.DeleteFunc(exited, func(_ process, gone bool) bool { return !gone })
	return exited
}

// collect builds the metrics of one snapshot. The series of the processes in exited (from exitedAmong, asked
// before the snapshot was read) hold their final counts: once the next consumer accepted them the caller
// calls delivered, else rejected.
//
// Start timestamps are stable per series. A series seen for the first time starts at the previous
// collection (the load time for the first one): it did not exist then. A count that went down, or whose
// first-seen time changed, was deleted from the kernel map and counted again: it restarts at the previous
// collection too. A process given a reused PID has series of its own (the kernel's key has its start).
func (m *metricsCollector) collect(counts []bpf.Count, exited map[process]bool, stats bpf.Stats, now time.Time) pmetric.Metrics {
	ts := pcommon.NewTimestampFromTime(now)
	byProcess := make(map[process][]bpf.Count)
	withCounts := make(map[uint32]bool)
	for _, c := range counts {
		p := processOfKey(c.Key)
		byProcess[p] = append(byProcess[p], c)
		withCounts[p.pid] = true
	}
	processes := slices.Collect(maps.Keys(byProcess))
	for _, pid := range m.destination.pids() {
		if !withCounts[pid] {
			processes = append(processes, process{pid: pid})
		}
	}
	slices.SortFunc(processes, func(a, b process) int {
		return cmp.Or(cmp.Compare(a.pid, b.pid), cmp.Compare(a.startNs, b.startNs))
	})

	seen := make(map[bpf.CountKey]bool, len(counts))
	if m.aggregates != nil {
		m.aggregates.begin()
	}
	for i, proc := range processes {
		pid, own := proc.pid, byProcess[proc]
		slices.SortFunc(own, func(a, b bpf.Count) int {
			return cmp.Or(cmp.Compare(a.Key.Syscall, b.Key.Syscall), cmp.Compare(a.Key.Errno, b.Key.Errno))
		})
		var cgroupID uint64
		if len(own) > 0 {
			cgroupID = own[0].CgroupID
		}
		info, known := m.processes.forCounts(pid, proc.startNs, cgroupID)
		if !known && cgroupID != 0 && !m.final {
			since, held := m.pending[proc]
			if !held {
				since = now
				m.pending[proc] = now
			}
			if now.Sub(since) < maxPending {
				// Its first event is still on its way: wait for it rather than count without the workload.
				for _, c := range own {
					seen[c.Key] = true
				}
				delete(exited, proc)
				continue
			}
		}
		delete(m.pending, proc)
		for _, c := range own {
			seen[c.Key] = true
			// The generated builder stamps the start time set by Reset on the points recorded next.
			start := m.startOf(c)
			if m.findings != nil {
				m.findings.ObserveCount(countObservation(c, info, m.clock))
			}
			if m.aggregates != nil {
				m.aggregates.add(c, m.aggregates.resourceOf(c, info), m.previous)
				continue
			}
			m.mb.Reset(metadata.WithStartTime(start))
			m.mb.RecordSyscallhealthFailuresDataPoint(ts, int64(c.Count), bpf.SyscallName(c.Key.Syscall), c.Key.Errno.Name(),
				metadata.MapAttributeSyscallhealthCategory[c.Category.String()])
		}
		// syscallhealth.connect.failures stays per process at every granularity. It is counted per PID: the
		// latest process with the PID has it.
		var destinations []destinationSeries
		if i == len(processes)-1 || processes[i+1].pid != pid {
			destinations = m.destination.snapshot(pid)
		}
		for _, d := range destinations {
			m.mb.Reset(metadata.WithStartTime(d.start))
			m.mb.RecordSyscallhealthConnectFailuresDataPoint(ts, int64(d.count), d.peer.Addr().Unmap().String(), int64(d.peer.Port()), d.errno.Name())
		}
		if m.aggregates == nil || len(destinations) > 0 {
			m.mb.EmitForResource(metadata.WithResource(processResource(m.mb.NewResourceBuilder(), m.host, info)))
		}
	}
	if m.aggregates != nil {
		m.aggregates.end(seen)
		m.aggregates.record(m.mb, m.host, ts)
	}

	m.mb.Reset(metadata.WithStartTime(m.loadTime))
	m.mb.RecordSyscallhealthEventsDroppedDataPoint(ts, int64(stats.RingbufDrops), metadata.AttributeSyscallhealthDropReasonRingBufferFull)
	m.mb.RecordSyscallhealthEventsDroppedDataPoint(ts, int64(m.drops.malformed.Load()), metadata.AttributeSyscallhealthDropReasonMalformedRecord)
	m.mb.RecordSyscallhealthEventsDroppedDataPoint(ts, int64(m.drops.consumerError.Load()), metadata.AttributeSyscallhealthDropReasonConsumerError)
	m.mb.RecordSyscallhealthEventsDroppedDataPoint(ts, int64(m.drops.backpressure.Load()), metadata.AttributeSyscallhealthDropReasonBackpressure)
	m.mb.RecordSyscallhealthEventsDroppedDataPoint(ts, int64(m.drops.shutdown.Load()), metadata.AttributeSyscallhealthDropReasonShutdown)
	m.mb.RecordSyscallhealthEventsSuppressedDataPoint(ts, int64(stats.Suppressed))
	m.mb.RecordSyscallhealthFailuresUntrackedDataPoint(ts, int64(stats.Untracked))
	m.mb.RecordSyscallhealthFailuresUndeliveredDataPoint(ts, int64(m.undelivered))
	m.mb.RecordSyscallhealthConnectsUntrackedDataPoint(ts, int64(stats.UntrackedConnects))
	m.mb.RecordSyscallhealthProbeRunsMissedDataPoint(ts, int64(stats.MissedRuns))
	lookups := m.hostFS.Stats()
	m.mb.RecordSyscallhealthLookupsFailedDataPoint(ts, int64(lookups.TimedOut), metadata.AttributeSyscallhealthLookupReasonLookupTimeout)
	m.mb.RecordSyscallhealthLookupsFailedDataPoint(ts, int64(lookups.Saturated), metadata.AttributeSyscallhealthLookupReasonLookupsSaturated)
	m.mb.RecordSyscallhealthLookupsFailedDataPoint(ts, int64(lookups.Unresponsive), metadata.AttributeSyscallhealthLookupReasonFilesystemUnresponsive)
	m.mb.RecordSyscallhealthLookupsFailedDataPoint(ts, int64(lookups.MountTableTooLarge), metadata.AttributeSyscallhealthLookupReasonMountTableTooLarge)
	m.recordCacheEvictions(ts)
	if m.findings != nil {
		for _, a := range m.findings.Active() {
			m.mb.RecordSyscallhealthIssuesActiveDataPoint(ts, a.Active, metadata.MapAttributeSyscallhealthIssueKind[a.Kind.String()])
		}
		evicted := m.findings.Stats()
		m.mb.RecordSyscallhealthIssuesEvictedDataPoint(ts, int64(evicted.EvictedSubjects), metadata.AttributeSyscallhealthEvictionTargetSubject)
		m.mb.RecordSyscallhealthIssuesEvictedDataPoint(ts, int64(evicted.EvictedSeries), metadata.AttributeSyscallhealthEvictionTargetSeries)
	}
	metrics := m.mb.Emit(metadata.WithResource(hostResource(m.mb.NewResourceBuilder(), m.host)))
	// Executables, command lines and unix socket names are chosen by any local user.
	safetext.Metrics(metrics)

	// Forget what the kernel no longer counts (evicted or deleted).
	for key := range m.series {
		if !seen[key] {
			delete(m.series, key)
		}
	}
	m.previous = ts
	m.destination.setPrevious(ts)
	return metrics
}

// delivered records that the next consumer accepted the last emission: the exited processes in it are
// forgotten. It returns their kernel keys for the caller to delete from the kernel map.
func (m *metricsCollector) delivered(exited map[process]bool) []bpf.CountKey {
	for _, s := range m.series {
		s.delivered = s.count
	}
	m.awaiting = m.awaiting[:0]
	return m.forget(exited)
}

// rejected records that the next consumer refused the last emission: the exited processes in it are kept
// for the next collection to emit again, within maxAwaitingSeries. It returns the kernel keys of the
// processes given up (their undelivered failures counted) for the caller to delete.
func (m *metricsCollector) rejected(exited map[process]bool) []bpf.CountKey {
	// A process no longer among the exited had its series evicted.
	m.awaiting = slices.DeleteFunc(m.awaiting, func(p process) bool { return !exited[p] })
	for _, p := range slices.SortedFunc(maps.Keys(exited), func(a, b process) int {
		return cmp.Or(cmp.Compare(a.pid, b.pid), cmp.Compare(a.startNs, b.startNs))
	}) {
		if !slices.Contains(m.awaiting, p) {
			m.awaiting = append(m.awaiting, p)
		}
	}
	seriesOf := make(map[process]int)
	total := 0
	for key := range m.series {
		if p := processOfKey(key); exited[p] {
			seriesOf[p]++
			total++
		}
	}
	givenUp := make(map[process]bool)
	for total > m.maxAwaitingSeries && len(m.awaiting) > 0 {
		p := m.awaiting[0]
		m.awaiting = m.awaiting[1:]
		givenUp[p] = true
		total -= seriesOf[p]
	}
	for key, s := range m.series {
		if givenUp[processOfKey(key)] && s.count > s.delivered {
			m.undelivered += s.count - s.delivered
		}
	}
	return m.forget(givenUp)
}

// forget drops every trace of the processes in gone and returns their kernel keys. What is kept per PID
// (the process cache, connect destinations, findings, escalation) stays while another process with the PID
// has series.
func (m *metricsCollector) forget(gone map[process]bool) []bpf.CountKey {
	var keys []bpf.CountKey
	for key := range m.series {
		if gone[processOfKey(key)] {
			keys = append(keys, key)
			delete(m.series, key)
		}
	}
	pids := make(map[uint32]bool, len(gone))
	for p := range gone {
		pids[p.pid] = true
	}
	for key := range m.series {
		delete(pids, key.PID)
	}
	for pid := range pids {
		m.processes.forget(pid)
		m.destination.forget(pid)
		if m.findings != nil {
			m.findings.ForgetProcess(pid)
		}
	}
	m.escalation.forget(pids)
	return keys
}

func (m *metricsCollector) startOf(c bpf.Count) pcommon.Timestamp {
	s, ok := m.series[c.Key]
	if !ok {
		s = &seriesStart{start: m.previous}
		m.series[c.Key] = s
	} else if c.Count < s.count || c.FirstSeenNs != s.firstSeenNs {
		s.start, s.delivered = m.previous, 0
	}
	s.count, s.firstSeenNs = c.Count, c.FirstSeenNs
	return s.start
}
