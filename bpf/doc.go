// Package bpf loads syscallhealth's eBPF probes and reads what they report.
//
// The probes see every syscall exit on the host (tp_btf/sys_exit, falling back
// to raw_tracepoint/sys_exit and then tracepoint/raw_syscalls/sys_exit),
// keep only failures of watched (syscall, errno) pairs, count each one exactly
// per (process, syscall, errno) before any rate limiting, and send rate-limited
// events with the failure's context through a ring buffer. Load attaches them;
// ReadEvent, Counts and Stats read them; Update reconfigures them in place.
//
// Counts are exact under pressure: every watched failure is in its series'
// count (Counts) or in Stats.Untracked, never lost. The tracking map holds
// Options.TrackingMapSize series and never evicts one: when it is full, a new
// series is refused and its failures are counted as untracked, while the
// series in the map keep counting. DeleteCounts (the receiver calls it for
// exited processes, after reporting their final counts) makes room again.
//
// Two more programs follow TCP state (sock/inet_sock_set_state, same fallback
// chain, chosen on its own; see Probe.SocketHook), one for connects that start
// and one for their outcome, to report connects that fail
// after connect() returned EINPROGRESS, as non-blocking clients (Go, Java NIO,
// Node.js, curl) learn it from SO_ERROR: counted under the connecting process
// as connect with the socket's error (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH...),
// with Event.Async set. A connect that returns its failure is counted once, by
// the syscall exit program, as before. EINPROGRESS, EALREADY and EISCONN are
// never counted for connect.
//
// Requirements: Linux 5.8 or later with BTF (CONFIG_DEBUG_INFO_BTF), and root
// or CAP_BPF and CAP_PERFMON; the classic tracepoint fallback and the TCP state
// program need Linux 5.15 (bpf_task_pt_regs). The compiled objects for amd64
// and arm64 are committed (bpf2go, see gen.go), so building needs no clang.
//
// 32-bit compat syscalls (ia32 on amd64, AArch32 on arm64) are ignored: their
// numbers belong to other tables and would be mislabelled as native syscalls.
//
// Probe, Load and BootClock exist on Linux only (Probe and Load on amd64 and
// arm64); Event, DecodeEvent, the errno and syscall tables and Options are
// portable.
package bpf
