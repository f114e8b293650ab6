//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/cgroups"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// scopeRescanInterval paces resolving the scope again when the cgroups cannot be watched.
const scopeRescanInterval = time.Second

// scopeKeeper keeps the kernel's scope current: the cgroups that the scope's paths, container ids and
// pod uids name (and the containers' cgroups, for workloads) come and go, and each change is applied
// to the probe in one atomic switch.
type scopeKeeper struct {
	cfg       ScopeConfig
	hierarchy cgroups.Hierarchy
	logger    *zap.Logger
	// opts are the probe options the scope is part of; only opts.Scope changes.
	opts bpf.Options
	last cgroups.Resolution
}

func newScopeKeeper(cfg ScopeConfig, hierarchy cgroups.Hierarchy, opts bpf.Options, logger *zap.Logger) *scopeKeeper {
	s := &scopeKeeper{cfg: cfg, hierarchy: hierarchy, logger: logger, opts: opts}
	s.last = s.resolve()
	s.opts.Scope = s.kernelScope()
	return s
}

func (s *scopeKeeper) resolve() cgroups.Resolution {
	rules := func(m ScopeMatchConfig) cgroups.Rules {
		return cgroups.Rules{Paths: m.Cgroups, ContainerIDs: m.ContainerIDs, PodUIDs: m.K8sPodUIDs}
	}
	return hostfs.ResolveScope(s.hierarchy, rules(s.cfg.Include), rules(s.cfg.Exclude), s.cfg.Workloads == WorkloadsHost || s.cfg.Workloads == WorkloadsContainers)
}

func (s *scopeKeeper) kernelScope() bpf.Scope {
	return s.cfg.kernelScope(s.last.Include, s.last.Exclude, s.last.Containers)
}

// run follows the hierarchy until ctx ends, updating the probe whenever the scope's cgroups change.
func (s *scopeKeeper) run(ctx context.Context, probe kernelProbe) {
	if !s.cfg.watchesCgroups() {
		return
	}
	err := hostfs.WatchCgroups(ctx, s.hierarchy, func() { s.refresh(probe) })
	if ctx.Err() != nil {
		return
	}
	s.logger.Warn("cgroups cannot be watched; the scope's cgroups are resolved again every second instead", zap.Error(err))
	ticker := time.NewTicker(scopeRescanInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			s.refresh(probe)
		}
	}
}

func (s *scopeKeeper) refresh(probe kernelProbe) {
	res := s.resolve()
	if res.Equal(s.last) {
		return
	}
	s.last = res
	s.opts.Scope = s.kernelScope()
	if err := probe.Update(s.opts); err != nil {
		s.logger.Warn("updating the kernel's scope failed; the previous one stays in force", zap.Error(err))
		return
	}
	s.logger.Debug("scope cgroups changed", zap.Int("include", len(res.Include)), zap.Int("exclude", len(res.Exclude)),
		zap.Int("containers", len(res.Containers)))
}
