package findings

import (
	"fmt"
	"slices"
	"strings"
)

// Kind names a class of health finding: an index into kinds. Its String form is the value of the
// syscallhealth.issue.kind attribute (log records and the syscallhealth.issues.active gauge).
type Kind uint8

const (
	kindNone Kind = iota
	KindDiskFull
	KindReadOnlyFilesystem
	KindIOError
	KindFDExhaustion
	KindMemoryExhaustion
	KindProcessLimit
	KindConnectionRefused
	KindConnectionTimeout
	KindNetworkUnreachable
	KindPortConflict
	KindPermissionDenied
	kindCount
)

// kindSpec is everything about one kind of finding. kinds is the one table of them: the rule that
// classifies failures, the severity, the default threshold of the configuration, the subject and the texts.
// Adding a kind is a constant, a row here, and a subject resolver when no existing one fits.
type kindSpec struct {
	name     string
	severity Severity
	// threshold is the default rule: this many failures of one subject within the window open a finding.
	threshold uint64
	// errnos are the errnos that tell of the kind; evidence, when set, narrows them down by syscall and
	// category ("file", "network", "memory", "process").
	errnos   []string
	evidence func(syscall, category string) bool
	subject  func(r *subjectResolver, o *Observation) (Subject, resolution)
	// fallback names the subject after the process when nothing better is known; nil for kinds whose
	// subject is the process.
	fallback func(p processName) Subject
	title    func(t *Transition) string
	// hint says where to look next, for open and ongoing records.
	hint func(t *Transition) string
}

func fileCategory(_, category string) bool { return category == "file" }

