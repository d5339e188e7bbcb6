/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cptrst: the C side of restart (src/cptrst_restore.c), called from Rust
 * (src/restore_shim.rs, which mirrors these declarations). Process context
 * only. Functions named cptrst_rst_* act on the calling task (current),
 * which is the task being restored.
 */
#ifndef _CPTRST_RESTORE_H
#define _CPTRST_RESTORE_H

#include <linux/types.h>

struct file;
struct task_struct;
struct pid;

/* The image fd: readable and seekable. */
struct file *cptrst_in_get(int fd, __u64 *pos);
long cptrst_in_read(struct file *f, void *buf, unsigned long len, __u64 pos);
long cptrst_in_read_user(struct file *f, __u64 addr, unsigned long len, __u64 pos);
long cptrst_in_crc(struct file *f, __u64 pos, unsigned long len, __u32 *crc);
struct path;
struct path *cptrst_path_get(const char *name, __u32 *mode, __u32 *pseudo);
struct file *cptrst_path_open(const struct path *p, int write);
void cptrst_path_put(struct path *p);
unsigned long cptrst_nofile_max(void);
void cptrst_file_put(struct file *f);

/* Waiting for a word to change, killably (>0 changed, 0 timeout, -EINTR). */
struct cptrst_waitq;
struct cptrst_waitq *cptrst_waitq_new(void);
void cptrst_waitq_free(struct cptrst_waitq *wq);
int cptrst_waitq_wait(struct cptrst_waitq *wq, const __u32 *word, __u32 old, unsigned int timeout_ms);
void cptrst_waitq_wake(struct cptrst_waitq *wq);

/* The address space of current. */
struct cptrst_special {
	__u64 vdso_start, vdso_end;
	__u64 vvar_start, vvar_end;
};
int cptrst_rst_special(struct cptrst_special *out);
long cptrst_rst_unmap_all(void);
long cptrst_rst_mmap(struct file *f, __u64 addr, __u64 len, __u32 prot, __u32 flags, __u64 off);
int cptrst_rst_munmap(__u64 addr, __u64 len);
int cptrst_rst_write_force(__u64 addr, const void *buf, unsigned long len);
struct file *cptrst_shmem_create(__u64 size);
int cptrst_file_write(struct file *f, __u64 pos, const void *buf, unsigned long len);
int cptrst_rst_copy_to_user(__u64 addr, const void *buf, unsigned long len);
int cptrst_rst_copy_from_user(void *buf, __u64 addr, unsigned long len);

/* struct cptrst_mm_layout: cptrst_shim.h */
int cptrst_rst_set_mm(const struct cptrst_mm_layout *l, const __u64 *auxv, unsigned int words);
int cptrst_rst_vdso_is(__u64 addr);
unsigned int cptrst_auxv_max_words(void);

/* The trampoline's code, copied into the restored address space. */
extern const char cptrst_tramp_start[], cptrst_tramp_end[];

/* Task state of current. */
int cptrst_rst_install_fd(struct file *f);
void cptrst_rst_close_fds_from(unsigned int first);

#endif /* _CPTRST_RESTORE_H */
