/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cptrst: the C ABI between the Rust crate and the C shim, one section per
 * group of kernel objects. The Rust side mirrors every struct (src/task.rs,
 * src/pid.rs, src/cred.rs, src/eclone.rs, ...) and asserts each field's
 * offset and each struct's size; the C side asserts the same numbers in
 * the file that implements the section. Process context only.
 *
 * The C functions return facts (ids, flags, capability results); the
 * decisions made from them (EPERM, EBUSY, EEXIST, ...) are in Rust.
 */
#ifndef _CPTRST_ABI_H
#define _CPTRST_ABI_H

#include <linux/types.h>

struct file;
struct pid;
struct pid_namespace;
struct task_struct;

/* --- task objects (H1a) --- */

#define CPTRST_MAX_LEVELS	32	/* MAX_PID_NS_LEVEL */

/* cptrst_task_info.flags */
#define CPTRST_TI_LEADER	(1u << 0)	/* thread group leader */
#define CPTRST_TI_KTHREAD	(1u << 1)
#define CPTRST_TI_HAS_MM	(1u << 2)

/* A task's credentials, mapped into the caller's user namespace (cred.rs). */
struct cptrst_creds {
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
};

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
	struct cptrst_creds cred;
	__s32 exit_signal;		/* signal to the parent at exit, -1 for threads */
	__u64 blocked;			/* blocked signals */
	char comm[16];
};

/*
 * The facts of the checkpoint permission rule for @t and the caller
 * (cred.rs decides): each field 0 or 1.
 */
struct cptrst_dump_facts {
	__u8 kthread;		/* PF_KTHREAD */
	__u8 same_ids;		/* caller's uid/gid = @t's real, effective, saved */
	__u8 cap_cred_ns;	/* CAP_SYS_PTRACE over @t's cred user ns */
	__u8 has_mm;
	__u8 dumpable_user;	/* get_dumpable() == SUID_DUMP_USER (1 without mm) */
	__u8 cap_mm_ns;		/* CAP_SYS_PTRACE over the mm's user ns */
	__u8 exited;		/* exit_state != 0 */
	__u8 traced_by_caller;	/* ptraced by the caller's thread group */
	__u8 traced;		/* task_is_traced(): in a ptrace stop */
	__u8 on_cpu;
	__u8 pad[6];
};

/* What a task registered with the kernel for its thread library. */
struct cptrst_thread_state {
	__u64 clear_child_tid;		/* set_tid_address, CLONE_CHILD_CLEARTID */
	__u64 robust_list;		/* set_robust_list head */
	__u64 robust_list_len;
	__u64 rseq;			/* rseq area (CONFIG_RSEQ) */
	__u32 rseq_len, rseq_sig;
};

/* eclone: the facts of one existing pid namespace level (eclone.rs decides). */
struct cptrst_eclone_level {
	__u8 capable;		/* CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over its owner */
	__u8 has_reaper;	/* it has an init (child_reaper) */
	__u8 pid_in_use;	/* the chosen pid exists in it */
	__u8 pad;
};

struct cptrst_eclone_facts {
	__u32 base_level;	/* level of the caller's pid_ns_for_children */
	__u32 nr_levels;	/* entries of lv[] filled */
	__u32 newpid_capable;	/* capable over the caller's user ns (asked only) */
	__u32 pad;
	struct cptrst_eclone_level lv[CPTRST_MAX_LEVELS]; /* [0]: the base ns, then its parents */
};

/* Tasks (src/task.rs). */
struct task_struct *cptrst_current_task(void);
int cptrst_tree_collect(struct task_struct *root, struct task_struct **out, unsigned int max);
void cptrst_task_dump_facts(struct task_struct *t, struct cptrst_dump_facts *out);
int cptrst_task_info(struct task_struct *t, struct pid_namespace *ns, struct cptrst_task_info *out);
int cptrst_task_child_of(struct task_struct *t, struct task_struct *parent);
void cptrst_task_thread_state(struct task_struct *t, struct cptrst_thread_state *out);

/* Pids and pid namespaces (src/pid.rs). */
void cptrst_pid_get(struct pid *pid);
struct pid_namespace *cptrst_task_pidns_get(struct task_struct *t);
struct pid_namespace *cptrst_pid_ns_get(struct pid *pid);
void cptrst_pidns_get(struct pid_namespace *ns);
int cptrst_pid_alive(struct pid_namespace *ns, int nr);
int cptrst_current_in_tree_of(struct pid *root);

/* Registers and FPU (src/task.rs). */
int cptrst_task_regs(struct task_struct *t, void *buf, unsigned int size);
int cptrst_task_xstate(struct task_struct *t, void *buf, unsigned int size);
int cptrst_task_set_xstate(struct task_struct *t, const void *buf, unsigned int size);

/* The calling task (src/task.rs, CurrentTask): writes only, Rust validated. */
void cptrst_cur_set_regs(const __u64 *regs);
void cptrst_cur_set_ip_sp(__u64 ip, __u64 sp);
void cptrst_cur_set_comm(const char *comm);
void cptrst_cur_set_thread_state(const struct cptrst_thread_state *ts);
int cptrst_cur_queue_ax(struct file *pin, __u64 ax);
void cptrst_cur_fpu_park(void);

/* eclone (src/eclone.rs). */
void cptrst_eclone_ns_facts(const __s32 *pids, __u32 nr, __u32 newpid, struct cptrst_eclone_facts *out);

/* The machine (src/machine.rs). */
unsigned int cptrst_xstate_size(void);
__u64 cptrst_xfeatures(void);
void cptrst_kernel_release(char *buf, unsigned int size);
__u64 cptrst_task_size(void);

/* --- end task objects --- */

#endif /* _CPTRST_ABI_H */
