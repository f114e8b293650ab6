package findings

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxPidsEventCounters bounds the remembered pids.events counters (one per limited cgroup).
const maxPidsEventCounters = 256

// pidsLimit is a cgroup whose pids limit made a fork fail.
type pidsLimit struct {
	cgroup string // path within the cgroup hierarchy, e.g. "/kubepods/pod1/c1"
	max    int64
}

// cgroupHierarchy is a mounted cgroup hierarchy that can hold pids.max.
type cgroupHierarchy struct {
	v2         bool   // cgroup2 (unified) rather than the v1 pids controller
	mountPoint string // e.g. /sys/fs/cgroup/pids
	root       string // the hierarchy path mounted there, usually "/"
}

// pidsLimits tells whether a failed fork is explained by a pids cgroup limit (v1
// pids controller or cgroup v2, hybrid hosts included) rather than by RLIMIT_NPROC.
type pidsLimits struct {
	procRoot    string
	hierarchies []cgroupHierarchy
	// lastMaxEvents remembers the "max" counter of each limited cgroup's pids.events:
	// when it grows, that cgroup's limit refused a fork.
	lastMaxEvents map[string]uint64
}

func newPidsLimits(procRoot string) *pidsLimits {
	return &pidsLimits{procRoot: procRoot, lastMaxEvents: make(map[string]uint64)}
}

// limitHit returns the innermost cgroup of pid that is at its pids limit or whose
// limit refused a fork since it was last looked at.
func (p *pidsLimits) limitHit(pid uint32) (pidsLimit, bool) {
	if len(p.hierarchies) == 0 {
		p.hierarchies = p.discoverHierarchies()
	}
	data, err := os.ReadFile(filepath.Join(p.procRoot, strconv.FormatUint(uint64(pid), 10), "cgroup"))
	if err != nil {
		return pidsLimit{}, false
	}
	var v1Path, v2Path string
	for line := range strings.SplitSeq(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2Path = parts[2]
		} else if hasOption(parts[1], "pids") {
			v1Path = parts[2]
		}
	}
	for _, h := range p.hierarchies {
		cgPath := v1Path
		if h.v2 {
			cgPath = v2Path
		}
		if cgPath == "" {
			continue
		}
		if hit, ok := p.walk(h, cgPath); ok {
			return hit, true
		}
	}
	return pidsLimit{}, false
}

// walk checks the cgroup and its ancestors, innermost first.
func (p *pidsLimits) walk(h cgroupHierarchy, cgPath string) (pidsLimit, bool) {
	rel := cgPath
	if h.root != "/" {
		if !pathWithin(cgPath, h.root) {
			return pidsLimit{}, false
		}
		rel = strings.TrimPrefix(cgPath, h.root)
	}
	rel = filepath.Clean("/" + rel)
	for {
		if hit, ok := p.check(filepath.Join(h.mountPoint, rel), rel); ok {
			return hit, true
		}
		if rel == "/" {
			return pidsLimit{}, false
		}
		rel = filepath.Dir(rel)
	}
}

func (p *pidsLimits) check(dir, rel string) (pidsLimit, bool) {
	maxText, err := os.ReadFile(filepath.Join(dir, "pids.max"))
	if err != nil {
		return pidsLimit{}, false
	}
	limit, err := strconv.ParseInt(strings.TrimSpace(string(maxText)), 10, 64)
	if err != nil { // "max": no limit here
		return pidsLimit{}, false
	}
	hit := false
	if current, err := readInt(filepath.Join(dir, "pids.current")); err == nil && current >= limit {
		hit = true
	}
	if events, ok := readPidsMaxEvents(filepath.Join(dir, "pids.events")); ok {
		prev, known := p.lastMaxEvents[dir]
		if (known && events > prev) || (!known && events > 0) {
			hit = true
		}
		if !known && len(p.lastMaxEvents) >= maxPidsEventCounters {
			clear(p.lastMaxEvents)
		}
		p.lastMaxEvents[dir] = events
	}
	if !hit {
		return pidsLimit{}, false
	}
	return pidsLimit{cgroup: rel, max: limit}, true
}

// discoverHierarchies finds the v1 pids controller and cgroup2 mounts in the
// collector's own mount table; v1 first because on hybrid hosts it holds the limits.
func (p *pidsLimits) discoverHierarchies() []cgroupHierarchy {
	f, err := os.Open(filepath.Join(p.procRoot, "self", "mountinfo"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var v1, v2 []cgroupHierarchy
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		m, err := parseMountInfoLine(sc.Text())
		if err != nil {
			continue
		}
		switch m.FSType {
		case "cgroup":
			if hasOption(fields[len(fields)-1], "pids") {
				v1 = append(v1, cgroupHierarchy{mountPoint: m.MountPoint, root: m.Root})
			}
		case "cgroup2":
			v2 = append(v2, cgroupHierarchy{v2: true, mountPoint: m.MountPoint, root: m.Root})
		}
	}
	return append(v1, v2...)
}

func readInt(name string) (int64, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
}

// readPidsMaxEvents reads the "max" line of pids.events: forks refused by this cgroup's limit.
func readPidsMaxEvents(name string) (uint64, bool) {
	data, err := os.ReadFile(name)
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "max "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
