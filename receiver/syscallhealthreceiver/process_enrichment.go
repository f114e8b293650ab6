//go:build linux

package syscallhealthreceiver // import "github.com/syscallhealth/syscallhealth/receiver/syscallhealthreceiver"

import (
	"bytes"
	"container/list"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/syscallhealth/syscallhealth/bpf"
)

const (
	// processCacheSize bounds the processes remembered at once; the least recently used is forgotten first.
	processCacheSize = 4096
	// revalidateAfter is how long a cached process is trusted before /proc/<pid>/stat is read again to
	// notice an exec or a reused PID. Within it, events of the same process read nothing from /proc.
	revalidateAfter = time.Second
	// maxCommandLine bounds the bytes of /proc/<pid>/cmdline kept per process (Java class paths can be huge).
	maxCommandLine = 2048
	// clockTicksPerSecond is USER_HZ, the unit of the start time in /proc/<pid>/stat: 100 on every Linux
	// architecture (it is part of the ABI).
	clockTicksPerSecond = 100
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
	// ExecutableName is the base name of /proc/<pid>/exe, "" when it was not readable.
	ExecutableName string
	ExecutablePath string   // "" when /proc/<pid>/exe was not readable
	CommandArgs    []string // nil unless process.command_args is enabled
	// CreationTime is process.creation.time (ISO 8601), "" when the process was gone before /proc was read.
	CreationTime string
	// Command is the kernel's name of the process (comm), for people: finding texts name a process by its
	// executable, else by it.
	Command     string
	ContainerID string // "" outside containers
	// startTime is field 22 of /proc/<pid>/stat (clock ticks after boot): with the PID it identifies the
	// process across PID reuse. 0 when the process had exited before it could be read.
	startTime uint64
	// leaderComm is the thread group leader's name from /proc/<pid>/stat; it changes on exec.
	leaderComm string
}

type cacheEntry struct {
	info    *processInfo
	checked time.Time
}

// processCache enriches kernel events with what /proc knows about the process. Entries are identified by
// (pid, start time): a PID reused by a new process gets a new entry. A process that has already exited keeps
// what the kernel sent with the event (comm, parent PID, user ID).
type processCache struct {
	procRoot        string
	readCommandLine bool
	// bootTime is the host's boot time in seconds (btime of <procRoot>/stat), for process.creation.time;
	// 0 when unreadable.
	bootTime   uint64
	now        func() time.Time
	lookupUser func(uid uint32) string

	mu      sync.Mutex
	byPID   map[uint32]*list.Element // of *cacheEntry
	recency *list.List               // front = most recently used
	users   map[uint32]string
	// containers remembers the container of each cgroup seen, for processes gone before /proc was read.
	containers map[uint64]string
}

func newProcessCache(procRoot string, readCommandLine bool) *processCache {
	return &processCache{
		procRoot:        procRoot,
		readCommandLine: readCommandLine,
		bootTime:        readBootTime(procRoot),
		now:             time.Now,
		lookupUser:      lookupUserName,
		byPID:           make(map[uint32]*list.Element),
		recency:         list.New(),
		users:           make(map[uint32]string),
		containers:      make(map[uint64]string),
	}
}

// forEvent returns the process of an event, reading /proc only when the process is new or due for a check.
func (c *processCache) forEvent(ev *bpf.Event) *processInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	entry := c.get(ev.PID)
	if entry != nil && now.Sub(entry.checked) < revalidateAfter {
		return entry.info
	}
	stat, err := c.readStat(ev.PID)
	if err != nil {
		// Gone already: keep what we knew, else what the kernel sent.
		if entry != nil && entry.info.RealUIDKnown {
			entry.checked = now
			return entry.info
		}
		info := &processInfo{PID: ev.PID, PPID: ev.PPID, RealUID: ev.UID, RealUIDKnown: true, Command: ev.Comm,
			ContainerID: c.containers[ev.CgroupID]}
		c.put(info, now)
		return info
	}
	if entry != nil && entry.info.startTime == stat.startTime && entry.info.leaderComm == stat.comm {
		entry.checked = now
		return entry.info
	}
	info := c.resolve(ev.PID, stat)
	// The kernel's real user ID is the one at the failure; /proc may show a later setuid.
	info.RealUID, info.RealUIDKnown = ev.UID, true
	if info.ContainerID != "" && ev.CgroupID != 0 {
		c.rememberContainer(ev.CgroupID, info.ContainerID)
	}
	c.put(info, now)
	return info
}

// forPID returns the process for a PID that has counts but maybe no event in this cache's memory.
func (c *processCache) forPID(pid uint32) *processInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if entry := c.get(pid); entry != nil {
		return entry.info
	}
	now := c.now()
	stat, err := c.readStat(pid)
	if err != nil {
		info := &processInfo{PID: pid}
		c.put(info, now)
		return info
	}
	info := c.resolve(pid, stat)
	c.put(info, now)
	return info
}

