/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The counting, rate-limiting and emitting path shared by every program that
 * reports failures: track_failure() takes a key (no syscall
 * context), so a program seeing failures elsewhere (e.g. a non-blocking
 * connect refused later, from the TCP state tracepoint) reports through the
 * same tracking map, rate limits and event shape, with EVENT_F_ASYNC set.
 */
#ifndef SYSCALLHEALTH_TRACK_H
#define SYSCALLHEALTH_TRACK_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "health.h"
#include "health_maps.h"
#include "cgroup.h"
#include "scope.h"

enum stat_field {
	STAT_RINGBUF_DROPS,
	STAT_RATE_LIMITED,
	STAT_STORM_SUPPRESSED,
	STAT_UNTRACKED,
	STAT_UNTRACKED_CONNECTS,
};

static __always_inline void count_stat(enum stat_field field)
{
	__u32 zero = 0;
	struct probe_stats *s = bpf_map_lookup_elem(&stats, &zero);

	if (!s)
		return;
	/* Atomic: a preempted program on the same CPU may be adding too. */
	switch (field) {
	case STAT_RINGBUF_DROPS:
		__sync_fetch_and_add(&s->ringbuf_drops, 1);
		break;
	case STAT_RATE_LIMITED:
		__sync_fetch_and_add(&s->rate_limited, 1);
		break;
	case STAT_STORM_SUPPRESSED:
		__sync_fetch_and_add(&s->storm_suppressed, 1);
		break;
	case STAT_UNTRACKED:
		__sync_fetch_and_add(&s->untracked, 1);
		break;
	case STAT_UNTRACKED_CONNECTS:
		__sync_fetch_and_add(&s->untracked_connects, 1);
		break;
	}
}

static __always_inline const struct health_config *active_config(void)
{
	__u32 slot = active_config_slot & (CONFIG_SLOTS - 1);

	return bpf_map_lookup_elem(&config, &slot);
}

/* The pid filter and the workload scopes (scope.h: v is the task's verdict entry, or NULL), for the current task. */
static __always_inline bool filtered_out(const struct health_config *cfg, __u32 tgid, struct scope_verdict *v)
{
	if (cfg->pid_filter && cfg->pid_filter != tgid)
		return true;
	return scope_excludes(cfg, v);
}

/* Whether rule reports errno_nr: its bitmap covers 1-255, all_errnos the rest. */
static __always_inline bool errno_watched(const struct syscall_rule *rule, __u32 errno_nr)
{
	if (rule->all_errnos)
		return true;
	if (errno_nr >= 64 * ERRNO_BITMAP_WORDS)
		return false;
	/*
	 * Bound the index in the register that indexes: clang may reload errno_nr
	 * from the stack after the check, and verifiers before 6.2 (Linux 6.1,
	 * found by make test-kernels) do not carry the check's bound to the reload.
	 */
	__u32 word = errno_nr / 64;
	barrier_var(word);
	word &= ERRNO_BITMAP_WORDS - 1;
	return rule->errnos[word] & (1ULL << (errno_nr % 64));
}

/* A failure not emitted: the key's next event reports it, the stat says why. */
static __always_inline void hold_back(struct tracking_value *v, enum stat_field why)
{
	__sync_fetch_and_add(&v->suppressed, 1);
	count_stat(why);
}

/*
 * rate_limit_held is the token bucket's answer without reading the clock
 * (bpf_ktime_get_boot_ns is a third of the watched path's cost, measured):
 * while the jiffy counter is below held_until_jiffies the bucket is surely
 * empty, so the failure is held back. last_seen_ns keeps the last clock
 * reading, never ahead of the failure and at most HOLD_MAX_NS behind it.
 */
static __always_inline bool rate_limit_held(struct tracking_value *v, __u64 jiffies)
{
	return jiffies < v->held_until_jiffies;
}

/* The longest wait hold_until lets pass without a clock reading (bounds how stale last_seen_ns gets). */
#define HOLD_MAX_NS 50000000ULL

