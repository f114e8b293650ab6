/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Failed TCP connects that the connect syscall does not return. A
 * non-blocking connect returns EINPROGRESS and the refusal or timeout only
 * shows later in SO_ERROR, where no sys_exit hook sees it.
 *
 * The TCP state tracepoint (sock/inet_sock_set_state) follows each active
 * open. CLOSE -> SYN_SENT runs inside connect() (tcp_v4/v6_connect) with the
 * connecting task current, so who connects is remembered per socket;
 * SYN_SENT -> ESTABLISHED forgets it; SYN_SENT -> CLOSE with sk_err set is a
 * failed connect (tcp_reset and tcp_write_err set sk_err before tcp_done).
 *
 * While the connect syscall that sent the SYN still runs (a blocking connect;
 * or loopback, where the RST is processed at release_sock before connect
 * returns), its sys_exit decides: an error it returns is reported once, the
 * ordinary way; a failure hidden behind EINPROGRESS is reported as
 * asynchronous. After the syscall returned, the failure comes from a timer or
 * softirq with any task current, and is reported at once under the
 * remembered process with EVENT_F_ASYNC.
 *
 * The syscall's exit and the state change can race on two CPUs. A token per
 * socket (connect_running) says the syscall still runs; both sides delete
 * it, and a map delete succeeds for exactly one of them: the state change
 * that takes it leaves the report to the exit, the exit that takes it leaves
 * it to the state change. (A map delete, not compare-and-swap: the sys_exit
 * program shares this code and must load on kernels before 5.12.)
 *
 * EINPROGRESS, EALREADY and EISCONN are progress, never failures, even with
 * all_errnos.
 */
#ifndef SYSCALLHEALTH_CONNECT_H
#define SYSCALLHEALTH_CONNECT_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "health.h"
#include "health_maps.h"
#include "cgroup.h"
#include "syscall.h"
#include "track.h"

/* What the sys_exit program does with a failed connect after connect_exit. */
enum connect_exit_verdict {
	/* Report the error the syscall returned, the ordinary way. */
	CONNECT_EXIT_REPORT,
	/* The same, unless the socket's failure was already reported asynchronously. */
	CONNECT_EXIT_UNLESS_REPORTED,
	/* Nothing (more) to report. */
	CONNECT_EXIT_DONE,
};

/* The local end of a connect that failed during its syscall: by its exit the socket is disconnected. */
struct connect_local {
	__u8 addr[16];
	__u16 port;
	__u8 family;
};

/* The socket's addresses; after a failure the source port is still in inet_sport (skc_num is cleared). */
static __always_inline void read_connection(struct sock *sk, struct connect_attempt *a)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family == AF_INET) {
		bpf_core_read(a->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(a->peer_addr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		/* A v4-mapped peer included: tcp_v4_connect keeps these as ::ffff:a.b.c.d. */
		bpf_core_read(a->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(a->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
	} else {
		return;
	}
	a->family = family;
	a->local_port = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	a->peer_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
}

/* The inode number of sk's socket, 0 once the application closed it. */
static __always_inline __u64 socket_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);

	if (!sock)
		return 0;
	return BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino);
}

/*
 * report_async_connect counts and emits a failed connect that its syscall did
 * not return, under the task that called connect, with the rules, errnos and
 * filters of failures the syscall returns. fd is -1 when no longer known.
 */
