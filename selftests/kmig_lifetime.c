// SPDX-License-Identifier: GPL-2.0
/*
 * Lifetime: munmap, close and exit while tracking is on, in every order, and
 * concurrently with harvests. Each test also checks that the kernel log did
 * not gain a splat; the VM harness checks the whole log again at the end.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "kmig_test.h"
#include "kselftest_harness.h"

#define NPAGES	64

FIXTURE(life) {
	int dev;
	long ps;
	int splats;
};

FIXTURE_SETUP(life)
{
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->ps = page_size();
	self->splats = kmig_dmesg_splats();
	ASSERT_LE(0, self->splats);
}

FIXTURE_TEARDOWN(life)
{
	EXPECT_EQ(self->splats, kmig_dmesg_splats());
	close(self->dev);
}

/* A tracked object with every page written; returns the mapping. */
static unsigned char *tracked(FIXTURE_DATA(life) *self, int *fd)
{
	unsigned char *p;

	*fd = kmig_mem_create(self->dev, NPAGES * self->ps);
	if (*fd < 0)
		return MAP_FAILED;
	p = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED,
		 *fd, 0);
	if (p == MAP_FAILED)
		return p;
	memset(p, 0x11, NPAGES * self->ps);
	if (kmig_track(*fd, KMIG_MEM_TRACK_START, 0))
		return MAP_FAILED;
	memset(p, 0x22, NPAGES * self->ps / 2);
	return p;
}

TEST_F(life, munmap_then_harvest_then_close)
{
	__u64 map[1];
	int fd;
	unsigned char *p = tracked(self, &fd);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p, NPAGES * self->ps));
	/* The dirty set survives the mapping. */
	EXPECT_EQ(NPAGES / 2, kmig_harvest_bitmap(fd, 0, NPAGES, map, 0));
	EXPECT_EQ(0, close(fd));
}

TEST_F(life, close_then_write_then_munmap)
{
	int fd;
	unsigned char *p = tracked(self, &fd);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	memset(p, 0x33, NPAGES * self->ps);
	EXPECT_EQ(0x33, p[NPAGES * self->ps - 1]);
	EXPECT_EQ(0, munmap(p, NPAGES * self->ps));
}

TEST_F(life, partial_munmap_then_remap)
{
	__u64 map[1];
	int fd;
	unsigned char *p = tracked(self, &fd);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + 8 * self->ps, 8 * self->ps));
	ASSERT_EQ(NPAGES / 2, kmig_harvest_bitmap(fd, 0, NPAGES, map, 0));
	p[20 * self->ps] = 1;
	EXPECT_EQ(1, kmig_harvest_bitmap(fd, 0, NPAGES, map, 0));
	ASSERT_EQ(0, munmap(p, NPAGES * self->ps));
	p = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0x11, p[NPAGES * self->ps - 1]);
	p[3 * self->ps] = 1;
	EXPECT_EQ(1, kmig_harvest_bitmap(fd, 0, NPAGES, map, 0));
	EXPECT_EQ(8, map[0]);
	munmap(p, NPAGES * self->ps);
	close(fd);
}

TEST_F(life, exit_while_tracking)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		int fd;

		if (tracked(self, &fd) == MAP_FAILED)
			_exit(1);
		_exit(0);		/* no munmap, no close */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(life, sigkill_while_writing_and_harvesting)
{
	int fd, status;
	unsigned char *p = tracked(self, &fd);
	pid_t writer, harvester;

	ASSERT_NE(MAP_FAILED, p);
	writer = fork();
	ASSERT_LE(0, writer);
	if (!writer) {
		for (unsigned int i = 0;; i++)
			p[(i % NPAGES) * page_size() + i % 64] = i;
	}
	harvester = fork();
	ASSERT_LE(0, harvester);
	if (!harvester) {
		__u64 map[1];

		for (;;)
			kmig_harvest_bitmap(fd, 0, NPAGES, map, 0);
	}
	/* The parent closes its own references first. */
	munmap(p, NPAGES * self->ps);
	close(fd);
	usleep(300 * 1000);
	kill(harvester, SIGKILL);
	kill(writer, SIGKILL);
	ASSERT_EQ(harvester, waitpid(harvester, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(writer, waitpid(writer, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
}

TEST_F(life, child_keeps_mapping_after_parent_lets_go)
{
	int fd, status, pipefd[2];
	unsigned char *p = tracked(self, &fd);
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(fd);
		if (read(pipefd[0], &c, 1) != 1)
			_exit(2);
		memset(p, 0x44, NPAGES * page_size());
		_exit(p[0] == 0x44 ? 0 : 3);
	}
	munmap(p, NPAGES * self->ps);
	close(fd);
	ASSERT_EQ(1, write(pipefd[1], "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(pipefd[0]);
	close(pipefd[1]);
}

struct race {
	int fd;
	unsigned char *p;
	long ps;
	atomic_int stop;
};

static void *munmap_loop(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		unsigned char *q = mmap(NULL, NPAGES * r->ps,
					PROT_READ | PROT_WRITE, MAP_SHARED,
					r->fd, 0);

		if (q == MAP_FAILED)
			break;
		for (int i = 0; i < NPAGES; i += 3)
			q[i * r->ps] = i;
		munmap(q, NPAGES * r->ps);
	}
	return NULL;
}

TEST_F(life, harvest_races_with_mmap_munmap)
{
	struct race r = { .ps = self->ps };
	pthread_t th;
	__u64 map[1];
	int fd;

	r.p = tracked(self, &fd);
	ASSERT_NE(MAP_FAILED, r.p);
	r.fd = fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, munmap_loop, &r));
	for (int i = 0; i < 500; i++)
		ASSERT_LE(0, kmig_harvest_bitmap(fd, 0, NPAGES, map, 0));
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	munmap(r.p, NPAGES * self->ps);
	close(fd);
}

TEST_F(life, stop_races_with_writers)
{
	struct race r = { .ps = self->ps };
	pthread_t th;
	int fd;

	r.p = tracked(self, &fd);
	ASSERT_NE(MAP_FAILED, r.p);
	r.fd = fd;
	ASSERT_EQ(0, pthread_create(&th, NULL, munmap_loop, &r));
	for (int i = 0; i < 200; i++) {
		ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_STOP, 0));
		ASSERT_EQ(0, kmig_track(fd, KMIG_MEM_TRACK_START,
					i % 2 ? KMIG_TRACK_ALL_DIRTY : 0));
	}
	atomic_store(&r.stop, 1);
	pthread_join(th, NULL);
	munmap(r.p, NPAGES * self->ps);
	close(fd);
}

TEST_F(life, dup_and_close_in_any_order)
{
	int fd, fd2;
	unsigned char *p = tracked(self, &fd);
	__u64 map[1];

	ASSERT_NE(MAP_FAILED, p);
	fd2 = dup(fd);
	ASSERT_LE(0, fd2);
	close(fd);
	EXPECT_EQ(NPAGES / 2, kmig_harvest_bitmap(fd2, 0, NPAGES, map, 0));
	munmap(p, NPAGES * self->ps);
	close(fd2);
}

TEST_HARNESS_MAIN
