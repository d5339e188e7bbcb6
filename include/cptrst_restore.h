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

#include "cptrst_abi.h"

struct file;
struct task_struct;
struct pid;

/* Waiting: the wait queues are in cptrst_abi.h; the global one and lock. */
struct cptrst_waitq;
struct cptrst_waitq *cptrst_waitq_global(void);
void cptrst_rst_lock(void);
void cptrst_rst_unlock(void);

/* Tasks and pids. */
struct task_struct *cptrst_current_get(void);
struct pid *cptrst_pid_get_vpid(int nr);
void cptrst_pid_put(struct pid *pid);
struct task_struct *cptrst_pid_task_get(struct pid *pid);
int cptrst_task_gone(struct task_struct *t);
struct task_struct *cptrst_task_get(struct task_struct *t);
int cptrst_task_is_current(struct task_struct *t);
int cptrst_task_child_of(struct task_struct *t, struct task_struct *parent);
struct pid_namespace;
struct pid_namespace *cptrst_pid_ns_get(struct pid *pid);
int cptrst_pid_alive(struct pid_namespace *ns, int nr);
int cptrst_current_in_tree_of(struct pid *root);
int cptrst_task_exit_code(struct task_struct *t, int *code);
int cptrst_current_level(void);
int cptrst_task_tgid_vnr(struct task_struct *t);
int cptrst_task_kill(struct task_struct *t);
void cptrst_current_kill(void);

/* The machine. */
__u64 cptrst_task_size(void);

/* Task state of current. */
void cptrst_rst_set_ip_sp(__u64 ip, __u64 sp);
void cptrst_rst_close_fds_from(unsigned int first);
int cptrst_rst_block_signals(__u64 *old);
int cptrst_rst_set_sigmask(__u64 blocked);
int cptrst_rst_set_regs(const __u64 *regs, unsigned int n);
void cptrst_rst_set_comm(const char *comm);
int cptrst_rst_set_personality(__u32 personality);
struct cptrst_thread_state;
int cptrst_rst_set_thread_state(const struct cptrst_thread_state *ts);
void cptrst_rst_clear_pdeath(void);
int cptrst_rst_queue_ax(struct file *pin, __u64 ax);
void cptrst_rst_fpu_park(void);
int cptrst_task_set_xstate(struct task_struct *t, const void *buf, unsigned int size);

#endif /* _CPTRST_RESTORE_H */
