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
	// maxCommandLine bounds the command line kept per process (Java class paths can be huge).
	maxCommandLine = 2048
	// maxRememberedIDs bounds the user name and cgroup lookups remembered.
	maxRememberedIDs = 4096
)

// processInfo is what the resource of one process is built from. It is never modified once published, so
// callers may use it without holding the cache lock.
type processInfo struct {
	PID            uint32
	PPID           uint32 // 0 when unknown
	UID            uint32
	UIDKnown       bool
	ExecutableName string
	ExecutablePath string // "" when /proc/<pid>/exe was not readable
	CommandLine    string // "" unless reading command lines is enabled
	Owner          string // "" when the user ID has no name
	ContainerID    string // "" outside containers
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
	now             func() time.Time
	lookupUser      func(uid uint32) string

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
		if entry != nil && entry.info.ExecutableName != "" {
			entry.checked = now
			return entry.info
		}
		info := &processInfo{PID: ev.PID, PPID: ev.PPID, UID: ev.UID, UIDKnown: true, ExecutableName: ev.Comm,
			Owner: c.userName(ev.UID), ContainerID: c.containers[ev.CgroupID]}
		c.put(info, now)
		return info
	}
	if entry != nil && entry.info.startTime == stat.startTime && entry.info.leaderComm == stat.comm {
		entry.checked = now
		return entry.info
	}
	info := c.resolve(ev.PID, stat, ev.UID, true)
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
	uid, ok := c.readUID(pid)
	info := c.resolve(pid, stat, uid, ok)
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
func (c *processCache) resolve(pid uint32, stat procStat, uid uint32, uidKnown bool) *processInfo {
	info := &processInfo{PID: pid, PPID: stat.ppid, UID: uid, UIDKnown: uidKnown, ExecutableName: stat.comm,
		startTime: stat.startTime, leaderComm: stat.comm}
	dir := c.pidDir(pid)
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		info.ExecutablePath = exe
		info.ExecutableName = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	}
	if c.readCommandLine {
		info.CommandLine = c.readCmdline(dir)
	}
	if f, err := os.Open(filepath.Join(dir, "cgroup")); err == nil {
		info.ContainerID = containerIDFromCgroup(f)
		f.Close()
	}
	if uidKnown {
		info.Owner = c.userName(uid)
	}
	return info
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

// readUID returns the real user ID from /proc/<pid>/status.
func (c *processCache) readUID(pid uint32) (uint32, bool) {
	raw, err := os.ReadFile(filepath.Join(c.pidDir(pid), "status"))
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(raw)) {
		rest, ok := strings.CutPrefix(line, "Uid:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		uid, err := strconv.ParseUint(fields[0], 10, 32)
		return uint32(uid), err == nil
	}
	return 0, false
}

func (c *processCache) readCmdline(dir string) string {
	f, err := os.Open(filepath.Join(dir, "cmdline"))
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, maxCommandLine)
	n, _ := f.Read(buf)
	args := bytes.TrimRight(buf[:n], "\x00")
	return string(bytes.ReplaceAll(args, []byte{0}, []byte{' '}))
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
