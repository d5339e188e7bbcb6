// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/cptrst: the device node, who may open it, the ioctl dispatcher's
 * argument checks, and unload refused while the device is open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/cptrst.h>
#include "cptrst_harness.h"

#define MODULE_PATH "/lib/modules/cptrst.ko"

/* ioctl() that returns -errno, so ASSERT_EQ shows which error came back. */
static long xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

TEST(device_node_is_root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(CPTRST_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600u, st.st_mode & 07777);
	EXPECT_EQ(0u, st.st_uid);
	EXPECT_EQ(0u, st.st_gid);
}

TEST(unprivileged_open_is_refused)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		if (open(CPTRST_DEVICE, O_RDWR) >= 0)
			_exit(11);
		_exit(errno == EACCES ? 0 : 12);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) {
		TH_LOG("child: 10 = could not drop privileges, 11 = open succeeded, 12 = wrong errno");
	}
}

FIXTURE(dev) {
	int fd;
};

FIXTURE_SETUP(dev)
{
	self->fd = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

TEST_F(dev, unknown_command_is_enotty)
{
	struct cptrst_checkpoint_args a = { 0 };
	struct termios t;

	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 0, struct cptrst_checkpoint_args), &a));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 4, struct cptrst_checkpoint_args), &a));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 255, struct cptrst_checkpoint_args), &a));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IO(CPTRST_IOC_MAGIC, 7), NULL));
	/* Another driver's command with our number and size. */
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, _IOW('T', 1, struct cptrst_checkpoint_args), &a));
	EXPECT_EQ(-ENOTTY, xioctl(self->fd, TCGETS, &t));
}

TEST_F(dev, wrong_size_or_direction_is_einval)
{
	char buf[256] = { 0 };

	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 1, char[40]), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 1, char[56]), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 2, char[8]), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOW(CPTRST_IOC_MAGIC, 3, struct cptrst_checkpoint_args), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOR(CPTRST_IOC_MAGIC, 1, struct cptrst_checkpoint_args), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IOWR(CPTRST_IOC_MAGIC, 2, struct cptrst_restart_args), buf));
	EXPECT_EQ(-EINVAL, xioctl(self->fd, _IO(CPTRST_IOC_MAGIC, 1), NULL));
}

TEST_F(dev, bad_argument_pointer_is_efault)
{
	EXPECT_EQ(-EFAULT, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, NULL));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, CPTRST_IOC_RESTART, (void *)1));
	EXPECT_EQ(-EFAULT, xioctl(self->fd, CPTRST_IOC_ECLONE, (void *)0xffffffffff600000UL));
}

TEST_F(dev, nonzero_reserved_or_unknown_flag_is_einval)
{
	struct cptrst_checkpoint_args c;
	struct cptrst_restart_args r;
	struct cptrst_eclone_args e;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		memset(&c, 0, sizeof(c));
		c.reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	}
	/* A live block without a live flag, a live flag without one, both flags. */
	memset(&c, 0, sizeof(c));
	c.live = 0x1000;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	memset(&c, 0, sizeof(c));
	c.flags = CPTRST_CKPT_ROUND;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	c.flags = CPTRST_CKPT_FINAL;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	c.flags = CPTRST_CKPT_ROUND | CPTRST_CKPT_FINAL;
	c.live = 0x1000;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	memset(&c, 0, sizeof(c));
	c.flags = 1U << 2;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	memset(&r, 0, sizeof(r));
	r.reserved[0] = ~0ULL;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	/* The file table is the coordinator's, its pad must be 0. */
	memset(&r, 0, sizeof(r));
	r.pad = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	memset(&r, 0, sizeof(r));
	r.nfiles = 1;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	for (i = 0; i < 3; i++) {
		memset(&e, 0, sizeof(e));
		e.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_ECLONE, &e));
	}
	/* So does the checkpoint's. */
	memset(&c, 0, sizeof(c));
	c.msg_len = 16;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	/* A message buffer needs both its pointer and its size, at most 4096. */
	memset(&r, 0, sizeof(r));
	r.msg_len = 16;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	r.msg_len = 0;
	r.msg = (unsigned long)&c;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	r.msg_len = 4097;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	/* Coordinating and resuming exclude each other. */
	memset(&r, 0, sizeof(r));
	r.flags = CPTRST_RESTART_COORD | CPTRST_RESTART_RESUME;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	for (i = 0; i < 32; i++) {
		memset(&c, 0, sizeof(c));
		c.flags = 1u << i;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
		if (i < 5)
			continue;	/* COORD, SKIP_FILES, RESUME, FILE_CHANGED_OK, AS_INVOKER */
		memset(&r, 0, sizeof(r));
		r.flags = 1u << i;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	}
}

