// SPDX-License-Identifier: GPL-2.0
/*
 * eclone: chosen pids in the current and nested pid namespaces, the v13
 * argument checks, permissions, CLONE_THREAD, a caller-supplied stack, and
 * 1000 eclones in a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cptrst_eclone.h"
#include "cptrst_harness.h"

#define ARGS_SIZE ((int)sizeof(struct cptrst_clone_args))

static int pid_free(pid_t p)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d", p);
	return access(path, F_OK) != 0;
}

/* A pid >= from with the next n pids all free. */
static pid_t free_range(pid_t from, int n)
{
	pid_t p;
	int i;

	for (p = from; p < 30000; p += n) {
		for (i = 0; i < n && pid_free(p + i); i++)
			;
		if (i == n)
			return p;
	}
	return -1;
}

/* eclone() returning -errno, the child exiting at once with @code. */
static pid_t try_eclone(unsigned int flags, struct cptrst_clone_args *ca, int size, pid_t *pids)
{
	pid_t pid = eclone(flags, ca, size, pids);

	if (pid == 0)
		_exit(0);
	return pid < 0 ? -errno : pid;
}

static int wait_code(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, __WALL) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The NSpid line of /proc/PID/status, e.g. "20000\t1". */
static int nspid(pid_t pid, char *buf, size_t len)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "NSpid:\t", 7)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(buf, len, "%s", line + 7);
			found = 1;
		}
	fclose(f);
	return found ? 0 : -1;
}

TEST(chosen_pid_in_current_namespace)
{
	struct cptrst_clone_args ca = { .nr_pids = 1 };
	pid_t want = free_range(20000, 1), pids[1] = { want }, pid;

	ASSERT_LT(0, want);
	pid = eclone(SIGCHLD, &ca, ARGS_SIZE, pids);
	if (pid == 0)
		_exit(getpid() == want ? 0 : 1);
	ASSERT_EQ(want, pid);
	EXPECT_EQ(0, wait_code(pid));
}

/*
 * In a new pid namespace (pids outermost first: [outer, 1]): the child is
 * the new init, at the chosen pid outside. NSpid shows both.
 */
TEST(two_levels_new_namespace)
{
	struct cptrst_clone_args ca = { .nr_pids = 2 };
	pid_t want = free_range(20100, 1), pids[2] = { want, 1 }, pid;
	int go[2];
	char ns[256], expect[64];

	ASSERT_EQ(0, pipe(go));
	pid = eclone(SIGCHLD | CLONE_NEWPID, &ca, ARGS_SIZE, pids);
	if (pid == 0) {
		char c;

		close(go[1]);
		read(go[0], &c, 1);
		_exit(getpid() == 1 ? 0 : 1);
	}
	ASSERT_EQ(want, pid);
	ASSERT_EQ(0, nspid(pid, ns, sizeof(ns)));
	snprintf(expect, sizeof(expect), "%d\t1", want);
	EXPECT_STREQ(expect, ns);
	close(go[1]);
	EXPECT_EQ(0, wait_code(pid));
	close(go[0]);
}

/*
 * Three levels: an init for a new namespace (pid 1 there, any pid outside),
 * inside it a child with chosen pids at the two levels it lives in, and a
 * grandchild with chosen pids at three levels, the innermost a new
 * namespace of its own.
 */
static void three_levels_init(pid_t base, int report, int done)
{
	struct cptrst_clone_args ca2 = { .nr_pids = 2 }, ca3 = { .nr_pids = 3 };
	pid_t p2[2] = { base, 50 }, p3[3] = { base + 1, 51, 1 };
	pid_t a, b;
	char c;

	a = eclone(SIGCHLD, &ca2, ARGS_SIZE, p2);
	if (a == 0) {
		read(done, &c, 1);	/* EOF once the test has looked */
		_exit(getpid() == 50 ? 0 : 1);
	}
	b = eclone(SIGCHLD | CLONE_NEWPID, &ca3, ARGS_SIZE, p3);
	if (b == 0) {
		read(done, &c, 1);
		_exit(getpid() == 1 ? 0 : 1);
	}
	dprintf(report, "%d %d\n", a, b);
	_exit((a == 50 && b == 51 && wait_code(a) == 0 && wait_code(b) == 0) ? 0 : 1);
}

