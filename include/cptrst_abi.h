/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cptrst: the C/Rust ABI of the module, one header for the C files,
 * one section per group of kernel objects.
 *
 * Every struct here is read by both sides; its field offsets and size are
 * asserted in C (static_assert(offsetof(...)), next to the struct or in the
 * file that implements the section) and in Rust (const _: () =
 * assert!(offset_of!(...) == ...), next to the Rust mirror named in each
 * section). The C functions return facts (ids, flags, capability results);
 * the decisions made from them (EPERM, EBUSY, EEXIST, ...) are in Rust.
 * Process context only.
 */
#ifndef _CPTRST_ABI_H
#define _CPTRST_ABI_H

#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/stddef.h>
#include <linux/types.h>

#include "uapi/linux/cptrst.h"

struct file;
struct mm_struct;
struct page;
struct path;
struct pid;
struct pid_namespace;
struct task_struct;

/* ---------------------------------------------------------------------
 * The device (src/cptrst_shim.c, src/device.rs).
 */

/* Registers /dev/cptrst; its ioctls get @data until deregistration. */
int cptrst_misc_register(const void *data);
void cptrst_misc_deregister(void);
/* Is @f an open /dev/cptrst? (C only: the image fd checks) */
int cptrst_file_is_dev(struct file *f);

/* Implemented in Rust (src/device.rs), called from the C file operations. */
long cptrst_rs_ioctl(const void *data, struct file *file, unsigned int cmd, unsigned long arg);

/*
 * C only: a read or write that a signal interrupted gives -EINTR to its
 * caller, whichever restart code the file system chose; any other result
 * is returned as it is.
 */
static inline ssize_t cptrst_io_intr(ssize_t n)
{
	if (n == -ERESTARTSYS || n == -ERESTARTNOINTR || n == -ERESTARTNOHAND ||
	    n == -ERESTART_RESTARTBLOCK)
		return -EINTR;
	return n;
}

/* ---------------------------------------------------------------------
 * Task objects: tasks, pids, credentials, signals, registers and FPU,
 * eclone, the machine (src/cptrst_task.c).
 */

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
int cptrst_tree_collect(struct task_struct *root, struct task_struct **out, unsigned int max,
			__u32 *caller_inside);
void cptrst_task_dump_facts(struct task_struct *t, struct cptrst_dump_facts *out);
int cptrst_task_info(struct task_struct *t, struct pid_namespace *ns, struct cptrst_task_info *out);
int cptrst_task_child_of(struct task_struct *t, struct task_struct *parent);
void cptrst_task_thread_state(struct task_struct *t, struct cptrst_thread_state *out);

/*
 * Pids and pid namespaces (src/pid.rs). put_pid_ns() is exported but has no
 * Rust binding: declared here, checked against <linux/pid_namespace.h> by
 * the C compiler, and called from Rust.
 */
void put_pid_ns(struct pid_namespace *ns);
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


/* ---------------------------------------------------------------------
 * Signals, timers, limits, creds: what the checkpoint reads of a task's
 * signal state, POSIX and interval timers, resource limits and
 * credentials (src/cptrst_sig.c; Rust: src/signal.rs, src/timer.rs,
 * src/rlimit.rs, src/cred.rs; the decisions in src/dump_signals.rs and
 * src/dump_creds.rs). Read only: nothing is dequeued, no timer is touched.
 */
#define CPTRST_SIGINFO_LEN	128	/* a user siginfo_t */
#define CPTRST_NSIG		64
#define CPTRST_NRLIMIT		16

/* Rust: cred::CredsExt. */
struct cptrst_creds_ext {
	__u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	__u32 securebits;
	__u32 no_new_privs;		/* task_no_new_privs() */
	__u32 ngroups;			/* supplementary groups (copied: at most max) */
	__u32 foreign_ns;		/* cred->user_ns is not the caller's */
};
static_assert(offsetof(struct cptrst_creds_ext, cap_inheritable) == 0);
static_assert(offsetof(struct cptrst_creds_ext, cap_permitted) == 8);
static_assert(offsetof(struct cptrst_creds_ext, cap_effective) == 16);
static_assert(offsetof(struct cptrst_creds_ext, cap_bset) == 24);
static_assert(offsetof(struct cptrst_creds_ext, cap_ambient) == 32);
static_assert(offsetof(struct cptrst_creds_ext, securebits) == 40);
static_assert(offsetof(struct cptrst_creds_ext, no_new_privs) == 44);
static_assert(offsetof(struct cptrst_creds_ext, ngroups) == 48);
static_assert(offsetof(struct cptrst_creds_ext, foreign_ns) == 52);
static_assert(sizeof(struct cptrst_creds_ext) == 56);

