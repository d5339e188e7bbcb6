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
#include <linux/fs_struct.h>
#include <linux/kdev_t.h>
#include <linux/pipe_fs_i.h>
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

static_assert(CPTRST_AUXV_WORDS >= AT_VECTOR_SIZE);

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

/*
 * The first open fd of @t at or above *@fd: its file with a reference of
 * its own (NULL when there is none, or @t has no files_struct: exiting),
 * the fd in *@fd and its FD_CLOEXEC bit in *@cloexec.
 *
 * This is the walk of /proc/PID/fd (proc_readfd_common) and the lookup of
 * /proc/PID/fdinfo (seq_show). The exported task_lookup_next_fdget_rcu()
 * reads t->files under task_lock(t), which keeps the files_struct alive
 * for that call (exit_files() and the unshare paths replace t->files under
 * the same lock before dropping their reference), finds the first open fd
 * >= *fd under RCU and returns its file referenced. The close-on-exec bit
 * is read as fdinfo reads it: files->file_lock inside task_lock(t), for
 * that one bit. Between two calls we hold nothing of the table. The tree is
 * stopped and no process outside it shares the table (the caller checks
 * the counts: cptrst_task_ctx). O_PATH fds are listed too.
 */
struct file *cptrst_task_next_fd(struct task_struct *t, __u32 *fd, __u32 *cloexec)
{
	struct files_struct *files;
	unsigned int n = *fd;
	struct file *f;

	rcu_read_lock();
	f = task_lookup_next_fdget_rcu(t, &n);
	rcu_read_unlock();
	if (!f)
		return NULL;
	*cloexec = 0;
	task_lock(t);
	files = t->files;
	if (files) {
		spin_lock(&files->file_lock);
		if (close_on_exec(n, files))
			*cloexec = 1;
		spin_unlock(&files->file_lock);
	}
	task_unlock(t);
	*fd = n;
	return f;
}

/*
 * @t's files_struct and fs_struct as opaque ids (compared, never followed),
 * their reference counts and the umask, under task_lock(t) (which
 * exit_files()/exit_fs() take to clear them) and fs->lock.
 */
void cptrst_task_ctx(struct task_struct *t, struct cptrst_task_ctx *out)
{
	struct files_struct *files;
	struct fs_struct *fs;

	memset(out, 0, sizeof(*out));
	task_lock(t);
	files = t->files;
	if (files) {
		out->files = (__u64)(unsigned long)files;
		out->files_users = atomic_read(&files->count);
	}
	fs = t->fs;
	if (fs) {
		out->fs = (__u64)(unsigned long)fs;
		spin_lock(&fs->lock);
		out->fs_users = fs->users;
		out->umask = fs->umask;
		spin_unlock(&fs->lock);
	}
	task_unlock(t);
}

/*
 * @t's root and cwd as d_path() strings (seen from the caller's root) into
 * @root and @cwd, @size bytes each, their lengths in @out. The paths are
 * taken with get_fs_root()/get_fs_pwd() under task_lock(t) and dropped
 * here. -ESRCH without an fs_struct, -ENAMETOOLONG.
 */
int cptrst_task_fs_paths(struct task_struct *t, struct cptrst_task_paths *out,
			 char *root, char *cwd, unsigned int size)
{
	struct path r, w;
	int len;

	memset(out, 0, sizeof(*out));
	task_lock(t);
	if (!t->fs) {
		task_unlock(t);
		return -ESRCH;
	}
	get_fs_root(t->fs, &r);
	get_fs_pwd(t->fs, &w);
	task_unlock(t);
	out->root_unlinked = d_unlinked(r.dentry);
	out->cwd_unlinked = d_unlinked(w.dentry);
	len = path_of(&r, root, size);
	if (len >= 0) {
		out->root_len = len;
		len = path_of(&w, cwd, size);
		if (len >= 0)
			out->cwd_len = len;
	}
	path_put(&w);
	path_put(&r);
	return len < 0 ? len : 0;
}

/*
 * The file of @t's mapping that starts at @start, referenced: ERR_PTR
 * -ENOENT if no VMA starts there or it maps no file, -ESRCH without mm,
 * -EINTR on a fatal signal. Takes and drops the mmap lock.
 */
