//go:build linux && (amd64 || arm64)

package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

const (
	// cgroupDefaultHierarchy mirrors health.h CGROUP_DEFAULT_HIERARCHY: read the v2 hierarchy.
	cgroupDefaultHierarchy = 0xffffffff
	// cgroupSubsysSlots mirrors kernel.h CGROUP_SUBSYS_SLOTS, the bound of the controller index.
	cgroupSubsysSlots = 16
)

// cgroupSubsysIndex returns the running kernel's index of a cgroup v1
// controller (its enum cgroup_subsys_id value), which selects the controller's
// hierarchy in a task's css_set; "" selects the v2 hierarchy.
func cgroupSubsysIndex(controller string) (uint32, error) {
	if controller == "" {
		return cgroupDefaultHierarchy, nil
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return 0, fmt.Errorf("CgroupController %q: reading the kernel's BTF: %w", controller, err)
	}
	var ids *btf.Enum
	if err := spec.TypeByName("cgroup_subsys_id", &ids); err != nil {
		return 0, fmt.Errorf("CgroupController %q: the kernel's BTF has no enum cgroup_subsys_id: %w", controller, err)
	}
	index, count := -1, -1
	var known []string
	for _, v := range ids.Values {
		if v.Name == "CGROUP_SUBSYS_COUNT" {
			count = int(v.Value)
			continue
		}
		known = append(known, v.Name[:len(v.Name)-len("_cgrp_id")])
		if v.Name == controller+"_cgrp_id" {
			index = int(v.Value)
		}
	}
	switch {
	case index < 0:
		return 0, fmt.Errorf("CgroupController %q: not a controller of this kernel (it has %v)", controller, known)
	case count > cgroupSubsysSlots || index >= cgroupSubsysSlots:
		return 0, fmt.Errorf("CgroupController %q: index %d of %d controllers is beyond the probe's %d", controller, index, count, cgroupSubsysSlots)
	}
	return uint32(index), nil
}

// writeScope replaces the scope_cgroups entries of config slot with the scope's cgroups.
func (p *Probe) writeScope(s Scope, slot uint32) error {
	var stale []healthScopeKey
	var key healthScopeKey
	var mark uint32
	it := p.scopeCgroups.Iterate()
	for it.Next(&key, &mark) {
		if key.Slot == slot {
			stale = append(stale, key)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading the scope cgroups: %w", err)
	}
	for _, k := range stale {
		if err := p.scopeCgroups.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("clearing the scope cgroups: %w", err)
		}
	}
	for id, marks := range s.cgroupMarks() {
		if err := p.scopeCgroups.Put(healthScopeKey{CgroupId: id, Slot: slot}, marks); err != nil {
			return fmt.Errorf("writing the scope cgroups: %w", err)
		}
	}
	return nil
}
