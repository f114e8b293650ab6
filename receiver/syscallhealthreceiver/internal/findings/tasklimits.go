package findings

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// hostTasksNearlyExhausted is the share of kernel.threads-max or kernel.pid_max in use
// from which a failed fork is blamed on the host (the count is sampled after the failure).
const hostTasksNearlyExhausted = 0.95

// hostTaskLimit returns the host's task limit (the lower of kernel.threads-max and
// kernel.pid_max) when the tasks in use are close enough to it to explain a failed fork.
func hostTaskLimit(procRoot string) (int64, bool) {
	loadavg, err := os.ReadFile(filepath.Join(procRoot, "loadavg"))
	if err != nil {
		return 0, false
	}
	// "0.00 0.01 0.05 1/123 4567": the fourth field is running/total scheduling entities (tasks).
	fields := strings.Fields(string(loadavg))
	if len(fields) < 4 {
		return 0, false
	}
	_, totalText, ok := strings.Cut(fields[3], "/")
	if !ok {
		return 0, false
	}
	tasks, err := strconv.ParseInt(totalText, 10, 64)
	if err != nil {
		return 0, false
	}
	var limit int64
	for _, name := range []string{"threads-max", "pid_max"} {
		if v, err := readInt(filepath.Join(procRoot, "sys", "kernel", name)); err == nil && v > 0 && (limit == 0 || v < limit) {
			limit = v
		}
	}
	if limit == 0 || float64(tasks) < hostTasksNearlyExhausted*float64(limit) {
		return 0, false
	}
	return limit, true
}

// nprocLimit returns the soft RLIMIT_NPROC of a process when it binds: the kernel
// ignores it for root (uid 0), and "unlimited" never binds.
func nprocLimit(procRoot string, pid, uid uint32) (int64, bool) {
	if uid == 0 {
		return 0, false
	}
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "limits"))
	if err != nil {
		return 0, false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Max processes")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0, false
		}
		limit, err := strconv.ParseInt(fields[0], 10, 64) // "unlimited" does not parse
		return limit, err == nil
	}
	return 0, false
}
