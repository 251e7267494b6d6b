// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking: the harvested set equals the written set, for every kind of
 * writer, with both re-arm methods; harvest validation; and a stress test
 * showing that no write is lost while writers race with harvests.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kmig_test.h"
#include "kselftest_harness.h"

#define NPAGES	512

FIXTURE(dirty) {
	int dev, fd;
	long ps;
	unsigned char *p;
	__u64 map[NPAGES / 64];
	char saved_force[8];
	char saved_gap[32];
};

/*
 * gap: the rearm_gap module parameter, or NULL for the default; large: the
 * memory is KMIG_MEM_CREATE_LARGE (pages of one folio share its lock).
 */
FIXTURE_VARIANT(dirty) {
	int rearm;
	const char *gap;
	bool large;
};

FIXTURE_VARIANT_ADD(dirty, wp) {
	.rearm = KMIG_REARM_WP,
};

FIXTURE_VARIANT_ADD(dirty, unmap) {
	.rearm = KMIG_REARM_UNMAP,
};

FIXTURE_VARIANT_ADD(dirty, wp_gap0) {
	.rearm = KMIG_REARM_WP,
	.gap = "0",
};

FIXTURE_VARIANT_ADD(dirty, wp_gap256) {
	.rearm = KMIG_REARM_WP,
	.gap = "256",
};

FIXTURE_VARIANT_ADD(dirty, unmap_gap256) {
	.rearm = KMIG_REARM_UNMAP,
	.gap = "256",
};

FIXTURE_VARIANT_ADD(dirty, wp_large) {
	.rearm = KMIG_REARM_WP,
	.large = true,
};

FIXTURE_VARIANT_ADD(dirty, unmap_large) {
	.rearm = KMIG_REARM_UNMAP,
	.large = true,
};

FIXTURE_SETUP(dirty)
{
	struct kmig_mem_stats st;
	int ret;

	self->fd = -1;
	self->p = MAP_FAILED;
	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	ASSERT_EQ(0, kmig_param_read("rearm_gap", self->saved_gap,
				     sizeof(self->saved_gap)));
	ret = kmig_select_rearm(self->dev, variant->rearm, self->saved_force,
				sizeof(self->saved_force));
	if (ret == -EOPNOTSUPP)
		SETUP_SKIP(KMIG_NO_WP_HELPERS);
	ASSERT_EQ(0, ret);
	if (variant->gap)
		ASSERT_EQ(0, kmig_param_write("rearm_gap", variant->gap));

	self->fd = kmig_mem_create_flags(self->dev, NPAGES * self->ps,
					 variant->large ? KMIG_MEM_CREATE_LARGE : 0);
	ASSERT_LE(0, self->fd);
	self->p = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	ASSERT_EQ(variant->rearm, st.rearm_method);
}

FIXTURE_TEARDOWN(dirty)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, NPAGES * self->ps);
	if (self->fd >= 0)
		close(self->fd);
	kmig_param_write("force_unmap_rearm", self->saved_force);
	kmig_param_write("rearm_gap", self->saved_gap);
	kmig_param_write("debug_race_delay_ms", "0");
	close(self->dev);
}

static long harvest_all(FIXTURE_DATA(dirty) *self)
{
	return kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map, 0);
}

/* Compare the harvested bitmap with the expected one; log differences. */
static int diff_pages(struct __test_metadata *_metadata, const __u64 *got,
		      const __u64 *want)
{
	int diffs = 0;

	for (int i = 0; i < NPAGES; i++) {
		if (test_bit64(got, i) != test_bit64(want, i)) {
			if (diffs++ < 8)
				TH_LOG("page %d: harvested %d, written %d", i,
				       test_bit64(got, i), test_bit64(want, i));
		}
	}
	return diffs;
}

TEST_F(dirty, empty_set)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(0, harvest_all(self));
	for (int i = 0; i < NPAGES / 64; i++)
		EXPECT_EQ(0, self->map[i]);
}

TEST_F(dirty, writes_before_start_are_not_reported)
{
	memset(self->p, 1, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(0, harvest_all(self));
	/* ...but the first write after start is, though the PTE was writable. */
	self->p[7 * self->ps] = 2;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 7));
}

