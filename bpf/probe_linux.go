//go:build linux && (amd64 || arm64)

package bpf

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
)

// pollInterval bounds how long an event waits in the ring: the kernel wakes
// the reader only once a quarter of the ring is unread, so the reader also
// checks the ring this often (measured: no loss at ~500k events/s).
const pollInterval = 10 * time.Millisecond

// Probe is the loaded and attached probe set. ReadEvent is for one goroutine;
// the other methods may be called from any goroutine.
type Probe struct {
	hook Hook
	// socketHook is how the TCP state program is attached, "" when it is not
	// (socketErr says why): then failures of connects after they returned go unseen.
	socketHook Hook
	socketErr  error
	// maps holds the maps and variables every program shares; each program is
	// loaded against them on its own, so each can fall back to another hook.
	maps     *ebpf.Collection
	programs map[string]*ebpf.Program
	links    []link.Link
	reader   *ringbuf.Reader
	record   ringbuf.Record
	// draining makes ReadEvent return ErrDrained at the end of the ring instead of waiting (Drain).
	draining atomic.Bool
	tracking *ebpf.Map
	stats    *ebpf.Map
	config   *ebpf.Map
	slot     *ebpf.Variable
	// scopeCgroups holds the cgroups of both config slots' scopes.
	scopeCgroups *ebpf.Map
	// barrier waits out the programs still running with a configuration just replaced.
	barrier *programBarrier
	// cgroupController selects the hierarchy cgroups are read from (fixed at load).
	cgroupController string

	ringSize     int
	trackingSize int

	// mu guards closed and the config slots: map readers hold it shared,
	// Update and Close exclusively, so no method touches a closed map.
	mu         sync.RWMutex
	activeSlot uint32
	// generation numbers the configurations written: the kernel's cached scope verdicts hold for one.
	generation uint32
	closed     bool
	closeOnce  sync.Once
	closeErr   error
}

// CountKey identifies a series of failures: one process's failures of one syscall with one errno.
type CountKey struct {
	PID uint32
	// ProcessStartNs is CLOCK_BOOTTIME ns at the process's creation (Event.ProcessStartNs): a process that
	// reuses a PID has series of its own.
	ProcessStartNs uint64
	Syscall        uint32
	Errno          Errno
}

// Count is a series' exact count from the kernel's tracking map; the times are CLOCK_BOOTTIME ns.
type Count struct {
	Key         CountKey
	Category    Category
	Count       uint64
	FirstSeenNs uint64
	LastSeenNs  uint64
	// CgroupID and Executable are the process's cgroup (as Event.CgroupID) and executable's file name
	// (process.executable.name) when the series began; Executable is "" when longer than 31 bytes, for
	// kernel threads and for asynchronous connect failures.
	CgroupID   uint64
	Executable string
}

// Stats are the probe's totals since load, summed over CPUs.
type Stats struct {
	// RingbufDrops are events lost to a full ring buffer (their failures are still counted).
	RingbufDrops uint64
	// Suppressed are events held back by the per-series rate limit or the global storm guard.
	Suppressed uint64
	// Untracked are failures not counted because the tracking map had no room for their series.
	Untracked uint64
	// UntrackedConnects are TCP connects not followed because too many were in flight at once
	// (8192): if one of them failed after its connect syscall returned, that failure went uncounted.
	UntrackedConnects uint64
	// MissedRuns are runs of the programs the kernel skipped because the same program was already
	// running on that CPU (Linux 5.12+ counts them): in practice TCP state changes handled in an
	// interrupt while the connect outcome program ran for another socket. A connect failure learned
	// after its syscall returned went uncounted when its state change was skipped. The connect start
	// program's skipped runs are not among them: a connect starts in a process, never in an interrupt
	// (the only runs that can be skipped), so they are state changes it had nothing to do for.
	MissedRuns uint64
}