struct file *cptrst_task_vma_file(struct task_struct *t, __u64 start)
{
	struct mm_struct *mm = get_task_mm(t);
	struct vm_area_struct *vma;
	struct file *f = ERR_PTR(-ENOENT);

	if (!mm)
		return ERR_PTR(-ESRCH);
	if (mmap_read_lock_killable(mm)) {
		mmput(mm);
		return ERR_PTR(-EINTR);
	}
	vma = find_vma(mm, start);
	if (vma && vma->vm_start == start && vma->vm_file)
		f = get_file(vma->vm_file);
	mmap_read_unlock(mm);
	mmput(mm);
	return f;
}

/* ---------------------------------------------------------------------
 * Address spaces (src/mm.rs): the mmap lock (inline functions) and the
 * facts of an mm and its VMAs.
 */
void cptrst_mmget(struct mm_struct *mm)
{
	mmget(mm);
}

int cptrst_mm_read_lock_killable(struct mm_struct *mm)
{
	return mmap_read_lock_killable(mm);
}

void cptrst_mm_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

/* The mm's layout fields, auxv and exe path. The caller holds the mmap lock. */
int cptrst_mm_info_locked(struct mm_struct *mm, struct cptrst_mm_info *out, char *path, unsigned int size)
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
 * What the first VMA that ends above @addr is, or -ENOENT. The caller holds
 * the mmap lock. Rust classifies it (VmaInfo::class in src/mm.rs).
 */
int cptrst_vma_info_locked(struct mm_struct *mm, __u64 addr, struct cptrst_vma_info *out)
{
	struct vm_area_struct *vma = find_vma(mm, addr);
	struct file *file;

	if (!vma)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->start = vma->vm_start;
	out->end = vma->vm_end;
	out->flags = vma->vm_flags;
	out->pgoff = vma->vm_pgoff;
	if (vma->vm_ops && vma->vm_ops->name) {
		const char *name = vma->vm_ops->name(vma);

		out->facts |= CPTRST_VF_NAMED;
		if (name)
			strscpy_pad(out->special_name, name, sizeof(out->special_name));
	}
	file = vma->vm_file;
	if (!file)
		return 0;
	out->facts |= CPTRST_VF_FILE;
	if (shmem_mapping(file->f_mapping))
		out->facts |= CPTRST_VF_SHMEM;
	if (d_unlinked(file->f_path.dentry))
		out->facts |= CPTRST_VF_DELETED;
	out->inode = file_inode(file)->i_ino;
	out->dev = file_inode(file)->i_sb->s_dev;
	strscpy_pad(out->file_name, file->f_path.dentry->d_name.name, sizeof(out->file_name));
	return 0;
}

/*
 * The path of the file the first VMA ending above @addr maps, into @path:
 * its length, -ENOENT without such a VMA or file. Under the mmap lock.
 */
int cptrst_vma_path_locked(struct mm_struct *mm, __u64 addr, char *path, unsigned int size)
{
	struct vm_area_struct *vma = find_vma(mm, addr);

	if (!vma || !vma->vm_file)
		return -ENOENT;
	return path_of(&vma->vm_file->f_path, path, size);
}

/*
 * Copy the page of the shared anonymous mapping at @addr, if its shmem object
 * has one, without allocating. Returns 1 if copied, 0 for a hole. The caller
 * holds the mmap lock.
 */
long cptrst_shmem_page_locked(struct mm_struct *mm, __u64 addr, void *dst)
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

/*
 * Does @mm map @f's inode, or have it as its executable? Under the mmap
 * lock for reading.
 */
int cptrst_mm_maps_file_locked(struct mm_struct *mm, struct file *f)
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
 * Files (src/file.rs): facts, and I/O through iov_iters (inline).
 */
void cptrst_file_get(struct file *f)
{
	get_file(f);
}

