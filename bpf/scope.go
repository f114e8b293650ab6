package bpf

import (
	"fmt"
	"strings"
)

// Workloads says which side of the host/container divide is watched.
type Workloads uint8

const (
	// WorkloadsAll watches processes inside and outside containers.
	WorkloadsAll Workloads = iota
	// WorkloadsHost watches only processes outside containers.
	WorkloadsHost
	// WorkloadsContainers watches only processes inside containers.
	WorkloadsContainers
)

// Scope selects the processes whose failures are watched. The kernel applies it
// before anything is counted: a failure outside the scope is in no count, no
// event and no statistic. The zero value watches every process.
type Scope struct {
	// Include, when any of its lists is non-nil, limits watching to processes
	// that match at least one of its entries: a non-nil empty list matches
	// nothing (e.g. cgroup rules whose cgroups do not exist yet).
	Include ScopeMatch
	// Exclude leaves out processes that match any of its entries; it wins over Include.
	Exclude   ScopeMatch
	Workloads Workloads
	// Containers are the cgroups of containers (ids in the probe's hierarchy,
	// descendants included), which tell host from container for Workloads.
	Containers []uint64
}

// ScopeMatch lists what processes are matched by; an entry of any list matches.
type ScopeMatch struct {
	// UIDs are real user ids (at most 8).
	UIDs []uint32
	// Executables are file names of the process's executable (at most 8, each
	// at most 31 bytes), as in process.executable.name.
	Executables []string
	// Cgroups are cgroup ids in the probe's hierarchy (Options.CgroupController):
	// processes in these cgroups and in their descendants, also those created later.
	Cgroups []uint64
}

const (
	maxScopeIDs      = 8
	maxScopeNames    = 8
	maxScopeNameLen  = 31
	maxScopeCgroups  = 8192 / 2 // health.h SCOPE_MAX_CGROUPS, per config slot
	scopeFlagInclude = 1
	scopeFlagUIDs    = 2
	scopeFlagExecs   = 4
	scopeFlagCgroups = 8
	scopeFlagHost    = 16
	scopeFlagContain = 32
	scopeMarkInclude = 1
	scopeMarkExclude = 2
	scopeMarkContain = 4
)

// set reports whether any list is given, even empty.
func (m ScopeMatch) set() bool {
	return m.UIDs != nil || m.Executables != nil || m.Cgroups != nil
}

// Validate reports the first invalid field, naming it.
func (s Scope) Validate() error {
	for _, l := range []struct {
		name string
		m    ScopeMatch
	}{{"Scope.Include", s.Include}, {"Scope.Exclude", s.Exclude}} {
		if len(l.m.UIDs) > maxScopeIDs {
			return fmt.Errorf("%s.UIDs: %d user ids, at most %d", l.name, len(l.m.UIDs), maxScopeIDs)
		}
		if len(l.m.Executables) > maxScopeNames {
			return fmt.Errorf("%s.Executables: %d names, at most %d", l.name, len(l.m.Executables), maxScopeNames)
		}
		for i, name := range l.m.Executables {
			if name == "" || len(name) > maxScopeNameLen || strings.ContainsAny(name, "/\x00") {
				return fmt.Errorf("%s.Executables[%d] %q: must be a file name of 1 to %d bytes without '/'", l.name, i, name, maxScopeNameLen)
			}
		}
	}
	if s.Workloads > WorkloadsContainers {
		return fmt.Errorf("Scope.Workloads %d: unknown", s.Workloads)
	}
	if n := len(s.cgroupMarks()); n > maxScopeCgroups {
		return fmt.Errorf("Scope: %d cgroups named by the cgroup rules and containers, at most %d", n, maxScopeCgroups)
	}
	return nil
}

// cgroupMarks is the scope_cgroups content of the scope: each named cgroup with its marks.
func (s Scope) cgroupMarks() map[uint64]uint32 {
	marks := make(map[uint64]uint32)
	for _, id := range s.Include.Cgroups {
		marks[id] |= scopeMarkInclude
	}
	for _, id := range s.Exclude.Cgroups {
		marks[id] |= scopeMarkExclude
	}
	if s.Workloads != WorkloadsAll {
		for _, id := range s.Containers {
			marks[id] |= scopeMarkContain
		}
	}
	return marks
}

// kernelFlags is the scope's health_config.scope_flags: which checks the kernel runs.
func (s Scope) kernelFlags() uint32 {
	var f uint32
	if s.Include.set() {
		f |= scopeFlagInclude
	}
	if len(s.Include.UIDs)+len(s.Exclude.UIDs) > 0 {
		f |= scopeFlagUIDs
	}
	if len(s.Include.Executables)+len(s.Exclude.Executables) > 0 {
		f |= scopeFlagExecs
	}
	if len(s.Include.Cgroups)+len(s.Exclude.Cgroups) > 0 || s.Workloads != WorkloadsAll {
		f |= scopeFlagCgroups
	}
	switch s.Workloads {
	case WorkloadsHost:
		f |= scopeFlagHost
	case WorkloadsContainers:
		f |= scopeFlagContain
	}
	return f
}

func (m ScopeMatch) kernelMatch() healthScopeMatch {
	var k healthScopeMatch
	k.N_uids = uint8(copy(k.Uids[:], m.UIDs))
	for i, name := range m.Executables {
		for j := range len(name) {
			k.Executables[i][j] = int8(name[j])
		}
	}
	k.N_executables = uint8(len(m.Executables))
	return k
}
