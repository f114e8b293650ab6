// Package findings turns failed syscalls into named, actionable health findings
// (disk_full, fd_exhaustion, connection_refused, ...): it groups failures by subject
// (a mount point, a process, a destination address), opens a finding when a kind's
// rule trips, updates it while it lasts and resolves it after a quiet period.
//
// It is fed twice per failure, by the rate-limited event stream (context: path,
// addresses) and by the kernel's exact tracking map (counts), and counts each failure once.
package findings

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// Clock tells the engine the time; tests drive it by hand.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Settings are the engine's inputs that do not come from its Config.
type Settings struct {
	// UpdateInterval is the least time between two records of one finding: the
	// receiver's collection_interval. Zero means 10s.
	UpdateInterval time.Duration
	// MaxSeries bounds the (process, syscall, errno) series remembered to reconcile
	// events with the tracking map; size it above the kernel tracking map. Zero means 20480.
	MaxSeries int
	// Host reads /proc and the filesystems for subject resolution. Nil means the
	// receiver's own root with the default deadline.
	Host *hostfs.Host
	// Clock defaults to the system clock.
	Clock Clock
}

// Stats are the engine's own losses, for the receiver to export.
type Stats struct {
	// EvictedSubjects counts subjects dropped to stay within max_subjects. An evicted
	// open finding is closed with a resolved record whose resolution is "evicted".
	EvictedSubjects uint64
	// EvictedSeries counts series forgotten to stay within MaxSeries. Their failures
	// are kept; if such a series fails again its earlier failures may be counted twice.
	EvictedSeries uint64
	// Entries dropped from the subject resolver's caches to stay within their bounds:
	// mount tables (re-read when needed), reused path lookups (looked up again), open-file scans (rescanned) and pids.events
	// counters (a limit hit in a forgotten cgroup is then noticed from pids.current alone).
	EvictedMountTables, EvictedPathLookups, EvictedOpenFileScans, EvictedPidsEventCounters uint64
}

// KindCount is the number of open findings of one kind (syscallhealth.issues.active).
type KindCount struct {
	Kind   Kind
	Active int64
}

type subjectKey struct {
	kind Kind
	name string
}

// Engine is the finding engine. Its methods are safe for concurrent use: the
// receiver's event enricher and metrics loop both feed it. Subjects are resolved
// before the engine lock is taken: no lookup (each bounded by hostfs's deadline)
// ever runs under it, so Evaluate, Active and Stats never wait on the system.
type Engine struct {
	mu             sync.Mutex
	cfg            Config
	updateInterval time.Duration
	clock          Clock
	resolver       *subjectResolver
	findings       map[subjectKey]*finding
	series         *seriesTable
	pending        map[*series]struct{}
	queued         []Transition // evictions waiting for the next Evaluate
	stats          Stats
}

// NewEngine returns an engine for a valid configuration.
func NewEngine(cfg Config, set Settings) (*Engine, error) {
	if err := cfg.validateAll(); err != nil {
		return nil, err
	}
	if set.UpdateInterval <= 0 {
		set.UpdateInterval = 10 * time.Second
	}
	if set.MaxSeries <= 0 {
		set.MaxSeries = 20480
	}
	if set.Host == nil {
		set.Host = hostfs.New("/", 0, nil)
	}
	if set.Clock == nil {
		set.Clock = systemClock{}
	}
	return &Engine{
		cfg:            cfg,
		updateInterval: set.UpdateInterval,
		clock:          set.Clock,
		resolver:       newSubjectResolver(set.Host, set.Host, set.Clock),
		findings:       make(map[subjectKey]*finding),
		series:         newSeriesTable(set.MaxSeries),
		pending:        make(map[*series]struct{}),
	}, nil
}

func (e *Engine) kindFor(o *Observation) Kind {
	k, ok := Classify(o.Syscall, o.Errno, o.Category)
	if !ok || !e.cfg.Kinds.rule(k).Enabled {
		return kindNone
	}
	return k
}

