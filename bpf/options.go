package bpf

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
)

// RateLimit bounds the events of one (pid, syscall, errno) series with a token
// bucket: Burst events at once, then EventsPerSecond. Failures over the limit
// are still counted exactly; the next event reports how many were suppressed.
type RateLimit struct {
	EventsPerSecond float64
	Burst           uint32
}

// Options configure a Probe. The zero value watches DefaultRules with the
// default rate limit and sizes.
type Options struct {
	// Rules are the watched syscalls; nil means DefaultRules().
	Rules []Rule
	// RateLimit is per (pid, syscall, errno); the zero value means 10 events/s, burst 20.
	RateLimit RateLimit
	// RingBufferSize is the event ring's size in bytes, a power of two and a
	// multiple of the page size; 0 means 1 MiB.
	RingBufferSize int
	// TrackingMapSize is how many (pid, syscall, errno) series the kernel counts
	// at once; 0 means 10240. When it is full, failures of new series are counted
	// in Stats.Untracked (no series is evicted) until DeleteCounts makes room.
	TrackingMapSize int
	// IncludePaths reads the path and socket-address arguments (and the path
	// behind fd arguments) for emitted events.
	IncludePaths bool
	// PIDFilter restricts the probe to one process (thread group id); 0 watches every process.
	PIDFilter uint32
	// Scope selects the watched processes; the zero value watches all of them.
	Scope Scope
	// CgroupController names the cgroup v1 controller (e.g. "pids") whose
	// hierarchy the probe reads a failing task's cgroup from: on v1 and hybrid
	// hosts, where the v2 hierarchy may hold no process. "" reads the v2
	// (default) hierarchy. Scope cgroup ids and Event.CgroupID are of that hierarchy.
	CgroupController string
}

// The defaults and bounds of the options. The receiver's settings are these options, so it takes its defaults
// and bounds from here: one definition, they cannot disagree.
const (
	DefaultEventsPerSecond = 10
	DefaultBurst           = 20
	DefaultRingBufferSize  = 1 << 20
	DefaultTrackingMapSize = 10240
	// MaxRingBufferSize and MaxTrackingMapSize keep a typo from asking the kernel for gigabytes.
	MaxRingBufferSize  = 256 << 20
	MaxTrackingMapSize = 1 << 20
	// MaxEventsPerSecond per series is far beyond what a ring buffer carries to the receiver: above it the
	// limit limits nothing.
	MaxEventsPerSecond = 1e6
	// maxRuleErrno is the largest errno an errno bitmap holds (health.h ERRNO_BITMAP_WORDS).
	maxRuleErrno = 64*errnoBitmapWords - 1
	// errnoBitmapWords and maxSyscalls mirror health.h.
	errnoBitmapWords = 4
	maxSyscalls      = 512
)

// Validate reports the first invalid field, naming it.
func (o Options) Validate() error {
	if o.Rules != nil {
		if _, err := compileRules(o.Rules); err != nil {
			return err
		}
	}
	if o.RateLimit != (RateLimit{}) {
		if _, err := o.RateLimit.kernelParams(); err != nil {
			return err
		}
	}
	if err := validateRingBufferSize(o.RingBufferSize); err != nil {
		return err
	}
	if o.TrackingMapSize < 0 || o.TrackingMapSize > MaxTrackingMapSize {
		return fmt.Errorf("TrackingMapSize %d: must be between 1 and %d entries (0 means %d)", o.TrackingMapSize, MaxTrackingMapSize, DefaultTrackingMapSize)
	}
	return o.Scope.Validate()
}

func validateRingBufferSize(size int) error {
	if size == 0 {
		return nil
	}
	page := os.Getpagesize()
	if size < page || size > MaxRingBufferSize || size&(size-1) != 0 || size%page != 0 {
		return fmt.Errorf("RingBufferSize %d: must be a power of two between the page size (%d) and %d bytes (0 means %d)", size, page, MaxRingBufferSize, DefaultRingBufferSize)
	}
	return nil
}

