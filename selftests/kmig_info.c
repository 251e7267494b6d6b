// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_GET_INFO, the extensible-struct rules every kmig ioctl follows,
 * device permissions, the proto_max parameter and unload safety.
 */
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kmig_test.h"
#include "kselftest_harness.h"

#define KNOWN_CAPS	(KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS)

FIXTURE(info) {
	int fd;
	struct kmig_info info;
	/* Room for a caller that knows a larger struct. */
	unsigned char big[8192];
};

FIXTURE_SETUP(info)
{
	self->fd = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", KMIG_DEV, strerror(errno));
	memset(&self->info, 0, sizeof(self->info));
	self->info.size = sizeof(self->info);
	memset(self->big, 0, sizeof(self->big));
}

FIXTURE_TEARDOWN(info)
{
	close(self->fd);
}

TEST_F(info, sane_values)
{
	struct kmig_info *in = &self->info;

	ASSERT_EQ(0, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
	EXPECT_EQ(sizeof(*in), in->size);
	EXPECT_EQ(0, in->flags);
	EXPECT_EQ(0, KMIG_VERSION_MAJOR(in->module_version));
	EXPECT_EQ(2, KMIG_VERSION_MINOR(in->module_version));
	EXPECT_EQ(page_size(), in->page_size);
	EXPECT_EQ(KMIG_PROTO_V1, in->proto_min);
	EXPECT_LE(in->proto_min, in->proto_max);
	EXPECT_LE(in->proto_max, in->proto_max_builtin);
	EXPECT_EQ(KMIG_PROTO_V2, in->proto_max_builtin);
	EXPECT_EQ(0, in->caps & ~KNOWN_CAPS);
	EXPECT_TRUE(in->features & KMIG_FEAT_GET_INFO);
	EXPECT_TRUE(in->features & KMIG_FEAT_MEM);
	EXPECT_TRUE(in->features & KMIG_FEAT_DIRTY_TRACK);
	EXPECT_TRUE(in->features & KMIG_FEAT_MEM_LARGE);
	EXPECT_TRUE(in->features & KMIG_FEAT_MARK_DIRTY);
	EXPECT_TRUE(in->features & KMIG_FEAT_HELD_DIRTY);
	EXPECT_TRUE(in->features & KMIG_FEAT_FS);
	EXPECT_LE(1ULL << 30, in->max_mem_size);
	EXPECT_EQ(0, in->max_mem_size % page_size());
	EXPECT_EQ(0, in->pad);
}

TEST_F(info, size_zero)
{
	self->info.size = 0;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
}

TEST_F(info, size_too_small)
{
	self->info.size = KMIG_INFO_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
	/* Nothing was written back. */
	EXPECT_EQ(0, self->info.module_version);
}

TEST_F(info, size_larger_zero_tail)
{
	struct kmig_info *in = (struct kmig_info *)self->big;

	in->size = sizeof(*in) + 64;
	ASSERT_EQ(0, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
	/* The kernel keeps the caller's size and fills what it knows. */
	EXPECT_EQ(sizeof(*in) + 64, in->size);
	EXPECT_EQ(page_size(), in->page_size);
	for (size_t i = sizeof(*in); i < sizeof(*in) + 64; i++)
		ASSERT_EQ(0, self->big[i]);
}

TEST_F(info, size_larger_nonzero_tail)
{
	struct kmig_info *in = (struct kmig_info *)self->big;

	in->size = sizeof(*in) + 64;
	self->big[sizeof(*in) + 63] = 1;
	EXPECT_EQ(-E2BIG, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
	EXPECT_EQ(0, in->page_size);
}

TEST_F(info, size_above_page)
{
	struct kmig_info *in = (struct kmig_info *)self->big;

	in->size = 4097;
	EXPECT_EQ(-E2BIG, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
}

TEST_F(info, flags_nonzero)
{
	self->info.flags = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
	self->info.flags = 0x80000000;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
}

TEST_F(info, pad_nonzero)
{
	self->info.pad = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
}

TEST_F(info, reserved_nonzero)
{
	for (int i = 0; i < 4; i++) {
		memset(self->info.reserved, 0, sizeof(self->info.reserved));
		self->info.reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(-EINVAL,
			  kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
	}
}

TEST_F(info, output_fields_ignored_on_input)
{
	self->info.proto_min = 77;
	self->info.caps = ~0ULL;
	ASSERT_EQ(0, kmig_ioctl(self->fd, KMIG_GET_INFO, &self->info));
	EXPECT_EQ(KMIG_PROTO_V1, self->info.proto_min);
	EXPECT_EQ(0, self->info.caps & ~KNOWN_CAPS);
}

TEST_F(info, bad_pointer_null)
{
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_GET_INFO, NULL));
}

TEST_F(info, bad_pointer_unmapped)
{
	void *p = mmap(NULL, page_size(), PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_GET_INFO, p));
	munmap(p, page_size());
}

TEST_F(info, bad_pointer_struct_crosses_into_hole)
{
	long ps = page_size();
	char *p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct kmig_info *in;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + ps, ps));
	/* The size field is readable, the rest of the struct is not. */
	in = (struct kmig_info *)(p + ps - 8);
	in->size = sizeof(*in);
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
	munmap(p, ps);
}

