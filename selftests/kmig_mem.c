// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory objects: creation and its validation, mmap rules, sharing
 * across mappings and processes, statistics, memory cgroup accounting.
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kmig_test.h"
#include "kselftest_harness.h"

FIXTURE(mem) {
	int dev;
	long ps;
};

FIXTURE_SETUP(mem)
{
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->ps = page_size();
}

FIXTURE_TEARDOWN(mem)
{
	close(self->dev);
}

TEST_F(mem, create_returns_cloexec_fd)
{
	struct kmig_mem_stats st;
	int fd = kmig_mem_create(self->dev, 16 * self->ps);

	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(16, st.pages);
	EXPECT_EQ(0, st.populated_pages);
	EXPECT_EQ(0, st.tracking);
	close(fd);
}

TEST_F(mem, create_size_zero)
{
	EXPECT_EQ(-EINVAL, kmig_mem_create(self->dev, 0));
}

TEST_F(mem, create_size_unaligned)
{
	EXPECT_EQ(-EINVAL, kmig_mem_create(self->dev, self->ps - 1));
	EXPECT_EQ(-EINVAL, kmig_mem_create(self->dev, self->ps + 1));
}

TEST_F(mem, create_size_above_limit)
{
	struct kmig_info info;

	ASSERT_EQ(0, kmig_get_info(self->dev, &info));
	EXPECT_EQ(-EFBIG, kmig_mem_create(self->dev,
					  info.max_mem_size + self->ps));
	EXPECT_EQ(-EFBIG, kmig_mem_create(self->dev, ~0ULL & ~(self->ps - 1)));
}

TEST_F(mem, create_limit_follows_parameter)
{
	char saved[32];

	ASSERT_EQ(0, kmig_param_read("max_mem_mb", saved, sizeof(saved)));
	ASSERT_EQ(0, kmig_param_write("max_mem_mb", "1"));
	EXPECT_EQ(-EFBIG, kmig_mem_create(self->dev, 2 << 20));
	int fd = kmig_mem_create(self->dev, 1 << 20);

	EXPECT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, kmig_param_write("max_mem_mb", saved));
}

TEST_F(mem, create_flags_unknown)
{
	struct kmig_mem_create c = {
		.size = sizeof(c), .flags = 1U << 1, .mem_size = self->ps,
	};

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->dev, KMIG_MEM_CREATE, &c));
	c.flags = ~0U;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->dev, KMIG_MEM_CREATE, &c));
	c.flags = ~KMIG_MEM_CREATE_LARGE;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->dev, KMIG_MEM_CREATE, &c));
}

/* KMIG_MEM_CREATE_LARGE: a first touch populates its whole 64 KiB folio. */
#define FOLIO_PAGES	16

TEST_F(mem, large_first_touch_populates_folio)
{
	int fd = kmig_mem_create_flags(self->dev, 4 * FOLIO_PAGES * self->ps,
				       KMIG_MEM_CREATE_LARGE);
	struct kmig_mem_stats st;
	unsigned char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 4 * FOLIO_PAGES * self->ps, PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(0, st.populated_pages);
	EXPECT_EQ(0, st.large_folios);
	p[5 * self->ps] = 1;
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	/* Under memory pressure a folio may fall back to single pages. */
	if (!st.large_folios)
		SKIP(goto out, "no 64 KiB folio available (fragmented memory)");
	EXPECT_EQ(FOLIO_PAGES, st.populated_pages);
	EXPECT_EQ(1, st.large_folios);
	/* The rest of the folio reads zero, the next folio is another one. */
	for (long i = 0; i < FOLIO_PAGES * self->ps; i++)
		ASSERT_EQ(i == 5 * self->ps, p[i]);
	p[(2 * FOLIO_PAGES + 3) * self->ps] = 2;
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(2 * FOLIO_PAGES, st.populated_pages);
	EXPECT_EQ(2, st.large_folios);
out:
	munmap(p, 4 * FOLIO_PAGES * self->ps);
	close(fd);
}

