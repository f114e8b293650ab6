package syscallhealthreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/metadata"
)

func loadTestConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	id := component.NewID(metadata.Type)
	if name != "" {
		id = component.NewIDWithName(metadata.Type, name)
	}
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := createDefaultConfig()
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

func mustErrno(t *testing.T, name string) bpf.Errno {
	t.Helper()
	e, ok := bpf.ErrnoByName(name)
	require.True(t, ok, name)
	return e
}

func TestLoadConfig(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "")
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())
		assert.Equal(t, createDefaultConfig(), cfg)
		assert.Equal(t, 10*time.Second, cfg.CollectionInterval)
		assert.Equal(t, ByteSize(1<<20), cfg.RingBufferSize)
		assert.Equal(t, 10240, cfg.TrackingMapSize)
		assert.Equal(t, RateLimitConfig{EventsPerSecond: 10, Burst: 20}, cfg.RateLimit)
		assert.True(t, cfg.IncludePaths)
		assert.False(t, cfg.ResourceAttributes.ProcessCommandArgs.Enabled, "command lines can hold secrets: off by default")
		assert.True(t, cfg.Events.SyscallhealthFailure.Enabled)
		assert.True(t, cfg.Events.SyscallhealthIssue.Enabled)
		assert.Equal(t, ErrorModePropagate, cfg.ErrorMode)
		assert.Equal(t, findings.NewDefaultConfig(), cfg.Findings)
		assert.True(t, cfg.Findings.Enabled, "findings are on by default")
		require.NoError(t, confmap.Validate(cfg), "the collector's recursive validation, nested findings included")

		rules, err := cfg.rules()
		require.NoError(t, err)
		assert.Equal(t, bpf.DefaultRules(), rules, "no syscalls/errnos means the default set with per-syscall errnos")
	})

	t.Run("custom", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "custom")
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())

		expected := createDefaultConfig()
		expected.CollectionInterval = 30 * time.Second
		expected.Syscalls = []string{"openat", "write", "connect"}
		expected.Errnos = []string{"ENOSPC", "EIO"}
		expected.SyscallErrnos = map[string][]string{"connect": {"ECONNREFUSED", "ETIMEDOUT"}}
		expected.RateLimit = RateLimitConfig{EventsPerSecond: 2.5, Burst: 5}
		expected.RingBufferSize = 4 << 20
		expected.TrackingMapSize = 2048
		expected.IncludePaths = false
		expected.ErrorMode = ErrorModeIgnore
		expected.Metrics.SyscallhealthConnectFailures.Enabled = true
		expected.ResourceAttributes.ProcessUserName.Enabled = false
		expected.ResourceAttributes.ProcessCommandArgs.Enabled = true
		expected.Events.SyscallhealthFailure.Enabled = false
		// The generated configs remember which switches the user set; compare what the receiver uses.
		assert.Equal(t, expected.Metrics.SyscallhealthConnectFailures.Enabled, cfg.Metrics.SyscallhealthConnectFailures.Enabled)
		assert.Equal(t, expected.ResourceAttributes.ProcessUserName.Enabled, cfg.ResourceAttributes.ProcessUserName.Enabled)
		assert.Equal(t, expected.ResourceAttributes.ProcessCommandArgs.Enabled, cfg.ResourceAttributes.ProcessCommandArgs.Enabled)
		assert.Equal(t, expected.Events.SyscallhealthFailure.Enabled, cfg.Events.SyscallhealthFailure.Enabled)
		expected.MetricsBuilderConfig = cfg.MetricsBuilderConfig
		expected.Events = cfg.Events
		assert.Equal(t, expected, cfg)

		opts, err := cfg.probeOptions()
		require.NoError(t, err)
		global := []bpf.Errno{mustErrno(t, "EIO"), mustErrno(t, "ENOSPC")}
		if global[0] > global[1] {
			global[0], global[1] = global[1], global[0]
		}
		connect := []bpf.Errno{mustErrno(t, "ECONNREFUSED"), mustErrno(t, "ETIMEDOUT")}
		if connect[0] > connect[1] {
			connect[0], connect[1] = connect[1], connect[0]
		}
		assert.Equal(t, bpf.Options{
			Rules: []bpf.Rule{
				{Syscall: "openat", Errnos: global},
				{Syscall: "write", Errnos: global},
				{Syscall: "connect", Errnos: connect},
			},
			RateLimit:       bpf.RateLimit{EventsPerSecond: 2.5, Burst: 5},
			RingBufferSize:  4 << 20,
			TrackingMapSize: 2048,
			IncludePaths:    false,
		}, opts)
	})

	t.Run("every_errno", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "every_errno")
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())
		assert.Equal(t, []string{"all"}, cfg.Errnos, "a single word is read as a one-element list")
		assert.Equal(t, ByteSize(256<<10), cfg.RingBufferSize)
		rules, err := cfg.rules()
		require.NoError(t, err)
		assert.Equal(t, []bpf.Rule{{Syscall: "openat", AllErrnos: true}}, rules)
	})

	t.Run("extra_syscall_errnos", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "extra_syscall_errnos")
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())
		rules, err := cfg.rules()
		require.NoError(t, err)
		defaults := bpf.DefaultRules()
		require.Len(t, rules, 3, "a syscall named only in syscall_errnos is watched too")
		assert.Equal(t, []string{"connect", "bind", "openat"}, []string{rules[0].Syscall, rules[1].Syscall, rules[2].Syscall})
		byName := make(map[string]bpf.Rule)
		for _, r := range rules {
			byName[r.Syscall] = r
		}
		assert.Equal(t, bpf.Rule{Syscall: "bind", AllErrnos: true}, byName["bind"])
		assert.ElementsMatch(t, []bpf.Errno{mustErrno(t, "ENOSPC"), mustErrno(t, "EMFILE"), mustErrno(t, "ENFILE"), mustErrno(t, "ENOENT")},
			byName["openat"].Errnos, "syscall_errnos replaces the syscall's defaults")
		for _, d := range defaults {
			if d.Syscall == "connect" {
				assert.Equal(t, d, byName["connect"], "a listed syscall without its own errnos keeps its defaults")
			}
		}
	})
}