// ERROR when a resource is exhausted or broken on this host, WARN when the failure usually has its cause
// elsewhere (a peer, a configuration) or is survivable by retrying. Thresholds: one failure is the diagnosis
// when a resource is exhausted or broken; patterns where single failures are routine.
var kinds = [kindCount]kindSpec{
	KindDiskFull: {
		name: "disk_full", severity: SeverityError, threshold: 1,
		errnos: []string{"ENOSPC", "EDQUOT"}, evidence: fileCategory,
		fallback: unknownMountSubject,
		subject: func(r *subjectResolver, o *Observation) (Subject, resolution) {
			return r.filesystemSubject(KindDiskFull, o)
		},
		title: func(t *Transition) string {
			if quotaOnly(t) {
				return "Disk quota exceeded on " + t.Subject.Name
			}
			return "Disk full on " + t.Subject.Name
		},
		hint: func(t *Transition) string {
			if quotaOnly(t) {
				return "raise the quota or free space"
			}
			return "free space or grow the filesystem"
		},
	},
	KindReadOnlyFilesystem: {
		name: "read_only_filesystem", severity: SeverityError, threshold: 1,
		errnos: []string{"EROFS"}, evidence: fileCategory,
		fallback: unknownMountSubject,
		subject: func(r *subjectResolver, o *Observation) (Subject, resolution) {
			return r.filesystemSubject(KindReadOnlyFilesystem, o)
		},
		title: func(t *Transition) string { return "Read-only filesystem at " + t.Subject.Name },
		hint:  func(*Transition) string { return "check whether it was remounted read-only after errors (dmesg)" },
	},
	KindIOError: {
		name: "io_error", severity: SeverityError, threshold: 1,
		errnos: []string{"EIO"}, evidence: fileCategory,
		fallback: unknownMountSubject,
		subject: func(r *subjectResolver, o *Observation) (Subject, resolution) {
			return r.filesystemSubject(KindIOError, o)
		},
		title: func(t *Transition) string {
			s := t.Subject
			if s.Type == SubjectDevice {
				return "I/O errors on device " + s.Path
			}
			if strings.HasPrefix(s.Mount.Source, "/dev/") {
				return fmt.Sprintf("I/O errors on %s (device %s)", s.Name, s.Mount.Source)
			}
			return "I/O errors on " + s.Name
		},
		hint: func(*Transition) string { return "check the device and the kernel log (dmesg)" },
	},
	KindFDExhaustion: {
		name: "fd_exhaustion", severity: SeverityError, threshold: 1,
		errnos: []string{"EMFILE", "ENFILE"},
		subject: func(_ *subjectResolver, o *Observation) (Subject, resolution) {
			if o.Errno == "ENFILE" {
				return hostSubject(), subjectFound
			}
			return processSubject(o), subjectFound
		},
		title: func(t *Transition) string {
			if t.Subject.Type == SubjectHost {
				return "The host has run out of file descriptors"
			}
			return "Process " + processLabel(t.Subject.processLabel(), t.Subject.PID) + " has run out of file descriptors"
		},
		hint: func(t *Transition) string {
			if t.Subject.Type == SubjectHost {
				return "raise fs.file-max or find the process holding descriptors"
			}
			return "raise its RLIMIT_NOFILE (ulimit -n) or look for a descriptor leak"
		},
	},
	KindMemoryExhaustion: {
		// Some runtimes probe with large mappings; a few failures rule that out.
		name: "memory_exhaustion", severity: SeverityError, threshold: 3,
		errnos:  []string{"ENOMEM"},
		subject: func(_ *subjectResolver, o *Observation) (Subject, resolution) { return processSubject(o), subjectFound },
		title: func(t *Transition) string {
			text := "Process " + processLabel(t.Subject.processLabel(), t.Subject.PID)
			if t.Subject.ContainerID != "" {
				text += " in container " + shortID(t.Subject.ContainerID)
			}
			return text + " cannot allocate memory"
		},
		hint: func(*Transition) string { return "check its RLIMIT_AS, vm.max_map_count and its cgroup's memory limit" },
	},
	KindProcessLimit: {
		// EAGAIN from clone/fork/execve is a task limit; elsewhere it means "try again" (non-blocking I/O).
		name: "process_limit", severity: SeverityError, threshold: 1,
		errnos:   []string{"EAGAIN"},
		evidence: func(_, category string) bool { return category == "process" },
		fallback: unknownLimitSubject,
		subject:  (*subjectResolver).processLimitSubject,
		title: func(t *Transition) string {
			s := t.Subject
			switch s.Type {
			case SubjectCgroup:
				return fmt.Sprintf("Cgroup %s is at its pids limit (pids.max %d)", s.Cgroup, s.Limit)
			case SubjectUser:
				return fmt.Sprintf("User %d has reached its process limit (RLIMIT_NPROC %d)", s.UID, s.Limit)
			case SubjectHostTasks:
				return fmt.Sprintf("The host has run out of tasks (limit %d from kernel.threads-max, kernel.pid_max)", s.Limit)
			}
			return withExecutable("Forks fail", processName{executable: s.Executable, command: s.Command}) + " at a task limit that no longer held when checked"
		},
		hint: func(t *Transition) string {
			switch t.Subject.Type {
			case SubjectCgroup:
				return "raise pids.max or look for a fork loop"
			case SubjectUser:
				return "raise RLIMIT_NPROC (ulimit -u) or look for a fork loop"
			case SubjectHostTasks:
				return "raise kernel.threads-max or kernel.pid_max, or find what creates so many tasks"
			}
			return "a short-lived pids cgroup limit, RLIMIT_NPROC or the host's task limits"
		},
	},
	KindConnectionRefused: {
		// Clients retry and single refusals happen during deploys; a pattern is the finding.
		name: "connection_refused", severity: SeverityWarn, threshold: 5,
		errnos:   []string{"ECONNREFUSED"},
		fallback: unknownAddressSubject,
		subject:  peerOrUnknown,
		title:    func(t *Transition) string { return "Connections to " + t.Subject.Name + " are refused" },
		hint:     func(*Transition) string { return "nothing listens there, or a firewall rejects the connections" },
	},
	KindConnectionTimeout: {
		name: "connection_timeout", severity: SeverityWarn, threshold: 3,
		errnos:   []string{"ETIMEDOUT"},
		evidence: func(_, category string) bool { return category == "network" },
		fallback: unknownAddressSubject,
		subject:  peerOrUnknown,
		title:    func(t *Transition) string { return "Connections to " + t.Subject.Name + " time out" },
		hint:     func(*Transition) string { return "the destination or a firewall drops the connection attempts" },
	},
	KindNetworkUnreachable: {
		name: "network_unreachable", severity: SeverityWarn, threshold: 3,
		errnos:   []string{"ENETUNREACH", "EHOSTUNREACH"},
		fallback: unknownAddressSubject,
		subject:  peerOrUnknown,
		title:    func(t *Transition) string { return t.Subject.Name + " is unreachable" },
		hint:     func(*Transition) string { return "no route to it: check routes and interfaces" },
	},
	KindPortConflict: {
		// A service that cannot bind usually tries once and exits. On connect EADDRINUSE means no free
		// ephemeral port, not a listener conflict.
		name: "port_conflict", severity: SeverityWarn, threshold: 1,
		errnos:   []string{"EADDRINUSE"},
		evidence: func(syscall, _ string) bool { return syscall == "bind" || syscall == "listen" },
		fallback: unknownAddressSubject,
		subject: func(_ *subjectResolver, o *Observation) (Subject, resolution) {
			if o.Local.IsValid() {
				return localSubject(o.Local), subjectFound
			}
			return unknownAddressSubject(o.process()), subjectFallback
		},
		title: func(t *Transition) string { return "Address " + t.Subject.Name + " is already in use" },
		hint:  func(*Transition) string { return "another socket already holds it" },
	},
	KindPermissionDenied: {
		// Programs probe files they may not read; repeated denials are the finding.
		name: "permission_denied", severity: SeverityWarn, threshold: 3,
		errnos: []string{"EACCES", "EPERM"},
		evidence: func(syscall, category string) bool {
			return category == "file" || syscall == "execve" || syscall == "bind" || syscall == "connect"
		},
		fallback: unknownAccessSubject,
		subject: func(_ *subjectResolver, o *Observation) (Subject, resolution) {
			switch {
			case o.Path != "":
				return accessPathSubject(o.Path, o.process()), subjectFound
			case o.Local.IsValid() && o.Syscall == "bind":
				return accessAddressSubject(o.Local, true, o.process()), subjectFound
			case o.Peer.IsValid():
				return accessAddressSubject(o.Peer, false, o.process()), subjectFound
			}
			return unknownAccessSubject(o.process()), subjectFallback
		},
		title: func(t *Transition) string {
			s := t.Subject
			who := ""
			if label := s.processLabel(); label != "" {
				who = " to " + label
			}
			switch {
			case s.Path != "":
				return "Permission denied" + who + " on " + s.Path
			case s.Address.IsValid():
				return "Permission denied" + who + " on " + s.Address.String()
			}
			return "Permission denied" + who
		},
		hint: func(t *Transition) string {
			if t.Subject.AddressIsLocal && t.Subject.Address.Port() < 1024 {
				return "ports below 1024 need CAP_NET_BIND_SERVICE"
			}
			return "check ownership, mode and security policy (SELinux, AppArmor, seccomp)"
		},
	},
}

