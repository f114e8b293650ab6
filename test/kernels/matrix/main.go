//go:build linux

// Command matrix is `make test-kernels`: it runs the kernel tests and the built collector on every kernel of
// test/kernels/kernels.list, each booted under qemu by test/kernels/vm.sh, checks what each guest brought back
// and prints a table kernel x check. It exits non-zero when any check fails.
//
//	go run ./test/kernels/matrix [-jobs N] [-out DIR] [kernel name...]
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// kernel is one line of fetch.sh's output.
type kernel struct {
	name, arch, release, vmlinuz string
}

// hasTCPStateProbe: the TCP state probe needs Linux 5.15 (README, Requirements).
func (k kernel) hasTCPStateProbe() bool {
	var major, minor int
	fmt.Sscanf(k.release, "%d.%d", &major, &minor)
	return major > 5 || (major == 5 && minor >= 15)
}

// The kernel tests run in every guest (bpf/*_test.go), by the check they prove.
var kernelTests = []struct{ check, test string }{
	{"hooks", "TestAttachTracepoints"},
	{"ENOSPC", "TestDetectENOSPC"},
	{"EMFILE", "TestDetectEMFILE"},
	{"ECONNREFUSED", "TestDetectECONNREFUSED"},
	{"EADDRINUSE", "TestDetectEADDRINUSE"},
	{"EACCES", "TestDetectEACCES"},
	{"scopes", "TestScopeVerdictFollowsTheTask"},
}

// asyncTests prove the TCP state probe where the kernel has it.
var asyncTests = []string{"TestAsyncConnectHooks", "TestDetectAsyncECONNREFUSED"}

// columns of the table, in order.
var columns = []string{"boot", "hooks", "ENOSPC", "EMFILE", "ECONNREFUSED", "EADDRINUSE", "EACCES", "scopes", "tcp state", "collector", "no BTF"}

// payload is the files of one architecture's guests; ready is closed once built (or err is set).
type payload struct {
	dir   string
	ready chan struct{}
	built bool
	err   error
}

// result is one kernel's row.
type result struct {
	kernel   kernel
	checks   map[string]check
	hook     string // the syscall exit hook the collector chose
	async    string // the TCP state hook, or why there is none
	duration time.Duration
}

type check struct {
	ok     bool
	detail string
}

func main() {
	jobs := flag.Int("jobs", max(1, runtime.NumCPU()), "guests run at once")
	repo, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	// In the checkout's (ignored) build directory: checkouts side by side do not share it.
	out := flag.String("out", filepath.Join(repo, "build/test-kernels"), "where each guest's console log and output go")
	flag.Parse()
	start := time.Now()
	if err := lockOut(*out); err != nil {
		fatal(err)
	}
	kernels, err := fetch(repo, flag.Args())
	if err != nil {
		fatal(err)
	}
	fmt.Printf("fetched %d kernels in %s\n", len(kernels), time.Since(start).Round(time.Second))

	// Each architecture's payload builds while the guests of those built before it run: the guests idle in
	// places (timeouts, lingering triggers), which the cross-build fills.
	payloads := map[string]*payload{}
	for _, k := range kernels {
		if payloads[k.arch] == nil {
			payloads[k.arch] = &payload{dir: filepath.Join(*out, "payload-"+k.arch), ready: make(chan struct{})}
		}
	}
	go func() {
		for _, arch := range []string{runtime.GOARCH, "amd64", "arm64"} {
			p := payloads[arch]
			if p == nil || p.built {
				continue
			}
			began := time.Now()
			p.err, p.built = buildPayload(repo, arch, p.dir), true
			fmt.Printf("built the %s test binaries, trigger and collector in %s\n", arch, time.Since(began).Round(time.Second))
			close(p.ready)
		}
	}()

	results := make(map[string]*result)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, *jobs)
	for _, k := range kernels {
		wg.Go(func() {
			p := payloads[k.arch]
			<-p.ready
			var r *result
			if p.err != nil {
				r = &result{kernel: k, checks: map[string]check{"boot": {detail: p.err.Error()}}}
			} else {
				sem <- struct{}{}
				r = runGuest(repo, k, p.dir, filepath.Join(*out, k.name))
				<-sem
			}
			mu.Lock()
			results[k.name] = r
			mu.Unlock()
			fmt.Printf("%s: done in %s (log: %s)\n", k.name, r.duration.Round(time.Second), filepath.Join(*out, k.name, "console.log"))
		})
	}
	wg.Wait()

	failed := printTable(os.Stdout, kernels, results)
	fmt.Printf("\nmatrix time: %s (%d guests, %d at once)\n", time.Since(start).Round(time.Second), len(kernels), *jobs)
	md := filepath.Join(*out, "kernels.md")
	if err := os.WriteFile(md, []byte(markdownTable(kernels, results)), 0o644); err != nil {
		fatal(err)
	}
	fmt.Printf("supported-kernels table (README): %s\n", md)
	if failed {
		fmt.Println("FAIL")
		os.Exit(1)
	}
	fmt.Println("PASS")
}

