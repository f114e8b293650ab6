//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"container/list"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syscallhealth/syscallhealth/bpf"
	"github.com/syscallhealth/syscallhealth/internal/cgroups"
	"github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver/internal/hostfs"
)

const (
	// processCacheSize bounds the processes remembered at once; the least recently used is forgotten first.
	processCacheSize = 4096
	// revalidateAfter is how long a cached process is trusted before /proc/<pid>/stat is read again to
	// notice an exec or a reused PID. Within it, events of the same process read nothing from /proc.
	revalidateAfter = time.Second
	// clockTicksPerSecond is USER_HZ, the unit of the start time in /proc/<pid>/stat: 100 on every Linux
	// architecture (it is part of the ABI).
	clockTicksPerSecond = 100
	// maxThreadNames bounds the thread names remembered per process (threads may name themselves).
	maxThreadNames = 16
	// maxRememberedIDs bounds the user name and cgroup lookups remembered.
	maxRememberedIDs = 4096
)

// processInfo is what the resource of one process is built from. It is never modified once published, so
// callers may use it without holding the cache lock.
type processInfo struct {
	PID  uint32
	PPID uint32 // 0 when unknown
	// RealUID is the real user ID the kernel reported (process.real_user.id); RealUIDKnown is false for a
	// process only known from the tracking map and gone before /proc was read.
	RealUID      uint32
	RealUIDKnown bool
	// EffectiveUID is from /proc/<pid>/status (process.user.id); the kernel event does not carry it.
	EffectiveUID      uint32
	EffectiveUIDKnown bool
	UserName          string // name of the effective user; "" when unknown or it has none
	// ExecutableName is the base name of /proc/<pid>/exe, "" when it was not readable or describes a
	// program the process exec'd after its failure.
	ExecutableName string
	ExecutablePath string   // "" likewise
	CommandArgs    []string // nil unless process.command_args is enabled, and likewise
	// CreationTime is process.creation.time (ISO 8601), from the kernel's start time of the process; "" only
	// when the host's boot time is unreadable.
	CreationTime string
	// Command is the kernel's name of the process (comm), for people: finding texts name a process by its
	// executable, else by it.
	Command     string
	ContainerID string // "" outside containers
	PodUID      string // k8s.pod.uid; "" outside Kubernetes pods
	// workloadKnown is set once ContainerID and PodUID are known (also when empty): from the kernel's
	// cgroup of an event, or from /proc while the process lived.
	workloadKnown bool
	// MountNamespace is the inode of the process's mount namespace; 0 when unknown.
	MountNamespace uint64
	// startTime is field 22 of /proc/<pid>/stat (clock ticks after boot), or the kernel's start time of the
	// process in the same unit: with the PID it identifies the process across PID reuse. 0 when unknown (a
	// process known only by its PID and gone before /proc was read).
	startTime uint64
	// leaderComm is the thread group leader's name from /proc/<pid>/stat (or the kernel's comm of a process
	// known from its event alone); it changes on exec.
	leaderComm string
}

type cacheEntry struct {
	info    *processInfo
	checked time.Time
	// threadNames are the kernel comms of failing threads known to belong to this program.
	threadNames []string
	// previous describes the program the process ran before its last exec, for its failures still queued.
	previous *processInfo
}

// knows tells whether an event with the kernel's comm comes from the program the entry describes.
func (e *cacheEntry) knows(comm string) bool {
	return comm == e.info.leaderComm || slices.Contains(e.threadNames, comm)
}

// processCache enriches kernel events with what /proc knows about the process. Entries are identified by
// (pid, start time): a PID reused by a new process gets a new entry. A process that has already exited keeps
// what the kernel sent with the event (comm, parent PID, real user ID), and so does one that exec'd another
// program since its failure: /proc then describes the new program, not the one that failed.
//
// Reads go through hostfs (bounded by its deadline) and never under the cache lock: the enricher and the
// metrics loop use the cache at once.
type processCache struct {
	host            *hostfs.Host
	readCommandArgs bool
	// bootTime is the host's boot time in seconds (btime of /proc/stat), for process.creation.time; 0 when
	// unreadable.
	bootTime   uint64
	now        func() time.Time
	lookupUser func(uid uint32) string

	mu      sync.Mutex
	byPID   map[uint32]*list.Element // of *cacheEntry
	recency *list.List               // front = most recently used
	users   map[uint32]string
	// identities remembers the workload of each cgroup seen (by its id in the probe's hierarchy), for
	// events that carry no cgroup path (asynchronous connect failures) and processes gone before /proc was read.
	identities map[uint64]cgroups.Identity
	// Entries dropped to stay within processCacheSize and maxRememberedIDs.
	evictedProcesses, evictedUsers, evictedContainers atomic.Uint64
}