TEST_F(dirty, first_and_last_page)
{
	__u64 want[NPAGES / 64] = { 0 };

	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[0] = 1;
	self->p[NPAGES * self->ps - 1] = 1;
	set_bit64(want, 0);
	set_bit64(want, NPAGES - 1);
	EXPECT_EQ(2, harvest_all(self));
	EXPECT_EQ(0, diff_pages(_metadata, self->map, want));
}

TEST_F(dirty, exact_random_rounds)
{
	unsigned int seed = 1234;

	memset(self->p, 0, NPAGES * self->ps);	/* populate every page */
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int round = 0; round < 200; round++) {
		__u64 want[NPAGES / 64] = { 0 };
		int n = rand_r(&seed) % (round % 10 ? 64 : NPAGES);
		long count = 0;

		for (int i = 0; i < n; i++) {
			int pg = rand_r(&seed) % NPAGES;

			self->p[pg * self->ps + rand_r(&seed) % self->ps]++;
			set_bit64(want, pg);
		}
		for (int i = 0; i < NPAGES; i++)
			count += test_bit64(want, i);
		ASSERT_EQ(count, harvest_all(self)) TH_LOG("round %d", round);
		ASSERT_EQ(0, diff_pages(_metadata, self->map, want))
			TH_LOG("round %d", round);
	}
}

TEST_F(dirty, reads_never_dirty)
{
	volatile unsigned char sum = 0;

	memset(self->p, 3, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int round = 0; round < 3; round++) {
		for (long i = 0; i < NPAGES * self->ps; i += 64)
			sum += self->p[i];
		EXPECT_EQ(0, harvest_all(self));
	}
	EXPECT_EQ((unsigned char)(NPAGES * self->ps / 64 * 3), sum);
}

TEST_F(dirty, unpopulated_first_touch_is_reported)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[100 * self->ps] = 1;		/* allocates the page */
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 100));
}

TEST_F(dirty, rewrite_reported_once_per_round)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int i = 0; i < 100; i++)
		self->p[5 * self->ps + i] = i;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_EQ(0, harvest_all(self));
	self->p[5 * self->ps] = 9;
	EXPECT_EQ(1, harvest_all(self));
}

TEST_F(dirty, second_mapping)
{
	unsigned char *q = mmap(NULL, 16 * self->ps, PROT_READ | PROT_WRITE,
				MAP_SHARED, self->fd, 64 * self->ps);

	ASSERT_NE(MAP_FAILED, q);
	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int round = 0; round < 3; round++) {
		q[3 * self->ps] = round;		/* page 67 */
		EXPECT_EQ(1, harvest_all(self));
		EXPECT_TRUE(test_bit64(self->map, 67));
	}
	munmap(q, 16 * self->ps);
}

TEST_F(dirty, second_process)
{
	int status;
	pid_t pid;

	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		for (int i = 0; i < NPAGES; i += 7)
			self->p[i * self->ps + 1] = 0x55;
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ((NPAGES + 6) / 7, harvest_all(self));
	for (int i = 0; i < NPAGES; i++)
		ASSERT_EQ(i % 7 == 0, test_bit64(self->map, i));
}

/* The kernel writes through the mapping (copy_to_user from read()). */
TEST_F(dirty, kernel_copy_to_user)
{
	int pipefd[2];
	char buf[100];

	memset(buf, 'k', sizeof(buf));
	ASSERT_EQ(0, pipe(pipefd));
	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	ASSERT_EQ(sizeof(buf), write(pipefd[1], buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), read(pipefd[0], self->p + 200 * self->ps - 50,
				    sizeof(buf)));
	EXPECT_EQ(2, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 199));
	EXPECT_TRUE(test_bit64(self->map, 200));
	close(pipefd[0]);
	close(pipefd[1]);
}

/* Another process writes with process_vm_writev() (GUP, FOLL_WRITE). */
TEST_F(dirty, process_vm_writev)
{
	int status;
	pid_t pid, parent = getpid();

	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char data[16] = "remote";
		struct iovec local = { data, sizeof(data) };
		struct iovec remote = { self->p + 300 * self->ps + 8,
					sizeof(data) };

		_exit(process_vm_writev(parent, &local, 1, &remote, 1, 0) ==
		      sizeof(data) ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_STREQ("remote", (char *)self->p + 300 * self->ps + 8);
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 300));
}

