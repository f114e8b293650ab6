package findings

import (
	"path"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// maxPidsEventCounters bounds the remembered pids.events counters (one per limited cgroup).
const maxPidsEventCounters = 256

// pidsLimit is a cgroup whose pids limit made a fork fail.
type pidsLimit struct {
	cgroup string // path within the cgroup hierarchy, e.g. "/kubepods/pod1/c1"
	max    int64
}

// pidsLimits tells whether a failed fork is explained by a pids cgroup limit (v1
// pids controller or cgroup v2, hybrid hosts included) rather than by RLIMIT_NPROC.
// Safe for concurrent use; no lock is held during a lookup.
type pidsLimits struct {
	host *hostfs.Host

	mu          sync.Mutex
	hierarchies []hostfs.CgroupHierarchy
	// lastMaxEvents remembers the "max" counter of each limited cgroup's pids.events:
	// when it grows, that cgroup's limit refused a fork.
	lastMaxEvents map[string]int64
	// evicted counts the counters forgotten to stay within maxPidsEventCounters.
	evicted atomic.Uint64
}

func newPidsLimits(host *hostfs.Host) *pidsLimits {
	return &pidsLimits{host: host, lastMaxEvents: make(map[string]int64)}
}

// limitHit returns the innermost cgroup of pid that is at its pids limit or whose
// limit refused a fork since it was last looked at.
func (p *pidsLimits) limitHit(pid uint32) (pidsLimit, bool) {
	hierarchies := p.discovered()
	cgroups, err := p.host.Cgroups(pid)
	if err != nil {
		return pidsLimit{}, false
	}
	var v1Path, v2Path string
	for _, cg := range cgroups {
		if cg.V2() {
			v2Path = cg.Path
		} else if cg.HasController("pids") {
			v1Path = cg.Path
		}
	}
	for _, h := range hierarchies {
		cgPath := v1Path
		if h.V2 {
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

func (p *pidsLimits) discovered() []hostfs.CgroupHierarchy {
	p.mu.Lock()
	h := p.hierarchies
	p.mu.Unlock()
	if len(h) > 0 {
		return h
	}
	h, err := p.host.PidsHierarchies()
	if err != nil {
		return nil
	}
	p.mu.Lock()
	p.hierarchies = h
	p.mu.Unlock()
	return h
}

// walk checks the cgroup and its ancestors, innermost first.
func (p *pidsLimits) walk(h hostfs.CgroupHierarchy, cgPath string) (pidsLimit, bool) {
	rel := cgPath
	if h.Root != "/" {
		if !hostfs.PathWithin(cgPath, h.Root) {
			return pidsLimit{}, false
		}
		rel = strings.TrimPrefix(cgPath, h.Root)
	}
	rel = path.Clean("/" + rel)
	for {
		if hit, ok := p.check(h, rel); ok {
			return hit, true
		}
		if rel == "/" {
			return pidsLimit{}, false
		}
		rel = path.Dir(rel)
	}
}

func (p *pidsLimits) check(h hostfs.CgroupHierarchy, rel string) (pidsLimit, bool) {
	s, err := p.host.Pids(h, rel)
	if err != nil || !s.Limited {
		return pidsLimit{}, false
	}
	hit := s.Current >= s.Max
	if s.MaxEvents >= 0 {
		key := h.Root + "\x00" + rel
		if h.V2 {
			key = "v2" + key
		}
		p.mu.Lock()
		prev, known := p.lastMaxEvents[key]
		if (known && s.MaxEvents > prev) || (!known && s.MaxEvents > 0) {
			hit = true
		}
		if !known && len(p.lastMaxEvents) >= maxPidsEventCounters {
			p.evicted.Add(uint64(len(p.lastMaxEvents)))
			clear(p.lastMaxEvents)
		}
		p.lastMaxEvents[key] = s.MaxEvents
		p.mu.Unlock()
	}
	if !hit {
		return pidsLimit{}, false
	}
	return pidsLimit{cgroup: rel, max: s.Max}, true
}
