package findings

import "path"

// subjectResolver decides the subject of a failure from the observation and, where
// the observation is not enough, from /proc and the cgroup filesystem.
type subjectResolver struct {
	procRoot  string
	mounts    *mountResolver
	openFiles *openFilesystems
	pids      *pidsLimits
}

func newSubjectResolver(procRoot string, probe fsProbe, clock Clock) *subjectResolver {
	mounts := newMountResolver(procRoot, probe, clock)
	return &subjectResolver{
		procRoot:  procRoot,
		mounts:    mounts,
		openFiles: newOpenFilesystems(procRoot, probe, mounts, clock),
		pids:      newPidsLimits(procRoot),
	}
}

// resolve returns the subject of a failure of kind k, and false with a fallback
// subject named after the process when the observation lacks what the subject needs
// (a tracking-map observation has no path or address; a write has no path).
func (r *subjectResolver) resolve(k Kind, o *Observation) (Subject, bool) {
	switch k {
	case KindDiskFull, KindReadOnlyFilesystem, KindIOError:
		if o.Path != "" {
			if m, ok := r.mounts.resolve(o.PID, o.Path, o.ContainerID == ""); ok {
				return mountSubject(m), true
			}
			if path.IsAbs(o.Path) {
				return mountSubject(Mount{MountPoint: path.Dir(path.Clean(o.Path))}), true
			}
		} else if m, ok := r.openFiles.filesystemFor(k, o.PID); ok {
			return mountSubject(m), true
		}
		return unknownMountSubject(o.Executable), false
	case KindFDExhaustion:
		if o.Errno == "ENFILE" {
			return hostSubject(), true
		}
		return processSubject(o), true
	case KindMemoryExhaustion:
		return processSubject(o), true
	case KindProcessLimit:
		// Only a limit seen binding is named: a pids cgroup at its limit, the host's
		// task limits, or the user's RLIMIT_NPROC.
		if l, ok := r.pids.limitHit(o.PID); ok {
			return cgroupSubject(l, o.ContainerID), true
		}
		if limit, ok := hostTaskLimit(r.procRoot); ok {
			return hostTasksSubject(limit), true
		}
		if limit, ok := nprocLimit(r.procRoot, o.PID, o.UID); ok {
			return userSubject(o.UID, limit), true
		}
		return unknownLimitSubject(o.Executable), false
	case KindConnectionRefused, KindConnectionTimeout, KindNetworkUnreachable:
		if o.Peer.IsValid() {
			return peerSubject(o.Peer), true
		}
		return unknownAddressSubject(o.Executable), false
	case KindPortConflict:
		if o.Local.IsValid() {
			return localSubject(o.Local), true
		}
		return unknownAddressSubject(o.Executable), false
	case KindPermissionDenied:
		switch {
		case o.Path != "":
			return accessPathSubject(o.Path, o.Executable), true
		case o.Local.IsValid() && o.Syscall == "bind":
			return accessAddressSubject(o.Local, true, o.Executable), true
		case o.Peer.IsValid():
			return accessAddressSubject(o.Peer, false, o.Executable), true
		}
		return unknownAccessSubject(o.Executable), false
	}
	return Subject{}, false
}
