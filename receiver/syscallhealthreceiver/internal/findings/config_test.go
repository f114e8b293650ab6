package findings

import (
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/confmap"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := NewDefaultConfig()
	if err := confmap.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	if !cfg.Enabled || cfg.QuietPeriod != time.Minute || cfg.MaxQuietPeriod != 10*time.Minute || cfg.MaxSubjects != 1024 {
		t.Errorf("engine defaults: %+v", cfg)
	}
	thresholds := map[Kind]uint64{
		KindDiskFull: 1, KindReadOnlyFilesystem: 1, KindIOError: 1, KindFDExhaustion: 1, KindMemoryExhaustion: 3,
		KindProcessLimit: 1, KindConnectionRefused: 5, KindConnectionTimeout: 3, KindNetworkUnreachable: 3,
		KindPortConflict: 1, KindPermissionDenied: 3,
	}
	for _, k := range Kinds() {
		rule := cfg.Kinds.rule(k)
		if !rule.Enabled || rule.Threshold != thresholds[k] || rule.Window != time.Minute {
			t.Errorf("%s default rule = %+v", k, rule)
		}
	}
}

func TestConfigValidateNamesFields(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.QuietPeriod = 0
	cfg.MaxSubjects = 0
	setRule(&cfg, KindDiskFull, func(r *KindConfig) { r.Threshold = 0 })
	setRule(&cfg, KindPermissionDenied, func(r *KindConfig) { r.Window = 10 * time.Millisecond })
	err := confmap.Validate(&cfg)
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, want := range []string{
		"quiet_period must be positive",
		"max_subjects must be between 1 and 4096, got 0",
		"kinds::disk_full: threshold must be at least 1 failure",
		"kinds::permission_denied: window must be at least 1s, got 10ms",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	cfg = NewDefaultConfig()
	cfg.MaxQuietPeriod = 30 * time.Second
	if err := confmap.Validate(&cfg); err == nil || !strings.Contains(err.Error(), "max_quiet_period (30s) must be at least quiet_period (1m0s)") {
		t.Errorf("max_quiet_period below quiet_period: error %v", err)
	}
}

func TestConfigUnmarshalKeepsDefaults(t *testing.T) {
	cfg := NewDefaultConfig()
	conf := confmap.NewFromStringMap(map[string]any{
		"quiet_period": "2m",
		"kinds": map[string]any{
			"connection_refused": map[string]any{"threshold": 10},
			"permission_denied":  map[string]any{"enabled": false},
		},
	})
	if err := conf.Unmarshal(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.QuietPeriod != 2*time.Minute || cfg.MaxQuietPeriod != 10*time.Minute {
		t.Errorf("quiet periods %s/%s", cfg.QuietPeriod, cfg.MaxQuietPeriod)
	}
	if r := cfg.Kinds.rule(KindConnectionRefused); r.Threshold != 10 || r.Window != time.Minute || !r.Enabled {
		t.Errorf("partially overridden rule lost its defaults: %+v", r)
	}
	if cfg.Kinds.rule(KindPermissionDenied).Enabled || cfg.Kinds.rule(KindPermissionDenied).Threshold != 3 {
		t.Errorf("permission_denied = %+v", cfg.Kinds.rule(KindPermissionDenied))
	}

	bad := confmap.NewFromStringMap(map[string]any{"kinds": map[string]any{"disk_ful": map[string]any{"threshold": 2}}})
	if err := bad.Unmarshal(&cfg); err == nil || !strings.Contains(err.Error(), "disk_ful") {
		t.Errorf("a misspelt kind must be rejected, got %v", err)
	}
}

// setRule changes the rule of one kind.
func setRule(c *Config, k Kind, change func(*KindConfig)) {
	r := c.Kinds.rule(k)
	change(&r)
	c.Kinds[k.String()] = r
}

func TestConfigUnmarshalRefusesUnknownKindsAndFields(t *testing.T) {
	for conf, want := range map[string]string{
		"disk_ful":  `unknown kind "disk_ful" (kinds: disk_full, read_only_filesystem, io_error,`,
		"disk_full": `disk_full: decoding failed`,
	} {
		cfg := NewDefaultConfig()
		rule := map[string]any{"threshold": 2}
		if conf == "disk_full" {
			rule = map[string]any{"treshold": 2}
		}
		err := confmap.NewFromStringMap(map[string]any{"kinds": map[string]any{conf: rule}}).Unmarshal(&cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("kinds::%s: error %v, want %q", conf, err, want)
		}
	}
}