void cptrst_file_facts(struct file *f, struct cptrst_file_facts *out)
{
	fmode_t m = f->f_mode;

	memset(out, 0, sizeof(*out));
	out->pos = f->f_pos;
	out->size = i_size_read(file_inode(f));
	out->i_mode = file_inode(f)->i_mode;
	out->flags = ((m & FMODE_READ) ? CPTRST_FF_READ : 0) |
		     ((m & FMODE_WRITE) ? CPTRST_FF_WRITE : 0) |
		     ((m & FMODE_PREAD) ? CPTRST_FF_PREAD : 0) |
		     ((m & FMODE_STREAM) ? CPTRST_FF_STREAM : 0) |
		     ((m & FMODE_CAN_READ) ? CPTRST_FF_CAN_READ : 0) |
		     (f->f_op->read_iter ? CPTRST_FF_READ_ITER : 0) |
		     (f->f_op->write_iter ? CPTRST_FF_WRITE_ITER : 0) |
		     (cptrst_file_is_dev(f) ? CPTRST_FF_CPTRST_DEV : 0) |
		     (shmem_mapping(f->f_mapping) ? CPTRST_FF_SHMEM : 0);
}

void cptrst_file_set_pos(struct file *f, __u64 pos)
{
	f->f_pos = pos;
}

/* The pipe of @f if it is an open pipe or FIFO end (get_pipe_info()'s test). */
static struct pipe_inode_info *pipe_of(struct file *f)
{
	struct inode *inode = file_inode(f);

	if (!S_ISFIFO(inode->i_mode) || (f->f_mode & FMODE_PATH))
		return NULL;
	if (!inode->i_pipe || f->private_data != inode->i_pipe)
		return NULL;
	return inode->i_pipe;
}

/*
 * What the checkpoint needs to classify @f (Rust decides: src/dump_files.rs),
 * and its d_path() into @path (@size bytes): its length in out->path_len.
 * A pipe's counts and buffered bytes are read under pipe_lock() (a mutex).
 */
int cptrst_file_dump_facts(struct file *f, struct cptrst_file_dump_facts *out, char *path,
			   unsigned int size)
{
	struct inode *inode = file_inode(f);
	struct super_block *sb = inode->i_sb;
	struct pipe_inode_info *pipe;
	int len;

	memset(out, 0, sizeof(*out));
	out->pos = f->f_pos;
	out->size = i_size_read(inode);
	out->ino = inode->i_ino;
	out->s_magic = sb->s_magic;
	out->f_flags = f->f_flags;
	out->i_mode = inode->i_mode;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode)) {
		out->rdev_major = MAJOR(inode->i_rdev);
		out->rdev_minor = MINOR(inode->i_rdev);
	}
	out->fmode = ((f->f_mode & FMODE_READ) ? CPTRST_DF_READ : 0) |
		     ((f->f_mode & FMODE_WRITE) ? CPTRST_DF_WRITE : 0) |
		     ((f->f_mode & FMODE_PATH) ? CPTRST_DF_PATH : 0);
	out->facts = (d_unlinked(f->f_path.dentry) ? CPTRST_DF_UNLINKED : 0) |
		     (shmem_mapping(f->f_mapping) ? CPTRST_DF_SHMEM : 0) |
		     (cptrst_file_is_dev(f) ? CPTRST_DF_CPTRST_DEV : 0) |
		     ((sb->s_iflags & SB_I_NOEXEC) ? CPTRST_DF_NOEXEC_SB : 0) |
		     ((sb->s_flags & SB_NOUSER) ? CPTRST_DF_NOUSER_SB : 0);
	if (shmem_mapping(f->f_mapping) && S_ISREG(inode->i_mode))
		out->seals = SHMEM_I(inode)->seals;
	pipe = pipe_of(f);
	if (pipe) {
		unsigned int i;

		out->pipe = (__u64)(unsigned long)pipe;
		pipe_lock(pipe);
		out->pipe_readers = pipe->readers;
		out->pipe_writers = pipe->writers;
		out->pipe_size = pipe->max_usage * PAGE_SIZE;
		if (pipe_has_watch_queue(pipe))
			out->facts |= CPTRST_DF_WATCH_QUEUE;
		for (i = pipe->tail; i != pipe->head; i++)
			out->pipe_bytes += pipe_buf(pipe, i)->len;
		pipe_unlock(pipe);
	}
	spin_lock(&f->f_path.dentry->d_lock);
	strscpy_pad(out->name, f->f_path.dentry->d_name.name, sizeof(out->name));
	spin_unlock(&f->f_path.dentry->d_lock);
	strscpy_pad(out->fs_name, sb->s_type->name, sizeof(out->fs_name));
	len = path_of(&f->f_path, path, size);
	if (len < 0)
		return len;
	out->path_len = len;
	return 0;
}

