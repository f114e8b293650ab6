//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * syscallhealth: count every failed syscall of interest exactly and send
 * rate-limited events with their context to userspace.
 *
 * One program on the syscall exit path, in three flavours for the loader's
 * fallback chain (fastest first): tp_btf/sys_exit, raw_tracepoint/sys_exit,
 * tracepoint/raw_syscalls/sys_exit. Each does the cheapest rejection first
 * (ret >= 0), then shares handle_failure(), which reads the syscall context
 * and reports through track.h's counting, rate-limiting and emitting path.
 * Two programs on the TCP state tracepoint (same three flavours), one for
 * connects that start and one for their outcome, report connects that fail
 * after their syscall returned (connect.h).
 *
 * Compat syscalls: ignored. A 32-bit task's syscall numbers come from another
 * table (ia32 openat is 295, x86_64 295 is preadv; arm32 differs likewise), so
 * counting them under native numbers would mislabel them, and mapping them
 * would need per-ABI tables for a rare case on the hosts this runs on. x32
 * numbers carry bit 30 and fall outside the rule table on their own.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "health.h"
#include "health_maps.h"
#include "cgroup.h"
#include "scope.h"
#include "track.h"
#include "syscall.h"
#include "connect.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Path components resolved from an fd; deeper paths keep their deepest part behind "...". */
#define PATH_MAX_DEPTH 24

static __always_inline struct vfsmount *mount_vfsmount(struct mount *mnt)
{
	return (void *)mnt + bpf_core_field_offset(struct mount, mnt);
}

/*
 * resolve_fd_path writes the path of fd's file into e->path, walking dentries
 * up to the mount root and mounts up to the root of the task's mount tree
 * (d_path is not available to these program types).
 */
static __always_inline void resolve_fd_path(struct health_event *e, int fd)
{
	struct file *f = fd_file(fd);
	__u32 zero = 0;
	struct path_scratch *s = bpf_map_lookup_elem(&path_scratch, &zero);

	if (!f || !s)
		return;

	struct dentry *dentry = BPF_CORE_READ(f, f_path.dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(f, f_path.mnt);
	struct mount *mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
	__u32 off = PATH_LEN - 1;
	bool complete = false;

	s->buf[off] = 0;
	for (int i = 0; i < PATH_MAX_DEPTH; i++) {
		struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (dentry == parent && dentry != mnt_root)
			return; /* pipes, sockets, anonymous inodes: no path to report */
		if (dentry == mnt_root) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

			if (mnt_parent == mnt || !mnt_parent) {
				complete = true;
				break;
			}
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = mount_vfsmount(mnt);
			continue;
		}

		__u32 len = BPF_CORE_READ(dentry, d_name.len);
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);

		if (len + 1 > off)
			break;
		off -= len;
		off &= PATH_LEN - 1;
		bpf_probe_read_kernel(&s->buf[off], len & (PATH_LEN - 1), name);
		off--;
		off &= PATH_LEN - 1;
		s->buf[off] = '/';
		dentry = parent;
	}
	if (off == PATH_LEN - 1) {
		/* The root itself, or a file outside any named directory. */
		if (!complete)
			return;
		off--;
		s->buf[off] = '/';
	}
	if (!complete && off >= 3) {
		off -= 3;
		off &= PATH_LEN - 1;
		s->buf[off] = '.';
		s->buf[off + 1] = '.';
		s->buf[off + 2] = '.';
	}
	off &= PATH_LEN - 1;
	__u32 size = PATH_LEN - off;
	if (size > PATH_LEN)
		return;
	bpf_probe_read_kernel(e->path, size, &s->buf[off]);
}

