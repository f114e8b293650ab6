package hostfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func loadMountInfoFixture(t *testing.T, name string) *MountTable {
	t.Helper()
	f, err := os.Open("testdata/mountinfo/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := ParseMountInfo(f)
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
	m, ok := table.ByMountID(1410)
	if !ok {
		t.Fatal("mount 1410 missing")
	}
	want := Mount{ID: 1410, Device: Device{254, 1}, Root: "/var/lib/docker/volumes/pgdata/_data", MountPoint: "/var/lib/postgresql/data",
		FSType: "ext4", Source: "/dev/vda1", SuperOptions: "rw"}
	if m != want {
		t.Errorf("mount 1410 (optional fields shared:7 master:1) = %+v, want %+v", m, want)
	}
	if m, _ := table.ByMountID(1412); m.MountPoint != "/mnt/my data" {
		t.Errorf(`\040 in mount point: got %q, want "/mnt/my data"`, m.MountPoint)
	}
	if m, _ := table.ByMountID(1414); m.Source != "tmp fs" {
		t.Errorf(`\040 in source: got %q, want "tmp fs"`, m.Source)
	}
	if m, _ := table.ByMountID(1413); !m.ReadOnly {
		t.Error("per-mount ro option not detected")
	}
	if m, _ := table.ByMountID(1416); !m.ReadOnly {
		t.Error("superblock ro option (mount rw, super ro) not detected")
	}
	if m, _ := table.ByMountID(1404); m.ReadOnly {
		t.Error("rw mount reported read-only")
	}
}

func TestParseMountInfoHost(t *testing.T) {
	table := loadMountInfoFixture(t, "host_hybrid_cgroups.txt")
	m, ok := table.LongestPrefix("/tmp/full/file")
	if !ok || m.MountPoint != "/tmp/full" || m.FSType != "tmpfs" {
		t.Errorf("/tmp/full/file -> %+v, want the /tmp/full tmpfs", m)
	}
	if m, _ := table.LongestPrefix("/tmp/fullness"); m.MountPoint != "/" {
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
		m, ok := table.LongestPrefix(tt.path)
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
		"36 35 98 /mnt1 /mnt2 rw,noatime - ext3 /dev/root rw",          // device without minor
	} {
		if _, err := ParseMountInfo(strings.NewReader(text + "\n")); err == nil {
			t.Errorf("ParseMountInfo(%q) succeeded, want an error", text)
		}
	}
}

// mountInfoLines is a mountinfo of n distinct tmpfs mounts, as a hostile user can create in a
// user+mount namespace of its own.
func mountInfoLines(n int) string {
	var b strings.Builder
	b.WriteString("1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n")
	for i := 2; i <= n; i++ {
		fmt.Fprintf(&b, "%d 1 0:%d / /tmp/user-owned/mount-%06d rw,nosuid,nodev,relatime shared:%d - tmpfs none rw,size=4k,uid=1000\n", i, i+100, i, i)
	}
	return b.String()
}

func TestParseMountInfoBoundsLines(t *testing.T) {
	if _, err := ParseMountInfo(strings.NewReader(mountInfoLines(maxMountLines))); err != nil {
		t.Fatalf("a table at the line bound must parse: %v", err)
	}
	if _, err := ParseMountInfo(strings.NewReader(mountInfoLines(maxMountLines + 1))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a table over the line bound: err = %v, want ErrTooLarge", err)
	}
}

// TestMountTableOverBoundsCounted reads a real file over the byte bound through a Host: refused and counted.
func TestMountTableOverBoundsCounted(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "proc", "42")
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mnt:[4026532999]", filepath.Join(dir, "ns", "mnt")); err != nil {
		t.Fatal(err)
	}
	big := mountInfoLines(100_000) // about 10 MiB, as in the report
	if err := os.WriteFile(filepath.Join(dir, "mountinfo"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New(root, time.Minute, nil)
	if _, err := h.MountTable(42); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MountTable of %d bytes: err = %v, want ErrTooLarge", len(big), err)
	}
	if got := h.Stats().MountTableTooLarge; got != 1 {
		t.Errorf("MountTableTooLarge = %d, want 1", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "mountinfo"), []byte(mountInfoLines(10)), 0o644); err != nil {
		t.Fatal(err)
	}
	table, err := h.MountTable(42)
	if err != nil || len(table.mounts) != 10 || table.Namespace != 4026532999 {
		t.Fatalf("small table: %v, %v", table, err)
	}
}

// BenchmarkMountTableMemory measures what one table at the line bound keeps on the heap
// (reported as retained-B/table): the bound of the memory a cached table costs.
func BenchmarkMountTableMemory(b *testing.B) {
	text := mountInfoLines(maxMountLines)
	var tables []*MountTable
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		t, err := ParseMountInfo(strings.NewReader(text))
		if err != nil {
			b.Fatal(err)
		}
		tables = append(tables, t)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(tables)), "retained-B/table")
	b.ReportMetric(float64(len(text)), "mountinfo-B")
	runtime.KeepAlive(tables)
}