TEST(three_levels)
{
	struct cptrst_clone_args ca1 = { .nr_pids = 1 };
	pid_t one[1] = { 1 }, init;
	pid_t base = free_range(20200, 4);
	int report[2], done[2], a = 0, b = 0, n;
	char line[64], ns[256], expect[64];

	ASSERT_LT(0, base);
	ASSERT_EQ(0, pipe(report));
	ASSERT_EQ(0, pipe(done));
	init = eclone(SIGCHLD | CLONE_NEWPID, &ca1, ARGS_SIZE, one);
	if (init == 0) {
		close(report[0]);
		close(done[1]);
		three_levels_init(base, report[1], done[0]);
	}
	ASSERT_LT(0, init);
	close(report[1]);
	close(done[0]);
	n = read(report[0], line, sizeof(line) - 1);
	ASSERT_LT(0, n);
	line[n] = 0;
	ASSERT_EQ(2, sscanf(line, "%d %d", &a, &b));
	EXPECT_EQ(50, a);
	EXPECT_EQ(51, b);
	ASSERT_EQ(0, nspid(base, ns, sizeof(ns)));
	snprintf(expect, sizeof(expect), "%d\t50", base);
	EXPECT_STREQ(expect, ns);
	ASSERT_EQ(0, nspid(base + 1, ns, sizeof(ns)));
	snprintf(expect, sizeof(expect), "%d\t51\t1", base + 1);
	EXPECT_STREQ(expect, ns);
	close(done[1]);
	EXPECT_EQ(0, wait_code(init));
	close(report[0]);
}

TEST(pid_in_use_is_eexist)
{
	struct cptrst_clone_args ca = { .nr_pids = 1 };
	pid_t pids[1] = { getpid() };

	EXPECT_EQ(-EEXIST, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	pids[0] = 1;
	EXPECT_EQ(-EEXIST, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
}

TEST(bad_arguments_are_einval)
{
	struct cptrst_clone_args ca = { .nr_pids = 1 };
	pid_t ok = free_range(20300, 1);
	pid_t pids[33] = { ok };
	int i;

	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE - 8, pids));
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE + 8, pids));
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, -1, pids));
	ca.reserved0 = 1;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	ca.reserved0 = 0;
	ca.clone_flags_high = 1;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	ca.clone_flags_high = 0;
	ca.child_stack_size = 4096;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	ca.child_stack_size = 0;
	/* Pids out of range. */
	pids[0] = 0;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	pids[0] = -5;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	pids[0] = 5 * 1024 * 1024;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	/* More levels than namespaces: this test runs at level 0. */
	pids[0] = ok;
	pids[1] = ok + 1;
	ca.nr_pids = 2;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	/* A new namespace's pid must be 1. */
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD | CLONE_NEWPID, &ca, ARGS_SIZE, pids));
	for (i = 0; i < 33; i++)
		pids[i] = ok;
	ca.nr_pids = 33;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
	/* Flags the v13 ABI cannot carry. */
	ca.nr_pids = 1;
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD | CLONE_SETTLS, &ca, ARGS_SIZE, pids));
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD | CLONE_PIDFD, &ca, ARGS_SIZE, pids));
	/* Bad pointers. */
	EXPECT_EQ(-EFAULT, try_eclone(SIGCHLD, NULL, ARGS_SIZE, pids));
	EXPECT_EQ(-EFAULT, try_eclone(SIGCHLD, &ca, ARGS_SIZE, NULL));
	/* Nothing was created by any of these. */
	EXPECT_TRUE(pid_free(ok));
}

