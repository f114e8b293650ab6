//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat CPU times (100 on every Linux ABI we build for).
const clockTicks = 100

// processCPU returns the user+system CPU time pid has used.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// residentKiB returns VmRSS of pid.
func residentKiB(pid int) (int64, error) {
	return statusField(pid, "VmRSS:")
}

func statusField(pid int, name string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), name); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// A residentBreakdown splits a process's RSS by what backs it.
type residentBreakdown struct {
	anonKiB   int64 // heap, stacks: the process's own memory
	fileKiB   int64 // the binary's code and data pages in use
	bpfMapKiB int64 // BPF maps mapped into the process: the ring buffer (its data pages are mapped twice)
}

// residentByKind sums /proc/<pid>/smaps by mapping kind.
func residentByKind(pid int) (residentBreakdown, error) {
	var r residentBreakdown
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return r, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	var name string
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			name = ""
			if len(fields) >= 6 {
				name = fields[5]
			}
			continue
		}
		if fields[0] != "Rss:" || len(fields) < 2 {
			continue
		}
		kib, _ := strconv.ParseInt(fields[1], 10, 64)
		switch {
		case name == "anon_inode:bpf-map":
			r.bpfMapKiB += kib
		case strings.HasPrefix(name, "/"):
			r.fileKiB += kib
		default:
			r.anonKiB += kib
		}
	}
	return r, s.Err()
}

// bpfMemlockBytes sums the memlock the kernel charges for the BPF maps and programs pid holds open.
func bpfMemlockBytes(pid int) (int64, error) {
	fds, err := filepath.Glob(fmt.Sprintf("/proc/%d/fdinfo/*", pid))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, fd := range fds {
		b, err := os.ReadFile(fd)
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "memlock:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
				total += n
			}
		}
	}
	return total, nil
}

// onlyChild returns the single child process of pid (nginx's one worker).
func onlyChild(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("process %d has %d children, want 1", pid, len(f))
	}
	return strconv.Atoi(f[0])
}
