// SPDX-License-Identifier: GPL-2.0
/*
 * cptrst C shim: what the Rust crate needs from the kernel and cannot reach
 * through 6.12's `kernel` crate. Here: the misc device /dev/cptrst and its
 * file operations, which hand every ioctl to Rust (cptrst_rs_ioctl).
 *
 * `.owner = THIS_MODULE` makes misc_open() take a module reference for each
 * open file, dropped by __fput() after ->release returned: while any
 * /dev/cptrst is open, rmmod fails with EWOULDBLOCK, and no ioctl can run
 * module code after the module is gone. Nothing here outlives the files.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "../include/cptrst_shim.h"
#include "../include/cptrst_restore.h"
#include "../include/cptrst_abi.h"

MODULE_VERSION("0.1.0");

/*
 * The device: the misc device and the Rust object it serves (the
 * registry of restarts, src/device.rs), handed to every ioctl. misc_open()
 * points file->private_data at the miscdevice.
 */
struct cptrst_dev {
	struct miscdevice misc;
	const void *data;
};

static long cptrst_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cptrst_dev *d = container_of(file->private_data, struct cptrst_dev, misc);

	return cptrst_rs_ioctl(d->data, file, cmd, arg);
}

static const struct file_operations cptrst_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= cptrst_ioctl,
	/* No compat_ioctl: 32-bit callers are not supported (ENOTTY). */
	.llseek		= noop_llseek,
};

static struct cptrst_dev cptrst_dev = {
	.misc = {
		.minor	= MISC_DYNAMIC_MINOR,
		.name	= "cptrst",
		.fops	= &cptrst_fops,
		.mode	= 0600,		/* root-only by default */
	},
};

/* Is @f an open /dev/cptrst? */
int cptrst_file_is_dev(struct file *f)
{
	return f->f_op == &cptrst_fops;
}

/* Registers /dev/cptrst; its ioctls get @data until deregistration. */
int cptrst_misc_register(const void *data)
{
	cptrst_dev.data = data;
	return misc_register(&cptrst_dev.misc);
}

void cptrst_misc_deregister(void)
{
	misc_deregister(&cptrst_dev.misc);
	cptrst_dev.data = NULL;
}

/* ---------------------------------------------------------------------
 * Dump side: mm and pages of a stopped tree (tasks: src/cptrst_task.c).
 */
#include <linux/bvec.h>
#include <linux/crc32.h>
#include <linux/crc32c.h>
#include <linux/elf.h>
#include <linux/fdtable.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/shmem_fs.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/workqueue.h>
#include <linux/completion.h>
#include <linux/slab.h>

static_assert(sizeof(struct cptrst_mm_info) == 8 * 12 + 8 * CPTRST_AUXV_WORDS + 8);
static_assert(sizeof(struct cptrst_vma_info) == 8 * 6 + 16);
static_assert(CPTRST_AUXV_WORDS >= AT_VECTOR_SIZE);

static __u32 file_kind(umode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:	return CPTRST_FILE_REG;
	case S_IFDIR:	return CPTRST_FILE_DIR;
	case S_IFIFO:	return CPTRST_FILE_FIFO;
	case S_IFSOCK:	return CPTRST_FILE_SOCK;
	case S_IFCHR:	return CPTRST_FILE_CHR;
	case S_IFBLK:	return CPTRST_FILE_BLK;
	default:	return CPTRST_FILE_OTHER;	/* anon inodes have no type */
	}
}

/*
 * The open fds of @t in ascending order, with their kinds (CPTRST_FILE_*),
 * into @fds and @kinds, @max entries each. Returns the count (0 for a task
 * without a files_struct: exiting), -E2BIG if @t has more than @max fds,
 * -EINTR if the caller is being killed.
 *
 * This is the walk of /proc/PID/fd (proc_readfd_common). Each call of the
 * exported task_lookup_next_fdget_rcu() reads t->files under task_lock(t),
 * which keeps the files_struct alive for that call (exit_files() and the
 * unshare paths replace t->files under the same lock before dropping their
 * reference), finds the first open fd >= *fd under RCU, and returns its
 * file with a reference of its own: between two calls we hold nothing of
 * the table, only the file we inspect, and drop it with fput(), which does
 * not sleep. The other ways need files_struct pinned across a walk:
 * get_files_struct() no longer exists and put_files_struct() is not
 * exported, and iterate_fd() under task_lock() would nest files->file_lock
 * in alloc_lock for the whole walk: a long hold of two spinlocks in an
 * order of our own invention. The tree is stopped; a
 * process outside it sharing the table (CLONE_FILES) could change it during
 * the walk, which then is as good a snapshot as /proc's. O_PATH fds are
 * listed too (the lookup masks no f_mode bit).
 */