/* An end that is not a whole folio is made of single pages. */
TEST_F(mem, large_partial_end_uses_single_pages)
{
	long n = FOLIO_PAGES + 3;
	int fd = kmig_mem_create_flags(self->dev, n * self->ps,
				       KMIG_MEM_CREATE_LARGE);
	struct kmig_mem_stats st;
	unsigned char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, n * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[(n - 1) * self->ps] = 1;
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(1, st.populated_pages);
	EXPECT_EQ(0, st.large_folios);
	EXPECT_EQ(1, p[(n - 1) * self->ps]);
	munmap(p, n * self->ps);
	close(fd);
}

/*
 * Every page of a large object is its own page: distinct contents through
 * two mappings and a child process, and nothing survives the object.
 */
TEST_F(mem, large_pages_are_distinct_and_shared)
{
	long n = 4 * FOLIO_PAGES;
	int fd = kmig_mem_create_flags(self->dev, n * self->ps,
				       KMIG_MEM_CREATE_LARGE);
	unsigned char *a, *b;
	int status;
	pid_t pid;

	ASSERT_LE(0, fd);
	a = mmap(NULL, n * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, n * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	for (long i = 0; i < n; i++)
		memset(a + i * self->ps, 0x10 + i, self->ps);
	for (long i = 0; i < n; i++)
		ASSERT_EQ(0x10 + i, b[i * self->ps + self->ps - 1]);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		for (long i = 0; i < n; i++)
			if (b[i * self->ps + 7] != 0x10 + i)
				_exit(1);
		memset(b + 9 * self->ps, 0x77, self->ps);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0x77, a[9 * self->ps + 100]);
	EXPECT_EQ(0x10 + 10, a[10 * self->ps]);
	munmap(a, n * self->ps);
	munmap(b, n * self->ps);
	close(fd);
}

TEST_F(mem, create_reserved_nonzero)
{
	struct kmig_mem_create c = {
		.size = sizeof(c), .mem_size = self->ps, .reserved = { 0, 1 },
	};

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->dev, KMIG_MEM_CREATE, &c));
}

TEST_F(mem, create_struct_too_small)
{
	struct kmig_mem_create c = {
		.size = KMIG_MEM_CREATE_SIZE_VER0 - 8, .mem_size = self->ps,
	};

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->dev, KMIG_MEM_CREATE, &c));
}

TEST_F(mem, create_struct_larger_nonzero_tail)
{
	__u64 buf[8] = { 0 };
	struct kmig_mem_create *c = (void *)buf;

	c->size = sizeof(buf);
	c->mem_size = self->ps;
	buf[7] = 1;
	EXPECT_EQ(-E2BIG, kmig_ioctl(self->dev, KMIG_MEM_CREATE, c));
	buf[7] = 0;
	int fd = kmig_ioctl(self->dev, KMIG_MEM_CREATE, c);

	EXPECT_LE(0, fd);
	close(fd);
}

TEST_F(mem, create_bad_pointer)
{
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->dev, KMIG_MEM_CREATE, NULL));
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->dev, KMIG_MEM_CREATE, (void *)8));
}

TEST_F(mem, mmap_shared_read_write)
{
	int fd = kmig_mem_create(self->dev, 8 * self->ps);
	struct kmig_mem_stats st;
	unsigned char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 8 * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	/* Fresh memory reads as zero. */
	for (long i = 0; i < 8 * self->ps; i++)
		ASSERT_EQ(0, p[i]);
	for (long i = 0; i < 8; i++)
		memset(p + i * self->ps, 0xa0 + i, self->ps);
	for (long i = 0; i < 8; i++)
		ASSERT_EQ(0xa0 + i, p[i * self->ps + self->ps - 1]);
	ASSERT_EQ(0, kmig_mem_stats(fd, &st));
	EXPECT_EQ(8, st.populated_pages);
	munmap(p, 8 * self->ps);
	close(fd);
}

