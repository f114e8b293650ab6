/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Workload scopes: whether the current task's failures are watched, decided
 * before anything is counted, so an excluded failure is in no count, event or
 * statistic.
 *
 * Judging a task takes helper calls (the uid, the executable's name, a hash
 * lookup per cgroup ancestor), and each call costs 10-30 ns on these machines,
 * more than the errno check that rejects most failures. So a
 * task is judged once and its verdict kept in a per-CPU cache, which the
 * syscall exit program reads right after the configuration, before the errno
 * check: an excluded task's failures are rejected there with one helper call
 * (the current task) and plain loads. A verdict holds while the task is the
 * same (thread id and start time), the configuration is the same (generation:
 * every change, cgroups that appeared included, writes a new one) and what it
 * was judged on is unchanged: the exec count for executable rules, the cgroup
 * for cgroup rules, the uid for uid rules. Not caught: an executable swapped
 * without exec (prctl PR_SET_MM_EXE_FILE, which needs CAP_SYS_RESOURCE), until
 * the next configuration change. Measured in the README (Scopes).
 */
#ifndef SYSCALLHEALTH_SCOPE_H
#define SYSCALLHEALTH_SCOPE_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "health.h"
#include "health_maps.h"
#include "syscall.h"
#include "cgroup.h"

/* scope_verdict.verdict */
enum scope_verdict_value {
	/* Facts current, not judged yet (the failures seen so far were rejected before the scopes). */
	SCOPE_V_UNKNOWN = 0,
	SCOPE_V_IN = 1,
	SCOPE_V_OUT = 2,
};

/* The marks of cgrp and its ancestors in the scope map of slot, ORed; btf: cgrp came from task_cgroup_btf. */
static __always_inline __u32 cgroup_scope_marks(struct cgroup *cgrp, __u32 slot, bool btf)
{
	struct scope_key key = { .slot = slot };
	__u32 marks = 0;

	for (int i = 0; i < SCOPE_MAX_DEPTH && cgrp; i++) {
		key.cgroup_id = btf ? cgrp->kn->id : cgroup_id_of(cgrp);
		__u32 *m = bpf_map_lookup_elem(&scope_cgroups, &key);
		if (m)
			marks |= *m;
		if (btf) {
			struct cgroup_subsys_state *parent = cgrp->self.parent;

			cgrp = parent ? parent->cgroup : NULL;
		} else {
			cgrp = cgroup_parent(cgrp);
		}
	}
	return marks;
}

static __always_inline bool uid_listed(const struct scope_match *m, __u32 uid)
{
	for (int i = 0; i < SCOPE_MAX_IDS; i++) {
		if (i >= m->n_uids)
			break;
		if (m->uids[i] == uid)
			return true;
	}
	return false;
}

/*
 * The executable's file name, at most SCOPE_NAME_LEN - 1 bytes and NUL-padded
 * (empty when longer); false for kernel threads. btf: task is a BTF pointer.
 */
static __always_inline bool read_executable(struct task_struct *task, char name[SCOPE_NAME_LEN], bool btf)
{
	struct file *exe;
	struct qstr q;

	if (btf) {
		struct mm_struct *mm = task->mm;

		exe = mm ? mm->exe_file : NULL;
		if (!exe)
			return false;
		q.len = exe->f_path.dentry->d_name.len;
		q.name = exe->f_path.dentry->d_name.name;
	} else {
		exe = BPF_CORE_READ(task, mm, exe_file);
		if (!exe)
			return false;
		q = BPF_CORE_READ(exe, f_path.dentry, d_name);
	}
	if (q.len >= SCOPE_NAME_LEN)
		return true; /* longer than any configured name: matches none */
	bpf_probe_read_kernel(name, q.len & (SCOPE_NAME_LEN - 1), q.name);
	return true;
}

static __always_inline bool executable_listed(const struct scope_match *m, const char name[SCOPE_NAME_LEN])
{
	const __u64 *n = (const __u64 *)name;

	for (int i = 0; i < SCOPE_MAX_NAMES; i++) {
		if (i >= m->n_executables)
			break;
		const __u64 *want = (const __u64 *)m->executables[i];
		if (n[0] == want[0] && n[1] == want[1] && n[2] == want[2] && n[3] == want[3])
			return true;
	}
	return false;
}

/*
 * scope_judge says whether the current task is outside cfg's scopes: excluded
 * by any exclude rule, or matching no include rule while some are set, or on
 * the wrong side of host/containers. A function of its own: its locals get a
 * stack frame of their own instead of growing the program's, which with
 * connect_exit's chain stays within the 512 bytes kernels before 6.13 (no
 * private stacks) allow (make test-kernels).
 */