int cptrst_task_fds(struct task_struct *t, __u32 *fds, __u32 *kinds, unsigned int max)
{
	unsigned int fd = 0, n = 0;

	for (;;) {
		struct file *f;
		umode_t mode;

		rcu_read_lock();
		f = task_lookup_next_fdget_rcu(t, &fd);
		rcu_read_unlock();
		if (!f)
			break;
		mode = file_inode(f)->i_mode;
		fput(f);
		if (n == max)
			return -E2BIG;
		fds[n] = fd;
		kinds[n] = file_kind(mode);
		n++;
		if (fd == UINT_MAX)
			break;
		fd++;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return n;
}

struct mm_struct *cptrst_task_mm_get(struct task_struct *t)
{
	return get_task_mm(t);
}

void cptrst_mm_put(struct mm_struct *mm)
{
	mmput(mm);
}

int cptrst_mm_read_lock(struct mm_struct *mm)
{
	return mmap_read_lock_killable(mm);
}

void cptrst_mm_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

/* d_path() into @buf, moved to its start. Returns the length or -errno. */
static int path_of(const struct path *path, char *buf, unsigned int size)
{
	char *p = d_path(path, buf, size);
	int len;

	if (IS_ERR(p))
		return PTR_ERR(p);
	len = strlen(p);
	memmove(buf, p, len + 1);
	return len;
}

/* The mm's layout fields, auxv and exe path. The caller holds the mmap lock. */
int cptrst_mm_info(struct mm_struct *mm, struct cptrst_mm_info *out, char *path, unsigned int size)
{
	struct file *exe;
	unsigned int i;
	int len;

	memset(out, 0, sizeof(*out));
	out->layout.start_code = mm->start_code;
	out->layout.end_code = mm->end_code;
	out->layout.start_data = mm->start_data;
	out->layout.end_data = mm->end_data;
	out->layout.start_brk = mm->start_brk;
	out->layout.brk = mm->brk;
	out->layout.start_stack = mm->start_stack;
	spin_lock(&mm->arg_lock);
	out->layout.arg_start = mm->arg_start;
	out->layout.arg_end = mm->arg_end;
	out->layout.env_start = mm->env_start;
	out->layout.env_end = mm->env_end;
	spin_unlock(&mm->arg_lock);
	out->vdso = (unsigned long)mm->context.vdso;
	for (i = 0; i + 1 < AT_VECTOR_SIZE; i += 2) {
		out->auxv[i] = mm->saved_auxv[i];
		out->auxv[i + 1] = mm->saved_auxv[i + 1];
		if (mm->saved_auxv[i] == AT_NULL)
			break;
	}
	out->nr_auxv_words = min_t(unsigned int, i + 2, AT_VECTOR_SIZE);
	rcu_read_lock();
	exe = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	if (exe) {
		len = path_of(&exe->f_path, path, size);
		fput(exe);
		if (len < 0)
			return len;
		out->exe_path_len = len;
	}
	return 0;
}

/*
 * The first VMA that ends above @addr, or -ENOENT. The caller holds the mmap
 * lock. @path receives the mapped file's path.
 */
int cptrst_vma_info(struct mm_struct *mm, __u64 addr, struct cptrst_vma_info *out, char *path, unsigned int size)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	struct file *file;
	int len;

	if (!vma)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->start = vma->vm_start;
	out->end = vma->vm_end;
	out->flags = vma->vm_flags;
	out->pgoff = vma->vm_pgoff;
	file = vma->vm_file;
	if (vma->vm_ops && vma->vm_ops->name) {
		const char *name = vma->vm_ops->name(vma);

		if (name && !strcmp(name, "[vdso]"))
			out->kind = CPTRST_VMA_VDSO;
		else if (name && !strcmp(name, "[vvar]"))
			out->kind = CPTRST_VMA_VVAR;
		else
			out->kind = CPTRST_VMA_OTHER_SPECIAL;
		return 0;
	}
	if (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP | VM_HUGETLB)) {
		out->kind = CPTRST_VMA_OTHER_SPECIAL;
		return 0;
	}
	if (!file) {
		out->kind = (vma->vm_flags & VM_MAYSHARE) ? CPTRST_VMA_OTHER_SPECIAL : CPTRST_VMA_ANON;
		return 0;
	}
	if ((vma->vm_flags & VM_MAYSHARE) && shmem_mapping(file->f_mapping) &&
	    !strcmp(file->f_path.dentry->d_name.name, "dev/zero")) {
		/*
		 * The object's identity for the image's SHM records: inode
		 * numbers of the internal shm mount are never reused (see
		 * ShmIds in dump_mm.rs).
		 */
		out->kind = CPTRST_VMA_SHARED_ANON;
		out->inode = file_inode(file)->i_ino;
		out->dev = file_inode(file)->i_sb->s_dev;
		return 0;
	}
	out->kind = (vma->vm_flags & VM_MAYSHARE) ? CPTRST_VMA_FILE_SHARED : CPTRST_VMA_FILE_PRIVATE;
	out->inode = file_inode(file)->i_ino;
	out->dev = file_inode(file)->i_sb->s_dev;
	out->file_deleted = d_unlinked(file->f_path.dentry);
	len = path_of(&file->f_path, path, size);
	if (len < 0)
		return len;
	out->path_len = len;
	return 0;
}

