//go:build linux

package bpf

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// ProgramStat is the kernel's accounting of one loaded program. The kernel counts only while
// kernel.bpf_stats_enabled is 1 (off by default: each run then costs two clock reads), so both stay zero
// unless the administrator opted in.
type ProgramStat struct {
	Program  string
	RunCount uint64
	RunTime  time.Duration
}

// ProgramStats returns the accounting of every loaded program, by name.
func (p *Probe) ProgramStats() ([]ProgramStat, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, ErrClosed
	}
	out := make([]ProgramStat, 0, len(p.programs))
	for _, name := range slices.Sorted(maps.Keys(p.programs)) {
		s, err := p.programs[name].Stats()
		if err != nil {
			return nil, fmt.Errorf("reading the statistics of program %s: %w", name, err)
		}
		out = append(out, ProgramStat{Program: name, RunCount: s.RunCount, RunTime: s.Runtime})
	}
	return out, nil
}

// RingBufferFill is the share of the event ring buffer holding records not yet read, 0 to 1.
func (p *Probe) RingBufferFill() (float64, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return 0, ErrClosed
	}
	return float64(p.reader.AvailableBytes()) / float64(p.reader.BufferSize()), nil
}
