package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

var (
	// ErrClosed is returned by ReadEvent once the Probe is closed.
	ErrClosed = errors.New("syscallhealth probe closed")
	// ErrDrained is returned by ReadEvent after Drain, once the ring buffer is empty.
	ErrDrained = errors.New("syscallhealth ring buffer drained")
	// ErrMalformedEvent wraps every error DecodeEvent returns for bytes that are not a health event.
	ErrMalformedEvent = errors.New("malformed health event")
)

// Layout of struct health_event (health.h), little-endian on both supported targets.
const (
	eventSize         = 648
	offTimestamp      = 0
	offCgroupID       = 8
	offErrorCount     = 16
	offSuppressed     = 24
	offPID            = 32
	offTID            = 36
	offPPID           = 40
	offUID            = 44
	offGID            = 48
	offSyscall        = 52
	offErrorCode      = 56
	offFD             = 60
	offLocalPort      = 64
	offPeerPort       = 66
	offCategory       = 68
	offFlags          = 69
	offFamily         = 70
	offProtocol       = 71
	offLocalAddr      = 72
	offPeerAddr       = 88
	offComm           = 104
	offPath           = 120
	offMountNS        = 376
	offCgroupPath     = 384
	offProcessStart   = 640
	commLen           = 16
	pathLen           = 256
	cgroupPathLen     = 256
	eventFlagAsync    = 1
	familyUnspecified = 0
	familyUnix        = 1
	familyInet        = 2
	familyInet6       = 10
)

// DecodeEvent parses one ring-buffer record into ev, the one place raw event
// bytes are read. ev may be reused between calls: its strings are kept when
// unchanged, so decoding repeated events of one process does not allocate.
// Errors wrap ErrMalformedEvent.
func DecodeEvent(raw []byte, ev *Event) error {
	if len(raw) != eventSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformedEvent, len(raw), eventSize)
	}
	le := binary.LittleEndian
	code := int32(le.Uint32(raw[offErrorCode:]))
	if code >= 0 || code < -maxErrno {
		return fmt.Errorf("%w: error code %d is not a negative errno", ErrMalformedEvent, code)
	}
	family := raw[offFamily]
	switch family {
	case familyUnspecified, familyUnix, familyInet, familyInet6:
	default:
		return fmt.Errorf("%w: unknown address family %d", ErrMalformedEvent, family)
	}
	comm, ok := cString(raw[offComm : offComm+commLen])
	if !ok {
		return fmt.Errorf("%w: comm is not NUL-terminated", ErrMalformedEvent)
	}
	path, ok := cString(raw[offPath : offPath+pathLen])
	if !ok {
		return fmt.Errorf("%w: path is not NUL-terminated", ErrMalformedEvent)
	}
	cgroupPath, ok := cString(raw[offCgroupPath : offCgroupPath+cgroupPathLen])
	if !ok {
		return fmt.Errorf("%w: cgroup path is not NUL-terminated", ErrMalformedEvent)
	}

	ev.TimestampNs = le.Uint64(raw[offTimestamp:])
	ev.CgroupID = le.Uint64(raw[offCgroupID:])
	ev.ErrorCount = le.Uint64(raw[offErrorCount:])
	ev.Suppressed = le.Uint64(raw[offSuppressed:])
	ev.PID = le.Uint32(raw[offPID:])
	ev.TID = le.Uint32(raw[offTID:])
	ev.PPID = le.Uint32(raw[offPPID:])
	ev.UID = le.Uint32(raw[offUID:])
	ev.GID = le.Uint32(raw[offGID:])
	ev.Syscall = le.Uint32(raw[offSyscall:])
	ev.Errno = Errno(-code)
	ev.FD = int32(le.Uint32(raw[offFD:]))
	ev.Category = Category(raw[offCategory])
	ev.Async = raw[offFlags]&eventFlagAsync != 0
	ev.Transport = transportOf(family, raw[offProtocol])
	ev.MountNamespace = le.Uint32(raw[offMountNS:])
	ev.ProcessStartNs = le.Uint64(raw[offProcessStart:])
	// string(b) == s compares without allocating; only a changed string is copied.
	if string(comm) != ev.Comm {
		ev.Comm = string(comm)
	}
	if string(path) != ev.Path {
		ev.Path = string(path)
	}
	if string(cgroupPath) != ev.CgroupPath {
		ev.CgroupPath = string(cgroupPath)
	}
	ev.Local, ev.Peer = netip.AddrPort{}, netip.AddrPort{}
	localPort, peerPort := le.Uint16(raw[offLocalPort:]), le.Uint16(raw[offPeerPort:])
	localAddr, peerAddr := raw[offLocalAddr:offLocalAddr+16], raw[offPeerAddr:offPeerAddr+16]
	switch family {
	case familyInet:
		if localPort != 0 || !allZero(localAddr) {
			ev.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(localAddr[:4])), localPort)
		}
		if peerPort != 0 || !allZero(peerAddr) {
			ev.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(peerAddr[:4])), peerPort)
		}
	case familyInet6:
		if localPort != 0 || !allZero(localAddr) {
			ev.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(localAddr)), localPort)
		}
		if peerPort != 0 || !allZero(peerAddr) {
			ev.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(peerAddr)), peerPort)
		}
	}
	return nil
}

// transportOf names the transport of a socket from its address family and IP protocol (IPPROTO_*).
func transportOf(family, protocol uint8) Transport {
	switch {
	case family == familyUnix:
		return TransportUnix
	case protocol == ipprotoTCP:
		return TransportTCP
	case protocol == ipprotoUDP:
		return TransportUDP
	}
	return TransportUnknown
}

const (
	ipprotoTCP = 6
	ipprotoUDP = 17
)

// cString returns b up to its first NUL; false when there is none.
func cString(b []byte) ([]byte, bool) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return nil, false
	}
	return b[:i], true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
