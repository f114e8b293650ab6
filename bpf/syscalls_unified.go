// Transcribed from golang.org/x/sys v0.50.0 unix/zsysnum_linux_{amd64,arm64}.go.

package bpf

// firstUnifiedSyscall is where the syscall numbers of every architecture meet: since Linux 5.1 each new
// syscall gets the same number everywhere (424 is pidfd_send_signal).
const firstUnifiedSyscall = 424

// unifiedSyscalls names the syscalls from firstUnifiedSyscall on, indexed by number - firstUnifiedSyscall.
var unifiedSyscalls = [...]string{
	0:  "pidfd_send_signal",
	1:  "io_uring_setup",
	2:  "io_uring_enter",
	3:  "io_uring_register",
	4:  "open_tree",
	5:  "move_mount",
	6:  "fsopen",
	7:  "fsconfig",
	8:  "fsmount",
	9:  "fspick",
	10: "pidfd_open",
	11: "clone3",
	12: "close_range",
	13: "openat2",
	14: "pidfd_getfd",
	15: "faccessat2",
	16: "process_madvise",
	17: "epoll_pwait2",
	18: "mount_setattr",
	19: "quotactl_fd",
	20: "landlock_create_ruleset",
	21: "landlock_add_rule",
	22: "landlock_restrict_self",
	23: "memfd_secret",
	24: "process_mrelease",
	25: "futex_waitv",
	26: "set_mempolicy_home_node",
	27: "cachestat",
	28: "fchmodat2",
	29: "map_shadow_stack",
	30: "futex_wake",
	31: "futex_wait",
	32: "futex_requeue",
	33: "statmount",
	34: "listmount",
	35: "lsm_get_self_attr",
	36: "lsm_set_self_attr",
	37: "lsm_list_modules",
	38: "mseal",
	39: "setxattrat",
	40: "getxattrat",
	41: "listxattrat",
	42: "removexattrat",
	43: "open_tree_attr",
	44: "file_getattr",
	45: "file_setattr",
	46: "listns",
	47: "rseq_slice_yield",
}
