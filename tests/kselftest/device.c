// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/cptrst: the device node, who may open it, the ioctl dispatcher's
 * argument checks, and unload refused while the device is open.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/cptrst.h>
#include "kselftest_harness.h"

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

	for (i = 0; i < 4; i++) {
		memset(&c, 0, sizeof(c));
		c.reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_CHECKPOINT, &c));
	}
	for (i = 0; i < 3; i++) {
		memset(&r, 0, sizeof(r));
		r.reserved[i] = ~0ULL;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_RESTART, &r));
	}
	for (i = 0; i < 3; i++) {
		memset(&e, 0, sizeof(e));
		e.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, xioctl(self->fd, CPTRST_IOC_ECLONE, &e));
	}
	memset(&c, 0, sizeof(c));
	c.pad = 1;
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
		if (i < 3)
			continue;	/* COORD, SKIP_FILES, RESUME */
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

TEST_HARNESS_MAIN
