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
#include <linux/sizes.h>

#include "../include/cptrst_shim.h"
#include "../include/cptrst_restore.h"
#include "../include/cptrst_abi.h"

static_assert(sizeof(struct cptrst_special) == 32);
static_assert(sizeof(struct cptrst_mm_layout) == 11 * 8);

/* ---------------------------------------------------------------------
 * The image fd.
 */

/*
 * Take the caller's @fd for reading the image twice: EBADF unless open for
 * reading, ESPIPE unless a regular file that can be read at any offset
 * (a pipe or socket cannot be read twice; the tool copies those into a
 * memfd). @pos gets the file position: the image starts there.
 */
struct file *cptrst_in_get(int fd, __u64 *pos)
{
	struct file *f = fget(fd);

	if (!f)
		return ERR_PTR(-EBADF);
	if (!(f->f_mode & FMODE_READ) || cptrst_file_is_dev(f)) {
		fput(f);
		return ERR_PTR(-EBADF);
	}
	if (!S_ISREG(file_inode(f)->i_mode) || !(f->f_mode & FMODE_PREAD) ||
	    (f->f_mode & FMODE_STREAM) || !(f->f_mode & FMODE_CAN_READ)) {
		fput(f);
		return ERR_PTR(-ESPIPE);
	}
	*pos = f->f_pos;
	return f;
}

/*
 * Read up to @len bytes at @pos; fewer only at the end of the file. A
 * signal that interrupts the read (a fatal one, or one with a handler on a
 * file system that checks) ends it with -EINTR: the restart fails cleanly.
 */
long cptrst_in_read(struct file *f, void *buf, unsigned long len, __u64 pos)
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
 * for read(2)). -EINTR as cptrst_in_read; -EFAULT for a bad destination;
 * -ENODATA if the file ends first; -EOPNOTSUPP if the file has no
 * ->read_iter.
 */