func newProcessCache(host *hostfs.Host, readCommandArgs bool) *processCache {
	return &processCache{
		host:            host,
		readCommandArgs: readCommandArgs,
		bootTime:        host.BootTime(),
		now:             time.Now,
		lookupUser:      host.UserName,
		byPID:           make(map[uint32]*list.Element),
		recency:         list.New(),
		users:           make(map[uint32]string),
		identities:      make(map[uint64]cgroups.Identity),
	}
}

// forEvent returns the process of an event as it was at the failure, reading /proc only when the process is
// new, due for a check, or failed under a name the cache has not seen. Its container and pod are those of the
// cgroup the kernel saw it in at the failure, when the event names it.
func (c *processCache) forEvent(ev *bpf.Event) *processInfo {
	return c.withEventIdentity(c.processOf(ev), ev)
}

// withEventIdentity returns info with the workload of the event's cgroup, when known.
func (c *processCache) withEventIdentity(info *processInfo, ev *bpf.Event) *processInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var id cgroups.Identity
	if ev.CgroupPath != "" {
		id = cgroups.IdentityOf(ev.CgroupPath)
		c.rememberIdentity(ev.CgroupID, id)
	} else if known, ok := c.identities[ev.CgroupID]; ok {
		id = known
	} else {
		return info
	}
	return c.withIdentity(info, id)
}

// withIdentity returns info with the workload id, publishing a changed copy in the process's entry; c.mu
// must be held.
func (c *processCache) withIdentity(info *processInfo, id cgroups.Identity) *processInfo {
	if info.workloadKnown && info.ContainerID == id.ContainerID && info.PodUID == id.PodUID {
		return info
	}
	changed := *info
	changed.ContainerID, changed.PodUID, changed.workloadKnown = id.ContainerID, id.PodUID, true
	if el, ok := c.byPID[info.PID]; ok {
		if e := el.Value.(*cacheEntry); e.info == info {
			e.info = &changed
		}
	}
	return &changed
}

