package findings

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

func TestFillLogRecord(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	tr := Transition{
		Time: at, ID: "6c1b6f0f2ad4e5a1", Kind: KindDiskFull, State: StateOngoing, Severity: SeverityError,
		Subject: mountSubject(hostfs.Mount{ID: 42, MountPoint: "/tmp/tiny", FSType: "tmpfs", Source: "tiny"}, 1, 1),
		Window:  time.Minute, WindowCount: 1234, Rate: 1234.0 / 60, TotalCount: 2000,
		FirstSeen: at.Add(-90 * time.Second), LastSeen: at.Add(-time.Second),
		AffectedProcesses: 2, AffectedContainers: 1,
		Samples:  []ProcessSample{{PID: 4242, Executable: "postgres", ContainerID: "c0ffee"}, {PID: 7, Executable: "dd"}},
		Syscalls: []string{"write", "openat"}, Errnos: []string{"ENOSPC", "EDQUOT"}, Path: "/tmp/tiny/base/1",
		QuietPeriod: time.Minute, Body: "Disk full on /tmp/tiny (ENOSPC, EDQUOT): ...",
	}
	lr := plog.NewLogRecord()
	FillLogRecord(&tr, lr)

	if lr.EventName() != "syscallhealth.issue" || lr.SeverityNumber() != plog.SeverityNumberError || lr.SeverityText() != "ERROR" {
		t.Errorf("event name %q, severity %s/%q", lr.EventName(), lr.SeverityNumber(), lr.SeverityText())
	}
	if lr.Timestamp().AsTime() != at || lr.ObservedTimestamp().AsTime() != at || lr.Body().Str() != tr.Body {
		t.Errorf("timestamps %s/%s, body %q", lr.Timestamp(), lr.ObservedTimestamp(), lr.Body().Str())
	}
	want := map[string]any{
		"syscallhealth.issue.kind":                 "disk_full",
		"syscallhealth.issue.state":                "ongoing",
		"syscallhealth.issue.subject":              "/tmp/tiny",
		"syscallhealth.issue.id":                   "6c1b6f0f2ad4e5a1",
		"syscallhealth.issue.failure_count":        int64(1234),
		"syscallhealth.issue.failure_rate":         1234.0 / 60,
		"syscallhealth.issue.window_seconds":       60.0,
		"syscallhealth.issue.total_count":          int64(2000),
		"syscallhealth.issue.first_seen":           "2025-03-14T09:28:30Z",
		"syscallhealth.issue.last_seen":            "2025-03-14T09:29:59Z",
		"syscallhealth.issue.affected_processes":   int64(2),
		"syscallhealth.issue.affected_containers":  int64(1),
		"syscallhealth.issue.sample_pids":          []any{int64(4242), int64(7)},
		"syscallhealth.issue.sample_executables":   []any{"postgres", "dd"},
		"syscallhealth.issue.sample_container_ids": []any{"c0ffee"},
		"syscallhealth.issue.syscalls":             []any{"write", "openat"},
		"syscallhealth.issue.errnos":               []any{"ENOSPC", "EDQUOT"},
		"error.type":                               "ENOSPC",
		"system.filesystem.mountpoint":             "/tmp/tiny",
		"system.filesystem.type":                   "tmpfs",
		"system.device":                            "tiny",
		"file.path":                                "/tmp/tiny/base/1",
	}
	if got := lr.Attributes().AsRaw(); !reflect.DeepEqual(got, want) {
		t.Errorf("attributes:\n got  %v\n want %v", got, want)
	}
}

func TestFillLogRecordSubjects(t *testing.T) {
	tests := []struct {
		subject Subject
		want    map[string]any
	}{
		{processSubject(&Observation{PID: 9, Executable: "api", ContainerID: "abc"}),
			map[string]any{"process.pid": int64(9), "process.executable.name": "api", "container.id": "abc"}},
		{cgroupSubject(pidsLimit{cgroup: "/ci", max: 16}, ""),
			map[string]any{"syscallhealth.issue.cgroup": "/ci", "syscallhealth.issue.pids_max": int64(16)}},
		{userSubject(1000, 64), map[string]any{"user.id": "1000", "syscallhealth.issue.rlimit_nproc": int64(64)}},
		{hostTasksSubject(4000), map[string]any{"syscallhealth.issue.task_limit": int64(4000)}},
		{unknownLimitSubject(processName{executable: "sh"}), map[string]any{"process.executable.name": "sh"}},
		// A process known only by the kernel's name: named in the subject, but not posing as its executable.
		{unknownLimitSubject(processName{command: "kworker"}), map[string]any{"syscallhealth.issue.subject": "unknown limit (kworker)", "process.executable.name": nil}},
		{peerSubject(netip.MustParseAddrPort("[::ffff:127.0.0.1]:5432")),
			map[string]any{"network.peer.address": "127.0.0.1", "network.peer.port": int64(5432)}},
		{localSubject(netip.MustParseAddrPort("[::]:8080")),
			map[string]any{"network.local.address": "::", "network.local.port": int64(8080)}},
		{accessAddressSubject(netip.MustParseAddrPort("0.0.0.0:80"), true, processName{executable: "web"}),
			map[string]any{"process.executable.name": "web", "network.local.address": "0.0.0.0", "network.local.port": int64(80)}},
		{accessPathSubject("/etc/shadow", processName{executable: "cat"}),
			map[string]any{"process.executable.name": "cat", "file.path": "/etc/shadow"}},
	}
	for _, tt := range tests {
		tr := Transition{Kind: KindConnectionRefused, State: StateResolved, Resolution: ResolutionQuiet, Severity: SeverityInfo, Subject: tt.subject, Window: time.Minute, QuietPeriod: 2 * time.Minute}
		lr := plog.NewLogRecord()
		FillLogRecord(&tr, lr)
		got := lr.Attributes().AsRaw()
		if got["syscallhealth.issue.resolution"] != "quiet" || got["syscallhealth.issue.quiet_period_seconds"] != 120.0 || lr.SeverityNumber() != plog.SeverityNumberInfo {
			t.Errorf("%s: resolution attributes %v, severity %s", tt.subject.Name, got, lr.SeverityNumber())
		}
		for k, v := range tt.want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s: %s = %v, want %v", tt.subject.Name, k, got[k], v)
			}
		}
	}
}
