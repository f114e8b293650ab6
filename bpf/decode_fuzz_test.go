package bpf

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeEvent feeds arbitrary ring-buffer records to the decoder: it never panics, rejects what
// is malformed with ErrMalformedEvent, and what it accepts is decoded the same into a reused Event
// (as the reader does) as into a fresh one. Seeds: the recorded kernel events and their truncations.
func FuzzDecodeEvent(f *testing.F) {
	_, recorded := readRecordedEvents(f)
	for _, raw := range recorded {
		f.Add(raw)
		f.Add(raw[:len(raw)-1])
	}
	f.Add([]byte{})
	f.Add(make([]byte, eventSize))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var fresh Event
		err := DecodeEvent(raw, &fresh)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("error %v does not wrap ErrMalformedEvent", err)
			}
			return
		}
		if fresh.Errno < 1 || fresh.Errno > maxErrno {
			t.Fatalf("accepted errno %d", fresh.Errno)
		}
		if len(fresh.Comm) >= commLen || len(fresh.Path) >= pathLen ||
			bytes.IndexByte([]byte(fresh.Comm), 0) >= 0 || bytes.IndexByte([]byte(fresh.Path), 0) >= 0 {
			t.Fatalf("comm %q or path %q overran its field", fresh.Comm, fresh.Path)
		}
		reused := Event{Comm: "previous", Path: "/previous", Async: true}
		if err := DecodeEvent(raw, &reused); err != nil || reused != fresh {
			t.Fatalf("decoding into a reused event gave %+v, %v; into a fresh one %+v", reused, err, fresh)
		}
	})
}