static __noinline bool scope_judge(const struct health_config *cfg)
{
	__u32 flags = cfg->scope_flags;

	struct task_struct *btf = current_task_rcu_btf();
	struct task_struct *task = btf ? btf : (struct task_struct *)bpf_get_current_task();
	bool included = !(flags & SCOPE_F_INCLUDE);

	if (flags & SCOPE_F_UIDS) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();

		if (uid_listed(&cfg->scope_exclude, uid))
			return true;
		if (uid_listed(&cfg->scope_include, uid))
			included = true;
	}
	if (flags & SCOPE_F_EXECUTABLES) {
		char name[SCOPE_NAME_LEN] = {};

		if (read_executable(task, name, btf)) {
			if (executable_listed(&cfg->scope_exclude, name))
				return true;
			if (executable_listed(&cfg->scope_include, name))
				included = true;
		}
	}
	if (flags & SCOPE_F_CGROUPS) {
		__u32 marks = cgroup_scope_marks(current_cgroup(btf), cfg->slot, btf);

		if (marks & SCOPE_M_EXCLUDE)
			return true;
		if (marks & SCOPE_M_INCLUDE)
			included = true;
		if ((flags & SCOPE_F_HOST_ONLY) && (marks & SCOPE_M_CONTAINER))
			return true;
		if ((flags & SCOPE_F_CONTAINERS_ONLY) && !(marks & SCOPE_M_CONTAINER))
			return true;
	}
	return !included;
}

/*
 * The current task's cgroup id, read with probes (before 6.2): a function of
 * its own, so that its temporaries stay off the syscall exit program's stack.
 */
static __noinline __u64 current_cgroup_id_probed(void)
{
	struct cgroup *cgrp = task_cgroup((struct task_struct *)bpf_get_current_task());

	return cgrp ? cgroup_id_of(cgrp) : 0;
}

/*
 * scope_verdict_of returns the current task's cache entry for cfg, its facts
 * read now: a verdict other than SCOPE_V_UNKNOWN was judged on these same
 * facts by this configuration. Facts that changed are written into the entry,
 * and its verdict dropped, one at a time (holding them all at once spilled
 * them onto the stack, past the 512 bytes kernels before 6.13 allow). NULL
 * without scopes (or when the map fails).
 */
static __always_inline struct scope_verdict *scope_verdict_of(const struct health_config *cfg)
{
	__u32 flags = cfg->scope_flags;

	if (!flags)
		return NULL;

	/*
	 * One helper call: the task's own fields are plain loads (5.11+), its
	 * __rcu ones from 6.2 (probes before). Linux 5.10 has no BTF task: no
	 * cache there, every watched failure is judged.
	 */
	struct task_struct *btf = current_task_btf();
	if (!btf)
		return NULL;
	struct task_struct *rcu = rcu_fields_loadable() ? btf : NULL;
	__u32 tid = btf->pid;
	/* Fibonacci hashing: busy threads' ids are often consecutive. */
	__u32 index = (tid * 0x9E3779B9U) >> (32 - SCOPE_VERDICT_SLOT_BITS);
	struct scope_verdict *v = bpf_map_lookup_elem(&scope_verdicts, &index);

	if (!v)
		return NULL;

	bool stale = false;
	__u64 start_ns = btf->start_boottime;

	if (v->tid != tid || v->start_ns != start_ns) {
		v->tid = tid;
		v->start_ns = start_ns;
		stale = true;
	}
	if (v->generation != cfg->generation) {
		v->generation = cfg->generation;
		stale = true;
	}
	if (flags & SCOPE_F_EXECUTABLES) {
		__u64 exec_id = btf->self_exec_id;

		if (v->exec_id != exec_id) {
			v->exec_id = exec_id;
			stale = true;
		}
	}
	if (flags & SCOPE_F_CGROUPS) {
		__u64 cgroup_id = 0;

		if (rcu) {
			struct cgroup *cgrp = task_cgroup_btf(rcu);

			if (cgrp)
				cgroup_id = cgrp->kn->id;
		} else {
			cgroup_id = current_cgroup_id_probed();
		}
		if (v->cgroup_id != cgroup_id) {
			v->cgroup_id = cgroup_id;
			stale = true;
		}
	}
	if (flags & SCOPE_F_UIDS) {
		__u32 uid = rcu ? rcu->cred->uid.val : (__u32)bpf_get_current_uid_gid();

		if (v->uid != uid) {
			v->uid = uid;
			stale = true;
		}
	}
	if (stale)
		v->verdict = SCOPE_V_UNKNOWN;
	return v;
}

/*
 * scope_excludes says whether the current task is outside cfg's scopes, from
 * its cached verdict (v, from scope_verdict_of) or else judged now and kept in v.
 */
static __always_inline bool scope_excludes(const struct health_config *cfg, struct scope_verdict *v)
{
	if (!cfg->scope_flags)
		return false;
	if (v && v->verdict != SCOPE_V_UNKNOWN)
		return v->verdict == SCOPE_V_OUT;

	bool out = scope_judge(cfg);

	if (v)
		v->verdict = out ? SCOPE_V_OUT : SCOPE_V_IN;
	return out;
}

#endif /* SYSCALLHEALTH_SCOPE_H */
