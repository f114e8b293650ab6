package findings

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// The Kinds table of the repository README states each kind's default rule and severity from the kinds table.
func TestReadmeKindsTableMatchesTheKinds(t *testing.T) {
	raw, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := make(map[string][]string)
	for line := range strings.Lines(string(raw)) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = cells
	}
	cfg := NewDefaultConfig()
	for _, k := range Kinds() {
		cells, ok := rows[k.String()]
		if !ok {
			t.Errorf("README: no row for kind %s", k)
			continue
		}
		rule := cfg.Kinds.rule(k)
		noun := "failures"
		if rule.Threshold == 1 {
			noun = "failure"
		}
		if want := fmt.Sprintf("%d %s in %s", rule.Threshold, noun, formatDuration(rule.Window)); strings.TrimSpace(cells[4]) != want {
			t.Errorf("README %s: default rule %q, want %q", k, strings.TrimSpace(cells[4]), want)
		}
		if want := k.Severity().String(); strings.TrimSpace(cells[5]) != want {
			t.Errorf("README %s: severity %q, want %q", k, strings.TrimSpace(cells[5]), want)
		}
	}
}

// The findings settings table of the repository README states the defaults and bounds of the code.
func TestReadmeFindingsSettingsMatchTheDefaults(t *testing.T) {
	raw, err := os.ReadFile("../../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start := strings.Index(text, "### Configuration (`findings:`)")
	if start < 0 {
		t.Fatal("README: no findings configuration section")
	}
	rows := make(map[string][]string)
	for line := range strings.Lines(text[start:]) {
		if strings.HasPrefix(line, "```") {
			break
		}
		cells := strings.Split(strings.TrimSpace(line), " | ")
		if len(cells) == 3 {
			rows[strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")] = cells
		}
	}
	cfg := NewDefaultConfig()
	for setting, want := range map[string]string{
		"enabled":             fmt.Sprintf("`%t`", cfg.Enabled),
		"quiet_period":        "`" + formatDuration(cfg.QuietPeriod) + "`",
		"max_quiet_period":    "`" + formatDuration(cfg.MaxQuietPeriod) + "`",
		"max_subjects":        fmt.Sprintf("`%d`", cfg.MaxSubjects),
		"kinds.<kind>.window": "`" + formatDuration(defaultWindow) + "`",
	} {
		if cells, ok := rows[setting]; !ok || cells[1] != want {
			t.Errorf("README findings setting %s: %v, want default %s", setting, cells, want)
		}
	}
	if cells := rows["max_subjects"]; len(cells) == 3 && !strings.Contains(cells[2], fmt.Sprintf("1 to %d", maxMaxSubjects)) {
		t.Errorf("README max_subjects bound: %q, want 1 to %d", cells[2], maxMaxSubjects)
	}
	if cells := rows["kinds.<kind>.window"]; len(cells) == 3 && !strings.Contains(cells[2], "at least "+formatDuration(minWindow)) {
		t.Errorf("README window bound: %q, want at least %s", cells[2], formatDuration(minWindow))
	}
}

// Every watchable syscall (the bpf syscall table) has its own word in finding texts.
func TestEveryWatchedSyscallHasANoun(t *testing.T) {
	for _, rule := range bpf.DefaultRules() {
		if singular, _ := syscallNoun(rule.Syscall); singular == rule.Syscall+" call" {
			t.Errorf("syscallNoun(%q) has no word for it: finding texts would say %q", rule.Syscall, singular)
		}
	}
}
