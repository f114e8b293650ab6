//go:build linux

// Command syscallhealth-bench measures what syscallhealth costs, side by side in one run, and writes
// BENCHMARKS.md (`make bench`, as root):
//
//   - ns per syscall, bare / empty tp_btf program / syscallhealth / the bpftrace one-liner, interleaved reps;
//   - nginx under wrk on loopback under each configuration;
//   - the highest failure rate whose every event reaches ConsumeLogs, findings on and off;
//   - kernel-to-ConsumeLogs latency at 10k events/s;
//   - the collector's RSS with and without the receiver, idle and after a 1M-failure storm.
//
// Every number comes from real syscalls on this machine; nothing is asserted, only reported.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// A bench is one run's settings.
type bench struct {
	self      string // this binary, re-executed as worker and generator
	collector string
	bpftrace  string
	wrk       string
	reps      int
	work      string // scratch directory
	started   time.Time
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%5.0fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

var sections = []string{"micro", "realistic", "sustained", "latency", "memory"}

func main() {
	if len(os.Args) > 1 {
		var err error
		switch os.Args[1] {
		case "worker":
			err = runWorker(os.Args[2:])
		case "generate":
			err = runGenerate(os.Args[2:])
		default:
			err = runBench(os.Args[1:])
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "syscallhealth-bench: %v\n", err)
			os.Exit(1)
		}
		return
	}
	if err := runBench(nil); err != nil {
		fmt.Fprintf(os.Stderr, "syscallhealth-bench: %v\n", err)
		os.Exit(1)
	}
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("syscallhealth-bench", flag.ContinueOnError)
	b := &bench{started: time.Now()}
	fs.StringVar(&b.collector, "collector", "bin/otelcol-syscallhealth", "the built collector")
	fs.IntVar(&b.reps, "reps", 5, "interleaved repetitions of each measurement")
	out := fs.String("out", "BENCHMARKS.md", "report to write")
	plot := fs.String("plot", "docs/bench-overhead.png", "plot to write (PNG, gnuplot)")
	only := fs.String("sections", strings.Join(sections, ","), "sections to run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the bench process (the in-process receiver of the sustained and latency runs) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: the bench loads eBPF programs (sudo make bench)")
	}
	var err error
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	for _, tool := range []struct {
		dst  *string
		name string
	}{{&b.bpftrace, "bpftrace"}, {&b.wrk, "wrk"}} {
		if *tool.dst, err = exec.LookPath(tool.name); err != nil {
			return fmt.Errorf("%s not found (make bench installs it: apt-get install %s)", tool.name, tool.name)
		}
	}
	if _, err := os.Stat(b.collector); err != nil {
		return fmt.Errorf("collector: %w (make build)", err)
	}
	if b.work, err = os.MkdirTemp("", "syscallhealth-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.work)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r := report{reps: b.reps, machine: describeMachine(b)}
	run := strings.Split(*only, ",")
	if slices.Contains(run, "micro") {
		if r.micro, err = b.runMicro(); err != nil {
			return err
		}
	}
	if slices.Contains(run, "realistic") {
		if r.realistic, err = b.runRealistic(); err != nil {
			return err
		}
	}
	if slices.Contains(run, "sustained") {
		for _, findings := range []bool{true, false} {
			runs, err := b.runSustained(findings)
			if err != nil {
				return err
			}
			r.sustained = append(r.sustained, sustainedResult{findings: findings, runs: runs})
		}
	}
	if slices.Contains(run, "latency") {
		lat, err := b.generateInto(true, latencyRate, latencyFor)
		if err != nil {
			return err
		}
		r.latency = &lat
		b.logf("latency at %d/s: %d of %d delivered, lost: %v", latencyRate, lat.delivered, lat.caused, lat.lost)
	}
	if slices.Contains(run, "memory") {
		if r.memory, err = b.runMemory(); err != nil {
			return err
		}
	}
	r.duration = time.Since(b.started)
	if r.micro != nil {
		if err := writePlot(r.micro, *plot, b.work); err != nil {
			return err
		}
		r.plot = *plot
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	b.logf("wrote %s", *out)
	return nil
}
