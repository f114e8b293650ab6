//go:build linux

package syscallhealthreceiver

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/syscallhealth/syscallhealth/internal/testenv"
)

// shortLived runs n processes in cgroup dir, each forked by one shell, failing write(2) with ENOSPC once
// and exiting at once.
func shortLived(t testing.TB, cg *testenv.CgroupTree, dir string, n int) {
	t.Helper()
	script := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do (echo x > /dev/full) 2>/dev/null; i=$((i+1)); done"
	cmd := cg.Shell(dir, "exec /bin/busybox sh -c '"+script+"'")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// failureTotal sums the latest syscallhealth.failures points of write ENOSPC per series (resource and
// attributes) over all emissions, and returns it with the number of distinct series.
func failureTotal(all []pmetric.Metrics) (total int64, series int) {
	latest := make(map[string]int64)
	for _, md := range all {
		for _, p := range failurePoints(md) {
			if p.syscall != "write" || p.errno != "ENOSPC" {
				continue
			}
			latest[p.container+"|"+p.pod+"|"+p.executable+"|"+strconv.FormatInt(p.pid, 10)] = p.value
		}
	}
	for _, v := range latest {
		total += v
	}
	return total, len(latest)
}

// Processes of a container that each fail once and exit at once: at every granularity the counts add
// up exactly, and only the process granularity has a series per process.
func TestGranularityWithShortLivedProcesses(t *testing.T) {
	const n = 200
	cg := testenv.NewCgroupTree(t)
	dir := cg.Mkdir("libpod_parent/libpod-" + testContainerID)
	for _, g := range []Granularity{GranularityProcess, GranularityContainer, GranularityExecutable, GranularityHost} {
		t.Run(string(g), func(t *testing.T) {
			cfg := writeFullConfig()
			cfg.Scope.Include.Cgroups = []string{cg.Path(cg.Root)}
			cfg.FailuresGranularity = g
			_, metrics := startWithSinks(t, cfg)
			shortLived(t, cg, dir, n)
			var total int64
			var series int
			require.Eventually(t, func() bool {
				total, series = failureTotal(metrics.AllMetrics())
				return total == n
			}, 20*time.Second, 50*time.Millisecond, "the exact total of %d failures (last seen: %d in %d series)", n, &total, &series)
			total, series = failureTotal(metrics.AllMetrics())
			assert.Equal(t, int64(n), total)
			if g == GranularityProcess {
				assert.Equal(t, n, series, "one series per process")
				return
			}
			assert.Equal(t, 1, series, "one series for all the processes")
			if g == GranularityContainer {
				for _, p := range failurePoints(metrics.AllMetrics()[len(metrics.AllMetrics())-1]) {
					assert.Equal(t, testContainerID, p.container)
				}
			}
		})
	}
}

// BenchmarkShortLivedProcesses measures, per granularity, 10,000 processes that each fail once and exit
// at once (forked by one shell in a container's cgroup, about as fast as it forks): the series exported
// over the run (series), the series in the last export (series-last), and the collector's Go heap in use
// after a GC at the end (heap-MiB) and its most seen during the run (peak-heap-MiB). Every run checks
// that the counts add up to exactly 10,000. It forks 40,000 processes, so the smoke run of `make test`
// skips it; measure with
//
//	sudo SYSCALLHEALTH_MEASURE=1 go test ./receiver/syscallhealthreceiver -run '^$' -bench ShortLivedProcesses -benchtime 1x
func BenchmarkShortLivedProcesses(b *testing.B) {
	if os.Getenv("SYSCALLHEALTH_MEASURE") != "1" {
		b.Skip("forks 10,000 processes per granularity: run with SYSCALLHEALTH_MEASURE=1")
	}
	const n = 10000
	cg := testenv.NewCgroupTree(b)
	dir := cg.Mkdir("libpod_parent/libpod-" + testContainerID)
	for _, g := range []Granularity{GranularityProcess, GranularityContainer, GranularityExecutable, GranularityHost} {
		b.Run(string(g), func(b *testing.B) {
			for b.Loop() {
				cfg := writeFullConfig()
				cfg.CollectionInterval = time.Second
				cfg.Scope.Include.Cgroups = []string{cg.Path(cg.Root)}
				cfg.FailuresGranularity = g
				// A tally of the latest value per series rather than every emission kept: what stays on the
				// heap is the receiver's (and at process granularity the tally's 10,000 entries).
				var mu sync.Mutex
				latest := make(map[failureSeries]int64)
				last := 0
				sink, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
					mu.Lock()
					defer mu.Unlock()
					last = 0
					for _, p := range failurePoints(md) {
						if p.syscall == "write" && p.errno == "ENOSPC" {
							v := p.value
							p.value, p.start = 0, 0
							latest[p] = v
							last++
						}
					}
					return nil
				})
				require.NoError(b, err)
				total := func() (sum int64) {
					mu.Lock()
					defer mu.Unlock()
					for _, v := range latest {
						sum += v
					}
					return sum
				}
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				stop := startMetricsOnly(b, cfg, sink)
				peak := make(chan uint64)
				done := make(chan struct{})
				go func() {
					var most uint64
					var ms runtime.MemStats
					for {
						select {
						case <-done:
							peak <- most
							return
						case <-time.After(100 * time.Millisecond):
							runtime.ReadMemStats(&ms)
							most = max(most, ms.HeapInuse)
						}
					}
				}()
				shortLived(b, cg, dir, n)
				deadline := time.Now().Add(60 * time.Second)
				for total() != n {
					if time.Now().After(deadline) {
						b.Fatalf("counted %d failures of %d", total(), n)
					}
					time.Sleep(100 * time.Millisecond)
				}
				close(done)
				most := <-peak
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				mu.Lock()
				series := len(latest)
				mu.Unlock()
				stop()
				b.ReportMetric(float64(series), "series")
				b.ReportMetric(float64(last), "series-last")
				b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(max(most, after.HeapInuse))/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(before.HeapInuse)/(1<<20), "heap-before-MiB")
			}
		})
	}
}