/*
 * Copies the bytes buffered in the pipe of @f into @buf without consuming
 * them, under pipe_lock(): each buffer from tail to head is confirmed
 * (pipe_buf_confirm: a spliced page-cache page may need its I/O) and read
 * through kmap_local_page(). Returns the count; -ENOSPC if the pipe holds
 * more than @size bytes, -EINVAL if @f is no pipe, the confirm's error.
 */
long cptrst_pipe_peek(struct file *f, void *buf, unsigned long size)
{
	struct pipe_inode_info *pipe = pipe_of(f);
	unsigned long done = 0;
	unsigned int i;
	long ret = 0;

	if (!pipe)
		return -EINVAL;
	pipe_lock(pipe);
	for (i = pipe->tail; i != pipe->head; i++) {
		struct pipe_buffer *b = pipe_buf(pipe, i);
		void *p;

		if (b->len > size - done) {
			ret = -ENOSPC;
			break;
		}
		ret = pipe_buf_confirm(pipe, b);
		if (ret)
			break;
		p = kmap_local_page(b->page);
		memcpy(buf + done, p + b->offset, b->len);
		kunmap_local(p);
		done += b->len;
	}
	pipe_unlock(pipe);
	return ret ? ret : done;
}

/*
 * @f, or a new read-only open of its path when @f is not open for reading
 * (a write-only or O_PATH fd of a memfd or deleted file), with a reference
 * the caller drops. The new open is as the caller, after the permission
 * check open(2) would make (-EACCES).
 */
struct file *cptrst_file_open_read(struct file *f)
{
	int err;

	if ((f->f_mode & (FMODE_READ | FMODE_PATH)) == FMODE_READ)
		return get_file(f);
	err = inode_permission(file_mnt_idmap(f), file_inode(f), MAY_READ);
	if (err)
		return ERR_PTR(err);
	return dentry_open(&f->f_path, O_RDONLY | O_LARGEFILE, current_cred());
}

/*
 * Write all of @it, looping on short writes. A signal to the caller ends it
 * with -EINTR; a pipe without reader gives -EPIPE (and SIGPIPE to the caller).
 */
static long write_iter_all(struct file *f, struct iov_iter *it, __u64 *pos)
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

