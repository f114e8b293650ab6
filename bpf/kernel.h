/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The few kernel types and UAPI constants the probes use, written by hand.
 *
 * Why not a committed vmlinux.h: a bpftool dump of /sys/kernel/btf/vmlinux is
 * ~135k lines, differs between amd64 and arm64 (pt_regs above all) and between
 * kernel versions, and would have to be committed twice and regenerated on a
 * machine of each architecture. The probes touch a dozen fields. With CO-RE
 * (preserve_access_index) the structs below only have to name those fields:
 * their offsets are relocated against the running kernel's BTF at load time,
 * so field order and the omitted members do not matter. UAPI constants are
 * stable ABI and copied by value, which also avoids depending on the host's
 * <asm/types.h> (absent for -target bpf on many distributions).
 */
#ifndef SYSCALLHEALTH_KERNEL_H
#define SYSCALLHEALTH_KERNEL_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* include/uapi/linux/bpf.h */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};
enum {
	BPF_RB_AVAIL_DATA = 0,
};
/* Helpers newer than Linux 5.8, asked for with bpf_core_enum_value_exists (settled at load time). */
enum bpf_func_id {
	BPF_FUNC_get_current_task_btf = 158,
	BPF_FUNC_cgrp_storage_get = 210,
};

/* include/linux/socket.h */
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

struct sockaddr_in_user {
	__u16 sin_family;
	__be16 sin_port;
	__u8 sin_addr[4];
	__u8 __pad[8];
};

struct sockaddr_in6_user {
	__u16 sin6_family;
	__be16 sin6_port;
	__be32 sin6_flowinfo;
	__u8 sin6_addr[16];
	__u32 sin6_scope_id;
};

#define UNIX_PATH_MAX 108

/* include/uapi/asm-generic/errno.h */
#define EBADF 9
#define ENOTSOCK 88
#define EISCONN 106
#define EALREADY 114
#define EINPROGRESS 115

/* include/uapi/linux/in.h */
#define IPPROTO_TCP 6

/* include/net/tcp_states.h */
enum {
	TCP_ESTABLISHED = 1,
	TCP_SYN_SENT = 2,
	TCP_CLOSE = 7,
};

/* include/linux/sched.h: a kernel thread (its sockets are the kernel's, e.g. NFS or iSCSI). */
#define PF_KTHREAD 0x00200000

/*
 * CO-RE views of kernel structs. Only the named fields are read, each through
 * a relocation against the kernel's BTF.
 */
#define __core __attribute__((preserve_access_index))

#if defined(__TARGET_ARCH_x86)
/* arch/x86/include/asm/ptrace.h; ax already holds the return value at sys_exit. */
struct pt_regs {
	unsigned long r10;
	unsigned long r9;
	unsigned long r8;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
} __core;
#define SYSCALL_NR_FIELD orig_ax
/* arch/x86/entry/syscalls/syscall_64.tbl */
#define NR_CONNECT 42

/* TS_COMPAT in thread_info.status marks an ia32 syscall (int 0x80, sysenter). */
struct thread_info {
	__u32 status;
} __core;
#define X86_TS_COMPAT 0x0002
#elif defined(__TARGET_ARCH_arm64)
/*
 * arch/arm64/include/asm/ptrace.h; regs[0] already holds the return value at
 * sys_exit, so the first argument is orig_x0. regs and pstate sit in an
 * anonymous union in the kernel, which CO-RE resolves.
 */
struct pt_regs {
	__u64 regs[31];
	__u64 pstate;
	__u64 orig_x0;
	__s32 syscallno;
} __core;
#define SYSCALL_NR_FIELD syscallno
/* include/uapi/asm-generic/unistd.h */
#define NR_CONNECT 203
/* PSR_MODE32_BIT: the task runs AArch32 code, so the syscall is a compat one. */
#define ARM64_PSR_MODE32_BIT 0x10
struct thread_info {
	unsigned long flags;
} __core;
#else
#error "syscallhealth probes support __TARGET_ARCH_x86 and __TARGET_ARCH_arm64"
#endif

