//go:build linux

package main

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

type sustainedResult struct {
	findings bool
	runs     []generatorRun
}

// highest is the highest rate reached without a loss, 0 when every run lost some.
func (s sustainedResult) highest() int {
	best := 0
	for _, r := range s.runs {
		if r.lossless() {
			best = max(best, r.achieved())
		}
	}
	return best
}

type report struct {
	reps      int
	machine   string
	micro     microResults
	realistic map[string][]realisticSample
	sustained []sustainedResult
	latency   *generatorRun
	memory    map[string][]memorySample
	plot      string
	duration  time.Duration
}

func (r report) markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmarks\n\nWritten by `make bench` (cmd/syscallhealth-bench) on %s in %s; do not edit by hand.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), r.duration.Round(time.Second))
	fmt.Fprintf(&w, "Every figure is measured in this one run: configurations interleaved, %d reps, medians with the range "+
		"(min–max) of the reps. Rerun with `sudo make bench` (root; installs bpftrace, nginx, wrk and gnuplot when missing).\n\n", r.reps)
	fmt.Fprintf(&w, "## Machine\n\n%s\n", r.machine)
	if r.micro != nil {
		r.writeMicro(&w)
	}
	if r.realistic != nil {
		r.writeRealistic(&w)
	}
	if r.sustained != nil || r.latency != nil {
		r.writeThroughput(&w)
	}
	if r.memory != nil {
		r.writeMemory(&w)
	}
	r.writeTargets(&w)
	return w.String()
}

func configTitle(name string) string {
	for _, c := range configurations {
		if c.name == name {
			return c.title
		}
	}
	return name
}

func (r report) added(config, c string) float64 {
	return summarize(r.micro[config][c]).median - summarize(r.micro["bare"][c]).median
}

