package findings

import (
	"net/netip"
	"time"
)

// Observation is what the engine learns about failures of one (PID, Syscall, Errno)
// series, either from a failure event or from the kernel's exact tracking map.
//
// Total is the series' exact cumulative count as the kernel reported it (the event's
// error count, or the tracking map's count). The engine turns totals into increments
// itself, per series, so a failure reported both by its event and by a later map read
// is counted once, and failures the rate limiter held back are still counted.
type Observation struct {
	// Time of the failure (event) or of the series' last failure (tracking map).
	Time time.Time
	// FirstSeenNs is the tracking map's first-seen stamp of the series (bpf.Count.FirstSeenNs),
	// only compared for equality: a different value for a known series means the kernel
	// recreated it and its count restarted. Zero for events.
	FirstSeenNs uint64

	PID         uint32
	UID         uint32
	Executable  string // base name of /proc/<pid>/exe (process.executable.name); "" when it was not readable
	Command     string // the kernel's name of the process (comm): names it in texts when Executable is unknown
	ContainerID string // empty outside containers
	// MountNamespace is the inode of the process's mount namespace; 0 when unknown (the
	// process was gone before it was read). It decides the mount table of a gone process.
	MountNamespace uint64

	Syscall  string // "openat"
	Errno    string // "ENOSPC"
	Category string // "file", "network", "memory" or "process"

	// Event context; empty for tracking-map observations.
	Path  string
	Local netip.AddrPort
	Peer  netip.AddrPort

	Total uint64
}

// process is how findings name the process of an observation.
func (o *Observation) process() processName {
	return processName{executable: o.Executable, command: o.Command}
}
