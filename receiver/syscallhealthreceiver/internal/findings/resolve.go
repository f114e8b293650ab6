package findings

import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"

// subjectResolver decides the subject of a failure from the observation and, where
// the observation is not enough, from /proc and the cgroup filesystem. It is safe for
// concurrent use; the engine calls it without holding its own lock, since every
// lookup may take up to hostfs's deadline.
type subjectResolver struct {
	host      *hostfs.Host
	mounts    *mountResolver
	openFiles *openFilesystems
	pids      *pidsLimits
}

func newSubjectResolver(host *hostfs.Host, probe fsProbe, clock Clock) *subjectResolver {
	mounts := newMountResolver(host, probe, clock)
	return &subjectResolver{
		host:      host,
		mounts:    mounts,
		openFiles: newOpenFilesystems(probe, mounts, clock),
		pids:      newPidsLimits(host),
	}
}

// resolution says how far the resolver got with the subject of a failure.
type resolution uint8

const (
	subjectFound    resolution = iota // found in the observation or on the system
	subjectFallback                   // named after the process: the observation lacks what the subject needs
	notEvidence                       // the failure does not tell of the kind's condition (see filesystemSubject)
)

// fallbackSubject is the subject of a failure of kind k named after the process, for when nothing better
// is known: the kind's fallback (kinds).
func fallbackSubject(k Kind, o *Observation) Subject {
	if k <= kindNone || k >= kindCount || kinds[k].fallback == nil {
		return processSubject(o)
	}
	return kinds[k].fallback(o.process())
}

// resolve returns the subject of a failure of kind k, by the kind's resolver (kinds). A fallback subject
// named after the process is used when the observation lacks what the subject needs (a tracking-map
// observation has no path or address; a write to a pipe has no path).
func (r *subjectResolver) resolve(k Kind, o *Observation) (Subject, resolution) {
	if k <= kindNone || k >= kindCount {
		return Subject{}, subjectFallback
	}
	return kinds[k].subject(r, o)
}

// processLimitSubject names only a limit seen binding: a pids cgroup at its limit, the host's task limits,
// or the user's RLIMIT_NPROC.
func (r *subjectResolver) processLimitSubject(o *Observation) (Subject, resolution) {
	if l, ok := r.pids.limitHit(o.PID); ok {
		return cgroupSubject(l, o.ContainerID), subjectFound
	}
	if limit, ok := r.hostTaskLimit(); ok {
		return hostTasksSubject(limit), subjectFound
	}
	if limit, ok := r.nprocLimit(o.PID, o.UID); ok {
		return userSubject(o.UID, limit), subjectFound
	}
	return unknownLimitSubject(o.process()), subjectFallback
}

// peerOrUnknown is the subject of failures towards a destination: the destination address.
func peerOrUnknown(_ *subjectResolver, o *Observation) (Subject, resolution) {
	if o.Peer.IsValid() {
		return peerSubject(o.Peer), subjectFound
	}
	return unknownAddressSubject(o.process()), subjectFallback
}
