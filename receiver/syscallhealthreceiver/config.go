package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

// ErrorMode says what the receiver does when the kernel probes cannot be loaded.
type ErrorMode string

const (
	// ErrorModePropagate fails the collector start with the load error.
	ErrorModePropagate ErrorMode = "propagate"
	// ErrorModeIgnore logs a warning, reports a permanent error through component status and keeps the
	// collector running without syscall events.
	ErrorModeIgnore ErrorMode = "ignore"
)

// allErrnos is the word that selects every errno in errnos and syscall_errnos.
const allErrnos = "all"

// Bounds of the receiver's own settings; those of the kernel options are bpf's (bpf.MaxRingBufferSize...).
const (
	// minCollectionInterval: each collection reads the whole tracking map, checks /proc for every process
	// with counts and evaluates the findings (whose windows are at least 1s). The sums are cumulative, so a
	// faster loop adds CPU and export volume, not precision; 1ns made it spin.
	minCollectionInterval = time.Second
)

// Config is the configuration of the syscallhealth receiver.
type Config struct {
	// CollectionInterval is how often the exact in-kernel counts are emitted as cumulative sums.
	CollectionInterval time.Duration `mapstructure:"collection_interval"`
	// Syscalls lists the syscalls to watch. Left out, the default set; an empty list is an error.
	Syscalls []string `mapstructure:"syscalls"`
	// Errnos selects the reported errnos for every watched syscall: a list of names, or "all".
	// Left out, each syscall keeps its default errnos; an empty list is an error.
	Errnos []string `mapstructure:"errnos"`
	// SyscallErrnos selects errnos for single syscalls (a list of names, or "all"); it wins over Errnos.
	// A syscall named here is watched even when Syscalls does not list it.
	SyscallErrnos map[string][]string `mapstructure:"syscall_errnos"`
	// RateLimit bounds the events (log records) per process, syscall and errno. Counts stay exact.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
	// RingBufferSize is the kernel-to-receiver event buffer: a power of two, a multiple of the page size.
	RingBufferSize ByteSize `mapstructure:"ring_buffer_size"`
	// TrackingMapSize is the number of (process, syscall, errno) series the kernel counts at once; beyond
	// it, failures of new series are counted in syscallhealth.failures.untracked.
	TrackingMapSize int `mapstructure:"tracking_map_size"`
	// IncludePaths makes the kernel read the path and socket address arguments of failed syscalls.
	IncludePaths bool `mapstructure:"include_paths"`
	// RootPath is where the host's root filesystem is mounted, for a collector in a container: /proc is read
	// at <root_path>/proc. Empty means the collector's own root.
	RootPath string `mapstructure:"root_path"`
	// ErrorMode is what happens when the probes cannot load: propagate (fail the start) or ignore.
	ErrorMode ErrorMode `mapstructure:"error_mode"`
	// Findings turns failure patterns into health findings (syscallhealth.issue records, syscallhealth.issues.active).
	Findings findings.Config `mapstructure:"findings"`
	// Scope selects the watched processes, in the kernel before counting; by default every process.
	Scope ScopeConfig `mapstructure:"scope"`
	// FailuresGranularity is what one syscallhealth.failures series counts for: process (default),
	// container, executable or host.
	FailuresGranularity Granularity `mapstructure:"failures_granularity"`

	metadata.MetricsBuilderConfig `mapstructure:",squash"`
	// Events switches the failure and finding records on or off (events::<name>::enabled).
	Events metadata.EventsConfig `mapstructure:"events"`
}

// Granularity is what one syscallhealth.failures series counts for.
type Granularity string

const (
	// GranularityProcess: one resource per process (process.pid and its attributes).
	GranularityProcess Granularity = "process"
	// GranularityContainer: one resource per container (container.id, k8s.pod.uid) and one for the host's
	// processes outside containers.
	GranularityContainer Granularity = "container"
	// GranularityExecutable: one resource per executable (process.executable.name, the file name the kernel
	// recorded when the process's series began).
	GranularityExecutable Granularity = "executable"
	// GranularityHost: the host's resource only.
	GranularityHost Granularity = "host"
)

// RateLimitConfig is the in-kernel token bucket applied per (process, syscall, errno).
type RateLimitConfig struct {
	EventsPerSecond float64 `mapstructure:"events_per_second"`
	Burst           uint32  `mapstructure:"burst"`
}

