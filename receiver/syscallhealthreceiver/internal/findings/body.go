package findings

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// describe writes the Body of a transition: what is wrong with what, how much, who is
// affected, and for open and ongoing records where to look next.
func describe(t *Transition) string {
	var b strings.Builder
	if t.State == StateResolved {
		if t.Resolution == ResolutionEvicted {
			b.WriteString("No longer tracked (too many subjects, raise findings::max_subjects): ")
		} else {
			b.WriteString("Resolved: ")
		}
	}
	b.WriteString(title(t))
	if len(t.Errnos) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(t.Errnos, ", "))
	}
	singular, plural := failureNoun(t.Syscalls)
	switch t.State {
	case StateResolved:
		if t.Resolution == ResolutionQuiet {
			fmt.Fprintf(&b, ": no failure for %s after ", formatDuration(t.QuietPeriod))
		} else {
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "%s failed %s%s", formatCount(t.TotalCount), pluralize(t.TotalCount, singular, plural), byWhom(t))
	default:
		fmt.Fprintf(&b, ": %s failed %s%s in the last %s", formatCount(t.WindowCount), pluralize(t.WindowCount, singular, plural), byWhom(t), formatDuration(t.Window))
		if h := hint(t); h != "" {
			b.WriteString("; ")
			b.WriteString(h)
		}
	}
	return b.String()
}

func title(t *Transition) string { return kinds[t.Kind].title(t) }

func hint(t *Transition) string { return kinds[t.Kind].hint(t) }

// byWhom names the affected processes; empty when the subject is the process itself.
func byWhom(t *Transition) string {
	if t.Subject.Type == SubjectProcess || t.AffectedProcesses == 0 {
		return ""
	}
	if t.AffectedProcesses == 1 && len(t.Samples) > 0 {
		return " by " + processLabel(t.Samples[0].Executable, t.Samples[0].PID)
	}
	text := fmt.Sprintf(" by %s %s", formatCount(uint64(t.AffectedProcesses)), pluralize(uint64(t.AffectedProcesses), "process", "processes"))
	if t.AffectedContainers > 0 {
		text += fmt.Sprintf(" in %d %s", t.AffectedContainers, pluralize(uint64(t.AffectedContainers), "container", "containers"))
	}
	return text
}

// failureNoun names what failed, from the syscalls involved: "write"/"writes" when
// they agree, "syscall"/"syscalls" when they differ.
func failureNoun(syscalls []string) (singular, plural string) {
	for i, sc := range syscalls {
		s, p := syscallNoun(sc)
		if i == 0 {
			singular, plural = s, p
		} else if s != singular {
			return "syscall", "syscalls"
		}
	}
	if singular == "" {
		return "syscall", "syscalls"
	}
	return singular, plural
}

func syscallNoun(syscall string) (singular, plural string) {
	switch syscall {
	case "write", "pwrite64", "writev", "pwritev", "pwritev2":
		return "write", "writes"
	case "open", "openat", "openat2", "creat":
		return "open", "opens"
	case "truncate", "ftruncate":
		return "truncate", "truncates"
	case "fallocate":
		return "allocation", "allocations"
	case "mkdir", "mkdirat":
		return "mkdir", "mkdirs"
	case "mmap", "mremap":
		return "memory mapping", "memory mappings"
	case "clone", "clone3", "fork", "vfork":
		return "fork", "forks"
	case "execve", "execveat":
		return "exec", "execs"
	case "connect":
		return "connection attempt", "connection attempts"
	case "bind":
		return "bind", "binds"
	case "listen":
		return "listen", "listens"
	case "accept", "accept4":
		return "accept", "accepts"
	}
	return syscall + " call", syscall + " calls"
}

func pluralize(n uint64, singular, plural string) string {
	if n == 1 {
		return singular
	}
	return plural
}

// formatCount groups thousands: 1234 -> "1,234".
func formatCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	lead := len(s) % 3
	if lead > 0 {
		b.WriteString(s[:lead])
	}
	for i := lead; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// formatDuration writes windows the way people say them: "60s", "90s", "5m", "1h30m".
func formatDuration(d time.Duration) string {
	if d < 2*time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// processLabel names a process: "api (pid 42)", or "pid 42" when its executable is unknown.
func processLabel(exe string, pid uint32) string {
	if exe == "" {
		return fmt.Sprintf("pid %d", pid)
	}
	return fmt.Sprintf("%s (pid %d)", exe, pid)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
