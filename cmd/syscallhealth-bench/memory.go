//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// A memorySample is one collector run's footprint.
type memorySample struct {
	idleRSSKiB, stormRSSKiB int64
	idle                    residentBreakdown
	memlockBytes            int64
	stormCPU                time.Duration // collector CPU from the storm's start until it settled
	stormWall               time.Duration
}

const (
	idleSettle = 10 * time.Second
	// The storm: stormProcesses processes, each failing stormPerProcess times (openat EMFILE), two at a time.
	stormProcesses  = 20
	stormPerProcess = 50_000
	stormSettle     = 5 * time.Second
)

// runMemory starts the same binary with the otlp-only config and with the syscallhealth-only config
// (default receiver settings), interleaved, and reads their RSS when idle and after a 1M-failure storm.
func (b *bench) runMemory() (map[string][]memorySample, error) {
	res := map[string][]memorySample{}
	configs := []struct{ name, config string }{{"otlp", otlpOnly}, {"syscallhealth", receiverOnly("")}}
	for rep := range b.reps {
		for i := range configs {
			c := configs[(i+rep)%len(configs)]
			s, err := b.measureCollector(c.name, c.config)
			if err != nil {
				return nil, err
			}
			res[c.name] = append(res[c.name], s)
			b.logf("memory rep %d/%d: %s idle %d KiB, after storm %d KiB", rep+1, b.reps, c.name, s.idleRSSKiB, s.stormRSSKiB)
		}
	}
	return res, nil
}

func (b *bench) measureCollector(name, config string) (memorySample, error) {
	var s memorySample
	c, err := b.runCollector("memory-"+name, config)
	if err != nil {
		return s, err
	}
	defer c.stop()
	time.Sleep(idleSettle)
	if s.idleRSSKiB, err = residentKiB(c.pid()); err != nil {
		return s, err
	}
	if s.idle, err = residentByKind(c.pid()); err != nil {
		return s, err
	}
	if s.memlockBytes, err = bpfMemlockBytes(c.pid()); err != nil {
		return s, err
	}
	cpuBefore, err := processCPU(c.pid())
	if err != nil {
		return s, err
	}
	started := time.Now()
	if err := b.storm(); err != nil {
		return s, err
	}
	time.Sleep(stormSettle)
	s.stormWall = time.Since(started)
	cpuAfter, err := processCPU(c.pid())
	if err != nil {
		return s, err
	}
	s.stormCPU = cpuAfter - cpuBefore
	s.stormRSSKiB, err = residentKiB(c.pid())
	return s, err
}

// storm causes stormProcesses*stormPerProcess real failures, two worker processes at a time.
func (b *bench) storm() error {
	sem := make(chan struct{}, 2)
	errs := make(chan error, stormProcesses)
	for range stormProcesses {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			cmd := exec.Command(b.self, "worker", "-case", "openat-emfile", "-cpu", "-1", "-calls", strconv.Itoa(stormPerProcess))
			cmd.Stderr = os.Stderr
			if out, err := cmd.Output(); err != nil {
				errs <- fmt.Errorf("storm worker: %w (%s)", err, out)
			}
		}()
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	close(errs)
	return <-errs
}
