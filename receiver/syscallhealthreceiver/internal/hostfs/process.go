package hostfs

import (
	"bytes"
	"os"
	"strings"
)

// maxCommandLine bounds the command line kept per process (Java class paths can be huge).
const maxCommandLine = 2048

// Process is what /proc tells of a live process.
type Process struct {
	Stat ProcessStat
	// ExecutablePath is the target of /proc/<pid>/exe; "" when not readable.
	ExecutablePath string
	// CommandArgs are the NUL-separated arguments of /proc/<pid>/cmdline, cut at maxCommandLine bytes (never
	// joined: an argument may hold spaces); nil unless asked for.
	CommandArgs []string
	Cgroups     []Cgroup
	// RealUID and EffectiveUID are from /proc/<pid>/status, when UIDsKnown.
	RealUID, EffectiveUID uint32
	UIDsKnown             bool
	// MountNamespace is the inode of its mount namespace; 0 when not readable.
	MountNamespace uint64
}

// Process reads a live process's stat, exe, cgroup, status, mount namespace and, when commandArgs is
// set, its cmdline, under one deadline. Only the stat must be readable: the other files may vanish as the
// process exits meanwhile, leaving their fields empty.
func (h *Host) Process(pid uint32, commandArgs bool) (Process, error) {
	return call(h.calls, "process", func() (Process, error) {
		stat, err := h.readStat(pid)
		if err != nil {
			return Process{}, err
		}
		p := Process{Stat: stat}
		if exe, err := os.Readlink(h.pidPath(pid, "exe")); err == nil {
			p.ExecutablePath = exe
		}
		if commandArgs {
			// Empty for a kernel thread, or a process that is exiting.
			if raw, _, err := readLimited(h.pidPath(pid, "cmdline"), maxCommandLine); err == nil && len(bytes.TrimRight(raw, "\x00")) > 0 {
				p.CommandArgs = strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
			}
		}
		if raw, err := readSmall(h.pidPath(pid, "cgroup")); err == nil {
			p.Cgroups = ParseCgroups(bytes.NewReader(raw))
		}
		if raw, err := readSmall(h.pidPath(pid, "status")); err == nil {
			p.RealUID, p.EffectiveUID, p.UIDsKnown = parseStatusUIDs(string(raw))
		}
		p.MountNamespace, _ = h.readNamespace(pid, "mnt")
		return p, nil
	})
}

// ThreadComm reads the name of thread tid of process pid (/proc/<pid>/task/<tid>/comm).
func (h *Host) ThreadComm(pid, tid uint32) (string, error) {
	return call(h.calls, "thread comm", func() (string, error) {
		raw, err := readSmall(h.pidPath(pid, "task", uitoa(tid), "comm"))
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(string(raw), "\n"), nil
	})
}

// Cgroups reads /proc/<pid>/cgroup.
func (h *Host) Cgroups(pid uint32) ([]Cgroup, error) {
	return call(h.calls, "cgroup", func() ([]Cgroup, error) {
		raw, err := readSmall(h.pidPath(pid, "cgroup"))
		if err != nil {
			return nil, err
		}
		return ParseCgroups(bytes.NewReader(raw)), nil
	})
}
