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
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// kernelProbe is what the receiver uses of the loaded kernel probes (*bpf.Probe).
type kernelProbe interface {
	Hook() bpf.Hook
	SocketHook() (bpf.Hook, error)
	ReadEvent(ev *bpf.Event) error
	Counts() ([]bpf.Count, error)
	DeleteCounts(keys []bpf.CountKey) error
	Stats() (bpf.Stats, error)
	Detach() error
	Drain() error
	Update(opts bpf.Options) error
	Close() error
}

func loadKernelProbe(opts bpf.Options) (kernelProbe, error) {
	return bpf.Load(opts)
}

const (
	// readErrorBackoff paces the reader after an unexpected ring buffer error so it cannot spin.
	readErrorBackoff = 100 * time.Millisecond
	// maxShutdownDrain bounds how long Shutdown turns the events left in the ring into records (the
	// collector's shutdown context has no deadline). With a deadline it takes at most half the time left,
	// keeping the rest to count what remains as dropped (reason shutdown) and to send the final data.
	maxShutdownDrain = 5 * time.Second
	// enrichQueueSize bounds the events read from the ring but not yet enriched.
	enrichQueueSize = 4096
	// enricherStallLimit is how long the reader waits for room in a full enrichment queue; meanwhile the
	// kernel's ring buffer holds what arrives, and counts what it cannot hold. A busy host that deschedules the
	// enricher for a moment loses nothing; an enricher stuck that long is not waited for again until the queue
	// has room, and the events it cannot take are dropped and counted in syscallhealth.events.dropped
	// (backpressure), their failures staying exact in the kernel's counts.
	enricherStallLimit = time.Second
)

// syscallHealthReceiver is one component instance, shared by the logs and metrics pipelines that use it:
// one set of kernel probes, one reader.
type syscallHealthReceiver struct {
	cfg      *Config
	settings receiver.Settings
	obsrecv  *receiverhelper.ObsReport
	load     func(bpf.Options) (kernelProbe, error)
	// host is the one way to /proc and the filesystems (root_path), every call bounded by a deadline.
	host *hostfs.Host
	// drainLimit is maxShutdownDrain; tests shorten it.
	drainLimit time.Duration

	nextLogs    consumer.Logs    // nil when no logs pipeline uses the receiver
	nextMetrics consumer.Metrics // nil when no metrics pipeline uses the receiver

	probe       kernelProbe
	clock       wallClock
	processes   *processCache
	escalation  *escalationTracker
	destination *destinationCounts
	drops       dropCounters
	batch       *logBatch
	collector   *metricsCollector
	findings    *findings.Engine // nil when findings are disabled
	flushNow    chan struct{}
	// telemetry is the receiver's own health (internal metrics, component status); statusHost receives
	// its status events.
	telemetry  *selfTelemetry
	statusHost component.Host
	// events carries events in ring order from the reader to the enricher, which does the /proc and
	// filesystem lookups: the reader never makes them, and waits for the enricher only a bounded time.
	events chan bpf.Event
	// enricherStalled is set when the enricher left a full queue for enricherStallLimit (reader only).
	enricherStalled bool

	cancelReader context.CancelFunc
	cancelLoops  context.CancelFunc
	// readerDone and enricherDone are closed when the reader and the enricher return; discarding makes
	// them count the events left as dropped instead of handling them (the drain ran out of time).
	readerDone   chan struct{}
	enricherDone chan struct{}
	discarding   atomic.Bool
	loops        sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error
}

func newSyscallHealthReceiver(cfg *Config, set receiver.Settings) (*syscallHealthReceiver, error) {
	obsrecv, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "ebpf",
		LongLivedCtx:           true,
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &syscallHealthReceiver{
		cfg:        cfg,
		settings:   set,
		obsrecv:    obsrecv,
		load:       loadKernelProbe,
		host:       hostfs.New(cfg.RootPath, hostfs.DefaultDeadline, set.Logger),
		drainLimit: maxShutdownDrain,
		flushNow:   make(chan struct{}, 1),
	}, nil
}

