//go:build linux

package trigger

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// PidsHierarchy is the mounted cgroup hierarchy that holds the pids
// controller: a v1 "pids" mount, or the v2 unified one when pids is there.
type PidsHierarchy struct {
	Mount string // where it is mounted
	Root  string // the hierarchy path mounted there ("/" outside containers)
	V2    bool
}

// FindPidsHierarchy locates the pids hierarchy from /proc/self/mountinfo; the
// end-to-end tests use it too, to create their own pids cgroup.
func FindPidsHierarchy() (PidsHierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return PidsHierarchy{}, err
	}
	defer f.Close()
	return pidsHierarchyFrom(f, func(mount string) []string {
		controllers, _ := os.ReadFile(filepath.Join(mount, "cgroup.controllers"))
		return strings.Fields(string(controllers))
	})
}

// pidsHierarchyFrom parses mountinfo and prefers a v1 pids mount, since a
// controller bound to v1 is unavailable in v2; controllersOf lists the
// controllers of a v2 mount.
func pidsHierarchyFrom(mountinfo io.Reader, controllersOf func(mount string) []string) (PidsHierarchy, error) {
	var unified []PidsHierarchy
	s := bufio.NewScanner(mountinfo)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields, fs := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(fs) < 3 {
			continue
		}
		h := PidsHierarchy{Mount: fields[4], Root: fields[3]}
		switch fs[0] {
		case "cgroup":
			if slices.Contains(strings.Split(fs[2], ","), "pids") {
				return h, nil
			}
		case "cgroup2":
			h.V2 = true
			unified = append(unified, h)
		}
	}
	if err := s.Err(); err != nil {
		return PidsHierarchy{}, err
	}
	for _, h := range unified {
		if slices.Contains(controllersOf(h.Mount), "pids") {
			return h, nil
		}
	}
	return PidsHierarchy{}, fmt.Errorf("no cgroup hierarchy with the pids controller is mounted (looked for a v1 pids mount and a v2 mount listing pids in cgroup.controllers)")
}

// current returns the directory of this process's cgroup in the hierarchy.
func (h PidsHierarchy) current() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	return h.dirFrom(string(data))
}

// dirFrom finds the hierarchy's line in a /proc/<pid>/cgroup text
// ("id:controllers:path"; v2 is "0::path") and returns the cgroup directory.
func (h PidsHierarchy) dirFrom(procCgroup string) (string, error) {
	for line := range strings.Lines(procCgroup) {
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		v2Line := parts[0] == "0" && parts[1] == ""
		if h.V2 != v2Line || (!h.V2 && !slices.Contains(strings.Split(parts[1], ","), "pids")) {
			continue
		}
		rel := parts[2]
		if h.Root != "/" {
			rel = strings.TrimPrefix(rel, h.Root)
		}
		return filepath.Join(h.Mount, rel), nil
	}
	return "", fmt.Errorf("this process has no cgroup in the pids hierarchy at %s", h.Mount)
}