// ObserveEvent takes one failure event. o.Total is the event's exact count for its
// series (bpf.Event.ErrorCount), which covers the failures the rate limiter held back.
func (e *Engine) ObserveEvent(o Observation) {
	k := e.kindFor(&o)
	if k == kindNone {
		return
	}
	found, res := e.resolver.resolve(k, &o)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	at := clampTime(o.Time, now)
	s := e.seriesOf(&o, k)
	total := o.Total
	if total == 0 {
		total = s.accounted + 1
	}
	var n uint64
	if total > s.accounted && !s.retired {
		n, s.accounted = total-s.accounted, total
	}
	subject, res := e.fromHistory(k, &o, found, res)
	if res == notEvidence {
		e.ignore(s)
		return
	}
	s.subject, s.hasSubject, s.ignored = subject, true, false
	if s.pending > 0 {
		e.flushPending(s, subject)
	}
	e.record(k, subject, &o, n, at)
}

// ObserveCount takes one series of the kernel tracking map, read every collection
// interval. o.Total is the series' exact cumulative count (bpf.Count.Count), o.Time
// its last failure and o.FirstSeenNs its first-seen stamp.
func (e *Engine) ObserveCount(o Observation) {
	k := e.kindFor(&o)
	if k == kindNone {
		return
	}
	// Only a series without subject needs the system's answer; ask it unlocked. Should
	// the series change meanwhile, the locked part below sees it and waits for its event.
	found, res := fallbackSubject(k, &o), subjectFallback
	if e.needsSubject(&o, k) {
		found, res = e.resolver.resolve(k, &o)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	at := clampTime(o.Time, now)
	s := e.seriesOf(&o, k)
	// The kernel recreated the series (deleted after the process exited, or evicted
	// from its LRU map) when its first-seen stamp changed; a retired series without
	// stamps to compare is taken as recreated. A retired series reported with its old
	// stamp was not deleted after all (the receiver retries): it stays retired.
	restarted := o.FirstSeenNs != 0 && s.firstSeenNs != 0 && o.FirstSeenNs != s.firstSeenNs
	if s.retired && (o.FirstSeenNs == 0 || s.firstSeenNs == 0) {
		restarted = true
	}
	if restarted {
		s.accounted = 0
		s.retired = false
	}
	if o.FirstSeenNs != 0 {
		s.firstSeenNs = o.FirstSeenNs
	}
	if o.Total <= s.accounted {
		return
	}
	n := o.Total - s.accounted
	s.accounted = o.Total
	if s.ignored {
		return
	}
	found, res = e.fromHistory(k, &o, found, res)
	if !s.hasSubject {
		switch res {
		case subjectFound:
			s.subject, s.hasSubject = found, true
		case notEvidence:
			e.ignore(s)
			return
		}
	}
	if s.hasSubject {
		e.record(k, s.subject, &o, n, at)
		return
	}
	// Wait for the series' event (it carries the path or address); Evaluate gives up
	// after one update interval and uses a subject named after the process.
	s.pending += n
	s.pendingObs = o
	s.pendingObs.Time = at
	s.pendingSubject, s.pendingResolution = found, res
	if s.pendingSince.IsZero() {
		s.pendingSince = now
	}
	e.pending[s] = struct{}{}
}

// ForgetProcess retires the series of an exited process, once the receiver has
// reported them one last time and deleted them from the kernel map. They are kept,
// first in line for eviction, so that late events of the process are not counted
// again; a process reusing the pid is counted from its own new kernel series.
func (e *Engine) ForgetProcess(pid uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.series.ofProcess(pid) {
		e.releasePending(s)
		s.retired = true
		e.series.demote(s)
	}
}

// Evaluate applies the rules at the current time and returns the transitions:
// findings that open, ongoing updates (at most one per finding per update interval,
// only when there were new failures) and resolutions. Call it often (every second or
// on each flush): it is what makes a finding open promptly.
func (e *Engine) Evaluate() []Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	for s := range e.pending {
		if now.Sub(s.pendingSince) >= e.updateInterval {
			e.settlePending(s)
		}
	}
	out := e.queued
	e.queued = nil
	for key, f := range e.findings {
		rule := e.cfg.Kinds.rule(f.kind)
		switch f.state {
		case stateTracking:
			if f.window.sum(now) >= rule.Threshold {
				f.open(now, e.cfg.QuietPeriod)
				out = append(out, f.transition(StateOpen, now, rule.Window, ""))
			} else if now.Sub(f.lastSeen) >= rule.Window {
				delete(e.findings, key)
			}
		case stateActive:
			if now.Sub(f.lastSeen) >= f.quiet {
				out = append(out, f.transition(StateResolved, now, rule.Window, ResolutionQuiet))
				f.resolve(now, rule.Window)
			} else if f.unreported > 0 && now.Sub(f.lastReport) >= e.updateInterval {
				out = append(out, f.transition(StateOngoing, now, rule.Window, ""))
				f.unreported = 0
				f.lastReport = now
			}
		case stateResolved:
			switch {
			case f.total > 0 && f.window.sum(now) >= rule.Threshold:
				// Flapping: each reopening while remembered doubles the quiet period.
				f.flaps++
				f.open(now, e.quietPeriod(f.flaps))
				out = append(out, f.transition(StateOpen, now, rule.Window, ""))
			case now.Sub(f.resolvedAt) >= e.cfg.MaxQuietPeriod && now.Sub(f.lastSeen) >= rule.Window:
				delete(e.findings, key)
			case f.total > 0 && now.Sub(f.lastSeen) >= rule.Window:
				f.resetActivity(rule.Window) // evidence too sparse to reopen: start over
			}
		}
	}
	slices.SortFunc(out, func(a, b Transition) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Subject.Name, b.Subject.Name), cmp.Compare(a.State, b.State))
	})
	return out
}

