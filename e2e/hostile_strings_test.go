//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/internal/safetext"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
	"github.com/syscallhealth/syscallhealth/internal/trigger/triggertest"
)

// The strings an unprivileged user chose to forge console lines, clear the screen and break UTF-8.
const (
	hostileComm   = "ev\n\x1b[31mil"
	hostileSocket = "@x failed\nFAKE LINE \x1b[2J"
	hostileFile   = "secret-\xff\xfe"
)

// TestHostileStringsReachEveryExporterEscaped: uid 65534 names its process with a newline and a color
// escape, connects to an abstract unix socket whose name forges a line and clears the screen, and opens a
// root-only file whose name is not UTF-8. Every record arrives, escaped: the file exporter writes valid
// UTF-8 JSON, a strict protobuf decoder accepts the records, and the debug exporter prints no forged line
// and no escape byte.
func TestHostileStringsReachEveryExporterEscaped(t *testing.T) {
	requireCollector(t)
	work := t.TempDir()
	triggerPath := triggertest.Build(t)
	require.NoError(t, os.Chmod(filepath.Dir(work), 0o755))
	require.NoError(t, os.Chmod(work, 0o755))
	secret := filepath.Join(work, hostileFile)
	require.NoError(t, os.WriteFile(secret, []byte("root only"), 0o600))

	output := filepath.Join(work, "output.json")
	collector := startCollector(t, "testdata/hostile.yaml", output)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	linger := []string{"-comm", hostileComm, "-linger", triggerLinger.String()}
	refused, err := triggertest.RunAs(nobody, triggerPath, append([]string{"econnrefused", "-n", "3", "-unix", hostileSocket}, linger...)...)
	require.NoError(t, err)
	denied, err := triggertest.RunAs(nobody, triggerPath, append([]string{"eacces", "-n", "2", "-path", secret}, linger...)...)
	require.NoError(t, err)

	want := map[*trigger.Result]int{&refused: 3, &denied: 2}
	var logs []logRecord
	deadline := time.Now().Add(outputTimeout)
	for {
		var points []dataPoint
		logs, points = readOutput(t, output)
		complete := true
		for r, n := range want {
			complete = complete && len(recordsOf(logs, *r)) == n && latestValue(points, "syscallhealth.failures", seriesOf(*r)) == int64(n)
		}
		if complete {
			break
		}
		require.False(t, time.Now().After(deadline), "after %s the records or counts of the triggers are missing\n%s", outputTimeout, collector.logTail())
		time.Sleep(250 * time.Millisecond)
	}
	collector.stop(t)

	for _, lr := range recordsOf(logs, refused) {
		attrs, resource := lr.record.Attributes().AsRaw(), lr.resource.AsRaw()
		assert.Equal(t, `@x failed\nFAKE LINE \x1b[2J`, attrs["network.peer.address"])
		assert.Equal(t, `connect to @x failed\nFAKE LINE \x1b[2J failed: ECONNREFUSED (Connection refused)`, lr.record.Body().Str())
		assert.Contains(t, resource["process.command_args"], `ev\n\x1b[31mil`, "each argument escaped on its own")
		assert.Equal(t, `ev\n\x1b[31mil`, attrs["thread.name"], "the comm the trigger gave itself")
		assert.Equal(t, int64(65534), resource["process.user.id"])
	}
	for _, lr := range recordsOf(logs, denied) {
		escaped := safetext.Escape(secret)
		assert.True(t, strings.HasSuffix(escaped, `/secret-\xff\xfe`), escaped)
		assert.Equal(t, escaped, lr.record.Attributes().AsRaw()["file.path"])
		assert.Equal(t, `openat("`+escaped+`") failed: EACCES (Permission denied)`, lr.record.Body().Str())
	}

	raw, err := os.ReadFile(output)
	require.NoError(t, err)
	for line := range bytes.Lines(raw) {
		require.True(t, utf8.Valid(line), "the file exporter wrote a line that is not UTF-8: %q", line)
		require.True(t, json.Valid(line), "the file exporter wrote a line that is not JSON: %q", line)
		if bytes.Contains(line, []byte(`"resourceLogs"`)) {
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			require.NoError(t, err)
			testenv.RequireStrictOTLPLogs(t, ld)
		} else {
			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			require.NoError(t, err)
			testenv.RequireStrictOTLPMetrics(t, md)
		}
	}

	console := strings.Join(collector.log, "\n")
	assert.Contains(t, console, `FAKE LINE \x1b[2J`, "the debug exporter printed the socket name, escaped")
	assert.NotContains(t, console, "\x1b", "no escape byte reaches the console")
	for _, line := range collector.log {
		assert.False(t, strings.HasPrefix(strings.TrimSpace(line), "FAKE LINE"), "forged console line %q", line)
	}
}
