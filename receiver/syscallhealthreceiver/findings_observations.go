//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"cmp"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
)

// eventObservation is what the finding engine learns from one failure event.
func eventObservation(ev *bpf.Event, p *processInfo, names failureNames, clock wallClock) findings.Observation {
	return findings.Observation{
		Time: clock.Time(ev.TimestampNs), PID: ev.PID, UID: ev.UID,
		Executable: p.ExecutableName, Command: cmp.Or(p.Command, ev.Comm), ContainerID: p.ContainerID,
		Syscall: names.syscall, Errno: names.errno, Category: ev.Category.String(),
		Path: ev.Path, Local: ev.Local, Peer: ev.Peer,
		Total: ev.ErrorCount,
		// The kernel's namespace is the one at the failure; /proc's may be later (setns, unshare).
		MountNamespace: cmp.Or(uint64(ev.MountNamespace), p.MountNamespace),
	}
}

// countObservation is what the finding engine learns from one series of the kernel tracking map.
func countObservation(c bpf.Count, p *processInfo, clock wallClock) findings.Observation {
	return findings.Observation{
		Time: clock.Time(c.LastSeenNs), FirstSeenNs: c.FirstSeenNs, PID: c.Key.PID, UID: p.RealUID,
		Executable: p.ExecutableName, Command: p.Command, ContainerID: p.ContainerID, MountNamespace: p.MountNamespace,
		Syscall: bpf.SyscallName(c.Key.Syscall), Errno: c.Key.Errno.Name(), Category: c.Category.String(),
		Total: c.Count,
	}
}
