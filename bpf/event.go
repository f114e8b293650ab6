package bpf

import "net/netip"

// Category groups watched syscalls by the resource whose exhaustion they reveal.
type Category uint8

const (
	CategoryUnknown Category = 0
	CategoryFile    Category = 1
	CategoryNetwork Category = 2
	CategoryMemory  Category = 3
	CategoryProcess Category = 4
)

// String returns the name used for the syscallhealth.category attribute.
func (c Category) String() string {
	switch c {
	case CategoryFile:
		return "file"
	case CategoryNetwork:
		return "network"
	case CategoryMemory:
		return "memory"
	case CategoryProcess:
		return "process"
	default:
		return "unknown"
	}
}

// Transport is the transport of the socket of a network failure, as the kernel knew it.
type Transport uint8

const (
	TransportUnknown Transport = iota // not a socket syscall, or a protocol other than these
	TransportTCP
	TransportUDP
	TransportUnix
)

// String is the transport's name, "" when unknown.
func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	case TransportUnix:
		return "unix"
	default:
		return ""
	}
}

// Event is one failed syscall as the kernel reported it, decoded from the ring
// buffer by DecodeEvent. Only DecodeEvent reads the raw bytes.
type Event struct {
	// TimestampNs is CLOCK_BOOTTIME nanoseconds at the failure; BootClock turns it into wall-clock time.
	TimestampNs uint64
	PID         uint32 // thread group id (process.pid)
	// ProcessStartNs is CLOCK_BOOTTIME nanoseconds at the process's creation (its thread group leader's
	// start), as the kernel knew it at the failure: with PID it names the process across PID reuse.
	ProcessStartNs uint64
	TID            uint32 // thread id
	PPID           uint32 // the real parent's thread group id
	UID            uint32
	GID            uint32
	// CgroupID is the failing task's cgroup in the probe's hierarchy
	// (Options.CgroupController): the v2 cgroup id, or the v1 controller's.
	CgroupID uint64
	// CgroupPath is that cgroup's path below the hierarchy's root as the kernel
	// knew it at the failure, at most its 6 innermost components ("..." before
	// them when deeper); "/" for the root. Container ids and Kubernetes pod uids
	// are segments of it. Empty for asynchronous connect failures (not read
	// from another task's context): CgroupID identifies the cgroup then.
	CgroupPath string
	Syscall    uint32 // native syscall number of the kernel's architecture
	Errno      Errno  // positive errno
	Category   Category
	// Async is set when the failure was learned after the syscall returned
	// (a non-blocking connect refused or timed out later, via the TCP state).
	Async bool
	// Transport is the socket's transport for network syscalls (from its protocol, or a unix address).
	Transport Transport
	Comm      string
	// Path is the file argument of file syscalls as the process passed it (possibly
	// relative); for fd-based file syscalls (write, ftruncate, fallocate...) the path of
	// the descriptor's file as the kernel resolved it; for unix-socket connect/bind the
	// socket path ("@name" for abstract sockets). Empty when not applicable or not read
	// (Options.IncludePaths).
	Path string
	// MountNamespace is the inode of the failing task's mount namespace at the failure: the namespace Path
	// is relative to. 0 for asynchronous connect failures (learned outside the task).
	MountNamespace uint32
	// FD is the descriptor argument of fd-based syscalls (write family, connect, bind,
	// listen, accept...), -1 when the syscall takes none.
	FD int32
	// Local and Peer are the socket addresses of network syscalls; invalid when not applicable.
	Local netip.AddrPort
	Peer  netip.AddrPort
	// ErrorCount is the exact number of failures for (PID, ProcessStartNs, Syscall, Errno) so far, this one included.
	ErrorCount uint64
	// Suppressed is how many failures for the key were not emitted since its previous event:
	// held back by the rate limit or the storm guard, or lost to a full ring buffer.
	// So ErrorCount minus the previous event's ErrorCount is 1 + Suppressed.
	Suppressed uint64
}
