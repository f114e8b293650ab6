package hostfs

import (
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkLookups measures the healthy lookups the receiver makes, on its own process, with their tail
// latencies (p99-ns, max-ns): what DefaultDeadline must stay well above.
func BenchmarkLookups(b *testing.B) {
	h := New("/", time.Minute, nil)
	pid := uint32(os.Getpid())
	for _, op := range []struct {
		name string
		call func()
	}{
		{"Stat", func() { _, _ = h.Stat(pid) }},
		{"Process", func() { _, _ = h.Process(pid, true) }},
		{"MountTable", func() { _, _ = h.MountTable(pid) }},
		{"StatInRoot", func() { _, _ = h.StatInRoot(pid, "/tmp/does/not/exist", Device{}) }},
		{"OpenFiles", func() { _, _ = h.OpenFiles(pid) }},
	} {
		b.Run(op.name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				op.call()
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100]), "p99-ns")
			b.ReportMetric(float64(took[len(took)-1]), "max-ns")
		})
	}
}
