package findings

import "time"

// State of a finding in a transition record (syscallhealth.issue.state).
type State uint8

const (
	StateOpen State = iota + 1
	StateOngoing
	StateResolved
)

func (s State) String() string {
	switch s {
	case StateOpen:
		return "open"
	case StateOngoing:
		return "ongoing"
	case StateResolved:
		return "resolved"
	default:
		return "unknown"
	}
}

// Resolution says why a finding resolved.
const (
	ResolutionQuiet   = "quiet"   // no failure for the quiet period
	ResolutionEvicted = "evicted" // dropped to stay within max_subjects while still failing
)

// ProcessSample is one of the processes a finding affects.
type ProcessSample struct {
	PID         uint32
	Executable  string
	ContainerID string
}

// Transition is one change of a finding: opened, updated while it lasts, or resolved.
// Each becomes one log record (FillLogRecord).
type Transition struct {
	Time       time.Time
	ID         string // stable for the finding's whole episode
	Kind       Kind
	State      State
	Resolution string // resolved records only
	Severity   Severity
	Subject    Subject

	// Window figures: failures in the kind's window ending at Time, and their rate per second.
	Window      time.Duration
	WindowCount uint64
	Rate        float64
	// TotalCount is every failure from FirstSeen to LastSeen.
	TotalCount          uint64
	FirstSeen, LastSeen time.Time
	// Affected processes and containers: in the window for open and ongoing records,
	// since FirstSeen for resolved ones (the window is empty by then).
	AffectedProcesses  int
	AffectedContainers int
	Samples            []ProcessSample
	Syscalls           []string // by decreasing count
	Errnos             []string // by decreasing count
	Path               string   // a recent path argument, for file failures
	QuietPeriod        time.Duration
	Body               string
}

func (f *finding) transition(state State, now time.Time, window time.Duration, resolution string) Transition {
	count := f.window.sum(now)
	t := Transition{
		Time:        now,
		ID:          f.id,
		Kind:        f.kind,
		State:       state,
		Resolution:  resolution,
		Severity:    f.kind.Severity(),
		Subject:     f.subject,
		Window:      window,
		WindowCount: count,
		Rate:        float64(count) / window.Seconds(),
		TotalCount:  f.total,
		FirstSeen:   f.firstSeen,
		LastSeen:    f.lastSeen,
		Samples:     f.samples(),
		Syscalls:    names(f.syscalls),
		Errnos:      names(f.errnos),
		Path:        f.lastPath,
		QuietPeriod: f.quiet,
	}
	if state == StateResolved {
		t.Severity = SeverityInfo
		t.AffectedProcesses, t.AffectedContainers = f.affected(now, 0)
	} else {
		t.AffectedProcesses, t.AffectedContainers = f.affected(now, window)
	}
	t.Body = describe(&t)
	return t
}