/* Rust: signal::SigTaskFacts. */
struct cptrst_sig_task {
	__u64 sas_ss_sp, sas_ss_size;
	__u64 timer_slack_ns, default_timer_slack_ns;
	__u32 sas_ss_flags;
	__s32 pdeath_signal;
	__u32 seccomp_mode;		/* task->seccomp.mode */
	__u32 io_uring;			/* has an io_uring context */
};
static_assert(offsetof(struct cptrst_sig_task, sas_ss_sp) == 0);
static_assert(offsetof(struct cptrst_sig_task, sas_ss_size) == 8);
static_assert(offsetof(struct cptrst_sig_task, timer_slack_ns) == 16);
static_assert(offsetof(struct cptrst_sig_task, default_timer_slack_ns) == 24);
static_assert(offsetof(struct cptrst_sig_task, sas_ss_flags) == 32);
static_assert(offsetof(struct cptrst_sig_task, pdeath_signal) == 36);
static_assert(offsetof(struct cptrst_sig_task, seccomp_mode) == 40);
static_assert(offsetof(struct cptrst_sig_task, io_uring) == 44);
static_assert(sizeof(struct cptrst_sig_task) == 48);

/* One pending queue (Rust: signal::PendingFacts). */
struct cptrst_pending {
	__u64 signal;			/* the queue's signal set, bit n-1: signal n */
	__u32 count;			/* sigqueue entries (copied: at most max) */
	__u32 pad;
};
static_assert(offsetof(struct cptrst_pending, signal) == 0);
static_assert(offsetof(struct cptrst_pending, count) == 8);
static_assert(offsetof(struct cptrst_pending, pad) == 12);
static_assert(sizeof(struct cptrst_pending) == 16);

/* The kernel's struct sigaction (Rust: signal::SigActionFacts). */
struct cptrst_sigaction {
	__u64 handler, flags, restorer, mask;
};
static_assert(offsetof(struct cptrst_sigaction, handler) == 0);
static_assert(offsetof(struct cptrst_sigaction, flags) == 8);
static_assert(offsetof(struct cptrst_sigaction, restorer) == 16);
static_assert(offsetof(struct cptrst_sigaction, mask) == 24);
static_assert(sizeof(struct cptrst_sigaction) == 32);

/* Rust: rlimit::RlimitFacts. */
struct cptrst_rlimit {
	__u64 cur, max;
};
static_assert(offsetof(struct cptrst_rlimit, cur) == 0);
static_assert(offsetof(struct cptrst_rlimit, max) == 8);
static_assert(sizeof(struct cptrst_rlimit) == 16);

/* The interval timers of a thread group (Rust: timer::ItimerFacts). */
struct cptrst_itimers {
	__s64 real_expires;		/* real_timer's expiry, in its base's clock */
	__s64 real_now;			/* that clock's time when read */
	__s64 real_incr;		/* it_real_incr */
	__u32 real_active;		/* hrtimer_active(&real_timer) */
	__u32 cputimer_active;		/* the group's cputimer runs */
	__u64 cpu_expires[2];		/* it[CPUCLOCK_PROF], it[CPUCLOCK_VIRT] */
	__u64 cpu_incr[2];
	__u64 cpu_sample[2];		/* group cputime: utime + stime, utime */
	__u64 tick_ns;			/* TICK_NSEC */
};
static_assert(offsetof(struct cptrst_itimers, real_expires) == 0);
static_assert(offsetof(struct cptrst_itimers, real_now) == 8);
static_assert(offsetof(struct cptrst_itimers, real_incr) == 16);
static_assert(offsetof(struct cptrst_itimers, real_active) == 24);
static_assert(offsetof(struct cptrst_itimers, cputimer_active) == 28);
static_assert(offsetof(struct cptrst_itimers, cpu_expires) == 32);
static_assert(offsetof(struct cptrst_itimers, cpu_incr) == 48);
static_assert(offsetof(struct cptrst_itimers, cpu_sample) == 64);
static_assert(offsetof(struct cptrst_itimers, tick_ns) == 80);
static_assert(sizeof(struct cptrst_itimers) == 88);

/* What a thread group shares (Rust: signal::ProcFacts). */
struct cptrst_proc_facts {
	struct cptrst_rlimit rlim[CPTRST_NRLIMIT];
	struct cptrst_itimers itimers;
	struct cptrst_sigaction action[CPTRST_NSIG];	/* [i]: signal i + 1 */
	__u64 mm_flags;			/* mm->flags (MMF_*), 0 without an mm */
	__u64 def_flags;		/* mm->def_flags */
	__u32 has_mm;
	__u32 dumpable;			/* get_dumpable() */
	__u32 subreaper;		/* signal->is_child_subreaper */
	__u32 pad;
};
static_assert(offsetof(struct cptrst_proc_facts, rlim) == 0);
static_assert(offsetof(struct cptrst_proc_facts, itimers) == 256);
static_assert(offsetof(struct cptrst_proc_facts, action) == 344);
static_assert(offsetof(struct cptrst_proc_facts, mm_flags) == 2392);
static_assert(offsetof(struct cptrst_proc_facts, def_flags) == 2400);
static_assert(offsetof(struct cptrst_proc_facts, has_mm) == 2408);
static_assert(offsetof(struct cptrst_proc_facts, dumpable) == 2412);
static_assert(offsetof(struct cptrst_proc_facts, subreaper) == 2416);
static_assert(offsetof(struct cptrst_proc_facts, pad) == 2420);
static_assert(sizeof(struct cptrst_proc_facts) == 2424);