// withDefaults fills the zero fields with their defaults.
func (o Options) withDefaults() Options {
	if o.Rules == nil {
		o.Rules = DefaultRules()
	}
	if o.RateLimit == (RateLimit{}) {
		o.RateLimit = RateLimit{EventsPerSecond: DefaultEventsPerSecond, Burst: DefaultBurst}
	}
	if o.RingBufferSize == 0 {
		o.RingBufferSize = DefaultRingBufferSize
	}
	if o.TrackingMapSize == 0 {
		o.TrackingMapSize = DefaultTrackingMapSize
	}
	return o
}

// rateLimitParams is the kernel's form of a RateLimit (struct health_config).
// The kernel keeps, per series, the time tat at which the bucket would be full
// again, and for a failure at time now:
//
//	tat = max(tat, now)
//	if tat - now > burstToleranceNs { suppress } else { emit; tat += emitIntervalNs }
//
// which is a token bucket of Burst tokens refilled at EventsPerSecond (GCRA).
type rateLimitParams struct {
	emitIntervalNs   uint64
	burstToleranceNs uint64
}

func (r RateLimit) kernelParams() (rateLimitParams, error) {
	if math.IsNaN(r.EventsPerSecond) || r.EventsPerSecond <= 0 || r.EventsPerSecond > MaxEventsPerSecond {
		return rateLimitParams{}, fmt.Errorf("RateLimit.EventsPerSecond %v: must be above 0 and at most %g", r.EventsPerSecond, float64(MaxEventsPerSecond))
	}
	if r.Burst < 1 {
		return rateLimitParams{}, errors.New("RateLimit.Burst 0: must be at least 1 (1 means no bursts)")
	}
	interval := math.Round(1e9 / r.EventsPerSecond)
	if interval >= math.MaxInt64 {
		return rateLimitParams{}, fmt.Errorf("RateLimit.EventsPerSecond %v: too small, the interval between events overflows", r.EventsPerSecond)
	}
	p := rateLimitParams{emitIntervalNs: max(uint64(interval), 1)}
	hi, tolerance := bits.Mul64(uint64(r.Burst-1), p.emitIntervalNs)
	if hi != 0 || tolerance > math.MaxInt64 {
		return rateLimitParams{}, fmt.Errorf("RateLimit: Burst %d at %v events/s spans more time than the kernel's clock can hold", r.Burst, r.EventsPerSecond)
	}
	p.burstToleranceNs = tolerance
	return p, nil
}

// compiledRule is a Rule in the kernel's terms (struct syscall_rule).
type compiledRule struct {
	nr        uint32
	errnos    [errnoBitmapWords]uint64
	allErrnos bool
	category  Category
	arg       argKind
	argIndex  uint8
}

func compileRules(rules []Rule) ([]compiledRule, error) {
	if len(rules) == 0 {
		return nil, errors.New("Rules: empty; list at least one syscall, or leave Rules nil for the defaults")
	}
	seen := make(map[uint32]bool, len(rules))
	out := make([]compiledRule, 0, len(rules))
	for i, r := range rules {
		nr, ok := SyscallByName(r.Syscall)
		if !ok {
			return nil, fmt.Errorf("Rules[%d].Syscall %q: no such syscall on this architecture", i, r.Syscall)
		}
		if nr >= maxSyscalls {
			return nil, fmt.Errorf("Rules[%d].Syscall %q: number %d is beyond the probe's table of %d", i, r.Syscall, nr, maxSyscalls)
		}
		if seen[nr] {
			return nil, fmt.Errorf("Rules[%d].Syscall %q: listed twice", i, r.Syscall)
		}
		seen[nr] = true
		w := watchedSyscalls[r.Syscall]
		c := compiledRule{nr: nr, allErrnos: r.AllErrnos, category: w.category, arg: w.arg, argIndex: w.argIndex}
		if !r.AllErrnos {
			if len(r.Errnos) == 0 {
				return nil, fmt.Errorf("Rules[%d].Errnos: empty for %s; list errnos or set AllErrnos", i, r.Syscall)
			}
			for _, e := range r.Errnos {
				if !e.Listable() {
					return nil, fmt.Errorf("Rules[%d].Errnos: %s (%d) is outside 1-%d; use AllErrnos to report it", i, e.Name(), e, maxRuleErrno)
				}
				c.errnos[e/64] |= 1 << (e % 64)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
