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
var hookChain = []Hook{HookTPBTF, HookRawTracepoint, HookTracepoint}
