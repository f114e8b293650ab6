package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// Workloads values: which side of the host/container divide is watched.
const (
	WorkloadsAll        = "all"
	WorkloadsHost       = "host"
	WorkloadsContainers = "containers"
)

// Limits of the kernel's scope lists (bpf.Scope).
const (
	maxScopeUIDs        = 8
	maxScopeExecutables = 8
	maxExecutableName   = 31
	minContainerIDLen   = 12
)

// ScopeConfig selects the processes whose failures are watched. The kernel applies it before counting:
// a failure outside the scope is in no count, event or statistic.
type ScopeConfig struct {
	// Include, when any of its lists is set, watches only processes that match one of its entries.
	Include ScopeMatchConfig `mapstructure:"include"`
	// Exclude leaves out processes that match any of its entries; it wins over include.
	Exclude ScopeMatchConfig `mapstructure:"exclude"`
	// Workloads is all (default), host (processes outside containers) or containers.
	Workloads string `mapstructure:"workloads"`
}

// ScopeMatchConfig lists what processes are matched by; an entry of any list matches.
type ScopeMatchConfig struct {
	// Cgroups are cgroup paths as /proc/<pid>/cgroup shows them (e.g. /system.slice/nginx.service,
	// /kubepods/burstable): processes in them and in their descendants, also those created later.
	Cgroups []string `mapstructure:"cgroups"`
	// ContainerIDs are container ids (or prefixes of at least 12 digits, as `docker ps` shows them).
	ContainerIDs []string `mapstructure:"container_ids"`
	// K8sPodUIDs are Kubernetes pod uids (k8s.pod.uid).
	K8sPodUIDs []string `mapstructure:"k8s_pod_uids"`
	// Executables are executable file names (process.executable.name), at most 31 bytes each.
	Executables []string `mapstructure:"executables"`
	// UIDs are real user ids (process.user.id).
	UIDs []uint32 `mapstructure:"uids"`
}

func (m ScopeMatchConfig) cgroupRules() bool {
	return len(m.Cgroups) > 0 || len(m.ContainerIDs) > 0 || len(m.K8sPodUIDs) > 0
}

func (m ScopeMatchConfig) set() bool {
	return m.cgroupRules() || len(m.Executables) > 0 || len(m.UIDs) > 0
}

// watchesCgroups reports whether the scope needs the cgroups resolved (and kept current).
func (s ScopeConfig) watchesCgroups() bool {
	return s.Include.cgroupRules() || s.Exclude.cgroupRules() || (s.Workloads != "" && s.Workloads != WorkloadsAll)
}

// Validate checks the scope; every error names the setting to fix.
func (s ScopeConfig) Validate() error {
	errs := []error{s.Include.validate("scope.include"), s.Exclude.validate("scope.exclude")}
	switch s.Workloads {
	case "", WorkloadsAll, WorkloadsHost, WorkloadsContainers:
	default:
		errs = append(errs, fmt.Errorf("scope.workloads must be %q, %q or %q, got %q", WorkloadsAll, WorkloadsHost, WorkloadsContainers, s.Workloads))
	}
	return errors.Join(errs...)
}

func (m ScopeMatchConfig) validate(field string) error {
	var errs []error
	for i, p := range m.Cgroups {
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
			errs = append(errs, fmt.Errorf("%s.cgroups[%d] %q must be an absolute, clean cgroup path as /proc/<pid>/cgroup shows it, e.g. /system.slice/nginx.service", field, i, p))
		}
	}
	for i, id := range m.ContainerIDs {
		if len(id) < minContainerIDLen || !cgroups.IsContainerIDPrefix(id) {
			errs = append(errs, fmt.Errorf("%s.container_ids[%d] %q must be a container id or a prefix of it: %d to 64 lowercase hex digits", field, i, id, minContainerIDLen))
		}
	}
	for i, uid := range m.K8sPodUIDs {
		if !cgroups.IsPodUID(uid) {
			errs = append(errs, fmt.Errorf("%s.k8s_pod_uids[%d] %q must be a pod uid such as 0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e", field, i, uid))
		}
	}
	if len(m.Executables) > maxScopeExecutables {
		errs = append(errs, fmt.Errorf("%s.executables lists %d names, at most %d", field, len(m.Executables), maxScopeExecutables))
	}
	for i, name := range m.Executables {
		if name == "" || len(name) > maxExecutableName || strings.ContainsAny(name, "/\x00") {
			errs = append(errs, fmt.Errorf("%s.executables[%d] %q must be an executable's file name (no '/') of 1 to %d bytes", field, i, name, maxExecutableName))
		}
	}
	if len(m.UIDs) > maxScopeUIDs {
		errs = append(errs, fmt.Errorf("%s.uids lists %d user ids, at most %d", field, len(m.UIDs), maxScopeUIDs))
	}
	return errors.Join(errs...)
}

// kernelScope is the bpf.Scope of the settings with the cgroups they name now (include, exclude and
// the containers' cgroups, as ids in the probe's hierarchy). An include list whose cgroup rules name
// no cgroup yet matches nothing through them.
func (s ScopeConfig) kernelScope(include, exclude, containers []uint64) bpf.Scope {
	k := bpf.Scope{
		Include: bpf.ScopeMatch{UIDs: s.Include.UIDs, Executables: s.Include.Executables},
		Exclude: bpf.ScopeMatch{UIDs: s.Exclude.UIDs, Executables: s.Exclude.Executables, Cgroups: exclude},
	}
	if s.Include.set() {
		k.Include.Cgroups = append([]uint64{}, include...)
	}
	switch s.Workloads {
	case WorkloadsHost:
		k.Workloads, k.Containers = bpf.WorkloadsHost, containers
	case WorkloadsContainers:
		k.Workloads, k.Containers = bpf.WorkloadsContainers, containers
	}
	return k
}
