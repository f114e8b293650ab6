package hostfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// Ids of this test run alone: the walk sees every cgroup of the hierarchy, other tests' too.
var (
	testContainer = randomHex(32)
	testPod       = randomHex(4) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(2) + "-" + randomHex(6)
)

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func TestResolveRealCgroups(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	hier := cg.Hierarchy
	pod := cg.Mkdir("kubepods/burstable/pod" + testPod)
	container := cg.Mkdir("kubepods/burstable/pod" + testPod + "/" + testContainer)
	nested := cg.Mkdir("kubepods/burstable/pod" + testPod + "/" + testContainer + "/nested")
	service := cg.Mkdir("system.slice/app.service")

	res := ResolveScope(hier,
		cgroups.Rules{Paths: []string{cg.Path(service), cg.Path(cg.Root) + "/not-there"}, PodUIDs: []string{testPod}},
		cgroups.Rules{ContainerIDs: []string{testContainer[:12]}},
		true)
	assert.ElementsMatch(t, []uint64{cg.ID(service), cg.ID(pod)}, res.Include)
	assert.Equal(t, []uint64{cg.ID(container)}, res.Exclude)
	assert.Contains(t, res.Containers, cg.ID(container))
	assert.NotContains(t, res.Containers, cg.ID(nested), "a container's own sub-cgroups are in it by descent")
	assert.True(t, res.Equal(ResolveScope(hier, cgroups.Rules{Paths: []string{cg.Path(service)}, PodUIDs: []string{testPod}}, cgroups.Rules{ContainerIDs: []string{testContainer[:12]}}, true)))

	// Without rules nothing is walked.
	assert.Equal(t, cgroups.Resolution{}, ResolveScope(hier, cgroups.Rules{}, cgroups.Rules{}, false))
}

func TestWatchSeesNewAndRemovedCgroups(t *testing.T) {
	cg := testenv.NewCgroupTree(t)
	hier := cg.Hierarchy
	ctx, cancel := context.WithCancel(context.Background())
	changes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- WatchCgroups(ctx, hier, func() { changes <- struct{}{} }) }()
	t.Cleanup(func() {
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
	})
	time.Sleep(100 * time.Millisecond) // the watches are in place
	drain := func() {
		for len(changes) > 0 {
			<-changes
		}
	}
	// Other tests create cgroups too: wait for a change and check that ours is resolved then.
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for !ok() {
			select {
			case <-changes:
			case <-deadline:
				t.Fatalf("no change seen for %s", what)
			}
		}
	}
	drain()
	dir := cg.Mkdir("new")
	waitFor("a new cgroup", func() bool {
		return len(ResolveScope(hier, cgroups.Rules{Paths: []string{cg.Path(dir)}}, cgroups.Rules{}, false).Include) == 1
	})
	// A cgroup created inside the new one: its watch was added when it appeared.
	deeper := cg.Mkdir("new/libpod-" + testContainer)
	drain()
	waitFor("a cgroup inside the new one", func() bool {
		return len(ResolveScope(hier, cgroups.Rules{ContainerIDs: []string{testContainer}}, cgroups.Rules{}, false).Include) == 1
	})
	require.NoError(t, os.Remove(deeper))
	waitFor("the removed cgroup", func() bool {
		return len(ResolveScope(hier, cgroups.Rules{ContainerIDs: []string{testContainer}}, cgroups.Rules{}, false).Include) == 0
	})
}