TEST_F(dirty, all_dirty_start)
{
	self->p[0] = 1;			/* one page populated, the rest not */
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	EXPECT_EQ(NPAGES, harvest_all(self));
	EXPECT_EQ(0, harvest_all(self));
	self->p[0] = 2;
	EXPECT_EQ(1, harvest_all(self));
}

TEST_F(dirty, subrange_leaves_the_rest)
{
	__u64 sub[1];

	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[10 * self->ps] = 1;
	self->p[70 * self->ps] = 1;
	self->p[71 * self->ps] = 1;
	self->p[200 * self->ps] = 1;
	/* Pages 64..127 only: bit 0 is page 64. */
	EXPECT_EQ(2, kmig_harvest_bitmap(self->fd, 64, 64, sub, 0));
	EXPECT_EQ((1ULL << 6) | (1ULL << 7), sub[0]);
	EXPECT_EQ(2, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 10));
	EXPECT_TRUE(test_bit64(self->map, 200));
}

TEST_F(dirty, unaligned_subrange)
{
	__u64 sub[2] = { ~0ULL, ~0ULL };

	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[99 * self->ps] = 1;
	self->p[100 * self->ps] = 1;
	self->p[164 * self->ps] = 1;
	self->p[165 * self->ps] = 1;
	/* [100, 165): 65 pages, so two words, the second with one bit used. */
	EXPECT_EQ(2, kmig_harvest_bitmap(self->fd, 100, 65, sub, 0));
	EXPECT_EQ(1ULL, sub[0]);
	EXPECT_EQ(1ULL, sub[1]);
	EXPECT_EQ(2, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 99));
	EXPECT_TRUE(test_bit64(self->map, 165));
}

TEST_F(dirty, list_mode_in_pieces)
{
	__u64 list[5];
	int seen = 0, expect_next = 0;

	memset(self->p, 0, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int i = 0; i < NPAGES; i += 37)
		self->p[i * self->ps] = 1;
	for (__u64 next = 0; next < NPAGES;) {
		struct kmig_harvest h = {
			.size = sizeof(h), .flags = KMIG_HARVEST_LIST,
			.first_page = next, .num_pages = NPAGES - next,
			.list_ptr = (unsigned long)list, .list_len = 5,
		};

		ASSERT_EQ(0, kmig_ioctl(self->fd, KMIG_MEM_HARVEST, &h));
		ASSERT_LE(h.dirty_pages, 5);
		for (__u64 i = 0; i < h.dirty_pages; i++) {
			ASSERT_EQ(expect_next, list[i]);
			expect_next += 37;
			seen++;
		}
		ASSERT_LT(next, h.next_page);
		next = h.next_page;
	}
	EXPECT_EQ((NPAGES + 36) / 37, seen);
	EXPECT_EQ(0, harvest_all(self));
}

TEST_F(dirty, peek_does_not_clear)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[3 * self->ps] = 1;
	EXPECT_EQ(1, kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map,
					 KMIG_HARVEST_PEEK));
	EXPECT_EQ(1, kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map,
					 KMIG_HARVEST_PEEK));
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_EQ(0, harvest_all(self));
}

TEST_F(dirty, stop_then_restart)
{
	struct kmig_mem_stats st;

	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[1 * self->ps] = 1;
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_STOP, 0));
	self->p[2 * self->ps] = 1;		/* not tracked */
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	EXPECT_EQ(0, st.tracking);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(0, harvest_all(self));	/* the restart cleared the set */
	self->p[2 * self->ps] = 2;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 2));
}

TEST_F(dirty, statistics)
{
	struct kmig_mem_stats st;
	long populated;

	memset(self->p, 0, 10 * self->ps);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	for (int i = 0; i < 10; i++)
		self->p[i * self->ps] = 1;
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	EXPECT_EQ(NPAGES, st.pages);
	/* A large object populated the first folio, 16 pages, as a whole. */
	populated = variant->large && st.large_folios ? 16 : 10;
	EXPECT_EQ(populated, st.populated_pages);
	EXPECT_EQ(variant->large && st.large_folios ? 1 : 0, st.large_folios);
	EXPECT_EQ(10, st.dirty_pages);
	EXPECT_EQ(10, st.write_faults);
	EXPECT_EQ(1, st.tracking);
	/* Start re-armed the populated pages. */
	EXPECT_EQ(populated, st.rearmed_pages);
	EXPECT_EQ(10, harvest_all(self));
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	EXPECT_EQ(0, st.dirty_pages);
	EXPECT_EQ(1, st.harvests);
	EXPECT_EQ(populated + 10, st.rearmed_pages);
}

