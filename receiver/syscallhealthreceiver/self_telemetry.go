//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// probeGauges is what the self-telemetry reads live from the loaded probes (*bpf.Probe).
type probeGauges interface {
	RingBufferFill() (float64, error)
	ProgramStats() ([]bpf.ProgramStat, error)
}

// selfTelemetry is the receiver's own health: metrics on the collector's telemetry endpoint, and the component
// status, RecoverableError while it loses data and OK again after a collection without loss.
type selfTelemetry struct {
	builder *metadata.TelemetryBuilder
	drops   *dropCounters
	host    *hostfs.Host
	probe   kernelProbe
	// stats are the kernel's counters as the last collection read them.
	stats atomic.Pointer[bpf.Stats]
	// lagNs is how late the most recent event was read (wall clock at reading minus the failure's time).
	lagNs atomic.Int64

	mu       sync.Mutex
	lost     uint64 // losses counted up to the previous collection
	degraded bool
}

func newSelfTelemetry(set component.TelemetrySettings, drops *dropCounters, host *hostfs.Host, probe kernelProbe) (*selfTelemetry, error) {
	builder, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, err
	}
	t := &selfTelemetry{builder: builder, drops: drops, host: host, probe: probe}
	t.stats.Store(&bpf.Stats{})
	reason := func(r string) metric.ObserveOption { return metric.WithAttributes(attribute.String("reason", r)) }
	errs := errors.Join(
		builder.RegisterReceiverSyscallhealthEventsDroppedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.stats.Load().RingbufDrops), reason("ring_buffer_full"))
			o.Observe(int64(drops.malformed.Load()), reason("malformed_record"))
			o.Observe(int64(drops.consumerError.Load()), reason("consumer_error"))
			o.Observe(int64(drops.backpressure.Load()), reason("backpressure"))
			o.Observe(int64(drops.shutdown.Load()), reason("shutdown"))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthEventsSuppressedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.stats.Load().Suppressed))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthFailuresUntrackedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.stats.Load().Untracked))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthConnectsUntrackedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.stats.Load().UntrackedConnects))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthProbeRunsMissedCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(t.stats.Load().MissedRuns))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthLookupsFailedCallback(func(_ context.Context, o metric.Int64Observer) error {
			s := host.Stats()
			o.Observe(int64(s.TimedOut), reason("timed_out"))
			o.Observe(int64(s.Saturated), reason("saturated"))
			o.Observe(int64(s.Unresponsive), reason("unresponsive"))
			o.Observe(int64(s.MountTableTooLarge), reason("mount_table_too_large"))
			return nil
		}),
		builder.RegisterReceiverSyscallhealthReaderLagCallback(func(_ context.Context, o metric.Float64Observer) error {
			o.Observe(time.Duration(t.lagNs.Load()).Seconds())
			return nil
		}),
	)
	if gauges, ok := probe.(probeGauges); ok {
		errs = errors.Join(errs,
			builder.RegisterReceiverSyscallhealthRingBufferFillCallback(func(_ context.Context, o metric.Float64Observer) error {
				if fill, err := gauges.RingBufferFill(); err == nil {
					o.Observe(fill)
				}
				return nil
			}),
			// The kernel accounts runs only while kernel.bpf_stats_enabled is 1: until it has, nothing is reported.
			builder.RegisterReceiverSyscallhealthBpfProgramRunsCallback(func(_ context.Context, o metric.Int64Observer) error {
				stats, _ := gauges.ProgramStats()
				for _, s := range stats {
					if s.RunCount > 0 {
						o.Observe(int64(s.RunCount), metric.WithAttributes(attribute.String("program", s.Program)))
					}
				}
				return nil
			}),
			builder.RegisterReceiverSyscallhealthBpfProgramRunTimeCallback(func(_ context.Context, o metric.Float64Observer) error {
				stats, _ := gauges.ProgramStats()
				for _, s := range stats {
					if s.RunCount > 0 {
						o.Observe(s.RunTime.Seconds(), metric.WithAttributes(attribute.String("program", s.Program)))
					}
				}
				return nil
			}),
		)
	}
	if errs != nil {
		builder.Shutdown()
		return nil, errs
	}
	return t, nil
}

// observeRead notes how late an event was read.
func (t *selfTelemetry) observeRead(failedAt, readAt time.Time) {
	t.lagNs.Store(int64(readAt.Sub(failedAt)))
}

// observeCollection takes the kernel's counters of a collection and reports the component status when it
// changes: RecoverableError when events or counts were lost since the previous collection, OK again after a
// collection without loss.
func (t *selfTelemetry) observeCollection(stats bpf.Stats, host component.Host) {
	t.stats.Store(&stats)
	lost := stats.RingbufDrops + stats.Untracked + stats.UntrackedConnects + stats.MissedRuns +
		t.drops.malformed.Load() + t.drops.consumerError.Load() + t.drops.backpressure.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	losing := lost > t.lost
	newly := lost - t.lost
	t.lost = lost
	switch {
	case losing:
		t.degraded = true
		componentstatus.ReportStatus(host, componentstatus.NewRecoverableErrorEvent(fmt.Errorf(
			"%d failure events or counts lost since the previous collection (see syscallhealth.events.dropped, syscallhealth.failures.untracked, syscallhealth.connects.untracked, syscallhealth.probe_runs.missed)", newly)))
	case t.degraded:
		t.degraded = false
		componentstatus.ReportStatus(host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}

func (t *selfTelemetry) shutdown() { t.builder.Shutdown() }