// Load checks the host, loads the probes, writes their configuration and
// attaches them. The syscall exit program and the pair of TCP state programs
// each take the first hook of the fallback chain (tp_btf, raw_tracepoint,
// tracepoint) that this kernel accepts. Without a syscall exit hook Load fails; without a
// TCP state hook it succeeds, and SocketHook says why connects that fail after
// returning are not reported. Errors say what to fix.
func Load(opts Options) (*Probe, error) {
	return load(opts, hookChain, hookChain)
}

// A tracepoint the probe attaches to, with its program for each hook.
type tracepoint struct {
	group, name string
	programs    map[Hook]string
}

var (
	sysExitTracepoint = tracepoint{"raw_syscalls", "sys_exit", map[Hook]string{
		HookTPBTF:         healthProgSysExitBtf,
		HookRawTracepoint: healthProgSysExitRaw,
		HookTracepoint:    healthProgSysExitTp,
	}}
	tcpConnectEnd = tracepoint{"sock", "inet_sock_set_state", map[Hook]string{
		HookTPBTF:         healthProgTcpConnectEndBtf,
		HookRawTracepoint: healthProgTcpConnectEndRaw,
		HookTracepoint:    healthProgTcpConnectEndTp,
	}}
	tcpConnectStart = tracepoint{"sock", "inet_sock_set_state", map[Hook]string{
		HookTPBTF:         healthProgTcpConnectStartBtf,
		HookRawTracepoint: healthProgTcpConnectStartRaw,
		HookTracepoint:    healthProgTcpConnectStartTp,
	}}
	// The TCP state programs: the outcome of connects is attached before their start (attachFirst), so that
	// no connect is recorded that nothing would end.
	tcpStateTracepoints = []tracepoint{tcpConnectEnd, tcpConnectStart}
)

// has says whether name is one of tp's programs.
func (tp tracepoint) has(name string) bool {
	for _, n := range tp.programs {
		if n == name {
			return true
		}
	}
	return false
}

func load(opts Options, hooks, socketHooks []Hook) (_ *Probe, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := checkPrerequisites(); err != nil {
		return nil, err
	}
	cgroupSubsys, err := cgroupSubsysIndex(opts.CgroupController)
	if err != nil {
		return nil, err
	}
	// Before Linux 5.11, BPF memory is charged to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("lifting RLIMIT_MEMLOCK for BPF maps (needs CAP_SYS_RESOURCE before Linux 5.11): %w", err)
	}
	spec, err := loadHealth()
	if err != nil {
		return nil, err
	}
	spec.Maps[healthMapEvents].MaxEntries = uint32(opts.RingBufferSize)
	spec.Maps[healthMapTracking].MaxEntries = uint32(opts.TrackingMapSize)
	// Read-only once loaded: the verifier keeps only the configured controller's code.
	if err := spec.Variables[healthVarCgroupSubsysIndex].Set(cgroupSubsys); err != nil {
		return nil, fmt.Errorf("setting the cgroup controller: %w", err)
	}

	maps := spec.Copy()
	maps.Programs = nil
	coll, err := ebpf.NewCollection(maps)
	if err != nil {
		return nil, fmt.Errorf("creating the probe's maps: %w", err)
	}
	p := &Probe{
		maps:             coll,
		programs:         make(map[string]*ebpf.Program),
		tracking:         coll.Maps[healthMapTracking],
		stats:            coll.Maps[healthMapStats],
		config:           coll.Maps[healthMapConfig],
		slot:             coll.Variables[healthVarActiveConfigSlot],
		scopeCgroups:     coll.Maps[healthMapScopeCgroups],
		cgroupController: opts.CgroupController,
		ringSize:         opts.RingBufferSize,
		trackingSize:     opts.TrackingMapSize,
	}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.barrier, err = newProgramBarrier(); err != nil {
		return nil, err
	}
	// The programs read the configuration from their first run on.
	if err := p.writeConfig(opts, 0); err != nil {
		return nil, err
	}
	cache := btf.NewCache()
	if p.hook, err = p.attachFirst(spec, cache, hooks, sysExitTracepoint); err != nil {
		return nil, fmt.Errorf("no syscall exit hook could be attached: %w", err)
	}
	if p.socketHook, p.socketErr = p.attachFirst(spec, cache, socketHooks, tcpStateTracepoints...); p.socketErr != nil {
		p.socketErr = fmt.Errorf("no TCP state hook could be attached, so connects that fail after connect() returned (non-blocking clients) are not reported: %w", p.socketErr)
	}
	if p.reader, err = ringbuf.NewReader(coll.Maps[healthMapEvents]); err != nil {
		return nil, fmt.Errorf("opening the ring buffer reader: %w", err)
	}
	p.reader.SetDeadline(time.Now().Add(pollInterval))
	// Loading parsed the kernel's BTF (megabytes, mmapped and decoded) and built the programs' specs:
	// nothing of it is referenced any more, so hand it back now instead of at the next periodic GC.
	debug.FreeOSMemory()
	return p, nil
}

