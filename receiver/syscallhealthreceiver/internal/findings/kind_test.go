package findings

import "testing"

func TestClassify(t *testing.T) {
	tests := []struct {
		syscall, errno, category string
		want                     Kind
	}{
		{"write", "ENOSPC", "file", KindDiskFull},
		{"openat", "EDQUOT", "file", KindDiskFull},
		{"bind", "ENOSPC", "network", kindNone},
		{"pwrite64", "EROFS", "file", KindReadOnlyFilesystem},
		{"write", "EIO", "file", KindIOError},
		{"openat", "EMFILE", "file", KindFDExhaustion},
		{"accept4", "EMFILE", "network", KindFDExhaustion},
		{"openat", "ENFILE", "file", KindFDExhaustion},
		{"mmap", "ENOMEM", "memory", KindMemoryExhaustion},
		{"clone", "ENOMEM", "process", KindMemoryExhaustion},
		{"clone3", "EAGAIN", "process", KindProcessLimit},
		{"fork", "EAGAIN", "process", KindProcessLimit},
		{"write", "EAGAIN", "file", kindNone},
		{"connect", "ECONNREFUSED", "network", KindConnectionRefused},
		{"connect", "ETIMEDOUT", "network", KindConnectionTimeout},
		{"connect", "ENETUNREACH", "network", KindNetworkUnreachable},
		{"connect", "EHOSTUNREACH", "network", KindNetworkUnreachable},
		{"bind", "EADDRINUSE", "network", KindPortConflict},
		{"listen", "EADDRINUSE", "network", KindPortConflict},
		{"connect", "EADDRINUSE", "network", kindNone},
		{"openat", "EACCES", "file", KindPermissionDenied},
		{"openat", "EPERM", "file", KindPermissionDenied},
		{"execve", "EACCES", "process", KindPermissionDenied},
		{"bind", "EACCES", "network", KindPermissionDenied},
		{"clone", "EPERM", "process", kindNone},
		{"openat", "ENOENT", "file", kindNone},
		{"execve", "E2BIG", "process", kindNone},
		{"execve", "EAGAIN", "process", KindProcessLimit},
	}
	for _, tt := range tests {
		if got, _ := Classify(tt.syscall, tt.errno, tt.category); got != tt.want {
			t.Errorf("classify(%s, %s, %s) = %s, want %s", tt.syscall, tt.errno, tt.category, got, tt.want)
		}
	}
}

func TestKindNamesAndSeverity(t *testing.T) {
	want := map[Kind]struct {
		name     string
		severity Severity
	}{
		KindDiskFull:           {"disk_full", SeverityError},
		KindReadOnlyFilesystem: {"read_only_filesystem", SeverityError},
		KindIOError:            {"io_error", SeverityError},
		KindFDExhaustion:       {"fd_exhaustion", SeverityError},
		KindMemoryExhaustion:   {"memory_exhaustion", SeverityError},
		KindProcessLimit:       {"process_limit", SeverityError},
		KindConnectionRefused:  {"connection_refused", SeverityWarn},
		KindConnectionTimeout:  {"connection_timeout", SeverityWarn},
		KindNetworkUnreachable: {"network_unreachable", SeverityWarn},
		KindPortConflict:       {"port_conflict", SeverityWarn},
		KindPermissionDenied:   {"permission_denied", SeverityWarn},
	}
	if len(Kinds()) != len(want) {
		t.Fatalf("Kinds() has %d kinds, want %d", len(Kinds()), len(want))
	}
	for _, k := range Kinds() {
		if k.String() != want[k].name || k.Severity() != want[k].severity {
			t.Errorf("kind %d: %s/%s, want %s/%s", k, k, k.Severity(), want[k].name, want[k].severity)
		}
	}
}

func TestSubjectNames(t *testing.T) {
	tests := map[string]Subject{
		"pid 42 (api)":           processSubject(&Observation{PID: 42, Executable: "api"}),
		"pid 42":                 processSubject(&Observation{PID: 42}),
		"unknown address (curl)": unknownAddressSubject(processName{executable: "curl"}),
		"unknown filesystem":     unknownMountSubject(processName{executable: ""}),
		"/etc/shadow (cat)":      accessPathSubject("/etc/shadow", processName{executable: "cat"}),
		"unknown target (nginx)": unknownAccessSubject(processName{executable: "nginx"}),
		"cgroup /ci":             cgroupSubject(pidsLimit{cgroup: "/ci", max: 1}, ""),
		"uid 1000":               userSubject(1000, 64),
		"unknown limit (sh)":     unknownLimitSubject(processName{executable: "sh"}),
		"host":                   hostSubject(),
	}
	for want, s := range tests {
		if s.Name != want {
			t.Errorf("subject name %q, want %q", s.Name, want)
		}
	}
}