// lockOut keeps a second matrix (another user of the machine) from running in out at the same time; the lock
// goes with the process.
func lockOut(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(out, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another test-kernels run is using %s (%w): wait for it, or give this one -out DIR", out, err)
	}
	outLock = f // referenced, so no finalizer closes it: the lock is held until exit
	return nil
}

var outLock *os.File

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "test-kernels: %v\n", err)
	os.Exit(1)
}

// fetch downloads (or finds cached) the kernels named, all when none is.
func fetch(repo string, names []string) ([]kernel, error) {
	cmd := exec.Command(filepath.Join(repo, "test/kernels/fetch.sh"), names...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("fetching the kernels: %w", err)
	}
	var kernels []kernel
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("fetch.sh printed %q", line)
		}
		kernels = append(kernels, kernel{name: f[0], arch: f[1], release: f[2], vmlinuz: f[3]})
	}
	if len(kernels) == 0 {
		return nil, fmt.Errorf("no kernel matches %v (see test/kernels/kernels.list)", names)
	}
	return kernels, nil
}

// buildPayload cross-builds the static binaries a guest of arch runs into dir/bin, with the guest's script and
// collector configuration: the kernel tests of bpf/, the trigger and the collector from ocb's sources in build/.
func buildPayload(repo, arch, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(repo, "test/kernels/guest"))); err != nil {
		return err
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	type goCommand struct {
		dir  string
		args []string
	}
	steps := []goCommand{
		{repo, []string{"test", "-c", "-o", filepath.Join(bin, "bpf.test"), "./bpf"}},
		{repo, []string{"build", "-o", filepath.Join(bin, "syscallhealth-trigger"), "./cmd/syscallhealth-trigger"}},
	}
	collector := filepath.Join(bin, "otelcol-syscallhealth")
	if arch == runtime.GOARCH {
		// The host's guests run the collector `make build` made (ocb builds it static).
		b, err := os.ReadFile(filepath.Join(repo, "bin/otelcol-syscallhealth"))
		if err != nil {
			return fmt.Errorf("the collector: %w (make test-kernels builds it first)", err)
		}
		if err := os.WriteFile(collector, b, 0o755); err != nil {
			return err
		}
	} else {
		// ocb's sources in build/, with the flags ocb builds with.
		steps = append(steps, goCommand{filepath.Join(repo, "build"), []string{"build", "-trimpath", "-ldflags=-s -w", "-o", collector, "."}})
	}
	for _, s := range steps {
		cmd := exec.Command("go", s.args...)
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s (GOARCH=%s, in %s): %w\n%s", strings.Join(s.args, " "), arch, s.dir, err, b)
		}
	}
	return nil
}