// quietPeriod is the quiet period after the given number of flaps: doubled each
// time, capped at max_quiet_period.
func (e *Engine) quietPeriod(flaps int) time.Duration {
	q := e.cfg.QuietPeriod
	for range flaps {
		if q >= e.cfg.MaxQuietPeriod/2 {
			return e.cfg.MaxQuietPeriod
		}
		q *= 2
	}
	return min(q, e.cfg.MaxQuietPeriod)
}

// Active returns the number of open findings of each enabled kind, zeros included,
// in the order of Kinds().
func (e *Engine) Active() []KindCount {
	e.mu.Lock()
	defer e.mu.Unlock()
	var counts [kindCount]int64
	for _, f := range e.findings {
		if f.state == stateActive {
			counts[f.kind]++
		}
	}
	out := make([]KindCount, 0, kindCount)
	for _, k := range Kinds() {
		if e.cfg.Kinds.rule(k).Enabled {
			out = append(out, KindCount{Kind: k, Active: counts[k]})
		}
	}
	return out
}

// Stats returns the engine's eviction counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	stats := e.stats
	e.mu.Unlock()
	stats.EvictedMountTables = e.resolver.mounts.evicted.Load()
	stats.EvictedPathLookups = e.resolver.mounts.evictedLookups.Load()
	stats.EvictedOpenFileScans = e.resolver.openFiles.evicted.Load()
	stats.EvictedPidsEventCounters = e.resolver.pids.evicted.Load()
	return stats
}

func (e *Engine) seriesOf(o *Observation, k Kind) *series {
	key := seriesKey{pid: o.PID, syscall: o.Syscall, errno: o.Errno}
	if s, ok := e.series.get(key); ok {
		return s
	}
	s := &series{key: key, kind: k}
	if evicted := e.series.add(s); evicted != nil {
		e.stats.EvictedSeries++
		e.releasePending(evicted)
	}
	return s
}

// releasePending attributes the failures of a series that leaves the table without
// having seen its event, so none is lost.
func (e *Engine) releasePending(s *series) {
	if s.pending == 0 {
		return
	}
	e.settlePending(s)
}

// settlePending stops waiting for the event of a series counted by the tracking map:
// its failures go to the best subject known now, the fallback one included.
func (e *Engine) settlePending(s *series) {
	subject, res := e.fromHistory(s.kind, &s.pendingObs, s.pendingSubject, s.pendingResolution)
	if res == notEvidence {
		e.ignore(s)
		return
	}
	e.flushPending(s, subject)
}