// Kinds lists every kind in a stable order (the order of the README's Kinds table).
func Kinds() []Kind {
	out := make([]Kind, 0, kindCount-1)
	for k := kindNone + 1; k < kindCount; k++ {
		out = append(out, k)
	}
	return out
}

func (k Kind) String() string {
	if k <= kindNone || k >= kindCount {
		return "none"
	}
	return kinds[k].name
}

// kindByName returns the kind whose String is name.
func kindByName(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if kinds[k].name == name {
			return k, true
		}
	}
	return kindNone, false
}

// Severity of a finding's log records. Open and ongoing records carry the kind's
// severity; resolved records are informational.
type Severity uint8

const (
	SeverityInfo Severity = iota + 1
	SeverityWarn
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "INFO"
	case SeverityWarn:
		return "WARN"
	case SeverityError:
		return "ERROR"
	default:
		return "UNSPECIFIED"
	}
}

// Severity is the severity of the kind's open and ongoing records.
func (k Kind) Severity() Severity {
	if k <= kindNone || k >= kindCount {
		return 0
	}
	return kinds[k].severity
}

// Classify maps one failed syscall to the kind of finding it is evidence for, or to no kind (ok false).
// Category is the syscall's category from the watched-syscall table ("file", "network", "memory",
// "process"). The receiver uses it too, so a failure record's severity is its finding's.
func Classify(syscall, errno, category string) (Kind, bool) {
	for _, k := range Kinds() {
		spec := &kinds[k]
		if !slices.Contains(spec.errnos, errno) {
			continue
		}
		if spec.evidence == nil || spec.evidence(syscall, category) {
			return k, true
		}
	}
	return kindNone, false
}

func quotaOnly(t *Transition) bool { return len(t.Errnos) == 1 && t.Errnos[0] == "EDQUOT" }

// KindErrnos lists the errnos that can tell of kind k.
func KindErrnos(k Kind) []string {
	if k <= kindNone || k >= kindCount {
		return nil
	}
	return slices.Clone(kinds[k].errnos)
}
