//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

func TestRunPrintsOneJSONLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"eaddrinuse", "-n", "3"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var r trigger.Result
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r))
	assert.Equal(t, trigger.Result{PID: os.Getpid(), TID: r.TID, Syscall: "bind", Errno: "EADDRINUSE", Failures: 3, Address: "127.0.0.1", Port: r.Port}, r)
	assert.Equal(t, 1, bytes.Count(stdout.Bytes(), []byte("\n")))

	var raw map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &raw))
	assert.ElementsMatch(t, []string{"pid", "tid", "syscall", "errno", "failures", "address", "port"}, keys(raw))
}

// TestRunHostileNames: a process named with a newline and a terminal escape fails to connect to an
// abstract unix socket whose name holds the same; the kernel keeps both as they are.
func TestRunHostileNames(t *testing.T) {
	var stdout, stderr bytes.Buffer
	comm, socket := "ev\n\x1b[31mil", "@x failed\nFAKE LINE \x1b[2J"
	code := run([]string{"econnrefused", "-n", "2", "-unix", socket, "-comm", comm}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	var r trigger.Result
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r))
	assert.Equal(t, trigger.Result{PID: os.Getpid(), TID: r.TID, Syscall: "connect", Errno: "ECONNREFUSED", Failures: 2, Address: socket, Mode: "blocking"}, r)
	threadComm, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/comm", r.TID))
	require.NoError(t, err)
	assert.Equal(t, comm+"\n", string(threadComm))
	leaderComm, err := os.ReadFile("/proc/self/comm")
	require.NoError(t, err)
	assert.Equal(t, comm+"\n", string(leaderComm))
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, 2, "the first argument must be a scenario"},
		{[]string{"-n", "3"}, 2, "the first argument must be a scenario"},
		{[]string{"enoent"}, 2, `unknown scenario "enoent"`},
		{[]string{"emfile", "-n", "0"}, 2, "at least 1"},
		{[]string{"emfile", "-dir", "/tmp"}, 2, "emfile does not take -dir"},
		{[]string{"econnrefused", "-address", "192.0.2.1"}, 2, "loopback"},
		{[]string{"econnrefused", "-port", "70000"}, 2, "out of range"},
		{[]string{"econnrefused", "-mode", "async"}, 2, "-mode must be one of"},
		{[]string{"emfile", "-mode", "dial"}, 2, "emfile does not take -mode"},
		{[]string{"etimedout", "-address", "192.0.2.1"}, 2, "loopback"},
		{[]string{"enospc", "-n", "2"}, 2, "-dir is required"},
		{[]string{"emfile", "extra"}, 2, "unexpected arguments"},
		{[]string{"eacces", "-path", "/nonexistent/secret"}, 1, "no such file"},
		{[]string{"econnrefused", "-unix", "/run/app.sock"}, 2, "-unix must be an abstract socket name"},
		{[]string{"econnrefused", "-unix", "@app", "-port", "80"}, 2, "does not take -address, -port or -mode"},
		{[]string{"eaddrinuse", "-unix", "@app"}, 2, "eaddrinuse does not take -unix"},
		{[]string{"emfile", "-comm", "a-name-longer-than-15"}, 2, "at most 15 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tt.wantCode, run(tt.args, &stdout, &stderr))
			assert.Contains(t, stderr.String(), tt.wantErr)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 0, run([]string{"-h"}, &stdout, &stderr))
	for _, name := range trigger.Names() {
		assert.Contains(t, stderr.String(), name)
	}
}

func keys(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}