// runGuest boots k with the payload, runs the guest script and checks what it brought back into dir.
func runGuest(repo string, k kernel, payload, dir string) *result {
	r := &result{kernel: k, checks: map[string]check{}}
	began := time.Now()
	defer func() { r.duration = time.Since(began) }()
	os.RemoveAll(dir)
	outDir := filepath.Join(dir, "out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		r.checks["boot"] = check{detail: err.Error()}
		return r
	}
	tests := []string{}
	for _, t := range kernelTests {
		tests = append(tests, t.test)
	}
	if k.hasTCPStateProbe() {
		tests = append(tests, asyncTests...)
	}
	pattern := "^(" + strings.Join(tests, "|") + ")$"
	cmd := exec.Command(filepath.Join(repo, "test/kernels/vm.sh"), "-k", k.vmlinuz, "-a", k.arch, "-d", payload, "-o", outDir,
		"-t", "900", "--", "sh", "/guest.sh", pattern)
	console, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		r.checks["boot"] = check{detail: err.Error()}
		return r
	}
	defer console.Close()
	cmd.Stdout, cmd.Stderr = console, console
	runErr := cmd.Run()
	log, _ := os.ReadFile(console.Name())

	if m := regexp.MustCompile(`@@vm: booted in ([0-9.]+) s`).FindSubmatch(log); m != nil {
		r.checks["boot"] = check{ok: true, detail: string(m[1]) + " s"}
	} else {
		r.checks["boot"] = check{detail: fmt.Sprintf("did not boot (%v)", runErr)}
		return r
	}
	checkKernelTests(r, outDir)
	checkCollector(r, outDir)
	checkWithoutBTF(r, outDir)
	return r
}

// checkWithoutBTF: with the kernel's BTF hidden, the collector must stop and say what is missing and what to do.
func checkWithoutBTF(r *result, outDir string) {
	rc, _ := os.ReadFile(filepath.Join(outDir, "collector-nobtf.rc"))
	log, err := os.ReadFile(filepath.Join(outDir, "collector-nobtf.log"))
	switch {
	case err != nil:
		r.checks["no BTF"] = check{detail: "no log: " + err.Error()}
	case strings.TrimSpace(string(rc)) == "0":
		r.checks["no BTF"] = check{detail: "the collector ran without BTF"}
	case !bytes.Contains(log, []byte("kernel BTF is not available")) || !bytes.Contains(log, []byte("CONFIG_DEBUG_INFO_BTF=y")):
		r.checks["no BTF"] = check{detail: "the collector's error does not say BTF is missing and what to do"}
	default:
		r.checks["no BTF"] = check{ok: true}
	}
}

