//go:build linux

// Package triggertest builds the trigger CLI (cmd/syscallhealth-trigger) and
// runs it as a separate process for the system and end-to-end tests, which
// need the failures in a process of their own. It is imported by tests only.
package triggertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

// BinaryEnv names a prebuilt trigger binary that Build returns instead of
// building one: test binaries run where there is no Go toolchain (the kernel
// matrix's guests) find the trigger there.
const BinaryEnv = "SYSCALLHEALTH_TRIGGER"

// Build builds the trigger CLI into a fresh temporary directory and returns
// the binary's path (or returns $SYSCALLHEALTH_TRIGGER's when set).
func Build(tb testing.TB) string {
	tb.Helper()
	if bin := os.Getenv(BinaryEnv); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			tb.Fatalf("%s=%s: %v", BinaryEnv, bin, err)
		}
		return bin
	}
	bin := filepath.Join(tb.TempDir(), "syscallhealth-trigger")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/syscallhealth/syscallhealth/cmd/syscallhealth-trigger")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building syscallhealth-trigger: %v\n%s", err, out)
	}
	return bin
}

// Process is one run of the trigger CLI. Run and Result are separate so a
// caller can time the process alone.
type Process struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
}

// Command prepares the trigger at bin with a scenario and its flags in args.
func Command(bin string, args ...string) *Process {
	p := &Process{cmd: exec.Command(bin, args...)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	return p
}

// WithSysProcAttr sets how the process is started (e.g. in a cgroup: testenv.Cgroup.SysProcAttr).
func (p *Process) WithSysProcAttr(attr *syscall.SysProcAttr) *Process {
	p.cmd.SysProcAttr = attr
	return p
}

// Run runs the process to its end; a failure carries what it wrote to stderr.
func (p *Process) Run() error {
	if err := p.cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(p.cmd.Args, " "), err, p.stderr.String())
	}
	return nil
}

// Result parses the JSON line the finished process printed and checks that
// the failures were its own.
func (p *Process) Result() (trigger.Result, error) {
	var r trigger.Result
	if err := json.Unmarshal(p.stdout.Bytes(), &r); err != nil {
		return trigger.Result{}, fmt.Errorf("trigger output %q: %w", p.stdout.String(), err)
	}
	if r.PID != p.cmd.Process.Pid {
		return r, fmt.Errorf("trigger reported pid %d, ran as %d", r.PID, p.cmd.Process.Pid)
	}
	return r, nil
}

// RunAs is Run as another user (the credential of the process).
func RunAs(cred *syscall.Credential, bin string, args ...string) (trigger.Result, error) {
	p := Command(bin, args...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := p.Run(); err != nil {
		return trigger.Result{}, err
	}
	return p.Result()
}

// Run runs the trigger at bin (scenario and flags in args) and returns the
// result it printed. It reports errors rather than failing a test, so several
// triggers can run at once from goroutines.
func Run(bin string, args ...string) (trigger.Result, error) {
	p := Command(bin, args...)
	if err := p.Run(); err != nil {
		return trigger.Result{}, err
	}
	return p.Result()
}