static __noinline int report_async_connect(const struct health_config *cfg, struct connect_attempt *a, __u64 sk, __s32 fd)
{
	const struct syscall_rule *rule = &cfg->rules[NR_CONNECT];
	__u32 err = a->err;

	if (!rule->watched || !errno_watched(rule, err))
		return 0;
	/* The scopes were applied when the connect started, in the task's context. */
	if (cfg->pid_filter && cfg->pid_filter != a->tgid)
		return 0;

	__u64 ino = socket_ino((struct sock *)sk);
	if (ino)
		bpf_map_update_elem(&connect_reported, &ino, &a->tgid, BPF_ANY);

	struct tracking_key key = {
		.tgid = a->tgid,
		.syscall_nr = NR_CONNECT,
		.errno_nr = err,
		.process_start_ns = a->process_start_ns,
	};
	struct health_event *e = track_failure(cfg, &key, rule->category, EVENT_F_ASYNC, a);
	if (!e)
		return 0;

	e->tid = a->tid;
	e->ppid = a->ppid;
	e->uid = a->uid;
	e->gid = a->gid;
	e->cgroup_id = a->cgroup_id;
	e->fd = fd;
	e->protocol = IPPROTO_TCP; /* connect_started follows TCP sockets only */
	__builtin_memcpy(e->comm, a->comm, sizeof(e->comm));
	if ((cfg->flags & CONFIG_F_INCLUDE_PATHS) && a->family) {
		e->family = a->family;
		e->local_port = a->local_port;
		e->peer_port = a->peer_port;
		__builtin_memcpy(e->local_addr, a->local_addr, sizeof(e->local_addr));
		__builtin_memcpy(e->peer_addr, a->peer_addr, sizeof(e->peer_addr));
	}
	submit_event(cfg, e);
	return 0;
}

/* CLOSE -> SYN_SENT, in the process context of connect (or io_uring, or a TCP Fast Open sendmsg). */
static __always_inline int connect_started(struct sock *sk)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	const struct health_config *cfg = active_config();
	if (!cfg || !cfg->rules[NR_CONNECT].watched)
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (filtered_out(cfg, pid_tgid >> 32, NULL))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (is_compat_syscall(regs, task))
		return 0;

	__u64 key = (__u64)sk;
	__u64 uid_gid = bpf_get_current_uid_gid();
	struct connect_attempt a = {
		.cgroup_id = cgroup_id_of(task_cgroup(task)),
		.process_start_ns = process_start_ns(task),
		.tgid = pid_tgid >> 32,
		.tid = (__u32)pid_tgid,
		.ppid = BPF_CORE_READ(task, real_parent, tgid),
		.uid = (__u32)uid_gid,
		.gid = uid_gid >> 32,
	};
	bpf_get_current_comm(a.comm, sizeof(a.comm));
	if (bpf_map_update_elem(&connect_attempts, &key, &a, BPF_ANY)) {
		count_stat(STAT_UNTRACKED_CONNECTS);
		return 0;
	}

	/*
	 * The connect syscall reports what it returns, unless the SYN was sent
	 * by something else, or TCP_FASTOPEN_CONNECT lets connect return 0
	 * before the SYN (the syscall's exit would then never look at it).
	 */
	if (syscall_nr(regs) != NR_CONNECT || BPF_CORE_READ_BITFIELD_PROBED((struct tcp_sock *)sk, fastopen_connect))
		return 0;
	if (bpf_map_update_elem(&connect_threads, &a.tid, &key, BPF_ANY))
		return 0;
	if (bpf_map_update_elem(&connect_running, &key, &a.tid, BPF_ANY))
		bpf_map_delete_elem(&connect_threads, &a.tid);
	return 0;
}

/* SYN_SENT -> ESTABLISHED (or SYN_RECV, a simultaneous open): nothing failed. */
static __always_inline int connect_succeeded(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct connect_attempt *a = bpf_map_lookup_elem(&connect_attempts, &key);

	if (!a)
		return 0;
	/* A blocking connect that succeeds returns 0, which the sys_exit program never looks at. */
	if (!bpf_map_delete_elem(&connect_running, &key)) {
		__u32 tid = a->tid;
		__u64 *connecting = bpf_map_lookup_elem(&connect_threads, &tid);

		if (connecting && *connecting == key)
			bpf_map_delete_elem(&connect_threads, &tid);
	}
	bpf_map_delete_elem(&connect_attempts, &key);
	return 0;
}