// attachFirst loads and attaches the programs of tps, in order, with the first of hooks that works for all of
// them; a hook that works for only some leaves none attached.
func (p *Probe) attachFirst(spec *ebpf.CollectionSpec, cache *btf.Cache, hooks []Hook, tps ...tracepoint) (Hook, error) {
	var failures []error
	for _, hook := range hooks {
		attached := 0
		var err error
		for _, tp := range tps {
			if err = p.attachWith(spec, cache, tp, hook); err != nil {
				break
			}
			attached++
		}
		if err == nil {
			return hook, nil
		}
		for ; attached > 0; attached-- {
			p.detachLast(tps[attached-1].programs[hook])
		}
		failures = append(failures, fmt.Errorf("%s: %w", hook, err))
	}
	if len(failures) == 1 {
		return "", failures[0]
	}
	return "", errors.Join(failures...)
}

func (p *Probe) attachWith(spec *ebpf.CollectionSpec, cache *btf.Cache, tp tracepoint, hook Hook) error {
	name, ok := tp.programs[hook]
	if !ok {
		return fmt.Errorf("unknown hook %q", hook)
	}
	prog, err := loadProgram(spec, cache, name, p.maps.Maps)
	if err != nil {
		return explainLoadError(hook, name, err)
	}
	l, err := attach(hook, tp, prog)
	if err != nil {
		prog.Close()
		return explainLoadError(hook, name, err)
	}
	p.programs[name] = prog
	p.links = append(p.links, l)
	return nil
}

// detachLast detaches and unloads the program called name, the one attached last.
func (p *Probe) detachLast(name string) {
	p.links[len(p.links)-1].Close()
	p.links = p.links[:len(p.links)-1]
	p.programs[name].Close()
	delete(p.programs, name)
}

// loadProgram loads the program called name from spec against the probe's
// existing maps, leaving the other programs unloaded.
func loadProgram(spec *ebpf.CollectionSpec, cache *btf.Cache, name string, maps map[string]*ebpf.Map) (*ebpf.Program, error) {
	one := spec.Copy()
	for n := range one.Programs {
		if n != name {
			delete(one.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{MapReplacements: maps, Cache: cache})
	if err != nil {
		return nil, err
	}
	defer coll.Close()
	return coll.DetachProgram(name), nil
}

func attach(hook Hook, tp tracepoint, prog *ebpf.Program) (link.Link, error) {
	switch hook {
	case HookTPBTF:
		return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
	case HookRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: tp.name, Program: prog})
	case HookTracepoint:
		if err := ensureTracefs(); err != nil {
			return nil, err
		}
		return link.Tracepoint(tp.group, tp.name, prog, nil)
	}
	return nil, fmt.Errorf("unknown hook %q", hook)
}

// writeConfig writes opts into config slot and makes it the one the programs
// read. The slot's scope cgroups are written first: a program sees one
// configuration whole, with its own scope. It returns once no program runs
// with the other slot any more, which the next write may then reuse.
func (p *Probe) writeConfig(opts Options, slot uint32) error {
	cfg, err := kernelConfig(opts, p.ringSize, slot)
	if err != nil {
		return err
	}
	p.generation++
	cfg.Generation = p.generation
	if err := p.writeScope(opts.Scope, slot); err != nil {
		return err
	}
	if err := p.config.Put(slot, cfg); err != nil {
		return fmt.Errorf("writing the probe configuration: %w", err)
	}
	if err := p.slot.Set(slot); err != nil {
		return fmt.Errorf("switching the probe configuration: %w", err)
	}
	p.activeSlot = slot
	return p.barrier.wait()
}

