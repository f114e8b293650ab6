package findings

import (
	"errors"
	"fmt"
	"time"
)

// Config of the finding engine, embedded in the receiver configuration under `findings:`.
type Config struct {
	// Enabled turns the engine on: issue log records and the syscallhealth.issues.active gauge.
	Enabled bool `mapstructure:"enabled"`
	// QuietPeriod without any failure after which an open finding resolves.
	QuietPeriod time.Duration `mapstructure:"quiet_period"`
	// MaxQuietPeriod caps the hysteresis: each time a finding reopens within this long
	// after it resolved, its quiet period doubles, up to this value. A resolved finding
	// is remembered this long.
	MaxQuietPeriod time.Duration `mapstructure:"max_quiet_period"`
	// MaxSubjects caps the subjects tracked at once (open, resolved-and-remembered and
	// not yet open). Beyond it the least useful subject is evicted and counted.
	MaxSubjects int `mapstructure:"max_subjects"`
	// Kinds holds the rule of each kind.
	Kinds KindsConfig `mapstructure:"kinds"`
}

// KindConfig is the rule of one kind: a finding opens when Threshold failures for one
// subject fall within Window.
type KindConfig struct {
	Enabled   bool          `mapstructure:"enabled"`
	Threshold uint64        `mapstructure:"threshold"`
	Window    time.Duration `mapstructure:"window"`
}

// KindsConfig has one field per kind so that a misspelt kind is a configuration error
// and a partial override (only `threshold`) keeps the other defaults.
type KindsConfig struct {
	DiskFull           KindConfig `mapstructure:"disk_full"`
	ReadOnlyFilesystem KindConfig `mapstructure:"read_only_filesystem"`
	IOError            KindConfig `mapstructure:"io_error"`
	FDExhaustion       KindConfig `mapstructure:"fd_exhaustion"`
	MemoryExhaustion   KindConfig `mapstructure:"memory_exhaustion"`
	ProcessLimit       KindConfig `mapstructure:"process_limit"`
	ConnectionRefused  KindConfig `mapstructure:"connection_refused"`
	ConnectionTimeout  KindConfig `mapstructure:"connection_timeout"`
	NetworkUnreachable KindConfig `mapstructure:"network_unreachable"`
	PortConflict       KindConfig `mapstructure:"port_conflict"`
	PermissionDenied   KindConfig `mapstructure:"permission_denied"`
}

const (
	defaultWindow         = time.Minute
	defaultQuietPeriod    = time.Minute
	defaultMaxQuietPeriod = 10 * time.Minute
	defaultMaxSubjects    = 1024
	// maxMaxSubjects bounds the memory of the engine: a subject keeps its counts, windows and up to
	// maxTrackedProcesses processes and maxTrackedContainers containers, 23 KB measured when all are
	// full (64-character container IDs), so about 92 MiB at this bound (23 MiB at the default).
	maxMaxSubjects = 4096
	minWindow      = time.Second
)

// NewDefaultConfig returns the defaults documented in the repository README (section Findings).
func NewDefaultConfig() Config {
	rule := func(threshold uint64) KindConfig {
		return KindConfig{Enabled: true, Threshold: threshold, Window: defaultWindow}
	}
	return Config{
		Enabled:        true,
		QuietPeriod:    defaultQuietPeriod,
		MaxQuietPeriod: defaultMaxQuietPeriod,
		MaxSubjects:    defaultMaxSubjects,
		Kinds: KindsConfig{
			// One failure is already the diagnosis: the resource is exhausted or broken.
			DiskFull:           rule(1),
			ReadOnlyFilesystem: rule(1),
			IOError:            rule(1),
			FDExhaustion:       rule(1),
			ProcessLimit:       rule(1),
			PortConflict:       rule(1), // a service that cannot bind usually tries once and exits
			// Some runtimes probe with large mappings; a few failures rule that out.
			MemoryExhaustion: rule(3),
			// Clients retry and single refusals happen during deploys; a pattern is the finding.
			ConnectionRefused:  rule(5),
			ConnectionTimeout:  rule(3),
			NetworkUnreachable: rule(3),
			// Programs probe files they may not read; repeated denials are the finding.
			PermissionDenied: rule(3),
		},
	}
}

// Validate checks the engine-wide settings. The collector validates each KindConfig
// through its own Validate (confmap walks nested structs and prefixes the field path).
func (c *Config) Validate() error {
	var errs []error
	if c.QuietPeriod <= 0 {
		errs = append(errs, fmt.Errorf("quiet_period must be positive, got %s", c.QuietPeriod))
	}
	if c.MaxQuietPeriod < c.QuietPeriod {
		errs = append(errs, fmt.Errorf("max_quiet_period (%s) must be at least quiet_period (%s)", c.MaxQuietPeriod, c.QuietPeriod))
	}
	if c.MaxSubjects < 1 || c.MaxSubjects > maxMaxSubjects {
		errs = append(errs, fmt.Errorf("max_subjects must be between 1 and %d, got %d", maxMaxSubjects, c.MaxSubjects))
	}
	return errors.Join(errs...)
}

// Validate checks one kind's rule.
func (k *KindConfig) Validate() error {
	var errs []error
	if k.Threshold < 1 {
		errs = append(errs, errors.New("threshold must be at least 1 failure"))
	}
	if k.Window < minWindow {
		errs = append(errs, fmt.Errorf("window must be at least %s, got %s", minWindow, k.Window))
	}
	return errors.Join(errs...)
}

// kind returns the rule of one kind.
func (c *KindsConfig) kind(k Kind) KindConfig {
	switch k {
	case KindDiskFull:
		return c.DiskFull
	case KindReadOnlyFilesystem:
		return c.ReadOnlyFilesystem
	case KindIOError:
		return c.IOError
	case KindFDExhaustion:
		return c.FDExhaustion
	case KindMemoryExhaustion:
		return c.MemoryExhaustion
	case KindProcessLimit:
		return c.ProcessLimit
	case KindConnectionRefused:
		return c.ConnectionRefused
	case KindConnectionTimeout:
		return c.ConnectionTimeout
	case KindNetworkUnreachable:
		return c.NetworkUnreachable
	case KindPortConflict:
		return c.PortConflict
	case KindPermissionDenied:
		return c.PermissionDenied
	default:
		return KindConfig{}
	}
}

// validateAll checks the whole configuration, kinds included, for callers that do not
// go through the collector's recursive validation (NewEngine).
func (c *Config) validateAll() error {
	errs := []error{c.Validate()}
	for _, k := range Kinds() {
		rule := c.Kinds.kind(k)
		if err := rule.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("kinds::%s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}