func TestLoadFindingsConfig(t *testing.T) {
	t.Run("custom", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "findings")
		require.NoError(t, err)
		require.NoError(t, confmap.Validate(cfg))
		expected := findings.NewDefaultConfig()
		expected.QuietPeriod = 2 * time.Minute
		expected.MaxQuietPeriod = 20 * time.Minute
		expected.MaxSubjects = 64
		refused, denied := expected.Kinds["connection_refused"], expected.Kinds["permission_denied"]
		refused.Threshold, denied.Enabled = 20, false
		expected.Kinds["connection_refused"], expected.Kinds["permission_denied"] = refused, denied
		assert.Equal(t, expected, cfg.Findings, "a partial kind override keeps that kind's other defaults")
	})

	t.Run("disabled", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "findings_disabled")
		require.NoError(t, err)
		require.NoError(t, confmap.Validate(cfg))
		assert.False(t, cfg.Findings.Enabled)
	})

	t.Run("invalid settings name their field", func(t *testing.T) {
		cfg, err := loadTestConfig(t, "findings_invalid")
		require.NoError(t, err)
		require.NoError(t, cfg.Validate(), "the receiver's own Validate leaves the nested findings to the collector")
		err = confmap.Validate(cfg)
		require.Error(t, err)
		assert.ErrorContains(t, err, "findings: quiet_period must be positive, got 0s")
		assert.ErrorContains(t, err, "findings::kinds::disk_full: threshold must be at least 1 failure")
	})

	t.Run("unknown kind", func(t *testing.T) {
		_, err := loadTestConfig(t, "findings_unknown_kind")
		require.ErrorContains(t, err, "disk_ful")
	})
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		unmarshal string // error while reading the file
		validate  string // error from Validate
	}{
		{name: "unknown_syscall", validate: `syscalls: unknown syscall "opn"`},
		{name: "unknown_errno", validate: `errnos: unknown errno "ENOSPACE"`},
		{name: "all_with_names", validate: `syscall_errnos.connect: "all" already selects every errno`},
		{name: "ring_not_power_of_two", validate: "ring_buffer_size must be a power of two"},
		{name: "ring_bad_unit", unmarshal: `invalid size "4MB"`},
		{name: "negative_rate", validate: "rate_limit.events_per_second must be greater than zero and at most 1e+06, got -1"},
		{name: "zero_burst", validate: "rate_limit.burst must be at least 1"},
		{name: "zero_interval", validate: "collection_interval must be at least 1s, got 0s"},
		{name: "spinning_interval", validate: "collection_interval must be at least 1s, got 1ns (the sums are cumulative: a shorter interval adds load, not precision)"},
		{name: "empty_syscalls", validate: "syscalls is an empty list, which would watch nothing: list syscalls, or remove the setting to watch the default set"},
		{name: "empty_errnos", validate: `errnos is an empty list, which would report nothing: list errno names or write "all", or remove the setting to keep each syscall's default errnos`},
		{name: "internal_errno", validate: `errnos: ENOTSUPP (524) is a kernel-internal errno that cannot be listed by name; write "all" to report it`},
		{name: "internal_errno_of_one_syscall", validate: `syscall_errnos.openat: ERESTARTSYS (512) is a kernel-internal errno that cannot be listed by name; write "all" to report it`},
		{name: "huge_max_subjects", validate: "max_subjects must be between 1 and 4096, got 1000000"},
		{name: "bad_error_mode", validate: `error_mode must be "propagate" or "ignore", got "panic"`},
		{name: "huge_tracking_map", validate: "tracking_map_size must be between 1 and"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadTestConfig(t, tt.name)
			if tt.unmarshal != "" {
				require.ErrorContains(t, err, tt.unmarshal)
				return
			}
			require.NoError(t, err)
			// As the collector validates: every nested config (findings::) too.
			require.ErrorContains(t, confmap.Validate(cfg), tt.validate)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.CollectionInterval = -time.Second
	cfg.RateLimit.EventsPerSecond = 0
	cfg.Syscalls = []string{"nosuchcall"}
	err := cfg.Validate()
	require.Error(t, err)
	assert.ErrorContains(t, err, "collection_interval")
	assert.ErrorContains(t, err, "rate_limit.events_per_second")
	assert.ErrorContains(t, err, `syscalls: unknown syscall "nosuchcall"`)
}

func TestEveryDefaultSyscallCanBeWatchedAlone(t *testing.T) {
	for _, r := range bpf.DefaultRules() {
		cfg := createDefaultConfig()
		cfg.Syscalls = []string{r.Syscall}
		require.NoError(t, cfg.Validate(), r.Syscall)
		rules, err := cfg.rules()
		require.NoError(t, err)
		assert.Equal(t, []bpf.Rule{r}, rules, "a listed syscall keeps its default errnos")
	}
}

func TestUnwatchableSyscall(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Syscalls = []string{"getpid"}
	err := cfg.Validate()
	assert.ErrorContains(t, err, `syscalls: syscall "getpid" is not one syscallhealth can watch; watchable: `)
	assert.ErrorContains(t, err, "openat")
}

func TestByteSize(t *testing.T) {
	for text, want := range map[string]ByteSize{"1048576": 1 << 20, "1MiB": 1 << 20, "512KiB": 512 << 10, "2 GiB": 2 << 30, "4096B": 4096} {
		var b ByteSize
		require.NoError(t, b.UnmarshalText([]byte(text)), text)
		assert.Equal(t, want, b, text)
	}
	for _, text := range []string{"", "MiB", "-1MiB", "1.5MiB", "4MB", "lots"} {
		var b ByteSize
		assert.Error(t, b.UnmarshalText([]byte(text)), text)
	}
	assert.Equal(t, "4MiB", ByteSize(4<<20).String())
	assert.Equal(t, "3000", ByteSize(3000).String())
}
