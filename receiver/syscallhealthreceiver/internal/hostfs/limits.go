package hostfs

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
)

var errNoLimit = errors.New("no such limit")

// HostTasks reads the tasks in use (the fourth field of /proc/loadavg, "running/total") and the
// host's task limit: the lower of kernel.threads-max and kernel.pid_max.
func (h *Host) HostTasks() (tasks, limit int64, err error) {
	type answer struct{ tasks, limit int64 }
	a, err := call(h.calls, "host tasks", func() (answer, error) {
		raw, err := readSmall(h.procPath("loadavg"))
		if err != nil {
			return answer{}, err
		}
		fields := strings.Fields(string(raw))
		if len(fields) < 4 {
			return answer{}, errors.New("malformed /proc/loadavg")
		}
		_, totalText, _ := strings.Cut(fields[3], "/")
		total, err := strconv.ParseInt(totalText, 10, 64)
		if err != nil {
			return answer{}, err
		}
		var limit int64
		for _, name := range []string{"threads-max", "pid_max"} {
			raw, err := readSmall(h.procPath("sys", "kernel", name))
			if err != nil {
				continue
			}
			if v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64); err == nil && v > 0 && (limit == 0 || v < limit) {
				limit = v
			}
		}
		return answer{total, limit}, nil
	})
	return a.tasks, a.limit, err
}

// NprocLimit reads the soft RLIMIT_NPROC of pid from /proc/<pid>/limits; errNoLimit for "unlimited".
func (h *Host) NprocLimit(pid uint32) (int64, error) {
	return call(h.calls, "limits", func() (int64, error) {
		raw, err := readSmall(h.pidPath(pid, "limits"))
		if err != nil {
			return 0, err
		}
		return parseNprocLimit(string(raw))
	})
}

func parseNprocLimit(raw string) (int64, error) {
	for line := range strings.SplitSeq(raw, "\n") {
		rest, ok := strings.CutPrefix(line, "Max processes")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		limit, err := strconv.ParseInt(fields[0], 10, 64) // "unlimited" does not parse
		if err != nil {
			return 0, errNoLimit
		}
		return limit, nil
	}
	return 0, errNoLimit
}