/* cptrst_timer_facts.flags */
#define CPTRST_TMR_ACTIVE	(1u << 0)	/* it_active: its hrtimer is queued */
#define CPTRST_TMR_HRTIMER	(1u << 1)	/* an hrtimer clock: expires, now read */

/* One POSIX timer (Rust: timer::TimerFacts). */
struct cptrst_timer_facts {
	__s32 id;			/* it_id */
	__s32 clock;			/* it_clock */
	__s32 notify;			/* it_sigev_notify */
	__s32 signo;			/* sigq's si_signo */
	__u64 value;			/* sigq's si_value */
	__s32 tid;			/* SIGEV_THREAD_ID: the target in @ns, else 0 */
	__u32 flags;			/* CPTRST_TMR_* */
	__s64 expires;			/* the hrtimer's expiry, in its base's clock */
	__s64 now;			/* that clock's time when read */
	__s64 interval;			/* it_interval */
	__s64 overrun_last;		/* it_overrun_last */
};
static_assert(offsetof(struct cptrst_timer_facts, id) == 0);
static_assert(offsetof(struct cptrst_timer_facts, clock) == 4);
static_assert(offsetof(struct cptrst_timer_facts, notify) == 8);
static_assert(offsetof(struct cptrst_timer_facts, signo) == 12);
static_assert(offsetof(struct cptrst_timer_facts, value) == 16);
static_assert(offsetof(struct cptrst_timer_facts, tid) == 24);
static_assert(offsetof(struct cptrst_timer_facts, flags) == 28);
static_assert(offsetof(struct cptrst_timer_facts, expires) == 32);
static_assert(offsetof(struct cptrst_timer_facts, now) == 40);
static_assert(offsetof(struct cptrst_timer_facts, interval) == 48);
static_assert(offsetof(struct cptrst_timer_facts, overrun_last) == 56);
static_assert(sizeof(struct cptrst_timer_facts) == 64);

/*
 * Each returns 0 or -ESRCH for a task without signal state (exiting);
 * cptrst_task_creds_ext() the group count (copied: at most @max),
 * cptrst_task_timers() the timer count (copied: at most @max) or -EBUSY
 * when a timer stayed locked by its expiry.
 */
int cptrst_task_creds_ext(struct task_struct *t, struct cptrst_creds_ext *out, __u32 *groups,
			  unsigned int max);
int cptrst_task_sig_facts(struct task_struct *t, struct cptrst_sig_task *out);
int cptrst_task_pending(struct task_struct *t, int shared, struct cptrst_pending *out,
			void *buf, unsigned int max);
int cptrst_task_proc_facts(struct task_struct *leader, struct cptrst_proc_facts *out);
int cptrst_task_timers(struct task_struct *leader, struct pid_namespace *ns,
		       struct cptrst_timer_facts *buf, unsigned int max);

/* ---------------------------------------------------------------------
 * Memory and file objects: address spaces, VMAs, pages, files, paths,
 * CRC32C, wait queues, the restore trampoline (src/cptrst_shim.c,
 * src/cptrst_restore.c).
 */

/*
 * Address spaces (src/mm.rs). Functions taking an mm_struct are given one
 * with an mm_users reference; those named *_locked need its mmap lock.
 */
#define CPTRST_AUXV_WORDS	(2 * 64)
#define CPTRST_PATH_MAX		4096

/* The mm's layout fields, in prctl(PR_SET_MM_MAP) order (Rust: MmLayout). */
struct cptrst_mm_layout {
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
};
static_assert(offsetof(struct cptrst_mm_layout, start_code) == 0);
static_assert(offsetof(struct cptrst_mm_layout, end_code) == 8);
static_assert(offsetof(struct cptrst_mm_layout, start_data) == 16);
static_assert(offsetof(struct cptrst_mm_layout, end_data) == 24);
static_assert(offsetof(struct cptrst_mm_layout, start_brk) == 32);
static_assert(offsetof(struct cptrst_mm_layout, brk) == 40);
static_assert(offsetof(struct cptrst_mm_layout, start_stack) == 48);
static_assert(offsetof(struct cptrst_mm_layout, arg_start) == 56);
static_assert(offsetof(struct cptrst_mm_layout, arg_end) == 64);
static_assert(offsetof(struct cptrst_mm_layout, env_start) == 72);
static_assert(offsetof(struct cptrst_mm_layout, env_end) == 80);
static_assert(sizeof(struct cptrst_mm_layout) == 88);

