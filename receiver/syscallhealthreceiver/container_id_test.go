//go:build linux

package syscallhealthreceiver

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

func TestContainerIDFromCgroup(t *testing.T) {
	const id = "3f4b2c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"
	const other = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	tests := []struct {
		name   string
		cgroup string
		want   string
	}{
		{
			name:   "docker cgroupfs driver, cgroup v1",
			cgroup: "12:pids:/docker/" + id + "\n11:memory:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n",
			want:   id,
		},
		{
			name:   "docker systemd driver, cgroup v2",
			cgroup: "0::/system.slice/docker-" + id + ".scope\n",
			want:   id,
		},
		{
			name:   "containerd CRI under kubepods, systemd driver, cgroup v2",
			cgroup: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice/cri-containerd-" + id + ".scope\n",
			want:   id,
		},
		{
			name:   "containerd CRI under kubepods, cgroupfs driver, cgroup v1",
			cgroup: "11:pids:/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" + id + "\n",
			want:   id,
		},
		{
			name:   "CRI-O, cgroup v2",
			cgroup: "0::/kubepods.slice/kubepods-pod0f1e2d3c_4b5a.slice/crio-" + id + ".scope\n",
			want:   id,
		},
		{
			name:   "podman rootful, cgroup v2",
			cgroup: "0::/machine.slice/libpod-" + id + ".scope\n",
			want:   id,
		},
		{
			name:   "podman rootless, cgroup v2",
			cgroup: "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope/container\n",
			want:   id,
		},
		{
			name:   "podman cgroupfs manager, cgroup v1",
			cgroup: "5:pids:/libpod_parent/libpod-" + id + "\n",
			want:   id,
		},
		{
			name:   "podman conmon is beside the container, not in it",
			cgroup: "0::/machine.slice/libpod-conmon-" + id + ".scope\n",
			want:   "",
		},
		{
			name: "hybrid layout: v1 controllers and the v2 unified line",
			cgroup: "13:pids:/system.slice/docker-" + id + ".scope\n" +
				"1:name=systemd:/system.slice/docker-" + id + ".scope\n" +
				"0::/system.slice/docker-" + id + ".scope\n",
			want: id,
		},
		{
			name:   "docker in docker: the innermost container",
			cgroup: "0::/docker/" + other + "/docker/" + id + "\n",
			want:   id,
		},
		{
			name:   "host process under systemd",
			cgroup: "0::/system.slice/sshd.service\n",
			want:   "",
		},
		{
			name:   "user session",
			cgroup: "12:pids:/user.slice/user-1000.slice/session-3.scope\n0::/user.slice/user-1000.slice/session-3.scope\n",
			want:   "",
		},
		{
			name:   "private cgroup namespace shows only /",
			cgroup: "0::/\n",
			want:   "",
		},
		{
			name:   "a 64-character name that is not hex",
			cgroup: "0::/system.slice/docker-" + strings.Repeat("z", 64) + ".scope\n",
			want:   "",
		},
		{
			name:   "uppercase hex is not a runtime ID",
			cgroup: "0::/docker/" + strings.ToUpper(id) + "\n",
			want:   "",
		},
		{
			name:   "garbage and empty lines",
			cgroup: "\nnot a cgroup line\n::\n",
			want:   "",
		},
		{
			name:   "empty file (process exited while reading)",
			cgroup: "",
			want:   "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, identityFromCgroups(hostfs.ParseCgroups(strings.NewReader(tt.cgroup))).ContainerID)
		})
	}
}
