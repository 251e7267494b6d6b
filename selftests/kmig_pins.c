// SPDX-License-Identifier: GPL-2.0
/*
 * Writes through references taken before a harvest: GUP pins and page
 * references (process_vm_writev(), O_DIRECT) write with no fault, so the
 * module keeps such pages dirty while they are held. Also KMIG_MEM_MARK_DIRTY,
 * which reports writes the module cannot see, and a migration with O_DIRECT
 * reads in flight during its rounds.
 */
#include <linux/loop.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		256

FIXTURE(pins) {
	int dev, fd;
	long ps;
	unsigned char *p;
	__u64 map[NPAGES / 64];
	char saved_force[8];
};

FIXTURE_VARIANT(pins) {
	int rearm;
	bool large;
};

FIXTURE_VARIANT_ADD(pins, wp) { .rearm = KMIG_REARM_WP };
FIXTURE_VARIANT_ADD(pins, unmap) { .rearm = KMIG_REARM_UNMAP };
FIXTURE_VARIANT_ADD(pins, unmap_large) {
	.rearm = KMIG_REARM_UNMAP, .large = true,
};

FIXTURE_SETUP(pins)
{
	int ret;

	self->fd = -1;
	self->p = MAP_FAILED;
	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	ret = kmig_select_rearm(self->dev, variant->rearm, self->saved_force,
				sizeof(self->saved_force));
	if (ret == -EOPNOTSUPP)
		SETUP_SKIP(KMIG_NO_WP_HELPERS);
	ASSERT_EQ(0, ret);
	self->fd = kmig_mem_create_flags(self->dev, NPAGES * self->ps,
					 variant->large ? KMIG_MEM_CREATE_LARGE : 0);
	ASSERT_LE(0, self->fd);
	self->p = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	memset(self->p, 0x11, NPAGES * self->ps);
}

FIXTURE_TEARDOWN(pins)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, NPAGES * self->ps);
	if (self->fd >= 0)
		close(self->fd);
	kmig_param_write("force_unmap_rearm", self->saved_force);
	close(self->dev);
}

static long harvest(FIXTURE_DATA(pins) *self)
{
	return kmig_harvest_bitmap(self->fd, 0, NPAGES, self->map, 0);
}

/* process_vm_writev() from a page that stalls in userfaultfd. */
struct pvm {
	void *local, *remote;
	long ps;
	ssize_t ret;
};

static void *pvm_thread(void *arg)
{
	struct pvm *w = arg;
	struct iovec l = { w->local, w->ps }, r = { w->remote, w->ps };

	w->ret = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
	return NULL;
}

/*
 * The deterministic reproduction: process_vm_writev() pins the kmig page
 * (a write fault marks it dirty), then stalls reading its source, a
 * userfaultfd-missing page. A harvest in the stall reports the page and
 * write-protects it; the copy that follows goes through the pin with no
 * fault. The next harvest must report the page again, and once the pin is
 * gone the page is clean.
 */
TEST_F(pins, process_vm_writev_through_a_pin)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy copy = { 0 };
	struct uffd_msg msg;
	struct kmig_mem_stats st;
	struct pollfd pfd;
	unsigned char *local, *src;
	struct pvm w;
	pthread_t th;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	local = mmap(NULL, self->ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = malloc(self->ps);
	ASSERT_NE(MAP_FAILED, local);
	ASSERT_NE(NULL, src);
	memset(src, 0x5a, self->ps);
	reg.range.start = (unsigned long)local;
	reg.range.len = self->ps;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	w = (struct pvm){ local, self->p + 5 * self->ps, self->ps, -1 };
	ASSERT_EQ(0, pthread_create(&th, NULL, pvm_thread, &w));

	/* The copy stalls on its source: the kmig page is pinned now. */
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, -1));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ(1, harvest(self));
	EXPECT_TRUE(test_bit64(self->map, 5));

	/* Resolve: the copy writes through the pin and unpins. */
	copy.dst = (unsigned long)local;
	copy.src = (unsigned long)src;
	copy.len = self->ps;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	pthread_join(th, NULL);
	ASSERT_EQ(self->ps, w.ret);
	ASSERT_EQ(0, memcmp(self->p + 5 * self->ps, src, self->ps));

	EXPECT_EQ(1, harvest(self));
	EXPECT_TRUE(test_bit64(self->map, 5));
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	EXPECT_LE(1, st.held_pages);
	/* released: clean until the next write */
	EXPECT_EQ(0, harvest(self));
	close(uffd);
	munmap(local, self->ps);
	free(src);
}

/*
 * O_DIRECT reads from a loop device, the kind a QEMU disk with cache=none
 * does: on 6.1 the block layer takes the pages with FOLL_GET references.
 */
struct loopdev {
	char path[32];
	char backing[64];
	int fd;		/* the loop device, O_RDONLY | O_DIRECT */
	int bfd;	/* its backing file */
};

