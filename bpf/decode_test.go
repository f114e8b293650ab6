package bpf

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// recordedEvent is the truth about one event in testdata/events, noted by the
// process that caused the failure while the probe recorded the raw record.
type recordedEvent struct {
	File    string `json:"file"`
	PID     uint32 `json:"pid"`
	TID     uint32 `json:"tid"`
	PPID    uint32 `json:"ppid"`
	Syscall string `json:"syscall"`
	Errno   string `json:"errno"`
	FD      int32  `json:"fd"`
	Path    string `json:"path"`
	Local   string `json:"local"`
	Peer    string `json:"peer"`
	Comm    string `json:"comm"`
	// CgroupPath is the v2 path from /proc/<pid>/cgroup; "" for asynchronous failures (not read).
	CgroupPath string `json:"cgroup_path"`
	// Async: a connect that failed after returning EINPROGRESS (a Go dial, a timeout).
	Async bool `json:"async"`
}

func readRecordedEvents(t testing.TB) ([]recordedEvent, map[string][]byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/events/recorded.json")
	if err != nil {
		t.Fatal(err)
	}
	var recorded []recordedEvent
	if err := json.Unmarshal(data, &recorded); err != nil {
		t.Fatal(err)
	}
	raw := map[string][]byte{}
	for _, r := range recorded {
		if raw[r.File], err = os.ReadFile(filepath.Join("testdata/events", r.File)); err != nil {
			t.Fatal(err)
		}
	}
	return recorded, raw
}

// The recorded events were taken on amd64; the numbers are those of its table.
var recordedSyscalls = map[string]uint32{"write": 1, "connect": 42, "bind": 49}

func TestHealthEventParsing(t *testing.T) {
	recorded, raw := readRecordedEvents(t)
	var ev Event // reused across records, as the reader does
	for _, r := range recorded {
		t.Run(r.File, func(t *testing.T) {
			if err := DecodeEvent(raw[r.File], &ev); err != nil {
				t.Fatal(err)
			}
			wantErrno, _ := ErrnoByName(r.Errno)
			if ev.PID != r.PID || ev.TID != r.TID || ev.PPID != r.PPID || ev.Comm != r.Comm {
				t.Errorf("process = pid %d tid %d ppid %d comm %q; want %d %d %d %q", ev.PID, ev.TID, ev.PPID, ev.Comm, r.PID, r.TID, r.PPID, r.Comm)
			}
			if ev.Syscall != recordedSyscalls[r.Syscall] || x86_64Table.name(ev.Syscall) != r.Syscall || ev.Errno != wantErrno {
				t.Errorf("failure = syscall %d errno %s; want %s %s", ev.Syscall, ev.Errno, r.Syscall, r.Errno)
			}
			if ev.FD != r.FD || ev.Path != r.Path || ev.CgroupPath != r.CgroupPath {
				t.Errorf("fd %d path %q cgroup %q; want %d %q %q", ev.FD, ev.Path, ev.CgroupPath, r.FD, r.Path, r.CgroupPath)
			}
			checkAddrPort(t, "Local", ev.Local, r.Local)
			checkAddrPort(t, "Peer", ev.Peer, r.Peer)
			if ev.UID != 0 || ev.GID != 0 || ev.CgroupID == 0 || ev.TimestampNs == 0 || ev.Async != r.Async {
				t.Errorf("uid %d gid %d cgroup %d ts %d async %v (want %v)", ev.UID, ev.GID, ev.CgroupID, ev.TimestampNs, ev.Async, r.Async)
			}
			if ev.Category != SyscallCategory(r.Syscall) {
				t.Errorf("category %s, want %s", ev.Category, SyscallCategory(r.Syscall))
			}
			if ev.ErrorCount < 1 || ev.Suppressed != 0 {
				t.Errorf("error count %d suppressed %d", ev.ErrorCount, ev.Suppressed)
			}
		})
	}

	// Counting fields and flags, set on a copy of a real record.
	rec := append([]byte(nil), raw["write_enospc.bin"]...)
	binary.LittleEndian.PutUint64(rec[offErrorCount:], 1234)
	binary.LittleEndian.PutUint64(rec[offSuppressed:], 1200)
	rec[offFlags] = eventFlagAsync
	if err := DecodeEvent(rec, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ErrorCount != 1234 || ev.Suppressed != 1200 || !ev.Async {
		t.Errorf("count %d suppressed %d async %v", ev.ErrorCount, ev.Suppressed, ev.Async)
	}
	// A wildcard bind (0.0.0.0:port) is a valid address; an address-less record leaves both invalid.
	rec = append([]byte(nil), raw["bind_eaddrinuse_ipv6.bin"]...)
	rec[offFamily] = familyInet
	clear(rec[offLocalAddr : offLocalAddr+16])
	if err := DecodeEvent(rec, &ev); err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParseAddrPort("0.0.0.0:" + itoa16(binary.LittleEndian.Uint16(rec[offLocalPort:]))); ev.Local != want || ev.Peer.IsValid() {
		t.Errorf("wildcard bind decoded as local %v peer %v, want %v", ev.Local, ev.Peer, want)
	}

	malformed := map[string]func([]byte) []byte{
		"empty":          func([]byte) []byte { return nil },
		"short":          func(b []byte) []byte { return b[:eventSize-1] },
		"long":           func(b []byte) []byte { return append(b, 0) },
		"positive errno": func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offErrorCode:], 28); return b },
		"zero errno":     func(b []byte) []byte { binary.LittleEndian.PutUint32(b[offErrorCode:], 0); return b },
		"errno beyond 4095": func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[offErrorCode:], uint32(0xffffffff-4096+1))
			return b
		},
		"unknown family":    func(b []byte) []byte { b[offFamily] = 3; return b },
		"unterminated comm": func(b []byte) []byte { copy(b[offComm:], "0123456789abcdef"); return b },
		"unterminated path": func(b []byte) []byte { copy(b[offPath:offPath+pathLen], make256('a')); return b },
		"unterminated cgroup path": func(b []byte) []byte {
			copy(b[offCgroupPath:offCgroupPath+cgroupPathLen], make256('a'))
			return b
		},
	}
	for name, corrupt := range malformed {
		before := ev
		err := DecodeEvent(corrupt(append([]byte(nil), raw["write_enospc.bin"]...)), &ev)
		if !errors.Is(err, ErrMalformedEvent) {
			t.Errorf("%s: error %v, want ErrMalformedEvent", name, err)
		}
		if ev != before {
			t.Errorf("%s: a malformed record changed the event", name)
		}
	}
}