/* Without CAP_CHECKPOINT_RESTORE/CAP_SYS_ADMIN: EPERM, even with the device open. */
TEST(unprivileged_caller_is_eperm)
{
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (child == 0) {
		struct cptrst_clone_args ca = { .nr_pids = 1 };
		pid_t pids[1] = { free_range(20400, 1) };
		int fd = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);

		if (fd < 0)
			_exit(10);
		eclone_set_device_fd(fd);
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(11);
		_exit(try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids) == -EPERM ? 0 : 12);
	}
	EXPECT_EQ(0, wait_code(child));
}

static int futex_wait(int *addr, int val)
{
	return syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}

struct thread_result {
	pid_t tid, tgid;
	unsigned long stack_addr;
};

static int thread_fn(void *arg)
{
	struct thread_result *r = arg;
	int local;

	r->tid = syscall(SYS_gettid);
	r->tgid = getpid();
	r->stack_addr = (unsigned long)&local;
	return 0;
}

/* A thread with a chosen tid, on a stack the caller gave it. */
TEST(clone_thread_with_chosen_tid)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	static struct thread_result r;
	static int ctid = -1;
	pid_t want = free_range(20500, 1), pids[1] = { want }, tid;
	struct cptrst_clone_args ca = {
		.child_stack = (unsigned long)(stack + sizeof(stack)),
		.parent_tid_ptr = (unsigned long)&ctid,
		.child_tid_ptr = (unsigned long)&ctid,
		.nr_pids = 1,
	};
	unsigned int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			     CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

	tid = eclone_fn(thread_fn, &r, flags, &ca, ARGS_SIZE, pids);
	ASSERT_EQ(want, tid);
	/* CLONE_CHILD_CLEARTID: the kernel zeroes ctid and wakes us at exit. */
	while (__atomic_load_n(&ctid, __ATOMIC_ACQUIRE) != 0)
		futex_wait(&ctid, want);
	EXPECT_EQ(want, r.tid);
	EXPECT_EQ(getpid(), r.tgid);
	EXPECT_LE((unsigned long)stack, r.stack_addr);
	EXPECT_GT((unsigned long)stack + sizeof(stack), r.stack_addr);
}

static int on_stack_fn(void *arg)
{
	unsigned long *where = arg;
	int local;

	*where = (unsigned long)&local;
	return 7;
}

/* A process (CLONE_VM) that really runs on the caller's stack. */
TEST(child_runs_on_given_stack)
{
	static char stack[32 * 1024] __attribute__((aligned(16)));
	static unsigned long where;
	pid_t want = free_range(20600, 1), pids[1] = { want }, pid;
	struct cptrst_clone_args ca = {
		.child_stack = (unsigned long)(stack + sizeof(stack)),
		.nr_pids = 1,
	};

	pid = eclone_fn(on_stack_fn, &where, CLONE_VM | SIGCHLD, &ca, ARGS_SIZE, pids);
	ASSERT_EQ(want, pid);
	EXPECT_EQ(7, wait_code(pid));
	EXPECT_LE((unsigned long)stack, where);
	EXPECT_GT((unsigned long)stack + sizeof(stack), where);
	/* eclone() proper refuses a stack: it would return on it. */
	EXPECT_EQ(-EINVAL, try_eclone(SIGCHLD, &ca, ARGS_SIZE, pids));
}

TEST(thousand_consecutive_pids)
{
	struct cptrst_clone_args ca = { .nr_pids = 1 };
	pid_t base = free_range(21000, 1000), pids[1];
	int i, bad = 0;

	ASSERT_LT(0, base);
	for (i = 0; i < 1000; i++) {
		pid_t pid;

		pids[0] = base + i;
		pid = eclone(SIGCHLD, &ca, ARGS_SIZE, pids);
		if (pid == 0)
			_exit(0);
		if (pid != base + i || wait_code(pid) != 0)
			bad++;
	}
	EXPECT_EQ(0, bad);
}

TEST_HARNESS_MAIN
