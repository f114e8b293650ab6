package bpf

// Hook names the mechanism that attaches the probe to the syscall exit path.
type Hook string

const (
	// HookTPBTF is a BTF-typed raw tracepoint (tp_btf/sys_exit): the cheapest, Linux 5.5+.
	HookTPBTF Hook = "tp_btf"
	// HookRawTracepoint is an untyped raw tracepoint (raw_tracepoint/sys_exit).
	HookRawTracepoint Hook = "raw_tracepoint"
	// HookTracepoint is the classic tracepoint raw_syscalls/sys_exit; it needs tracefs.
	HookTracepoint Hook = "tracepoint"
)

// hookChain is the order Load tries the hooks in, fastest first (see
// BenchmarkHookOverhead for what each adds to every syscall).
var hookChain = []Hook{HookTPBTF, HookRawTracepoint, HookTracepoint}
