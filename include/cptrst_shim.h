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

#include <linux/completion.h>
#include <linux/errno.h>
#include <linux/types.h>
#include <linux/workqueue.h>

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

/*
 * For the C files only: @fn(@b) runs in a worker (system_unbound_wq, on
 * another CPU if one is idle) while the caller goes on; cptrst_bg_wait()
 * waits for it, not killably, so it is for bounded work only. Embed the
 * struct in the job's own and get back to it with container_of().
 */
struct cptrst_bg {
	struct work_struct work;
	struct completion done;
	void (*fn)(struct cptrst_bg *b);
};
void cptrst_bg_start(struct cptrst_bg *b, void (*fn)(struct cptrst_bg *b));
void cptrst_bg_wait(struct cptrst_bg *b);

/* Implemented in C (src/cptrst_shim.c), called from Rust. */
int cptrst_misc_register(const void *data);
void cptrst_misc_deregister(void);
int cptrst_file_is_dev(struct file *f);

/* Implemented in Rust (src/device.rs), called from the C file operations. */
long cptrst_rs_ioctl(const void *data, struct file *file, unsigned int cmd, unsigned long arg);

#endif /* _CPTRST_SHIM_H */

/* ---------------------------------------------------------------------
 * Dump side (checkpoint). Rust mirrors these structs in src/shim.rs; their
 * sizes are asserted on both sides.
 */
#define CPTRST_AUXV_WORDS	(2 * 64)
#define CPTRST_PATH_MAX		4096

struct task_struct;
struct mm_struct;
struct pid_namespace;
struct page;

/* The mm's layout fields, in prctl(PR_SET_MM_MAP) order (dump and restore). */
struct cptrst_mm_layout {
	__u64 start_code, end_code, start_data, end_data;
	__u64 start_brk, brk, start_stack;
	__u64 arg_start, arg_end, env_start, env_end;
};

struct cptrst_mm_info {
	struct cptrst_mm_layout layout;
	__u64 vdso;			/* mm->context.vdso */
	__u64 auxv[CPTRST_AUXV_WORDS];
	__u32 nr_auxv_words;
	__u32 exe_path_len;		/* 0: no exe file */
};

/* cptrst_vma_info.kind */
#define CPTRST_VMA_ANON		1
#define CPTRST_VMA_FILE_PRIVATE	2
#define CPTRST_VMA_FILE_SHARED	3
#define CPTRST_VMA_SHARED_ANON	4
#define CPTRST_VMA_VDSO		5
#define CPTRST_VMA_VVAR		6
#define CPTRST_VMA_OTHER_SPECIAL 7	/* another special mapping: unsupported */

struct cptrst_vma_info {
	__u64 start, end;
	__u64 flags;			/* vm_flags */
	__u64 pgoff;
	__u64 inode;			/* file's inode number, 0 without a file
					 * (shared anon: the shmem object's) */
	__u64 dev;			/* file's super block dev */
	__u32 kind;			/* CPTRST_VMA_* */
	__u32 path_len;			/* bytes of path written, 0 without a file */
	__u32 file_deleted;		/* the file was unlinked */
	__u32 pad;
};

/* cptrst_task_fds() kinds: the image's FILE_KIND_* values (format.rs). */
#define CPTRST_FILE_REG		1
#define CPTRST_FILE_DIR		2
#define CPTRST_FILE_FIFO	3
#define CPTRST_FILE_SOCK	4
#define CPTRST_FILE_CHR		5
#define CPTRST_FILE_BLK		6
#define CPTRST_FILE_OTHER	7	/* anon inodes: eventfd, epoll, ... */

int cptrst_task_fds(struct task_struct *t, __u32 *fds, __u32 *kinds, unsigned int max);

struct mm_struct *cptrst_task_mm_get(struct task_struct *t);
void cptrst_mm_put(struct mm_struct *mm);
int cptrst_mm_read_lock(struct mm_struct *mm);
void cptrst_mm_read_unlock(struct mm_struct *mm);
int cptrst_mm_info(struct mm_struct *mm, struct cptrst_mm_info *out, char *path, unsigned int size);
int cptrst_vma_info(struct mm_struct *mm, __u64 addr, struct cptrst_vma_info *out, char *path, unsigned int size);
long cptrst_mm_pages(struct mm_struct *mm, __u64 addr, unsigned long nr, struct page **pages);
long cptrst_shmem_page(struct mm_struct *mm, __u64 addr, void *dst);
int cptrst_page_is_anon(struct page *page);
void cptrst_page_copy(struct page *page, void *dst);
void cptrst_page_put(struct page *page);

/* Output: the image fd. */
struct file *cptrst_out_get(int fd, __u64 *pos);
long cptrst_out_write(struct file *f, const void *buf, unsigned long len, __u64 *pos);
long cptrst_out_write_pages(struct file *f, struct page **pages, unsigned long n, __u64 *pos);
void cptrst_out_put(struct file *f, __u64 pos);
int cptrst_mm_maps_file(struct mm_struct *mm, struct file *f);

/* CRC32C on the raw state, by the kernel (only if available() says so). */
int cptrst_crc32c_available(void);
__u32 cptrst_crc32c(__u32 crc, const void *p, unsigned long len);
__u32 cptrst_pages_crc32c(__u32 crc, struct page **pages, unsigned long n);
struct cptrst_crc_job;
struct cptrst_crc_job *cptrst_crc_job_start(struct page **pages, unsigned long n);
__u32 cptrst_crc_job_finish(struct cptrst_crc_job *j);
__u32 cptrst_crc32c_shift(__u32 crc, unsigned long len);
