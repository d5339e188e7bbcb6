/* SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0 */
/*
 * cptrst eclone library: create a child with chosen pids in every nested
 * pid namespace, with the v13 eclone() interface of the 2009 patchset.
 *
 * The module validates and authorizes the request (/dev/cptrst,
 * CPTRST_IOC_ECLONE) and translates it; the library then creates the task
 * with clone3() and set_tid, which applies the same rules atomically.
 *
 * pids[] lists the chosen pids outermost namespace first; its last entry is
 * the pid in the child's own namespace (see Documentation/eclone.rst).
 */
#ifndef _CPTRST_ECLONE_H
#define _CPTRST_ECLONE_H

#include <sys/types.h>
#include <linux/cptrst.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Fork-like: returns the child's pid (in the caller's namespace) in the
 * parent and 0 in the child, or -1 with errno set. cargs->child_stack must
 * be 0 (the child runs on a copy of the caller's stack); use eclone_fn()
 * for a child on its own stack.
 */
pid_t eclone(unsigned int flags_low, struct cptrst_clone_args *cargs, int args_size, pid_t *pids);

/*
 * Like eclone(), but the child runs fn(arg) on cargs->child_stack (the top
 * of its stack, 16-byte aligned; required) and exits with fn's return value.
 * For CLONE_VM/CLONE_THREAD children.
 */
pid_t eclone_fn(int (*fn)(void *), void *arg, unsigned int flags_low,
		struct cptrst_clone_args *cargs, int args_size, pid_t *pids);

/* The /dev/cptrst fd the library uses (opened on first use, O_CLOEXEC). */
int eclone_set_device_fd(int fd);

#ifdef __cplusplus
}
#endif

#endif /* _CPTRST_ECLONE_H */