/* Rust: MmInfo. */
struct cptrst_mm_info {
	struct cptrst_mm_layout layout;
	__u64 vdso;			/* mm->context.vdso */
	__u64 auxv[CPTRST_AUXV_WORDS];
	__u32 nr_auxv_words;
	__u32 exe_path_len;		/* 0: no exe file */
};
static_assert(offsetof(struct cptrst_mm_info, layout) == 0);
static_assert(offsetof(struct cptrst_mm_info, vdso) == 88);
static_assert(offsetof(struct cptrst_mm_info, auxv) == 96);
static_assert(offsetof(struct cptrst_mm_info, nr_auxv_words) == 96 + 8 * CPTRST_AUXV_WORDS);
static_assert(offsetof(struct cptrst_mm_info, exe_path_len) == 100 + 8 * CPTRST_AUXV_WORDS);
static_assert(sizeof(struct cptrst_mm_info) == 104 + 8 * CPTRST_AUXV_WORDS);

/* cptrst_vma_info.facts */
#define CPTRST_VF_FILE		(1u << 0)	/* has a vm_file */
#define CPTRST_VF_SHMEM		(1u << 1)	/* ... whose mapping is shmem */
#define CPTRST_VF_DELETED	(1u << 2)	/* ... whose dentry is unlinked */
#define CPTRST_VF_NAMED		(1u << 3)	/* vm_ops->name: a special mapping */

/* One VMA as it is (Rust: VmaInfo, classified by VmaInfo::class). */
struct cptrst_vma_info {
	__u64 start, end;
	__u64 flags;			/* vm_flags */
	__u64 pgoff;
	__u64 inode;			/* the file's inode number, 0 without a file */
	__u64 dev;			/* the file's super block dev */
	__u32 facts;			/* CPTRST_VF_* */
	__u32 pad;
	char special_name[16];		/* vm_ops->name(), "" if it gave NULL */
	char file_name[16];		/* the file's dentry name, truncated */
};
static_assert(offsetof(struct cptrst_vma_info, start) == 0);
static_assert(offsetof(struct cptrst_vma_info, end) == 8);
static_assert(offsetof(struct cptrst_vma_info, flags) == 16);
static_assert(offsetof(struct cptrst_vma_info, pgoff) == 24);
static_assert(offsetof(struct cptrst_vma_info, inode) == 32);
static_assert(offsetof(struct cptrst_vma_info, dev) == 40);
static_assert(offsetof(struct cptrst_vma_info, facts) == 48);
static_assert(offsetof(struct cptrst_vma_info, pad) == 52);
static_assert(offsetof(struct cptrst_vma_info, special_name) == 56);
static_assert(offsetof(struct cptrst_vma_info, file_name) == 72);
static_assert(sizeof(struct cptrst_vma_info) == 88);

void cptrst_mmget(struct mm_struct *mm);
int cptrst_mm_read_lock_killable(struct mm_struct *mm);
void cptrst_mm_read_unlock(struct mm_struct *mm);
int cptrst_mm_info_locked(struct mm_struct *mm, struct cptrst_mm_info *out, char *path, unsigned int size);
int cptrst_vma_info_locked(struct mm_struct *mm, __u64 addr, struct cptrst_vma_info *out);
int cptrst_vma_path_locked(struct mm_struct *mm, __u64 addr, char *path, unsigned int size);
int cptrst_mm_maps_file_locked(struct mm_struct *mm, struct file *f);
long cptrst_shmem_page_locked(struct mm_struct *mm, __u64 addr, void *dst);
int cptrst_mm_apply_layout(struct mm_struct *mm, const struct cptrst_mm_layout *l);
void cptrst_mm_apply_auxv(struct mm_struct *mm, const __u64 *auxv, unsigned int words);
unsigned int cptrst_auxv_max_words(void);
__u64 cptrst_mm_vdso(struct mm_struct *mm);

/* Pinned pages (src/mm.rs, PinnedPages). */
int cptrst_page_is_anon(struct page *page);
void cptrst_page_copy(struct page *page, void *dst);
void cptrst_page_put(struct page *page);

/* A shared anonymous memory object (src/file.rs, shmem_create). */
struct file *cptrst_shmem_create(__u64 size);

/*
 * Files (src/file.rs). cptrst_file_facts() describes a file; Rust decides
 * what it may be used for.
 */
