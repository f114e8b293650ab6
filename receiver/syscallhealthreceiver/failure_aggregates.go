//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"cmp"
	"maps"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// aggregateIdleRounds is how many collections an aggregated series stays after the last process that
// fed it is gone: a container restarting its processes keeps one series, a container gone for good
// does not linger.
const aggregateIdleRounds = 60

// aggregateResource is what one aggregated syscallhealth.failures series is counted for: a container
// (the host's processes outside containers have none), an executable, or the host (all empty).
type aggregateResource struct {
	containerID, podUID, executable string
}

type aggregateKey struct {
	resource aggregateResource
	syscall  uint32
	errno    bpf.Errno
	category bpf.Category
}

// aggregateSeries is the cumulative count of one aggregated series: the final counts of the kernel
// series that ended (exited processes, evicted series) plus the current counts of the live ones.
type aggregateSeries struct {
	retired, live uint64
	start         pcommon.Timestamp
	idle          int
}

// kernelSeries is what the last collection saw of one kernel (process) series.
type kernelSeries struct {
	key         aggregateKey
	count       uint64
	firstSeenNs uint64
}

// failureAggregates sums the kernel's per-process counts into per-container, per-executable or
// per-host series. Exact: a process's count is added while its kernel series lives and kept once it
// ends, so process churn neither loses nor repeats failures, and the series outlive the processes.
type failureAggregates struct {
	granularity Granularity
	series      map[aggregateKey]*aggregateSeries
	kernel      map[bpf.CountKey]kernelSeries
}

func newFailureAggregates(g Granularity) *failureAggregates {
	return &failureAggregates{granularity: g, series: make(map[aggregateKey]*aggregateSeries), kernel: make(map[bpf.CountKey]kernelSeries)}
}

// resourceOf is the aggregate a process's series counts for.
func (a *failureAggregates) resourceOf(c bpf.Count, p *processInfo) aggregateResource {
	switch a.granularity {
	case GranularityContainer:
		return aggregateResource{containerID: p.ContainerID, podUID: p.PodUID}
	case GranularityExecutable:
		if c.Executable != "" {
			return aggregateResource{executable: c.Executable}
		}
		return aggregateResource{executable: p.ExecutableName}
	}
	return aggregateResource{}
}

// begin starts a collection: the live counts are summed anew.
func (a *failureAggregates) begin() {
	for _, s := range a.series {
		s.live = 0
	}
}

// add counts one kernel series of this collection; start is when a new aggregated series begins.
func (a *failureAggregates) add(c bpf.Count, res aggregateResource, start pcommon.Timestamp) {
	key := aggregateKey{resource: res, syscall: c.Key.Syscall, errno: c.Key.Errno, category: c.Category}
	if prev, ok := a.kernel[c.Key]; ok && (c.Count < prev.count || c.FirstSeenNs != prev.firstSeenNs) {
		// Evicted and counted again since the last collection: what it had counted is kept.
		a.retire(prev)
	}
	s := a.series[key]
	if s == nil {
		s = &aggregateSeries{start: start}
		a.series[key] = s
	}
	s.live += c.Count
	a.kernel[c.Key] = kernelSeries{key: key, count: c.Count, firstSeenNs: c.FirstSeenNs}
}

func (a *failureAggregates) retire(k kernelSeries) {
	if s := a.series[k.key]; s != nil {
		s.retired += k.count
	}
}

// end finishes a collection: the kernel series not seen in it have ended (deleted after their process
// exited, or evicted) and their last counts are kept; series idle for too long are forgotten.
func (a *failureAggregates) end(seen map[bpf.CountKey]bool) {
	for k, ks := range a.kernel {
		if !seen[k] {
			a.retire(ks)
			delete(a.kernel, k)
		}
	}
	for key, s := range a.series {
		if s.live > 0 {
			s.idle = 0
			continue
		}
		if s.idle++; s.idle > aggregateIdleRounds {
			delete(a.series, key)
		}
	}
}

// record adds the aggregated series to mb: each resource's series, then the resource, with the host's
// series (no container, or host granularity) left for the caller's final Emit.
func (a *failureAggregates) record(mb *metadata.MetricsBuilder, host hostInfo, ts pcommon.Timestamp) {
	byResource := make(map[aggregateResource][]aggregateKey)
	for key := range a.series {
		byResource[key.resource] = append(byResource[key.resource], key)
	}
	// The host's own resource sorts last: its points stay recorded for the caller's Emit.
	resources := slices.SortedFunc(maps.Keys(byResource), func(x, y aggregateResource) int {
		if hx, hy := x == (aggregateResource{}), y == (aggregateResource{}); hx != hy {
			if hx {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(x.containerID, y.containerID), cmp.Compare(x.podUID, y.podUID), cmp.Compare(x.executable, y.executable))
	})
	for _, res := range resources {
		keys := byResource[res]
		slices.SortFunc(keys, func(x, y aggregateKey) int {
			return cmp.Or(cmp.Compare(x.syscall, y.syscall), cmp.Compare(x.errno, y.errno))
		})
		for _, key := range keys {
			s := a.series[key]
			mb.Reset(metadata.WithStartTime(s.start))
			mb.RecordSyscallhealthFailuresDataPoint(ts, int64(s.retired+s.live), bpf.SyscallName(key.syscall), key.errno.Name(),
				metadata.MapAttributeSyscallhealthCategory[key.category.String()])
		}
		if res == (aggregateResource{}) {
			continue // the host's: emitted with the receiver's own series
		}
		rb := mb.NewResourceBuilder()
		if res.containerID != "" {
			rb.SetContainerID(res.containerID)
		}
		if res.podUID != "" {
			rb.SetK8sPodUID(res.podUID)
		}
		if res.executable != "" {
			rb.SetProcessExecutableName(res.executable)
		}
		mb.EmitForResource(metadata.WithResource(hostResource(rb, host)))
	}
}
