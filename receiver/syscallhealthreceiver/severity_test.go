//go:build linux

package syscallhealthreceiver

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/findings"
)

func TestErrorSeverityCalculation(t *testing.T) {
	tests := []struct {
		syscall, errno string
		want           plog.SeverityNumber
	}{
		{"openat", "ENOSPC", plog.SeverityNumberError},
		{"write", "ENOSPC", plog.SeverityNumberError},
		{"write", "EIO", plog.SeverityNumberError},
		{"write", "EDQUOT", plog.SeverityNumberError},
		{"openat", "EMFILE", plog.SeverityNumberError},
		{"openat", "ENFILE", plog.SeverityNumberError},
		{"openat", "EROFS", plog.SeverityNumberError},
		{"mmap", "ENOMEM", plog.SeverityNumberError},
		{"clone", "ENOMEM", plog.SeverityNumberError},
		{"clone", "EAGAIN", plog.SeverityNumberError},
		{"clone3", "EAGAIN", plog.SeverityNumberError},
		{"fork", "EAGAIN", plog.SeverityNumberError},
		// RLIMIT_NPROC checked at execve after a setuid: the same process limit as its finding (ERROR).
		{"execve", "EAGAIN", plog.SeverityNumberError},
		{"write", "EAGAIN", plog.SeverityNumberInfo}, // a full non-blocking pipe is not a fork limit
		{"connect", "ECONNREFUSED", plog.SeverityNumberWarn},
		{"connect", "ETIMEDOUT", plog.SeverityNumberWarn},
		{"bind", "EADDRINUSE", plog.SeverityNumberWarn},
		{"openat", "EACCES", plog.SeverityNumberWarn},
		{"openat", "ENOENT", plog.SeverityNumberInfo},
		{"openat", "errno_200", plog.SeverityNumberInfo},
	}
	for _, tt := range tests {
		t.Run(tt.syscall+"_"+tt.errno, func(t *testing.T) {
			sev := baseSeverity(tt.syscall, tt.errno, bpf.SyscallCategory(tt.syscall).String())
			assert.Equal(t, tt.want, sev)
			assert.Equal(t, strings.ToUpper(tt.want.String()), severityText(sev), "SeverityText is the spec's short name of the number")
		})
	}
}

func TestSeverityEscalatesWhenTheCountGrowsFast(t *testing.T) {
	const second = uint64(1e9)
	connect, _ := bpf.SyscallByName("connect")
	refused := mustErrno(t, "ECONNREFUSED")
	event := func(pid uint32, ts, count uint64) *bpf.Event {
		return &bpf.Event{PID: pid, Syscall: connect, Errno: refused, TimestampNs: ts, ErrorCount: count}
	}
	tracker := newEscalationTracker()
	severity := func(ev *bpf.Event) plog.SeverityNumber { return tracker.severityOf(ev, "connect", "ECONNREFUSED") }

	// A slow retry loop: 5 failures a second stays WARN.
	base := 100 * second
	for i := range uint64(20) {
		require.Equal(t, plog.SeverityNumberWarn, severity(event(1, base+i*second/5, 1+i)), "event %d", i)
	}

	// A storm: the rate limiter lets 10 events a second through, but each carries the exact count, which
	// grows by 1000 a second. Within the first window it escalates once 100 failures accumulated.
	pid := uint32(2)
	assert.Equal(t, plog.SeverityNumberWarn, severity(event(pid, base, 1)), "first event: nothing to compare")
	assert.Equal(t, plog.SeverityNumberWarn, severity(event(pid, base+second/20, 50)), "50 in 50ms: not yet 100")
	assert.Equal(t, plog.SeverityNumberError, severity(event(pid, base+second/10, 101)), "100 more within the window")
	assert.Equal(t, plog.SeverityNumberError, severity(event(pid, base+second/2, 500)))
	assert.Equal(t, plog.SeverityNumberError, severity(event(pid, base+second+second/10, 1100)), "window closed at 1000/s")

	// The storm ends: the next completed window measures a low rate and the severity returns to WARN.
	assert.Equal(t, plog.SeverityNumberWarn, severity(event(pid, base+5*second, 1110)))

	// A count that went down means the kernel restarted the key (deleted, then counted anew): no stale comparison.
	assert.Equal(t, plog.SeverityNumberWarn, severity(event(pid, base+6*second, 3)))

	// ERROR does not escalate further.
	enospc := mustErrno(t, "ENOSPC")
	write, _ := bpf.SyscallByName("write")
	ev := func(ts, count uint64) *bpf.Event {
		return &bpf.Event{PID: 3, Syscall: write, Errno: enospc, TimestampNs: ts, ErrorCount: count}
	}
	assert.Equal(t, plog.SeverityNumberError, tracker.severityOf(ev(base, 1), "write", "ENOSPC"))
	assert.Equal(t, plog.SeverityNumberError, tracker.severityOf(ev(base+second/10, 5000), "write", "ENOSPC"))

	// INFO escalates to WARN.
	enoent := mustErrno(t, "ENOENT")
	openat, _ := bpf.SyscallByName("openat")
	info := func(ts, count uint64) *bpf.Event {
		return &bpf.Event{PID: 4, Syscall: openat, Errno: enoent, TimestampNs: ts, ErrorCount: count}
	}
	assert.Equal(t, plog.SeverityNumberInfo, tracker.severityOf(info(base, 1), "openat", "ENOENT"))
	assert.Equal(t, plog.SeverityNumberWarn, tracker.severityOf(info(base+second/10, 400), "openat", "ENOENT"))

	// Exited processes are forgotten.
	tracker.forget(map[uint32]bool{1: true, 2: true, 3: true, 4: true})
	assert.Empty(t, tracker.windows)
}