/*
 * hold_until lets rate_limit_held answer alone for most of the wait_ns that
 * the bucket stays empty after the clock reading at jiffies. The jiffy
 * counter can lag the clock (a tick handled late, a virtual CPU descheduled)
 * or drift from it, so it stops a quarter of the wait (at most HOLD_MAX_NS)
 * and a jiffy short: a lag within that margin never holds back a failure the
 * bucket would admit, a longer one delays the series' next event by the
 * excess (its failures are counted all the same). The last part of the wait
 * reads the clock on every failure.
 */
static __always_inline void hold_until(const struct health_config *cfg, struct tracking_value *v, __u64 jiffies,
				       __u64 wait_ns)
{
	__u64 held = 0;
	__u64 ticks = 0;

	if (wait_ns > HOLD_MAX_NS)
		wait_ns = HOLD_MAX_NS;
	if (cfg->jiffy_ns)
		ticks = (wait_ns - wait_ns / 4) / cfg->jiffy_ns;
	if (ticks > 1)
		held = jiffies + ticks - 1;
	v->held_until_jiffies = held;
}

/*
 * begin_series adds key's series for a failure of the current task, recording
 * who failed. Not inlined: its value (112 bytes) would count on the sys_exit
 * program's stack, which with the calls below it must stay within the 512
 * bytes kernels before 6.13 allow (make test-kernels).
 */
static __noinline void begin_series(const struct tracking_key *key, __u8 category, __u64 now)
{
	struct tracking_value fresh = {
		.first_seen_ns = now,
		.category = category,
	};
	struct task_struct *btf = current_task_rcu_btf();
	struct cgroup *cgrp = current_cgroup(btf);

	fresh.cgroup_id = btf ? (cgrp ? cgrp->kn->id : 0) : cgroup_id_of(cgrp);
	read_executable(btf ? btf : (struct task_struct *)bpf_get_current_task(), fresh.executable, btf);
	/*
	 * BPF_NOEXIST: if another CPU created the key meanwhile, its entry
	 * (and count) stays. The update fails with E2BIG when the map is
	 * full: the failure is then counted as untracked, never dropped.
	 */
	bpf_map_update_elem(&tracking, key, &fresh, BPF_NOEXIST);
}

/*
 * track_failure counts one failure of key exactly, then applies the per-key
 * token bucket and the global storm guard. It returns a reserved event with
 * the key's fields filled and every context field cleared, or NULL when the
 * failure is not to be emitted (it is then remembered as suppressed, or lost
 * to a full ring and counted as a drop). The caller fills the context and
 * calls submit_event. A new series records who failed: the current task, or
 * for a failure learned in another context (EVENT_F_ASYNC) the connect
 * attempt's task.
 */
