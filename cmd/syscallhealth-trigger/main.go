//go:build linux

// Command syscallhealth-trigger causes exactly N real failures of one
// (syscall, errno) in its own process and prints what it did as one JSON line:
//
//	syscallhealth-trigger <scenario> -n N [flags]
//
// It exits non-zero, with the reason on stderr, when it could not cause
// exactly N failures. Use it to see syscallhealth report real failures.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/syscallhealth/syscallhealth/internal/trigger"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one invocation and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	scenario, opts, linger, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "syscallhealth-trigger: %v\n", err)
		return 2
	}
	result, err := scenario.Run(opts)
	if err != nil {
		fmt.Fprintf(stderr, "syscallhealth-trigger: %v\n", err)
		return 1
	}
	line, err := json.Marshal(result)
	if err != nil {
		fmt.Fprintf(stderr, "syscallhealth-trigger: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	// Staying alive lets a collector read this process's /proc entry.
	time.Sleep(linger)
	return 0
}

// parse reads "<scenario> -n N [flags]" and rejects flags the scenario does not use.
func parse(args []string, stderr io.Writer) (trigger.Scenario, trigger.Options, time.Duration, error) {
	var opts trigger.Options
	fs := flag.NewFlagSet("syscallhealth-trigger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(fs, stderr) }
	fs.IntVar(&opts.Failures, "n", 1, "exact number of failures to cause")
	fs.DurationVar(&opts.Interval, "interval", 0, "pause between failing calls (lets a rate limiter refill)")
	fs.StringVar(&opts.Comm, "comm", "", "name the process and its failing thread this (at most 15 bytes; escapes such as \\n are not interpreted)")
	fs.StringVar(&opts.Unix, "unix", "", "econnrefused: connect to this abstract unix socket, @NAME, instead of a loopback port")
	linger := fs.Duration("linger", 0, "stay alive this long after printing the result (so /proc/<pid> can be read)")
	fs.StringVar(&opts.Dir, "dir", "", "enospc: a tiny tmpfs to fill (mount -t tmpfs -o size=1m,nr_inodes=16 tmpfs DIR)")
	fs.StringVar(&opts.Syscall, "syscall", "write", "enospc: the failing call, write (blocks full) or openat (inodes full)")
	address := fs.String("address", "127.0.0.1", "econnrefused, etimedout, eaddrinuse: loopback address (127.0.0.1 or ::1)")
	port := fs.Uint("port", 0, "econnrefused: a closed port; etimedout: the port whose SYNs are dropped (0: 9); eaddrinuse: the port to hold (0: pick a free one)")
	fs.StringVar(&opts.Path, "path", "", "eacces: a file unreadable by uid 65534, e.g. mode 0600 owned by root")
	fs.StringVar(&opts.Cgroup, "cgroup", "", "eagain-fork: an existing pids cgroup directory (default: create and remove one)")
	fs.StringVar(&opts.Mode, "mode", "", "econnrefused, etimedout: how the client connects: blocking (econnrefused's default), nonblocking (EINPROGRESS, then poll and SO_ERROR; etimedout's default) or dial (Go net.Dial)")

	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			fs.Usage()
			return trigger.Scenario{}, opts, 0, flag.ErrHelp
		}
		fs.Usage()
		return trigger.Scenario{}, opts, 0, errors.New("the first argument must be a scenario: " + strings.Join(trigger.Names(), ", "))
	}
	scenario, ok := trigger.Lookup(args[0])
	if !ok {
		return trigger.Scenario{}, opts, 0, fmt.Errorf("unknown scenario %q; one of: %s", args[0], strings.Join(trigger.Names(), ", "))
	}
	if err := fs.Parse(args[1:]); err != nil {
		return scenario, opts, 0, err
	}
	if fs.NArg() > 0 {
		return scenario, opts, 0, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var misplaced []string
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) {
		given[f.Name] = true
		if !slices.Contains([]string{"n", "interval", "linger", "comm"}, f.Name) && !slices.Contains(scenario.Options, f.Name) {
			misplaced = append(misplaced, "-"+f.Name)
		}
	})
	if len(misplaced) > 0 {
		return scenario, opts, 0, fmt.Errorf("%s does not take %s", scenario.Name, strings.Join(misplaced, ", "))
	}
	// Left unset unless given: the scenario's default applies (127.0.0.1), and -unix can tell.
	if given["address"] {
		addr, err := netip.ParseAddr(*address)
		if err != nil {
			return scenario, opts, 0, fmt.Errorf("-address: %w", err)
		}
		opts.Address = addr
	}
	if *port > 65535 {
		return scenario, opts, 0, fmt.Errorf("-port %d is out of range", *port)
	}
	opts.Port = uint16(*port)
	if scenario.Name != "enospc" {
		opts.Syscall = ""
	}
	return scenario, opts, *linger, scenario.Validate(opts)
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "usage: syscallhealth-trigger <scenario> -n N [flags]\n\nCauses exactly N real failures of one syscall in this process and prints them as JSON.\n\nscenarios:\n")
	for _, s := range trigger.Scenarios() {
		fmt.Fprintf(w, "  %-13s %s", s.Name, s.Summary)
		if len(s.Options) > 0 {
			fmt.Fprintf(w, " (-%s)", strings.Join(s.Options, ", -"))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs.PrintDefaults()
}