struct qstr {
	__u32 len;
	const unsigned char *name;
} __core;

struct dentry {
	struct dentry *d_parent;
	struct qstr d_name;
} __core;

struct vfsmount {
	struct dentry *mnt_root;
} __core;

/* fs/mount.h: the vfsmount is embedded in struct mount. */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
} __core;

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
} __core;

struct inode {
	unsigned long i_ino;
} __core;

struct file {
	struct path f_path;
	struct inode *f_inode;
	void *private_data;
} __core;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __core;

struct files_struct {
	struct fdtable *fdt;
} __core;

/* Only ever read whole (16 bytes), so its inner union needs no mirror. */
struct in6_addr {
	__u8 bytes[16];
} __core;

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __core;

struct socket;

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	__u16 sk_protocol;
	struct socket *sk_socket;
} __core;

/* inet_sport keeps the source port after a failed connect unhashed the socket (skc_num is cleared). */
struct inet_sock {
	struct sock sk;
	__be16 inet_sport;
} __core;

/* Set by TCP_FASTOPEN_CONNECT: connect() may return 0 before the SYN is even sent. */
struct tcp_sock {
	__u8 fastopen_connect : 1;
} __core;

struct socket {
	struct sock *sk;
} __core;

/* net/socket.c: a socket and its inode are allocated together, the socket first. */
struct socket_alloc {
	struct socket socket;
	struct inode vfs_inode;
} __core;

/* include/linux/ns_common.h, fs/mount.h, include/linux/nsproxy.h: a task's mount namespace inode. */
struct ns_common {
	unsigned int inum;
} __core;

struct mnt_namespace {
	struct ns_common ns;
} __core;

struct nsproxy {
	struct mnt_namespace *mnt_ns;
} __core;

struct mm_struct {
	struct file *exe_file;
} __core;

struct kernfs_node {
	const char *name;
	__u64 id;
} __core;

struct cgroup;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
} __core;

/* A cgroup's id is its kernfs node's id (Linux 5.5 on). */
struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
} __core;

/*
 * subsys has CGROUP_SUBSYS_COUNT entries in the kernel (14 with every
 * controller built in); userspace checks the index against the kernel's BTF.
 */
#define CGROUP_SUBSYS_SLOTS 16
struct css_set {
	struct cgroup_subsys_state *subsys[CGROUP_SUBSYS_SLOTS];
	struct cgroup *dfl_cgrp;
} __core;

/* include/linux/uidgid_types.h: kuid_t. */
struct kuid {
	__u32 val;
} __core;

struct cred {
	struct kuid uid;
} __core;

struct task_struct {
	struct thread_info thread_info;
	unsigned int flags;
	int pid;
	int tgid;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	/* CLOCK_BOOTTIME ns at the task's creation (Linux 5.5 on; real_start_time before). */
	__u64 start_boottime;
	struct files_struct *files;
	struct nsproxy *nsproxy;
	struct mm_struct *mm;
	struct css_set *cgroups;
	/* Raised by every execve of the task (64-bit from Linux 5.7). */
	__u64 self_exec_id;
	/* The subjective credentials, what bpf_get_current_uid_gid reads. */
	const struct cred *cred;
} __core;

/* Linux before 5.5 named start_boottime real_start_time (same clock); CO-RE picks the one the kernel has. */
struct task_struct___pre_5_5 {
	__u64 real_start_time;
} __core;

/*
 * include/trace/events/sock.h: the sock/inet_sock_set_state tracepoint record.
 * Only the leading fields are used; CO-RE relocates them.
 */
struct trace_event_raw_inet_sock_set_state {
	const void *skaddr;
	int oldstate;
	int newstate;
} __core;

/* include/trace/events/syscalls.h: the raw_syscalls/sys_exit tracepoint record. */
struct trace_event_raw_sys_exit {
	__u64 __common;
	long id;
	long ret;
};

#endif /* SYSCALLHEALTH_KERNEL_H */
