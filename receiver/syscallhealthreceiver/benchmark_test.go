//go:build linux

package syscallhealthreceiver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

// rawRecordFiles are ring buffer records captured from the kernel by the bpf package's tests.
var rawRecordFiles = []string{
	"write_enospc.bin",
	"connect_econnrefused_ipv4.bin",
	"bind_eaddrinuse_ipv6.bin",
	"connect_econnrefused_unix_abstract.bin",
}

func readRawRecords(b *testing.B) [][]byte {
	b.Helper()
	var records [][]byte
	for _, name := range rawRecordFiles {
		raw, err := os.ReadFile(filepath.Join("..", "..", "bpf", "testdata", "events", name))
		if err != nil {
			b.Skipf("the kernel records of package bpf are missing: %v", err)
		}
		records = append(records, raw)
	}
	return records
}

// BenchmarkEventProcessing measures what the receiver does per kernel event: decode the ring buffer
// record, enrich it with the process (cached /proc data), and convert it into a batched log record. One
// op is one event, so ns/op is ns/event and allocs/op allocs/event. "failing syscall" is the cost of one
// failed openat on this machine, measured side by side for the ratio.
func BenchmarkEventProcessing(b *testing.B) {
	records := readRawRecords(b)
	var ev bpf.Event
	if err := bpf.DecodeEvent(records[0], &ev); err != nil {
		b.Fatal(err)
	}

	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := bpf.DecodeEvent(records[i%len(records)], &ev); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run("enrich", func(b *testing.B) {
		processes := newProcessCache(hostfs.New("/", 0, nil), false)
		own := ev
		own.PID = uint32(os.Getpid())
		b.ReportAllocs()
		for b.Loop() {
			if p := processes.forEvent(&own); p == nil {
				b.Fatal("no process")
			}
		}
	})

	b.Run("convert", func(b *testing.B) {
		processes := newProcessCache(hostfs.New("/", 0, nil), false)
		escalation := newEscalationTracker()
		batch := newLogBatch(hostInfo{name: "bench"}, createDefaultConfig().ResourceAttributes, "bench")
		clock := bpf.NewBootClock()
		p := processes.forEvent(&ev)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := bpf.DecodeEvent(records[i%len(records)], &ev); err != nil {
				b.Fatal(err)
			}
			convertInto(b, batch, escalation, p, &ev, clock)
			i++
		}
	})

	b.Run("decode+enrich+convert", func(b *testing.B) {
		processes := newProcessCache(hostfs.New("/", 0, nil), false)
		escalation := newEscalationTracker()
		batch := newLogBatch(hostInfo{name: "bench"}, createDefaultConfig().ResourceAttributes, "bench")
		clock := bpf.NewBootClock()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := bpf.DecodeEvent(records[i%len(records)], &ev); err != nil {
				b.Fatal(err)
			}
			convertInto(b, batch, escalation, processes.forEvent(&ev), &ev, clock)
			i++
		}
	})

	b.Run("failing syscall", func(b *testing.B) {
		for b.Loop() {
			if _, err := unix.Openat(unix.AT_FDCWD, "/nonexistent/syscallhealth-benchmark", unix.O_RDONLY, 0); err == nil {
				b.Fatal("the path exists")
			}
		}
	})
}

// convertInto is the receiver's conversion step; the batch is handed over (and dropped) when it would be
// flushed, as the flusher does.
func convertInto(b *testing.B, batch *logBatch, escalation *escalationTracker, p *processInfo, ev *bpf.Event, clock wallClock) {
	names := namesOf(ev)
	added, ready := batch.add(p, ev, names, escalation.severityOf(ev, names.syscall, names.errno), clock, time.Now())
	if !added {
		b.Fatal("batch full")
	}
	if ready {
		logs, _ := batch.take()
		if logs.LogRecordCount() == 0 {
			b.Fatal("empty batch")
		}
	}
}
