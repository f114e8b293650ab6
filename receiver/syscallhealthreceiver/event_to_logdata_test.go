//go:build linux

package syscallhealthreceiver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/bpf"
)

func TestFailureRecordBodyAndAddresses(t *testing.T) {
	event := func(syscall, errno string) bpf.Event {
		return bpf.Event{Syscall: syscallNr(t, syscall), Errno: errnoOf(t, errno), Category: bpf.SyscallCategory(syscall), TID: 7, ErrorCount: 1}
	}
	withPath := func(ev bpf.Event, path string) bpf.Event { ev.Path = path; return ev }
	withPeer := func(ev bpf.Event, ap string) bpf.Event { ev.Peer = netip.MustParseAddrPort(ap); return ev }
	withLocal := func(ev bpf.Event, ap string) bpf.Event { ev.Local = netip.MustParseAddrPort(ap); return ev }
	over := func(ev bpf.Event, transport bpf.Transport) bpf.Event { ev.Transport = transport; return ev }

	tests := []struct {
		name  string
		ev    bpf.Event
		body  string
		attrs map[string]any // the address and path attributes
	}{
		{
			name:  "file with a path with quotes and a newline (escaped by the batch, safetext)",
			ev:    withPath(event("openat", "EACCES"), "/srv/data/\"odd\" name\n"),
			body:  "openat(\"/srv/data/\"odd\" name\n\") failed: EACCES (Permission denied)",
			attrs: map[string]any{"file.path": "/srv/data/\"odd\" name\n"},
		},
		{
			name:  "write to the file behind a descriptor",
			ev:    withPath(event("write", "EDQUOT"), "/home/deploy/out.log"),
			body:  `write("/home/deploy/out.log") failed: EDQUOT (Disk quota exceeded)`,
			attrs: map[string]any{"file.path": "/home/deploy/out.log"},
		},
		{
			name:  "connect over IPv6 with the source port",
			ev:    withLocal(withPeer(event("connect", "ETIMEDOUT"), "[2001:db8::5]:443"), "[2001:db8::7]:51234"),
			body:  "connect to [2001:db8::5]:443 failed: ETIMEDOUT (Connection timed out)",
			attrs: map[string]any{"network.peer.address": "2001:db8::5", "network.peer.port": int64(443), "network.local.address": "2001:db8::7", "network.local.port": int64(51234), "network.type": "ipv6"},
		},
		{
			name:  "connect to an abstract unix socket",
			ev:    over(withPath(event("connect", "ECONNREFUSED"), "@app.sock"), bpf.TransportUnix),
			body:  "connect to @app.sock failed: ECONNREFUSED (Connection refused)",
			attrs: map[string]any{"network.peer.address": "@app.sock", "network.transport": "unix"},
		},
		{
			name:  "bind a unix socket path",
			ev:    over(withPath(event("bind", "EADDRINUSE"), "/run/app.sock"), bpf.TransportUnix),
			body:  "bind to /run/app.sock failed: EADDRINUSE (Address already in use)",
			attrs: map[string]any{"network.local.address": "/run/app.sock", "network.transport": "unix"},
		},
		{
			name:  "listen on a dual-stack socket",
			ev:    over(withLocal(event("listen", "EADDRINUSE"), "[::ffff:0.0.0.0]:8080"), bpf.TransportTCP),
			body:  "listen on 0.0.0.0:8080 failed: EADDRINUSE (Address already in use)",
			attrs: map[string]any{"network.local.address": "0.0.0.0", "network.local.port": int64(8080), "network.type": "ipv4", "network.transport": "tcp"},
		},
		{
			name:  "bind of a UDP port",
			ev:    over(withLocal(event("bind", "EADDRINUSE"), "127.0.0.1:5353"), bpf.TransportUDP),
			body:  "bind to 127.0.0.1:5353 failed: EADDRINUSE (Address already in use)",
			attrs: map[string]any{"network.local.address": "127.0.0.1", "network.local.port": int64(5353), "network.type": "ipv4", "network.transport": "udp"},
		},
		{
			name:  "open of a relative path: not a full file.path",
			ev:    withPath(event("openat", "ENOSPC"), "data/out.log"),
			body:  `openat("data/out.log") failed: ENOSPC (No space left on device)`,
			attrs: map[string]any{"syscallhealth.path": "data/out.log"},
		},
		{
			name:  "connect whose destination was not read (include_paths: false)",
			ev:    event("connect", "ENETUNREACH"),
			body:  "connect failed: ENETUNREACH (Network is unreachable)",
			attrs: map[string]any{},
		},
		{
			name:  "memory",
			ev:    event("mmap", "ENOMEM"),
			body:  "mmap failed: ENOMEM (Cannot allocate memory)",
			attrs: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := plog.NewLogRecord()
			fillFailureRecord(lr, &tt.ev, namesOf(&tt.ev), plog.SeverityNumberWarn, fixedBootClock{boot: bootBase}, bootBase)
			assert.Equal(t, tt.body, lr.Body().Str())
			got := map[string]any{}
			for k, v := range lr.Attributes().AsRaw() {
				switch k {
				case "file.path", "syscallhealth.path", "network.peer.address", "network.peer.port", "network.local.address", "network.local.port",
					"network.transport", "network.type":
					got[k] = v
				}
			}
			assert.Equal(t, tt.attrs, got)
			_, async := lr.Attributes().Get("syscallhealth.async")
			assert.False(t, async, "only failures learned after the syscall returned are async")
			assert.Equal(t, bootBase, lr.Timestamp().AsTime().UTC())
		})
	}

	async := withPeer(event("connect", "ECONNREFUSED"), "10.1.2.3:80")
	async.Async, async.Transport = true, bpf.TransportTCP
	lr := plog.NewLogRecord()
	fillFailureRecord(lr, &async, namesOf(&async), plog.SeverityNumberWarn, fixedBootClock{boot: bootBase}, bootBase.Add(time.Second))
	v, ok := lr.Attributes().Get("syscallhealth.async")
	assert.True(t, ok && v.Bool())
	v, ok = lr.Attributes().Get("network.transport")
	assert.True(t, ok && v.Str() == "tcp")
}
