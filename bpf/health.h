/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Types shared by the probes and the Go loader (bpf2go generates their Go
 * mirrors with -type; the loader's tests check the sizes). Every struct is laid
 * out without implicit padding so the Go and C views agree on both targets.
 */
#ifndef SYSCALLHEALTH_HEALTH_H
#define SYSCALLHEALTH_HEALTH_H

#include "kernel.h"

/* Syscall numbers index the rule table: amd64 and arm64 both stay below 512. */
#define MAX_SYSCALLS 512
/* Errno bitmaps cover errnos 1..255; larger ones are reported only with all_errnos. */
#define ERRNO_BITMAP_WORDS 4
/* A syscall return value in [-MAX_ERRNO, -1] is an error (include/linux/err.h). */
#define MAX_ERRNO 4095
/* Two config slots: userspace fills the idle one, then flips active_config_slot. */
#define CONFIG_SLOTS 2
#define TASK_COMM_LEN 16
#define PATH_LEN 256
/* The tail of the failing task's cgroup path: its innermost CGROUP_PATH_DEPTH components. */
#define CGROUP_PATH_LEN 256
#define CGROUP_PATH_DEPTH 6
/* Longest cgroup name kept whole in the path (container and pod segments are under 100). */
#define CGROUP_NAME_LEN 128
/* cgroup_subsys_index: the v2 default hierarchy rather than a v1 controller's. */
#define CGROUP_DEFAULT_HIERARCHY 0xffffffff
/* How many ancestors the scope check looks at: deeper cgroups match by their 16 innermost levels. */
#define SCOPE_MAX_DEPTH 16
/* scope_cgroups entries, both config slots together. */
#define SCOPE_MAX_CGROUPS 8192
/* Scope verdicts kept per CPU: tasks failing on one CPU at a time. */
#define SCOPE_VERDICT_SLOT_BITS 6
#define SCOPE_VERDICT_SLOTS (1 << SCOPE_VERDICT_SLOT_BITS)
/* Per include or exclude list: user ids, executable names and their length with the NUL. */
#define SCOPE_MAX_IDS 8
#define SCOPE_MAX_NAMES 8
#define SCOPE_NAME_LEN 32

/* Which syscall argument gives the event its context. */
enum arg_kind {
	ARG_NONE = 0,
	/* A user pointer to a path string, in argument arg_index. */
	ARG_PATH = 1,
	/* A file descriptor of a file in argument 0: its path is resolved from the fd table. */
	ARG_FD_FILE = 2,
	/* A socket descriptor in argument 0: its local address is read from the socket. */
	ARG_FD_SOCKET = 3,
	/* connect(fd, addr, len): the peer address. */
	ARG_SOCKADDR_PEER = 4,
	/* bind(fd, addr, len): the local address. */
	ARG_SOCKADDR_LOCAL = 5,
};

enum config_flags {
	/* Read path and address arguments for emitted events. */
	CONFIG_F_INCLUDE_PATHS = 1,
};

/* health_config.scope_flags: which scope checks run; none set means every process is watched. */
enum scope_flags {
	/* Some include rule is set: a failure matching none is not watched. */
	SCOPE_F_INCLUDE = 1,
	SCOPE_F_UIDS = 2,
	SCOPE_F_EXECUTABLES = 4,
	/* Look up the task's cgroup and its ancestors in scope_cgroups. */
	SCOPE_F_CGROUPS = 8,
	SCOPE_F_HOST_ONLY = 16,
	SCOPE_F_CONTAINERS_ONLY = 32,
};

/* scope_cgroups values: what a cgroup (and so each of its descendants) is. */
enum scope_marks {
	SCOPE_M_INCLUDE = 1,
	SCOPE_M_EXCLUDE = 2,
	/* A container's cgroup (for host-only and containers-only). */
	SCOPE_M_CONTAINER = 4,
};

enum event_flags {
	/*
	 * The failure was learned after the syscall returned (a non-blocking
	 * connect refused later); set by programs other than the sys_exit one.
	 */
	EVENT_F_ASYNC = 1,
};

/* How the watched syscall number nr is handled: config.rules[nr]. */
struct syscall_rule {
	/* Bit e of the bitmap set: errno e is reported. */
	__u64 errnos[ERRNO_BITMAP_WORDS];
	__u8 watched;
	__u8 all_errnos;
	__u8 category;
	__u8 arg_kind;
	__u8 arg_index;
	__u8 _pad[3];
};

/* User ids and executable names of one include or exclude list. */
struct scope_match {
	__u32 uids[SCOPE_MAX_IDS];
	/* NUL-padded file names of executables. */
	char executables[SCOPE_MAX_NAMES][SCOPE_NAME_LEN];
	__u8 n_uids;
	__u8 n_executables;
	__u8 _pad[6];
};

/* A scope_cgroups key: the cgroup's id in the configured hierarchy, per config slot. */
struct scope_key {
	__u64 cgroup_id;
	__u32 slot;
	__u32 _pad;
};

struct health_config {
	/* Token bucket as GCRA: one event per emit_interval_ns, bursts of up to burst events. */
	__u64 emit_interval_ns;
	/* (burst - 1) * emit_interval_ns: how far the bucket's schedule may run ahead of now. */
	__u64 burst_tolerance_ns;
	__u32 scope_flags;
	__u32 _pad0;
	/* Only this process (tgid) when non-zero. */
	__u32 pid_filter;
	__u32 flags;
	/* Unread ring bytes from which only the first failure of a key is still emitted. */
	__u32 storm_threshold;
	/* Unread ring bytes from which every submit wakes the reader. */
	__u32 wakeup_threshold;
	/* The kernel's tick (1/HZ) in ns, the period of bpf_jiffies64. */
	__u64 jiffy_ns;
	/* The slot this configuration is in: its scope_cgroups entries carry it. */
	__u32 slot;
	/* Different for every configuration written: scope verdicts judged by another one are stale (scope.h). */
	__u32 generation;
	struct scope_match scope_include;
	struct scope_match scope_exclude;
	struct syscall_rule rules[MAX_SYSCALLS];
};

/*
 * A series: one process's failures of one syscall with one errno. The process
 * is its tgid and its start time (the thread group leader's, CLOCK_BOOTTIME
 * ns), so a process that gets a reused tgid starts series of its own.
 */
struct tracking_key {
	__u32 tgid;
	__u16 syscall_nr;
	__u16 errno_nr;
	__u64 process_start_ns;
};

struct tracking_value {
	/* Every failure for the key, counted before any rate limiting. */
	__u64 count;
	__u64 first_seen_ns;
	/* The last failure's time; while the rate limit holds the series back, up to 50 ms earlier (track.h). */
	__u64 last_seen_ns;
	/* GCRA theoretical arrival time: when the bucket is full again. */
	__u64 rate_tat_ns;
	/* Failures not emitted since the last event of the key. */
	__u64 suppressed;
	/* Until the jiffy counter reaches this, the bucket is surely empty (track.h rate_limit_held). */
	__u64 held_until_jiffies;
	/*
	 * The process's cgroup (cgroup.h) and executable's file name when the series began, what it
	 * aggregates under; the name is empty when longer than SCOPE_NAME_LEN - 1 or for a kernel thread.
	 */
	__u64 cgroup_id;
	char executable[SCOPE_NAME_LEN];
	__u8 category;
	__u8 _pad[7];
};

/* Per-CPU totals since load. */
struct probe_stats {
	/* Events lost because the ring buffer had no room. */
	__u64 ringbuf_drops;
	/* Events held back by the per-key rate limit. */
	__u64 rate_limited;
	/* Events held back by the global storm guard. */
	__u64 storm_suppressed;
	/* Failures not counted because the tracking map had no room for their key. */
	__u64 untracked;
	/* TCP connects not followed because connect_attempts was full: their later failures go unreported. */
	__u64 untracked_connects;
};

/*
 * A TCP connect in flight (SYN_SENT), keyed by its socket: who started it
 * (the failure may come from a timer or softirq with another task current)
 * and, once it failed while its syscall still ran, how.
 */
struct connect_attempt {
	__u64 cgroup_id;
	/* The process's start time (tracking_key.process_start_ns). */
	__u64 process_start_ns;
	__u32 tgid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	/* The socket's error (positive errno) once it failed, 0 before. */
	__u32 err;
	/* Host byte order. */
	__u16 local_port;
	__u16 peer_port;
	/* AF_INET or AF_INET6 once the addresses were read, 0 before. */
	__u8 family;
	__u8 _pad[3];
	__u8 local_addr[16];
	__u8 peer_addr[16];
	char comm[TASK_COMM_LEN];
};

/* One failed syscall, as sent through the ring buffer (648 bytes). */
struct health_event {
	/* CLOCK_BOOTTIME of the failure. */
	__u64 timestamp_ns;
	/* The failing task's cgroup in the configured hierarchy (cgroup.h). */
	__u64 cgroup_id;
	/* The key's exact count so far, this failure included. */
	__u64 error_count;
	/* The key's failures not emitted since its previous event. */
	__u64 suppressed;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u32 syscall_nr;
	/* Negative errno, as the syscall returned it. */
	__s32 error_code;
	/* The descriptor argument of fd-based syscalls, -1 otherwise. */
	__s32 fd;
	/* Host byte order. */
	__u16 local_port;
	__u16 peer_port;
	__u8 category;
	__u8 flags;
	/* AF_INET, AF_INET6 or AF_UNIX when an address was read, 0 otherwise. */
	__u8 family;
	/* The socket's IP protocol (IPPROTO_TCP, IPPROTO_UDP) for network syscalls, 0 otherwise or unknown. */
	__u8 protocol;
	/* IPv4 in the first 4 bytes, IPv6 in all 16. */
	__u8 local_addr[16];
	__u8 peer_addr[16];
	char comm[TASK_COMM_LEN];
	/* NUL-terminated: the path argument, the fd's path, or a unix socket path. */
	char path[PATH_LEN];
	/*
	 * Inode of the task's mount namespace at the failure, which the path is relative to; 0 for a
	 * failure learned outside the task (an asynchronous connect failure).
	 */
	__u32 mnt_ns;
	__u32 _pad2;
	/* NUL-terminated: the cgroup's path below its hierarchy's root (cgroup.h), "" when not read. */
	char cgroup_path[CGROUP_PATH_LEN];
	/* CLOCK_BOOTTIME ns at which the process (its thread group leader) was created: part of its series' key. */
	__u64 process_start_ns;
};

#endif /* SYSCALLHEALTH_HEALTH_H */