// exited reports whether the process the cache knows under pid is gone: /proc/<pid> is missing or now
// belongs to a process with another start time.
func (c *processCache) exited(pid uint32) bool {
	stat, err := c.readStat(pid)
	if err != nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	entry := c.get(pid)
	return entry != nil && entry.info.startTime != 0 && entry.info.startTime != stat.startTime
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

func (c *processCache) get(pid uint32) *cacheEntry {
	el, ok := c.byPID[pid]
	if !ok {
		return nil
	}
	c.recency.MoveToFront(el)
	return el.Value.(*cacheEntry)
}

func (c *processCache) put(info *processInfo, now time.Time) {
	if el, ok := c.byPID[info.PID]; ok {
		el.Value = &cacheEntry{info: info, checked: now}
		c.recency.MoveToFront(el)
		return
	}
	c.byPID[info.PID] = c.recency.PushFront(&cacheEntry{info: info, checked: now})
	for c.recency.Len() > processCacheSize {
		oldest := c.recency.Back()
		c.recency.Remove(oldest)
		delete(c.byPID, oldest.Value.(*cacheEntry).info.PID)
	}
}

// resolve reads what /proc has about a live process. Every read may fail because the process exits
// meanwhile; a failed read leaves its attribute empty.
func (c *processCache) resolve(pid uint32, stat procStat) *processInfo {
	info := &processInfo{PID: pid, PPID: stat.ppid, Command: stat.comm, CreationTime: c.creationTime(stat.startTime),
		startTime: stat.startTime, leaderComm: stat.comm}
	dir := c.pidDir(pid)
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		info.ExecutablePath = exe
		info.ExecutableName = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	}
	if c.readCommandLine {
		info.CommandArgs = c.readCmdline(dir)
	}
	if ids, ok := c.readUIDs(pid); ok {
		info.RealUID, info.RealUIDKnown = ids.real, true
		info.EffectiveUID, info.EffectiveUIDKnown = ids.effective, true
		info.UserName = c.userName(ids.effective)
	}
	if f, err := os.Open(filepath.Join(dir, "cgroup")); err == nil {
		info.ContainerID = containerIDFromCgroup(f)
		f.Close()
	}
	return info
}

// creationTime is process.creation.time: boot time plus the start time in clock ticks, at the 10 ms
// resolution the kernel gives, the way ps and the host metrics receiver compute it (so the values join).
func (c *processCache) creationTime(startTicks uint64) string {
	if c.bootTime == 0 || startTicks == 0 {
		return ""
	}
	ms := c.bootTime*1000 + startTicks*(1000/clockTicksPerSecond)
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// readBootTime reads btime, the boot time in seconds since the epoch, from <procRoot>/stat.
func readBootTime(procRoot string) uint64 {
	raw, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			btime, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err == nil {
				return btime
			}
		}
	}
	return 0
}

func (c *processCache) pidDir(pid uint32) string {
	return filepath.Join(c.procRoot, strconv.FormatUint(uint64(pid), 10))
}

var errMalformedProcStat = errors.New("malformed /proc/<pid>/stat")

type procStat struct {
	comm      string
	ppid      uint32
	startTime uint64
}

// readStat parses /proc/<pid>/stat. The name is in parentheses and may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func (c *processCache) readStat(pid uint32) (procStat, error) {
	raw, err := os.ReadFile(filepath.Join(c.pidDir(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(raw)
}

func parseStat(raw []byte) (procStat, error) {
	open := bytes.IndexByte(raw, '(')
	closing := bytes.LastIndexByte(raw, ')')
	if open < 0 || closing < open {
		return procStat{}, errMalformedProcStat
	}
	fields := strings.Fields(string(raw[closing+1:]))
	// fields[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(fields) < 20 {
		return procStat{}, errMalformedProcStat
	}
	ppid, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return procStat{}, errMalformedProcStat
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procStat{}, errMalformedProcStat
	}
	return procStat{comm: string(raw[open+1 : closing]), ppid: uint32(ppid), startTime: start}, nil
}

type userIDs struct{ real, effective uint32 }

// readUIDs returns the real and effective user IDs, the first two of the Uid line of /proc/<pid>/status.
func (c *processCache) readUIDs(pid uint32) (userIDs, bool) {
	raw, err := os.ReadFile(filepath.Join(c.pidDir(pid), "status"))
	if err != nil {
		return userIDs{}, false
	}
	for line := range strings.Lines(string(raw)) {
		rest, ok := strings.CutPrefix(line, "Uid:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) < 2 {
			return userIDs{}, false
		}
		real, errReal := strconv.ParseUint(fields[0], 10, 32)
		effective, errEffective := strconv.ParseUint(fields[1], 10, 32)
		if errReal != nil || errEffective != nil {
			return userIDs{}, false
		}
		return userIDs{real: uint32(real), effective: uint32(effective)}, true
	}
	return userIDs{}, false
}

// readCmdline splits /proc/<pid>/cmdline into its NUL-separated arguments (process.command_args), never
// joining them: an argument may itself hold spaces.
func (c *processCache) readCmdline(dir string) []string {
	f, err := os.Open(filepath.Join(dir, "cmdline"))
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, maxCommandLine)
	n, _ := f.Read(buf)
	args := bytes.TrimRight(buf[:n], "\x00")
	if len(args) == 0 {
		return nil // a kernel thread, or a process that is exiting
	}
	return strings.Split(string(args), "\x00")
}

func (c *processCache) userName(uid uint32) string {
	if name, ok := c.users[uid]; ok {
		return name
	}
	if len(c.users) >= maxRememberedIDs {
		clear(c.users)
	}
	name := c.lookupUser(uid)
	c.users[uid] = name
	return name
}

func (c *processCache) rememberContainer(cgroupID uint64, containerID string) {
	if len(c.containers) >= maxRememberedIDs {
		clear(c.containers)
	}
	c.containers[cgroupID] = containerID
}

func lookupUserName(uid uint32) string {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}
