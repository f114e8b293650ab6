//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/bpf"
)

// failureEventName is the EventName of every failure log record.
const failureEventName = "syscallhealth.failure"

// Log record attributes: semantic convention names where one exists, syscallhealth.* otherwise.
const (
	attrSyscallName     = "syscallhealth.syscall.name"
	attrErrorType       = "error.type"
	attrErrno           = "syscallhealth.errno"
	attrCategory        = "syscallhealth.category"
	attrThreadID        = "thread.id"
	attrThreadName      = "thread.name"
	attrErrorCount      = "syscallhealth.error_count"
	attrSuppressedCount = "syscallhealth.suppressed_count"
	attrFilePath        = "file.path"
	attrPathArgument    = "syscallhealth.path"
	attrPeerAddress     = "network.peer.address"
	attrPeerPort        = "network.peer.port"
	attrLocalAddress    = "network.local.address"
	attrLocalPort       = "network.local.port"
	attrTransport       = "network.transport"
	attrNetworkType     = "network.type"
	attrAsync           = "syscallhealth.async"
)

// failureAttributeSize is the most attributes a failure record carries.
const failureAttributeSize = 16

// wallClock turns the kernel's CLOCK_BOOTTIME nanoseconds into wall-clock time (bpf.BootClock).
type wallClock interface {
	Time(bootNs uint64) time.Time
}

// failureNames are the resolved names of an event, shared by its log record and its severity.
type failureNames struct {
	syscall string
	errno   string
}

func namesOf(ev *bpf.Event) failureNames {
	return failureNames{syscall: bpf.SyscallName(ev.Syscall), errno: ev.Errno.Name()}
}

// fillFailureRecord turns one kernel failure event into a log record: the one place events become log data.
func fillFailureRecord(lr plog.LogRecord, ev *bpf.Event, names failureNames, sev plog.SeverityNumber, clock wallClock, observed time.Time) {
	lr.SetEventName(failureEventName)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(clock.Time(ev.TimestampNs)))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
	lr.SetSeverityNumber(sev)
	lr.SetSeverityText(severityText(sev))
	lr.Body().SetStr(failureBody(ev, names))

	attrs := lr.Attributes()
	attrs.EnsureCapacity(failureAttributeSize)
	attrs.PutStr(attrSyscallName, names.syscall)
	attrs.PutStr(attrErrorType, names.errno)
	attrs.PutInt(attrErrno, int64(ev.Errno))
	attrs.PutStr(attrCategory, ev.Category.String())
	attrs.PutInt(attrThreadID, int64(ev.TID))
	attrs.PutStr(attrThreadName, ev.Comm)
	attrs.PutInt(attrErrorCount, int64(ev.ErrorCount))
	attrs.PutInt(attrSuppressedCount, int64(ev.Suppressed))
	switch {
	case ev.Path != "" && ev.Category == bpf.CategoryNetwork:
		// A unix socket: its path is the address (semantic conventions network.*.address).
		if names.syscall == "connect" {
			attrs.PutStr(attrPeerAddress, ev.Path)
		} else {
			attrs.PutStr(attrLocalAddress, ev.Path)
		}
	case strings.HasPrefix(ev.Path, "/"):
		attrs.PutStr(attrFilePath, ev.Path)
	case ev.Path != "":
		// file.path is a full path; a relative argument is kept as the process passed it.
		attrs.PutStr(attrPathArgument, ev.Path)
	}
	if addr := networkAddress(ev); addr.IsValid() {
		if addr.Unmap().Is4() {
			attrs.PutStr(attrNetworkType, "ipv4")
		} else {
			attrs.PutStr(attrNetworkType, "ipv6")
		}
	}
	if transport := ev.Transport.String(); transport != "" {
		attrs.PutStr(attrTransport, transport)
	}
	if ev.Peer.IsValid() {
		attrs.PutStr(attrPeerAddress, ev.Peer.Addr().Unmap().String())
		attrs.PutInt(attrPeerPort, int64(ev.Peer.Port()))
	}
	if ev.Local.IsValid() {
		attrs.PutStr(attrLocalAddress, ev.Local.Addr().Unmap().String())
		attrs.PutInt(attrLocalPort, int64(ev.Local.Port()))
	}
	if ev.Async {
		attrs.PutBool(attrAsync, true)
	}
}

// networkAddress is the IP address of a network failure, peer first; invalid when it has none.
func networkAddress(ev *bpf.Event) netip.Addr {
	if ev.Peer.IsValid() {
		return ev.Peer.Addr()
	}
	if ev.Local.IsValid() {
		return ev.Local.Addr()
	}
	return netip.Addr{}
}

// failureBody is a sentence a person can act on:
//
//	openat("/var/lib/pg/base/1234") failed: ENOSPC (No space left on device)
//	connect to 10.0.0.5:5432 failed: ECONNREFUSED (Connection refused)
//	connect to @app.sock failed: ECONNREFUSED (Connection refused)
//	bind to 0.0.0.0:8080 failed: EADDRINUSE (Address already in use)
//	listen on [::]:8080 failed: EADDRINUSE (Address already in use)
//	clone failed: EAGAIN (Resource temporarily unavailable)
func failureBody(ev *bpf.Event, names failureNames) string {
	var b strings.Builder
	b.Grow(96 + len(ev.Path))
	b.WriteString(names.syscall)
	if ev.Category == bpf.CategoryNetwork {
		if preposition, target := networkTarget(ev, names.syscall); target != "" {
			b.WriteString(preposition)
			b.WriteString(target)
		}
	} else if ev.Path != "" {
		// Quoted as it is: the batch escapes the whole body once, as every exported string (safetext).
		b.WriteString(`("`)
		b.WriteString(ev.Path)
		b.WriteString(`")`)
	}
	b.WriteString(" failed: ")
	b.WriteString(names.errno)
	if desc := ev.Errno.Description(); desc != "" {
		b.WriteString(" (")
		b.WriteString(desc)
		b.WriteByte(')')
	}
	return b.String()
}

// networkTarget is the address a network failure was about: the destination of a connect, the local
// address of bind, listen and accept; a unix socket's path stands for its address.
func networkTarget(ev *bpf.Event, syscall string) (preposition, target string) {
	switch {
	case syscall == "connect" && ev.Peer.IsValid():
		return " to ", readableAddrPort(ev.Peer)
	case syscall == "connect":
		return " to ", ev.Path
	case ev.Local.IsValid():
		preposition, target = " on ", readableAddrPort(ev.Local)
	default:
		preposition, target = " on ", ev.Path
	}
	if syscall == "bind" {
		preposition = " to "
	}
	return preposition, target
}

// readableAddrPort shows IPv4-mapped IPv6 addresses (dual-stack sockets) as plain IPv4.
func readableAddrPort(ap netip.AddrPort) string {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}