/* A coordinator needs an image it can read twice: a bad or unseekable fd fails at once. */
TEST_F(dev, restart_needs_a_readable_seekable_image)
{
	struct cptrst_restart_args r = { .ctid = getpid(), .fd = -1, .flags = CPTRST_RESTART_COORD };
	int p[2];

	EXPECT_EQ(-EBADF, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	ASSERT_EQ(0, pipe(p));
	r.fd = p[0];
	EXPECT_EQ(-ESPIPE, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	r.fd = p[1];
	EXPECT_EQ(-EBADF, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	close(p[0]);
	close(p[1]);
	/* A resume call from a task that is not being restored. */
	r.fd = 0;
	r.ctid = 0;
	r.flags = CPTRST_RESTART_RESUME;
	EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
}

/* A deterministic generator (xorshift64), so that a failure replays. */
static __u64 rnd(__u64 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Issue 12, raw ioctl arguments: 3000 calls with random argument bytes
 * (half of them with the reserved fields and padding zeroed, so that the
 * later checks are reached, with /dev/null for a checkpoint and a regular
 * file of junk for a coordinator), random flags and pids; a participant's
 * fd is never open (with a real image fd it would wait, killably, for its
 * coordinator: that is its job). Every call fails with one of the
 * documented errnos; none succeeds, hangs or splats.
 */
TEST_F(dev, random_arguments_are_refused)
{
	static const int allowed[] = { EINVAL, EFAULT, EBADF, ESRCH, EPERM, EBUSY, E2BIG, ENOTTY,
				       ESPIPE, ENOEXEC };
	unsigned long cmds[] = { CPTRST_IOC_CHECKPOINT, CPTRST_IOC_RESTART, CPTRST_IOC_ECLONE, 0 };
	int counts[ARRAY_SIZE(allowed)] = { 0 };
	__u64 x = 0x5eedc0de, buf[8];
	int i, k, bad = 0;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int junk = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	ASSERT_LE(0, null);
	ASSERT_LE(0, junk);
	memset(buf, 0x5a, sizeof(buf));
	ASSERT_EQ((ssize_t)sizeof(buf), write(junk, buf, sizeof(buf)));

	for (i = 0; i < 3000; i++) {
		int which = rnd(&x) % 4, ok = 0;
		unsigned long cmd = cmds[which];
		long r;

		for (k = 0; k < 8; k++)
			buf[k] = rnd(&x);
		if (which == 3)
			cmd = _IOC(rnd(&x) % 4, CPTRST_IOC_MAGIC, rnd(&x) % 8, rnd(&x) % 128);
		if (which == 0) {
			struct cptrst_checkpoint_args *c = (void *)buf;

			c->fd = 1000 + (rnd(&x) % 1000);
			if (i % 2) {
				c->msg_len = 0;
				c->msg = 0;
				c->flags = 0;
				memset(c->reserved, 0, sizeof(c->reserved));
				c->pid = rnd(&x) % 70000 - 10;
				c->fd = null;	/* reaches the pid checks */
			}
		} else if (which == 1) {
			struct cptrst_restart_args *r = (void *)buf;

			r->fd = 1000 + (rnd(&x) % 1000);
			if (i % 2) {
				memset(r->reserved, 0, sizeof(r->reserved));
				r->flags &= 7;
				r->msg_len %= 5000;
				r->ctid = rnd(&x) % 70000 - 10;
				/* A coordinator reaches the image and ctid checks. */
				if ((r->flags & 5) == CPTRST_RESTART_COORD)
					r->fd = junk;
			}
		} else if (which == 2) {
			struct cptrst_eclone_args *e = (void *)buf;

			if (i % 2) {
				memset(e->reserved, 0, sizeof(e->reserved));
				e->args_size = sizeof(struct cptrst_clone_args);
			}
		}
		r = xioctl(self->fd, cmd, buf);
		for (k = 0; k < (int)ARRAY_SIZE(allowed); k++) {
			if (r == -allowed[k]) {
				counts[k]++;
				ok = 1;
			}
		}
		if (!ok) {
			bad++;
			TH_LOG("call %d: cmd %#lx returned %ld", i, cmd, r);
		}
	}
	for (k = 0; k < (int)ARRAY_SIZE(allowed); k++)
		TH_LOG("errno %d: %d calls", allowed[k], counts[k]);
	close(null);
	close(junk);
	EXPECT_EQ(0, bad);
}

#define SUID_SLEEPER "/tmp/cptrst-suid-sleeper"

/*
 * The root-owned process of failed_restart_kills_no_foreign_task: a
 * setuid-root copy of this program that becomes wholly root (real, effective
 * and saved uid 0: a uid-1000 caller may not signal it), says so on fd 3,
 * and sleeps until killed.
 */
static int suid_sleeper(void)
{
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		return 1;
	/* One byte for the caller, one for the test. */
	if (write(3, "rr", 2) != 2)
		return 2;
	close(3);
	for (;;)
		pause();
}

/* The state and the parent of @pid, from /proc/PID/stat: 0 if it is gone. */
static int read_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	return p && sscanf(p + 2, "%c %d", state, ppid) == 2;
}

/* Is @pid alive (neither a zombie nor dead)? */
static int alive(pid_t pid)
{
	pid_t ppid;
	char state;

	return read_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

/* The parent of @pid (0: gone). */
static pid_t parent_of(pid_t pid)
{
	pid_t ppid;
	char state;

	return read_stat(pid, &state, &ppid) ? ppid : 0;
}

/* The process whose argv[0] is @argv0 (0: none). */
static pid_t find_by_cmdline(const char *argv0)
{
	struct dirent *e;
	pid_t found = 0;
	DIR *dir = opendir("/proc");

	while (dir && !found && (e = readdir(dir))) {
		char path[300], buf[256];
		int fd, n;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		if (n > 0 && !strcmp(buf, argv0))
			found = atoi(e->d_name);
	}
	if (dir)
		closedir(dir);
	return found;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	if (in < 0)
		return -1;
	unlink(to);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL, 0700);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			n = -1;
	close(in);
	if (fchown(out, 0, 0) || fchmod(out, mode))
		n = -1;
	close(out);
	return n < 0 ? -1 : 0;
}

/*
 * Issue 12: with the device opened up to users, a failing restart by an
 * unprivileged caller kills nothing that did not join the restart, and
 * nothing the caller could not kill itself. The tree's root C is the
 * caller's child; below it runs a root-owned process D. A coordinator call
 * with a garbage image fails, and C and D are still alive afterwards.
 */
TEST(failed_restart_kills_no_foreign_task)
{
	int rd[2], st, p_status;
	pid_t p, c, d;
	char b;

	ASSERT_EQ(0, copy_file("/proc/self/exe", SUID_SLEEPER, 04755));
	ASSERT_EQ(0, chmod(CPTRST_DEVICE, 0666));
	ASSERT_EQ(0, pipe(rd));
	p = fork();
	ASSERT_LE(0, p);
	if (p == 0) {
		struct cptrst_restart_args r = { .flags = CPTRST_RESTART_COORD };
		char junk[4096];
		int img, dev;

		if (setgroups(0, NULL) || setresgid(1000, 1000, 1000) || setresuid(1000, 1000, 1000))
			_exit(10);
		c = fork();
		if (c == 0) {
			/* The root: a child of the caller, with a root-owned child. */
			d = fork();
			if (d == 0) {
				dup2(rd[1], 3);
				execl(SUID_SLEEPER, SUID_SLEEPER, "--suid-sleeper", (char *)NULL);
				_exit(11);
			}
			for (;;)
				pause();
		}
		close(rd[1]);
		if (c < 0 || read(rd[0], &b, 1) != 1)
			_exit(12);
		memset(junk, 0x5a, sizeof(junk));
		img = open("/tmp", O_TMPFILE | O_RDWR, 0600);
		if (img < 0 || write(img, junk, sizeof(junk)) != sizeof(junk) || lseek(img, 0, SEEK_SET))
			_exit(13);
		dev = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
		if (dev < 0)
			_exit(14);
		r.ctid = c;
		r.fd = img;
		/* A bad image: refused (ENOEXEC: bad magic). */
		if (ioctl(dev, CPTRST_IOC_RESTART, &r) == 0)
			_exit(15);
		if (errno != ENOEXEC)
			_exit(16);
		_exit(0);
	}
	close(rd[1]);
	ASSERT_EQ(1, read(rd[0], &b, 1)) {
		TH_LOG("the root-owned process did not start");
	}
	close(rd[0]);
	ASSERT_EQ(p, waitpid(p, &p_status, 0));
	/* P is gone: C was re-parented, D is still C's. Find them. */
	EXPECT_TRUE(WIFEXITED(p_status));
	d = find_by_cmdline(SUID_SLEEPER);
	c = d > 0 ? parent_of(d) : 0;
	chmod(CPTRST_DEVICE, 0600);
	unlink(SUID_SLEEPER);
	EXPECT_EQ(0, WEXITSTATUS(p_status)) {
		TH_LOG("caller exit status %d: 10 drop privileges, 12 D not ready, 13 image,",
		       WEXITSTATUS(p_status));
		TH_LOG("14 open, 15 restart succeeded, 16 wrong errno");
	}
	ASSERT_LT(0, d) {
		TH_LOG("the root-owned process is gone: the failed restart killed it");
	}
	EXPECT_TRUE(alive(d));
	EXPECT_LT(0, c);
	if (c > 0) {
		EXPECT_TRUE(alive(c)) {
			TH_LOG("the tree's root, which never joined the restart, was killed");
		}
		kill(c, SIGKILL);
	}
	kill(d, SIGKILL);
	/* Both were re-parented to this test (a subreaper) or init: reap what is ours. */
	while (waitpid(-1, &st, WNOHANG) > 0)
		;
}

static long delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) < 0 ? -errno : 0;
}

static long load_module(void)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);
	long ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* Unloading is refused while the device is open, and the module stays usable. */
TEST(unload_refused_while_open)
{
	/* An eclone with a bad args_size: answered by the ops table, changes nothing. */
	struct cptrst_eclone_args e = { .args_size = 1 };
	struct cptrst_checkpoint_args c = { 0 };
	int fd = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
	int fd2;

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, delete_module("cptrst"));
	EXPECT_EQ(-EINVAL, xioctl(fd, CPTRST_IOC_ECLONE, &e));
	fd2 = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
	EXPECT_LE(0, fd2);
	EXPECT_EQ(-EINVAL, xioctl(fd2, _IOW(CPTRST_IOC_MAGIC, 1, char[8]), &c));
	close(fd);
	EXPECT_EQ(-EWOULDBLOCK, delete_module("cptrst"));
	close(fd2);
	/* The last close dropped the module reference: unload succeeds. */
	ASSERT_EQ(0, delete_module("cptrst"));
	EXPECT_EQ(-1, open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC));
	EXPECT_EQ(ENOENT, errno);
	/* And loading again brings the device back. */
	ASSERT_EQ(0, load_module());
	fd = open(CPTRST_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, xioctl(fd, CPTRST_IOC_ECLONE, &e));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--suid-sleeper"))
		return suid_sleeper();
	return test_harness_run(argc, argv);
}
