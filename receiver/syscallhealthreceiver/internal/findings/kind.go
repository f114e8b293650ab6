package findings

// Kind names a class of health finding. Its String form is the value of the
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

// Kinds lists every kind in a stable order (the order of the README's Kinds table).
func Kinds() []Kind {
	kinds := make([]Kind, 0, kindCount-1)
	for k := kindNone + 1; k < kindCount; k++ {
		kinds = append(kinds, k)
	}
	return kinds
}

func (k Kind) String() string {
	switch k {
	case KindDiskFull:
		return "disk_full"
	case KindReadOnlyFilesystem:
		return "read_only_filesystem"
	case KindIOError:
		return "io_error"
	case KindFDExhaustion:
		return "fd_exhaustion"
	case KindMemoryExhaustion:
		return "memory_exhaustion"
	case KindProcessLimit:
		return "process_limit"
	case KindConnectionRefused:
		return "connection_refused"
	case KindConnectionTimeout:
		return "connection_timeout"
	case KindNetworkUnreachable:
		return "network_unreachable"
	case KindPortConflict:
		return "port_conflict"
	case KindPermissionDenied:
		return "permission_denied"
	default:
		return "none"
	}
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

// Severity is the severity of the kind's open and ongoing records: ERROR when a
// resource is exhausted or broken on this host, WARN when the failure usually has
// its cause elsewhere (a peer, a configuration) or is survivable by retrying.
func (k Kind) Severity() Severity {
	switch k {
	case KindDiskFull, KindReadOnlyFilesystem, KindIOError, KindFDExhaustion, KindMemoryExhaustion, KindProcessLimit:
		return SeverityError
	default:
		return SeverityWarn
	}
}

// classify maps one failed syscall to the kind of finding it is evidence for, or
// kindNone. Category is the syscall's category from the watched-syscall table
// ("file", "network", "memory", "process").
func classify(syscall, errno, category string) Kind {
	switch errno {
	case "ENOSPC", "EDQUOT":
		if category == "file" {
			return KindDiskFull
		}
	case "EROFS":
		if category == "file" {
			return KindReadOnlyFilesystem
		}
	case "EIO":
		if category == "file" {
			return KindIOError
		}
	case "EMFILE", "ENFILE":
		return KindFDExhaustion
	case "ENOMEM":
		return KindMemoryExhaustion
	case "EAGAIN":
		// EAGAIN from clone/fork/execve is a task limit; elsewhere it means "try again" (non-blocking I/O).
		if category == "process" {
			return KindProcessLimit
		}
	case "ECONNREFUSED":
		return KindConnectionRefused
	case "ETIMEDOUT":
		if category == "network" {
			return KindConnectionTimeout
		}
	case "ENETUNREACH", "EHOSTUNREACH":
		return KindNetworkUnreachable
	case "EADDRINUSE":
		// On connect EADDRINUSE means no free ephemeral port, not a listener conflict.
		if syscall == "bind" || syscall == "listen" {
			return KindPortConflict
		}
	case "EACCES", "EPERM":
		if category == "file" || syscall == "execve" || syscall == "bind" || syscall == "connect" {
			return KindPermissionDenied
		}
	}
	return kindNone
}
