package findings

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// SubjectType says what a finding is about, and so which Subject fields are set.
type SubjectType uint8

const (
	SubjectMount          SubjectType = iota + 1 // Mount (disk_full, read_only_filesystem, io_error)
	SubjectDevice                                // Path of a block device (io_error)
	SubjectUnknownMount                          // a path-less file failure whose filesystem could not be found; Executable
	SubjectProcess                               // PID, Executable, ContainerID (fd_exhaustion EMFILE, memory_exhaustion)
	SubjectHost                                  // the whole host (fd_exhaustion ENFILE)
	SubjectCgroup                                // Cgroup, Limit (pids.max) (process_limit)
	SubjectUser                                  // UID, Limit (RLIMIT_NPROC) (process_limit)
	SubjectHostTasks                             // Limit (the lower of threads-max and pid_max) (process_limit)
	SubjectUnknownLimit                          // a failed fork whose limit no longer held when checked; Executable
	SubjectPeer                                  // Address is the destination (connection_*, network_unreachable)
	SubjectLocal                                 // Address is the local address (port_conflict)
	SubjectAccess                                // Path or Address, Executable (permission_denied)
	SubjectUnknownAddress                        // a network failure without address; Executable
	SubjectUnknownAccess                         // a denial without path or address; Executable
)

// Subject is what a finding is about. Name identifies it within its kind and is
// the value of syscallhealth.issue.subject.
type Subject struct {
	Type SubjectType
	Name string

	Mount hostfs.Mount
	// MountNamespace is the inode of the mount namespace Mount is in; 0 when unknown.
	MountNamespace uint64
	PID            uint32
	Executable     string // process.executable.name; "" when unknown
	Command        string // the kernel's name of the process, for texts when Executable is unknown
	ContainerID    string
	Cgroup         string
	// Limit is the limit found binding: pids.max, RLIMIT_NPROC or the host's task limit.
	Limit   int64
	UID     uint32
	Address netip.AddrPort
	// AddressIsLocal tells, for SubjectAccess, whether Address is the local (bind) or the peer (connect) address.
	AddressIsLocal bool
	Path           string
}

// mountSubject is a filesystem as mounted in mount namespace ns. A mount point names it only
// in its namespace: outside the host's (hostNS), the name says which namespace, so a user's
// private tmpfs mounted on / is never taken for the host's /.
func mountSubject(m hostfs.Mount, ns, hostNS uint64) Subject {
	name := m.MountPoint
	if ns != hostNS {
		name += " (mount namespace " + strconv.FormatUint(ns, 10) + ")"
	}
	return Subject{Type: SubjectMount, Name: name, Mount: m, MountNamespace: ns}
}

// identity tells subjects apart within a kind. For a mount it is the filesystem (its device)
// with its name: two filesystems mounted on the same point are two subjects.
func (s Subject) identity() string {
	if s.Type == SubjectMount {
		return s.Name + "\x00" + s.Mount.Device.String()
	}
	return s.Name
}

func deviceSubject(p string) Subject {
	return Subject{Type: SubjectDevice, Name: p, Path: p}
}

func unknownMountSubject(p processName) Subject {
	return Subject{Type: SubjectUnknownMount, Name: withExecutable("unknown filesystem", p), Executable: p.executable, Command: p.command}
}

func processSubject(o *Observation) Subject {
	return Subject{
		Type: SubjectProcess, Name: withExecutable(fmt.Sprintf("pid %d", o.PID), o.process()),
		PID: o.PID, Executable: o.Executable, Command: o.Command, ContainerID: o.ContainerID,
	}
}

func hostSubject() Subject { return Subject{Type: SubjectHost, Name: "host"} }

func cgroupSubject(l pidsLimit, containerID string) Subject {
	return Subject{Type: SubjectCgroup, Name: "cgroup " + l.cgroup, Cgroup: l.cgroup, Limit: l.max, ContainerID: containerID}
}

func userSubject(uid uint32, nproc int64) Subject {
	return Subject{Type: SubjectUser, Name: fmt.Sprintf("uid %d", uid), UID: uid, Limit: nproc}
}

func hostTasksSubject(limit int64) Subject {
	return Subject{Type: SubjectHostTasks, Name: "host", Limit: limit}
}

func unknownLimitSubject(p processName) Subject {
	return Subject{Type: SubjectUnknownLimit, Name: withExecutable("unknown limit", p), Executable: p.executable, Command: p.command}
}

func peerSubject(a netip.AddrPort) Subject {
	return Subject{Type: SubjectPeer, Name: a.String(), Address: a}
}

func localSubject(a netip.AddrPort) Subject {
	return Subject{Type: SubjectLocal, Name: a.String(), Address: a}
}

func unknownAddressSubject(p processName) Subject {
	return Subject{Type: SubjectUnknownAddress, Name: withExecutable("unknown address", p), Executable: p.executable, Command: p.command}
}

func accessPathSubject(path string, p processName) Subject {
	return Subject{Type: SubjectAccess, Name: withExecutable(path, p), Path: path, Executable: p.executable, Command: p.command}
}

func accessAddressSubject(a netip.AddrPort, local bool, p processName) Subject {
	return Subject{Type: SubjectAccess, Name: withExecutable(a.String(), p), Address: a, AddressIsLocal: local,
		Executable: p.executable, Command: p.command}
}

func unknownAccessSubject(p processName) Subject {
	return Subject{Type: SubjectUnknownAccess, Name: withExecutable("unknown target", p), Executable: p.executable, Command: p.command}
}

// processName names a process: its executable, else the kernel's name for it.
type processName struct{ executable, command string }

func (p processName) label() string { return cmp.Or(p.executable, p.command) }

// processLabel is the name texts use for the subject's process.
func (s Subject) processLabel() string { return cmp.Or(s.Executable, s.Command) }

// withExecutable appends the process's name to a subject name when it is known: "pid 42 (api)".
func withExecutable(name string, p processName) string {
	label := p.label()
	if label == "" {
		return name
	}
	return name + " (" + label + ")"
}
