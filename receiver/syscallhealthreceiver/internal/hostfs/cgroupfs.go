package hostfs

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// CgroupHierarchy is a mounted cgroup hierarchy that can hold pids.max.
type CgroupHierarchy struct {
	V2         bool   // cgroup2 (unified) rather than the v1 pids controller
	MountPoint string // where it is mounted, under the root (a path the receiver can open)
	Root       string // the hierarchy path mounted there, usually "/"
}

// PidsHierarchies finds the v1 pids controller and cgroup2 mounts, v1 first because on hybrid
// hosts it holds the limits. They are read from the receiver's own mount table, or, under a
// root_path, from the host's (pid 1's), whose mount points are then found under the root.
func (h *Host) PidsHierarchies() ([]CgroupHierarchy, error) {
	return call(h.calls, "cgroup hierarchies", func() ([]CgroupHierarchy, error) {
		raw, under, err := h.cgroupMountTable()
		if err != nil {
			return nil, err
		}
		t, err := ParseMountInfo(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		var v1, v2 []CgroupHierarchy
		for _, m := range t.mounts {
			switch m.FSType {
			case "cgroup":
				if hasOption(m.SuperOptions, "pids") {
					v1 = append(v1, CgroupHierarchy{MountPoint: filepath.Join(under, m.MountPoint), Root: m.Root})
				}
			case "cgroup2":
				v2 = append(v2, CgroupHierarchy{V2: true, MountPoint: filepath.Join(under, m.MountPoint), Root: m.Root})
			}
		}
		return append(v1, v2...), nil
	})
}

// ScopeHierarchy is the cgroup hierarchy the kernel probe reads failing tasks' cgroups from
// (cgroups.HierarchyFromMountInfo), with its mount point under the root.
func (h *Host) ScopeHierarchy() (cgroups.Hierarchy, error) {
	return call(h.calls, "cgroup hierarchy", func() (cgroups.Hierarchy, error) {
		raw, under, err := h.cgroupMountTable()
		if err != nil {
			return cgroups.Hierarchy{}, err
		}
		hier, err := cgroups.HierarchyFromMountInfo(bytes.NewReader(raw))
		hier.Mount = filepath.Join(under, hier.Mount)
		return hier, err
	})
}

// cgroupMountTable is the mount table that shows the host's cgroup mounts: the receiver's own, or, under a
// root_path, the host's (pid 1's), whose mount points are then found under the root (under).
func (h *Host) cgroupMountTable() (raw []byte, under string, err error) {
	source := h.procPath("self", "mountinfo")
	if h.root != "/" {
		source, under = h.pidPath(1, "mountinfo"), h.root
	}
	raw, truncated, err := readLimited(source, maxMountInfoBytes)
	if err != nil {
		return nil, "", err
	}
	if truncated {
		h.stats.mountTableTooLarge.Add(1)
		return nil, "", ErrTooLarge
	}
	return raw, under, nil
}

// PidsState is the pids controller's state of one cgroup.
type PidsState struct {
	// Max is pids.max; Limited is false for "max" (no limit here).
	Max     int64
	Limited bool
	Current int64 // pids.current; -1 when unreadable
	// MaxEvents is the "max" counter of pids.events (forks the limit refused); -1 when unreadable.
	MaxEvents int64
}

// Pids reads pids.max, pids.current and pids.events of cgroup path rel (relative to the hierarchy's root).
func (h *Host) Pids(hier CgroupHierarchy, rel string) (PidsState, error) {
	return call(h.calls, "pids cgroup", func() (PidsState, error) {
		dir := filepath.Join(hier.MountPoint, rel)
		maxText, err := readSmall(filepath.Join(dir, "pids.max"))
		if err != nil {
			return PidsState{}, err
		}
		s := PidsState{Current: -1, MaxEvents: -1}
		if limit, err := strconv.ParseInt(string(bytes.TrimSpace(maxText)), 10, 64); err == nil {
			s.Max, s.Limited = limit, true
		}
		if raw, err := readSmall(filepath.Join(dir, "pids.current")); err == nil {
			if v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64); err == nil {
				s.Current = v
			}
		}
		if raw, err := readSmall(filepath.Join(dir, "pids.events")); err == nil {
			s.MaxEvents = parsePidsMaxEvents(string(raw))
		}
		return s, nil
	})
}

// parsePidsMaxEvents reads the "max" line of pids.events; -1 when missing.
func parsePidsMaxEvents(raw string) int64 {
	for line := range strings.SplitSeq(raw, "\n") {
		if v, ok := strings.CutPrefix(line, "max "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}
