// SPDX-License-Identifier: GPL-2.0
/*
 * Abuse: what a careless or hostile user of kmig can do, and what must
 * survive it.
 *  - rmmod while any kind of reference is held;
 *  - munmap and close of the memory while a send is in flight;
 *  - the peer resetting the connection, on either side;
 *  - SIGKILL of the source or the destination at random points of a
 *    migration, after which the source memory is intact and a second
 *    migration succeeds;
 *  - an unprivileged user, with and without a descriptor handed over.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		256
#define ALL_CAPS	(KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS)

static int try_rmmod(void)
{
	return syscall(__NR_delete_module, "kmig", O_NONBLOCK) ? -errno : 0;
}

FIXTURE(abuse) {
	int dev, mem;
	long ps;
	unsigned char *map;
};

FIXTURE_SETUP(abuse)
{
	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR);
	if (self->dev < 0)
		SETUP_SKIP("no %s", KMIG_DEV);
	self->mem = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, self->mem);
	self->map = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
			 MAP_SHARED, self->mem, 0);
	ASSERT_NE(MAP_FAILED, self->map);
	for (long i = 0; i < NPAGES; i++)
		memset(self->map + i * self->ps, (int)(i * 13 + 1), self->ps);
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(abuse)
{
	if (self->map && self->map != MAP_FAILED)
		munmap(self->map, NPAGES * self->ps);
	if (self->mem >= 0)
		close(self->mem);
	close(self->dev);
}

/* Each holder alone keeps the module in: rmmod gets EWOULDBLOCK. */
TEST_F(abuse, rmmod_while_in_use)
{
	int sv[2], sfd;

	/* device fd, memory fd and mapping */
	ASSERT_EQ(-EWOULDBLOCK, try_rmmod());
	close(self->dev);
	ASSERT_EQ(-EWOULDBLOCK, try_rmmod());	/* memory fd and mapping */
	close(self->mem);
	self->mem = -1;
	ASSERT_EQ(-EWOULDBLOCK, try_rmmod());	/* the mapping alone */
	self->map[0] = 1;
	self->dev = open(KMIG_DEV, O_RDWR);
	ASSERT_LE(0, self->dev);

	/* a session alone (it holds its memory) */
	self->mem = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, self->mem);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START, 0));
	ASSERT_EQ(0, unix_pair(&sv[0], &sv[1]));
	sfd = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND, KMIG_PROTO_V2, 0,
			   &self->mem, 1, 0);
	ASSERT_LE(0, sfd);
	close(sv[0]);
	close(self->mem);
	close(self->dev);
	self->dev = -1;
	self->mem = -1;
	munmap(self->map, NPAGES * self->ps);
	self->map = NULL;
	ASSERT_EQ(-EWOULDBLOCK, try_rmmod());
	/* it still works: a round goes out */
	ASSERT_EQ(0, kmig_send_full_round(sfd, 0));
	close(sfd);
	close(sv[1]);
	self->dev = open(KMIG_DEV, O_RDWR);
	ASSERT_LE(0, self->dev);
}

struct rx_job {
	int dev, sock, mem;
	long ret;
	unsigned int delay_us;	/* per receive call: a slow destination */
};

static void *rx_thread(void *arg)
{
	struct rx_job *j = arg;
	struct kmig_recv ev;
	int sfd;

	sfd = kmig_session(j->dev, j->sock, KMIG_ROLE_RECV, KMIG_PROTO_V2,
			   ALL_CAPS, &j->mem, 1, 0);
	if (sfd < 0) {
		j->ret = sfd;
		return NULL;
	}
	do {
		usleep(j->delay_us);
		j->ret = kmig_recv(sfd, &ev, NULL, 0);
	} while (!j->ret && ev.event != KMIG_EVENT_END);
	close(sfd);
	return NULL;
}

/*
 * The VMM unmaps and closes guest memory while a capped send is streaming
 * it: the session's reference keeps the pages, and the stream completes
 * with the contents they had.
 */
TEST_F_TIMEOUT(abuse, munmap_and_close_during_send, 120)
{
	unsigned char *ref = malloc(NPAGES * self->ps), *dmap;
	struct rx_job job = { .dev = self->dev };
	struct kmig_send_round r = { 0 };
	int sv[2], sfd, dst;
	pthread_t th;

	ASSERT_NE(NULL, ref);
	memcpy(ref, self->map, NPAGES * self->ps);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	dst = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, dst);
	ASSERT_EQ(0, tcp_pair(&sv[0], &sv[1]));
	job.sock = sv[1];
	job.mem = dst;
	ASSERT_EQ(0, pthread_create(&th, NULL, rx_thread, &job));
	sfd = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   ALL_CAPS, &self->mem, 1, 0);
	ASSERT_LE(0, sfd);

	/* the first quarter, then the memory goes away under the session */
	r.size = sizeof(r);
	r.flags = KMIG_ROUND_FINAL;
	r.max_bytes = NPAGES * self->ps / 4;
	ASSERT_EQ(0, kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, &r));
	ASSERT_EQ(0, r.complete);
	ASSERT_EQ(0, munmap(self->map, NPAGES * self->ps));
	self->map = NULL;
	ASSERT_EQ(0, close(self->mem));
	self->mem = -1;
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(sfd));
	close(sfd);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	ASSERT_EQ(0, job.ret);

	dmap = mmap(NULL, NPAGES * self->ps, PROT_READ, MAP_SHARED, dst, 0);
	ASSERT_NE(MAP_FAILED, dmap);
	EXPECT_EQ(0, memcmp(ref, dmap, NPAGES * self->ps));
	munmap(dmap, NPAGES * self->ps);
	close(dst);
	free(ref);
}