#define CPTRST_FF_READ		(1u << 0)	/* FMODE_READ */
#define CPTRST_FF_WRITE		(1u << 1)	/* FMODE_WRITE */
#define CPTRST_FF_PREAD		(1u << 2)	/* FMODE_PREAD */
#define CPTRST_FF_STREAM	(1u << 3)	/* FMODE_STREAM */
#define CPTRST_FF_CAN_READ	(1u << 4)	/* FMODE_CAN_READ */
#define CPTRST_FF_READ_ITER	(1u << 5)	/* f_op->read_iter */
#define CPTRST_FF_WRITE_ITER	(1u << 6)	/* f_op->write_iter */
#define CPTRST_FF_CPTRST_DEV	(1u << 7)	/* an open /dev/cptrst */
#define CPTRST_FF_SHMEM		(1u << 8)	/* shmem page cache (tmpfs, memfd) */

/* Rust: FileFacts. */
struct cptrst_file_facts {
	__u64 pos;			/* f_pos */
	__u64 size;			/* i_size */
	__u32 i_mode;			/* the inode's type and permission bits */
	__u32 flags;			/* CPTRST_FF_* */
};
static_assert(offsetof(struct cptrst_file_facts, pos) == 0);
static_assert(offsetof(struct cptrst_file_facts, size) == 8);
static_assert(offsetof(struct cptrst_file_facts, i_mode) == 16);
static_assert(offsetof(struct cptrst_file_facts, flags) == 20);
static_assert(sizeof(struct cptrst_file_facts) == 24);

void cptrst_file_get(struct file *f);
void cptrst_file_facts(struct file *f, struct cptrst_file_facts *out);
void cptrst_file_set_pos(struct file *f, __u64 pos);
long cptrst_file_read(struct file *f, void *buf, unsigned long len, __u64 pos);
long cptrst_file_read_user(struct file *f, __u64 addr, unsigned long len, __u64 pos);
long cptrst_file_write_at(struct file *f, __u64 pos, const void *buf, unsigned long len);
long cptrst_file_write_all(struct file *f, const void *buf, unsigned long len, __u64 *pos);
long cptrst_file_write_pages(struct file *f, struct page *const *pages, unsigned long n, __u64 *pos);
unsigned long cptrst_rlimit(unsigned int which);

/*
 * What the checkpoint classifies an open file on (src/file.rs,
 * FileDumpFacts; the kinds are decided in src/dump_files.rs).
 */
#define CPTRST_DF_READ		(1u << 0)	/* fmode: FMODE_READ */
#define CPTRST_DF_WRITE		(1u << 1)	/* fmode: FMODE_WRITE */
#define CPTRST_DF_PATH		(1u << 2)	/* fmode: FMODE_PATH (O_PATH) */
#define CPTRST_DF_UNLINKED	(1u << 0)	/* facts: d_unlinked() */
#define CPTRST_DF_SHMEM		(1u << 1)	/* facts: shmem page cache */
#define CPTRST_DF_CPTRST_DEV	(1u << 2)	/* facts: an open /dev/cptrst */
#define CPTRST_DF_NOEXEC_SB	(1u << 3)	/* facts: SB_I_NOEXEC (proc, sysfs...) */
#define CPTRST_DF_NOUSER_SB	(1u << 4)	/* facts: SB_NOUSER (internal mounts) */
#define CPTRST_DF_WATCH_QUEUE	(1u << 5)	/* facts: an O_NOTIFICATION_PIPE */
#define CPTRST_DF_NAME_LEN	256
#define CPTRST_DF_FS_NAME_LEN	32

