package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
)

// v1Controllers are the cgroup v1 controllers whose hierarchy is read on v1
// and hybrid hosts, in order of preference: container runtimes and the kubelet
// create every container's and pod's cgroup in each of them.
var v1Controllers = []string{"pids", "memory", "cpu"}

// Hierarchy is the cgroup hierarchy the kernel probe reads a failing task's cgroup from.
type Hierarchy struct {
	// Controller is the v1 controller whose hierarchy it is; "" for the v2 (unified) hierarchy.
	Controller string
	// Mount is where the hierarchy is mounted here.
	Mount string
	// Root is the hierarchy's path mounted there: "/" unless only a subtree is visible.
	Root string
}

// HierarchyFromMountInfo picks the hierarchy from a mount table (the text of /proc/<pid>/mountinfo):
// the first of the pids, memory and cpu v1 controllers that is mounted, else the v2 hierarchy. On hybrid
// hosts the v2 mount may hold no process, while the v1 controllers hold every container.
func HierarchyFromMountInfo(mountinfo io.Reader) (Hierarchy, error) {
	v1 := make(map[string]Hierarchy)
	var v2 *Hierarchy
	s := bufio.NewScanner(mountinfo)
	for s.Scan() {
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields, fs := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(fs) < 3 {
			continue
		}
		h := Hierarchy{Mount: unescapeMountinfo(fields[4]), Root: unescapeMountinfo(fields[3])}
		switch fs[0] {
		case "cgroup":
			for _, c := range v1Controllers {
				if _, seen := v1[c]; !seen && slices.Contains(strings.Split(fs[2], ","), c) {
					h.Controller = c
					v1[c] = h
				}
			}
		case "cgroup2":
			if v2 == nil {
				v2 = &h
			}
		}
	}
	if err := s.Err(); err != nil {
		return Hierarchy{}, fmt.Errorf("reading mountinfo: %w", err)
	}
	for _, c := range v1Controllers {
		if h, ok := v1[c]; ok {
			return h, nil
		}
	}
	if v2 != nil {
		return *v2, nil
	}
	return Hierarchy{}, errors.New("no cgroup hierarchy is mounted (looked for cgroup2 and the v1 pids, memory and cpu controllers in mountinfo)")
}

// unescapeMountinfo undoes the octal escapes (\040 for space) of mountinfo paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Dir is the directory of the cgroup at path (as the kernel and /proc/<pid>/cgroup show it); false when
// the cgroup is outside the mounted subtree.
func (h Hierarchy) Dir(path string) (string, bool) {
	rel := path
	if h.Root != "/" {
		var ok bool
		if rel, ok = strings.CutPrefix(path, h.Root); !ok || (rel != "" && rel[0] != '/') {
			return "", false
		}
	}
	return filepath.Join(h.Mount, rel), true
}

// Path is the cgroup path of the directory dir under Mount.
func (h Hierarchy) Path(dir string) string {
	rel, err := filepath.Rel(h.Mount, dir)
	if err != nil || rel == "." {
		return h.Root
	}
	return filepath.Join(h.Root, rel)
}
