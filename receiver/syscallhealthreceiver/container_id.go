//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"strings"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// Runtime prefixes of the systemd scope names that hold a container: docker, containerd (CRI), CRI-O and podman.
var containerScopePrefixes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

// containerIDFromCgroups returns the container ID found in the lines of /proc/<pid>/cgroup, or "" when the
// process is not in a container. It understands cgroup v1 lines ("4:pids:/docker/<id>") and v2 lines
// ("0::/system.slice/docker-<id>.scope"), and the path shapes of docker (cgroupfs and systemd drivers),
// containerd/CRI and CRI-O under kubepods (".../pod<uid>/<id>", ".../cri-containerd-<id>.scope") and podman
// ("libpod-<id>.scope", "/libpod_parent/libpod-<id>"). The innermost container wins (docker in docker).
func containerIDFromCgroups(cgroups []hostfs.Cgroup) string {
	for _, cg := range cgroups {
		if id := containerIDFromPath(cg.Path); id != "" {
			return id
		}
	}
	return ""
}

func containerIDFromPath(path string) string {
	segments := strings.Split(path, "/")
	for i := len(segments) - 1; i >= 0; i-- {
		if id := containerIDFromSegment(segments[i]); id != "" {
			return id
		}
	}
	return ""
}

func containerIDFromSegment(segment string) string {
	name := strings.TrimSuffix(segment, ".scope")
	for _, prefix := range containerScopePrefixes {
		if rest, ok := strings.CutPrefix(name, prefix); ok {
			// The conmon monitor of podman and CRI-O runs beside the container, not in it.
			if strings.HasPrefix(rest, "conmon-") {
				return ""
			}
			name = rest
			break
		}
	}
	if isContainerID(name) {
		return name
	}
	return ""
}

// isContainerID accepts the 64 lowercase hex digits that docker, containerd, CRI-O and podman use.
func isContainerID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
