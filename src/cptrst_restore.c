// SPDX-License-Identifier: GPL-2.0
/*
 * cptrst C shim, restart side: what the Rust restore code (src/restart.rs,
 * src/restore_mm.rs) needs from kernel internals that 6.12's `kernel` crate
 * does not reach. Each function is small and does one thing; the policy
 * (what to map, in which order, what to refuse) is in Rust.
 *
 * Functions named cptrst_rst_* act on the calling task, which is the task
 * being restored, from inside its own restart ioctl.
 */
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/futex.h>
#include <linux/rseq.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/mman.h>
#include <linux/mmap_lock.h>
#include <linux/personality.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/regset.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/task_stack.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/task_work.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/sizes.h>
#include <asm/fpu/api.h>
#include <asm/ptrace.h>
#include <asm/sighandling.h>

#include "../include/cptrst_abi.h"
#include "../include/cptrst_shim.h"
#include "../include/cptrst_restore.h"

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

/*
 * The restart bookkeeping of the whole module (the registry of restart
 * contexts and their mutable state) is under one mutex, held only for a
 * few loads and stores: never across a wait, a user copy or an image read. Participants that
 * arrive before their context exists wait on the global queue.
 */
static DEFINE_MUTEX(cptrst_rst_mutex);
static struct cptrst_waitq cptrst_rst_global = {
	.wq = __WAIT_QUEUE_HEAD_INITIALIZER(cptrst_rst_global.wq),
};

void cptrst_rst_lock(void)
{
	mutex_lock(&cptrst_rst_mutex);
}

void cptrst_rst_unlock(void)
{
	mutex_unlock(&cptrst_rst_mutex);
}

struct cptrst_waitq *cptrst_waitq_global(void)
{
	return &cptrst_rst_global;
}

/* ---------------------------------------------------------------------
 * Tasks and pids.
 */
struct task_struct *cptrst_current_get(void)
{
	return get_task_struct(current);
}

/* The pid @nr of the caller's pid namespace, referenced. */
struct pid *cptrst_pid_get_vpid(int nr)
{
	return nr > 0 ? find_get_pid(nr) : NULL;
}

void cptrst_pid_put(struct pid *pid)
{
	put_pid(pid);
}

struct task_struct *cptrst_pid_task_get(struct pid *pid)
{
	return get_pid_task(pid, PIDTYPE_PID);
}

/* Is @t exiting or dead? */
int cptrst_task_gone(struct task_struct *t)
{
	return (READ_ONCE(t->flags) & PF_EXITING) || READ_ONCE(t->exit_state);
}

struct task_struct *cptrst_task_get(struct task_struct *t)
{
	return get_task_struct(t);
}

int cptrst_task_is_current(struct task_struct *t)
{
	return t == current;
}

/* Is @t a child of @parent's thread group? */
int cptrst_task_child_of(struct task_struct *t, struct task_struct *parent)
{
	int ret;

	rcu_read_lock();
	ret = pid_alive(t) && same_thread_group(rcu_dereference(t->real_parent), parent);
	rcu_read_unlock();
	return ret;
}

/* The pid namespace @pid was allocated in (its task's active one), referenced. */
struct pid_namespace *cptrst_pid_ns_get(struct pid *pid)
{
	return get_pid_ns(ns_of_pid(pid));
}

/* Does a live task (neither exiting nor a zombie) have pid @nr in @ns? */
int cptrst_pid_alive(struct pid_namespace *ns, int nr)
{
	struct task_struct *t;
	int ret = 0;

	rcu_read_lock();
	t = pid_task(find_pid_ns(nr, ns), PIDTYPE_PID);
	if (t)
		ret = !cptrst_task_gone(t);
	rcu_read_unlock();
	return ret;
}

/* Is @t a zombie? Then @code gets its exit code. */
int cptrst_task_exit_code(struct task_struct *t, int *code)
{
	if (READ_ONCE(t->exit_state) != EXIT_ZOMBIE)
		return 0;
	*code = READ_ONCE(t->exit_code);
	return 1;
}

/* @t's thread group id as the caller sees it. */
int cptrst_task_tgid_vnr(struct task_struct *t)
{
	return task_tgid_vnr(t);
}

/*
 * SIGKILL to @t's thread group, with the caller's rights: kill(2)'s
 * permission check (check_kill_permission) applies, so a task the caller
 * could not signal is left alone (-EPERM).
 */
int cptrst_task_kill(struct task_struct *t)
{
	struct pid *pid = get_task_pid(t, PIDTYPE_TGID);
	int err;

	if (!pid)
		return -ESRCH;
	err = kill_pid(pid, SIGKILL, 0);
	put_pid(pid);
	return err;
}

