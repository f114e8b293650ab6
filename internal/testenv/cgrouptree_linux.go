//go:build linux

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/syscallhealth/syscallhealth/internal/cgroups"
)

// CgroupTree is a tree of real cgroups a test creates for itself in the
// hierarchy the receiver reads (v1 pids on hybrid hosts, else v2), removed at cleanup.
type CgroupTree struct {
	tb testing.TB
	// Hierarchy is where the cgroups are.
	Hierarchy cgroups.Hierarchy
	// Root is the test's own top cgroup directory.
	Root string
}

// NewCgroupTree creates a top cgroup named after the test in the hierarchy.
func NewCgroupTree(tb testing.TB) *CgroupTree {
	tb.Helper()
	RequireRoot(tb, "the test creates cgroups")
	mountinfo, err := os.Open("/proc/self/mountinfo")
	require.NoError(tb, err)
	defer mountinfo.Close()
	h, err := cgroups.HierarchyFromMountInfo(mountinfo)
	require.NoError(tb, err)
	name := fmt.Sprintf("syscallhealth-test-%d-%s", os.Getpid(), strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()))
	c := &CgroupTree{tb: tb, Hierarchy: h, Root: filepath.Join(h.Mount, name)}
	require.NoError(tb, os.Mkdir(c.Root, 0o755))
	tb.Cleanup(func() { removeCgroupTree(tb, c.Root) })
	return c
}

// Controller is the v1 controller whose hierarchy holds the cgroups, "" on v2.
func (c *CgroupTree) Controller() string { return c.Hierarchy.Controller }

// Mkdir creates rel (slash-separated, parents too) under Root and returns its directory.
func (c *CgroupTree) Mkdir(rel string) string {
	c.tb.Helper()
	dir := filepath.Join(c.Root, rel)
	require.NoError(c.tb, os.MkdirAll(dir, 0o755))
	return dir
}

// Path is dir's cgroup path as /proc/<pid>/cgroup shows it, from the hierarchy's root.
func (c *CgroupTree) Path(dir string) string { return c.Hierarchy.Path(dir) }

// ID is the cgroup id of dir: its kernfs inode number.
func (c *CgroupTree) ID(dir string) uint64 {
	c.tb.Helper()
	var st syscall.Stat_t
	require.NoError(c.tb, syscall.Stat(dir, &st))
	return st.Ino
}

// Shell returns a command running script with /bin/sh in cgroup dir from its
// first instruction on: the shell joins the cgroup, then runs script.
func (c *CgroupTree) Shell(dir, script string) *exec.Cmd {
	return c.ShellWith("/bin/sh", dir, script)
}

// ShellWith is Shell with another POSIX shell.
func (c *CgroupTree) ShellWith(shell, dir, script string) *exec.Cmd {
	return exec.Command(shell, "-c", `echo $$ > "$0/cgroup.procs" && eval "$1"`, dir, script)
}

// removeCgroupTree removes the cgroup directories under and including dir, deepest first.
func removeCgroupTree(tb testing.TB, dir string) {
	var dirs []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
			tb.Errorf("removing cgroup %s: %v", dirs[i], err)
		}
	}
}