TEST_F(mem, mmap_private_refused)
{
	int fd = kmig_mem_create(self->dev, self->ps);

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->ps, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE, fd, 0));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(mem, mmap_exec_refused)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	void *p;

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->ps, PROT_READ | PROT_EXEC,
				   MAP_SHARED, fd, 0));
	EXPECT_EQ(EPERM, errno);
	/* Nor can a mapping become executable later. */
	p = mmap(NULL, self->ps, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, mprotect(p, self->ps, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->ps);
	close(fd);
}

TEST_F(mem, mmap_offset_beyond_end)
{
	int fd = kmig_mem_create(self->dev, 4 * self->ps);

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, self->ps, PROT_READ, MAP_SHARED, fd,
				   4 * self->ps));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(mem, mmap_length_beyond_end)
{
	int fd = kmig_mem_create(self->dev, 4 * self->ps);

	ASSERT_LE(0, fd);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 5 * self->ps, PROT_READ, MAP_SHARED,
				   fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 2 * self->ps, PROT_READ, MAP_SHARED,
				   fd, 3 * self->ps));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(mem, mremap_cannot_grow)
{
	int fd = kmig_mem_create(self->dev, 4 * self->ps);
	void *p, *q;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * self->ps, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = mremap(p, 2 * self->ps, 4 * self->ps, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);
	munmap(p, 2 * self->ps);
	close(fd);
}

TEST_F(mem, two_mappings_share_pages)
{
	int fd = kmig_mem_create(self->dev, 4 * self->ps);
	char *a, *b;

	ASSERT_LE(0, fd);
	a = mmap(NULL, 4 * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, 2 * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 2 * self->ps);
	ASSERT_NE(MAP_FAILED, a);
	ASSERT_NE(MAP_FAILED, b);
	strcpy(a + 2 * self->ps, "through a");
	EXPECT_STREQ("through a", b);
	strcpy(b + self->ps, "through b");
	EXPECT_STREQ("through b", a + 3 * self->ps);
	munmap(a, 4 * self->ps);
	munmap(b, 2 * self->ps);
	close(fd);
}

TEST_F(mem, mapping_outlives_fd)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	strcpy(p, "still here");
	EXPECT_STREQ("still here", p);
	munmap(p, self->ps);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* A second process (a vhost-user backend, say) maps the fd it received. */
TEST_F(mem, shared_over_scm_rights)
{
	int sv[2], fd, status;
	char *p;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int mfd = recv_fd(sv[1]);
		char *q;

		if (mfd < 0)
			_exit(2);
		q = mmap(NULL, 2 * page_size(), PROT_READ | PROT_WRITE,
			 MAP_SHARED, mfd, 0);
		if (q == MAP_FAILED)
			_exit(3);
		if (strcmp(q, "from parent"))
			_exit(4);
		strcpy(q + page_size(), "from child");
		_exit(0);
	}
	fd = kmig_mem_create(self->dev, 2 * self->ps);
	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	strcpy(p, "from parent");
	ASSERT_EQ(0, send_fd(sv[0], fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_STREQ("from child", p + self->ps);
	munmap(p, 2 * self->ps);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

TEST_F(mem, shared_across_fork)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	int status;
	char *p;
	pid_t pid;

	ASSERT_LE(0, fd);
	p = mmap(NULL, self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		strcpy(p, "child wrote");
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_STREQ("child wrote", p);
	munmap(p, self->ps);
	close(fd);
}

TEST_F(mem, stats_validation)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	struct kmig_mem_stats st = { .size = sizeof(st), .flags = 1 };

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kmig_ioctl(fd, KMIG_MEM_GET_STATS, &st));
	st.flags = 0;
	st.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(fd, KMIG_MEM_GET_STATS, &st));
	st.reserved[0] = 0;
	/* output fields are ignored on input */
	st.large_folios = 5;
	st.held_pages = 6;
	st.marked_pages = 7;
	EXPECT_EQ(0, kmig_ioctl(fd, KMIG_MEM_GET_STATS, &st));
	EXPECT_EQ(0, st.large_folios);
	EXPECT_EQ(0, st.held_pages);
	EXPECT_EQ(0, st.marked_pages);
	st.size = KMIG_MEM_STATS_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(fd, KMIG_MEM_GET_STATS, &st));
	EXPECT_EQ(-EFAULT, kmig_ioctl(fd, KMIG_MEM_GET_STATS, NULL));
	close(fd);
}

