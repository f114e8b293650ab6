//go:build linux

package syscallhealthreceiver

import (
	"strings"
	"testing"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// FuzzContainerIDFromCgroup: any /proc/<pid>/cgroup content (a container's process writes its own
// cgroup names; the kernel probe's cgroup path is made of them too) yields no container or a 64-hex-digit
// ID that the content holds, no pod or a pod uid it holds, never a panic.
func FuzzContainerIDFromCgroup(f *testing.F) {
	const id = "3f4b2c9d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"
	for _, seed := range []string{
		"", "0::/\n", "0::/user.slice/user-1000.slice/session-2.scope\n",
		"12:pids:/docker/" + id + "\n1:name=systemd:/docker/" + id + "\n",
		"0::/system.slice/docker-" + id + ".scope\n",
		"0::/kubepods.slice/kubepods-pod0f1e.slice/cri-containerd-" + id + ".scope\n",
		"0::/machine.slice/libpod-conmon-" + id + ".scope\n",
		"0::/a:b:c/libpod-" + id + ".scope/container\n",
		"0::/docker-" + strings.ToUpper(id) + ".scope\n",
		"0::/docker-" + id + "\xff.scope\n",
		"11:pids:/kubepods/besteffort/pod0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/" + id + "\n",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0.slice\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		got := identityFromCgroups(hostfs.ParseCgroups(strings.NewReader(content)))
		if got.ContainerID != "" && (len(got.ContainerID) != 64 || !cgroups.IsContainerIDPrefix(got.ContainerID) || !strings.Contains(content, got.ContainerID)) {
			t.Fatalf("container ID %q from %q", got.ContainerID, content)
		}
		if got.PodUID != "" && (!cgroups.IsPodUID(got.PodUID) ||
			!(strings.Contains(content, got.PodUID) || strings.Contains(content, strings.ReplaceAll(got.PodUID, "-", "_")))) {
			t.Fatalf("pod uid %q from %q", got.PodUID, content)
		}
	})
}