/* Rust: file::FileDumpFacts. */
struct cptrst_file_dump_facts {
	__u64 pos;			/* f_pos */
	__u64 size;			/* i_size */
	__u64 ino;
	__u64 s_magic;			/* the super block's magic */
	__u64 pipe;			/* the pipe (opaque id), 0: not a pipe end */
	__u32 f_flags;			/* raw f_flags */
	__u32 fmode;			/* CPTRST_DF_READ... */
	__u32 i_mode;
	__u32 rdev_major, rdev_minor;	/* character and block devices */
	__u32 facts;			/* CPTRST_DF_UNLINKED... */
	__u32 seals;			/* shmem seals */
	__u32 pipe_readers, pipe_writers;
	__u32 pipe_size;		/* max_usage * PAGE_SIZE */
	__u32 pipe_bytes;		/* bytes buffered */
	__u32 path_len;			/* of d_path() */
	char name[CPTRST_DF_NAME_LEN];	/* the dentry's name, truncated */
	char fs_name[CPTRST_DF_FS_NAME_LEN]; /* the file system type's name */
};
static_assert(offsetof(struct cptrst_file_dump_facts, pos) == 0);
static_assert(offsetof(struct cptrst_file_dump_facts, size) == 8);
static_assert(offsetof(struct cptrst_file_dump_facts, ino) == 16);
static_assert(offsetof(struct cptrst_file_dump_facts, s_magic) == 24);
static_assert(offsetof(struct cptrst_file_dump_facts, pipe) == 32);
static_assert(offsetof(struct cptrst_file_dump_facts, f_flags) == 40);
static_assert(offsetof(struct cptrst_file_dump_facts, fmode) == 44);
static_assert(offsetof(struct cptrst_file_dump_facts, i_mode) == 48);
static_assert(offsetof(struct cptrst_file_dump_facts, rdev_major) == 52);
static_assert(offsetof(struct cptrst_file_dump_facts, rdev_minor) == 56);
static_assert(offsetof(struct cptrst_file_dump_facts, facts) == 60);
static_assert(offsetof(struct cptrst_file_dump_facts, seals) == 64);
static_assert(offsetof(struct cptrst_file_dump_facts, pipe_readers) == 68);
static_assert(offsetof(struct cptrst_file_dump_facts, pipe_writers) == 72);
static_assert(offsetof(struct cptrst_file_dump_facts, pipe_size) == 76);
static_assert(offsetof(struct cptrst_file_dump_facts, pipe_bytes) == 80);
static_assert(offsetof(struct cptrst_file_dump_facts, path_len) == 84);
static_assert(offsetof(struct cptrst_file_dump_facts, name) == 88);
static_assert(offsetof(struct cptrst_file_dump_facts, fs_name) == 88 + CPTRST_DF_NAME_LEN);
static_assert(sizeof(struct cptrst_file_dump_facts) == 88 + CPTRST_DF_NAME_LEN + CPTRST_DF_FS_NAME_LEN);

int cptrst_file_dump_facts(struct file *f, struct cptrst_file_dump_facts *out, char *path,
			   unsigned int size);
long cptrst_pipe_peek(struct file *f, void *buf, unsigned long size);
struct file *cptrst_file_open_read(struct file *f);

/*
 * The fd tables and fs contexts of the tree (src/task.rs: TaskExt::next_fd,
 * ctx, fs_paths, vma_file); closing the caller's fds but an ascending list
 * (src/file.rs, close_fds_except).
 */
/* Rust: task::TaskCtx. */
struct cptrst_task_ctx {
	__u64 files;			/* t->files as an opaque id, 0: none */
	__u64 fs;			/* t->fs as an opaque id, 0: none */
	__u32 files_users;		/* files->count */
	__u32 fs_users;			/* fs->users */
	__u32 umask;
	__u32 pad;
};
static_assert(offsetof(struct cptrst_task_ctx, files) == 0);
static_assert(offsetof(struct cptrst_task_ctx, fs) == 8);
static_assert(offsetof(struct cptrst_task_ctx, files_users) == 16);
static_assert(offsetof(struct cptrst_task_ctx, fs_users) == 20);
static_assert(offsetof(struct cptrst_task_ctx, umask) == 24);
static_assert(offsetof(struct cptrst_task_ctx, pad) == 28);
static_assert(sizeof(struct cptrst_task_ctx) == 32);

/* Rust: task::TaskPaths. */
struct cptrst_task_paths {
	__u32 root_len, cwd_len;
	__u32 root_unlinked, cwd_unlinked;
};
static_assert(offsetof(struct cptrst_task_paths, root_len) == 0);
static_assert(offsetof(struct cptrst_task_paths, cwd_len) == 4);
static_assert(offsetof(struct cptrst_task_paths, root_unlinked) == 8);
static_assert(offsetof(struct cptrst_task_paths, cwd_unlinked) == 12);
static_assert(sizeof(struct cptrst_task_paths) == 16);

struct file *cptrst_task_next_fd(struct task_struct *t, __u32 *fd, __u32 *cloexec);
void cptrst_task_ctx(struct task_struct *t, struct cptrst_task_ctx *out);
int cptrst_task_fs_paths(struct task_struct *t, struct cptrst_task_paths *out,
			 char *root, char *cwd, unsigned int size);
struct file *cptrst_task_vma_file(struct task_struct *t, __u64 start);
void cptrst_rst_close_fds_except(const __u32 *keep, unsigned int n, struct file *dev);

/* A looked-up path (src/file.rs, Path). */
struct path *cptrst_path_lookup(const char *name, __u32 *mode, __u32 *pseudo);
struct file *cptrst_path_open(const struct path *p, int write);
void cptrst_path_put(struct path *p);

/*
 * CRC32C on the raw state (src/crc.rs): one range at a time; Rust decides
 * how to split and when a worker helps.
 */
int cptrst_crc32c_available(void);
int cptrst_crc32c_shift_available(void);
__u32 cptrst_crc32c(__u32 crc, const void *p, unsigned long len);
__u32 cptrst_crc32c_shift(__u32 crc, unsigned long len);
__u32 cptrst_pages_crc32c(__u32 crc, struct page *const *pages, unsigned long n);
long cptrst_file_crc32c(struct file *f, __u64 pos, unsigned long len, __u32 *crc);
struct cptrst_crc_job;
struct cptrst_crc_job *cptrst_crc_job_pages(struct page *const *pages, unsigned long n);
struct cptrst_crc_job *cptrst_crc_job_file(struct file *f, __u64 pos, unsigned long len);
long cptrst_crc_job_finish(struct cptrst_crc_job *j, __u32 *crc);