static int loop_setup(struct loopdev *l, size_t bytes)
{
	struct loop_config cfg = { 0 };
	int ctl, n, dfd;

	snprintf(l->backing, sizeof(l->backing), "/tmp/kmig_pins.%d", getpid());
	l->bfd = open(l->backing, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (l->bfd < 0 || ftruncate(l->bfd, bytes))
		return -errno;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -errno;
	snprintf(l->path, sizeof(l->path), "/dev/loop%d", n);
	dfd = open(l->path, O_RDWR | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	cfg.fd = l->bfd;
	cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
	if (ioctl(dfd, LOOP_CONFIGURE, &cfg)) {
		close(dfd);
		return -errno;
	}
	l->fd = open(l->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	close(dfd);		/* AUTOCLEAR: gone with the last close */
	return l->fd < 0 ? -errno : 0;
}

static void loop_teardown(struct loopdev *l)
{
	close(l->fd);
	close(l->bfd);
	unlink(l->backing);
}

/* New contents for backing pages [pg, pg + n): a pattern of (gen, page). */
static int loop_fill(struct loopdev *l, long ps, int pg, int n,
		     unsigned int gen)
{
	uint64_t *buf = malloc(n * ps);
	int ret;

	if (!buf)
		return -1;
	for (long i = 0; i < n * ps / 8; i++)
		buf[i] = (uint64_t)gen << 40 | (uint64_t)(pg + i / (ps / 8)) << 16 | i;
	ret = pwrite(l->bfd, buf, n * ps, pg * ps) == n * ps ? 0 : -1;
	free(buf);
	return ret;
}

#define ODIRECT_ITERS	300
#define ODIRECT_RUN	16

/*
 * Reads into guest memory in flight across harvests: each read is submitted,
 * then a harvest copies every page it reports into a shadow, then the read
 * completes. After a final harvest the shadow must equal memory: a page
 * written after its harvest through the block layer's reference, with no
 * fault, must have been reported again.
 */
TEST_F_TIMEOUT(pins, odirect_io_uring_across_harvests, 300)
{
	unsigned char *shadow = calloc(NPAGES, self->ps);
	struct kmig_progress prog = { 0 };
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct loopdev l;
	unsigned int seed = 7;
	long bad = 0;
	int ret;

	ASSERT_NE(NULL, shadow);
	ret = loop_setup(&l, NPAGES * self->ps);
	if (ret)
		SKIP(return, "no loop device: %s", strerror(-ret));
	ASSERT_EQ(0, io_uring_queue_init(4, &ring, 0));
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));

	for (int it = 0; it <= ODIRECT_ITERS; it++) {
		int pg = rand_r(&seed) % (NPAGES - ODIRECT_RUN);

		if (it < ODIRECT_ITERS) {
			ASSERT_EQ(0, loop_fill(&l, self->ps, pg, ODIRECT_RUN, it));
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, l.fd, self->p + pg * self->ps,
					   ODIRECT_RUN * self->ps, pg * self->ps);
			ASSERT_EQ(1, io_uring_submit(&ring));
		}
		ASSERT_LE(0, harvest(self));
		for (int i = 0; i < NPAGES; i++)
			if (test_bit64(self->map, i))
				memcpy(shadow + i * self->ps,
				       self->p + i * self->ps, self->ps);
		if (it < ODIRECT_ITERS) {
			ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
			ASSERT_EQ(ODIRECT_RUN * self->ps, cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
		kmig_progress(&prog, "O_DIRECT reads", it, ODIRECT_ITERS);
	}
	/* Nothing is held any more: one more harvest sends the last writes. */
	ASSERT_LE(0, harvest(self));
	for (int i = 0; i < NPAGES; i++) {
		if (test_bit64(self->map, i))
			memcpy(shadow + i * self->ps, self->p + i * self->ps,
			       self->ps);
		if (memcmp(shadow + i * self->ps, self->p + i * self->ps,
			   self->ps))
			bad++;
	}
	TH_LOG("%d reads, %ld pages differ", ODIRECT_ITERS, bad);
	EXPECT_EQ(0, bad);
	io_uring_queue_exit(&ring);
	loop_teardown(&l);
	free(shadow);
}

/* The receiver, a child process: 0 on END, 10 + errno on a failed receive. */
static pid_t receive_into(int dev, int sock, int dst)
{
	pid_t pid = fork();
	int sfd;

	if (pid)
		return pid;
	sfd = kmig_session(dev, sock, KMIG_ROLE_RECV, KMIG_PROTO_V2,
			   KMIG_CAP_ZERO_PAGES, &dst, 1, 0);
	if (sfd < 0)
		_exit(10 - sfd);
	_exit(kmig_recv_all(sfd, NULL, 0, NULL) ? 20 : 0);
}

/*
 * A whole migration with O_DIRECT reads in flight during the pre-copy
 * rounds, and drained before FINAL as the VMM contract says: the destination
 * equals the source byte for byte.
 */
TEST_F_TIMEOUT(pins, migration_with_odirect_in_flight, 300)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct loopdev l;
	unsigned char *d;
	unsigned int seed = 11;
	int tx, rx, dst, sfd, status, ret;
	pid_t pid;

	ret = loop_setup(&l, NPAGES * self->ps);
	if (ret)
		SKIP(return, "no loop device: %s", strerror(-ret));
	ASSERT_EQ(0, io_uring_queue_init(8, &ring, 0));
	dst = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, dst);
	ASSERT_EQ(0, tcp_pair(&tx, &rx));
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	pid = receive_into(self->dev, rx, dst);
	sfd = kmig_session(self->dev, tx, KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   KMIG_CAP_ZERO_PAGES, &self->fd, 1, 0);
	ASSERT_LE(0, sfd);

	for (int round = 0; round < 8; round++) {
		/* reads in flight while the round harvests and sends */
		for (int k = 0; k < 4; k++) {
			int pg = rand_r(&seed) % (NPAGES - ODIRECT_RUN);

			ASSERT_EQ(0, loop_fill(&l, self->ps, pg, ODIRECT_RUN,
					       round * 4 + k));
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, l.fd, self->p + pg * self->ps,
					   ODIRECT_RUN * self->ps,
					   pg * self->ps);
		}
		ASSERT_EQ(4, io_uring_submit(&ring));
		ASSERT_EQ(0, kmig_send_full_round(sfd, 0));
		for (int k = 0; k < 4; k++) {
			ASSERT_EQ(0, io_uring_wait_cqe(&ring, &cqe));
			ASSERT_EQ(ODIRECT_RUN * self->ps, cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
	}
	/* I/O drained; the guest is paused: FINAL, END. */
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(sfd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_EQ(0, WEXITSTATUS(status));

	d = mmap(NULL, NPAGES * self->ps, PROT_READ, MAP_SHARED, dst, 0);
	ASSERT_NE(MAP_FAILED, d);
	for (int i = 0, n = 0; i < NPAGES; i++)
		if (memcmp(d + i * self->ps, self->p + i * self->ps,
			   self->ps) && n++ < 8)
			TH_LOG("page %d differs", i);
	EXPECT_EQ(0, memcmp(d, self->p, NPAGES * self->ps));
	munmap(d, NPAGES * self->ps);
	close(sfd);
	close(tx);
	close(rx);
	close(dst);
	io_uring_queue_exit(&ring);
	loop_teardown(&l);
}

/* KMIG_MEM_MARK_DIRTY: what a VMM's devices wrote, reported by the harvest. */
static int mark(int fd, __u64 first, __u64 n)
{
	struct kmig_mark_dirty m = {
		.size = sizeof(m), .first_page = first, .num_pages = n,
	};

	return kmig_ioctl(fd, KMIG_MEM_MARK_DIRTY, &m);
}

TEST_F(pins, mark_dirty_is_harvested)
{
	struct kmig_mem_stats st;

	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(0, harvest(self));
	ASSERT_EQ(0, mark(self->fd, 10, 3));
	ASSERT_EQ(0, mark(self->fd, NPAGES - 1, 1));
	EXPECT_EQ(4, harvest(self));
	for (int i = 10; i < 13; i++)
		EXPECT_TRUE(test_bit64(self->map, i));
	EXPECT_TRUE(test_bit64(self->map, NPAGES - 1));
	EXPECT_EQ(0, harvest(self));
	ASSERT_EQ(0, kmig_mem_stats(self->fd, &st));
	EXPECT_EQ(4, st.marked_pages);
}

TEST_F(pins, mark_dirty_needs_tracking)
{
	EXPECT_EQ(-EINVAL, mark(self->fd, 0, 1));
}

TEST_F(pins, mark_dirty_bad_ranges)
{
	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	EXPECT_EQ(-EINVAL, mark(self->fd, 0, 0));
	EXPECT_EQ(-EINVAL, mark(self->fd, NPAGES, 1));
	EXPECT_EQ(-EINVAL, mark(self->fd, NPAGES - 1, 2));
	EXPECT_EQ(-EINVAL, mark(self->fd, 1, ~0ULL));
	/* nothing was marked */
	EXPECT_EQ(0, harvest(self));
}

TEST_F(pins, mark_dirty_bad_args)
{
	struct kmig_mark_dirty m = {
		.size = sizeof(m), .first_page = 0, .num_pages = 1,
	};

	ASSERT_EQ(0, kmig_track(self->fd, KMIG_MEM_TRACK_START, 0));
	m.flags = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_MEM_MARK_DIRTY, &m));
	m.flags = 0;
	m.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_MEM_MARK_DIRTY, &m));
	m.reserved[1] = 0;
	m.size = KMIG_MARK_DIRTY_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->fd, KMIG_MEM_MARK_DIRTY, &m));
	m.size = sizeof(m);
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->fd, KMIG_MEM_MARK_DIRTY, NULL));
	EXPECT_EQ(0, harvest(self));
}

TEST_HARNESS_MAIN