long cptrst_in_read_user(struct file *f, __u64 addr, unsigned long len, __u64 pos)
{
	if (!f->f_op->read_iter)
		return -EOPNOTSUPP;	/* only ->read: the caller reads through a buffer */
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
 * The raw CRC32C *@crc extended over @len bytes of @f at @pos, read in
 * place in the page cache of a shmem file: 1 when done, 0 when a page is
 * not in memory (*@crc is then unchanged), -EINTR on a fatal signal.
 */
static long in_crc_range(struct file *f, __u64 pos, unsigned long len, __u32 *crc)
{
	struct address_space *m = f->f_mapping;
	u32 c = *crc;

	while (len) {
		pgoff_t index = pos >> PAGE_SHIFT;
		unsigned long off = offset_in_page(pos);
		unsigned long n = min_t(unsigned long, len, PAGE_SIZE - off);
		struct folio *folio;
		void *p;

		if (fatal_signal_pending(current))
			return -EINTR;
		folio = filemap_get_folio(m, index);
		if (IS_ERR(folio))
			return 0;
		if (!folio_test_uptodate(folio)) {
			folio_put(folio);
			return 0;
		}
		p = kmap_local_page(folio_file_page(folio, index));
		c = cptrst_crc32c(c, p + off, n);
		kunmap_local(p);
		folio_put(folio);
		pos += n;
		len -= n;
		cond_resched();
	}
	*crc = c;
	return 1;
}

/* The second half of a range, checksummed by a worker meanwhile. */
struct in_crc_job {
	struct cptrst_bg bg;
	struct file *f;
	__u64 pos;
	unsigned long len;
	u32 crc;
	long ret;
};

static void in_crc_job_fn(struct cptrst_bg *b)
{
	struct in_crc_job *j = container_of(b, struct in_crc_job, bg);

	j->ret = in_crc_range(j->f, j->pos, j->len, &j->crc);
}

/*
 * Extend the raw CRC32C *@crc over @len bytes of @f at @pos, read in place
 * in the page cache, without copying them: only for a shmem file (tmpfs,
 * memfd: what `cptrst restart` reads) whose pages are all in memory, and
 * with the kernel's crc32c. A large range is split in two, the second half
 * checksummed by a worker (on another CPU if one is idle) and combined.
 * 1 when done; 0 when it could not (then *@crc is unchanged and the caller
 * reads the bytes); -EINTR on a fatal signal.
 */
long cptrst_in_crc(struct file *f, __u64 pos, unsigned long len, __u32 *crc)
{
	struct in_crc_job *j = NULL;
	unsigned long half = len;
	u32 c = *crc;
	long r;

	if (!cptrst_crc32c_available() || !shmem_mapping(f->f_mapping))
		return 0;
	if (pos + len < pos || pos + len > i_size_read(file_inode(f)))
		return 0;
	if (IS_REACHABLE(CONFIG_CRC32) && len >= SZ_2M)
		j = kmalloc(sizeof(*j), GFP_KERNEL);
	if (j) {
		half = (len / 2) & PAGE_MASK;
		j->f = f;	/* the caller's reference outlives the job */
		j->pos = pos + half;
		j->len = len - half;
		j->crc = 0;
		cptrst_bg_start(&j->bg, in_crc_job_fn);
	}
	r = in_crc_range(f, pos, half, &c);
	if (j) {
		/* Not killable: the job reads the caller's file; it is bounded. */
		cptrst_bg_wait(&j->bg);
		if (r == 1 && j->ret != 1)
			r = j->ret;
		if (r == 1)
			c = cptrst_crc32c_shift(c, j->len) ^ j->crc;
		kfree(j);
	}
	if (r == 1)
		*crc = c;
	return r;
}

/*
 * Look up a file the image names by its absolute path, as the caller,
 * without opening it: no FIFO open blocks and no device's open method
 * runs before Rust has seen what the path is: the inode's @mode, and in
 * @pseudo whether it is on a file system whose files are never executable
 * or mappable data (SB_I_NOEXEC: proc, sysfs, cgroupfs, pidfs...).
 */
struct path *cptrst_path_get(const char *name, __u32 *mode, __u32 *pseudo)
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

/* The caller's RLIMIT_NOFILE (soft): the bound on the files a restart holds. */
unsigned long cptrst_nofile_max(void)
{
	return rlimit(RLIMIT_NOFILE);
}

void cptrst_file_put(struct file *f)
{
	fput(f);
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
static int special_kind(struct vm_area_struct *vma)
{
	const char *name;

	if (!vma->vm_ops || !vma->vm_ops->name)
		return 0;
	name = vma->vm_ops->name(vma);
	if (name && !strcmp(name, "[vdso]"))
		return 1;
	if (name && !strcmp(name, "[vvar]"))
		return 2;
	return 0;
}

/* Where the caller's vDSO and vvar are now (zeros for a missing one). */
int cptrst_rst_special(struct cptrst_special *out)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	VMA_ITERATOR(vmi, mm, 0);

	memset(out, 0, sizeof(*out));
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	for_each_vma(vmi, vma) {
		switch (special_kind(vma)) {
		case 1:
			out->vdso_start = vma->vm_start;
			out->vdso_end = vma->vm_end;
			break;
		case 2:
			out->vvar_start = vma->vm_start;
			out->vvar_end = vma->vm_end;
			break;
		}
	}
	mmap_read_unlock(mm);
	return 0;
}

/*
 * Unmap every mapping of the caller except the vDSO and vvar, which a module
 * cannot create or move (the trampoline moves them). Returns the number of
 * mappings removed.
 */
long cptrst_rst_unmap_all(void)
{
	struct mm_struct *mm = current->mm;
	unsigned long addr = 0;
	long n = 0;

	for (;;) {
		struct vm_area_struct *vma;
		unsigned long start, end;
		int ret;

		if (mmap_read_lock_killable(mm))
			return -EINTR;
		vma = find_vma(mm, addr);
		while (vma && special_kind(vma)) {
			addr = vma->vm_end;
			vma = find_vma(mm, addr);
		}
		if (!vma) {
			mmap_read_unlock(mm);
			return n;
		}
		start = vma->vm_start;
		end = vma->vm_end;
		mmap_read_unlock(mm);
		ret = vm_munmap(start, end - start);
		if (ret)
			return ret;
		addr = end;
		n++;
	}
}

#define CPTRST_MAP_OK (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | \
		       MAP_GROWSDOWN | MAP_NORESERVE)