// checkKernelTests reads go test -v's verdicts from the guest.
func checkKernelTests(r *result, outDir string) {
	text, err := os.ReadFile(filepath.Join(outDir, "kernel-tests.txt"))
	verdicts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^--- (PASS|FAIL|SKIP): (\w+) `).FindAllSubmatch(text, -1) {
		verdicts[string(m[2])] = string(m[1])
	}
	verdict := func(test string) check {
		switch v := verdicts[test]; {
		case err != nil:
			return check{detail: "no test output: " + err.Error()}
		case v == "PASS":
			return check{ok: true}
		case v == "":
			return check{detail: test + " did not finish"}
		default:
			return check{detail: test + " " + v}
		}
	}
	for _, t := range kernelTests {
		r.checks[t.check] = verdict(t.test)
	}
	if r.kernel.hasTCPStateProbe() {
		for _, t := range asyncTests {
			if c := verdict(t); !c.ok {
				r.checks["tcp state"] = c
				return
			}
		}
		r.checks["tcp state"] = check{ok: true}
	}
}

// collectorLine is the structured part of one of the collector's log lines.
type collectorLine struct {
	level, message string
	fields         map[string]any
}

// readCollectorLog parses the collector's console log: time, level, caller, message, JSON fields.
func readCollectorLog(path string) ([]collectorLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []collectorLine
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		parts := strings.SplitN(s.Text(), "\t", 5)
		if len(parts) < 4 {
			continue
		}
		l := collectorLine{level: parts[1], message: parts[3]}
		if len(parts) == 5 {
			json.Unmarshal([]byte(parts[4]), &l.fields)
		}
		lines = append(lines, l)
	}
	return lines, s.Err()
}

// checkCollector checks the collector's run: a clean start and stop, the hooks it chose, and exact counts.
func checkCollector(r *result, outDir string) {
	fail := func(format string, args ...any) { r.checks["collector"] = check{detail: fmt.Sprintf(format, args...)} }
	log, err := readCollectorLog(filepath.Join(outDir, "collector.log"))
	if err != nil {
		fail("no collector log: %v", err)
		return
	}
	var warning string
	for _, l := range log {
		switch {
		case l.message == "kernel probes attached":
			r.hook = fmt.Sprint(l.fields["hook"])
		case strings.HasPrefix(l.message, "TCP state probe attached"):
			r.async = fmt.Sprint(l.fields["hook"])
		case strings.HasPrefix(l.message, "failures of non-blocking connects") && l.level == "warn":
			warning = fmt.Sprint(l.fields["error"])
			r.async = "no (warning logged)"
		case l.level == "error":
			fail("logged an error: %s %v", l.message, l.fields)
			return
		}
	}
	if rc, _ := os.ReadFile(filepath.Join(outDir, "collector.rc")); strings.TrimSpace(string(rc)) != "0" {
		fail("did not exit cleanly (status %q)", strings.TrimSpace(string(rc)))
		return
	}
	if r.hook == "" {
		fail("never logged its probes attached")
		return
	}
	out, err := readOutput(filepath.Join(outDir, "collector.json"))
	if err != nil {
		fail("%v", err)
		return
	}
	var problems []string
	for _, name := range []string{"enospc", "emfile", "econnrefused", "eaddrinuse", "eacces"} {
		if p := out.check(filepath.Join(outDir, "triggers", name), true); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		fail("%s", strings.Join(problems, "; "))
	} else {
		r.checks["collector"] = check{ok: true}
	}

	// The non-blocking refusals are reported where the TCP state probe runs, and only there; elsewhere the
	// collector says why they are not.
	async := filepath.Join(outDir, "triggers", "econnrefused-async")
	tcp := r.checks["tcp state"]
	switch {
	case r.kernel.hasTCPStateProbe() && warning != "":
		tcp = check{detail: "collector: " + warning}
	case r.kernel.hasTCPStateProbe():
		if p := out.check(async, true); p != "" {
			tcp = check{detail: "collector: " + p}
		}
	case warning == "":
		tcp = check{detail: "no warning that asynchronous connect failures go unreported"}
	default:
		tcp = check{ok: true, detail: "warned"}
		if p := out.check(async, false); p != "" {
			tcp = check{detail: p}
		}
	}
	r.checks["tcp state"] = tcp
}

func printTable(w io.Writer, kernels []kernel, results map[string]*result) (failed bool) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "\n%-11s %-28s", "kernel", "release")
	for _, c := range columns {
		fmt.Fprintf(&b, " %-12s", c)
	}
	fmt.Fprintf(&b, " %-15s %s\n", "hook", "async connect")
	var details []string
	for _, k := range kernels {
		r := results[k.name]
		fmt.Fprintf(&b, "%-11s %-28s", k.name, k.release)
		for _, col := range columns {
			c, ok := r.checks[col]
			cell := "PASS"
			switch {
			case !ok:
				cell, failed = "-", true
				if r.checks["boot"].ok {
					cell = "MISSING"
				}
			case !c.ok:
				cell, failed = "FAIL", true
				details = append(details, fmt.Sprintf("%s %s: %s", k.name, col, c.detail))
			case col == "boot":
				cell = c.detail
			}
			fmt.Fprintf(&b, " %-12s", cell)
		}
		fmt.Fprintf(&b, " %-15s %s\n", orDash(r.hook), orDash(r.async))
	}
	for _, d := range details {
		fmt.Fprintln(&b, d)
	}
	w.Write(b.Bytes())
	return failed
}

// markdownTable is the README's supported-kernels table.
func markdownTable(kernels []kernel, results map[string]*result) string {
	var b strings.Builder
	b.WriteString("| kernel | arch | syscall exit hook | asynchronous connect failures | result |\n|---|---|---|---|---|\n")
	for _, k := range kernels {
		r := results[k.name]
		var failed []string
		for _, col := range columns {
			if c, ok := r.checks[col]; !ok || !c.ok {
				failed = append(failed, col)
			}
		}
		verdict := "all checks pass"
		if len(failed) > 0 {
			verdict = "FAILS: " + strings.Join(failed, ", ")
		}
		async := orDash(r.async)
		if async != "-" && !strings.HasPrefix(async, "no") {
			async = "reported (" + async + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", k.release, k.arch, orDash(r.hook), async, verdict)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
