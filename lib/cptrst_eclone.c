// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
/*
 * cptrst eclone library (see include/cptrst_eclone.h). One implementation,
 * used by C programs (kselftests) and, through FFI, by the Rust tools.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sched.h>
#include "cptrst_eclone.h"

#ifndef __NR_clone3
#define __NR_clone3 435
#endif

static int dev_fd = -1;

int eclone_set_device_fd(int fd)
{
	int old = dev_fd;

	dev_fd = fd;
	return old;
}

static int device(void)
{
	if (dev_fd < 0)
		dev_fd = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
	return dev_fd;
}

/*
 * clone3(args, size); in the child, if fn is set, call fn(arg) on the new
 * stack and exit with its result. Registers r8/r9 carry fn/arg across the
 * system call (the child gets a copy of all but rax/rcx/r11).
 */
long cptrst_raw_clone3(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(
	".text\n"
	".globl cptrst_raw_clone3\n"
	".type cptrst_raw_clone3,@function\n"
	"cptrst_raw_clone3:\n"
	"	mov %rdx, %r8\n"
	"	mov %rcx, %r9\n"
	"	mov $435, %eax\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	test %r8, %r8\n"
	"	jz 1f\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n"		/* exit: this thread only */
	"	syscall\n"
	"	hlt\n"
	"1:	ret\n"
	".size cptrst_raw_clone3, .-cptrst_raw_clone3\n");

static pid_t do_eclone(int (*fn)(void *), void *arg, unsigned int flags_low,
		       struct cptrst_clone_args *cargs, int args_size, pid_t *pids)
{
	struct clone_args c3;
	pid_t set_tid[32];
	struct cptrst_eclone_args a = {
		.flags_low = flags_low,
		.args_size = args_size,
		.cargs = (uintptr_t)cargs,
		.pids = (uintptr_t)pids,
		.clone3_args = (uintptr_t)&c3,
		.set_tid = (uintptr_t)set_tid,
	};
	int fd = device();
	long ret;

	if (fd < 0)
		return -1;
	memset(&c3, 0, sizeof(c3));
	if (ioctl(fd, CPTRST_IOC_ECLONE, &a) < 0)
		return -1;
	ret = cptrst_raw_clone3(&c3, sizeof(c3), fn, arg);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

pid_t eclone(unsigned int flags_low, struct cptrst_clone_args *cargs, int args_size, pid_t *pids)
{
	if (cargs && args_size == (int)sizeof(*cargs) && cargs->child_stack) {
		errno = EINVAL;	/* a child on its own stack needs eclone_fn() */
		return -1;
	}
	return do_eclone(NULL, NULL, flags_low, cargs, args_size, pids);
}

pid_t eclone_fn(int (*fn)(void *), void *arg, unsigned int flags_low,
		struct cptrst_clone_args *cargs, int args_size, pid_t *pids)
{
	if (!fn || !cargs || args_size != (int)sizeof(*cargs) || !cargs->child_stack) {
		errno = EINVAL;
		return -1;
	}
	return do_eclone(fn, arg, flags_low, cargs, args_size, pids);
}