static void reset_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Both sides of one migration; the source memory is checked afterwards. */
static long migrate(FIXTURE_DATA(abuse) *self, int dst)
{
	struct rx_job job = { .dev = self->dev, .mem = dst };
	int sv[2], sfd;
	long ret;
	pthread_t th;

	if (tcp_pair(&sv[0], &sv[1]))
		return -errno;
	job.sock = sv[1];
	if (pthread_create(&th, NULL, rx_thread, &job))
		return -1;
	sfd = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   ALL_CAPS, &self->mem, 1, 0);
	ret = sfd < 0 ? sfd : kmig_send_full_round(sfd, KMIG_ROUND_FINAL);
	if (!ret)
		ret = kmig_send_end(sfd);
	if (sfd >= 0)
		close(sfd);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	return ret ? ret : job.ret;
}

/*
 * After a failed attempt: restart tracking with every page dirty, migrate
 * to a fresh memory object and compare it with the source. 0 if it moved
 * byte for byte; else a negative errno, or 1 if the contents differ.
 */
static long remigrate(FIXTURE_DATA(abuse) *self)
{
	unsigned char *dmap;
	long ret;
	int dst;

	if (kmig_track(self->mem, KMIG_MEM_TRACK_STOP, 0) ||
	    kmig_track(self->mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY))
		return -errno;
	dst = kmig_mem_create(self->dev, NPAGES * self->ps);
	if (dst < 0)
		return dst;
	ret = migrate(self, dst);
	if (!ret) {
		dmap = mmap(NULL, NPAGES * self->ps, PROT_READ, MAP_SHARED,
			    dst, 0);
		if (dmap == MAP_FAILED) {
			ret = -errno;
		} else {
			ret = memcmp(self->map, dmap, NPAGES * self->ps) != 0;
			munmap(dmap, NPAGES * self->ps);
		}
	}
	close(dst);
	return ret;
}

/* The destination resets the connection mid-stream. */
TEST_F_TIMEOUT(abuse, peer_resets_during_send, 120)
{
	struct kmig_session_stats st;
	int sv[2], sfd, small = 16384;
	unsigned char buf[65536];
	long got = 0, ret;

	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, tcp_pair(&sv[0], &sv[1]));
	/*
	 * Small buffers: the 1 MiB stream cannot sit in them whole, so the
	 * sender is still sending when the reset comes, whatever the timing.
	 */
	ASSERT_EQ(0, setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	sfd = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   ALL_CAPS, &self->mem, 1, 0);
	ASSERT_LE(0, sfd);
	if (fork() == 0) {
		close(sv[0]);
		close(sfd);
		/* read a little, then reset */
		while (got < 100000) {
			ret = read(sv[1], buf, sizeof(buf));
			if (ret <= 0)
				break;
			got += ret;
		}
		reset_close(sv[1]);
		_exit(0);
	}
	close(sv[1]);
	ret = kmig_send_full_round(sfd, KMIG_ROUND_FINAL);
	if (!ret)
		ret = kmig_send_end(sfd);
	wait(NULL);
	ASSERT_TRUE(ret == -ECONNRESET || ret == -EPIPE) {
		TH_LOG("send after a reset: %s", strerror(-ret));
	}
	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(KMIG_STATE_BROKEN, st.state);
	EXPECT_EQ(KMIG_ERR_SOCKET, st.error_reason);
	close(sfd);
	close(sv[0]);

	/* the source is intact: a second attempt moves everything */
	ASSERT_EQ(0, remigrate(self));
}

/* The source resets the connection while the destination receives. */
TEST_F_TIMEOUT(abuse, peer_resets_during_receive, 120)
{
	struct kmig_session_stats st;
	struct kmig_recv ev;
	int sv[2], sfd, dst;
	long ret;
	pid_t pid;

	dst = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, dst);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, tcp_pair(&sv[0], &sv[1]));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kmig_send_round r = { .size = sizeof(r) };
		int s;

		close(sv[1]);
		s = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND,
				     KMIG_PROTO_V2, ALL_CAPS, &self->mem, 1, 0);

		r.max_bytes = NPAGES * self->ps / 3;
		if (s < 0 || kmig_ioctl(s, KMIG_SESSION_SEND_ROUND, &r))
			_exit(1);
		close(s);
		reset_close(sv[0]);
		_exit(0);
	}
	close(sv[0]);
	sfd = kmig_session(self->dev, sv[1], KMIG_ROLE_RECV, KMIG_PROTO_V2,
			   ALL_CAPS, &dst, 1, 0);
	ASSERT_LE(0, sfd);
	do {
		ret = kmig_recv(sfd, &ev, NULL, 0);
	} while (!ret && ev.event != KMIG_EVENT_END);
	waitpid(pid, NULL, 0);
	ASSERT_TRUE(ret == -ECONNRESET || ret == -EPIPE) {
		TH_LOG("receive after a reset: %s", strerror(-ret));
	}
	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(KMIG_STATE_BROKEN, st.state);
	EXPECT_NE(KMIG_STATE_ENDED, st.state);
	close(sfd);
	close(sv[1]);
	close(dst);
}

