package findings

import (
	"encoding/hex"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// maxTrackedProcesses bounds the processes remembered per finding; affected counts
	// are exact up to it and approximate beyond.
	maxTrackedProcesses = 64
	// maxTrackedContainers bounds the distinct containers remembered per finding.
	maxTrackedContainers = 64
	// maxSamples is how many sample processes a record carries.
	maxSamples = 3
	// maxNamedCounts bounds the distinct syscalls and errnos remembered per finding.
	maxNamedCounts = 8
)

type findingState uint8

const (
	// stateTracking: evidence is collected, the rule has not tripped.
	stateTracking findingState = iota
	// stateActive: open; ongoing records follow while failures continue.
	stateActive
	// stateResolved: closed after a quiet period, remembered for hysteresis.
	stateResolved
)

type affectedProcess struct {
	pid         uint32
	executable  string
	containerID string
	lastSeen    time.Time
}

type namedCount struct {
	name  string
	count uint64
}

// finding is the state of one (kind, subject). Its evidence ("activity") starts with
// the first failure after it was created or resolved.
type finding struct {
	kind    Kind
	subject Subject
	state   findingState
	id      string
	window  slidingWindow

	firstSeen, lastSeen time.Time
	total               uint64 // failures since firstSeen
	unreported          uint64 // failures since the last record
	processes           []affectedProcess
	distinctProcesses   int
	containers          []string
	syscalls, errnos    []namedCount
	lastPath            string

	lastReport time.Time
	resolvedAt time.Time
	quiet      time.Duration // effective quiet period of this episode
	flaps      int           // reopenings while remembered as resolved
}

func newFinding(k Kind, s Subject, window time.Duration) *finding {
	return &finding{kind: k, subject: s, window: newSlidingWindow(window)}
}

// record adds n failures seen at `at` by the observation's process. n is zero when the
// failures were already counted through another path; the process is still affected.
func (f *finding) record(o *Observation, n uint64, at time.Time) {
	if n == 0 && f.total == 0 {
		return
	}
	if n > 0 {
		f.window.add(at, n)
		f.total += n
		f.unreported += n
		if f.firstSeen.IsZero() || at.Before(f.firstSeen) {
			f.firstSeen = at
		}
		if at.After(f.lastSeen) {
			f.lastSeen = at
		}
	}
	f.trackProcess(o, at)
	f.syscalls = addNamedCount(f.syscalls, o.Syscall, n)
	f.errnos = addNamedCount(f.errnos, o.Errno, n)
	if o.Path != "" {
		f.lastPath = o.Path
	}
}

func (f *finding) trackProcess(o *Observation, at time.Time) {
	for i := range f.processes {
		p := &f.processes[i]
		if p.pid != o.PID {
			continue
		}
		if at.After(p.lastSeen) {
			p.lastSeen = at
		}
		if label := o.process().label(); label != "" {
			p.executable = label
		}
		return
	}
	f.distinctProcesses++
	if o.ContainerID != "" && !slices.Contains(f.containers, o.ContainerID) && len(f.containers) < maxTrackedContainers {
		f.containers = append(f.containers, o.ContainerID)
	}
	p := affectedProcess{pid: o.PID, executable: o.process().label(), containerID: o.ContainerID, lastSeen: at}
	if len(f.processes) < maxTrackedProcesses {
		f.processes = append(f.processes, p)
		return
	}
	oldest := 0
	for i := range f.processes {
		if f.processes[i].lastSeen.Before(f.processes[oldest].lastSeen) {
			oldest = i
		}
	}
	f.processes[oldest] = p
}

func addNamedCount(counts []namedCount, name string, n uint64) []namedCount {
	for i := range counts {
		if counts[i].name == name {
			counts[i].count += n
			return counts
		}
	}
	if len(counts) >= maxNamedCounts {
		return counts
	}
	return append(counts, namedCount{name: name, count: n})
}

// resetActivity forgets the evidence, keeping identity and hysteresis state.
func (f *finding) resetActivity(window time.Duration) {
	f.window = newSlidingWindow(window)
	f.firstSeen, f.lastSeen = time.Time{}, time.Time{}
	f.total, f.unreported = 0, 0
	f.processes, f.containers = nil, nil
	f.distinctProcesses = 0
	f.syscalls, f.errnos = nil, nil
	f.lastPath = ""
}

// open starts an episode; quiet is the episode's quiet period.
func (f *finding) open(now time.Time, quiet time.Duration) {
	f.state = stateActive
	f.id = findingID(f.kind, f.subject.Name, now)
	f.lastReport = now
	f.unreported = 0
	f.quiet = quiet
}

func (f *finding) resolve(now time.Time, window time.Duration) {
	f.state = stateResolved
	f.resolvedAt = now
	f.resetActivity(window)
}

// findingID is stable for the whole episode (open, ongoing..., resolved) and distinct
// between episodes of the same subject.
func findingID(k Kind, subject string, opened time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(k.String()))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(opened.UnixNano(), 10)))
	return hex.EncodeToString(h.Sum(nil))
}

// affected counts the distinct processes and containers with failures in the window
// ending at now, or over the whole activity when window is zero.
func (f *finding) affected(now time.Time, window time.Duration) (processes, containers int) {
	if window == 0 {
		return f.distinctProcesses, len(f.containers)
	}
	since := now.Add(-window)
	var seen []string
	for _, p := range f.processes {
		if p.lastSeen.Before(since) {
			continue
		}
		processes++
		if p.containerID != "" && !slices.Contains(seen, p.containerID) {
			seen = append(seen, p.containerID)
		}
	}
	return processes, len(seen)
}

// samples returns up to maxSamples processes, most recent first.
func (f *finding) samples() []ProcessSample {
	ps := slices.Clone(f.processes)
	slices.SortFunc(ps, func(a, b affectedProcess) int {
		if c := b.lastSeen.Compare(a.lastSeen); c != 0 {
			return c
		}
		return int(a.pid) - int(b.pid)
	})
	out := make([]ProcessSample, 0, min(len(ps), maxSamples))
	for _, p := range ps[:min(len(ps), maxSamples)] {
		out = append(out, ProcessSample{PID: p.pid, Executable: p.executable, ContainerID: p.containerID})
	}
	return out
}

// names returns the names by decreasing count, then by name.
func names(counts []namedCount) []string {
	cs := slices.Clone(counts)
	slices.SortFunc(cs, func(a, b namedCount) int {
		if a.count != b.count {
			if a.count > b.count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}