// Start loads and attaches the kernel probes and starts reading; it does not wait for any event.
func (r *syscallHealthReceiver) Start(_ context.Context, host component.Host) error {
	opts, err := r.cfg.probeOptions()
	if err != nil {
		return err
	}
	// The cgroup hierarchy that holds the containers here: the kernel reads each failure's cgroup from it.
	hierarchy, err := r.host.ScopeHierarchy()
	if err != nil {
		r.settings.Logger.Warn("reading cgroups from the v2 hierarchy: no cgroup hierarchy found", zap.Error(err))
	}
	opts.CgroupController = hierarchy.Controller
	scope := newScopeKeeper(r.cfg.Scope, hierarchy, opts, r.settings.Logger)
	opts = scope.opts
	var engine *findings.Engine
	if r.cfg.Findings.Enabled {
		engine, err = findings.NewEngine(r.cfg.Findings, findings.Settings{
			UpdateInterval: r.cfg.CollectionInterval,
			MaxSeries:      2 * r.cfg.TrackingMapSize,
			Host:           r.host,
		})
		if err != nil {
			return fmt.Errorf("syscallhealth receiver: findings: %w", err)
		}
	}
	probe, err := r.load(opts)
	if err != nil {
		err = fmt.Errorf("syscallhealth receiver: kernel probes not loaded: %w", err)
		if r.cfg.ErrorMode == ErrorModeIgnore {
			r.settings.Logger.Warn("running without syscall failure events (error_mode: ignore)", zap.Error(err))
			componentstatus.ReportStatus(host, componentstatus.NewPermanentErrorEvent(err))
			return nil
		}
		return err
	}
	telemetry, err := newSelfTelemetry(r.settings.TelemetrySettings, &r.drops, r.host, probe)
	if err != nil {
		return errors.Join(fmt.Errorf("syscallhealth receiver: internal telemetry: %w", err), probe.Close())
	}
	r.telemetry, r.statusHost = telemetry, host
	r.settings.Logger.Info("kernel probes attached", zap.String("hook", string(probe.Hook())), zap.Int("syscalls", len(opts.Rules)),
		zap.String("cgroup_hierarchy", hierarchy.Mount))
	if ptrace, err := bpf.HasCapability(unix.CAP_SYS_PTRACE); err == nil && !ptrace {
		r.settings.Logger.Warn("without CAP_SYS_PTRACE, other users' processes are reported with the kernel's 15-byte name and " +
			"no process.executable.path, and filesystem findings without system.filesystem.type and system.device")
	}
	if socketHook, err := probe.SocketHook(); err != nil {
		r.settings.Logger.Warn("failures of non-blocking connects that fail after connect() returns are not reported", zap.Error(err))
	} else {
		r.settings.Logger.Info("TCP state probe attached: asynchronous connect failures are reported", zap.String("hook", string(socketHook)))
	}

	loadTime := time.Now()
	hostName, err := nodeName(r.host)
	if err != nil {
		r.settings.Logger.Warn("host.name left out", zap.Error(err))
	}
	machine := hostInfo{name: hostName}
	r.probe = probe
	r.clock = bpf.NewBootClock()
	r.processes = newProcessCache(r.host, r.cfg.ResourceAttributes.ProcessCommandArgs.Enabled)
	r.escalation = newEscalationTracker()
	r.destination = newDestinationCounts(r.settings.Logger, r.cfg.Metrics.SyscallhealthConnectFailures.Enabled, pcommon.NewTimestampFromTime(loadTime))
	mbc := r.cfg.MetricsBuilderConfig
	r.batch = newLogBatch(machine, mbc.ResourceAttributes, r.settings.BuildInfo.Version)
	mb := metadata.NewMetricsBuilder(mbc, r.settings, metadata.WithStartTime(pcommon.NewTimestampFromTime(loadTime)))
	r.findings = engine
	r.collector = newMetricsCollector(mb, machine, r.processes, r.destination, &r.drops, r.escalation, engine, r.host, r.clock, loadTime,
		max(1, r.cfg.TrackingMapSize/4), r.cfg.FailuresGranularity)
	r.events = make(chan bpf.Event, enrichQueueSize)

	readerCtx, cancelReader := context.WithCancel(context.Background())
	loopsCtx, cancelLoops := context.WithCancel(context.Background())
	r.cancelReader, r.cancelLoops = cancelReader, cancelLoops
	r.readerDone, r.enricherDone = make(chan struct{}), make(chan struct{})
	go r.readEvents(readerCtx)
	go r.enrichEvents()
	r.loops.Add(3)
	go r.flushLoop(loopsCtx)
	go r.collectLoop(loopsCtx)
	go func() {
		defer r.loops.Done()
		scope.run(loopsCtx, probe)
	}()
	return nil
}

