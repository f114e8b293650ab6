package cgroups

import (
	"slices"
	"strings"
)

// Rules are the cgroup-based rules of one scope include or exclude list.
type Rules struct {
	// Paths are cgroup paths as /proc/<pid>/cgroup shows them; their descendants match too.
	Paths []string
	// ContainerIDs are container ids, or prefixes of them of at least 12 digits.
	ContainerIDs []string
	// PodUIDs are Kubernetes pod uids.
	PodUIDs []string
}

// Empty reports whether no rule is set.
func (r Rules) Empty() bool {
	return len(r.Paths) == 0 && len(r.ContainerIDs) == 0 && len(r.PodUIDs) == 0
}

// Match reports whether the cgroup at path, named base, with the container id of its own name
// (IdentityOf(base).ContainerID), is named by r.
func (r Rules) Match(path, base, container string) bool {
	if slices.Contains(r.Paths, path) {
		return true
	}
	if container != "" && slices.ContainsFunc(r.ContainerIDs, func(id string) bool { return strings.HasPrefix(container, id) }) {
		return true
	}
	if len(r.PodUIDs) > 0 {
		if uid := podUIDFromSegment(base); uid != "" && slices.Contains(r.PodUIDs, uid) {
			return true
		}
	}
	return false
}

// Resolution is what scope rules name at one moment: cgroup ids in the hierarchy (kernfs ids, what the
// kernel probe reads), sorted.
type Resolution struct {
	Include, Exclude []uint64
	// Containers are the cgroups of containers (each container's outermost one).
	Containers []uint64
}

// Equal reports whether two resolutions name the same cgroups.
func (r Resolution) Equal(o Resolution) bool {
	return slices.Equal(r.Include, o.Include) && slices.Equal(r.Exclude, o.Exclude) && slices.Equal(r.Containers, o.Containers)
}
