package cgroups

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIdentityOf(t *testing.T) {
	const id = "3f4b2c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"
	const uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	tests := []struct {
		path string
		want Identity
	}{
		{"/kubepods/besteffort/pod" + uid + "/" + id, Identity{id, uid}},
		{"/kubepods/pod" + uid + "/" + id, Identity{id, uid}},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope", Identity{id, uid}},
		{"/kubepods.slice/kubepods-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/crio-" + id + ".scope", Identity{id, uid}},
		// The pod's own cgroup (between its containers' lifetimes): the pod, no container.
		{"/kubepods/burstable/pod" + uid, Identity{"", uid}},
		// The kernel's tail of a deep path.
		{".../kubepods-besteffort-pod" + strings.ReplaceAll(uid, "-", "_") + ".slice/cri-containerd-" + id + ".scope", Identity{id, uid}},
		{"/libpod_parent/libpod-" + id, Identity{id, ""}},
		{"/machine.slice/libpod-" + id + ".scope/container", Identity{id, ""}},
		{"/system.slice/kubelet.service", Identity{}},
		{"/podcast.slice/pod" + uid + "x", Identity{}},
		{"/system.slice/pod" + strings.ToUpper(uid) + ".slice", Identity{}},
		{"/user.slice/pod" + uid + ".slice", Identity{}},
		{"/", Identity{}},
		{"", Identity{}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, IdentityOf(tt.path), tt.path)
	}
}