/* The local address a socket is bound to (listen, accept). */
static __always_inline void read_socket_local(struct health_event *e, int fd)
{
	struct sock *sk = fd_sock(fd);

	if (!sk)
		return;

	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		bpf_core_read(e->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
	} else if (family == AF_INET6) {
		bpf_core_read(e->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
	} else {
		return;
	}
	e->family = family;
	e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
}

/* A sockaddr argument of connect or bind, read only as far as addrlen allows. */
static __always_inline void read_sockaddr(struct health_event *e, unsigned long uaddr, unsigned long addrlen, bool local)
{
	__u16 family = 0;
	__u8 *addr = local ? e->local_addr : e->peer_addr;
	__u16 port = 0;

	if (addrlen < sizeof(family) || bpf_probe_read_user(&family, sizeof(family), (void *)uaddr))
		return;
	if (family == AF_INET && addrlen >= sizeof(struct sockaddr_in_user)) {
		struct sockaddr_in_user sin;

		if (bpf_probe_read_user(&sin, sizeof(sin), (void *)uaddr))
			return;
		__builtin_memcpy(addr, sin.sin_addr, 4);
		port = __builtin_bswap16(sin.sin_port);
	} else if (family == AF_INET6 && addrlen >= sizeof(struct sockaddr_in6_user)) {
		struct sockaddr_in6_user sin6;

		if (bpf_probe_read_user(&sin6, sizeof(sin6), (void *)uaddr))
			return;
		__builtin_memcpy(addr, sin6.sin6_addr, 16);
		port = __builtin_bswap16(sin6.sin6_port);
	} else if (family == AF_UNIX && addrlen > sizeof(family)) {
		const char *sun_path = (const char *)uaddr + sizeof(family);
		__u32 max = addrlen - sizeof(family);
		char first = 0;

		if (max > UNIX_PATH_MAX)
			max = UNIX_PATH_MAX;
		bpf_probe_read_user(&first, 1, sun_path);
		/* sun_path need not be NUL-terminated: read at most max bytes of it. */
		if (first) {
			bpf_probe_read_user_str(e->path, max + 1, sun_path);
		} else {
			/* Abstract socket: shown as "@name", as ss and netstat do. */
			e->path[0] = '@';
			bpf_probe_read_user_str(&e->path[1], max, sun_path + 1);
		}
	} else {
		return;
	}
	e->family = family;
	if (local)
		e->local_port = port;
	else
		e->peer_port = port;
}

/*
 * fill_arguments reads the context named by the rule's argument kind. A
 * subprogram rather than inlined: it only runs for emitted events, and the
 * path walk would otherwise be copied into each program flavour.
 */
static __noinline void fill_arguments(const struct syscall_rule *rule, struct health_event *e,
				      struct pt_regs *regs, __u32 errno_nr, bool include_paths)
{
	switch (rule->arg_kind) {
	case ARG_PATH:
		if (include_paths)
			bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)syscall_arg(regs, rule->arg_index));
		break;
	case ARG_FD_FILE:
		e->fd = (int)syscall_arg(regs, 0);
		/* EBADF: there is no file to name. */
		if (include_paths && errno_nr != EBADF)
			resolve_fd_path(e, e->fd);
		break;
	case ARG_FD_SOCKET:
		e->fd = (int)syscall_arg(regs, 0);
		/* EBADF, ENOTSOCK: there is no socket to read. */
		if (include_paths && errno_nr != EBADF && errno_nr != ENOTSOCK)
			read_socket_local(e, e->fd);
		break;
	case ARG_SOCKADDR_PEER:
	case ARG_SOCKADDR_LOCAL:
		e->fd = (int)syscall_arg(regs, 0);
		if (include_paths)
			read_sockaddr(e, syscall_arg(regs, 1), syscall_arg(regs, 2), rule->arg_kind == ARG_SOCKADDR_LOCAL);
		break;
	}
	/* EBADF, ENOTSOCK: there is no socket to ask. */
	if ((rule->arg_kind == ARG_FD_SOCKET || rule->arg_kind == ARG_SOCKADDR_PEER || rule->arg_kind == ARG_SOCKADDR_LOCAL) &&
	    errno_nr != EBADF && errno_nr != ENOTSOCK)
		e->protocol = fd_socket_protocol(e->fd);
}

/*
 * handle_failure runs for a syscall that returned ret < 0. With regs_from_task
 * (the tracepoint flavour, whose record has no registers) regs is looked up
 * only once the failure is known to be watched, or for connect, whose exit
 * also hands its socket over to the TCP state program (connect.h).
 */
