package bpf

// Hook names the mechanism that attaches a probe program to its tracepoint
// (raw_syscalls/sys_exit for Probe.Hook, sock/inet_sock_set_state for Probe.SocketHook).
type Hook string

const (
	// HookTPBTF is a BTF-typed raw tracepoint (tp_btf/...): the cheapest, Linux 5.5+.
	HookTPBTF Hook = "tp_btf"
	// HookRawTracepoint is an untyped raw tracepoint (raw_tracepoint/...).
	HookRawTracepoint Hook = "raw_tracepoint"
	// HookTracepoint is the classic tracepoint; it needs tracefs.
	HookTracepoint Hook = "tracepoint"
)

// hookChain is the order Load tries the hooks in, for each program, fastest
// first (see BenchmarkHookOverhead for what each adds to every syscall).
//
// Per-syscall fexit programs (on __x64_sys_<name>) would spare unwatched
// syscalls the sys_exit hook, but are not in the chain. Tried on Debian's
// cloud kernels under qemu: amd64 5.10, 6.1 and 6.12 attach fexit to
// __x64_sys_openat and __x64_sys_write (the sys_exit program's code too), but
// SYSCALL_DEFINE0 syscalls (fork, vfork, getppid) are aliases with no
// __x64_sys_ function in BTF ("fexit __x64_sys_getppid not supported" is
// cilium/ebpf's not-found), and 6.1's BTF has two functions named
// __x64_sys_connect (and accept, accept4, bind, clone3, execveat, listen,
// mremap: the COND_SYSCALL weak stub beside the real one), which cilium/ebpf
// refuses as ambiguous. arm64 6.1 has no BPF trampolines (attach: "not
// supported"); a kernel without function tracing refuses the load (EPERM, as
// on the 6.18 Firecracker kernel the tests run on). Above all, a syscall that
// seccomp denies (SECCOMP_RET_ERRNO) or that this kernel lacks (ENOSYS) never
// reaches __x64_sys_<name>: its failure is only seen on sys_exit.
var hookChain = []Hook{HookTPBTF, HookRawTracepoint, HookTracepoint}
