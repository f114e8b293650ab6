package syscallhealthreceiver

import (
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/confmap"
	"go.yaml.in/yaml/v3"
)

// FuzzConfigUnmarshal: any receiver configuration a user can write is read and validated without a
// panic, and a configuration that passes validation yields kernel probe options the probe accepts
// and a collection interval that cannot spin. Seeds: every configuration of testdata/config.yaml.
func FuzzConfigUnmarshal(f *testing.F) {
	raw, err := os.ReadFile(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	var named map[string]any
	if err := yaml.Unmarshal(raw, &named); err != nil {
		f.Fatal(err)
	}
	for _, sub := range named {
		seed, err := yaml.Marshal(sub)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(seed))
	}
	f.Add("syscalls: [openat, openat]\nsyscall_errnos: {openat: [all]}\n")
	f.Add("errnos: [errno_255, errno_256]\n")
	f.Add("ring_buffer_size: 18446744073709551615\n")
	f.Fuzz(func(t *testing.T, text string) {
		var settings map[string]any
		if yaml.Unmarshal([]byte(text), &settings) != nil {
			return
		}
		cfg := createDefaultConfig()
		if confmap.NewFromStringMap(settings).Unmarshal(cfg) != nil {
			return
		}
		if confmap.Validate(cfg) != nil {
			return
		}
		opts, err := cfg.probeOptions()
		if err != nil {
			t.Fatalf("valid configuration %q: probe options: %v", text, err)
		}
		if err := opts.Validate(); err != nil {
			t.Fatalf("valid configuration %q: the probe rejects its options: %v", text, err)
		}
		if cfg.CollectionInterval < minCollectionInterval || len(opts.Rules) == 0 {
			t.Fatalf("valid configuration %q: interval %s, %d rules", text, cfg.CollectionInterval, len(opts.Rules))
		}
	})
}