/*
 * SIGKILL of one side at a random point, many times. The memory object
 * belongs to the test; the killed processes only ran the sessions. After
 * each kill the survivor has failed cleanly and a full migration of the
 * same source memory succeeds.
 */
TEST_F_TIMEOUT(abuse, sigkill_at_random_points, 300)
{
	unsigned int seed = time(NULL);
	int rounds = 12;

	TH_LOG("seed %u", seed);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	for (int i = 0; i < rounds; i++) {
		int sv[2], dst, status;
		bool kill_source = rand_r(&seed) & 1;
		useconds_t when = rand_r(&seed) % 30000;
		pid_t src, rcv;

		dst = kmig_mem_create(self->dev, NPAGES * self->ps);
		ASSERT_LE(0, dst);
		ASSERT_EQ(0, tcp_pair(&sv[0], &sv[1]));
		src = fork();
		ASSERT_LE(0, src);
		if (!src) {
			int s = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND,
					     KMIG_PROTO_V2, ALL_CAPS,
					     &self->mem, 1, 0);
			struct kmig_send_round r = { .size = sizeof(r) };

			close(sv[1]);
			/* slow rounds, so that the kill lands mid-stream */
			r.bw_limit = 4 << 20;
			r.flags = KMIG_ROUND_FINAL;
			do {
				if (kmig_ioctl(s, KMIG_SESSION_SEND_ROUND, &r))
					_exit(1);
			} while (!r.complete);
			_exit(kmig_send_end(s) ? 1 : 0);
		}
		rcv = fork();
		ASSERT_LE(0, rcv);
		if (!rcv) {
			struct rx_job j = { .dev = self->dev, .sock = sv[1],
					    .mem = dst };

			close(sv[0]);
			rx_thread(&j);
			_exit(j.ret ? 1 : 0);
		}
		close(sv[0]);
		close(sv[1]);
		usleep(when);
		kill(kill_source ? src : rcv, SIGKILL);
		/* the survivor ends by itself: success or a clean error */
		ASSERT_EQ(kill_source ? rcv : src,
			  waitpid(kill_source ? rcv : src, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		waitpid(kill_source ? src : rcv, &status, 0);
		close(dst);

		/* the source memory: intact, tracking, migratable */
		ASSERT_EQ(0, remigrate(self));
		/* the next round starts dirty again */
		ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_STOP, 0));
		ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
					KMIG_TRACK_ALL_DIRTY));
	}
}

static void drop_to_nobody(void)
{
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(100);
}

/*
 * An unprivileged user can neither open the device, nor reach a memory
 * object through another process's /proc/PID/fd, nor change the module's
 * parameters. A descriptor handed over is the capability: it works, and
 * its every ioctl still validates its arguments.
 */
TEST_F(abuse, unprivileged_user)
{
	static const unsigned long cmds[] = {
		KMIG_GET_INFO, KMIG_MEM_CREATE, KMIG_SESSION_CREATE,
		KMIG_MEM_TRACK_START, KMIG_MEM_TRACK_STOP, KMIG_MEM_HARVEST,
		KMIG_MEM_GET_STATS, KMIG_SESSION_SEND_ROUND,
		KMIG_SESSION_SEND_BLOB, KMIG_SESSION_SEND_END,
		KMIG_SESSION_RECV, KMIG_SESSION_GET_STATS,
	};
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		char path[64];
		__u32 bad = 1;	/* size 1: too small for every struct */
		struct kmig_info info;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", getppid(),
			 self->mem);
		drop_to_nobody();
		if (open(KMIG_DEV, O_RDWR) >= 0 || errno != EACCES)
			_exit(1);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(2);
		if (kmig_param_write("proto_max", "1") != -EACCES)
			_exit(3);
		/* the inherited descriptors work */
		if (kmig_get_info(self->dev, &info))
			_exit(4);
		for (unsigned int i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			long r1 = kmig_ioctl(self->dev, cmds[i], &bad);
			long r2 = kmig_ioctl(self->mem, cmds[i], &bad);

			/* too small, or not an ioctl of that fd */
			if ((r1 != -EINVAL && r1 != -ENOTTY) ||
			    (r2 != -EINVAL && r2 != -ENOTTY))
				_exit(10 + i);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