func checkAddrPort(t *testing.T, field string, got netip.AddrPort, want string) {
	t.Helper()
	if want == "" {
		if got.IsValid() {
			t.Errorf("%s = %v, want none", field, got)
		}
		return
	}
	if got != netip.MustParseAddrPort(want) {
		t.Errorf("%s = %v, want %s", field, got, want)
	}
}

func make256(c byte) []byte {
	b := make([]byte, pathLen)
	for i := range b {
		b[i] = c
	}
	return b
}

func itoa16(v uint16) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Decoding into a reused Event does not allocate once its strings are the same.
func TestDecodeEventReuseDoesNotAllocate(t *testing.T) {
	_, raw := readRecordedEvents(t)
	rec := raw["write_enospc.bin"]
	var ev Event
	allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeEvent(rec, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("DecodeEvent allocated %.1f times per repeated record", allocs)
	}
}

func BenchmarkEventProcessing(b *testing.B) {
	_, raw := readRecordedEvents(b)
	b.Run("same-process", func(b *testing.B) {
		rec := raw["write_enospc.bin"]
		var ev Event
		b.ReportAllocs()
		b.SetBytes(eventSize)
		for b.Loop() {
			if err := DecodeEvent(rec, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Alternating records change Comm/Path each time: the worst case for string reuse.
	b.Run("alternating", func(b *testing.B) {
		recs := [][]byte{raw["write_enospc.bin"], raw["connect_econnrefused_unix_abstract.bin"]}
		var ev Event
		b.ReportAllocs()
		b.SetBytes(eventSize)
		i := 0
		for b.Loop() {
			if err := DecodeEvent(recs[i&1], &ev); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// rawEvent mirrors struct health_event for binary.Read, the reflective decoder
// DecodeEvent replaces; benchmarked side by side for the ratio.
type rawEvent struct {
	TimestampNs, CgroupID, ErrorCount, Suppressed uint64
	PID, TID, PPID, UID, GID, Syscall             uint32
	ErrorCode, FD                                 int32
	LocalPort, PeerPort                           uint16
	Category, Flags, Family, Pad                  uint8
	LocalAddr, PeerAddr                           [16]byte
	Comm                                          [commLen]byte
	Path                                          [pathLen]byte
	MountNamespace, Pad2                          uint32
	CgroupPath                                    [cgroupPathLen]byte
	ProcessStartNs                                uint64
}

func BenchmarkEventProcessingBinaryRead(b *testing.B) {
	_, raw := readRecordedEvents(b)
	rec := raw["write_enospc.bin"]
	var ev rawEvent
	b.ReportAllocs()
	b.SetBytes(eventSize)
	for b.Loop() {
		if err := binary.Read(bytes.NewReader(rec), binary.LittleEndian, &ev); err != nil {
			b.Fatal(err)
		}
	}
}
