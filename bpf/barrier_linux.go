//go:build linux && (amd64 || arm64)

package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// programBarrier waits for every running BPF program to finish: the kernel
// calls synchronize_rcu after an update of a map-in-map, so that userspace
// knows no program still uses the value it replaced (maybe_wait_bpf_programs).
// The probe uses it after switching config slots (once Update returns, no
// program still reads the old slot, and the next Update may overwrite it) and
// after detaching (once Detach returns, no program counts or queues anything).
type programBarrier struct {
	outer, inner *ebpf.Map
}

func newProgramBarrier() (*programBarrier, error) {
	innerSpec := &ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	inner, err := ebpf.NewMap(innerSpec)
	if err != nil {
		return nil, fmt.Errorf("creating the program barrier: %w", err)
	}
	outer, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.ArrayOfMaps, KeySize: 4, MaxEntries: 1, InnerMap: innerSpec})
	if err != nil {
		inner.Close()
		return nil, fmt.Errorf("creating the program barrier: %w", err)
	}
	return &programBarrier{outer: outer, inner: inner}, nil
}

// wait returns once every BPF program that was running when it was called has finished.
func (b *programBarrier) wait() error {
	if err := b.outer.Put(uint32(0), b.inner); err != nil {
		return fmt.Errorf("waiting for the running BPF programs to finish: %w", err)
	}
	return nil
}

func (b *programBarrier) Close() error {
	return errors.Join(b.outer.Close(), b.inner.Close())
}
