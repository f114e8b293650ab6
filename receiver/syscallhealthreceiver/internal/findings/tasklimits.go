package findings

// hostTasksNearlyExhausted is the share of kernel.threads-max or kernel.pid_max in use
// from which a failed fork is blamed on the host (the count is sampled after the failure).
const hostTasksNearlyExhausted = 0.95

// hostTaskLimit returns the host's task limit (the lower of kernel.threads-max and
// kernel.pid_max) when the tasks in use are close enough to it to explain a failed fork.
func (r *subjectResolver) hostTaskLimit() (int64, bool) {
	tasks, limit, err := r.host.HostTasks()
	if err != nil || limit == 0 || float64(tasks) < hostTasksNearlyExhausted*float64(limit) {
		return 0, false
	}
	return limit, true
}

// nprocLimit returns the soft RLIMIT_NPROC of a process when it binds: the kernel
// ignores it for root (uid 0), and "unlimited" never binds.
func (r *subjectResolver) nprocLimit(pid, uid uint32) (int64, bool) {
	if uid == 0 {
		return 0, false
	}
	limit, err := r.host.NprocLimit(pid)
	return limit, err == nil
}