// forCounts returns the process of pid's counts, whose series began in cgroup cgroupID, and whether its
// workload is known: from an event of the process or of its cgroup, or from /proc while it lives. A
// process gone before any event of its cgroup was read has none yet.
func (c *processCache) forCounts(pid uint32, startNs, cgroupID uint64) (*processInfo, bool) {
	info := c.forPID(pid)
	if ticks := startTicks(startNs); ticks != 0 && info.startTime != ticks {
		if info.startTime != 0 {
			// The cache describes the process that has the PID now; these counts are of an earlier one.
			info = &processInfo{PID: pid}
		}
		withStart := *info
		withStart.startTime, withStart.CreationTime = ticks, c.creationTime(ticks)
		info = &withStart
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.identities[cgroupID]; !ok && info.workloadKnown && cgroupID != 0 {
		c.rememberIdentity(cgroupID, cgroups.Identity{ContainerID: info.ContainerID, PodUID: info.PodUID})
	}
	if id, ok := c.identities[cgroupID]; ok && cgroupID != 0 {
		return c.withIdentity(info, id), true
	}
	return info, info.workloadKnown
}

func (c *processCache) processOf(ev *bpf.Event) *processInfo {
	now := c.now()
	c.mu.Lock()
	entry := c.get(ev.PID)
	evStart := startTicks(ev.ProcessStartNs)
	if entry != nil && evStart != 0 && entry.info.startTime != evStart {
		entry = nil // it describes another process that had the PID
	}
	if entry != nil && now.Sub(entry.checked) < revalidateAfter && entry.knows(ev.Comm) {
		c.mu.Unlock()
		return entry.info
	}
	c.mu.Unlock()

	stat, err := c.host.Stat(ev.PID)
	if err == nil && evStart != 0 && stat.StartTime != evStart {
		err = os.ErrNotExist // the process exited and its PID went to another: /proc describes that one
	}
	if err != nil {
		// Gone, or /proc did not answer in time: what we knew of the same program, else what the kernel sent.
		if entry != nil && entry.knows(ev.Comm) {
			c.touch(entry, now, ev.Comm)
			return entry.info
		}
		return c.keepFromKernel(ev, err, now)
	}
	sameProcess := entry != nil && entry.info.startTime == stat.StartTime
	if !c.stillRuns(ev, stat) {
		// It exec'd since the failure: what was cached before the exec still describes it, else the kernel does
		// (with the creation time, which exec keeps).
		switch {
		case sameProcess && entry.knows(ev.Comm):
			return entry.info
		case sameProcess && entry.previous != nil && entry.previous.leaderComm == ev.Comm:
			return entry.previous
		}
		info := c.fromKernel(ev)
		if entry == nil {
			c.put(&cacheEntry{info: info, checked: now})
		}
		return info
	}
	if sameProcess && entry.info.leaderComm == stat.Comm {
		c.touch(entry, now, ev.Comm)
		return entry.info
	}
	p, err := c.host.Process(ev.PID, c.readCommandArgs)
	if err != nil || p.Stat.StartTime != stat.StartTime || p.Stat.Comm != stat.Comm {
		return c.keepFromKernel(ev, err, now) // it exited or exec'd between the two reads, or /proc did not answer in time
	}
	info := c.fromProc(ev.PID, p)
	// The kernel's real user ID is the one at the failure; /proc may show a later setuid.
	info.RealUID, info.RealUIDKnown = ev.UID, true
	if info.workloadKnown && ev.CgroupID != 0 {
		c.mu.Lock()
		if _, ok := c.identities[ev.CgroupID]; !ok { // the kernel's path of the cgroup wins
			c.rememberIdentity(ev.CgroupID, cgroups.Identity{ContainerID: info.ContainerID, PodUID: info.PodUID})
		}
		c.mu.Unlock()
	}
	replaced := entry
	entry = &cacheEntry{info: info, checked: now}
	if ev.Comm != stat.Comm {
		entry.threadNames = []string{ev.Comm}
	}
	if sameProcess { // the same process exec'd: keep what it ran before
		entry.previous = replaced.info
	}
	c.put(entry)
	return info
}

// stillRuns tells whether /proc still shows the program that failed: the failing thread still has the
// kernel's comm of the event. exec renames the process and ends its other threads.
func (c *processCache) stillRuns(ev *bpf.Event, stat hostfs.ProcessStat) bool {
	if ev.Comm == stat.Comm {
		return true
	}
	if ev.TID != 0 && ev.TID != ev.PID {
		if name, err := c.host.ThreadComm(ev.PID, ev.TID); err == nil {
			return name == ev.Comm
		}
	}
	return false
}

// keepFromKernel is the process as the kernel sent it, for when /proc no longer describes it (err: what reading
// /proc returned). It is cached, so that the process's counts later get the resource of its records, unless
// /proc did not answer in time: then the next event asks again.
func (c *processCache) keepFromKernel(ev *bpf.Event, err error, now time.Time) *processInfo {
	info := c.fromKernel(ev)
	if !hostfs.Unanswered(err) {
		c.put(&cacheEntry{info: info, checked: now})
	}
	return info
}

// fromKernel describes a process by what the kernel sent with its event alone (forEvent adds its workload).
func (c *processCache) fromKernel(ev *bpf.Event) *processInfo {
	start := startTicks(ev.ProcessStartNs)
	return &processInfo{PID: ev.PID, PPID: ev.PPID, RealUID: ev.UID, RealUIDKnown: true, Command: ev.Comm,
		CreationTime: c.creationTime(start), MountNamespace: uint64(ev.MountNamespace), startTime: start, leaderComm: ev.Comm}
}

// forPID returns the process for a PID that has counts but maybe no event in this cache's memory.
func (c *processCache) forPID(pid uint32) *processInfo {
	c.mu.Lock()
	if entry := c.get(pid); entry != nil {
		c.mu.Unlock()
		return entry.info
	}
	c.mu.Unlock()
	now := c.now()
	p, err := c.host.Process(pid, c.readCommandArgs)
	if err != nil {
		info := &processInfo{PID: pid}
		if !hostfs.Unanswered(err) {
			c.put(&cacheEntry{info: info, checked: now})
		}
		return info
	}
	info := c.fromProc(pid, p)
	c.put(&cacheEntry{info: info, checked: now})
	return info
}

// exited reports whether the process pid that started at startNs (CLOCK_BOOTTIME ns; 0: the one the cache
// knows under pid) is gone: /proc/<pid> is missing or now belongs to a process with another start time. A
// lookup that did not answer in time is no exit.
func (c *processCache) exited(pid uint32, startNs uint64) bool {
	stat, err := c.host.Stat(pid)
	if err != nil {
		return !hostfs.Unanswered(err)
	}
	if start := startTicks(startNs); start != 0 {
		return start != stat.StartTime
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entry := c.get(pid)
	return entry != nil && entry.info.startTime != 0 && entry.info.startTime != stat.StartTime
}

// forget drops a process whose series have been emitted for the last time.
func (c *processCache) forget(pid uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byPID[pid]; ok {
		c.recency.Remove(el)
		delete(c.byPID, pid)
	}
}

// get returns the entry of pid; c.mu must be held.
func (c *processCache) get(pid uint32) *cacheEntry {
	el, ok := c.byPID[pid]
	if !ok {
		return nil
	}
	c.recency.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

// touch marks an entry checked now and remembers a thread name seen with it.
func (c *processCache) touch(e *cacheEntry, now time.Time, comm string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.checked = now
	if !e.knows(comm) && len(e.threadNames) < maxThreadNames {
		e.threadNames = append(e.threadNames, comm)
	}
}

func (c *processCache) put(e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pid := e.info.PID
	if el, ok := c.byPID[pid]; ok {
		el.Value = e
		c.recency.MoveToFront(el)
		return
	}
	c.byPID[pid] = c.recency.PushFront(e)
	for c.recency.Len() > processCacheSize {
		c.evictedProcesses.Add(1)
		oldest := c.recency.Back()
		c.recency.Remove(oldest)
		delete(c.byPID, oldest.Value.(*cacheEntry).info.PID)
	}
}

// fromProc describes a live process by what /proc has about it; a file that could not be read (the process
// exits meanwhile) leaves its attribute empty.
func (c *processCache) fromProc(pid uint32, p hostfs.Process) *processInfo {
	info := &processInfo{PID: pid, PPID: p.Stat.PPID, Command: p.Stat.Comm, CreationTime: c.creationTime(p.Stat.StartTime),
		ExecutablePath: p.ExecutablePath, CommandArgs: p.CommandArgs,
		MountNamespace: p.MountNamespace, startTime: p.Stat.StartTime, leaderComm: p.Stat.Comm}
	if len(p.Cgroups) > 0 { // else unread: the process exited meanwhile
		id := identityFromCgroups(p.Cgroups)
		info.ContainerID, info.PodUID, info.workloadKnown = id.ContainerID, id.PodUID, true
	}
	if p.ExecutablePath != "" {
		info.ExecutableName = filepath.Base(strings.TrimSuffix(p.ExecutablePath, " (deleted)"))
	}
	if p.UIDsKnown {
		info.RealUID, info.RealUIDKnown = p.RealUID, true
		info.EffectiveUID, info.EffectiveUIDKnown = p.EffectiveUID, true
		info.UserName = c.userName(p.EffectiveUID)
	}
	return info
}

// startTicks converts the kernel's start time of a process (CLOCK_BOOTTIME ns) to the clock ticks of
// /proc/<pid>/stat, truncated as the kernel's nsec_to_clock_t does, so the two compare exactly.
func startTicks(startNs uint64) uint64 {
	return startNs / (uint64(time.Second) / clockTicksPerSecond)
}

// creationTime is process.creation.time: boot time plus the start time in clock ticks, at the 10 ms
// resolution /proc gives, the way ps and the host metrics receiver compute it (so the values join).
func (c *processCache) creationTime(startTicks uint64) string {
	if c.bootTime == 0 || startTicks == 0 {
		return ""
	}
	ms := c.bootTime*1000 + startTicks*(1000/clockTicksPerSecond)
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// userName resolves a user ID, remembered. The lookup runs without the cache lock.
func (c *processCache) userName(uid uint32) string {
	c.mu.Lock()
	name, ok := c.users[uid]
	c.mu.Unlock()
	if ok {
		return name
	}
	name = c.lookupUser(uid)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.users) >= maxRememberedIDs {
		c.evictedUsers.Add(uint64(len(c.users)))
		clear(c.users)
	}
	c.users[uid] = name
	return name
}

// rememberIdentity remembers the workload of a cgroup; c.mu must be held.
func (c *processCache) rememberIdentity(cgroupID uint64, id cgroups.Identity) {
	if len(c.identities) >= maxRememberedIDs {
		c.evictedContainers.Add(uint64(len(c.identities)))
		clear(c.identities)
	}
	c.identities[cgroupID] = id
}
