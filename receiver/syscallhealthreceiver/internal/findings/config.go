package findings

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
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

// KindsConfig holds the rule of each kind, by the kind's name (kinds). Unmarshal starts from the defaults, so
// a partial override (only `threshold`) keeps the others, and refuses a misspelt kind.
type KindsConfig map[string]KindConfig

// Unmarshal reads `kinds:` over the defaults already in c.
func (c *KindsConfig) Unmarshal(conf *confmap.Conf) error {
	if *c == nil {
		*c = defaultKindsConfig()
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(conf.ToStringMap())) {
		k, ok := kindByName(name)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown kind %q (kinds: %s)", name, strings.Join(kindNames(), ", ")))
			continue
		}
		sub, err := conf.Sub(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rule := (*c)[k.String()]
		if err := sub.Unmarshal(&rule); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		(*c)[k.String()] = rule
	}
	return errors.Join(errs...)
}

// rule returns the rule of one kind.
func (c KindsConfig) rule(k Kind) KindConfig { return c[k.String()] }

func kindNames() []string {
	var names []string
	for _, k := range Kinds() {
		names = append(names, k.String())
	}
	return names
}

// defaultKindsConfig is every kind enabled with its default threshold (kinds) and window.
func defaultKindsConfig() KindsConfig {
	c := make(KindsConfig, kindCount-1)
	for _, k := range Kinds() {
		c[k.String()] = KindConfig{Enabled: true, Threshold: kinds[k].threshold, Window: defaultWindow}
	}
	return c
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
	return Config{
		Enabled:        true,
		QuietPeriod:    defaultQuietPeriod,
		MaxQuietPeriod: defaultMaxQuietPeriod,
		MaxSubjects:    defaultMaxSubjects,
		Kinds:          defaultKindsConfig(),
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

// validateAll checks the whole configuration, kinds included, for callers that do not
// go through the collector's recursive validation (NewEngine).
func (c *Config) validateAll() error {
	errs := []error{c.Validate()}
	for _, k := range Kinds() {
		rule := c.Kinds.rule(k)
		if err := rule.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("kinds::%s: %w", k, err))
		}
	}
	return errors.Join(errs...)
}