/*
 * Pin up to @nr present pages from @addr, stopping at the first page that was
 * never touched (FOLL_DUMP: no fault-in of anonymous holes, no zero page).
 * Returns the number pinned, or -EFAULT if the first page is a hole. The
 * caller holds the mmap lock; FOLL_FORCE reads PROT_NONE mappings as ptrace does.
 */
long cptrst_mm_pages(struct mm_struct *mm, __u64 addr, unsigned long nr, struct page **pages)
{
	return get_user_pages_remote(mm, addr, nr, FOLL_DUMP | FOLL_FORCE, pages, NULL);
}

/*
 * Copy the page of the shared anonymous mapping at @addr, if its shmem object
 * has one, without allocating. Returns 1 if copied, 0 for a hole. The caller
 * holds the mmap lock.
 */
long cptrst_shmem_page(struct mm_struct *mm, __u64 addr, void *dst)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	struct folio *folio;
	pgoff_t index;

	if (!vma || vma->vm_start > addr || !vma->vm_file)
		return -EFAULT;
	index = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
	folio = filemap_get_folio(vma->vm_file->f_mapping, index);
	if (IS_ERR(folio))
		return 0;
	if (!folio_test_uptodate(folio)) {
		folio_put(folio);
		return 0;
	}
	cptrst_page_copy(folio_file_page(folio, index), dst);
	folio_put(folio);
	return 1;
}

int cptrst_page_is_anon(struct page *page)
{
	return PageAnon(page);
}

void cptrst_page_copy(struct page *page, void *dst)
{
	void *src = kmap_local_page(page);

	memcpy(dst, src, PAGE_SIZE);
	kunmap_local(src);
}

void cptrst_page_put(struct page *page)
{
	put_page(page);
}

/* ---------------------------------------------------------------------
 * The image fd.
 */

/*
 * Take the caller's @fd for writing the image: EBADF if it is not open for
 * writing, EINVAL if it cannot be written from the kernel (no ->write_iter,
 * e.g. /proc/PID/mem) or is /dev/cptrst itself. @pos gets the file position.
 */
struct file *cptrst_out_get(int fd, __u64 *pos)
{
	struct file *f = fget(fd);

	if (!f)
		return ERR_PTR(-EBADF);
	if (!(f->f_mode & FMODE_WRITE)) {
		fput(f);
		return ERR_PTR(-EBADF);
	}
	if (!f->f_op->write_iter || f->f_op == &cptrst_fops) {
		fput(f);
		return ERR_PTR(-EINVAL);
	}
	*pos = (f->f_mode & FMODE_STREAM) ? 0 : f->f_pos;
	return f;
}

/*
 * Write all of @it, looping on short writes. A signal to the caller ends it
 * with -EINTR; a pipe without reader gives -EPIPE (and SIGPIPE to the caller).
 */
static long out_write_iter(struct file *f, struct iov_iter *it, __u64 *pos)
{
	while (iov_iter_count(it)) {
		loff_t p = *pos;
		ssize_t n;

		if (signal_pending(current))
			return -EINTR;
		n = cptrst_io_intr(vfs_iter_write(f, it, &p, 0));
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		*pos = p;
	}
	return 0;
}

long cptrst_out_write(struct file *f, const void *buf, unsigned long len, __u64 *pos)
{
	while (len) {
		struct kvec iov = { .iov_base = (void *)buf, .iov_len = min_t(unsigned long, len, MAX_RW_COUNT) };
		struct iov_iter it;
		long r;

		iov_iter_kvec(&it, ITER_SOURCE, &iov, 1, iov.iov_len);
		r = out_write_iter(f, &it, pos);
		if (r)
			return r;
		buf += iov.iov_len;
		len -= iov.iov_len;
	}
	return 0;
}

/*
 * Write @n whole pinned pages straight from the pages: no copy through a
 * buffer. In pieces of 32 pages (the bio_vec array is on the stack).
 */
