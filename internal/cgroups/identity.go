// Package cgroups reads workload identity from cgroups: which container and
// Kubernetes pod a cgroup path belongs to, which cgroup hierarchy holds the
// containers' cgroups on this host, and which cgroups a workload scope names.
package cgroups

import (
	"strings"
)

// Runtime prefixes of the systemd scope names that hold a container: docker, containerd (CRI), CRI-O and podman.
var containerScopePrefixes = []string{"docker-", "cri-containerd-", "crio-", "libpod-"}

// Identity is the workload a cgroup belongs to; empty fields are unknown.
type Identity struct {
	// ContainerID is the runtime's 64-hex-digit container id.
	ContainerID string
	// PodUID is the Kubernetes pod uid (k8s.pod.uid), from kubepods cgroup paths.
	PodUID string
}

// IdentityOf reads the identity from a cgroup path ("/kubepods/burstable/pod<uid>/<id>"; also the tail
// the kernel probe sends, "..." included). It understands the path shapes of docker (cgroupfs and
// systemd drivers), containerd/CRI and CRI-O under kubepods (".../pod<uid>/<id>",
// ".../kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope") and podman ("libpod-<id>.scope",
// "/libpod_parent/libpod-<id>"). The innermost container and pod win (docker in docker).
func IdentityOf(path string) Identity {
	var id Identity
	segments := strings.Split(path, "/")
	for i := len(segments) - 1; i >= 0; i-- {
		if id.ContainerID == "" {
			id.ContainerID = containerIDFromSegment(segments[i])
		}
		if id.PodUID == "" {
			id.PodUID = podUIDFromSegment(segments[i])
		}
	}
	return id
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

// podUIDFromSegment reads a pod cgroup's name: "pod<uid>" (cgroupfs driver) or
// "kubepods[-<qos>]-pod<uid with _ for ->.slice" (systemd driver).
func podUIDFromSegment(segment string) string {
	name, systemd := strings.CutSuffix(segment, ".slice")
	if systemd {
		if !strings.HasPrefix(name, "kubepods-") {
			return ""
		}
		name = strings.ReplaceAll(name[strings.LastIndexByte(name, '-')+1:], "_", "-")
	}
	uid, ok := strings.CutPrefix(name, "pod")
	if !ok || !IsPodUID(uid) {
		return ""
	}
	return uid
}

// isContainerID accepts the 64 lowercase hex digits that docker, containerd, CRI-O and podman use.
func isContainerID(s string) bool {
	return len(s) == 64 && isLowerHex(s)
}

// IsContainerIDPrefix accepts a container id or a non-empty prefix of one.
func IsContainerIDPrefix(s string) bool {
	return len(s) > 0 && len(s) <= 64 && isLowerHex(s)
}

// IsPodUID accepts the lowercase 8-4-4-4-12 form Kubernetes gives pod uids.
func IsPodUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for _, dash := range []int{8, 13, 18, 23} {
		if s[dash] != '-' {
			return false
		}
	}
	return isLowerHex(s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:])
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
