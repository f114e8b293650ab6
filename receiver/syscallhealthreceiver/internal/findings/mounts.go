package findings

import (
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

const (
	// mountTableTTL bounds how stale a cached table may be when the kernel cannot be
	// asked for the mount ID directly (StatInRoot detects staleness otherwise).
	mountTableTTL = 30 * time.Second
	// maxMountTables bounds the cache: one table per mount namespace (container). With hostfs's
	// bound of about 1 MiB per table, the cache holds at most about 33 MiB.
	maxMountTables = 32
	// pathLookupTTL is how long one path's lookup is reused for further failures of the same process on the
	// same path: a process failing thousands of times a second on one file costs one lookup (a readlink,
	// an open, an openat2 and a statx) per TTL instead of one per failure. A mount made meanwhile is seen
	// within it.
	pathLookupTTL = time.Second
	// maxPathLookups bounds the reused lookups; when it is reached they are all dropped (and counted), the
	// cheapest eviction that keeps the bound: each costs one lookup to make again.
	maxPathLookups = 4096
)

// mountResolver finds the mount point of a path as a process sees it, from the
// mountinfo of its mount namespace, cached per namespace. Its methods are safe for
// concurrent use and never hold its lock during a lookup.
type mountResolver struct {
	host  *hostfs.Host
	probe fsProbe
	clock Clock

	mu      sync.Mutex
	tables  map[uint64]cachedMountTable // by mount namespace inode
	hostPID uint32                      // a process in the host's mount namespace (hostfs.HostProcess)
	hostNS  uint64                      // the host's mount namespace, once read
	// evicted counts the tables dropped to stay within maxMountTables.
	evicted atomic.Uint64

	lookups map[pathLookupKey]recentLookup
	// evictedLookups counts the reused lookups dropped to stay within maxPathLookups.
	evictedLookups atomic.Uint64
}

// pathLookupKey is what a path lookup depends on: who looked, in which mount namespace, at which path.
type pathLookupKey struct {
	pid  uint32
	ns   uint64
	path string
}

type recentLookup struct {
	lookup pathLookup
	at     time.Time
}

type cachedMountTable struct {
	table  *hostfs.MountTable
	loaded time.Time
}

func newMountResolver(host *hostfs.Host, probe fsProbe, clock Clock) *mountResolver {
	return &mountResolver{host: host, probe: probe, clock: clock, tables: make(map[uint64]cachedMountTable),
		lookups: make(map[pathLookupKey]recentLookup)}
}

// pathLookup is what the mount resolver found out about a failed syscall's path.
type pathLookup struct {
	// abs is the path made absolute and clean; empty when it was relative and the
	// process's working directory is unknown.
	abs      string
	fileType hostfs.FileType
	mount    hostfs.Mount
	mounted  bool   // mount holds abs
	inHost   bool   // mount is in the host's mount namespace
	ns       uint64 // the mount namespace of mount; 0 when unknown
}

// resolve examines p as process pid sees it and finds the mount holding it. A relative
// p is taken relative to the process's working directory. ns is the mount namespace
// the process was in (0 when unknown): when the process is gone, that namespace's
// table is used (the host's root and table when it is the host's), never another's.
func (r *mountResolver) resolve(pid uint32, p string, ns uint64) pathLookup {
	if p == "" {
		return pathLookup{}
	}
	key, now := pathLookupKey{pid: pid, ns: ns, path: p}, r.clock.Now()
	r.mu.Lock()
	recent, ok := r.lookups[key]
	r.mu.Unlock()
	if ok && now.Sub(recent.at) < pathLookupTTL {
		return recent.lookup
	}
	l := r.lookup(pid, p, ns)
	r.mu.Lock()
	if len(r.lookups) >= maxPathLookups {
		r.evictedLookups.Add(uint64(len(r.lookups)))
		clear(r.lookups)
	}
	r.lookups[key] = recentLookup{lookup: l, at: now}
	r.mu.Unlock()
	return l
}

// lookup is resolve without reuse.
func (r *mountResolver) lookup(pid uint32, p string, ns uint64) pathLookup {
	abs := p
	if !path.IsAbs(abs) {
		cwd, err := r.host.Cwd(pid)
		if err != nil || !path.IsAbs(cwd) {
			return pathLookup{}
		}
		abs = path.Join(cwd, abs)
	}
	l := pathLookup{abs: path.Clean(abs)}

	table, fresh, err := r.table(pid, false)
	if err != nil {
		if ns == 0 {
			return l
		}
		if ns != r.hostNamespace() {
			// Gone from a namespace of its own: its cached table, if any, by prefix.
			if cached := r.cached(ns); cached != nil {
				l.mount, l.mounted = cached.LongestPrefix(l.abs)
				l.ns = ns
			}
			return l
		}
		pid = r.hostProcess()
		if table, fresh, err = r.table(pid, false); err != nil {
			return l
		}
	}
	l.ns = table.Namespace
	l.inHost = l.ns != 0 && l.ns == r.hostNamespace()
	guess, guessed := table.LongestPrefix(l.abs)
	st, err := r.probe.StatInRoot(pid, l.abs, guess.Device)
	if err != nil {
		l.mount, l.mounted = guess, guessed
		return l
	}
	l.fileType = st.Type
	if l.mount, l.mounted = table.ByMountID(st.MountID); l.mounted {
		return l
	}
	// The kernel knows a mount the cached table does not: it was mounted since.
	if !fresh {
		if table, _, err = r.table(pid, true); err != nil {
			return l
		}
		if l.mount, l.mounted = table.ByMountID(st.MountID); l.mounted {
			return l
		}
	}
	l.mount, l.mounted = table.LongestPrefix(l.abs)
	return l
}

// hostNamespace returns the host's mount namespace; 0 while unknown.
func (r *mountResolver) hostNamespace() uint64 {
	_, ns := r.hostReference()
	return ns
}

// hostProcess returns a process in the host's mount namespace, to resolve the paths of processes
// gone from it.
func (r *mountResolver) hostProcess() uint32 {
	pid, _ := r.hostReference()
	return pid
}

func (r *mountResolver) hostReference() (uint32, uint64) {
	r.mu.Lock()
	pid, ns := r.hostPID, r.hostNS
	r.mu.Unlock()
	if ns != 0 {
		return pid, ns
	}
	pid, ns, err := r.host.HostProcess()
	if err != nil {
		return 1, 0
	}
	r.mu.Lock()
	r.hostPID, r.hostNS = pid, ns
	r.mu.Unlock()
	return pid, ns
}

// table returns the mount table of pid's namespace and whether it was read just now.
func (r *mountResolver) table(pid uint32, reload bool) (*hostfs.MountTable, bool, error) {
	ns, err := r.host.MountNamespace(pid)
	if err != nil {
		return nil, false, err
	}
	now := r.clock.Now()
	if !reload {
		r.mu.Lock()
		c, ok := r.tables[ns]
		r.mu.Unlock()
		if ok && now.Sub(c.loaded) < mountTableTTL {
			return c.table, false, nil
		}
	}
	table, err := r.host.MountTable(pid)
	if err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, cached := r.tables[table.Namespace]; !cached && len(r.tables) >= maxMountTables {
		r.evictOldestTable()
	}
	r.tables[table.Namespace] = cachedMountTable{table: table, loaded: now}
	return table, true, nil
}

// cached returns the cached table of a namespace, however old; nil when there is none.
func (r *mountResolver) cached(ns uint64) *hostfs.MountTable {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tables[ns].table
}

// evictOldestTable makes room for one table; r.mu must be held.
func (r *mountResolver) evictOldestTable() {
	r.evicted.Add(1)
	var oldest uint64
	var oldestAt time.Time
	for ns, c := range r.tables {
		if oldestAt.IsZero() || c.loaded.Before(oldestAt) {
			oldest, oldestAt = ns, c.loaded
		}
	}
	delete(r.tables, oldest)
}
