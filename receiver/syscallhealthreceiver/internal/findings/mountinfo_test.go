package findings

import (
	"os"
	"strings"
	"testing"
)

func loadMountInfoFixture(t *testing.T, name string) *mountTable {
	t.Helper()
	f, err := os.Open("testdata/mountinfo/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := parseMountInfo(f)
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func TestParseMountInfoFields(t *testing.T) {
	table := loadMountInfoFixture(t, "container.txt")
	if got := len(table.mounts); got != 12 {
		t.Fatalf("parsed %d mounts, want 12", got)
	}
	m, ok := table.byMountID(1410)
	if !ok {
		t.Fatal("mount 1410 missing")
	}
	want := Mount{ID: 1410, Root: "/var/lib/docker/volumes/pgdata/_data", MountPoint: "/var/lib/postgresql/data", FSType: "ext4", Source: "/dev/vda1"}
	if m != want {
		t.Errorf("mount 1410 (optional fields shared:7 master:1) = %+v, want %+v", m, want)
	}
	if m, _ := table.byMountID(1412); m.MountPoint != "/mnt/my data" {
		t.Errorf(`\040 in mount point: got %q, want "/mnt/my data"`, m.MountPoint)
	}
	if m, _ := table.byMountID(1414); m.Source != "tmp fs" {
		t.Errorf(`\040 in source: got %q, want "tmp fs"`, m.Source)
	}
	if m, _ := table.byMountID(1413); !m.ReadOnly {
		t.Error("per-mount ro option not detected")
	}
	if m, _ := table.byMountID(1416); !m.ReadOnly {
		t.Error("superblock ro option (mount rw, super ro) not detected")
	}
	if m, _ := table.byMountID(1404); m.ReadOnly {
		t.Error("rw mount reported read-only")
	}
}

func TestParseMountInfoHost(t *testing.T) {
	table := loadMountInfoFixture(t, "host_hybrid_cgroups.txt")
	m, ok := table.longestPrefix("/tmp/full/file")
	if !ok || m.MountPoint != "/tmp/full" || m.FSType != "tmpfs" {
		t.Errorf("/tmp/full/file -> %+v, want the /tmp/full tmpfs", m)
	}
	if m, _ := table.longestPrefix("/tmp/fullness"); m.MountPoint != "/" {
		t.Errorf("/tmp/fullness -> %q, want / (a prefix must end at a path component)", m.MountPoint)
	}
}

func TestLongestPrefix(t *testing.T) {
	table := loadMountInfoFixture(t, "container.txt")
	tests := []struct {
		path   string
		wantID int
	}{
		{"/", 1402},
		{"/var/lib/postgresql/data/base/1", 1415}, // overmounted: the later mount shadows 1410
		{"/var/lib/postgresql/data", 1415},
		{"/var/lib/postgresql", 1402},
		{"/var/lib/postgresql/database", 1402},
		{"/mnt/my data/file", 1412},
		{"/mnt/my", 1402},
		{"/srv/archive/x", 1413},
		{"/srv/archive/tmp/y", 1414},
		{"/etc/resolv.conf", 1411},
		{"/etc/hosts", 1402},
		{"/proc/1/status", 1403},
		{"/sys/fs/cgroup/pids.max", 1409},
		{"/a/../srv/archive//z", 1413},
	}
	for _, tt := range tests {
		m, ok := table.longestPrefix(tt.path)
		if !ok || m.ID != tt.wantID {
			t.Errorf("longestPrefix(%q) = %d (%s), want %d", tt.path, m.ID, m.MountPoint, tt.wantID)
		}
	}
}

func TestUnescapeMountField(t *testing.T) {
	tests := map[string]string{
		`/plain`:            "/plain",
		`/a\040b`:           "/a b",
		`/tab\011x`:         "/tab\tx",
		`/nl\012x`:          "/nl\nx",
		`/back\134slash`:    `/back\slash`,
		`/short\04`:         `/short\04`,
		`/not\999octal`:     `/not\999octal`,
		`\040lead\040trail`: " lead trail",
	}
	for in, want := range tests {
		if got := unescapeMountField(in); got != want {
			t.Errorf("unescapeMountField(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMountInfoMalformed(t *testing.T) {
	for _, text := range []string{
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw", // no separator
		"x 35 98:0 /mnt1 /mnt2 rw,noatime - ext3 /dev/root rw",         // bad ID
		"36 35 98:0 /mnt1 /mnt2 rw,noatime -",                          // nothing after separator
	} {
		if _, err := parseMountInfo(strings.NewReader(text + "\n")); err == nil {
			t.Errorf("parseMountInfo(%q) succeeded, want an error", text)
		}
	}
}