TEST_F(mem, unknown_ioctl_on_memory_fd)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	struct kmig_info info = { .size = sizeof(info) };

	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOTTY, kmig_ioctl(fd, _IO(KMIG_IOC_MAGIC, 0x7f), &info));
	/* Device ioctls are not memory-fd ioctls. */
	EXPECT_EQ(-ENOTTY, kmig_ioctl(fd, KMIG_GET_INFO, &info));
	EXPECT_EQ(-ENOTTY, kmig_ioctl(fd, KMIG_MEM_CREATE, &info));
	close(fd);
}

TEST_F(mem, read_write_syscalls_refused)
{
	int fd = kmig_mem_create(self->dev, self->ps);
	char buf[16];

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

/*
 * Pages are charged to the memory cgroup of the process that creates the
 * object, here the one that faults them too (kmig_fs.c has the other case).
 */
TEST_F(mem, pages_charged_to_memcg)
{
	const char *cg = "/sys/fs/cgroup/kmig-memcg-test";
	long before, after, n = 256;
	int status;
	pid_t pid;

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK))
		SKIP(return, "cgroup2 is not mounted at /sys/fs/cgroup");
	kmig_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir(cg, 0755);
	ASSERT_EQ(0, access("/sys/fs/cgroup/kmig-memcg-test/memory.current",
			    R_OK));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char pidbuf[32];
		int fd;
		char *p;

		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		if (kmig_write_file("/sys/fs/cgroup/kmig-memcg-test/cgroup.procs",
			      pidbuf))
			_exit(2);
		fd = kmig_mem_create(self->dev, n * page_size());
		p = mmap(NULL, n * page_size(), PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);
		if (fd < 0 || p == MAP_FAILED)
			_exit(3);
		before = kmig_read_long("/sys/fs/cgroup/kmig-memcg-test/memory.current");
		for (long i = 0; i < n; i++)
			p[i * page_size()] = 1;
		after = kmig_read_long("/sys/fs/cgroup/kmig-memcg-test/memory.current");
		/* Report the growth in pages through the exit status. */
		_exit((after - before) / page_size() >= n ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	rmdir(cg);
}

/* One "kmig-NAME:" figure of /proc/self/fdinfo/FD, or -1. */
static long long fdinfo(int fd, const char *name)
{
	char path[64], line[128], key[64];
	long long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	snprintf(key, sizeof(key), "kmig-%s:", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			val = strtoll(line + strlen(key), NULL, 10);
	fclose(f);
	return val;
}

/* What an operator sees of an object that is in nobody's RSS. */
TEST_F(mem, fdinfo)
{
	int fd = kmig_mem_create(self->dev, 64 * self->ps);
	unsigned char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, 64 * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(64 * self->ps, fdinfo(fd, "size"));
	EXPECT_EQ(0, fdinfo(fd, "populated"));
	EXPECT_EQ(0, fdinfo(fd, "tracking"));
	EXPECT_EQ(0, fdinfo(fd, "sessions"));
	p[0] = p[5 * self->ps] = p[9 * self->ps] = 1;
	EXPECT_EQ(3, fdinfo(fd, "populated"));
	EXPECT_EQ(3 * self->ps / 1024, fdinfo(fd, "populated-kb"));
	ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(1, fdinfo(fd, "tracking"));
	EXPECT_EQ(0, fdinfo(fd, "dirty"));
	p[5 * self->ps] = p[20 * self->ps] = 2;
	EXPECT_EQ(2, fdinfo(fd, "dirty"));
	EXPECT_EQ(4, fdinfo(fd, "populated"));
	ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_STOP, 0));
	EXPECT_EQ(0, fdinfo(fd, "tracking"));
	EXPECT_EQ(0, fdinfo(fd, "dirty"));
	munmap(p, 64 * self->ps);
	close(fd);
}

TEST_HARNESS_MAIN