/* SYN_SENT -> CLOSE: refused (RST), timed out, unreachable (ICMP), or closed by the application. */
static __always_inline int connect_closed(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct connect_attempt *a = bpf_map_lookup_elem(&connect_attempts, &key);

	if (!a)
		return 0;
	int err = BPF_CORE_READ(sk, sk_err);
	if (err <= 0 || err > MAX_ERRNO) {
		/*
		 * No error: the application closed or disconnected the socket, or
		 * connect failed before the SYN left and returns that error itself.
		 */
		bpf_map_delete_elem(&connect_running, &key);
		bpf_map_delete_elem(&connect_attempts, &key);
		return 0;
	}
	a->err = err;
	read_connection(sk, a);
	/*
	 * Took the token: the syscall still runs and reports at its exit, which
	 * reads err and the addresses after failing to take the token itself.
	 */
	if (!bpf_map_delete_elem(&connect_running, &key))
		return 0;

	const struct health_config *cfg = active_config();
	if (cfg)
		report_async_connect(cfg, a, key, -1);
	bpf_map_delete_elem(&connect_attempts, &key);
	return 0;
}

/* handle_connect_start follows CLOSE -> SYN_SENT; other changes return after two compares. */
static __always_inline int handle_connect_start(struct sock *sk, int oldstate, int newstate)
{
	if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT)
		return connect_started(sk);
	return 0;
}

/* handle_connect_end follows SYN_SENT -> anything; other changes return after one compare. */
static __always_inline int handle_connect_end(struct sock *sk, int oldstate, int newstate)
{
	if (oldstate != TCP_SYN_SENT)
		return 0;
	if (newstate == TCP_CLOSE)
		return connect_closed(sk);
	return connect_succeeded(sk);
}

/*
 * connect_exit runs at the exit of every failed connect (errno_nr > 0) before
 * the rules are applied. It hands over the socket the syscall was connecting:
 * from here on, a failure is the TCP state program's to report. A failure
 * that already happened is reported here, as asynchronous, unless the
 * syscall returned it; then its local address is copied to local for the
 * ordinary event.
 */
static __noinline int connect_exit(const struct health_config *cfg, struct pt_regs *regs, __u32 errno_nr,
				   struct connect_local *local)
{
	bool progress = errno_nr == EINPROGRESS || errno_nr == EALREADY || errno_nr == EISCONN;
	int untracked = progress ? CONNECT_EXIT_DONE : CONNECT_EXIT_UNLESS_REPORTED;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *connecting = bpf_map_lookup_elem(&connect_threads, &tid);

	if (!connecting)
		return untracked;
	__u64 key = *connecting;
	bpf_map_delete_elem(&connect_threads, &tid);
	if (!bpf_map_delete_elem(&connect_running, &key))
		/* Took the token: not failed yet, so the outcome is the state program's to report. */
		return progress ? CONNECT_EXIT_DONE : CONNECT_EXIT_REPORT;

	/* The state program took it: the connect failed during this syscall (or ended without error). */
	struct connect_attempt *a = bpf_map_lookup_elem(&connect_attempts, &key);
	if (!a || a->tid != tid || !a->err)
		return untracked;
	if (a->err == errno_nr) {
		/* The syscall returned the failure itself: reported once, the ordinary way. */
		__builtin_memcpy(local->addr, a->local_addr, sizeof(local->addr));
		local->port = a->local_port;
		local->family = a->family;
		bpf_map_delete_elem(&connect_attempts, &key);
		return CONNECT_EXIT_REPORT;
	}
	/* The syscall hid the failure (EINPROGRESS on loopback, or a signal): asynchronous from the caller's view. */
	report_async_connect(cfg, a, key, (__s32)syscall_arg(regs, 0));
	bpf_map_delete_elem(&connect_attempts, &key);
	return progress ? CONNECT_EXIT_DONE : CONNECT_EXIT_REPORT;
}

/* Whether a connect's error only repeats its socket's failure already reported asynchronously. */
static __always_inline bool connect_reported_before(struct pt_regs *regs, __u32 errno_nr)
{
	if (errno_nr == EBADF || errno_nr == ENOTSOCK)
		return false;
	struct file *f = fd_file((int)syscall_arg(regs, 0));
	if (!f)
		return false;
	__u64 ino = BPF_CORE_READ(f, f_inode, i_ino);
	if (!bpf_map_lookup_elem(&connect_reported, &ino))
		return false;
	bpf_map_delete_elem(&connect_reported, &ino);
	return true;
}

#endif /* SYSCALLHEALTH_CONNECT_H */