func (r report) writeMicro(w *strings.Builder) {
	fmt.Fprintf(w, "## Cost per syscall (ns per call)\n\n")
	fmt.Fprintf(w, "Each cell: median CPU ns per call (range), and in brackets what the configuration adds to bare. "+
		"Each case runs in a child process pinned to CPU 0 and is timed by its thread's CPU clock (the scheduler's "+
		"exact runtime, the syscall's kernel work included), so time spent descheduled is not charged to it. The syscallhealth columns run the built collector "+
		"(receiver into the debug exporter); \"rate limit off\" sets events_per_second 1e6 and a 64 MiB ring.\n\n")
	fmt.Fprintf(w, "| workload |")
	for _, c := range configurations {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprintf(w, "\n|---|")
	for range configurations {
		fmt.Fprintf(w, "---|")
	}
	fmt.Fprintln(w)
	for _, c := range syscallCases {
		fmt.Fprintf(w, "| %s (%d calls) |", c.title, c.calls)
		for _, cfg := range configurations {
			s := summarize(r.micro[cfg.name][c.name])
			if cfg.name == "bare" {
				fmt.Fprintf(w, " %s |", s)
				continue
			}
			fmt.Fprintf(w, " %s [%+.0f] |", s, r.added(cfg.name, c.name))
		}
		fmt.Fprintln(w)
	}
	if r.plot != "" {
		fmt.Fprintf(w, "\n![ns added per syscall per configuration](%s)\n", r.plot)
	}
	fmt.Fprintln(w)
}

// realisticSlowdown is the configuration's nginx CPU per request over bare's: what the hooks add to the
// server's syscalls, steadier than requests/s on a shared 2-CPU machine.
func (r report) realisticSlowdown(config string) float64 {
	return summarize(cpuPerRequest(r.realistic[config])).median / summarize(cpuPerRequest(r.realistic["bare"])).median
}

func cpuPerRequest(s []realisticSample) []float64 {
	var v []float64
	for _, x := range s {
		v = append(v, x.cpuPerRequestUs)
	}
	return v
}

func rps(s []realisticSample) []float64 {
	var v []float64
	for _, x := range s {
		v = append(v, x.requestsPerSecond)
	}
	return v
}

func (r report) writeRealistic(w *strings.Builder) {
	fmt.Fprintf(w, "## Realistic workload: nginx under wrk\n\n")
	fmt.Fprintf(w, "Debian's nginx serves a 1 KiB file on loopback (one worker, CPU 0); wrk (%d connections, %s per run, CPU 1) "+
		"loads it. Slowdown is the nginx worker's CPU per request over bare's (requests/s moves with whatever else "+
		"the 2 CPUs run; CPU per request is what the hooks add to the server's syscalls).\n\n", wrkConnections, wrkDuration)
	fmt.Fprintf(w, "| configuration | requests/s | nginx CPU per request (µs) | slowdown |\n|---|---|---|---|\n")
	for _, c := range configurations {
		samples := r.realistic[c.name]
		cpu := summarize(cpuPerRequest(samples))
		fmt.Fprintf(w, "| %s | %s | %.2f (%.2f–%.2f) | %.3fx |\n", c.title, summarize(rps(samples)), cpu.median, cpu.min, cpu.max, r.realisticSlowdown(c.name))
	}
	fmt.Fprintln(w)
}

func (r report) writeThroughput(w *strings.Builder) {
	fmt.Fprintf(w, "## Events into ConsumeLogs\n\n")
	fmt.Fprintf(w, "The receiver runs in the bench process with a consumer that counts the generator's records. The generator "+
		"writes to /dev/full at a fixed rate for %s (ENOSPC, a watched failure); rate limit off (1e6/s), 16 MiB ring. "+
		"A rate passes when every failure arrived as a log record; the rate reported is the one the generator reached "+
		"(on a busy machine it can fall short of the one asked).\n\n", sustainedFor)
	for _, s := range r.sustained {
		fmt.Fprintf(w, "Findings %s: highest lossless rate **%d events/s**. Runs: ", onOff(s.findings), s.highest())
		var parts []string
		for _, run := range s.runs {
			part := fmt.Sprintf("asked %d/s, reached %d/s: %d of %d delivered", run.rate, run.achieved(), run.delivered, run.caused)
			for _, reason := range slices.Sorted(maps.Keys(run.lost)) {
				if n := run.lost[reason]; n > 0 {
					part += fmt.Sprintf(", %s %d", reason, n)
				}
			}
			parts = append(parts, part)
		}
		fmt.Fprintf(w, "%s.\n\n", strings.Join(parts, "; "))
	}
	if l := r.latency; l != nil {
		fmt.Fprintf(w, "Latency from the failure in the kernel to ConsumeLogs at %d events/s for %s (findings on): "+
			"p50 **%.1f ms**, p99 **%.1f ms**, max %.1f ms (%d of %d records).\n\n",
			latencyRate, latencyFor, percentile(l.latencies, 50), percentile(l.latencies, 99), percentile(l.latencies, 100), l.delivered, l.caused)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func (r report) memoryMedian(config string, f func(memorySample) float64) summary {
	var v []float64
	for _, s := range r.memory[config] {
		v = append(v, f(s))
	}
	return summarize(v)
}

func (r report) writeMemory(w *strings.Builder) {
	fmt.Fprintf(w, "## Memory and CPU of the collector\n\n")
	fmt.Fprintf(w, "The same binary with only an otlp receiver, and with only syscallhealth (default settings), each into the "+
		"debug exporter. RSS after %s idle, then after a storm of %d processes × %d openat EMFILE failures (%s settle).\n\n",
		idleSettle, stormProcesses, stormPerProcess+stormPerProcess/20, stormSettle)
	fmt.Fprintf(w, "| config | RSS idle (MiB) | RSS after storm (MiB) | BPF memlock (MiB) | collector CPU during storm (s) |\n|---|---|---|---|---|\n")
	for _, c := range []string{"otlp", "syscallhealth"} {
		idle := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.idleRSSKiB) / 1024 })
		storm := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.stormRSSKiB) / 1024 })
		lock := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.memlockBytes) / (1 << 20) })
		cpu := r.memoryMedian(c, func(s memorySample) float64 { return s.stormCPU.Seconds() })
		fmt.Fprintf(w, "| %s | %.1f (%.1f–%.1f) | %.1f (%.1f–%.1f) | %.2f | %.2f (%.2f–%.2f) |\n", c,
			idle.median, idle.min, idle.max, storm.median, storm.min, storm.max, lock.median, cpu.median, cpu.min, cpu.max)
	}
	fmt.Fprintf(w, "\nThe receiver adds **%.1f MiB** idle and **%.1f MiB** after the storm (medians).\n\n", r.addedRSS(false), r.addedRSS(true))
	fmt.Fprintf(w, "Idle RSS by what backs it (MiB, medians): \n\n| config | anonymous (heap, stacks) | binary pages | BPF maps mapped (ring buffer) |\n|---|---|---|---|\n")
	for _, c := range []string{"otlp", "syscallhealth"} {
		anon := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.idle.anonKiB) / 1024 })
		file := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.idle.fileKiB) / 1024 })
		bpfMap := r.memoryMedian(c, func(s memorySample) float64 { return float64(s.idle.bpfMapKiB) / 1024 })
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f |\n", c, anon.median, file.median, bpfMap.median)
	}
	fmt.Fprintf(w, "\nThe ring buffer is kernel memory (in BPF memlock) that RSS shows twice: its data pages are mapped twice "+
		"so records that wrap stay contiguous.\n\n")
}

func (r report) addedRSS(storm bool) float64 {
	f := func(s memorySample) float64 { return float64(s.idleRSSKiB) / 1024 }
	if storm {
		f = func(s memorySample) float64 { return float64(s.stormRSSKiB) / 1024 }
	}
	return r.memoryMedian("syscallhealth", f).median - r.memoryMedian("otlp", f).median
}

