package findings

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// mountTableTTL bounds how stale a cached table may be when the kernel cannot be
	// asked for the mount ID directly (kernelFS detects staleness otherwise).
	mountTableTTL = 30 * time.Second
	// maxMountTables bounds the cache: one table per mount namespace (container).
	maxMountTables = 64
)

// mountResolver finds the mount point of a path as a process sees it, from the
// mountinfo of its mount namespace, cached per namespace.
type mountResolver struct {
	procRoot string
	probe    fsProbe
	clock    Clock
	tables   map[string]cachedMountTable // by namespace link, e.g. "mnt:[4026531840]"
}

type cachedMountTable struct {
	table  *mountTable
	loaded time.Time
}

func newMountResolver(procRoot string, probe fsProbe, clock Clock) *mountResolver {
	return &mountResolver{procRoot: procRoot, probe: probe, clock: clock, tables: make(map[string]cachedMountTable)}
}

func (r *mountResolver) procPath(pid uint32, elem ...string) string {
	return filepath.Join(append([]string{r.procRoot, strconv.FormatUint(uint64(pid), 10)}, elem...)...)
}

// pathLookup is what the mount resolver found out about a failed syscall's path.
type pathLookup struct {
	// abs is the path made absolute and clean; empty when it was relative and the
	// process's working directory is unknown.
	abs      string
	fileType fileType
	mount    Mount
	mounted  bool // mount holds abs
}

// resolve examines p as process pid sees it and finds the mount holding it. A relative
// p is taken relative to the process's working directory. When the process is gone
// and hostNamespace is set (it ran outside any container), the host's root and table
// (pid 1's) are used.
func (r *mountResolver) resolve(pid uint32, p string, hostNamespace bool) pathLookup {
	if p == "" {
		return pathLookup{}
	}
	abs := p
	if !path.IsAbs(abs) {
		cwd, err := os.Readlink(r.procPath(pid, "cwd"))
		if err != nil || !path.IsAbs(cwd) {
			return pathLookup{}
		}
		abs = path.Join(cwd, abs)
	}
	l := pathLookup{abs: path.Clean(abs)}

	table, fresh, err := r.table(pid, false)
	if err != nil {
		if !hostNamespace {
			return l
		}
		pid = 1
		if table, fresh, err = r.table(pid, false); err != nil {
			return l
		}
	}
	st, ok := r.probe.statInRoot(r.procRoot, pid, l.abs)
	if !ok {
		l.mount, l.mounted = table.longestPrefix(l.abs)
		return l
	}
	l.fileType = st.fileType
	if l.mount, l.mounted = table.byMountID(st.mountID); l.mounted {
		return l
	}
	// The kernel knows a mount the cached table does not: it was mounted since.
	if !fresh {
		if table, _, err = r.table(pid, true); err != nil {
			return l
		}
		if l.mount, l.mounted = table.byMountID(st.mountID); l.mounted {
			return l
		}
	}
	l.mount, l.mounted = table.longestPrefix(l.abs)
	return l
}

// table returns the mount table of pid's namespace and whether it was read just now.
func (r *mountResolver) table(pid uint32, reload bool) (*mountTable, bool, error) {
	ns, err := os.Readlink(r.procPath(pid, "ns", "mnt"))
	if err != nil {
		return nil, false, err
	}
	now := r.clock.Now()
	if c, ok := r.tables[ns]; ok && !reload && now.Sub(c.loaded) < mountTableTTL {
		return c.table, false, nil
	}
	f, err := os.Open(r.procPath(pid, "mountinfo"))
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	table, err := parseMountInfo(f)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if _, cached := r.tables[ns]; !cached && len(r.tables) >= maxMountTables {
		r.evictOldestTable()
	}
	r.tables[ns] = cachedMountTable{table: table, loaded: now}
	return table, true, nil
}

func (r *mountResolver) evictOldestTable() {
	var oldest string
	var oldestAt time.Time
	for ns, c := range r.tables {
		if oldest == "" || c.loaded.Before(oldestAt) {
			oldest, oldestAt = ns, c.loaded
		}
	}
	delete(r.tables, oldest)
}
