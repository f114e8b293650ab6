/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The current task's syscall context: its saved registers (number,
 * arguments, ABI) and its file descriptors. Shared by the sys_exit program and
 * the TCP state program, which asks whether the SYN it sees was sent by a
 * connect syscall.
 */
#ifndef SYSCALLHEALTH_SYSCALL_H
#define SYSCALLHEALTH_SYSCALL_H

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * The current task as a BTF pointer, whose own fields (pid, tgid,
 * thread_info) are plain loads (Linux 5.11+), or NULL on older kernels, where
 * they are read with probes (about 30 ns each on the failure path, measured).
 * Settled at load time: the verifier drops the branch this kernel cannot take.
 */
static __always_inline struct task_struct *current_task_btf(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		return bpf_get_current_task_btf();
	return NULL;
}

/*
 * current_task_rcu_btf is current_task_btf for walks through __rcu fields
 * (task->cgroups, mm->exe_file): before Linux 6.2 such a load is a scalar to
 * the verifier (bpf_cgrp_storage_get came with 6.2 and marks it), so NULL there.
 */
static __always_inline bool rcu_fields_loadable(void)
{
	return bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_cgrp_storage_get);
}

static __always_inline struct task_struct *current_task_rcu_btf(void)
{
	if (rcu_fields_loadable())
		return bpf_get_current_task_btf();
	return NULL;
}

/* task: current_task_btf(). */
static __always_inline bool is_compat_syscall(struct pt_regs *regs, struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	if (task)
		return task->thread_info.status & X86_TS_COMPAT;
	task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, thread_info.status) & X86_TS_COMPAT;
#else
	return BPF_CORE_READ(regs, pstate) & ARM64_PSR_MODE32_BIT;
#endif
}

/* The number of the syscall the task is in (or last made, in user space). */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, SYSCALL_NR_FIELD);
}

/* The syscall argument idx (0-based) as saved at syscall entry. */
static __always_inline unsigned long syscall_arg(struct pt_regs *regs, __u8 idx)
{
	unsigned long v = 0;

#if defined(__TARGET_ARCH_x86)
	switch (idx) {
	case 0:
		v = BPF_CORE_READ(regs, di);
		break;
	case 1:
		v = BPF_CORE_READ(regs, si);
		break;
	case 2:
		v = BPF_CORE_READ(regs, dx);
		break;
	case 3:
		v = BPF_CORE_READ(regs, r10);
		break;
	case 4:
		v = BPF_CORE_READ(regs, r8);
		break;
	default:
		v = BPF_CORE_READ(regs, r9);
		break;
	}
#else
	if (idx == 0)
		v = BPF_CORE_READ(regs, orig_x0);
	else if (idx < 6)
		bpf_core_read(&v, sizeof(v), &regs->regs[idx]);
#endif
	return v;
}

static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* The socket behind descriptor fd; the caller knows fd is a socket (the syscall did not fail with EBADF or ENOTSOCK). */
static __always_inline struct sock *fd_sock(int fd)
{
	struct file *f = fd_file(fd);

	if (!f)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(sock, sk);
}

/*
 * The IP protocol of socket descriptor fd (IPPROTO_TCP, IPPROTO_UDP...), for the event's transport; 0 when
 * unknown or beyond a byte (IPPROTO_MPTCP). The caller knows fd is a socket, as for fd_sock.
 */
static __always_inline __u8 fd_socket_protocol(int fd)
{
	struct sock *sk = fd_sock(fd);

	if (!sk)
		return 0;
	__u16 protocol = BPF_CORE_READ(sk, sk_protocol);
	return protocol <= 0xff ? protocol : 0;
}

#endif /* SYSCALLHEALTH_SYSCALL_H */
