package findings

import (
	"net/netip"
	"testing"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

func TestBodyIssueExample(t *testing.T) {
	tr := Transition{
		Kind: KindDiskFull, State: StateOpen, Subject: mountSubject(hostfs.Mount{MountPoint: "/var"}, 1, 1),
		Window: time.Minute, WindowCount: 1234, AffectedProcesses: 3,
		Syscalls: []string{"write", "pwrite64"}, Errnos: []string{"ENOSPC"},
	}
	want := "Disk full on /var (ENOSPC): 1,234 failed writes by 3 processes in the last 60s; free space or grow the filesystem"
	if got := describe(&tr); got != want {
		t.Errorf("body:\n  %q\nwant\n  %q", got, want)
	}
}

func TestBodies(t *testing.T) {
	proc := Subject{Type: SubjectProcess, Name: "pid 4242 (api)", PID: 4242, Executable: "api"}
	tests := []struct {
		name string
		tr   Transition
		want string
	}{
		{"quota", Transition{Kind: KindDiskFull, State: StateOngoing, Subject: mountSubject(hostfs.Mount{MountPoint: "/home"}, 1, 1), Window: 5 * time.Minute, WindowCount: 1, AffectedProcesses: 1,
			Samples: []ProcessSample{{PID: 7, Executable: "vim"}}, Syscalls: []string{"write"}, Errnos: []string{"EDQUOT"}},
			"Disk quota exceeded on /home (EDQUOT): 1 failed write by vim (pid 7) in the last 5m; raise the quota or free space"},
		{"fd exhaustion", Transition{Kind: KindFDExhaustion, State: StateOpen, Subject: proc, Window: time.Minute, WindowCount: 57, AffectedProcesses: 1,
			Syscalls: []string{"accept4", "openat"}, Errnos: []string{"EMFILE"}},
			"Process api (pid 4242) has run out of file descriptors (EMFILE): 57 failed syscalls in the last 60s; raise its RLIMIT_NOFILE (ulimit -n) or look for a descriptor leak"},
		{"refused", Transition{Kind: KindConnectionRefused, State: StateOpen, Subject: peerSubject(netip.MustParseAddrPort("10.0.0.5:5432")), Window: 90 * time.Second, WindowCount: 12000, AffectedProcesses: 14, AffectedContainers: 3,
			Syscalls: []string{"connect"}, Errnos: []string{"ECONNREFUSED"}},
			"Connections to 10.0.0.5:5432 are refused (ECONNREFUSED): 12,000 failed connection attempts by 14 processes in 3 containers in the last 90s; nothing listens there, or a firewall rejects the connections"},
		{"port conflict", Transition{Kind: KindPortConflict, State: StateOpen, Subject: localSubject(netip.MustParseAddrPort("0.0.0.0:8080")), Window: time.Minute, WindowCount: 1, AffectedProcesses: 1,
			Samples: []ProcessSample{{PID: 99, Executable: "nginx"}}, Syscalls: []string{"bind"}, Errnos: []string{"EADDRINUSE"}},
			"Address 0.0.0.0:8080 is already in use (EADDRINUSE): 1 failed bind by nginx (pid 99) in the last 60s; another socket already holds it"},
		{"resolved", Transition{Kind: KindDiskFull, State: StateResolved, Resolution: ResolutionQuiet, Subject: mountSubject(hostfs.Mount{MountPoint: "/var"}, 1, 1), Window: time.Minute, TotalCount: 1234, AffectedProcesses: 3,
			QuietPeriod: 2 * time.Minute, Syscalls: []string{"write"}, Errnos: []string{"ENOSPC", "EDQUOT"}},
			"Resolved: Disk full on /var (ENOSPC, EDQUOT): no failure for 2m after 1,234 failed writes by 3 processes"},
		{"evicted", Transition{Kind: KindIOError, State: StateResolved, Resolution: ResolutionEvicted, Subject: mountSubject(hostfs.Mount{MountPoint: "/data", Source: "/dev/sdb1"}, 1, 1), Window: time.Minute, TotalCount: 2, AffectedProcesses: 1,
			Samples: []ProcessSample{{PID: 5, Executable: "dd"}}, Syscalls: []string{"write"}, Errnos: []string{"EIO"}},
			"No longer tracked (too many subjects, raise findings::max_subjects): I/O errors on /data (device /dev/sdb1) (EIO): 2 failed writes by dd (pid 5)"},
	}
	tests = append(tests, struct {
		name string
		tr   Transition
		want string
	}{"unknown executable", Transition{Kind: KindFDExhaustion, State: StateOpen, Subject: processSubject(&Observation{PID: 42}), Window: time.Minute, WindowCount: 2, AffectedProcesses: 1,
		Syscalls: []string{"openat"}, Errnos: []string{"EMFILE"}},
		"Process pid 42 has run out of file descriptors (EMFILE): 2 failed opens in the last 60s; raise its RLIMIT_NOFILE (ulimit -n) or look for a descriptor leak"})
	for _, tt := range tests {
		if got := describe(&tt.tr); got != tt.want {
			t.Errorf("%s:\n  got  %q\n  want %q", tt.name, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 1234: "1,234", 12345: "12,345", 123456: "123,456", 1234567: "1,234,567"} {
		if got := formatCount(n); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1s", 1500 * time.Millisecond: "1.5s", time.Minute: "60s", 90 * time.Second: "90s",
		2 * time.Minute: "2m", 150 * time.Second: "2m30s", 10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
