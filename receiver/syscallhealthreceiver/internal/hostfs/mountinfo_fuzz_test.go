package hostfs

import (
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseMountInfo: any mountinfo content (mount points are chosen by whoever may mount, users in
// their own namespaces included) parses into a consistent table or an error, never a panic; every
// parsed mount is found by its ID and every (clean, absolute) mount point resolves to a mount on that point.
func FuzzParseMountInfo(f *testing.F) {
	fixtures, err := filepath.Glob("testdata/mountinfo/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range fixtures {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	f.Add("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n")
	f.Add("1 0 0:1 / /a\\040b\\134\\012 ro - tmpfs tmp\\011fs rw\n")
	f.Add("1 0 0:1 / / rw -\n")
	f.Add("x y z\n")
	f.Add("1 0 0:1 / /\\ rw - tmpfs \\777 rw\n")
	f.Fuzz(func(t *testing.T, content string) {
		table, err := ParseMountInfo(strings.NewReader(content))
		if err != nil {
			return
		}
		for _, m := range table.mounts {
			if _, ok := table.ByMountID(m.ID); !ok {
				t.Fatalf("mount %d is not found by its ID", m.ID)
			}
			if !strings.HasPrefix(m.MountPoint, "/") || path.Clean(m.MountPoint) != m.MountPoint {
				continue // the kernel writes absolute, clean mount points; other ones match no path
			}
			if got, ok := table.LongestPrefix(m.MountPoint); !ok || got.MountPoint != m.MountPoint {
				t.Fatalf("mount point %q resolves to %+v, %v", m.MountPoint, got, ok)
			}
		}
	})
}
