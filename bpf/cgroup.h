/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The cgroup a failure happened in, read from the task at the moment of the
 * failure (scope.h judges the workload scopes on it).
 *
 * Which hierarchy: cgroup_subsys_index (health_maps.h) names it. On a v2 host the default
 * hierarchy (css_set->dfl_cgrp, what bpf_get_current_cgroup_id reads); on a
 * v1 or hybrid host a controller's hierarchy (css_set->subsys[ssid]->cgroup),
 * because there the v2 mount may hold no process at all. Container runtimes
 * and the kubelet create their cgroups in every controller they use, so the
 * pids (or memory, cpu) hierarchy has the container's cgroup.
 *
 * The event carries the cgroup's id and the tail of its path (the innermost
 * components): the container id and the pod uid are segments of it, and a
 * process that exits microseconds later keeps them, since /proc is not asked.
 */
#ifndef SYSCALLHEALTH_CGROUP_H
#define SYSCALLHEALTH_CGROUP_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "health.h"
#include "health_maps.h"
#include "syscall.h"

/* The task's cgroup in the configured hierarchy, read with probes; NULL when it cannot be read. */
static __always_inline struct cgroup *task_cgroup(struct task_struct *task)
{
	struct css_set *cset = BPF_CORE_READ(task, cgroups);
	__u32 ssid = cgroup_subsys_index;

	if (!cset)
		return NULL;
	if (ssid == CGROUP_DEFAULT_HIERARCHY)
		return BPF_CORE_READ(cset, dfl_cgrp);

	struct cgroup_subsys_state *css = NULL;

	bpf_core_read(&css, sizeof(css), &cset->subsys[ssid & (CGROUP_SUBSYS_SLOTS - 1)]);
	if (!css)
		return NULL;
	return BPF_CORE_READ(css, cgroup);
}

static __always_inline __u64 cgroup_id_of(struct cgroup *cgrp)
{
	return BPF_CORE_READ(cgrp, kn, id);
}

/* The parent cgroup, NULL for the hierarchy's root. */
static __always_inline struct cgroup *cgroup_parent(struct cgroup *cgrp)
{
	struct cgroup_subsys_state *parent = BPF_CORE_READ(cgrp, self.parent);

	return parent ? BPF_CORE_READ(parent, cgroup) : NULL;
}

/*
 * task_cgroup_btf is task_cgroup for a BTF task pointer (current_task_rcu_btf):
 * plain loads, a few ns each rather than ~30 for a probe read. The index must
 * be a constant for the verifier, hence one case per controller slot; only
 * the configured one is kept (indices past the kernel's controllers do not
 * relocate, and are never reached).
 */
#define SUBSYS_CGROUP(i) \
	case i: \
		return cset->subsys[i] ? cset->subsys[i]->cgroup : NULL
static __always_inline struct cgroup *task_cgroup_btf(struct task_struct *task)
{
	struct css_set *cset = task->cgroups;

	if (!cset)
		return NULL;
	switch (cgroup_subsys_index) {
	SUBSYS_CGROUP(0); SUBSYS_CGROUP(1); SUBSYS_CGROUP(2); SUBSYS_CGROUP(3);
	SUBSYS_CGROUP(4); SUBSYS_CGROUP(5); SUBSYS_CGROUP(6); SUBSYS_CGROUP(7);
	SUBSYS_CGROUP(8); SUBSYS_CGROUP(9); SUBSYS_CGROUP(10); SUBSYS_CGROUP(11);
	SUBSYS_CGROUP(12); SUBSYS_CGROUP(13); SUBSYS_CGROUP(14); SUBSYS_CGROUP(15);
	default:
		return cset->dfl_cgrp;
	}
}
#undef SUBSYS_CGROUP

/* The current task's cgroup: plain loads where the kernel allows them (task: current_task_rcu_btf()). */
static __always_inline struct cgroup *current_cgroup(struct task_struct *task)
{
	if (task)
		return task_cgroup_btf(task);
	return task_cgroup((struct task_struct *)bpf_get_current_task());
}

/*
 * fill_cgroup writes the cgroup's id and its path below the hierarchy's root,
 * "/" for the root itself, keeping the CGROUP_PATH_DEPTH innermost components
 * ("..." stands for the rest): a container's id and its pod's uid are there.
 */
static __always_inline void fill_cgroup(struct health_event *e, struct cgroup *cgrp)
{
	__u32 zero = 0;
	struct cgroup_path_scratch *s = bpf_map_lookup_elem(&cgroup_path_scratch, &zero);
	__u32 off = CGROUP_PATH_LEN - 1;

	if (!cgrp || !s)
		return;
	e->cgroup_id = cgroup_id_of(cgrp);
	s->buf[off] = 0;
	for (int i = 0; i < CGROUP_PATH_DEPTH; i++) {
		struct cgroup *parent = cgroup_parent(cgrp);

		if (!parent)
			break;
		const char *name = BPF_CORE_READ(cgrp, kn, name);
		char part[CGROUP_NAME_LEN];
		long len = bpf_probe_read_kernel_str(part, sizeof(part), name);

		/* A name longer than CGROUP_NAME_LEN - 1 is cut; container ids and pod segments are shorter. */
		if (len <= 1 || len > off)
			break;
		len--;
		off -= len;
		off &= CGROUP_PATH_LEN - 1;
		bpf_probe_read_kernel(&s->buf[off], len & (CGROUP_NAME_LEN - 1), part);
		off--;
		off &= CGROUP_PATH_LEN - 1;
		s->buf[off] = '/';
		cgrp = parent;
	}
	if (off == CGROUP_PATH_LEN - 1) {
		off--;
		s->buf[off] = '/';
	} else if (cgroup_parent(cgrp) && off >= 3) {
		off -= 3;
		off &= CGROUP_PATH_LEN - 1;
		s->buf[off] = '.';
		s->buf[off + 1] = '.';
		s->buf[off + 2] = '.';
	}
	off &= CGROUP_PATH_LEN - 1;
	__u32 size = CGROUP_PATH_LEN - off;
	if (size > CGROUP_PATH_LEN)
		return;
	bpf_probe_read_kernel(e->cgroup_path, size, &s->buf[off]);
}

#endif /* SYSCALLHEALTH_CGROUP_H */