static __always_inline int handle_failure(struct pt_regs *regs, bool regs_from_task, unsigned long nr, long ret)
{
	if (ret < -MAX_ERRNO || nr >= MAX_SYSCALLS)
		return 0;

	const struct health_config *cfg = active_config();
	if (!cfg)
		return 0;

	__u32 errno_nr = -ret;
	struct connect_local local = {};
	int connect_verdict = CONNECT_EXIT_REPORT;
	if (nr == NR_CONNECT) {
		if (regs_from_task) {
			regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
			regs_from_task = false;
		}
		connect_verdict = connect_exit(cfg, regs, errno_nr, &local);
		if (connect_verdict == CONNECT_EXIT_DONE)
			return 0;
	}

	/* An excluded task's failures stop here, from its cached verdict, before the errno check (scope.h). */
	struct scope_verdict *scope = scope_verdict_of(cfg);
	if (scope && scope->verdict == SCOPE_V_OUT)
		return 0;

	const struct syscall_rule *rule = &cfg->rules[nr];
	if (!rule->watched || !errno_watched(rule, errno_nr))
		return 0;

	if (regs_from_task)
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct task_struct *task = current_task_btf();
	if (is_compat_syscall(regs, task))
		return 0;

	__u64 pid_tgid = task ? (__u64)task->tgid << 32 | (__u32)task->pid : bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;
	if (filtered_out(cfg, tgid, scope))
		return 0;
	if (connect_verdict == CONNECT_EXIT_UNLESS_REPORTED && connect_reported_before(regs, errno_nr))
		return 0;

	struct tracking_key key = {
		.tgid = tgid,
		.syscall_nr = nr,
		.errno_nr = errno_nr,
		.process_start_ns = process_start_ns(task),
	};
	struct health_event *e = track_failure(cfg, &key, rule->category, 0, NULL);
	if (!e)
		return 0;

	fill_task(e, pid_tgid);
	fill_cgroup(e, task_cgroup((struct task_struct *)bpf_get_current_task()));
	fill_arguments(rule, e, regs, errno_nr, cfg->flags & CONFIG_F_INCLUDE_PATHS);
	/* The source of a connect that failed during its syscall, recorded before the socket was disconnected. */
	if (local.family && local.family == e->family) {
		__builtin_memcpy(e->local_addr, local.addr, sizeof(e->local_addr));
		e->local_port = local.port;
	}
	submit_event(cfg, e);
	return 0;
}

/* BTF-typed raw tracepoint: regs is a trusted pointer, read directly. */
SEC("tp_btf/sys_exit")
int sys_exit_btf(__u64 *ctx)
{
	long ret = (long)ctx[1];

	if (ret >= 0)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	return handle_failure(regs, false, (unsigned long)regs->SYSCALL_NR_FIELD, ret);
}

/* Raw tracepoint: the same arguments, untyped, so regs is read with probes. */
SEC("raw_tracepoint/sys_exit")
int sys_exit_raw(__u64 *ctx)
{
	long ret = (long)ctx[1];

	if (ret >= 0)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	return handle_failure(regs, false, BPF_CORE_READ(regs, SYSCALL_NR_FIELD), ret);
}

/* Classic tracepoint: the record has no registers, so they come from the task. */
SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit_tp(struct trace_event_raw_sys_exit *ctx)
{
	long ret = ctx->ret;

	if (ret >= 0)
		return 0;
	return handle_failure(NULL, true, (unsigned long)ctx->id, ret);
}

/*
 * The TCP state programs (connect.h), each in the same three flavours, chosen
 * independently of the sys_exit one: one for connects that start, one for
 * their outcome. Two programs rather than one because the kernel runs a
 * program once at a time per CPU and skips a run that would nest: an outcome
 * in an interrupt would be lost while the other program records a connect in
 * the process (the heaviest work here). tp_btf: sk is a trusted pointer.
 */
SEC("tp_btf/inet_sock_set_state")
int tcp_connect_start_btf(__u64 *ctx)
{
	return handle_connect_start((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2]);
}

SEC("tp_btf/inet_sock_set_state")
int tcp_connect_end_btf(__u64 *ctx)
{
	return handle_connect_end((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2]);
}

SEC("raw_tracepoint/inet_sock_set_state")
int tcp_connect_start_raw(__u64 *ctx)
{
	return handle_connect_start((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2]);
}

SEC("raw_tracepoint/inet_sock_set_state")
int tcp_connect_end_raw(__u64 *ctx)
{
	return handle_connect_end((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2]);
}

/* Classic tracepoint: the record carries the socket's address and both states. */
SEC("tracepoint/sock/inet_sock_set_state")
int tcp_connect_start_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return handle_connect_start((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_connect_end_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	return handle_connect_end((struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate);
}