// The errno table and the finding kinds agree: for every watchable syscall and every errno either names, a
// failure's record severity is the severity of the finding it opens, and a failure that opens none takes its
// errno's class.
func TestSeverityTablesAgree(t *testing.T) {
	errnos := slices.Collect(maps.Keys(errnoClasses))
	for _, k := range findings.Kinds() {
		errnos = append(errnos, findings.KindErrnos(k)...)
	}
	for _, rule := range bpf.DefaultRules() {
		category := bpf.SyscallCategory(rule.Syscall).String()
		for _, errno := range errnos {
			sev := baseSeverity(rule.Syscall, errno, category)
			if k, ok := findings.Classify(rule.Syscall, errno, category); ok {
				assert.Equal(t, k.Severity().Number(), sev, "%s %s opens %s", rule.Syscall, errno, k)
				if c, ok := errnoClasses[errno]; ok && c.severity != sev {
					// Only EAGAIN-style errnos whose meaning depends on the syscall may differ; none today.
					t.Errorf("%s %s: errno table says %s, kind %s says %s", rule.Syscall, errno, c.severity, k, sev)
				}
				continue
			}
			if c, ok := errnoClasses[errno]; ok {
				assert.Equal(t, c.severity, sev, "%s %s", rule.Syscall, errno)
			}
		}
	}
}

// The Severity table of the repository README lists the errno table's ERROR and WARN errnos.
func TestReadmeSeverityTableMatchesTheErrnoTable(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	text := string(raw)
	start := strings.Index(text, "### Severity")
	require.GreaterOrEqual(t, start, 0)
	listed := map[plog.SeverityNumber][]string{}
	for line := range strings.Lines(text[start:]) {
		if strings.HasPrefix(line, "**") {
			break
		}
		var sev plog.SeverityNumber
		switch {
		case strings.HasPrefix(line, "| ERROR"):
			sev = plog.SeverityNumberError
		case strings.HasPrefix(line, "| WARN"):
			sev = plog.SeverityNumberWarn
		default:
			continue
		}
		cells := strings.Split(line, "|")
		for _, field := range strings.Split(cells[2], "`") {
			if strings.HasPrefix(field, "E") && strings.ToUpper(field) == field && !strings.Contains(field, " ") {
				listed[sev] = append(listed[sev], field)
			}
		}
	}
	for _, sev := range []plog.SeverityNumber{plog.SeverityNumberError, plog.SeverityNumberWarn} {
		var want []string
		for errno, c := range errnoClasses {
			if c.severity == sev {
				want = append(want, errno)
			}
		}
		got := slices.DeleteFunc(slices.Clone(listed[sev]), func(e string) bool { return e == "EAGAIN" })
		assert.ElementsMatch(t, want, got, "README %s errnos", sev)
	}
}
