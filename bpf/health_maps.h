/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Every map and global variable of the probes, in one place: what the kernel
 * side keeps, how big, and why each map type. The loader (probe_linux.go)
 * sizes the ring buffer and the tracking map at load time; the sizes below
 * are the defaults bpf2go records. Included once per object (by way of the
 * headers that use the maps): one object, one set of maps.
 */
#ifndef SYSCALLHEALTH_HEALTH_MAPS_H
#define SYSCALLHEALTH_HEALTH_MAPS_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include "health.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/*
 * Exact counts and rate-limit state per (tgid, syscall, errno). One shared
 * map with atomic adds: a per-CPU map would cost entries x CPUs x value size.
 *
 * A plain hash, not an LRU one: when it is full a new series is refused and
 * its failures are counted in stats.untracked (track_failure), so every
 * failure is in a series' count or in untracked. An LRU map would evict
 * another series, unread counts and all, without a trace. Room comes back as
 * the receiver deletes the series of exited processes after reporting their
 * final counts. Preallocated (the default): inserting never allocates on the
 * syscall path, and the memory is the same as the LRU map's. A deleted entry
 * is reused at once, which is safe because only series of exited processes
 * are deleted: no program still holds a pointer to them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct tracking_key);
	__type(value, struct tracking_value);
} tracking SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONFIG_SLOTS);
	__type(key, __u32);
	__type(value, struct health_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct probe_stats);
} stats SEC(".maps");

/* The config slot the programs read; userspace writes the other one and then flips this. */
volatile __u32 active_config_slot;

/*
 * Connects in flight by socket (connect.h). A plain hash: every attempt
 * leaves through ESTABLISHED, CLOSE or its syscall's exit, so nothing needs
 * evicting, and a full map is counted (STAT_UNTRACKED_CONNECTS) rather than
 * silently losing the oldest attempts, which are the ones about to time out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct connect_attempt);
} connect_attempts SEC(".maps");

/*
 * The socket that each thread's running connect syscall is connecting, so
 * that its exit finds the attempt (a multipath subflow included, which no
 * descriptor names). Its exit removes the entry, or ESTABLISHED does for a
 * blocking connect that returns 0. A plain hash, cheaper than LRU on every
 * connect: when it is full the attempt is followed as if connect had
 * returned at once.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} connect_threads SEC(".maps");

/* The token per socket: present while the connect syscall that sent its SYN runs (value: the thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} connect_running SEC(".maps");

/*
 * Sockets whose failure was reported asynchronously, by inode number, with
 * the process it was reported for. The next connect() called on such a
 * socket (a polling loop, a restarted syscall) returns the same failure once
 * more (sock_error), which is not a second failure. Keyed by inode number,
 * unique to the socket, because a closed socket's struct sock is soon reused
 * and a reset socket's close() changes no TCP state to forget it by; LRU
 * evicts the sockets closed without such a connect.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2048);
	__type(key, __u64);
	__type(value, __u32);
} connect_reported SEC(".maps");

/* Scratch for building a path right to left; twice PATH_LEN so masked offsets stay in bounds. */
struct path_scratch {
	char buf[2 * PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

/*
 * The hierarchy failing tasks' cgroups are read from (cgroup.h): a v1
 * controller's index in css_set->subsys, or CGROUP_DEFAULT_HIERARCHY. Set at
 * load time and read-only, so the verifier keeps only that controller's branch.
 */
const volatile __u32 cgroup_subsys_index = CGROUP_DEFAULT_HIERARCHY;

/* scope_cgroups: per config slot, the cgroups the scope rules name; each matches its descendants too. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SCOPE_MAX_CGROUPS);
	__type(key, struct scope_key);
	__type(value, __u32);
} scope_cgroups SEC(".maps");

/*
 * A task's scope verdict (scope.h) and the facts it was judged on. The
 * programs that use it run with preemption off on this CPU, so an entry is
 * never read or written half-way by another task.
 */
struct scope_verdict {
	/* The thread: its id and its start (a later thread with the id starts later). */
	__u64 start_ns;
	__u32 tid;
	/* health_config.generation of the configuration that judged it. */
	__u32 generation;
	/* What the verdict depends on, each kept current only while a rule uses it. */
	__u64 exec_id;
	__u64 cgroup_id;
	__u32 uid;
	__u32 verdict;
};

/* Direct-mapped by thread id, per CPU: a hit costs a few loads, a collision a new judgement. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SCOPE_VERDICT_SLOTS);
	__type(key, __u32);
	__type(value, struct scope_verdict);
} scope_verdicts SEC(".maps");

/* Scratch for building the cgroup path right to left; twice its length so masked offsets stay in bounds. */
struct cgroup_path_scratch {
	char buf[2 * CGROUP_PATH_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cgroup_path_scratch);
} cgroup_path_scratch SEC(".maps");

#endif /* SYSCALLHEALTH_HEALTH_MAPS_H */