/* Wait queues (src/wait.rs): >0 changed, 0 timeout, -EINTR. */
struct cptrst_waitq;
struct cptrst_waitq *cptrst_waitq_new(void);
void cptrst_waitq_free(struct cptrst_waitq *wq);
int cptrst_waitq_wait(struct cptrst_waitq *wq, const __u32 *word, __u32 old, unsigned int timeout_ms);
void cptrst_waitq_wake(struct cptrst_waitq *wq);

/*
 * The restore trampoline's parameter block (src/restore_mm.rs,
 * TrampParams), one page per task; the CPTRST_TP_* offsets are used by the
 * trampoline's assembly in src/cptrst_restore.c.
 */
#define CPTRST_TP_STEP		0
#define CPTRST_TP_ERR		8
#define CPTRST_TP_DEVFD		16
#define CPTRST_TP_VVAR_CUR	24
#define CPTRST_TP_VVAR_PARK	32
#define CPTRST_TP_VVAR_IMG	40
#define CPTRST_TP_VVAR_LEN	48
#define CPTRST_TP_VDSO_CUR	56
#define CPTRST_TP_VDSO_PARK	64
#define CPTRST_TP_VDSO_IMG	72
#define CPTRST_TP_VDSO_LEN	80
#define CPTRST_TP_EXEFD		88
#define CPTRST_TP_FS_BASE	96
#define CPTRST_TP_GS_BASE	104
#define CPTRST_TP_ARGS		112
#define CPTRST_TP_CMD		160
#define CPTRST_TP_PROG		168
#define CPTRST_TP_NOPS		176
#define CPTRST_TP_OP_INDEX	184
#define CPTRST_TP_OP_ARG0	192
#define CPTRST_TP_SIZE		200

#ifndef __ASSEMBLY__
struct cptrst_tramp_params {
	__u64 step, err, devfd;
	__u64 vvar_cur, vvar_park, vvar_img, vvar_len;
	__u64 vdso_cur, vdso_park, vdso_img, vdso_len;
	__s64 exefd;
	__u64 fs_base, gs_base;
	struct cptrst_restart_args args;
	__u64 cmd;
	__u64 prog, nops;		/* the restore program: ops and their number */
	__u64 op_index, op_arg0;	/* the failed op, and its first argument then */
};
static_assert(offsetof(struct cptrst_tramp_params, step) == CPTRST_TP_STEP);
static_assert(offsetof(struct cptrst_tramp_params, err) == CPTRST_TP_ERR);
static_assert(offsetof(struct cptrst_tramp_params, devfd) == CPTRST_TP_DEVFD);
static_assert(offsetof(struct cptrst_tramp_params, vvar_cur) == CPTRST_TP_VVAR_CUR);
static_assert(offsetof(struct cptrst_tramp_params, vvar_park) == CPTRST_TP_VVAR_PARK);
static_assert(offsetof(struct cptrst_tramp_params, vvar_img) == CPTRST_TP_VVAR_IMG);
static_assert(offsetof(struct cptrst_tramp_params, vvar_len) == CPTRST_TP_VVAR_LEN);
static_assert(offsetof(struct cptrst_tramp_params, vdso_cur) == CPTRST_TP_VDSO_CUR);
static_assert(offsetof(struct cptrst_tramp_params, vdso_park) == CPTRST_TP_VDSO_PARK);
static_assert(offsetof(struct cptrst_tramp_params, vdso_img) == CPTRST_TP_VDSO_IMG);
static_assert(offsetof(struct cptrst_tramp_params, vdso_len) == CPTRST_TP_VDSO_LEN);
static_assert(offsetof(struct cptrst_tramp_params, exefd) == CPTRST_TP_EXEFD);
static_assert(offsetof(struct cptrst_tramp_params, fs_base) == CPTRST_TP_FS_BASE);
static_assert(offsetof(struct cptrst_tramp_params, gs_base) == CPTRST_TP_GS_BASE);
static_assert(offsetof(struct cptrst_tramp_params, args) == CPTRST_TP_ARGS);
static_assert(offsetof(struct cptrst_tramp_params, cmd) == CPTRST_TP_CMD);
static_assert(offsetof(struct cptrst_tramp_params, prog) == CPTRST_TP_PROG);
static_assert(offsetof(struct cptrst_tramp_params, nops) == CPTRST_TP_NOPS);
static_assert(offsetof(struct cptrst_tramp_params, op_index) == CPTRST_TP_OP_INDEX);
static_assert(offsetof(struct cptrst_tramp_params, op_arg0) == CPTRST_TP_OP_ARG0);
static_assert(sizeof(struct cptrst_tramp_params) == CPTRST_TP_SIZE);
/* The block embeds the restart arguments: their size is part of its layout. */
static_assert(sizeof(struct cptrst_restart_args) == CPTRST_TP_CMD - CPTRST_TP_ARGS);
#endif

