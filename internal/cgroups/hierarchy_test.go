package cgroups

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindHierarchy(t *testing.T) {
	const hybrid = `24 23 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
25 24 0:22 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
26 24 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
30 24 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
33 24 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,memory
35 24 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,pids
`
	const v2 = `35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate
`
	const noPids = `33 24 0:30 /kubepods/pod1 /host/cgroup\040memory rw shared:18 - cgroup cgroup rw,memory
`
	for _, tc := range []struct {
		name, mountinfo string
		want            Hierarchy
	}{
		{"hybrid: the v1 pids controller", hybrid, Hierarchy{Controller: "pids", Mount: "/sys/fs/cgroup/pids", Root: "/"}},
		{"v2 only", v2, Hierarchy{Mount: "/sys/fs/cgroup", Root: "/"}},
		{"v1 memory, escaped mount point, subtree", noPids, Hierarchy{Controller: "memory", Mount: "/host/cgroup memory", Root: "/kubepods/pod1"}},
	} {
		got, err := HierarchyFromMountInfo(strings.NewReader(tc.mountinfo))
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
	_, err := HierarchyFromMountInfo(strings.NewReader("22 1 0:5 / /proc rw - proc proc rw\n"))
	assert.ErrorContains(t, err, "no cgroup hierarchy is mounted")

	sub := Hierarchy{Mount: "/c", Root: "/kubepods/pod1"}
	dir, ok := sub.Dir("/kubepods/pod1/abc")
	assert.True(t, ok)
	assert.Equal(t, "/c/abc", dir)
	assert.Equal(t, "/kubepods/pod1/abc", sub.Path(dir))
	_, ok = sub.Dir("/kubepods/pod12")
	assert.False(t, ok)
}