func createDefaultConfig() *Config {
	return &Config{
		CollectionInterval:   10 * time.Second,
		RateLimit:            RateLimitConfig{EventsPerSecond: bpf.DefaultEventsPerSecond, Burst: bpf.DefaultBurst},
		RingBufferSize:       bpf.DefaultRingBufferSize,
		TrackingMapSize:      bpf.DefaultTrackingMapSize,
		IncludePaths:         true,
		ErrorMode:            ErrorModePropagate,
		Findings:             findings.NewDefaultConfig(),
		Scope:                ScopeConfig{Workloads: WorkloadsAll},
		FailuresGranularity:  GranularityProcess,
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Events:               metadata.DefaultEventsConfig(),
	}
}

// Validate checks the configuration; every error names the setting to fix.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.CollectionInterval < minCollectionInterval {
		errs = append(errs, fmt.Errorf("collection_interval must be at least %s, got %s (the sums are cumulative: a shorter interval adds load, not precision)",
			minCollectionInterval, cfg.CollectionInterval))
	}
	opts, err := cfg.probeOptions()
	if err != nil {
		errs = append(errs, err)
	}
	if eps := cfg.RateLimit.EventsPerSecond; math.IsNaN(eps) || eps <= 0 || eps > bpf.MaxEventsPerSecond {
		errs = append(errs, fmt.Errorf("rate_limit.events_per_second must be greater than zero and at most %g, got %v "+
			"(the exact counts do not depend on it; lower it to reduce log volume)", float64(bpf.MaxEventsPerSecond), eps))
	}
	if cfg.RateLimit.Burst == 0 {
		errs = append(errs, errors.New("rate_limit.burst must be at least 1"))
	}
	if err := cfg.RingBufferSize.validateRingBuffer(); err != nil {
		errs = append(errs, err)
	}
	if cfg.TrackingMapSize <= 0 || cfg.TrackingMapSize > bpf.MaxTrackingMapSize {
		errs = append(errs, fmt.Errorf("tracking_map_size must be between 1 and %d, got %d", bpf.MaxTrackingMapSize, cfg.TrackingMapSize))
	}
	if cfg.RootPath != "" {
		if err := validateRootPath(cfg.RootPath); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cfg.Scope.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch cfg.FailuresGranularity {
	case GranularityProcess, GranularityContainer, GranularityExecutable, GranularityHost:
	default:
		errs = append(errs, fmt.Errorf("failures_granularity must be %q, %q, %q or %q, got %q",
			GranularityProcess, GranularityContainer, GranularityExecutable, GranularityHost, cfg.FailuresGranularity))
	}
	switch cfg.ErrorMode {
	case ErrorModePropagate, ErrorModeIgnore:
	default:
		errs = append(errs, fmt.Errorf("error_mode must be %q or %q, got %q", ErrorModePropagate, ErrorModeIgnore, cfg.ErrorMode))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// The probe's own check is a backstop for limits only the kernel side knows.
	if err := opts.Validate(); err != nil {
		return fmt.Errorf("kernel probe options: %w", err)
	}
	return nil
}

// validateRootPath checks that root_path is an absolute path whose proc directory is a mounted procfs.
func validateRootPath(root string) error {
	if !filepath.IsAbs(root) {
		return fmt.Errorf("root_path must be an absolute path (where the host's / is mounted, e.g. /hostfs), got %q", root)
	}
	return hostfs.New(root, 0, nil).CheckProcfs()
}

func (b ByteSize) validateRingBuffer() error {
	page := int64(os.Getpagesize())
	n := int64(b)
	switch {
	case n < page:
		return fmt.Errorf("ring_buffer_size must be at least one page (%d bytes), got %d", page, n)
	case n > bpf.MaxRingBufferSize:
		return fmt.Errorf("ring_buffer_size must be at most %s, got %s", ByteSize(bpf.MaxRingBufferSize), b)
	case n&(n-1) != 0:
		return fmt.Errorf("ring_buffer_size must be a power of two (e.g. 1MiB, 4MiB), got %d bytes", n)
	case n%page != 0:
		return fmt.Errorf("ring_buffer_size must be a multiple of the page size %d, got %d", page, n)
	}
	return nil
}

// probeOptions turns the configuration into the kernel probe options.
func (cfg *Config) probeOptions() (bpf.Options, error) {
	rules, err := cfg.rules()
	if err != nil {
		return bpf.Options{}, err
	}
	return bpf.Options{
		Rules:           rules,
		RateLimit:       bpf.RateLimit{EventsPerSecond: cfg.RateLimit.EventsPerSecond, Burst: cfg.RateLimit.Burst},
		RingBufferSize:  int(cfg.RingBufferSize),
		TrackingMapSize: cfg.TrackingMapSize,
		IncludePaths:    cfg.IncludePaths,
	}, nil
}

// rules resolves syscalls, errnos and syscall_errnos into one rule per watched syscall, in a stable order.
// Precedence per syscall: syscall_errnos.<name>, then errnos, then the syscall's default errnos.
func (cfg *Config) rules() ([]bpf.Rule, error) {
	defaults := make(map[string]bpf.Rule)
	var defaultOrder []string
	for _, r := range bpf.DefaultRules() {
		defaults[r.Syscall] = r
		defaultOrder = append(defaultOrder, r.Syscall)
	}

	var errs []error
	// An empty list (`syscalls: []`) is not the same as leaving the setting out: it would watch nothing.
	if cfg.Syscalls != nil && len(cfg.Syscalls) == 0 {
		errs = append(errs, errors.New("syscalls is an empty list, which would watch nothing: list syscalls, or remove the setting to watch the default set"))
	}
	if cfg.Errnos != nil && len(cfg.Errnos) == 0 {
		errs = append(errs, errors.New(`errnos is an empty list, which would report nothing: list errno names or write "all", or remove the setting to keep each syscall's default errnos`))
	}
	watched := defaultOrder
	if len(cfg.Syscalls) > 0 {
		watched = nil
		for _, name := range cfg.Syscalls {
			if err := checkWatchable(name, "syscalls"); err != nil {
				errs = append(errs, err)
				continue
			}
			watched = append(watched, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.SyscallErrnos)) {
		if err := checkWatchable(name, "syscall_errnos"); err != nil {
			errs = append(errs, err)
			continue
		}
		watched = append(watched, name)
	}

	global, err := parseErrnos(cfg.Errnos, "errnos")
	if err != nil {
		errs = append(errs, err)
	}

	var rules []bpf.Rule
	seen := make(map[string]bool)
	for _, name := range watched {
		if seen[name] {
			continue
		}
		seen[name] = true
		rule := bpf.Rule{Syscall: name}
		switch own, ok := cfg.SyscallErrnos[name]; {
		case ok:
			sel, err := parseErrnos(own, "syscall_errnos."+name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if sel.empty() {
				errs = append(errs, fmt.Errorf("syscall_errnos.%s is empty: list errno names or write \"all\"", name))
				continue
			}
			rule.Errnos, rule.AllErrnos = sel.errnos, sel.all
		case !global.empty():
			rule.Errnos, rule.AllErrnos = global.errnos, global.all
		default:
			// Every watchable syscall is in the default set (checkWatchable).
			rule.Errnos, rule.AllErrnos = defaults[name].Errnos, defaults[name].AllErrnos
		}
		rules = append(rules, rule)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(rules) == 0 {
		return nil, errors.New("syscalls: no syscall to watch")
	}
	return rules, nil
}

func checkWatchable(name, field string) error {
	if _, ok := bpf.SyscallByName(name); !ok {
		return fmt.Errorf("%s: unknown syscall %q on this architecture (names are the kernel's, e.g. openat, connect)", field, name)
	}
	if bpf.SyscallCategory(name) == bpf.CategoryUnknown {
		return fmt.Errorf("%s: syscall %q is not one syscallhealth can watch; watchable: %s", field, name, strings.Join(watchableSyscalls(), ", "))
	}
	return nil
}

// watchableSyscalls lists the syscalls of the default set, for error messages.
func watchableSyscalls() []string {
	var names []string
	for _, r := range bpf.DefaultRules() {
		names = append(names, r.Syscall)
	}
	return names
}

type errnoSelection struct {
	errnos []bpf.Errno
	all    bool
}

func (s errnoSelection) empty() bool { return !s.all && len(s.errnos) == 0 }

// parseErrnos reads a list of errno names, or the single word "all".
func parseErrnos(names []string, field string) (errnoSelection, error) {
	var sel errnoSelection
	var errs []error
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		if strings.EqualFold(name, allErrnos) {
			sel.all = true
			continue
		}
		errno, ok := bpf.ErrnoByName(name)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown errno %q (use names such as ENOSPC, ECONNREFUSED, or \"all\")", field, raw))
			continue
		}
		if !errno.Listable() {
			errs = append(errs, fmt.Errorf("%s: %s (%d) is a kernel-internal errno that cannot be listed by name; write \"all\" to report it", field, errno.Name(), errno))
			continue
		}
		if !slices.Contains(sel.errnos, errno) {
			sel.errnos = append(sel.errnos, errno)
		}
	}
	if sel.all && len(sel.errnos) > 0 {
		errs = append(errs, fmt.Errorf("%s: \"all\" already selects every errno; remove the other names", field))
	}
	if len(errs) > 0 {
		return errnoSelection{}, errors.Join(errs...)
	}
	slices.Sort(sel.errnos)
	return sel, nil
}