// Shutdown makes everything the kernel saw before it final and sends it: it detaches the probes (no
// failure is counted or queued after that), turns the events left in the ring into records within the
// context's deadline (or maxShutdownDrain), emits the final counts and records, then frees the probes.
// The collector calls it for the first of the pipelines sharing the receiver, before any component
// downstream of either pipeline stops. It is safe to call more than once.
func (r *syscallHealthReceiver) Shutdown(ctx context.Context) error {
	r.shutdownOnce.Do(func() {
		if r.probe == nil {
			return // never started, or the probes did not load (error_mode: ignore)
		}
		detachErr := r.probe.Detach()
		r.drain(ctx)
		r.cancelLoops()
		r.loops.Wait()
		// Records first, so the final counts include any the next consumer rejected; then the findings
		// the final counts settle.
		r.evaluateFindings()
		r.flush(ctx)
		r.collector.final = true // the events are drained: what is still unknown stays unknown
		r.collect(ctx)
		r.evaluateFindings()
		r.flush(ctx)

		r.telemetry.shutdown()
		r.shutdownErr = errors.Join(detachErr, r.probe.Close())
		r.cancelReader()
		<-r.readerDone
		select {
		case <-r.enricherDone:
		case <-ctx.Done(): // it is in a lookup, which ends within its deadline; it only counts from now on
		}
	})
	return r.shutdownErr
}

// drain lets the reader empty the ring, and the enricher its queue, while the flush loop keeps sending
// full batches. When the time is up both count the rest as dropped rather than enriching them: reading
// the ring is fast and bounded by its size, the enrichment is not.
func (r *syscallHealthReceiver) drain(ctx context.Context) {
	started := time.Now()
	if err := r.probe.Drain(); err != nil {
		r.settings.Logger.Warn("the ring buffer reader could not be woken up to drain it; it drains at its next poll", zap.Error(err))
	}
	limit := r.drainLimit
	if deadline, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(deadline)/2)
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-r.enricherDone:
		r.settings.Logger.Debug("ring buffer drained", zap.Duration("took", time.Since(started)))
		return
	case <-timer.C:
	case <-ctx.Done():
	}
	r.discarding.Store(true)
	r.settings.Logger.Warn("shutdown: no time left to turn the remaining ring buffer events into records; they are counted in syscallhealth.events.dropped (reason shutdown)",
		zap.Duration("drained_for", time.Since(started)))
	select {
	case <-r.enricherDone:
	case <-ctx.Done():
		// The enricher is in a lookup (it ends within its deadline), or the reader waits for its next read
		// (Close unblocks it).
	}
}

// readEvents takes the events off the ring as fast as the kernel queues them. It only counts (the
// destination counts need every event) and hands each event over to the enricher; it never touches /proc.
func (r *syscallHealthReceiver) readEvents(ctx context.Context) {
	defer close(r.readerDone)
	defer close(r.events)
	var ev bpf.Event // reused: the decoder fills it in place (the copy handed over holds only immutable strings)
	for {
		err := r.probe.ReadEvent(&ev)
		switch {
		case err == nil:
			r.telemetry.observeRead(r.clock.Time(ev.TimestampNs), time.Now())
			r.destination.observe(&ev)
			if r.nextLogs == nil && r.findings == nil {
				continue
			}
			if r.discarding.Load() {
				r.drops.shutdown.Add(1)
				continue
			}
			if !r.queueEvent(&ev) {
				r.drops.backpressure.Add(1)
			}
		case errors.Is(err, bpf.ErrDrained), errors.Is(err, bpf.ErrClosed):
			return
		case errors.Is(err, bpf.ErrMalformedEvent):
			r.drops.malformed.Add(1)
			r.settings.Logger.Debug("undecodable ring buffer record, counted in syscallhealth.events.dropped", zap.Error(err))
		default:
			r.settings.Logger.Warn("reading the kernel ring buffer failed", zap.Error(err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(readErrorBackoff):
			}
		}
	}
}

// queueEvent hands ev to the enricher, waiting up to enricherStallLimit for room; it reports whether the
// enricher took it. Only the reader calls it.
func (r *syscallHealthReceiver) queueEvent(ev *bpf.Event) bool {
	select {
	case r.events <- *ev:
		r.enricherStalled = false
		return true
	default:
	}
	if r.enricherStalled {
		return false
	}
	wait := time.NewTimer(enricherStallLimit)
	defer wait.Stop()
	select {
	case r.events <- *ev:
		return true
	case <-wait.C:
		r.enricherStalled = true
		return false
	}
}

// enrichEvents enriches the events in ring order; each lookup it makes is bounded by hostfs's deadline.
func (r *syscallHealthReceiver) enrichEvents() {
	defer close(r.enricherDone)
	for ev := range r.events {
		if r.discarding.Load() {
			r.drops.shutdown.Add(1)
			continue
		}
		r.handleEvent(&ev)
	}
}

// handleEvent enriches one event and queues its log record.
func (r *syscallHealthReceiver) handleEvent(ev *bpf.Event) {
	p := r.processes.forEvent(ev)
	names := namesOf(ev)
	if r.findings != nil {
		r.findings.ObserveEvent(eventObservation(ev, p, names, r.clock))
	}
	if r.nextLogs == nil || !r.cfg.Events.SyscallhealthFailure.Enabled {
		return
	}
	sev := r.escalation.severityOf(ev, names.syscall, names.errno)
	added, ready := r.batch.add(p, ev, names, sev, r.clock, time.Now())
	if !added {
		// The pipeline is behind: hand the pending records over now, in this goroutine, so that the wait
		// travels back to the reader and the kernel's ring instead of dropping records.
		r.flush(context.Background())
		added, ready = r.batch.add(p, ev, names, sev, r.clock, time.Now())
	}
	if !added {
		r.drops.backpressure.Add(1)
	}
	if ready {
		select {
		case r.flushNow <- struct{}{}:
		default:
		}
	}
}

func (r *syscallHealthReceiver) flushLoop(ctx context.Context) {
	defer r.loops.Done()
	ticker := time.NewTicker(flushInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-r.flushNow:
		}
		r.evaluateFindings()
		r.flush(ctx)
	}
}