/* Validation: every invalid input has its errno and changes nothing. */

TEST_F(dirty, start_twice)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(-EBUSY, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
}

TEST_F(dirty, stop_when_not_tracking)
{
	EXPECT_EQ(-EINVAL, kmig_track(self->fd, KMIG_MEM_TRACK_STOP, 0));
}

TEST_F(dirty, start_bad_flags)
{
	EXPECT_EQ(-EINVAL, kmig_track(self->fd, KMIG_MEM_TRACK_START, 2));
	EXPECT_EQ(-EINVAL, kmig_track(self->fd, KMIG_MEM_TRACK_START, 1U << 31));
	EXPECT_EQ(-EINVAL, kmig_track(self->fd, KMIG_MEM_TRACK_STOP, 1));
}

TEST_F(dirty, start_reserved_nonzero)
{
	struct kmig_track t = { .size = sizeof(t), .reserved = { 1, 0 } };

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_MEM_TRACK_START, &t));
	t.size = KMIG_TRACK_SIZE_VER0 - 4;
	t.reserved[0] = 0;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_MEM_TRACK_START, &t));
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_MEM_TRACK_START, NULL));
}

TEST_F(dirty, harvest_when_not_tracking)
{
	EXPECT_EQ(-EINVAL, harvest_all(self));
}

FIXTURE(harvest_args) {
	int dev, fd;
	unsigned char *p;
	__u64 map[NPAGES / 64];
	__u64 list[8];
	struct kmig_harvest h;
};

FIXTURE_SETUP(harvest_args)
{
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->fd = kmig_mem_create(self->dev, NPAGES * page_size());
	ASSERT_LE(0, self->fd);
	self->p = mmap(NULL, NPAGES * page_size(), PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	self->p[42 * page_size()] = 1;
	memset(&self->h, 0, sizeof(self->h));
	self->h.size = sizeof(self->h);
	self->h.num_pages = NPAGES;
	self->h.bitmap_ptr = (unsigned long)self->map;
}

FIXTURE_TEARDOWN(harvest_args)
{
	long ret;

	/* Whatever was refused, page 42 is still dirty and nothing else. */
	ret = kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map, 0);
	EXPECT_EQ(1, ret);
	EXPECT_TRUE(test_bit64(self->map, 42));
	munmap(self->p, NPAGES * page_size());
	close(self->fd);
	close(self->dev);
}

#define EXPECT_HARVEST_ERR(err) \
	EXPECT_EQ(-(err), kmig_ioctl(self->fd, KMIG_MEM_HARVEST, &self->h))

TEST_F(harvest_args, unknown_flags)
{
	self->h.flags = 1U << 2;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, reserved_nonzero)
{
	self->h.reserved[1] = 1;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, struct_too_small)
{
	self->h.size = KMIG_HARVEST_SIZE_VER0 - 8;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, num_pages_zero)
{
	self->h.num_pages = 0;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, first_page_beyond_end)
{
	self->h.first_page = NPAGES;
	self->h.num_pages = 1;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, range_beyond_end)
{
	self->h.first_page = 1;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, range_overflows)
{
	self->h.first_page = 1;
	self->h.num_pages = ~0ULL;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, bitmap_with_list_fields)
{
	self->h.list_len = 4;
	EXPECT_HARVEST_ERR(EINVAL);
	self->h.list_len = 0;
	self->h.list_ptr = (unsigned long)self->list;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, list_with_zero_length)
{
	self->h.flags = KMIG_HARVEST_LIST;
	self->h.bitmap_ptr = 0;
	self->h.list_ptr = (unsigned long)self->list;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, list_with_bitmap_pointer)
{
	self->h.flags = KMIG_HARVEST_LIST;
	self->h.list_ptr = (unsigned long)self->list;
	self->h.list_len = 8;
	EXPECT_HARVEST_ERR(EINVAL);
}

TEST_F(harvest_args, bitmap_bad_pointer)
{
	self->h.bitmap_ptr = 0;
	EXPECT_HARVEST_ERR(EFAULT);
	self->h.bitmap_ptr = 16;
	EXPECT_HARVEST_ERR(EFAULT);
}