// Hook reports which attach mechanism the syscall exit program uses.
func (p *Probe) Hook() Hook { return p.hook }

// SocketHook reports which attach mechanism the TCP state programs use, which
// reports connects that fail after connect() returned (EINPROGRESS, then a
// refusal or timeout). On a kernel where it could not be attached, it returns
// "" and the reason; every other failure is still reported.
func (p *Probe) SocketHook() (Hook, error) { return p.socketHook, p.socketErr }

// ReadEvent blocks until the next event and decodes it into ev. It returns
// ErrClosed once the Probe is closed, ErrDrained once the ring is empty after
// Drain, and an error wrapping ErrMalformedEvent for a record it cannot decode
// (count it and read on).
func (p *Probe) ReadEvent(ev *Event) error {
	for {
		err := p.reader.ReadInto(&p.record)
		switch {
		case err == nil:
			return DecodeEvent(p.record.RawSample, ev)
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, ringbuf.ErrFlushed):
			// The reader returns these only once it has read everything queued before them.
			if p.draining.Load() {
				return ErrDrained
			}
			p.reader.SetDeadline(time.Now().Add(pollInterval))
		case errors.Is(err, ringbuf.ErrClosed), errors.Is(err, os.ErrClosed):
			return ErrClosed
		default:
			return fmt.Errorf("reading the ring buffer: %w", err)
		}
	}
}

// Detach stops the programs: from then on no failure is counted or queued,
// so the counts are final and the ring holds the last events. Both stay
// readable until Close. Detaching lets program instances already running on
// other CPUs finish, so it returns only after the barrier Update uses: an
// RCU grace period, which waits for them (they run under rcu_read_lock).
func (p *Probe) Detach() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	var errs []error
	for _, l := range p.links {
		errs = append(errs, l.Close())
	}
	p.links = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detaching the probes: %w", err)
	}
	return p.barrier.wait()
}

// Drain makes ReadEvent return the events still queued and then ErrDrained
// instead of waiting for more; call it after Detach, from any goroutine.
func (p *Probe) Drain() error {
	p.draining.Store(true)
	// Wakes a ReadEvent waiting on an empty ring now rather than at its next poll.
	return p.reader.Flush()
}

// countsBatch is how many tracking-map entries one batch lookup returns.
const countsBatch = 1024

// Counts returns a snapshot of the kernel's exact per-series counts.
func (p *Probe) Counts() ([]Count, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	keys := make([]healthTrackingKey, countsBatch)
	values := make([]healthTrackingValue, countsBatch)
	var out []Count
	var cursor ebpf.MapBatchCursor
	for {
		n, err := p.tracking.BatchLookup(&cursor, keys, values, nil)
		for i := range n {
			out = append(out, toCount(keys[i], values[i]))
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return out, nil
		}
		if errors.Is(err, ebpf.ErrNotSupported) {
			return p.iterateCounts()
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tracking map: %w", err)
		}
	}
}

