//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"
)

// sustainedRates are the fixed generator rates tried, lowest first; the result is the highest rate whose
// every failure reached ConsumeLogs.
var sustainedRates = []int{25_000, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 400_000, 500_000}

const (
	sustainedFor  = 10 * time.Second
	latencyRate   = 10_000
	latencyFor    = 10 * time.Second
	settleTimeout = 5 * time.Second
)

// A generatorRun is what one fixed-rate run delivered into ConsumeLogs.
type generatorRun struct {
	rate      int // asked of the generator
	duration  time.Duration
	caused    int
	delivered int
	latencies []float64 // kernel failure to ConsumeLogs, ms
	// lost are the receiver's final syscallhealth.events.dropped (by reason) and events.suppressed: where the
	// failures that did not arrive went.
	lost map[string]int64
}

func (r generatorRun) lossless() bool { return r.caused > 0 && r.delivered == r.caused }

// achieved is the rate the generator reached: on a busy machine it can fall short of the one asked.
func (r generatorRun) achieved() int { return int(float64(r.caused) / r.duration.Seconds()) }

// receiverSettings are the receiver settings of the throughput runs: rate limit off, so every failure is an
// event, and the 16 MiB ring the burst test used.
func receiverSettings(findings bool) map[string]any {
	return map[string]any{
		"collection_interval": "10s",
		"rate_limit":          map[string]any{"events_per_second": 1_000_000, "burst": 4294967295},
		"ring_buffer_size":    "16MiB",
		"findings":            map[string]any{"enabled": findings},
	}
}

// runSustained raises the generator's rate until a run loses a failure.
func (b *bench) runSustained(findings bool) ([]generatorRun, error) {
	var runs []generatorRun
	for _, rate := range sustainedRates {
		r, err := b.generateInto(findings, rate, sustainedFor)
		if err != nil {
			return runs, err
		}
		runs = append(runs, r)
		b.logf("sustained (findings %v): %d/s caused %d delivered %d, lost: %v", findings, rate, r.caused, r.delivered, r.lost)
		if !r.lossless() {
			break
		}
	}
	return runs, nil
}

// generateInto starts the receiver in this process with a consumer that counts the generator's records
// and times them, runs the generator at rate for d, and waits for the records to settle.
func (b *bench) generateInto(findings bool, rate int, d time.Duration) (generatorRun, error) {
	run := generatorRun{rate: rate, duration: d}
	factory := syscallhealthreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(receiverSettings(findings)).Unmarshal(cfg); err != nil {
		return run, err
	}
	var (
		mu        sync.Mutex
		generator int64 = -1
		delivered int
		latencies []float64
	)
	logs, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			if pid, ok := rl.Resource().Attributes().Get("process.pid"); !ok || pid.Int() != generator {
				continue
			}
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				records := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < records.Len(); k++ {
					delivered++
					latencies = append(latencies, float64(now.Sub(records.At(k).Timestamp().AsTime()).Microseconds())/1000)
				}
			}
		}
		return nil
	})
	if err != nil {
		return run, err
	}
	lost := map[string]int64{}
	metrics, err := consumer.NewMetrics(func(_ context.Context, md pmetric.Metrics) error {
		mu.Lock()
		defer mu.Unlock()
		for _, rm := range md.ResourceMetrics().All() {
			for _, sm := range rm.ScopeMetrics().All() {
				for _, m := range sm.Metrics().All() {
					if m.Type() != pmetric.MetricTypeSum {
						continue
					}
					for _, dp := range m.Sum().DataPoints().All() {
						switch m.Name() {
						case "syscallhealth.events.dropped":
							if reason, ok := dp.Attributes().Get("syscallhealth.drop.reason"); ok {
								lost["dropped "+reason.Str()] = dp.IntValue()
							}
						case "syscallhealth.events.suppressed":
							lost["suppressed"] = dp.IntValue()
						case "syscallhealth.lookups.failed":
							if reason, ok := dp.Attributes().Get("syscallhealth.lookup.reason"); ok {
								lost["lookups failed "+reason.Str()] = dp.IntValue()
							}
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return run, err
	}
	set := receivertest.NewNopSettings(factory.Type())
	logsRcvr, err := factory.CreateLogs(context.Background(), set, cfg, logs)
	if err != nil {
		return run, err
	}
	metricsRcvr, err := factory.CreateMetrics(context.Background(), set, cfg, metrics)
	if err != nil {
		return run, err
	}
	host := componenttest.NewNopHost()
	if err := logsRcvr.Start(context.Background(), host); err != nil {
		return run, err
	}
	if err := metricsRcvr.Start(context.Background(), host); err != nil {
		return run, err
	}
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		logsRcvr.Shutdown(ctx)
		metricsRcvr.Shutdown(ctx)
	}
	stopped := false
	defer func() {
		if !stopped {
			shutdown()
		}
	}()

	cmd := exec.Command(b.self, "generate", "-rate", strconv.Itoa(rate), "-for", d.String())
	cmd.Stderr = os.Stderr
	var out strings.Builder
	cmd.Stdout = &out
	start, err := cmd.StdinPipe()
	if err != nil {
		return run, err
	}
	if err := cmd.Start(); err != nil {
		return run, err
	}
	mu.Lock()
	generator = int64(cmd.Process.Pid)
	mu.Unlock()
	start.Close() // the generator's go: its pid is known to the consumer now
	if err := cmd.Wait(); err != nil {
		return run, fmt.Errorf("generator: %w", err)
	}
	if run.caused, err = strconv.Atoi(strings.TrimSpace(out.String())); err != nil {
		return run, fmt.Errorf("generator output %q: %w", out.String(), err)
	}
	// The last records are still on their way: wait until all arrived or nothing moved for a while.
	last, lastChange := -1, time.Now()
	for time.Since(lastChange) < settleTimeout {
		mu.Lock()
		n := delivered
		mu.Unlock()
		if n >= run.caused {
			break
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		time.Sleep(50 * time.Millisecond)
	}
	shutdown() // sends the final counts, the loss counters among them
	stopped = true
	mu.Lock()
	defer mu.Unlock()
	run.lost = lost
	run.delivered = delivered
	run.latencies = slices.Clone(latencies)
	slices.Sort(run.latencies)
	return run, nil
}