/* The caller dies on its way out of the kernel: no user instruction runs. */
void cptrst_current_kill(void)
{
	force_sig(SIGKILL);
}

__u64 cptrst_task_size(void)
{
	return TASK_SIZE;
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
 *  4. restart call (RESUME): the kernel commits registers and the rest and
 *     returns into the restored program; it never comes back here.
 *
 * A failing step stores its number and result in the parameter block and
 * goes straight to the next restart call, which reports it and kills the
 * task. Nothing here touches the stack or any memory but the block.
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
	"	jmp .Lcptrst_commit\n"
	".Lcptrst_fail_b:\n"
	"	movq %r15, " tp_str(CPTRST_TP_STEP) "(%rbx)\n"
	"	movq %rax, " tp_str(CPTRST_TP_ERR) "(%rbx)\n"
	/* 4: the kernel commits; on success this call does not come back */
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
 * Task state of the restored task (current).
 */

/* Where the caller goes when its ioctl returns: @ip, with stack @sp. */
void cptrst_rst_set_ip_sp(__u64 ip, __u64 sp)
{
	struct pt_regs *r = current_pt_regs();

	r->ip = ip;
	r->sp = sp;
	r->orig_ax = -1;
}

/* Close every fd of the caller from @first on. */
void cptrst_rst_close_fds_from(unsigned int first)
{
	unsigned int fd, max;

	rcu_read_lock();
	max = files_fdtable(current->files)->max_fds;
	rcu_read_unlock();
	for (fd = first; fd < max; fd++)
		close_fd(fd);
}

#define UNBLOCKABLE (sigmask(SIGKILL) | sigmask(SIGSTOP))

/* Block every signal that can be blocked; @old gets the previous mask. */
int cptrst_rst_block_signals(__u64 *old)
{
	sigset_t all, prev;
	int ret;

	sigfillset(&all);
	sigdelsetmask(&all, UNBLOCKABLE);
	ret = sigprocmask(SIG_SETMASK, &all, &prev);
	*old = prev.sig[0];
	return ret;
}

int cptrst_rst_set_sigmask(__u64 blocked)
{
	sigset_t set;

	sigemptyset(&set);
	set.sig[0] = blocked & ~UNBLOCKABLE;
	return sigprocmask(SIG_SETMASK, &set, NULL);
}

/*
 * Write the general registers (struct user_regs_struct order) into the
 * caller's saved user registers: they take effect when the ioctl returns.
 * A 64-bit user context only: cs and ss must be the 64-bit user selectors,
 * ip and sp user addresses. Only the flags a signal return may set are
 * taken (FIX_EFLAGS). orig_ax = -1: no syscall restart on the way out.
 * ax is overwritten by the ioctl's return value; cptrst_rst_queue_ax()
 * sets it afterwards. fs/gs bases are set by the trampoline, the segment
 * selectors ds/es/fs/gs are left as they are (0 for a 64-bit task).
 */
int cptrst_rst_set_regs(const __u64 *v, unsigned int n)
{
	struct pt_regs *r = current_pt_regs();

	if (n != sizeof(struct user_regs_struct) / 8)
		return -EINVAL;
	if (v[17] != __USER_CS || v[20] != __USER_DS)
		return -EINVAL;
	if (v[16] >= TASK_SIZE_MAX || v[19] >= TASK_SIZE_MAX)
		return -EINVAL;
	r->r15 = v[0];
	r->r14 = v[1];
	r->r13 = v[2];
	r->r12 = v[3];
	r->bp = v[4];
	r->bx = v[5];
	r->r11 = v[6];
	r->r10 = v[7];
	r->r9 = v[8];
	r->r8 = v[9];
	r->ax = v[10];
	r->cx = v[11];
	r->dx = v[12];
	r->si = v[13];
	r->di = v[14];
	r->orig_ax = -1;
	r->ip = v[16];
	r->cs = __USER_CS;
	r->flags = (r->flags & ~FIX_EFLAGS) | (v[18] & FIX_EFLAGS);
	r->sp = v[19];
	r->ss = __USER_DS;
	return 0;
}

/*
 * The command name. As __set_task_comm() (not exported) without its trace
 * and perf events: under task_lock, NUL-padded.
 */
void cptrst_rst_set_comm(const char *comm)
{
	char buf[TASK_COMM_LEN];

	memcpy(buf, comm, TASK_COMM_LEN);
	buf[TASK_COMM_LEN - 1] = 0;
	task_lock(current);
	strscpy_pad(current->comm, buf, sizeof(current->comm));
	task_unlock(current);
}

/* The Linux execution domain only; its flags (ADDR_NO_RANDOMIZE, ...) kept. */
int cptrst_rst_set_personality(__u32 personality)
{
	if ((personality & PER_MASK) != PER_LINUX)
		return -EINVAL;
	current->personality = personality;
	return 0;
}

/*
 * The per-thread state the thread library registered (what
 * set_tid_address, set_robust_list and rseq store), with their checks:
 * a robust list head of the kernel's size, an rseq area aligned and at
 * least the original size. The addresses are checked when the kernel uses
 * them, as for the system calls.
 */
int cptrst_rst_set_thread_state(const struct cptrst_thread_state *ts)
{
	if (ts->clear_child_tid >= TASK_SIZE || ts->robust_list >= TASK_SIZE || ts->rseq >= TASK_SIZE)
		return -EINVAL;
	if (ts->robust_list && ts->robust_list_len != sizeof(struct robust_list_head))
		return -EINVAL;
	current->clear_child_tid = (int __user *)(unsigned long)ts->clear_child_tid;
#ifdef CONFIG_FUTEX
	current->robust_list = (struct robust_list_head __user *)(unsigned long)ts->robust_list;
#endif
#ifdef CONFIG_RSEQ
	if (ts->rseq) {
		if (!IS_ALIGNED(ts->rseq, __alignof__(struct rseq)) || ts->rseq_len < ORIG_RSEQ_SIZE)
			return -EINVAL;
		current->rseq = (struct rseq __user *)(unsigned long)ts->rseq;
		current->rseq_len = ts->rseq_len;
		current->rseq_sig = ts->rseq_sig;
		rseq_set_notify_resume(current);
	}
#else
	if (ts->rseq)
		return -EOPNOTSUPP;
#endif
	return 0;
}

void cptrst_rst_clear_pdeath(void)
{
	current->pdeath_signal = 0;
}

/*
 * rax: the syscall return path stores the ioctl's result in regs->ax after
 * the ioctl returns, so the restored value is written by a task work, which
 * runs after that store and before any signal frame is built. The work
 * holds a reference on @pin, the /dev/cptrst file whose fops own the module,
 * so that the module cannot be unloaded while the work is queued; the
 * callback's last act is fput(), which defers the final release (and the
 * module_put()) to after the callback has returned.
 */
struct cptrst_ax_work {
	struct callback_head cb;
	struct file *pin;
	u64 ax;
};

static void cptrst_ax_fn(struct callback_head *cb)
{
	struct cptrst_ax_work *w = container_of(cb, struct cptrst_ax_work, cb);
	struct file *pin = w->pin;

	if (!(current->flags & PF_EXITING))
		current_pt_regs()->ax = w->ax;
	kfree(w);
	fput(pin);
}

int cptrst_rst_queue_ax(struct file *pin, __u64 ax)
{
	struct cptrst_ax_work *w = kmalloc(sizeof(*w), GFP_KERNEL);
	int ret;

	if (!w)
		return -ENOMEM;
	w->ax = ax;
	w->pin = get_file(pin);
	init_task_work(&w->cb, cptrst_ax_fn);
	ret = task_work_add(current, &w->cb, TWA_RESUME);
	if (ret) {
		fput(pin);
		kfree(w);
	}
	return ret;
}

/*
 * Park the caller's FPU state: save the live registers into its fpstate
 * and set TIF_NEED_FPU_LOAD, so that nothing rewrites the fpstate from the
 * registers until the task returns to user space, where the fpstate is
 * loaded. Another task may then set it (cptrst_task_set_xstate()).
 */
void cptrst_rst_fpu_park(void)
{
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
}

/*
 * Set the xstate of @t, a task parked in its restart ioctl after
 * cptrst_rst_fpu_park(), from a standard-format XSAVE buffer of exactly the
 * regset's size, through the NT_X86_XSTATE regset (which validates it and
 * converts it to the kernel's format). Never on the caller itself.
 */
int cptrst_task_set_xstate(struct task_struct *t, const void *buf, unsigned int size)
{
	const struct user_regset_view *view;
	unsigned int i;

	if (t == current)
		return -EINVAL;
	view = task_user_regset_view(t);
	for (i = 0; i < view->n; i++) {
		const struct user_regset *rs = &view->regsets[i];

		if (rs->core_note_type != NT_X86_XSTATE)
			continue;
		if (!rs->set)
			return -EOPNOTSUPP;
		if (rs->n * rs->size != size)
			return -EINVAL;
		return rs->set(t, rs, 0, size, buf, NULL);
	}
	return -EOPNOTSUPP;
}
