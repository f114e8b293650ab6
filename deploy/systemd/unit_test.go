// Package systemd_test checks the systemd unit: systemd-analyze verify accepts it without a word, and it
// runs the collector as the sysusers.d user with exactly CAP_BPF and CAP_PERFMON.
package systemd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	unitFile      = "otelcol-syscallhealth.service"
	sysusersFile  = "otelcol-syscallhealth.conf"
	collectorPath = "../../bin/otelcol-syscallhealth"
	installedPath = "/usr/local/bin/otelcol-syscallhealth"
)

// unitSettings reads the unit's Key=Value lines (each key once).
func unitSettings(t *testing.T, unit string) map[string]string {
	t.Helper()
	settings := make(map[string]string)
	for line := range strings.Lines(unit) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", unitFile, line)
		}
		if _, dup := settings[key]; dup {
			t.Fatalf("%s: %s is set twice", unitFile, key)
		}
		settings[key] = value
	}
	return settings
}

func TestUnitPrivileges(t *testing.T) {
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	s := unitSettings(t, string(unit))
	users, err := os.ReadFile(sysusersFile)
	if err != nil {
		t.Fatal(err)
	}
	// sysusers.d: "u <name> <id> <gecos> <home> <shell>"
	declared := regexp.MustCompile(`(?m)^u (\S+) - `).FindStringSubmatch(string(users))
	if declared == nil || s["User"] != declared[1] || s["Group"] != declared[1] {
		t.Errorf("User/Group %q/%q must be the user %s declares", s["User"], s["Group"], sysusersFile)
	}
	for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if s[key] != "CAP_BPF CAP_PERFMON" {
			t.Errorf("%s must be exactly CAP_BPF CAP_PERFMON, got %q", key, s[key])
		}
	}
	if s["NoNewPrivileges"] != "yes" || s["ProtectSystem"] != "strict" {
		t.Errorf("NoNewPrivileges=yes and ProtectSystem=strict are expected, got %q and %q", s["NoNewPrivileges"], s["ProtectSystem"])
	}
	if !strings.HasPrefix(s["ExecStart"], installedPath+" --config=") {
		t.Errorf("ExecStart must run %s with a --config, got %q", installedPath, s["ExecStart"])
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit as shipped, but for ExecStart's path, which
// points at the collector that make build built (verify checks that the command exists). Warnings, such as
// an unknown key, fail the test too.
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd); .ci/run installs it")
	}
	collector, err := filepath.Abs(collectorPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(collector); err != nil {
		t.Fatalf("%s is missing (%v): run `make build` first (`make test` builds it)", collector, err)
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := strings.Replace(string(unit), "ExecStart="+installedPath+" ", "ExecStart="+collector+" ", 1)
	if rewritten == string(unit) {
		t.Fatalf("ExecStart does not run %s", installedPath)
	}
	path := filepath.Join(t.TempDir(), unitFile)
	if err := os.WriteFile(path, []byte(rewritten), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}