static __always_inline struct health_event *
track_failure(const struct health_config *cfg, const struct tracking_key *key, __u8 category, __u8 flags,
	      const struct connect_attempt *attempt)
{
	__u64 jiffies = bpf_jiffies64();
	__u64 now = 0;
	struct tracking_value *v = bpf_map_lookup_elem(&tracking, key);

	if (!v) {
		now = bpf_ktime_get_boot_ns();
		if (flags & EVENT_F_ASYNC) {
			/* Inlined: begin_series below report_async_connect would be a fourth frame. */
			struct tracking_value fresh = {
				.first_seen_ns = now,
				.category = category,
				.cgroup_id = attempt->cgroup_id,
			};

			bpf_map_update_elem(&tracking, key, &fresh, BPF_NOEXIST);
		} else {
			begin_series(key, category, now);
		}
		v = bpf_map_lookup_elem(&tracking, key);
		if (!v) {
			count_stat(STAT_UNTRACKED);
			return NULL;
		}
	}
	__sync_fetch_and_add(&v->count, 1);
	if (rate_limit_held(v, jiffies)) {
		hold_back(v, STAT_RATE_LIMITED);
		return NULL;
	}
	if (!now)
		now = bpf_ktime_get_boot_ns();
	v->last_seen_ns = now;
	__u64 count = *(volatile __u64 *)&v->count;

	/*
	 * Token bucket as GCRA: the schedule rate_tat_ns advances by one interval
	 * per emitted event and may run at most burst_tolerance_ns ahead of now,
	 * so a full bucket allows burst events at once and then one per interval.
	 * Threads of one process failing at the same instant may race on it (no
	 * spin locks in tracing programs): at worst one event more or fewer. The
	 * count above is atomic and stays exact.
	 */
	__u64 tat = v->rate_tat_ns;
	if (tat < now)
		tat = now;
	bool admit = tat - now <= cfg->burst_tolerance_ns;
	if (admit) {
		tat += cfg->emit_interval_ns;
		v->rate_tat_ns = tat;
	}
	if (tat - now > cfg->burst_tolerance_ns)
		hold_until(cfg, v, jiffies, tat - now - cfg->burst_tolerance_ns);
	if (!admit) {
		hold_back(v, STAT_RATE_LIMITED);
		return NULL;
	}

	/*
	 * Storm guard: while the reader is behind by storm_threshold bytes, only a
	 * key's first failure still gets an event, so one runaway process (or a
	 * fork storm of them) cannot crowd out news of other failures.
	 */
	if (count > 1 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg->storm_threshold) {
		hold_back(v, STAT_STORM_SUPPRESSED);
		return NULL;
	}

	struct health_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		hold_back(v, STAT_RINGBUF_DROPS);
		return NULL;
	}

	/* Take what is pending; concurrent additions stay for the next event. */
	__u64 pending = *(volatile __u64 *)&v->suppressed;
	if (pending)
		__sync_fetch_and_sub(&v->suppressed, pending);

	e->timestamp_ns = now;
	e->cgroup_id = 0;
	e->mnt_ns = 0;
	e->_pad2 = 0;
	e->error_count = count;
	e->suppressed = pending;
	e->pid = key->tgid;
	e->tid = 0;
	e->ppid = 0;
	e->uid = 0;
	e->gid = 0;
	e->syscall_nr = key->syscall_nr;
	e->error_code = -(__s32)key->errno_nr;
	e->fd = -1;
	e->local_port = 0;
	e->peer_port = 0;
	e->category = category;
	e->flags = flags;
	e->family = 0;
	e->protocol = 0;
	__builtin_memset(e->local_addr, 0, sizeof(e->local_addr));
	__builtin_memset(e->peer_addr, 0, sizeof(e->peer_addr));
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	e->path[0] = 0;
	e->cgroup_path[0] = 0;
	e->process_start_ns = key->process_start_ns;
	return e;
}

/*
 * submit_event commits without waking the reader unless a quarter of the ring
 * is unread: the reader also polls, and a wakeup per event costs about twice
 * the event itself. Level-triggered, so a missed crossing cannot strand data.
 */
static __always_inline void submit_event(const struct health_config *cfg, struct health_event *e)
{
	__u64 wakeup = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg->wakeup_threshold)
		wakeup = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, wakeup);
}

/*
 * process_start_ns is when the current task's process began (its thread group
 * leader's start, CLOCK_BOOTTIME ns, what /proc/<pid>/stat shows in clock
 * ticks): with the tgid it names one process, whatever reuses the tgid later.
 * task is a BTF task pointer, read directly: a watched failure's program run
 * time grew by about 2 ns so (BenchmarkHookOverhead prog-ns/run), by 60 with
 * two probe reads, which kernels that give none (NULL: current_task_btf()
 * before 5.11) take; the field may be real_start_time there (before 5.5).
 */
static __always_inline __u64 process_start_ns(struct task_struct *task)
{
	if (task)
		return task->group_leader->start_boottime;
	struct task_struct *leader = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), group_leader);

	if (bpf_core_field_exists(leader->start_boottime))
		return BPF_CORE_READ(leader, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre_5_5 *)leader, real_start_time);
}

/* The current task's identity; the thread id comes from the caller's pid_tgid. */
static __always_inline void fill_task(struct health_event *e, __u64 pid_tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 uid_gid = bpf_get_current_uid_gid();

	e->tid = (__u32)pid_tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)uid_gid;
	e->gid = uid_gid >> 32;
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
}

#endif /* SYSCALLHEALTH_TRACK_H */
