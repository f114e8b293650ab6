//go:build linux

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runGenerate is the child side of the throughput and latency runs: `syscallhealth-bench generate -rate R
// -for D` writes one byte to /dev/full R times a second for D (each write fails with ENOSPC, a watched
// failure) and prints how many failures it caused.
func runGenerate(args []string) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	rate := fs.Int("rate", 10_000, "failures per second")
	duration := fs.Duration("for", 10*time.Second, "how long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fd, err := unix.Open("/dev/full", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	one := []byte{0}
	// The parent closes stdin once it knows this process's pid.
	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	start := time.Now()
	caused := 0
	for {
		elapsed := time.Since(start)
		if elapsed >= *duration {
			break
		}
		due := int(elapsed.Seconds() * float64(*rate))
		if caused >= due {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		for ; caused < due; caused++ {
			if _, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&one[0])), 1); e != unix.ENOSPC {
				return fmt.Errorf("write to /dev/full returned %v, want ENOSPC", e)
			}
		}
	}
	fmt.Fprintln(os.Stdout, caused)
	return nil
}