/* The trampoline's code, copied into the restored address space. */
extern const char cptrst_tramp_start[], cptrst_tramp_end[];

/* ---------------------------------------------------------------------
 * Restart: the restore program (src/restore_prog.rs, src/restore_creds.rs,
 * src/cptrst_restore.c). The trampoline runs each op @count times, adding
 * @inc to arg[0] after each call; a result in [-4095, -1] stops it (the
 * op's index, arg[0] and the error go to the parameter block). @what is
 * Rust's name of the op, for its message.
 */
#define CPTRST_OP_NR		0
#define CPTRST_OP_ARG0		8
#define CPTRST_OP_ARG1		16
#define CPTRST_OP_ARG2		24
#define CPTRST_OP_ARG3		32
#define CPTRST_OP_ARG4		40
#define CPTRST_OP_ARG5		48
#define CPTRST_OP_COUNT		56
#define CPTRST_OP_WHAT		60
#define CPTRST_OP_INC		64
#define CPTRST_OP_SIZE		72

#ifndef __ASSEMBLY__
/* Rust: restore_prog::Op. */
struct cptrst_tramp_op {
	__u64 nr;
	__u64 arg[6];
	__u32 count;
	__u32 what;
	__u64 inc;
};
static_assert(offsetof(struct cptrst_tramp_op, nr) == CPTRST_OP_NR);
static_assert(offsetof(struct cptrst_tramp_op, arg) == CPTRST_OP_ARG0);
static_assert(offsetof(struct cptrst_tramp_op, count) == CPTRST_OP_COUNT);
static_assert(offsetof(struct cptrst_tramp_op, what) == CPTRST_OP_WHAT);
static_assert(offsetof(struct cptrst_tramp_op, inc) == CPTRST_OP_INC);
static_assert(sizeof(struct cptrst_tramp_op) == CPTRST_OP_SIZE);

#define CPTRST_RLIMITS		16	/* RLIM_NLIMITS */

/*
 * The calling task's state the program is built against (Rust:
 * restore_creds::SelfState): ids in its user namespace, capability sets,
 * securebits, no_new_privs, alternate signal stack, timer slack, parent
 * death signal, resource limits.
 */
struct cptrst_rst_self {
	__u32 uid, gid, euid, egid, suid, sgid, fsuid, fsgid;
	__u64 cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient;
	__u32 securebits;
	__u32 no_new_privs;
	__u32 ngroups;
	__u32 sas_ss_flags;
	__u64 sas_ss_sp, sas_ss_size;
	__u64 timer_slack_ns;
	__u64 rlim[CPTRST_RLIMITS][2];	/* cur, max */
	__s32 tgid, pid;		/* in its own pid namespace */
};
static_assert(offsetof(struct cptrst_rst_self, uid) == 0);
static_assert(offsetof(struct cptrst_rst_self, fsgid) == 28);
static_assert(offsetof(struct cptrst_rst_self, cap_inheritable) == 32);
static_assert(offsetof(struct cptrst_rst_self, cap_ambient) == 64);
static_assert(offsetof(struct cptrst_rst_self, securebits) == 72);
static_assert(offsetof(struct cptrst_rst_self, no_new_privs) == 76);
static_assert(offsetof(struct cptrst_rst_self, ngroups) == 80);
static_assert(offsetof(struct cptrst_rst_self, sas_ss_flags) == 84);
static_assert(offsetof(struct cptrst_rst_self, sas_ss_sp) == 88);
static_assert(offsetof(struct cptrst_rst_self, sas_ss_size) == 96);
static_assert(offsetof(struct cptrst_rst_self, timer_slack_ns) == 104);
static_assert(offsetof(struct cptrst_rst_self, rlim) == 112);
static_assert(offsetof(struct cptrst_rst_self, tgid) == 112 + 16 * CPTRST_RLIMITS);
static_assert(offsetof(struct cptrst_rst_self, pid) == 116 + 16 * CPTRST_RLIMITS);
static_assert(sizeof(struct cptrst_rst_self) == 120 + 16 * CPTRST_RLIMITS);

void cptrst_rst_self(struct cptrst_rst_self *out);
void cptrst_rst_reset_altstack(void);
unsigned int cptrst_rst_groups(__u32 *out, unsigned int max);
int cptrst_rst_timer_set_overrun(int id, __s64 overrun);
#endif

#endif /* _CPTRST_ABI_H */
