/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cptrst: checkpoint/restart of Linux processes, user ABI of /dev/cptrst.
 *
 * Every argument structure has fixed-width fields, explicit padding and
 * reserved fields, and the same layout on every 64-bit architecture.
 * Rules, common to all commands:
 *  - the command number selects the operation; unknown numbers: ENOTTY;
 *  - the size encoded in the command must be sizeof() the structure below,
 *    and its direction must match: otherwise EINVAL;
 *  - unknown flags and non-zero reserved/padding fields: EINVAL.
 * The Rust mirror of this file is crates/cptrst-uapi/src/abi.rs (the
 * cptrst-uapi crate, and the module through #[path]); keep both in step
 * (the host tests, crates/cptrst-uapi/src/tests.rs, compare the layouts).
 */
#ifndef _UAPI_LINUX_CPTRST_H
#define _UAPI_LINUX_CPTRST_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define CPTRST_DEVICE		"/dev/cptrst"
#define CPTRST_IOC_MAGIC	0xC7	/* free in Documentation/userspace-api/ioctl/ioctl-number.rst */

/*
 * CPTRST_IOC_CHECKPOINT: checkpoint(pid, fd, flags).
 * Dump the stopped tree rooted at @pid (in the caller's pid namespace) into
 * @fd, which must be open for writing. Returns 0. On failure, when @msg is
 * set, a NUL-terminated message saying why (e.g. which task's fd is of a
 * kind that cannot be checkpointed) is written there, at most @msg_len
 * bytes; @msg and @msg_len are both set or both 0.
 */
struct cptrst_checkpoint_args {
	__s32 pid;		/* root of the tree, in the caller's pid ns */
	__s32 fd;		/* where the image goes: file, pipe or socket */
	__u32 flags;		/* CPTRST_CKPT_* */
	__u32 msg_len;		/* size of the @msg buffer, at most 4096; 0 without */
	__u64 msg;		/* user pointer: buffer for the error message, or 0 */
	__u64 live;		/* ROUND/FINAL: user pointer to cptrst_live_args; else 0 */
	__u64 reserved[2];	/* must be 0 */
};

/*
 * A live checkpoint: rounds that copy the pages of the running tree
 * (CPTRST_CKPT_ROUND, the tree need not be stopped), then the checkpoint of
 * the stopped tree (CPTRST_CKPT_FINAL), all into one stream. The caller
 * finds what the tree wrote between rounds (soft-dirty) and carries the
 * stream state (@offset, @records, @crc) from call to call.
 */
#define CPTRST_CKPT_ROUND	(1U << 0)
#define CPTRST_CKPT_FINAL	(1U << 1)
#define CPTRST_LIVE_MAX_SRCS	4096
#define CPTRST_LIVE_MAX_RANGES	(1U << 20)

struct cptrst_live_args {
	__u64 offset;		/* in/out: stream bytes so far (0: none yet) */
	__u64 records;		/* in/out: records so far */
	__u32 crc;		/* in/out: running CRC32C (raw state) */
	__u32 round;		/* ROUND: 1, 2, ... non-decreasing; FINAL: 0 */
	__u32 nr_srcs;		/* entries at @srcs, 1..4096 */
	__u32 pad;		/* must be 0 */
	__u64 srcs;		/* user pointer: struct cptrst_live_src[nr_srcs] */
	__u64 pages;		/* out: pages copied by this call */
	__u64 prev_pages;	/* out (FINAL): pages referenced from the rounds */
	__u64 reserved[2];	/* must be 0 */
};

struct cptrst_live_src {
	__s32 pid;		/* a process of the address space (caller's pid ns) */
	__u32 src;		/* source id 1..4096; FINAL: 0 for none */
	__u32 nr_ranges;	/* (start, end) pairs at @ranges, 0..1<<20 */
	__u32 pad;		/* must be 0 */
	__u64 ranges;		/* user pointer: __u64[2 * nr_ranges], sorted */
};

/*
 * CPTRST_IOC_RESTART: restart(ctid, fd, flags).
 * Restore a checkpointed tree from the image in @fd, which must be open for
 * reading and seekable (a regular file or a memfd: the kernel reads the
 * image twice, once to check all of it, once to restore). Two kinds of
 * callers take part, sharing one restart context:
 *  - the coordinator (CPTRST_RESTART_COORD), usually the restart tool:
 *    @ctid is the pid, in its own pid namespace, of the task it created at
 *    the image's root pid. It checks the whole image against the machine,
 *    waits for the participants, hands over to them in image order, and
 *    returns 0 once every one of them is restored and running;
 *  - each participant, a task created (with eclone) at an image pid: @ctid
 *    is the coordinator's pid as the participant sees it, or 0 when the
 *    coordinator is outside its pid namespace. On success the call does
 *    not return: like execve(), the task goes on as the restored process.
 * On failure every participant dies (no half-restored task ever runs) and
 * the coordinator's call fails with the reason; when @msg is set, a
 * NUL-terminated message naming the failing record (and its byte offset)
 * is written there, at most @msg_len bytes.
 */
struct cptrst_restart_args {
	__s32 ctid;		/* see above */
	__s32 fd;		/* the image, open for reading, seekable */
	__u32 flags;		/* CPTRST_RESTART_* */
	__u32 msg_len;		/* size of the @msg buffer, at most 4096; 0 without */
	__u64 msg;		/* user pointer: buffer for the error message, or 0 */
	__u64 files;		/* coordinator only: user pointer to __s32[@nfiles] */
	__u32 nfiles;		/* at most CPTRST_RESTART_MAX_FILES; 0 with @files 0 */
	__u32 pad;		/* must be 0 */
	__u64 reserved[1];	/* must be 0 */
};

#define CPTRST_RESTART_COORD		(1u << 0)	/* the caller coordinates */
#define CPTRST_RESTART_SKIP_FILES	(1u << 1)	/* ignore fds other than 0-2 */
#define CPTRST_RESTART_RESUME		(1u << 2)	/* internal: the restore trampoline's call */
#define CPTRST_RESTART_FILE_CHANGED_OK	(1u << 3)	/* map files whose type or size changed */
#define CPTRST_RESTART_AS_INVOKER	(1u << 4)	/* keep the invoker's credentials */
/*
 * @files (coordinator only): for the image's FILE record of id k, the
 * coordinator's fd of that open file at index k - 1, or -1. A file VMA
 * whose MAPFILE record names FILE k maps the struct file of that fd.
 * Participants pass @files 0 and @nfiles 0.
 */
#define CPTRST_RESTART_MAX_FILES	65536
/*
 * Not a flag, a return value: a zombie participant's successful call
 * returns CPTRST_RESTART_ZOMBIE ORed with the wait status (low 16 bits) it
 * must exit with at once.
 */
#define CPTRST_RESTART_ZOMBIE		0x10000

/*
 * The v13 eclone() argument block of the seed patchset, where it was named
 * "struct clone_args". Upstream Linux later gave that name to clone3()'s
 * argument block (<linux/sched.h>), so it is prefixed here.
 */
struct cptrst_clone_args {
	__u64 clone_flags_high;	/* must be 0: no clone flag above bit 31 is defined */
	__u64 child_stack;	/* child's stack pointer (x86_64: the top), 0: share parent's */
	__u64 child_stack_size;	/* must be 0 on x86_64 */
	__u64 parent_tid_ptr;	/* CLONE_PARENT_SETTID */
	__u64 child_tid_ptr;	/* CLONE_CHILD_SETTID/CLONE_CHILD_CLEARTID */
	__u32 nr_pids;		/* number of entries in pids[] */
	__u32 reserved0;	/* must be 0 */
};

/*
 * CPTRST_IOC_ECLONE: eclone(flags_low, cargs, args_size, pids).
 * The module validates and authorizes the request; the creation of the
 * task itself is clone3() (see Documentation/eclone.rst).
 */
struct cptrst_eclone_args {
	__u32 flags_low;	/* clone flags, low 32 bits, with the exit signal */
	__s32 args_size;	/* must be sizeof(struct cptrst_clone_args) */
	__u64 cargs;		/* user pointer: struct cptrst_clone_args */
	__u64 pids;		/* user pointer: pid_t[nr_pids], outermost ns first */
	__u64 clone3_args;	/* user pointer: struct clone_args (clone3) to fill */
	__u64 set_tid;		/* user pointer: pid_t[nr_pids] to fill for clone3 */
	__u64 reserved[3];	/* must be 0 */
};

#define CPTRST_IOC_CHECKPOINT	_IOW(CPTRST_IOC_MAGIC, 1, struct cptrst_checkpoint_args)
#define CPTRST_IOC_RESTART	_IOW(CPTRST_IOC_MAGIC, 2, struct cptrst_restart_args)
#define CPTRST_IOC_ECLONE	_IOW(CPTRST_IOC_MAGIC, 3, struct cptrst_eclone_args)

#endif /* _UAPI_LINUX_CPTRST_H */