long cptrst_file_write_all(struct file *f, const void *buf, unsigned long len, __u64 *pos)
{
	while (len) {
		struct kvec iov = { .iov_base = (void *)buf, .iov_len = min_t(unsigned long, len, MAX_RW_COUNT) };
		struct iov_iter it;
		long r;

		iov_iter_kvec(&it, ITER_SOURCE, &iov, 1, iov.iov_len);
		r = write_iter_all(f, &it, pos);
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
long cptrst_file_write_pages(struct file *f, struct page *const *pages, unsigned long n, __u64 *pos)
{
	struct bio_vec bv[32];

	while (n) {
		unsigned long i, k = min_t(unsigned long, n, ARRAY_SIZE(bv));
		struct iov_iter it;
		long r;

		for (i = 0; i < k; i++)
			bvec_set_page(&bv[i], pages[i], PAGE_SIZE, 0);
		iov_iter_bvec(&it, ITER_SOURCE, bv, k, k * PAGE_SIZE);
		r = write_iter_all(f, &it, pos);
		if (r)
			return r;
		pages += k;
		n -= k;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * CRC32C of the image (src/crc.rs): the kernel's (SSE4.2/PCLMULQDQ where
 * it has them), on the raw state (no inversions, as the image format's CrcImpl),
 * one range at a time, in the caller or in a worker.
 */

int cptrst_crc32c_available(void)
{
	return IS_REACHABLE(CONFIG_LIBCRC32C);
}

int cptrst_crc32c_shift_available(void)
{
	return IS_REACHABLE(CONFIG_CRC32);
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

/* The raw CRC32C state @crc followed by @len zero bytes. */
__u32 cptrst_crc32c_shift(__u32 crc, unsigned long len)
{
#if IS_REACHABLE(CONFIG_CRC32)
	return __crc32c_le_shift(crc, len);
#else
	/* Never called: the Rust side asks cptrst_crc32c_shift_available(). */
	WARN_ON_ONCE(1);
	return crc;
#endif
}

/* The CRC of @n pinned pages in order, read in place. */
__u32 cptrst_pages_crc32c(__u32 crc, struct page *const *pages, unsigned long n)
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
 * The raw CRC32C *@crc extended over @len bytes of @f at @pos, read in
 * place in @f's page cache: 1 when done, 0 when a page is not in memory
 * (*@crc is then unchanged), -EINTR on a fatal signal.
 */
long cptrst_file_crc32c(struct file *f, __u64 pos, unsigned long len, __u32 *crc)
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

/*
 * @fn(@b) runs in a worker (system_unbound_wq, on another CPU if one is
 * idle) while the caller goes on; cptrst_bg_wait() waits for it, not
 * killably, so it is for bounded work only. Embedded in the job's own
 * struct, which container_of() gets back.
 */
struct cptrst_bg {
	struct work_struct work;
	struct completion done;
	void (*fn)(struct cptrst_bg *b);
};

static void bg_work(struct work_struct *w)
{
	struct cptrst_bg *b = container_of(w, struct cptrst_bg, work);

	b->fn(b);
	complete(&b->done);
}

static void cptrst_bg_start(struct cptrst_bg *b, void (*fn)(struct cptrst_bg *b))
{
	INIT_WORK(&b->work, bg_work);
	init_completion(&b->done);
	b->fn = fn;
	queue_work(system_unbound_wq, &b->work);
}

static void cptrst_bg_wait(struct cptrst_bg *b)
{
	wait_for_completion(&b->done);
}

/*
 * One range checksummed by a worker (on another CPU if one is idle) from a
 * zero state, while the caller goes on: pinned pages, or a file's page
 * cache. The caller keeps the pages pinned (the file referenced) until
 * cptrst_crc_job_finish(), and combines the result with the shift.
 */
struct cptrst_crc_job {
	struct cptrst_bg bg;
	struct page *const *pages;
	unsigned long n;
	struct file *f;
	__u64 pos;
	unsigned long len;
	u32 crc;
	long ret;
};

static void crc_job_pages_fn(struct cptrst_bg *b)
{
	struct cptrst_crc_job *j = container_of(b, struct cptrst_crc_job, bg);

	j->crc = cptrst_pages_crc32c(0, j->pages, j->n);
	j->ret = 1;
}

static void crc_job_file_fn(struct cptrst_bg *b)
{
	struct cptrst_crc_job *j = container_of(b, struct cptrst_crc_job, bg);

	j->ret = cptrst_file_crc32c(j->f, j->pos, j->len, &j->crc);
}

/* A job over @n pinned pages; NULL without memory. */
struct cptrst_crc_job *cptrst_crc_job_pages(struct page *const *pages, unsigned long n)
{
	struct cptrst_crc_job *j = kzalloc(sizeof(*j), GFP_KERNEL);

	if (!j)
		return NULL;
	j->pages = pages;
	j->n = n;
	cptrst_bg_start(&j->bg, crc_job_pages_fn);
	return j;
}

/* A job over @len bytes of @f at @pos (cptrst_file_crc32c); NULL without memory. */
struct cptrst_crc_job *cptrst_crc_job_file(struct file *f, __u64 pos, unsigned long len)
{
	struct cptrst_crc_job *j = kzalloc(sizeof(*j), GFP_KERNEL);

	if (!j)
		return NULL;
	j->f = f;
	j->pos = pos;
	j->len = len;
	cptrst_bg_start(&j->bg, crc_job_file_fn);
	return j;
}

/*
 * Wait for the job (bounded work: not killable), free it. *@crc gets the
 * raw CRC32C of its range from a zero state; returns the range's result
 * (1 done, 0 or -EINTR as cptrst_file_crc32c).
 */
long cptrst_crc_job_finish(struct cptrst_crc_job *j, __u32 *crc)
{
	long ret;

	cptrst_bg_wait(&j->bg);
	*crc = j->crc;
	ret = j->ret;
	kfree(j);
	return ret;
}