/* vm_mmap() at exactly @addr. Returns 0 or -errno. */
long cptrst_rst_mmap(struct file *f, __u64 addr, __u64 len, __u32 prot, __u32 flags, __u64 off)
{
	unsigned long r;

	if ((flags & ~CPTRST_MAP_OK) || !(flags & MAP_FIXED) ||
	    (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -EINVAL;
	r = vm_mmap(f, addr, len, prot, flags, off);
	if (IS_ERR_VALUE(r))
		return (long)r;
	if (r != addr) {
		vm_munmap(r, len);
		return -EINVAL;
	}
	return 0;
}

int cptrst_rst_munmap(__u64 addr, __u64 len)
{
	return vm_munmap(addr, len);
}

/*
 * Write into a private mapping without write permission (read-only or
 * PROT_NONE), breaking copy-on-write as a ptrace POKE does.
 */
int cptrst_rst_write_force(__u64 addr, const void *buf, unsigned long len)
{
	int n = access_process_vm(current, addr, (void *)buf, len, FOLL_FORCE | FOLL_WRITE);

	return n == len ? 0 : -EFAULT;
}

/*
 * A shared memory object of @size bytes, as mmap(MAP_SHARED|MAP_ANONYMOUS)
 * makes (shmem_zero_setup: "dev/zero" on the internal mount, no LSM
 * inode checks), for every mapping of the image that shares it.
 */
struct file *cptrst_shmem_create(__u64 size)
{
	if (!size || size > MAX_LFS_FILESIZE)
		return ERR_PTR(-EINVAL);
	return shmem_kernel_file_setup("dev/zero", size, 0);
}

/* Write all of @buf into @f at @pos. */
int cptrst_file_write(struct file *f, __u64 pos, const void *buf, unsigned long len)
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

int cptrst_rst_copy_to_user(__u64 addr, const void *buf, unsigned long len)
{
	return copy_to_user((void __user *)addr, buf, len) ? -EFAULT : 0;
}

int cptrst_rst_copy_from_user(void *buf, __u64 addr, unsigned long len)
{
	return copy_from_user(buf, (const void __user *)addr, len) ? -EFAULT : 0;
}

/*
 * Set the mm's layout fields and saved auxv, with the checks of
 * prctl(PR_SET_MM_MAP) (kernel/sys.c validate_prctl_map_addr): every field
 * inside user space, the pairs ordered, brk within RLIMIT_DATA. The lower
 * bound is one page (mmap_min_addr is not exported; no mapping can be
 * below it anyway). The auxv ends with AT_NULL.
 */
int cptrst_rst_set_mm(const struct cptrst_mm_layout *l, const __u64 *auxv, unsigned int words)
{
	struct mm_struct *mm = current->mm;
	const __u64 *f = &l->start_code;
	unsigned int i;

	for (i = 0; i < 11; i++)
		if (f[i] >= TASK_SIZE || f[i] < PAGE_SIZE)
			return -EINVAL;
	if (l->start_code >= l->end_code || l->start_data > l->end_data ||
	    l->start_brk > l->brk || l->arg_start > l->arg_end || l->env_start > l->env_end)
		return -EINVAL;
	if (check_data_rlimit(rlimit(RLIMIT_DATA), l->brk, l->start_brk, l->end_data, l->start_data))
		return -EINVAL;
	if (words < 2 || words > ARRAY_SIZE(mm->saved_auxv) || (words & 1) || auxv[words - 2] != AT_NULL)
		return -EINVAL;
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
	task_lock(current);
	memset(mm->saved_auxv, 0, sizeof(mm->saved_auxv));
	for (i = 0; i < words; i++)
		mm->saved_auxv[i] = auxv[i];
	task_unlock(current);
	return 0;
}

/* Words of mm->saved_auxv. */
unsigned int cptrst_auxv_max_words(void)
{
	return AT_VECTOR_SIZE;
}

int cptrst_rst_vdso_is(__u64 addr)
{
	return (unsigned long)current->mm->context.vdso == addr;
}

/* ---------------------------------------------------------------------
 * The restore trampoline: position-independent user code, kept here as
 * data (.rodata, never executed in the kernel) and copied into the restored
 * address space, in a hole of the image's layout, followed by one parameter
 * page per task of that address space (struct TrampParams in
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
#define TP_STEP		0
#define TP_ERR		8
#define TP_DEVFD	16
#define TP_VVAR_CUR	24
#define TP_VVAR_PARK	32
#define TP_VVAR_IMG	40
#define TP_VVAR_LEN	48
#define TP_VDSO_CUR	56
#define TP_VDSO_PARK	64
#define TP_VDSO_IMG	72
#define TP_VDSO_LEN	80
#define TP_EXEFD	88
#define TP_FS_BASE	96
#define TP_GS_BASE	104
#define TP_ARGS		112
#define TP_CMD		160

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
	"	movq " tp_str(TP_DEVFD) "(%rbx), %rdi\n"		\
	"	movq " tp_str(TP_CMD) "(%rbx), %rsi\n"			\
	"	leaq " tp_str(TP_ARGS) "(%rbx), %rdx\n"			\
	"	movl $16, %eax\n"	/* __NR_ioctl */		\
	"	syscall\n"

asm(
	"	.pushsection .rodata, \"a\"\n"
	"	.balign 64\n"
	"	.globl cptrst_tramp_start\n"
	"cptrst_tramp_start:\n"
	"	movq %rsp, %rbx\n"	/* the task's parameter page */
	/* 1: park [vvar] and [vdso] */
	TRAMP_MREMAP(1, TP_VVAR_CUR, TP_VVAR_LEN, TP_VVAR_PARK, ".Lcptrst_fail_a")
	TRAMP_MREMAP(2, TP_VDSO_CUR, TP_VDSO_LEN, TP_VDSO_PARK, ".Lcptrst_fail_a")
	"	jmp .Lcptrst_map\n"
	".Lcptrst_fail_a:\n"
	"	movq %r15, " tp_str(TP_STEP) "(%rbx)\n"
	"	movq %rax, " tp_str(TP_ERR) "(%rbx)\n"
	/* 2: the kernel maps the image */
	".Lcptrst_map:\n"
	TRAMP_RESTART
	"	testq %rax, %rax\n"
	"	jnz .Lcptrst_die\n"
	/* 3: [vvar] and [vdso] to the image's addresses, exe link, fs/gs */
	TRAMP_MREMAP(3, TP_VVAR_PARK, TP_VVAR_LEN, TP_VVAR_IMG, ".Lcptrst_fail_b")
	TRAMP_MREMAP(4, TP_VDSO_PARK, TP_VDSO_LEN, TP_VDSO_IMG, ".Lcptrst_fail_b")
	"	movq " tp_str(TP_EXEFD) "(%rbx), %r12\n"
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
	"	movq " tp_str(TP_FS_BASE) "(%rbx), %rsi\n"
	"	movl $158, %eax\n"	/* __NR_arch_prctl */
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae .Lcptrst_fail_b\n"
	"	movq $7, %r15\n"
	"	movl $0x1001, %edi\n"	/* ARCH_SET_GS */
	"	movq " tp_str(TP_GS_BASE) "(%rbx), %rsi\n"
	"	movl $158, %eax\n"
	"	syscall\n"
	"	cmpq $-4095, %rax\n"
	"	jae .Lcptrst_fail_b\n"
	"	jmp .Lcptrst_commit\n"
	".Lcptrst_fail_b:\n"
	"	movq %r15, " tp_str(TP_STEP) "(%rbx)\n"
	"	movq %rax, " tp_str(TP_ERR) "(%rbx)\n"
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

/* A new close-on-exec fd of the caller for @f. */
int cptrst_rst_install_fd(struct file *f)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd >= 0)
		fd_install(fd, get_file(f));
	return fd;
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