// needsSubject tells whether a tracking-map observation's series has no subject yet.
func (e *Engine) needsSubject(o *Observation, k Kind) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.series.byKey[seriesKey{pid: o.PID, syscall: o.Syscall, errno: o.Errno}]
	return !ok || (!s.hasSubject && !s.ignored)
}

// fromHistory completes what the resolver found (subject, res) with the engine's
// memory; e.mu must be held. When the observation and the system no longer tell, a
// failure whose subject does not depend on its arguments takes the subject the same
// process's failures of that kind were resolved to: a write(2) has no path but its
// failed open(2) had one; a fork failing again after its pids cgroup dropped below the
// limit. Otherwise it is the fallback subject named after the process, which a caller
// may use or wait for better context.
func (e *Engine) fromHistory(k Kind, o *Observation, subject Subject, res resolution) (Subject, resolution) {
	if res != subjectFallback {
		return subject, res
	}
	switch k {
	case KindDiskFull, KindReadOnlyFilesystem, KindIOError, KindProcessLimit:
		for _, s := range e.series.byPID[o.PID] {
			if s.kind == k && s.hasSubject && isConfirmed(s.subject) {
				return s.subject, subjectFound
			}
		}
	}
	return subject, subjectFallback
}

// ignore marks a series whose failures are no evidence for its kind and drops the
// failures it was holding for its event: they were more of what the event named.
func (e *Engine) ignore(s *series) {
	s.ignored = true
	s.subject, s.hasSubject = Subject{}, false
	e.clearPending(s)
}

// isConfirmed tells a subject found on the system from a fallback named after the process.
func isConfirmed(s Subject) bool {
	switch s.Type {
	case SubjectUnknownMount, SubjectUnknownAddress, SubjectUnknownAccess, SubjectUnknownLimit:
		return false
	}
	return true
}

func (e *Engine) flushPending(s *series, subject Subject) {
	e.record(s.kind, subject, &s.pendingObs, s.pending, s.pendingObs.Time)
	e.clearPending(s)
}

func (e *Engine) clearPending(s *series) {
	s.pending = 0
	s.pendingSince = time.Time{}
	s.pendingObs = Observation{}
	s.pendingSubject, s.pendingResolution = Subject{}, subjectFallback
	delete(e.pending, s)
}

func (e *Engine) record(k Kind, subject Subject, o *Observation, n uint64, at time.Time) {
	key := subjectKey{kind: k, name: subject.identity()}
	f, ok := e.findings[key]
	if !ok {
		if n == 0 {
			return
		}
		if len(e.findings) >= e.cfg.MaxSubjects {
			e.evictSubject()
		}
		f = newFinding(k, subject, e.cfg.Kinds.rule(k).Window)
		e.findings[key] = f
	}
	f.record(o, n, at)
}

// evictSubject makes room for one subject, giving up first what is least useful:
// a resolved finding kept for hysteresis, then evidence that has not tripped a rule,
// then the open finding that failed least recently (closed with a record).
func (e *Engine) evictSubject() {
	var victim subjectKey
	var victimFinding *finding
	for key, f := range e.findings {
		if victimFinding == nil || evictsBefore(f, victimFinding) {
			victim, victimFinding = key, f
		}
	}
	if victimFinding == nil {
		return
	}
	if victimFinding.state == stateActive {
		now := e.clock.Now()
		window := e.cfg.Kinds.rule(victimFinding.kind).Window
		e.queued = append(e.queued, victimFinding.transition(StateResolved, now, window, ResolutionEvicted))
	}
	delete(e.findings, victim)
	e.stats.EvictedSubjects++
}

func evictsBefore(a, b *finding) bool {
	rank := func(f *finding) int {
		switch f.state {
		case stateResolved:
			return 0
		case stateTracking:
			return 1
		default:
			return 2
		}
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	if a.state == stateResolved {
		return a.resolvedAt.Before(b.resolvedAt)
	}
	return a.lastSeen.Before(b.lastSeen)
}

// clampTime keeps observation times usable: a zero time is now, and a time ahead of
// the engine's clock (clock skew between boot-time and wall clock) is now.
func clampTime(t, now time.Time) time.Time {
	if t.IsZero() || t.After(now) {
		return now
	}
	return t
}