TEST_F(info, read_only_buffer)
{
	struct kmig_info *in = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, in);
	in->size = sizeof(*in);
	ASSERT_EQ(0, mprotect(in, page_size(), PROT_READ));
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_GET_INFO, in));
	munmap(in, page_size());
}

TEST_F(info, unknown_ioctl)
{
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->fd, _IO(KMIG_IOC_MAGIC, 0x7f),
				      &self->info));
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->fd, _IO('k', 0x00), &self->info));
	/* The number is _IO(); a sized variant is a different ioctl. */
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->fd, _IOWR(KMIG_IOC_MAGIC, 0x00,
						      struct kmig_info),
				      &self->info));
	/* Memory-fd ioctls are not device ioctls. */
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->fd, KMIG_MEM_GET_STATS,
				      &self->info));
}

TEST(unprivileged_open_refused)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		if (open(KMIG_DEV, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST(device_node_mode)
{
	struct stat st;

	ASSERT_EQ(0, stat(KMIG_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

FIXTURE(param) {
	int fd;
	char saved[32];
	char saved_min[32];
	char saved_gap[32];
};

FIXTURE_SETUP(param)
{
	self->fd = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, kmig_param_read("proto_max", self->saved,
				     sizeof(self->saved)));
	ASSERT_EQ(0, kmig_param_read("proto_min", self->saved_min,
				     sizeof(self->saved_min)));
	ASSERT_EQ(0, kmig_param_read("rearm_gap", self->saved_gap,
				     sizeof(self->saved_gap)));
}

FIXTURE_TEARDOWN(param)
{
	kmig_param_write("proto_min", self->saved_min);
	kmig_param_write("proto_max", self->saved);
	kmig_param_write("rearm_gap", self->saved_gap);
	close(self->fd);
}

TEST_F(param, rearm_gap_range)
{
	char now[32];

	EXPECT_STREQ("16", self->saved_gap);
	ASSERT_EQ(0, kmig_param_write("rearm_gap", "0"));
	ASSERT_EQ(0, kmig_param_write("rearm_gap", "256"));
	EXPECT_EQ(-EINVAL, kmig_param_write("rearm_gap", "257"));
	EXPECT_EQ(-EINVAL, kmig_param_write("rearm_gap", "-1"));
	EXPECT_EQ(-EINVAL, kmig_param_write("rearm_gap", "wide"));
	EXPECT_EQ(-ERANGE, kmig_param_write("rearm_gap", "99999999999"));
	ASSERT_EQ(0, kmig_param_read("rearm_gap", now, sizeof(now)));
	EXPECT_STREQ("256", now);
}

TEST_F(param, proto_max_lowers_window)
{
	struct kmig_info info;

	ASSERT_EQ(0, kmig_param_write("proto_max", "1"));
	ASSERT_EQ(0, kmig_get_info(self->fd, &info));
	EXPECT_EQ(1, info.proto_max);
	EXPECT_EQ(1, info.proto_min);
	EXPECT_EQ(KMIG_PROTO_V2, info.proto_max_builtin);

	ASSERT_EQ(0, kmig_param_write("proto_max", "2"));
	ASSERT_EQ(0, kmig_get_info(self->fd, &info));
	EXPECT_EQ(2, info.proto_max);
}

TEST_F(param, proto_max_out_of_range)
{
	char now[32];

	EXPECT_EQ(-EINVAL, kmig_param_write("proto_max", "0"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_max", "3"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_max", "-1"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_max", "two"));
	ASSERT_EQ(0, kmig_param_read("proto_max", now, sizeof(now)));
	EXPECT_STREQ(self->saved, now);
}

TEST_F(param, proto_min_raises_window)
{
	struct kmig_info info;

	ASSERT_EQ(0, kmig_param_write("proto_min", "2"));
	ASSERT_EQ(0, kmig_get_info(self->fd, &info));
	EXPECT_EQ(2, info.proto_min);
	EXPECT_EQ(2, info.proto_max);
	/* The window never empties, from either end. */
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_max", "1"));
	ASSERT_EQ(0, kmig_param_write("proto_min", "1"));
	ASSERT_EQ(0, kmig_param_write("proto_max", "1"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_min", "2"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_min", "0"));
	EXPECT_EQ(-EINVAL, kmig_param_write("proto_min", "3"));
	ASSERT_EQ(0, kmig_get_info(self->fd, &info));
	EXPECT_EQ(1, info.proto_min);
	EXPECT_EQ(1, info.proto_max);
}

static long delete_module(const char *name, unsigned int flags)
{
	long ret = syscall(SYS_delete_module, name, flags);

	return ret < 0 ? -errno : ret;
}

TEST(unload_refused_while_device_open)
{
	int fd = open(KMIG_DEV, O_RDWR);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EWOULDBLOCK, delete_module("kmig", O_NONBLOCK));
	close(fd);
}

TEST(unload_refused_while_memory_fd_open)
{
	int dev = open(KMIG_DEV, O_RDWR);
	int mem;

	ASSERT_LE(0, dev);
	mem = kmig_mem_create(dev, page_size());
	ASSERT_LE(0, mem);
	close(dev);
	/* Only the memory fd holds the module now. */
	EXPECT_EQ(-EWOULDBLOCK, delete_module("kmig", O_NONBLOCK));
	close(mem);
}

TEST_HARNESS_MAIN