// evaluateFindings applies the finding rules and queues the transitions' records.
func (r *syscallHealthReceiver) evaluateFindings() {
	if r.findings == nil {
		return
	}
	transitions := r.findings.Evaluate()
	if r.nextLogs != nil && r.cfg.Events.SyscallhealthIssue.Enabled && len(transitions) > 0 {
		r.batch.addFindings(transitions)
	}
}

func (r *syscallHealthReceiver) flush(ctx context.Context) {
	logs, n := r.batch.take()
	if n == 0 {
		return
	}
	opCtx := r.obsrecv.StartLogsOp(ctx)
	err := r.nextLogs.ConsumeLogs(opCtx, logs)
	r.obsrecv.EndLogsOp(opCtx, metadata.Type.String(), n, err)
	if err != nil {
		r.drops.consumerError.Add(uint64(n))
		r.settings.Logger.Warn("the next consumer rejected failure log records; they are counted in syscallhealth.events.dropped",
			zap.Int("records", n), zap.Error(err))
	}
}

func (r *syscallHealthReceiver) collectLoop(ctx context.Context) {
	defer r.loops.Done()
	ticker := time.NewTicker(r.cfg.CollectionInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			r.collect(ctx)
		}
	}
}

// collect emits the exact counts and forgets the processes that have exited, in the kernel map too.
func (r *syscallHealthReceiver) collect(ctx context.Context) {
	counts, err := r.probe.Counts()
	if err != nil {
		r.settings.Logger.Warn("reading the in-kernel failure counts failed", zap.Error(err))
		return
	}
	exited := r.collector.exitedAmong(counts)
	if len(exited) > 0 {
		// Read again, after the exit check: the exited processes' last series then hold their final counts.
		if counts, err = r.probe.Counts(); err != nil {
			r.settings.Logger.Warn("reading the in-kernel failure counts failed", zap.Error(err))
			return
		}
	}
	stats, err := r.probe.Stats()
	if err != nil {
		r.settings.Logger.Warn("reading the probe statistics failed", zap.Error(err))
		return
	}
	r.telemetry.observeCollection(stats, r.statusHost)
	metrics := r.collector.collect(counts, exited, stats, time.Now())
	var consumeErr error
	if r.nextMetrics != nil {
		opCtx := r.obsrecv.StartMetricsOp(ctx)
		consumeErr = r.nextMetrics.ConsumeMetrics(opCtx, metrics)
		r.obsrecv.EndMetricsOp(opCtx, metadata.Type.String(), metrics.DataPointCount(), consumeErr)
	}
	// The kernel map keeps an exited process's final counts until the next consumer accepted them.
	var gone []bpf.CountKey
	if consumeErr != nil {
		r.settings.Logger.Warn("the next consumer rejected the failure metrics; the cumulative values, the final ones of exited processes included, are sent again next interval (unless shutting down)",
			zap.Error(consumeErr))
		gone = r.collector.rejected(exited)
	} else {
		gone = r.collector.delivered(exited)
	}
	if len(gone) > 0 {
		if err := r.probe.DeleteCounts(gone); err != nil {
			r.settings.Logger.Warn("removing the counts of exited processes failed; they are emitted again next time", zap.Error(err))
		}
	}
}
