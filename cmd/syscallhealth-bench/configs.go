//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// A configuration is what is attached to the kernel while a workload runs.
type configuration struct {
	name  string
	title string
	// start attaches the configuration and returns what detaches it.
	start func(b *bench) (stop func() error, err error)
}

// bpftraceProgram is the count one-liner users compare us with (the baseline).
const bpftraceProgram = `tracepoint:raw_syscalls:sys_exit /args->ret < 0/ { @[pid, args->id, args->ret] = count(); }`

var configurations = []configuration{
	{"bare", "bare", func(*bench) (func() error, error) { return func() error { return nil }, nil }},
	{"empty", "empty tp_btf program (floor)", startEmptyProgram},
	{"syscallhealth", "syscallhealth (default config)", func(b *bench) (func() error, error) {
		return b.startCollector("syscallhealth", receiverOnly(""))
	}},
	{"syscallhealth-every", "syscallhealth (rate limit off)", func(b *bench) (func() error, error) {
		return b.startCollector("syscallhealth-every", receiverOnly(everyEventSettings))
	}},
	{"bpftrace", "bpftrace count one-liner", startBpftrace},
}

// everyEventSettings turn the rate limit off and give the ring room for every event of a short burst.
const everyEventSettings = `
    rate_limit: {events_per_second: 1000000, burst: 4294967295}
    ring_buffer_size: 64MiB`

// startEmptyProgram attaches a tp_btf program that does nothing on sys_exit: the cost every sys_exit hook
// pays before its first instruction (the syscall slow path and the program call).
func startEmptyProgram(*bench) (func() error, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name:         "bench_empty",
		Type:         ebpf.Tracing,
		AttachType:   ebpf.AttachTraceRawTp,
		AttachTo:     "sys_exit",
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return nil, fmt.Errorf("loading the empty tp_btf program: %w", err)
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("attaching the empty tp_btf program: %w", err)
	}
	return func() error { return errors.Join(l.Close(), prog.Close()) }, nil
}

// startBpftrace runs the bpftrace one-liner until it has attached.
func startBpftrace(b *bench) (func() error, error) {
	cmd := exec.Command(b.bpftrace, "-e", bpftraceProgram)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// bpftrace warns that it cannot raise RLIMIT_MEMLOCK (root here lacks CAP_SYS_RESOURCE; the kernel
	// charges BPF memory to the cgroup anyway): keep its stderr out of the bench's output.
	stderr, err := os.Create(filepath.Join(b.work, "bpftrace.log"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting bpftrace: %w", err)
	}
	if err := waitForLine(stdout, "Attaching", 60*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("bpftrace: %w", err)
	}
	go io.Copy(io.Discard, stdout) // the map it prints at exit
	return func() error {
		cmd.Process.Signal(syscall.SIGINT)
		return waitOrKill(cmd, 30*time.Second)
	}, nil
}

// receiverOnly is a collector config with the syscallhealth receiver, plus extra receiver settings (indented
// four spaces).
func receiverOnly(settings string) string {
	return collectorConfig("syscallhealth", "  syscallhealth:\n    collection_interval: 10s"+settings)
}

// otlpOnly is the same binary's baseline config: the collector framework without our receiver.
var otlpOnly = collectorConfig("otlp", "  otlp:\n    protocols:\n      grpc:\n        endpoint: 127.0.0.1:0")

// collectorConfig is a collector config with one receiver (its YAML under receivers:) into a debug exporter
// that prints one line per batch, with no internal metrics endpoint (nothing listens on a fixed port).
func collectorConfig(name, receiverYAML string) string {
	return "receivers:\n" + receiverYAML + `
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    logs: {receivers: [` + name + `], exporters: [debug]}
    metrics: {receivers: [` + name + `], exporters: [debug]}
`
}

// A runningCollector is the built collector binary started by the bench.
type runningCollector struct {
	cmd *exec.Cmd
}

// startCollector runs the collector binary with config and waits until it is ready.
func (b *bench) startCollector(name, config string) (func() error, error) {
	c, err := b.runCollector(name, config)
	if err != nil {
		return nil, err
	}
	return c.stop, nil
}

func (b *bench) runCollector(name, config string) (*runningCollector, error) {
	path := filepath.Join(b.work, name+".yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(b.collector, "--config="+path)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", b.collector, err)
	}
	if err := waitForLine(stderr, "Everything is ready", 90*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("collector with %s: %w", path, err)
	}
	go io.Copy(io.Discard, stderr)
	return &runningCollector{cmd: cmd}, nil
}

func (c *runningCollector) pid() int { return c.cmd.Process.Pid }

func (c *runningCollector) stop() error {
	c.cmd.Process.Signal(syscall.SIGTERM)
	return waitOrKill(c.cmd, 30*time.Second)
}

// waitForLine reads r until a line contains want, keeping the last lines for the error.
func waitForLine(r io.Reader, want string, timeout time.Duration) error {
	found := make(chan error, 1)
	go func() {
		s := bufio.NewScanner(r)
		var tail []string
		for s.Scan() {
			if strings.Contains(s.Text(), want) {
				found <- nil
				return
			}
			tail = append(tail, s.Text())
			if len(tail) > 20 {
				tail = tail[1:]
			}
		}
		found <- fmt.Errorf("exited before %q:\n%s", want, strings.Join(tail, "\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case err := <-found:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no %q after %s", want, timeout)
	}
}

func waitOrKill(cmd *exec.Cmd, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %s and was killed", cmd.Path, timeout)
	}
}