TEST_F(harvest_args, bitmap_read_only)
{
	void *ro = mmap(NULL, page_size(), PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	self->h.bitmap_ptr = (unsigned long)ro;
	EXPECT_HARVEST_ERR(EFAULT);
	munmap(ro, page_size());
}

TEST_F(harvest_args, list_bad_pointer)
{
	self->h.flags = KMIG_HARVEST_LIST;
	self->h.bitmap_ptr = 0;
	self->h.list_ptr = 16;
	self->h.list_len = 8;
	EXPECT_HARVEST_ERR(EFAULT);
}

TEST_F(harvest_args, args_bad_pointer)
{
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_MEM_HARVEST, NULL));
}

/*
 * The output buffer may live in the tracked memory itself: the harvest must
 * not deadlock on the page locks it holds. The result is written before the
 * pages are re-armed, so it does not dirty page 100 again.
 */
TEST_F(harvest_args, bitmap_inside_tracked_memory)
{
	__u64 *map = (__u64 *)(self->p + 100 * page_size());

	map[0] = 0;			/* dirties page 100 */
	self->h.bitmap_ptr = (unsigned long)map;
	ASSERT_EQ(0, kmig_ioctl(self->fd, KMIG_MEM_HARVEST, &self->h));
	EXPECT_EQ(2, self->h.dirty_pages);
	EXPECT_TRUE(test_bit64(map, 42));
	EXPECT_TRUE(test_bit64(map, 100));
	EXPECT_EQ(0, kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map, 0));
	map[1] = 1;			/* a later write is a new dirtying */
	EXPECT_EQ(1, kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map, 0));
	EXPECT_TRUE(test_bit64(self->map, 100));
	self->p[42 * page_size()] = 2;	/* for the teardown's check */
}

/*
 * mprotect() that gives write access back must not make a re-armed page
 * writable with no fault: a write-protect re-arm leaves the PTE dirty, and
 * mprotect() upgrades dirty PTEs of a shared mapping.
 */
TEST_F(dirty, mprotect_write_upgrade_is_tracked)
{
	self->p[3 * self->ps] = 1;
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	ASSERT_EQ(0, mprotect(self->p, NPAGES * self->ps, PROT_READ));
	ASSERT_EQ(0, mprotect(self->p, NPAGES * self->ps,
			      PROT_READ | PROT_WRITE));
	self->p[3 * self->ps] = 2;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 3));
	/* and after a harvest's re-arm too */
	ASSERT_EQ(0, mprotect(self->p + 3 * self->ps, self->ps, PROT_READ));
	ASSERT_EQ(0, mprotect(self->p + 3 * self->ps, self->ps,
			      PROT_READ | PROT_WRITE));
	self->p[3 * self->ps] = 3;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 3));
}

struct race_writer {
	volatile unsigned char *page;
	pid_t tid;
};

static void *race_write(void *arg)
{
	struct race_writer *w = arg;

	w->tid = gettid();
	*w->page = 7;
	return NULL;
}

/*
 * A page_mkwrite that saw tracking on before a TRACK_STOP sets its bit while
 * the next TRACK_START resets the bitmap. debug_race_delay_ms stretches both
 * windows: the write sleeps after it has seen tracking on, and the reset
 * sleeps between two levels of the bitmap. Bottom-up, the reset cleared the
 * summary above the leaf the write set meanwhile, and that page was never
 * harvested again. Whatever the interleaving, a later write must be seen.
 */
TEST_F(dirty, reset_races_with_a_tracked_write)
{
	struct race_writer w = { self->p + 300 * self->ps, 0 };
	pthread_t th;

	self->p[300 * self->ps] = 1;	/* populated and mapped */
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	ASSERT_EQ(0, kmig_param_write("debug_race_delay_ms", "300"));
	ASSERT_EQ(0, pthread_create(&th, NULL, race_write, &w));
	/* the writer sleeps in page_mkwrite, tracking seen on */
	while (!w.tid || kmig_thread_state(w.tid) != 'D')
		sched_yield();
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_STOP, 0));
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	pthread_join(th, NULL);
	ASSERT_EQ(0, kmig_param_write("debug_race_delay_ms", "0"));

	harvest_all(self);
	self->p[300 * self->ps] = 8;
	EXPECT_EQ(1, harvest_all(self));
	EXPECT_TRUE(test_bit64(self->map, 300));
}

