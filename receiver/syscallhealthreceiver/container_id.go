//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"github.com/syscallhealth/syscallhealth/internal/cgroups"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// identityFromCgroups returns the container and pod found in the lines of /proc/<pid>/cgroup: the first line
// naming a container gives them (cgroups.IdentityOf reads the path shapes of the runtimes and the kubelet).
func identityFromCgroups(lines []hostfs.Cgroup) cgroups.Identity {
	var pod cgroups.Identity
	for _, cg := range lines {
		id := cgroups.IdentityOf(cg.Path)
		if id.ContainerID != "" {
			return id
		}
		if pod.PodUID == "" {
			pod = id
		}
	}
	return pod
}