long cptrst_out_write_pages(struct file *f, struct page **pages, unsigned long n, __u64 *pos)
{
	struct bio_vec bv[32];

	while (n) {
		unsigned long i, k = min_t(unsigned long, n, ARRAY_SIZE(bv));
		struct iov_iter it;
		long r;

		for (i = 0; i < k; i++)
			bvec_set_page(&bv[i], pages[i], PAGE_SIZE, 0);
		iov_iter_bvec(&it, ITER_SOURCE, bv, k, k * PAGE_SIZE);
		r = out_write_iter(f, &it, pos);
		if (r)
			return r;
		pages += k;
		n -= k;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * CRC32C of the image: the kernel's (SSE4.2/PCLMULQDQ where it has them),
 * on the raw state (no inversions, as format.rs's CrcImpl).
 */

int cptrst_crc32c_available(void)
{
	return IS_REACHABLE(CONFIG_LIBCRC32C);
}

__u32 cptrst_crc32c(__u32 crc, const void *p, unsigned long len)
{
#if IS_REACHABLE(CONFIG_LIBCRC32C)
	while (len) {
		unsigned int n = min_t(unsigned long, len, 1UL << 30);

		crc = crc32c(crc, p, n);
		p += n;
		len -= n;
	}
	return crc;
#else
	/* Never called: the Rust side asks cptrst_crc32c_available() first. */
	WARN_ON_ONCE(1);
	return crc;
#endif
}

/* The CRC of @n pinned pages in order, read in place. */
__u32 cptrst_pages_crc32c(__u32 crc, struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		void *p = kmap_local_page(pages[i]);

		crc = cptrst_crc32c(crc, p, PAGE_SIZE);
		kunmap_local(p);
	}
	return crc;
}

/*
 * The CRC of a batch of pinned pages, computed by a worker (on another CPU
 * if one is idle) while the caller writes the same pages out: the caller
 * then combines it into its running CRC with cptrst_crc32c_shift().
 */
static void bg_work(struct work_struct *w)
{
	struct cptrst_bg *b = container_of(w, struct cptrst_bg, work);

	b->fn(b);
	complete(&b->done);
}

void cptrst_bg_start(struct cptrst_bg *b, void (*fn)(struct cptrst_bg *b))
{
	INIT_WORK(&b->work, bg_work);
	init_completion(&b->done);
	b->fn = fn;
	queue_work(system_unbound_wq, &b->work);
}

void cptrst_bg_wait(struct cptrst_bg *b)
{
	wait_for_completion(&b->done);
}

struct cptrst_crc_job {
	struct cptrst_bg bg;
	struct page **pages;
	unsigned long n;
	u32 crc;
};

static void crc_job_fn(struct cptrst_bg *b)
{
	struct cptrst_crc_job *j = container_of(b, struct cptrst_crc_job, bg);

	j->crc = cptrst_pages_crc32c(0, j->pages, j->n);
}

/*
 * Start a job over @n pinned pages, which must stay pinned until
 * cptrst_crc_job_finish(). NULL without memory, or without the kernel's
 * crc32c and its shift (then the caller computes the CRC itself).
 */
struct cptrst_crc_job *cptrst_crc_job_start(struct page **pages, unsigned long n)
{
	struct cptrst_crc_job *j;

	if (!IS_REACHABLE(CONFIG_LIBCRC32C) || !IS_REACHABLE(CONFIG_CRC32))
		return NULL;
	j = kmalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return NULL;
	j->pages = pages;
	j->n = n;
	j->crc = 0;
	cptrst_bg_start(&j->bg, crc_job_fn);
	return j;
}

/*
 * Wait for the job (a bounded computation over pages the caller keeps
 * pinned for it), free it, return the raw CRC32C of its pages from a zero
 * state.
 */
__u32 cptrst_crc_job_finish(struct cptrst_crc_job *j)
{
	u32 crc;

	cptrst_bg_wait(&j->bg);
	crc = j->crc;
	kfree(j);
	return crc;
}

/* The raw CRC32C state @crc followed by @len zero bytes. */
__u32 cptrst_crc32c_shift(__u32 crc, unsigned long len)
{
#if IS_REACHABLE(CONFIG_CRC32)
	return __crc32c_le_shift(crc, len);
#else
	WARN_ON_ONCE(1);	/* no job is ever started without it */
	return crc;
#endif
}

void cptrst_out_put(struct file *f, __u64 pos)
{
	if (!(f->f_mode & FMODE_STREAM))
		f->f_pos = pos;
	fput(f);
}

/*
 * Does @mm map @f's inode, or have it as its executable? Writing the image
 * into such a file would change the checkpointed tree's memory. The caller
 * holds the mmap lock for reading.
 */
int cptrst_mm_maps_file(struct mm_struct *mm, struct file *f)
{
	struct inode *inode = file_inode(f);
	struct vm_area_struct *vma;
	struct file *exe;
	int ret = 0;
	VMA_ITERATOR(vmi, mm, 0);

	for_each_vma(vmi, vma)
		if (vma->vm_file && file_inode(vma->vm_file) == inode)
			return 1;
	rcu_read_lock();
	exe = rcu_dereference(mm->exe_file);
	if (exe && file_inode(exe) == inode)
		ret = 1;
	rcu_read_unlock();
	return ret;
}