/*
 * No lost writes. Writer threads and a writer process store to random pages
 * while the main thread harvests and copies every harvested page into a
 * shadow. After the writers stop and a final harvest, shadow == memory.
 *
 * The test is bounded by work, STRESS_ROUNDS harvests, never by the clock.
 * Its time limit is sized for the debug kernel with another VM loading the
 * 2-core host (Documentation/testing.rst has the measured times), and it
 * prints its progress so that the VM's silence watchdog never fires on it.
 */
#define STRESS_PAGES	256
#define STRESS_ROUNDS	2000
#define STRESS_THREADS	2
#define STRESS_TIMEOUT	600

struct stress {
	unsigned char *mem;
	long ps;
	atomic_int *stop;
	unsigned int seed;
};

static void stress_write(struct stress *s)
{
	while (!atomic_load_explicit(s->stop, memory_order_relaxed)) {
		unsigned int pg = rand_r(&s->seed) % STRESS_PAGES;
		unsigned int off = rand_r(&s->seed) % (s->ps / 8);

		((volatile __u64 *)(s->mem + pg * s->ps))[off] =
			((__u64)rand_r(&s->seed) << 32) | s->seed;
	}
}

static void *stress_thread(void *arg)
{
	stress_write(arg);
	return NULL;
}

/* Returns the number of pages where shadow and memory differ. */
static long run_stress(struct __test_metadata *_metadata, int fd,
		       unsigned char *mem, long ps)
{
	unsigned char *shadow = calloc(STRESS_PAGES, ps);
	__u64 map[STRESS_PAGES / 64];
	struct stress s[STRESS_THREADS + 1];
	pthread_t th[STRESS_THREADS];
	struct kmig_progress prog = { 0 };
	atomic_int *stop;
	long bad = 0, copied = 0;
	pid_t pid;

	stop = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!shadow || stop == MAP_FAILED)
		return -1;
	if (kmig_track(fd, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY))
		return -1;

	for (int i = 0; i <= STRESS_THREADS; i++)
		s[i] = (struct stress){ mem, ps, stop, 7919 * (i + 1) };
	pid = fork();
	if (!pid) {
		stress_write(&s[STRESS_THREADS]);
		_exit(0);
	}
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_create(&th[i], NULL, stress_thread, &s[i]);

	for (int round = 0; round <= STRESS_ROUNDS; round++) {
		if (round == STRESS_ROUNDS) {
			/* Stop the writers, then the final harvest. */
			atomic_store(stop, 1);
			for (int i = 0; i < STRESS_THREADS; i++)
				pthread_join(th[i], NULL);
			waitpid(pid, NULL, 0);
		}
		if (kmig_harvest_bitmap(fd, 0, STRESS_PAGES, map, 0) < 0)
			return -1;
		for (int pg = 0; pg < STRESS_PAGES; pg++) {
			if (!test_bit64(map, pg))
				continue;
			memcpy(shadow + pg * ps, mem + pg * ps, ps);
			copied++;
		}
		if (round % 16 == 0) {
			sched_yield();
			kmig_progress(&prog, "stress rounds", round,
				      STRESS_ROUNDS);
		}
	}
	for (int pg = 0; pg < STRESS_PAGES; pg++)
		if (memcmp(shadow + pg * ps, mem + pg * ps, ps))
			bad++;
	TH_LOG("%d rounds, %ld pages copied, %ld pages differ", STRESS_ROUNDS,
	       copied, bad);
	kmig_track(fd, KMIG_MEM_TRACK_STOP, 0);
	munmap(stop, ps);
	free(shadow);
	return bad;
}

TEST_F_TIMEOUT(dirty, no_lost_writes, STRESS_TIMEOUT)
{
	EXPECT_EQ(0, run_stress(_metadata, self->fd, self->p, self->ps));
}

/* The same test catches the bug it guards against. */
TEST_F_TIMEOUT(dirty, no_lost_writes_detects_missing_rearm, STRESS_TIMEOUT)
{
	long bad;

	ASSERT_EQ(0, kmig_param_write("debug_no_rearm", "Y"));
	bad = run_stress(_metadata, self->fd, self->p, self->ps);
	ASSERT_EQ(0, kmig_param_write("debug_no_rearm", "N"));
	EXPECT_LT(0, bad);
}

TEST_HARNESS_MAIN