// writeTargets compares this run with the performance issue's targets.
func (r report) writeTargets(w *strings.Builder) {
	type target struct{ what, goal, measured string }
	var rows []target
	if r.micro != nil {
		floor := r.added("empty", "getppid")
		rows = append(rows, target{"success path (getppid): added cost vs the empty program", "≤ 1.05x",
			fmt.Sprintf("%.2fx (%+.0f vs %+.0f ns)", r.added("syscallhealth", "getppid")/floor, r.added("syscallhealth", "getppid"), floor)})
		work := r.added("syscallhealth", "openat-emfile") - r.added("empty", "openat-emfile")
		rows = append(rows, target{"watched failure: work above the empty program", "≤ 60 ns, below bpftrace's added cost",
			fmt.Sprintf("%.0f ns (bpftrace adds %.0f ns)", work, r.added("bpftrace", "openat-emfile"))})
	}
	if r.realistic != nil {
		sh, empty, bt := r.realisticSlowdown("syscallhealth"), r.realisticSlowdown("empty"), r.realisticSlowdown("bpftrace")
		rows = append(rows, target{"nginx slowdown vs the empty program's; vs bpftrace's", "≤ 1.1x; ≤ 1/3",
			fmt.Sprintf("%.3fx vs %.3fx (%.2fx); added %.1f%% vs bpftrace's %.1f%%", sh, empty, sh/empty, (sh-1)*100, (bt-1)*100)})
	}
	for _, s := range r.sustained {
		if s.findings {
			rows = append(rows, target{"sustained events/s with 0 drops, findings on", "≥ 250000", fmt.Sprint(s.highest())})
		}
	}
	if r.latency != nil {
		rows = append(rows, target{"p99 latency at 10k events/s", "≤ 200 ms", fmt.Sprintf("%.1f ms", percentile(r.latency.latencies, 99))})
	}
	if r.memory != nil {
		rows = append(rows, target{"receiver's added RSS idle; after the storm", "≤ 4 MiB; ≤ 8 MiB",
			fmt.Sprintf("%.1f MiB; %.1f MiB", r.addedRSS(false), r.addedRSS(true))})
	}
	fmt.Fprintf(w, "## Targets\n\n| target | goal | this run |\n|---|---|---|\n")
	for _, t := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.what, t.goal, t.measured)
	}
	fmt.Fprintln(w)
}

// writePlot draws the ns each configuration adds per syscall case with gnuplot.
func writePlot(m microResults, out, work string) error {
	gnuplot, err := exec.LookPath("gnuplot")
	if err != nil {
		return fmt.Errorf("gnuplot not found (apt-get install gnuplot-nox): %w", err)
	}
	r := report{micro: m}
	var data strings.Builder
	data.WriteString("case")
	plotted := configurations[1:]
	for _, c := range plotted {
		fmt.Fprintf(&data, "\t\"%s\"", c.title)
	}
	data.WriteString("\n")
	for _, c := range syscallCases {
		fmt.Fprintf(&data, "\"%s\"", c.name) // the titles overlap under the bars
		for _, cfg := range plotted {
			fmt.Fprintf(&data, "\t%.1f", r.added(cfg.name, c.name))
		}
		data.WriteString("\n")
	}
	dataPath := filepath.Join(work, "overhead.dat")
	if err := os.WriteFile(dataPath, []byte(data.String()), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1100,560 noenhanced
set output %q
set title "ns added per syscall (median of interleaved reps; bare = 0)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "ns added per call"
set grid ytics
set key top left
set xtics font ",9"
plot for [i=2:%d] %q using i:xtic(1) title columnhead(i)
`, out, len(plotted)+1, dataPath)
	cmd := exec.Command(gnuplot)
	cmd.Stdin = strings.NewReader(script)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, b)
	}
	return nil
}

func describeMachine(b *bench) string {
	var u unix.Utsname
	unix.Uname(&u)
	var lines []string
	lines = append(lines, fmt.Sprintf("- kernel %s (%s), %d CPUs: %s", unix.ByteSliceToString(u.Release[:]), runtime.GOARCH, runtime.NumCPU(), cpuModel()))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(load))
		lines = append(lines, fmt.Sprintf("- load average when the bench started: %s (1 min), %s (5 min): what else the "+
			"machine ran shows in the ranges", f[0], f[1]))
	}
	if mem, err := os.ReadFile("/proc/meminfo"); err == nil {
		lines = append(lines, "- "+strings.Join(strings.Fields(strings.SplitN(string(mem), "\n", 2)[0]), " "))
	}
	lines = append(lines, "- "+runtime.Version()+"; collector "+b.collector)
	for _, tool := range [][]string{{b.bpftrace, "--version"}, {"nginx", "-v"}} {
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err == nil {
			lines = append(lines, "- "+strings.TrimSpace(string(out)))
		}
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		lines = append(lines, "- commit "+strings.TrimSpace(string(out)))
	}
	return strings.Join(lines, "\n") + "\n"
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
