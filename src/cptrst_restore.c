// SPDX-License-Identifier: GPL-2.0
/*
 * cptrst C shim, restart side: what the Rust restore code (src/restart/,
 * src/restore_mm.rs, src/file.rs, src/mm.rs, src/wait.rs) needs from kernel
 * internals that 6.12's `kernel` crate does not reach. Each function is small and does one thing; the policy
 * (what to map, in which order, what to refuse) is in Rust.
 *
 * Functions named cptrst_rst_* act on the calling task, which is the task
 * being restored, from inside its own restart ioctl.
 */
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/posix-timers.h>
#include <linux/resource.h>
#include <linux/uidgid.h>
#include <linux/sizes.h>

#include "../include/cptrst_abi.h"

static_assert(CPTRST_AUXV_WORDS >= AT_VECTOR_SIZE);

/* ---------------------------------------------------------------------
 * The image fd.
 */

/*
 * Read up to @len bytes at @pos; fewer only at the end of the file. A
 * signal that interrupts the read (a fatal one, or one with a handler on a
 * file system that checks) ends it with -EINTR: the restart fails cleanly.
 */
long cptrst_file_read(struct file *f, void *buf, unsigned long len, __u64 pos)
{
	unsigned long done = 0;

	while (done < len) {
		loff_t p = pos + done;
		ssize_t n;

		if (fatal_signal_pending(current))
			return -EINTR;
		n = cptrst_io_intr(kernel_read(f, buf + done, min_t(unsigned long, len - done, MAX_RW_COUNT), &p));
		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Read exactly @len bytes at @pos straight into the caller's memory at
 * @addr (one copy, from the page cache; the destination pages fault in as
 * for read(2)). -EINTR as cptrst_file_read; -EFAULT for a bad destination;
 * -ENODATA if the file ends first. Only for a file with ->read_iter
 * (the Rust caller checks: LocalFile::read_to_user).
 */
long cptrst_file_read_user(struct file *f, __u64 addr, unsigned long len, __u64 pos)
{
	while (len) {
		loff_t p = pos;
		struct iov_iter it;
		ssize_t n;

		if (fatal_signal_pending(current))
			return -EINTR;
		iov_iter_ubuf(&it, ITER_DEST, u64_to_user_ptr(addr), min_t(unsigned long, len, MAX_RW_COUNT));
		n = cptrst_io_intr(vfs_iter_read(f, &it, &p, 0));
		if (n < 0)
			return n;
		if (n == 0)
			return -ENODATA;
		pos += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/*
 * Look up a file the image names by its absolute path, as the caller,
 * without opening it: no FIFO open blocks and no device's open method
 * runs before Rust has seen what the path is: the inode's @mode, and in
 * @pseudo whether it is on a file system whose files are never executable
 * or mappable data (SB_I_NOEXEC: proc, sysfs, cgroupfs, pidfs...).
 */
struct path *cptrst_path_lookup(const char *name, __u32 *mode, __u32 *pseudo)
{
	struct path *p = kmalloc(sizeof(*p), GFP_KERNEL_ACCOUNT);
	int err;

	if (!p)
		return ERR_PTR(-ENOMEM);
	err = kern_path(name, LOOKUP_FOLLOW, p);
	if (err) {
		kfree(p);
		return ERR_PTR(err);
	}
	*mode = d_inode(p->dentry)->i_mode;
	*pseudo = !!(p->mnt->mnt_sb->s_iflags & SB_I_NOEXEC);
	return p;
}

/*
 * Open the file @p names, read-only or read-write, with the checks open(2)
 * makes for a regular file (may_open: permission, append-only); the LSM
 * and write-access checks are in dentry_open().
 */
struct file *cptrst_path_open(const struct path *p, int write)
{
	struct inode *inode = d_inode(p->dentry);
	int mask = MAY_OPEN | MAY_READ | (write ? MAY_WRITE : 0);
	int err;

	err = inode_permission(mnt_idmap(p->mnt), inode, mask);
	if (err)
		return ERR_PTR(err);
	if (write && IS_APPEND(inode))
		return ERR_PTR(-EPERM);
	return dentry_open(p, (write ? O_RDWR : O_RDONLY) | O_LARGEFILE, current_cred());
}

void cptrst_path_put(struct path *p)
{
	path_put(p);
	kfree(p);
}

/* The caller's soft limit @which (RLIMIT_*). */
unsigned long cptrst_rlimit(unsigned int which)
{
	return which < RLIM_NLIMITS ? rlimit(which) : 0;
}

/* ---------------------------------------------------------------------
 * Waiting. Rust keeps the state in atomics; a waiter sleeps until a word
 * changes, killably, for at most @timeout_ms (the caller re-checks what it
 * waits for, e.g. that its peer is still alive).
 */
struct cptrst_waitq {
	wait_queue_head_t wq;
};

struct cptrst_waitq *cptrst_waitq_new(void)
{
	struct cptrst_waitq *q = kmalloc(sizeof(*q), GFP_KERNEL);

	if (q)
		init_waitqueue_head(&q->wq);
	return q;
}

void cptrst_waitq_free(struct cptrst_waitq *q)
{
	kfree(q);
}

int cptrst_waitq_wait(struct cptrst_waitq *q, const __u32 *word, __u32 old, unsigned int timeout_ms)
{
	long r = wait_event_killable_timeout(q->wq, READ_ONCE(*word) != old,
					     msecs_to_jiffies(timeout_ms));

	if (r < 0)
		return -EINTR;
	return r > 0 ? 1 : (READ_ONCE(*word) != old);
}

void cptrst_waitq_wake(struct cptrst_waitq *q)
{
	wake_up_all(&q->wq);
}

/* ---------------------------------------------------------------------
 * The address space of the restored task (current).
 */
/*
 * A shared memory object of @size bytes, as mmap(MAP_SHARED|MAP_ANONYMOUS)
 * makes (shmem_zero_setup: "dev/zero" on the internal mount, no LSM
 * inode checks), for every mapping of the image that shares it.
 */
struct file *cptrst_shmem_create(__u64 size)
{
	return shmem_kernel_file_setup("dev/zero", size, 0);
}

/* Write all of @buf into @f at @pos. */
long cptrst_file_write_at(struct file *f, __u64 pos, const void *buf, unsigned long len)
{
	loff_t p = pos;

	while (len) {
		ssize_t n;

		if (fatal_signal_pending(current))
			return -EINTR;
		n = kernel_write(f, buf, len, &p);
		if (n <= 0)
			return n < 0 ? n : -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Set the layout fields of @mm, the caller's, as Rust validated them
 * (restore_plan.rs, mm::MmLayout::check: prctl(PR_SET_MM_MAP)'s checks).
 */
int cptrst_mm_apply_layout(struct mm_struct *mm, const struct cptrst_mm_layout *l)
{
	if (mmap_write_lock_killable(mm))
		return -EINTR;
	mm->start_code = l->start_code;
	mm->end_code = l->end_code;
	mm->start_data = l->start_data;
	mm->end_data = l->end_data;
	mm->start_brk = l->start_brk;
	mm->brk = l->brk;
	mm->start_stack = l->start_stack;
	spin_lock(&mm->arg_lock);
	mm->arg_start = l->arg_start;
	mm->arg_end = l->arg_end;
	mm->env_start = l->env_start;
	mm->env_end = l->env_end;
	spin_unlock(&mm->arg_lock);
	mmap_write_unlock(mm);
	return 0;
}

/*
 * Set the saved auxv of @mm, the caller's: @words (at most
 * cptrst_auxv_max_words(), checked by the Rust caller) from @auxv, the
 * rest zero.
 */
void cptrst_mm_apply_auxv(struct mm_struct *mm, const __u64 *auxv, unsigned int words)
{
	unsigned int i;

	task_lock(current);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	for (i = 0; i < words && i < ARRAY_SIZE(mm->saved_auxv); i++)
		mm->saved_auxv[i] = auxv[i];
	task_unlock(current);
}

/* Words of mm->saved_auxv. */
unsigned int cptrst_auxv_max_words(void)
{
	return AT_VECTOR_SIZE;
}

/* Where @mm's vDSO is (mm->context.vdso). */
__u64 cptrst_mm_vdso(struct mm_struct *mm)
{
	return (unsigned long)mm->context.vdso;
}

/* ---------------------------------------------------------------------
 * The restore trampoline: position-independent user code, kept here as
 * data (.rodata, never executed in the kernel) and copied into the restored
 * address space, in a hole of the image's layout, followed by one parameter
 * page per task of that address space (struct cptrst_tramp_params in
 * include/cptrst_abi.h, TrampParams in
 * src/restore_mm.rs): each task enters with its stack pointer on its page.
 * Only the mm's owner has [vdso]/[vvar] to move and an exe link to set;
 * the other tasks' blocks have zero lengths and no fd, so they only set
 * their fs/gs bases. A module cannot
 * create or move the vDSO and vvar (special mappings; mremap() of a whole
 * one is allowed and updates mm->context.vdso), so user code does it:
 *
 *  1. the first restart call unmapped everything but [vdso] and [vvar] and
 *     returned here; park [vvar] and [vdso] inside the trampoline mapping,
 *     out of the way of every image mapping;
 *  2. restart call (RESUME): the kernel maps the image and fills it;
 *  3. move [vvar] and [vdso] from their parking places to the image's
 *     addresses (now free), set the executable link (best effort: it needs
 *     CAP_SYS_RESOURCE), then the fs and gs bases;
 *  4. run the task's restore program (src/restore_prog.rs), still with
 *     every signal blocked: the system calls that restore its signal
 *     dispositions, pending signals, timers, limits and credentials, so
 *     that each is checked as for any process (struct cptrst_tramp_op);
 *  5. restart call (RESUME): the kernel commits registers and the rest and
 *     returns into the restored program; it never comes back here.
 *
 * A failing step stores its number and result in the parameter block and
 * goes straight to the next restart call, which reports it and kills the
 * task. Nothing here touches the stack or any memory but the task's own
 * area of the mapping (its block, program and the program's data).
 */

#define __tp_str(x) #x
#define tp_str(x) __tp_str(x)

#define TRAMP_MREMAP(step, from, len, to, fail)				\
	"	movq $" tp_str(step) ", %r15\n"				\
	"	movq " tp_str(len) "(%rbx), %rsi\n"			\
	"	testq %rsi, %rsi\n"					\
	"	jz 1f\n"						\
	"	movq " tp_str(from) "(%rbx), %rdi\n"			\
	"	movq %rsi, %rdx\n"					\
	"	movl $3, %r10d\n"	/* MREMAP_MAYMOVE|MREMAP_FIXED */ \
	"	movq " tp_str(to) "(%rbx), %r8\n"			\
	"	movl $25, %eax\n"	/* __NR_mremap */		\
	"	syscall\n"						\
	"	cmpq $-4095, %rax\n"					\
	"	jae " fail "\n"						\
	"1:\n"

#define TRAMP_RESTART							\
	"	movq " tp_str(CPTRST_TP_DEVFD) "(%rbx), %rdi\n"		\
	"	movq " tp_str(CPTRST_TP_CMD) "(%rbx), %rsi\n"			\
	"	leaq " tp_str(CPTRST_TP_ARGS) "(%rbx), %rdx\n"			\
	"	movl $16, %eax\n"	/* __NR_ioctl */		\
	"	syscall\n"

asm(
	"	.pushsection .rodata, \"a\"\n"
	"	.balign 64\n"
	"	.globl cptrst_tramp_start\n"
	"cptrst_tramp_start:\n"
	"	movq %rsp, %rbx\n"	/* the task's parameter page */
	/* 1: park [vvar] and [vdso] */
	TRAMP_MREMAP(1, CPTRST_TP_VVAR_CUR, CPTRST_TP_VVAR_LEN, CPTRST_TP_VVAR_PARK, ".Lcptrst_fail_a")
	TRAMP_MREMAP(2, CPTRST_TP_VDSO_CUR, CPTRST_TP_VDSO_LEN, CPTRST_TP_VDSO_PARK, ".Lcptrst_fail_a")
	"	jmp .Lcptrst_map\n"
	".Lcptrst_fail_a:\n"
	"	movq %r15, " tp_str(CPTRST_TP_STEP) "(%rbx)\n"
	"	movq %rax, " tp_str(CPTRST_TP_ERR) "(%rbx)\n"
	/* 2: the kernel maps the image */
	".Lcptrst_map:\n"
	TRAMP_RESTART
	"	testq %rax, %rax\n"
	"	jnz .Lcptrst_die\n"
	/* 3: [vvar] and [vdso] to the image's addresses, exe link, fs/gs */
	TRAMP_MREMAP(3, CPTRST_TP_VVAR_PARK, CPTRST_TP_VVAR_LEN, CPTRST_TP_VVAR_IMG, ".Lcptrst_fail_b")
	TRAMP_MREMAP(4, CPTRST_TP_VDSO_PARK, CPTRST_TP_VDSO_LEN, CPTRST_TP_VDSO_IMG, ".Lcptrst_fail_b")
	"	movq " tp_str(CPTRST_TP_EXEFD) "(%rbx), %r12\n"
	"	testq %r12, %r12\n"
	"	js 2f\n"
	"	movl $35, %edi\n"	/* PR_SET_MM */
	"	movl $13, %esi\n"	/* PR_SET_MM_EXE_FILE */
	"	movq %r12, %rdx\n"
	"	xorl %r10d, %r10d\n"
	"	xorl %r8d, %r8d\n"
	"	movl $157, %eax\n"	/* __NR_prctl */
	"	syscall\n"
	"	movq %r12, %rdi\n"
	"	movl $3, %eax\n"	/* __NR_close */
	"	syscall\n"
	"2:\n"
	"	movq $6, %r15\n"
	"	movl $0x1002, %edi\n"	/* ARCH_SET_FS */
	"	movq " tp_str(CPTRST_TP_FS_BASE) "(%rbx), %rsi\n"
	"	movl $158, %eax\n"	/* __NR_arch_prctl */
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae .Lcptrst_fail_b\n"
	"	movq $7, %r15\n"
	"	movl $0x1001, %edi\n"	/* ARCH_SET_GS */
	"	movq " tp_str(CPTRST_TP_GS_BASE) "(%rbx), %rsi\n"
	"	movl $158, %eax\n"
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae .Lcptrst_fail_b\n"
	/* 5: the restore program: op after op, each @count times */
	"	movq " tp_str(CPTRST_TP_PROG) "(%rbx), %r12\n"
	"	xorl %r14d, %r14d\n"	/* the op's index */
	".Lcptrst_op:\n"
	"	cmpq " tp_str(CPTRST_TP_NOPS) "(%rbx), %r14\n"
	"	jae .Lcptrst_commit\n"
	"	movl " tp_str(CPTRST_OP_COUNT) "(%r12), %r13d\n"
	"	movq " tp_str(CPTRST_OP_ARG0) "(%r12), %rbp\n"
	".Lcptrst_call:\n"
	"	testl %r13d, %r13d\n"
	"	jz .Lcptrst_op_next\n"
	"	movq %rbp, %rdi\n"
	"	movq " tp_str(CPTRST_OP_ARG1) "(%r12), %rsi\n"
	"	movq " tp_str(CPTRST_OP_ARG2) "(%r12), %rdx\n"
	"	movq " tp_str(CPTRST_OP_ARG3) "(%r12), %r10\n"
	"	movq " tp_str(CPTRST_OP_ARG4) "(%r12), %r8\n"
	"	movq " tp_str(CPTRST_OP_ARG5) "(%r12), %r9\n"
	"	movq " tp_str(CPTRST_OP_NR) "(%r12), %rax\n"
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae .Lcptrst_op_fail\n"
	"	addq " tp_str(CPTRST_OP_INC) "(%r12), %rbp\n"
	"	decl %r13d\n"
	"	jmp .Lcptrst_call\n"
	".Lcptrst_op_next:\n"
	"	addq $" tp_str(CPTRST_OP_SIZE) ", %r12\n"
	"	incq %r14\n"
	"	jmp .Lcptrst_op\n"
	".Lcptrst_op_fail:\n"
	"	movq %r14, " tp_str(CPTRST_TP_OP_INDEX) "(%rbx)\n"
	"	movq %rbp, " tp_str(CPTRST_TP_OP_ARG0) "(%rbx)\n"
	"	movq $8, %r15\n"
	".Lcptrst_fail_b:\n"
	"	movq %r15, " tp_str(CPTRST_TP_STEP) "(%rbx)\n"
	"	movq %rax, " tp_str(CPTRST_TP_ERR) "(%rbx)\n"
	/* 6: the kernel commits; on success this call does not come back */
	".Lcptrst_commit:\n"
	TRAMP_RESTART
	".Lcptrst_die:\n"
	"	movl $127, %edi\n"
	"	movl $231, %eax\n"	/* __NR_exit_group */
	"	syscall\n"
	"	jmp .Lcptrst_die\n"
	"	.globl cptrst_tramp_end\n"
	"cptrst_tramp_end:\n"
	"	.popsection\n"
);

/* ---------------------------------------------------------------------
 * The fd table of the restored task (current).
 */

/*
 * Close every fd of the caller but the @n fds of @keep (ascending), and
 * every fd of @dev (/dev/cptrst) even if listed: no restored program keeps
 * one. The file of the running ioctl stays valid: close_fd() drops the
 * table's reference with fput(), whose last release of a task's file waits
 * for its return to user space (task work), and the coordinator's fd
 * holds the same file until every participant has committed.
 */
void cptrst_rst_close_fds_except(const __u32 *keep, unsigned int n, struct file *dev)
{
	struct files_struct *files = current->files;
	unsigned int fd, max, i = 0;

	rcu_read_lock();
	max = files_fdtable(files)->max_fds;
	rcu_read_unlock();
	for (fd = 0; fd < max; fd++) {
		bool is_dev;

		while (i < n && keep[i] < fd)
			i++;
		if (i < n && keep[i] == fd) {
			rcu_read_lock();
			is_dev = files_lookup_fd_raw(files, fd) == dev;
			rcu_read_unlock();
			if (!is_dev)
				continue;
		}
		close_fd(fd);
	}
}

/* ---------------------------------------------------------------------
 * The restore program's facts and its commit (src/restore_creds.rs,
 * src/restore_prog.rs): the calling task's own state, read; decisions in
 * Rust.
 */

/* The caller's ids (in its user namespace), capabilities and other state. */
void cptrst_rst_self(struct cptrst_rst_self *out)
{
	const struct cred *c = current_cred();
	struct user_namespace *ns = current_user_ns();
	struct task_struct *leader = current->group_leader;
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->uid = from_kuid_munged(ns, c->uid);
	out->gid = from_kgid_munged(ns, c->gid);
	out->euid = from_kuid_munged(ns, c->euid);
	out->egid = from_kgid_munged(ns, c->egid);
	out->suid = from_kuid_munged(ns, c->suid);
	out->sgid = from_kgid_munged(ns, c->sgid);
	out->fsuid = from_kuid_munged(ns, c->fsuid);
	out->fsgid = from_kgid_munged(ns, c->fsgid);
	out->cap_inheritable = c->cap_inheritable.val;
	out->cap_permitted = c->cap_permitted.val;
	out->cap_effective = c->cap_effective.val;
	out->cap_bset = c->cap_bset.val;
	out->cap_ambient = c->cap_ambient.val;
	out->securebits = c->securebits;
	out->no_new_privs = task_no_new_privs(current);
	out->ngroups = c->group_info->ngroups;
	out->sas_ss_flags = current->sas_ss_flags;
	out->sas_ss_sp = current->sas_ss_sp;
	out->sas_ss_size = current->sas_ss_size;
	out->timer_slack_ns = current->timer_slack_ns;
	static_assert(CPTRST_RLIMITS == RLIM_NLIMITS);
	task_lock(leader);
	for (i = 0; i < RLIM_NLIMITS; i++) {
		out->rlim[i][0] = current->signal->rlim[i].rlim_cur;
		out->rlim[i][1] = current->signal->rlim[i].rlim_max;
	}
	task_unlock(leader);
	out->tgid = task_tgid_vnr(current);
	out->pid = task_pid_vnr(current);
}

/*
 * Forget the caller's alternate signal stack (the restart tool's, in the
 * address space being replaced): the restore program sets the image's.
 */
void cptrst_rst_reset_altstack(void)
{
	sas_ss_reset(current);
}

/*
 * The caller's supplementary groups (in its user namespace, ascending as
 * the kernel keeps them): the first @max in @out; returns how many it has.
 */
unsigned int cptrst_rst_groups(__u32 *out, unsigned int max)
{
	const struct group_info *g = current_cred()->group_info;
	struct user_namespace *ns = current_user_ns();
	unsigned int i;

	for (i = 0; i < g->ngroups && i < max; i++)
		out[i] = from_kgid_munged(ns, g->gid[i]);
	return g->ngroups;
}

/*
 * Set the overrun count timer_getoverrun() returns for the caller's POSIX
 * timer @id: -ENOENT if it has none with that id. The timer is looked up
 * under siglock and changed under its own lock, taken after siglock is
 * dropped (the timer code nests siglock inside it_lock): only the tasks
 * of the caller's thread group can delete it, and each of them is in a
 * restart call.
 */
int cptrst_rst_timer_set_overrun(int id, __s64 overrun)
{
	struct k_itimer *t, *found = NULL;

	spin_lock_irq(&current->sighand->siglock);
	hlist_for_each_entry(t, &current->signal->posix_timers, list) {
		if (t->it_id == id) {
			found = t;
			break;
		}
	}
	spin_unlock_irq(&current->sighand->siglock);
	if (!found)
		return -ENOENT;
	spin_lock_irq(&found->it_lock);
	found->it_overrun_last = overrun;
	spin_unlock_irq(&found->it_lock);
	return 0;
}
