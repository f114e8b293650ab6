package syscallhealthreceiver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/bpf"
)

func TestLoadScopeConfig(t *testing.T) {
	cfg, err := loadTestConfig(t, "scoped")
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, GranularityContainer, cfg.FailuresGranularity)
	assert.Equal(t, ScopeConfig{
		Include: ScopeMatchConfig{
			Cgroups:      []string{"/system.slice/nginx.service", "/kubepods/burstable"},
			ContainerIDs: []string{"4b825dc642cb"},
			K8sPodUIDs:   []string{"0d6a4c1e-5b7f-4d2a-9c3e-8f1b2a3c4d5e"},
			Executables:  []string{"nginx"},
			UIDs:         []uint32{1000, 1001},
		},
		Exclude:   ScopeMatchConfig{Executables: []string{"healthcheck"}, UIDs: []uint32{0}},
		Workloads: WorkloadsContainers,
	}, cfg.Scope)
	assert.True(t, cfg.Scope.watchesCgroups())

	// The kernel's scope: the rules with the cgroups they name now.
	k := cfg.Scope.kernelScope([]uint64{7}, nil, []uint64{9})
	assert.Equal(t, bpf.Scope{
		Include:   bpf.ScopeMatch{UIDs: []uint32{1000, 1001}, Executables: []string{"nginx"}, Cgroups: []uint64{7}},
		Exclude:   bpf.ScopeMatch{UIDs: []uint32{0}, Executables: []string{"healthcheck"}},
		Workloads: bpf.WorkloadsContainers, Containers: []uint64{9},
	}, k)
	require.NoError(t, k.Validate())
	// Include rules that name no cgroup yet still restrict: to nothing, until their cgroups appear.
	only := ScopeConfig{Include: ScopeMatchConfig{ContainerIDs: []string{"4b825dc642cb"}}}
	assert.NotNil(t, only.kernelScope(nil, nil, nil).Include.Cgroups)

	// The defaults watch everything, without watching cgroups.
	def := createDefaultConfig()
	assert.Equal(t, GranularityProcess, def.FailuresGranularity)
	assert.False(t, def.Scope.watchesCgroups())
	assert.Equal(t, bpf.Scope{}, def.Scope.kernelScope(nil, nil, nil))
}

func TestScopeConfigErrorsNameTheirField(t *testing.T) {
	cfg, err := loadTestConfig(t, "scope_invalid")
	require.NoError(t, err)
	err = cfg.Validate()
	for _, want := range []string{
		`failures_granularity must be "process", "container", "executable" or "host", got "pod"`,
		`scope.include.cgroups[0] "system.slice/nginx.service" must be an absolute, clean cgroup path`,
		`scope.include.cgroups[1] "/a/../b"`,
		`scope.include.container_ids[0] "4b825dc6" must be a container id or a prefix of it: 12 to 64 lowercase hex digits`,
		`scope.include.container_ids[1] "4B825DC642CB"`,
		`scope.include.k8s_pod_uids[0] "0d6a4c1e" must be a pod uid`,
		`scope.include.executables[0] "/usr/sbin/nginx" must be an executable's file name`,
		`scope.include.executables[1]`,
		`scope.include.uids lists 9 user ids, at most 8`,
		`scope.exclude.executables lists 9 names, at most 8`,
		`scope.workloads must be "all", "host" or "containers", got "vms"`,
	} {
		assert.ErrorContains(t, err, want)
	}
}
