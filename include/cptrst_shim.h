/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cptrst: the narrow C ABI between the Rust crate and the kernel internals
 * that 6.12's `kernel` crate does not cover (misc device, ...).
 *
 * Rust declares the same functions in src/shim.rs; keep both in step.
 * Every function here is callable from process context only.
 */
#ifndef _CPTRST_SHIM_H
#define _CPTRST_SHIM_H

#include <linux/errno.h>
#include <linux/types.h>

#include "cptrst_abi.h"

struct file;

/*
 * For the C files only (not part of the Rust ABI): a read or write that a
 * signal interrupted gives -EINTR to its caller, whichever restart code
 * the file system chose; any other result is returned as it is.
 */
static inline ssize_t cptrst_io_intr(ssize_t n)
{
	if (n == -ERESTARTSYS || n == -ERESTARTNOINTR || n == -ERESTARTNOHAND ||
	    n == -ERESTART_RESTARTBLOCK)
		return -EINTR;
	return n;
}

/* Implemented in C (src/cptrst_shim.c), called from Rust. */
int cptrst_misc_register(void);
void cptrst_misc_deregister(void);
int cptrst_file_is_dev(struct file *f);

/* Implemented in Rust (src/device.rs), called from the C file operations. */
long cptrst_rs_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

/* ---------------------------------------------------------------------
 * Dump side (checkpoint). Rust mirrors these structs in src/shim.rs; their
 * sizes are asserted on both sides.
 */
#define CPTRST_MAX_LEVELS	32	/* MAX_PID_NS_LEVEL */

struct task_struct;
struct mm_struct;
struct pid_namespace;
struct page;

/* cptrst_task_info.flags */
#define CPTRST_TI_LEADER	(1u << 0)	/* thread group leader */
#define CPTRST_TI_KTHREAD	(1u << 1)
#define CPTRST_TI_HAS_MM	(1u << 2)

/* What the dump needs of one task, ids as seen from the tree's namespace. */
struct cptrst_task_info {
	__s32 pids[CPTRST_MAX_LEVELS];	/* [0]: the tree's ns, then deeper ones */
	__u32 nr_levels;
	__s32 tgid;
	__s32 ppid;			/* real parent's tgid, 0 if not visible */
	__s32 pgid;
	__s32 sid;
	__s32 exit_code;
	__u32 exit_state;		/* EXIT_ZOMBIE, EXIT_DEAD or 0 */
	__u32 flags;			/* CPTRST_TI_* */
	__u32 personality;
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	__s32 exit_signal;		/* signal to the parent at exit, -1 for threads */
	__u64 blocked;			/* blocked signals */
	char comm[16];
};

/* Checkpoint permission and stop state of @t for the calling task. */
int cptrst_task_check_dump(struct task_struct *t);
struct task_struct *cptrst_task_get_by_vpid(__s32 nr);
void cptrst_task_put(struct task_struct *t);
struct pid_namespace *cptrst_task_pidns_get(struct task_struct *t);
void cptrst_pidns_put(struct pid_namespace *ns);
int cptrst_tree_collect(struct task_struct *root, struct task_struct **out, unsigned int max);
int cptrst_task_info(struct task_struct *t, struct pid_namespace *ns, struct cptrst_task_info *out);
int cptrst_task_regs(struct task_struct *t, void *buf, unsigned int size);
unsigned int cptrst_xstate_size(void);
int cptrst_task_xstate(struct task_struct *t, void *buf, unsigned int size);
int cptrst_task_fds(struct task_struct *t, __u32 *fds, __u32 *modes, unsigned int max);

/* What a task registered with the kernel for its thread library. */
struct cptrst_thread_state {
	__u64 clear_child_tid;		/* set_tid_address, CLONE_CHILD_CLEARTID */
	__u64 robust_list;		/* set_robust_list head */
	__u64 robust_list_len;
	__u64 rseq;			/* rseq area (CONFIG_RSEQ) */
	__u32 rseq_len, rseq_sig;
};
void cptrst_task_thread_state(struct task_struct *t, struct cptrst_thread_state *out);

int cptrst_signal_pending(void);
__u64 cptrst_xfeatures(void);
void cptrst_kernel_release(char *buf, unsigned int size);

/* ---------------------------------------------------------------------
 * eclone: check chosen pids against the caller's pid namespaces.
 */
int cptrst_eclone_check_ns(__u32 flags, const __s32 *pids, __u32 nr);

#endif /* _CPTRST_SHIM_H */