// iterateCounts reads the tracking map key by key, for kernels without batch
// lookups (before 5.6). The iterator restarts when the key it stands on is
// deleted meanwhile, so keys seen twice are dropped.
func (p *Probe) iterateCounts() ([]Count, error) {
	var (
		key   healthTrackingKey
		value healthTrackingValue
		out   []Count
		seen  = make(map[healthTrackingKey]bool)
	)
	it := p.tracking.Iterate()
	for it.Next(&key, &value) {
		if !seen[key] {
			seen[key] = true
			out = append(out, toCount(key, value))
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("reading the tracking map: %w", err)
	}
	return out, nil
}

func toCount(k healthTrackingKey, v healthTrackingValue) Count {
	return Count{
		Key:         CountKey{PID: k.Tgid, ProcessStartNs: k.ProcessStartNs, Syscall: uint32(k.SyscallNr), Errno: Errno(k.ErrnoNr)},
		Category:    Category(v.Category),
		Count:       v.Count,
		FirstSeenNs: v.FirstSeenNs,
		LastSeenNs:  v.LastSeenNs,
		CgroupID:    v.CgroupId,
		Executable:  cString32(v.Executable),
	}
}

// DeleteCounts forgets the given series (e.g. of exited processes), which makes
// room for new series in the tracking map. Keys that are already gone are ignored.
func (p *Probe) DeleteCounts(keys []CountKey) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	var errs []error
	for _, k := range keys {
		if k.Syscall > 0xffff {
			continue // never tracked: the kernel key holds 16-bit syscall numbers
		}
		key := healthTrackingKey{Tgid: k.PID, SyscallNr: uint16(k.Syscall), ErrnoNr: uint16(k.Errno), ProcessStartNs: k.ProcessStartNs}
		if err := p.tracking.Delete(&key); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting tracking map entries: %w", errors.Join(errs...))
	}
	return nil
}

// Stats returns the drop and suppression totals since load.
func (p *Probe) Stats() (Stats, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return Stats{}, ErrClosed
	}
	var perCPU []healthProbeStats
	if err := p.stats.Lookup(uint32(0), &perCPU); err != nil {
		return Stats{}, fmt.Errorf("reading the probe statistics: %w", err)
	}
	var s Stats
	for _, c := range perCPU {
		s.RingbufDrops += c.RingbufDrops
		s.Suppressed += c.RateLimited + c.StormSuppressed
		s.Untracked += c.Untracked
		s.UntrackedConnects += c.UntrackedConnects
	}
	for name, prog := range p.programs {
		ps, err := prog.Stats()
		if err != nil {
			return Stats{}, fmt.Errorf("reading the statistics of program %s: %w", name, err)
		}
		if !tcpConnectStart.has(name) {
			s.MissedRuns += ps.RecursionMisses
		}
	}
	return s, nil
}

// Update applies new rules, rate limit, path reading, filters and scopes
// without reloading: the programs switch to the new configuration at once (a
// failure is judged by the old one or the new one, never by a mix), and counts
// are kept. Sizes and the cgroup controller cannot change at runtime: a zero
// size keeps the current one, any other differing value is an error.
func (p *Probe) Update(opts Options) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	if opts.CgroupController != p.cgroupController {
		return fmt.Errorf("CgroupController cannot change at runtime (%q now, %q requested): close the probe and load a new one", p.cgroupController, opts.CgroupController)
	}
	if opts.RingBufferSize != 0 && opts.RingBufferSize != p.ringSize {
		return fmt.Errorf("RingBufferSize cannot change at runtime (%d now, %d requested): close the probe and load a new one", p.ringSize, opts.RingBufferSize)
	}
	if opts.TrackingMapSize != 0 && opts.TrackingMapSize != p.trackingSize {
		return fmt.Errorf("TrackingMapSize cannot change at runtime (%d now, %d requested): close the probe and load a new one", p.trackingSize, opts.TrackingMapSize)
	}
	opts.RingBufferSize, opts.TrackingMapSize = p.ringSize, p.trackingSize
	opts = opts.withDefaults()

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	// Fill the idle slot, then flip: a program sees either configuration whole.
	return p.writeConfig(opts, 1-p.activeSlot)
}

// Close detaches the probe and frees its maps; it unblocks ReadEvent and is
// safe to call more than once.
func (p *Probe) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
		var errs []error
		if p.reader != nil {
			errs = append(errs, p.reader.Close())
		}
		for _, l := range p.links {
			errs = append(errs, l.Close())
		}
		for _, prog := range p.programs {
			errs = append(errs, prog.Close())
		}
		p.maps.Close()
		if p.barrier != nil {
			errs = append(errs, p.barrier.Close())
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// cString32 is a NUL-padded name of the kernel.
func cString32(c [32]int8) string {
	b := make([]byte, 0, len(c))
	for _, ch := range c {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}
