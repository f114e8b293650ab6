//go:build linux

// Command syscallhealth-record records real failure events from the kernel
// probes into a trace file (health_trace.json) for decoding and conversion
// tests. It loads the probes, runs syscallhealth-trigger processes that cause
// known failures (EMFILE, ENOSPC, ENOMEM, ECONNREFUSED over IPv4 and IPv6,
// EADDRINUSE, EACCES, EAGAIN on clone), keeps the events of those processes
// and checks that the kernel counted every failure. It needs root.
//
//	syscallhealth-record -trigger bin/syscallhealth-trigger -o receiver/syscallhealthreceiver/testdata/health_trace.json
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/healthtrace"
	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

// settle is how long events may still arrive after the last trigger exited.
const settle = time.Second

func main() {
	triggerPath := flag.String("trigger", "bin/syscallhealth-trigger", "the syscallhealth-trigger binary (make build builds it)")
	output := flag.String("o", "receiver/syscallhealthreceiver/testdata/health_trace.json", "trace file to write")
	flag.Parse()
	if err := record(*triggerPath, *output); err != nil {
		fmt.Fprintf(os.Stderr, "syscallhealth-record: %v\n", err)
		os.Exit(1)
	}
}

func record(triggerPath, output string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it loads the eBPF probes, mounts a tmpfs, and its triggers setuid and use a pids cgroup")
	}
	if _, err := os.Stat(triggerPath); err != nil {
		return fmt.Errorf("trigger binary: %w (run make build)", err)
	}
	work, err := os.MkdirTemp("", "syscallhealth-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	scenarios, cleanup, err := prepareScenarios(work)
	defer cleanup()
	if err != nil {
		return err
	}

	probe, err := bpf.Load(bpf.Options{IncludePaths: true})
	if err != nil {
		return err
	}
	defer probe.Close()
	clock := bpf.NewBootClock()
	var (
		mu     sync.Mutex
		events []bpf.Event
	)
	readErr := make(chan error, 1)
	go func() {
		for {
			var ev bpf.Event
			err := probe.ReadEvent(&ev)
			switch {
			case errors.Is(err, bpf.ErrClosed):
				readErr <- nil
				return
			case err != nil:
				readErr <- err
				return
			}
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		}
	}()

	trace := healthtrace.Trace{
		RecordedAt: time.Now().UTC(),
		Kernel:     kernelRelease(),
		Arch:       runtime.GOARCH,
		Hook:       string(probe.Hook()),
		Command:    "make record-trace",
	}
	for _, args := range scenarios {
		r, err := runTrigger(triggerPath, args)
		if err != nil {
			return err
		}
		trace.Runs = append(trace.Runs, healthtrace.Run{Args: args, Trigger: r})
	}
	time.Sleep(settle)
	counts, err := probe.Counts()
	if err != nil {
		return fmt.Errorf("reading the kernel counts: %w", err)
	}
	if err := probe.Close(); err != nil {
		return err
	}
	if err := <-readErr; err != nil {
		return fmt.Errorf("reading events: %w", err)
	}

	for i := range trace.Runs {
		run := &trace.Runs[i]
		key, err := countKey(run.Trigger)
		if err != nil {
			return err
		}
		for j := range events {
			if events[j].PID == uint32(run.Trigger.PID) {
				run.Events = append(run.Events, healthtrace.FromBPF(&events[j], clock.Time(events[j].TimestampNs)))
				key.ProcessStartNs = events[j].ProcessStartNs // the trigger's process, whatever had its PID before
			}
		}
		for _, c := range counts {
			if c.Key == key {
				run.Count = c.Count
			}
		}
		if run.Count != uint64(run.Trigger.Failures) || len(run.Events) == 0 {
			return fmt.Errorf("%s: the kernel counted %d failures and sent %d events; the trigger caused %d",
				strings.Join(run.Args, " "), run.Count, len(run.Events), run.Trigger.Failures)
		}
	}
	data, err := json.MarshalIndent(trace, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(output, append(data, '\n'), 0o644); err != nil {
		return err
	}
	for _, run := range trace.Runs {
		fmt.Printf("%-60s %3d failures counted, %3d events\n", strings.Join(run.Args, " "), run.Count, len(run.Events))
	}
	fmt.Printf("wrote %s\n", output)
	return nil
}

// prepareScenarios mounts the tiny tmpfs filesystems and writes the root-only
// file the scenarios need, and returns the trigger arguments.
func prepareScenarios(work string) ([][]string, func(), error) {
	var mounts []string
	cleanup := func() {
		for _, m := range mounts {
			unix.Unmount(m, 0)
		}
	}
	mount := func(name, opts string) (string, error) {
		dir := filepath.Join(work, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return "", err
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
			return "", fmt.Errorf("mounting a tmpfs on %s: %w", dir, err)
		}
		mounts = append(mounts, dir)
		return dir, nil
	}
	blocks, err := mount("blocks", "size=1m")
	if err != nil {
		return nil, cleanup, err
	}
	inodes, err := mount("inodes", "size=1m,nr_inodes=8")
	if err != nil {
		return nil, cleanup, err
	}
	// uid 65534 may traverse work (0755) but not read the file (0600).
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, cleanup, err
	}
	secret := filepath.Join(work, "secret")
	if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
		return nil, cleanup, err
	}
	return [][]string{
		{"emfile", "-n", "3"},
		// Rate limited: 30 failures 20 ms apart outlast the burst, so later events report suppressed failures.
		{"emfile", "-n", "30", "-interval", "20ms"},
		{"enospc", "-n", "3", "-dir", blocks},
		{"enospc", "-n", "3", "-dir", inodes, "-syscall", "openat"},
		{"enomem", "-n", "2"},
		{"econnrefused", "-n", "3"},
		{"econnrefused", "-n", "2", "-address", "::1"},
		{"eaddrinuse", "-n", "3"},
		{"eaddrinuse", "-n", "2", "-address", "::1"},
		{"eacces", "-n", "2", "-path", secret},
		{"eagain-fork", "-n", "2"},
	}, cleanup, nil
}

func runTrigger(path string, args []string) (trigger.Result, error) {
	cmd := exec.Command(path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return trigger.Result{}, fmt.Errorf("%s %s: %w: %s", path, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	var r trigger.Result
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("trigger output %q: %w", stdout.String(), err)
	}
	return r, nil
}

func countKey(r trigger.Result) (bpf.CountKey, error) {
	nr, ok := bpf.SyscallByName(r.Syscall)
	if !ok {
		return bpf.CountKey{}, fmt.Errorf("syscall %q does not exist on %s", r.Syscall, runtime.GOARCH)
	}
	errno, ok := bpf.ErrnoByName(r.Errno)
	if !ok {
		return bpf.CountKey{}, fmt.Errorf("unknown errno %q", r.Errno)
	}
	return bpf.CountKey{PID: uint32(r.PID), Syscall: nr, Errno: errno}, nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
