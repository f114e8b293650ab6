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

func title(t *Transition) string {
	s := t.Subject
	switch t.Kind {
	case KindDiskFull:
		if len(t.Errnos) == 1 && t.Errnos[0] == "EDQUOT" {
			return "Disk quota exceeded on " + s.Name
		}
		return "Disk full on " + s.Name
	case KindReadOnlyFilesystem:
		return "Read-only filesystem at " + s.Name
	case KindIOError:
		if s.Type == SubjectDevice {
			return "I/O errors on device " + s.Path
		}
		if strings.HasPrefix(s.Mount.Source, "/dev/") {
			return fmt.Sprintf("I/O errors on %s (device %s)", s.Name, s.Mount.Source)
		}
		return "I/O errors on " + s.Name
	case KindFDExhaustion:
		if s.Type == SubjectHost {
			return "The host has run out of file descriptors"
		}
		return "Process " + processLabel(s.processLabel(), s.PID) + " has run out of file descriptors"
	case KindMemoryExhaustion:
		text := "Process " + processLabel(s.processLabel(), s.PID)
		if s.ContainerID != "" {
			text += " in container " + shortID(s.ContainerID)
		}
		return text + " cannot allocate memory"
	case KindProcessLimit:
		switch s.Type {
		case SubjectCgroup:
			return fmt.Sprintf("Cgroup %s is at its pids limit (pids.max %d)", s.Cgroup, s.Limit)
		case SubjectUser:
			return fmt.Sprintf("User %d has reached its process limit (RLIMIT_NPROC %d)", s.UID, s.Limit)
		case SubjectHostTasks:
			return fmt.Sprintf("The host has run out of tasks (limit %d from kernel.threads-max, kernel.pid_max)", s.Limit)
		}
		return withExecutable("Forks fail", processName{executable: s.Executable, command: s.Command}) + " at a task limit that no longer held when checked"
	case KindConnectionRefused:
		return "Connections to " + s.Name + " are refused"
	case KindConnectionTimeout:
		return "Connections to " + s.Name + " time out"
	case KindNetworkUnreachable:
		return s.Name + " is unreachable"
	case KindPortConflict:
		return "Address " + s.Name + " is already in use"
	case KindPermissionDenied:
		who := ""
		if label := s.processLabel(); label != "" {
			who = " to " + label
		}
		switch {
		case s.Path != "":
			return "Permission denied" + who + " on " + s.Path
		case s.Address.IsValid():
			return "Permission denied" + who + " on " + s.Address.String()
		}
		return "Permission denied" + who
	}
	return s.Name
}

func hint(t *Transition) string {
	s := t.Subject
	switch t.Kind {
	case KindDiskFull:
		if len(t.Errnos) == 1 && t.Errnos[0] == "EDQUOT" {
			return "raise the quota or free space"
		}
		return "free space or grow the filesystem"
	case KindReadOnlyFilesystem:
		return "check whether it was remounted read-only after errors (dmesg)"
	case KindIOError:
		return "check the device and the kernel log (dmesg)"
	case KindFDExhaustion:
		if s.Type == SubjectHost {
			return "raise fs.file-max or find the process holding descriptors"
		}
		return "raise its RLIMIT_NOFILE (ulimit -n) or look for a descriptor leak"
	case KindMemoryExhaustion:
		return "check its RLIMIT_AS, vm.max_map_count and its cgroup's memory limit"
	case KindProcessLimit:
		switch s.Type {
		case SubjectCgroup:
			return "raise pids.max or look for a fork loop"
		case SubjectUser:
			return "raise RLIMIT_NPROC (ulimit -u) or look for a fork loop"
		case SubjectHostTasks:
			return "raise kernel.threads-max or kernel.pid_max, or find what creates so many tasks"
		}
		return "a short-lived pids cgroup limit, RLIMIT_NPROC or the host's task limits"
	case KindConnectionRefused:
		return "nothing listens there, or a firewall rejects the connections"
	case KindConnectionTimeout:
		return "the destination or a firewall drops the connection attempts"
	case KindNetworkUnreachable:
		return "no route to it: check routes and interfaces"
	case KindPortConflict:
		return "another socket already holds it"
	case KindPermissionDenied:
		if s.AddressIsLocal && s.Address.Port() < 1024 {
			return "ports below 1024 need CAP_NET_BIND_SERVICE"
		}
		return "check ownership, mode and security policy (SELinux, AppArmor, seccomp)"
	}
	return ""
}

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
