// SPDX-License-Identifier: GPL-2.0
/*
 * Streaming end to end: a sender process and a receiver process over a
 * socket, for each protocol version and capability set. The destination must
 * equal the source byte for byte after writers dirtied it during the rounds.
 * Also: zero-page efficiency, budgets, saved streams, interruptions, and what
 * happens when either side dies.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		1024
#define BLOB_LEN	(64 * 1024 + 3)
#define ALL_CAPS	(KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS)

FIXTURE(stream) {
	int dev, src, dst, tx_sock, rx_sock;
	long ps;
	unsigned char *s, *d;
	unsigned char *blob;
};

/* large: both memories are KMIG_MEM_CREATE_LARGE (64 KiB fragments) */
FIXTURE_VARIANT(stream) {
	__u32 proto;
	__u64 caps;
	bool unix_socket;
	bool large;
};

FIXTURE_VARIANT_ADD(stream, v1_plain) { .proto = 1, .caps = 0 };
FIXTURE_VARIANT_ADD(stream, v1_all_caps) { .proto = 1, .caps = ALL_CAPS };
FIXTURE_VARIANT_ADD(stream, v2_plain) { .proto = 2, .caps = 0 };
FIXTURE_VARIANT_ADD(stream, v2_zero_blobs) {
	.proto = 2, .caps = KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS,
};
FIXTURE_VARIANT_ADD(stream, v2_all_caps) { .proto = 2, .caps = ALL_CAPS };
FIXTURE_VARIANT_ADD(stream, v2_unix) {
	.proto = 2, .caps = ALL_CAPS, .unix_socket = true,
};
FIXTURE_VARIANT_ADD(stream, v1_large) { .proto = 1, .caps = 0, .large = true };
FIXTURE_VARIANT_ADD(stream, v2_large) {
	.proto = 2, .caps = KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS, .large = true,
};
FIXTURE_VARIANT_ADD(stream, v2_large_all_caps) {
	.proto = 2, .caps = ALL_CAPS, .large = true,
};
FIXTURE_VARIANT_ADD(stream, v2_unix_large) {
	.proto = 2, .caps = KMIG_CAP_BLOBS, .unix_socket = true, .large = true,
};

static void fill_source(unsigned char *p, long ps, unsigned int seed)
{
	for (int pg = 0; pg < NPAGES; pg++) {
		switch (pg % 4) {
		case 0:		/* never touched: unpopulated */
			break;
		case 1:		/* populated, zero */
			memset(p + pg * ps, 0, ps);
			break;
		default:
			for (long i = 0; i < ps; i += 8)
				*(uint64_t *)(p + pg * ps + i) =
					(uint64_t)rand_r(&seed) << 32 | pg;
		}
	}
}

FIXTURE_SETUP(stream)
{
	__u32 flags = variant->large ? KMIG_MEM_CREATE_LARGE : 0;

	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->src = kmig_mem_create_flags(self->dev, NPAGES * self->ps, flags);
	self->dst = kmig_mem_create_flags(self->dev, NPAGES * self->ps, flags);
	ASSERT_LE(0, self->src);
	ASSERT_LE(0, self->dst);
	self->s = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->src, 0);
	self->d = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->dst, 0);
	ASSERT_NE(MAP_FAILED, self->s);
	ASSERT_NE(MAP_FAILED, self->d);
	fill_source(self->s, self->ps, 1);
	/* Stale destination contents must all be overwritten. */
	memset(self->d, 0xee, NPAGES * self->ps);
	self->blob = malloc(BLOB_LEN);
	ASSERT_NE(NULL, self->blob);
	for (int i = 0; i < BLOB_LEN; i++)
		self->blob[i] = i * 7;
	if (variant->unix_socket) {
		ASSERT_EQ(0, unix_pair(&self->tx_sock, &self->rx_sock));
	} else {
		ASSERT_EQ(0, tcp_pair(&self->tx_sock, &self->rx_sock));
	}
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
}

FIXTURE_TEARDOWN(stream)
{
	munmap(self->s, NPAGES * self->ps);
	munmap(self->d, NPAGES * self->ps);
	close(self->src);
	close(self->dst);
	close(self->tx_sock);
	close(self->rx_sock);
	free(self->blob);
	close(self->dev);
}

/*
 * The receiver, in a child process. Exit status: 0 on success with the
 * expected blob, 10 + errno of a failed receive, or another small code.
 */
static pid_t start_receiver(FIXTURE_DATA(stream) *self,
			    const FIXTURE_VARIANT(stream) *variant,
			    int expect_blob)
{
	pid_t pid = fork();

	if (pid)
		return pid;

	unsigned char *got = malloc(BLOB_LEN);
	__u64 got_len = 0;
	int sfd, ret;

	close(self->tx_sock);
	sfd = kmig_session(self->dev, self->rx_sock, KMIG_ROLE_RECV,
			   variant->proto, variant->caps, &self->dst, 1, 0);
	if (sfd < 0)
		_exit(2);
	ret = kmig_recv_all(sfd, got, BLOB_LEN, &got_len);
	if (ret)
		_exit(10 + -ret);
	if (expect_blob &&
	    (got_len != BLOB_LEN || memcmp(got, self->blob, BLOB_LEN)))
		_exit(3);
	_exit(0);
}

static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * The source in one final round and the end, to a receiver in a child that
 * expects no blob. Returns the send session, for its statistics, or -1 if a
 * step failed (the receiver's exit status included).
 */
static int stream_to_receiver(FIXTURE_DATA(stream) *self,
			      const FIXTURE_VARIANT(stream) *variant)
{
	pid_t pid = start_receiver(self, variant, 0);
	int sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			       variant->proto, variant->caps, &self->src, 1, 0);

	if (sfd < 0) {
		kill(pid, SIGKILL);
		wait_child(pid);
		return -1;
	}
	if (kmig_send_full_round(sfd, KMIG_ROUND_FINAL) ||
	    kmig_send_end(sfd) || wait_child(pid)) {
		close(sfd);
		return -1;
	}
	return sfd;
}

static long pages_differ(FIXTURE_DATA(stream) *self)
{
	long bad = 0;

	for (int pg = 0; pg < NPAGES; pg++)
		bad += !!memcmp(self->s + pg * self->ps, self->d + pg * self->ps,
				self->ps);
	return bad;
}

struct writer {
	unsigned char *p;
	long ps;
	atomic_int stop;
	unsigned int seed;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	while (!atomic_load_explicit(&w->stop, memory_order_relaxed)) {
		int pg = rand_r(&w->seed) % NPAGES;

		w->p[pg * w->ps + rand_r(&w->seed) % w->ps] = rand_r(&w->seed);
		if (rand_r(&w->seed) % 64 == 0)
			usleep(100);
	}
	return NULL;
}

TEST_F(stream, migrate_while_writing)
{
	struct writer w[2] = {
		{ .p = self->s, .ps = self->ps, .seed = 11 },
		{ .p = self->s, .ps = self->ps, .seed = 22 },
	};
	bool blobs = variant->caps & KMIG_CAP_BLOBS;
	struct kmig_session_stats st;
	pthread_t th[2];
	pid_t pid;
	int sfd;

	pid = start_receiver(self, variant, blobs);
	ASSERT_LT(0, pid);
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	/* The session keeps its own reference to the socket. */
	close(self->tx_sock);
	self->tx_sock = -1;

	/* Round 0 sends everything; then writers dirty rounds 1 to 3. */
	ASSERT_EQ(0, kmig_send_full_round(sfd, 0));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, writer_thread, &w[i]));
	for (int round = 1; round < 4; round++)
		ASSERT_EQ(0, kmig_send_full_round(sfd, 0));
	for (int i = 0; i < 2; i++) {
		atomic_store(&w[i].stop, 1);
		pthread_join(th[i], NULL);
	}
	/* The guest is "paused": the final round. */
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	if (blobs)
		ASSERT_EQ(0, kmig_send_blob(sfd, 77, self->blob, BLOB_LEN));
	ASSERT_EQ(0, kmig_send_end(sfd));

	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, pages_differ(self));

	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(KMIG_STATE_ENDED, st.state);
	EXPECT_EQ(variant->proto, st.proto);
	EXPECT_EQ(variant->caps, st.caps);
	EXPECT_EQ(5, st.round);
	EXPECT_EQ(blobs ? 1 : 0, st.blobs);
	EXPECT_LE(NPAGES, st.pages + st.zero_pages);
	if (variant->caps & KMIG_CAP_ZERO_PAGES) {
		EXPECT_LE(NPAGES / 2, st.zero_pages);
	} else {
		EXPECT_EQ(0, st.zero_pages);
	}
	EXPECT_EQ(0, st.error);
	close(sfd);
}

/* A 90%-zero guest: the stream is about as big as its non-zero bytes. */
TEST_F(stream, zero_pages_cost_nothing)
{
	struct kmig_session_stats st;
	unsigned int seed = 5;
	long nonzero = 0;
	int sfd;

	if (!(variant->caps & KMIG_CAP_ZERO_PAGES))
		SKIP(return, "variant without KMIG_CAP_ZERO_PAGES");
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_STOP, 0));
	memset(self->s, 0, NPAGES * self->ps);
	for (int pg = 0; pg < NPAGES; pg++) {
		if (rand_r(&seed) % 10)
			continue;
		nonzero++;
		for (long i = 0; i < self->ps; i++)
			self->s[pg * self->ps + i] = rand_r(&seed) | 1;
	}
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));

	sfd = stream_to_receiver(self, variant);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(0, pages_differ(self));

	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(nonzero, st.pages);
	EXPECT_EQ(NPAGES - nonzero, st.zero_pages);
	TH_LOG("%ld non-zero pages, %llu stream bytes, ratio %.4f", nonzero,
	       st.bytes, (double)st.bytes / (nonzero * self->ps));
	EXPECT_LE(st.bytes, nonzero * self->ps * 105 / 100);
	close(sfd);
}

/*
 * Pages only read (populated, never written) go out as ZERO records, which
 * the sender knows without reading them; the destination's written (0xee)
 * pages are cleared by those records.
 */
TEST_F(stream, never_written_pages_are_zero_records)
{
	struct kmig_session_stats st;
	volatile unsigned char sink;
	int sfd;

	if (!(variant->caps & KMIG_CAP_ZERO_PAGES))
		SKIP(return, "variant without KMIG_CAP_ZERO_PAGES");
	/* a fresh source: every page read once, page 7 written */
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_STOP, 0));
	munmap(self->s, NPAGES * self->ps);
	close(self->src);
	self->src = kmig_mem_create_flags(self->dev, NPAGES * self->ps,
					  variant->large ? KMIG_MEM_CREATE_LARGE : 0);
	ASSERT_LE(0, self->src);
	self->s = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->src, 0);
	ASSERT_NE(MAP_FAILED, self->s);
	for (int pg = 0; pg < NPAGES; pg++)
		sink = self->s[pg * self->ps];
	(void)sink;
	memset(self->s + 7 * self->ps, 0x5a, self->ps);
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));

	sfd = stream_to_receiver(self, variant);
	ASSERT_LE(0, sfd);
	/* the destination's 0xee pages were cleared, page 7 arrived */
	EXPECT_EQ(0, pages_differ(self));
	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(1, st.pages);
	EXPECT_EQ(NPAGES - 1, st.zero_pages);
	close(sfd);
}

/* Byte and time budgets return early; the next call continues the round. */
TEST_F(stream, budgets_split_rounds)
{
	struct kmig_send_round r;
	int calls = 0, sfd;
	pid_t pid;

	pid = start_receiver(self, variant, 0);
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	do {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = KMIG_ROUND_FINAL;
		r.max_bytes = 64 * 1024;
		ASSERT_EQ(0, kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, &r));
		/* At most one record beyond the budget. */
		ASSERT_GE(64 * 1024 + KMIG_BATCH_BYTES, r.bytes);
		ASSERT_EQ(0, r.round);
		calls++;
	} while (!r.complete);
	EXPECT_LT(4, calls);
	EXPECT_EQ(0, r.remaining);
	ASSERT_EQ(0, kmig_send_end(sfd));
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, pages_differ(self));
	close(sfd);
}

TEST_F(stream, bandwidth_cap_is_honoured)
{
	struct kmig_send_round r = {
		.size = sizeof(r),
		.flags = KMIG_ROUND_FINAL,
		.bw_limit = 4 << 20,
	};
	__u64 bytes = 0, ns = 0;
	pid_t pid;
	int sfd;

	pid = start_receiver(self, variant, 0);
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	do {
		ASSERT_EQ(0, kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, &r));
		bytes += r.bytes;
		ns += r.elapsed_ns;
	} while (!r.complete);
	/* A lower bound only: the cap must hold back, never speed up. */
	EXPECT_LE(bytes * 1000000000ULL / (4 << 20) * 9 / 10, ns)
		TH_LOG("%llu bytes in %llu ns", bytes, ns);
	ASSERT_EQ(0, kmig_send_end(sfd));
	ASSERT_EQ(0, wait_child(pid));
	close(sfd);
}

struct drain {
	int fd;
	unsigned char *buf;
	size_t len, cap;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	while ((n = read(d->fd, d->buf + d->len, d->cap - d->len)) > 0)
		d->len += n;
	return NULL;
}

static void *replay_thread(void *arg)
{
	struct drain *d = arg;

	write_all(d->fd, d->buf, d->len);
	close(d->fd);
	return NULL;
}

/* A stream saved to a file carries its own version and capabilities. */
TEST_F(stream, saved_stream_replays_without_handshake)
{
	struct drain save = { .cap = 2 * NPAGES * self->ps + (1 << 20) };
	struct kmig_session_stats st;
	int a, b, sfd, rfd;
	pthread_t th;

	save.buf = malloc(save.cap);
	ASSERT_NE(NULL, save.buf);
	ASSERT_EQ(0, unix_pair(&a, &b));
	save.fd = b;
	ASSERT_EQ(0, pthread_create(&th, NULL, drain_thread, &save));
	sfd = kmig_session(self->dev, a, KMIG_ROLE_SEND, variant->proto,
			   variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	close(a);
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(sfd));
	close(sfd);		/* drops the last reference to the socket */
	pthread_join(th, NULL);
	close(b);
	ASSERT_LT(NPAGES / 2 * self->ps, save.len);

	/* Replay the saved bytes into a receiver that knows nothing. */
	ASSERT_EQ(0, unix_pair(&a, &b));
	save.fd = a;
	ASSERT_EQ(0, pthread_create(&th, NULL, replay_thread, &save));
	rfd = kmig_session(self->dev, b, KMIG_ROLE_RECV, 0, 0, &self->dst, 1,
			   KMIG_SESSION_FROM_STREAM);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(0, kmig_recv_all(rfd, NULL, 0, NULL));
	pthread_join(th, NULL);
	EXPECT_EQ(0, pages_differ(self));
	ASSERT_EQ(0, kmig_session_stats(rfd, &st));
	EXPECT_EQ(variant->proto, st.proto);
	EXPECT_EQ(variant->caps, st.caps);
	close(rfd);
	close(b);
	free(save.buf);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * A storm of signals without SA_RESTART on both sides: calls return EINTR
 * all the time, and every record still arrives exactly once.
 */
TEST_F_TIMEOUT(stream, interrupted_calls_resume, 300)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 700 }, { 0, 700 } };
	int small = variant->unix_socket ? 8192 : 65536, pipefd[2], sfd, ret;
	long eintr = 0, rx_eintr = 0;
	pid_t pid;

	/* Small buffers: both sides block often, and signals catch them there. */
	ASSERT_EQ(0, setsockopt(self->tx_sock, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->rx_sock, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kmig_recv ev;
		long n = 0;
		int rfd;

		setitimer(ITIMER_REAL, &it, NULL);
		rfd = kmig_session(self->dev, self->rx_sock, KMIG_ROLE_RECV,
				   variant->proto, variant->caps, &self->dst, 1,
				   0);
		if (rfd < 0)
			_exit(2);
		for (;;) {
			ret = kmig_recv(rfd, &ev, self->blob, BLOB_LEN);
			if (ret == -EINTR) {
				n++;
				continue;
			}
			if (ret)
				_exit(10 + -ret);
			if (ev.event == KMIG_EVENT_END)
				break;
		}
		if (write(pipefd[1], &n, sizeof(n)) != sizeof(n))
			_exit(3);
		_exit(0);
	}
	setitimer(ITIMER_REAL, &it, NULL);
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	for (int round = 0; round < 3; round++) {
		struct kmig_send_round r;
		__u32 flags = round == 2 ? KMIG_ROUND_FINAL : 0;

		for (int pg = round; pg < NPAGES; pg += 5)
			self->s[pg * self->ps] += 1;
		do {
			ret = kmig_send_round(sfd, &r, flags);
			eintr += ret == -EINTR;
		} while (ret == -EINTR || (!ret && !r.complete));
		ASSERT_EQ(0, ret);
	}
	if (variant->caps & KMIG_CAP_BLOBS) {
		do {
			ret = kmig_send_blob(sfd, 1, self->blob, BLOB_LEN);
			eintr += ret == -EINTR;
		} while (ret == -EINTR);
		ASSERT_EQ(0, ret);
	}
	do {
		ret = kmig_send_end(sfd);
		eintr += ret == -EINTR;
	} while (ret == -EINTR);
	ASSERT_EQ(0, ret);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_EQ(sizeof(rx_eintr), read(pipefd[0], &rx_eintr, sizeof(rx_eintr)));
	EXPECT_EQ(0, pages_differ(self));
	TH_LOG("%ld interrupted sends, %ld interrupted receives", eintr,
	       rx_eintr);
	/* Otherwise this test exercised nothing. */
	EXPECT_LT(0, eintr + rx_eintr);
	close(pipefd[0]);
	close(pipefd[1]);
	close(sfd);
}

/*
 * A budget spans restarts: under a storm of SA_RESTART signals, a throttled
 * round with a 300 ms budget ends at the first entry's deadline, with the
 * round unfinished. Every restart used to start the deadline and the
 * bandwidth window anew, so the call ran until its round was done.
 */
TEST_F_TIMEOUT(stream, budget_survives_restarts, 120)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	struct kmig_send_round r = {
		.size = sizeof(r), .max_ns = 300 * 1000 * 1000,
		.bw_limit = 1 << 20,
	};
	pid_t pid = start_receiver(self, variant, 0);
	int sfd, ret;

	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, &r);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	ASSERT_EQ(0, ret);
	TH_LOG("%llu bytes in %llu ms, complete %u", (unsigned long long)r.bytes,
	       (unsigned long long)r.elapsed_ns / 1000000, r.complete);
	EXPECT_EQ(0, r.complete);
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(sfd));
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, pages_differ(self));
	close(sfd);
}

/*
 * SEND_BLOB interrupted (EINTR, no SA_RESTART), then called again with the
 * same tag and length but other data: the interrupted blob is finished, the
 * new data is not sent, and the call says so with EALREADY. The receiver
 * gets the first blob, once.
 */
TEST_F_TIMEOUT(stream, blob_changed_after_eintr, 120)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 0 }, { 0, 200 * 1000 } };
	unsigned char *other = malloc(BLOB_LEN);
	int small = 4096, sfd, ret;
	pid_t pid;

	if (!(variant->caps & KMIG_CAP_BLOBS))
		SKIP(return, "blobs not agreed in this variant");
	ASSERT_NE(NULL, other);
	memset(other, 0xa5, BLOB_LEN);
	ASSERT_EQ(0, setsockopt(self->tx_sock, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->rx_sock, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	/* nobody reads yet: the blob cannot go out whole, the alarm ends it */
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	ret = kmig_send_blob(sfd, 1, self->blob, BLOB_LEN);
	ASSERT_EQ(-EINTR, ret);

	/* the rest at full speed: tiny windows make loopback TCP crawl */
	small = 4 << 20;
	ASSERT_EQ(0, setsockopt(self->tx_sock, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->rx_sock, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	pid = start_receiver(self, variant, 1);
	EXPECT_EQ(-EALREADY, kmig_send_blob(sfd, 1, other, BLOB_LEN));
	ASSERT_EQ(0, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(sfd));
	/* 0 only if the one blob received is the first one */
	ASSERT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, pages_differ(self));
	close(sfd);
	free(other);
}

/*
 * A failed switch-over: the final round stalls (the destination does not
 * read), the source's send times out, the source aborts the connection
 * (connect(AF_UNSPEC): RST) and resumes, and its guest rewrites every page.
 * On a local path, zero-copy pages still queued for the destination would
 * be read with those newer bytes; the destination must refuse the rest of
 * the stream and never hold a page written after the resume.
 */
TEST_F_TIMEOUT(stream, aborted_stream_leaves_no_newer_bytes, 120)
{
	struct timeval tv = { .tv_usec = 200 * 1000 };
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	int small = 65536, sfd, rfd, ret;
	long newer = 0;

	if (variant->unix_socket)
		SKIP(return, "AF_UNIX has no reset; its queue holds copies");
	ASSERT_EQ(0, setsockopt(self->tx_sock, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->rx_sock, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, setsockopt(self->tx_sock, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	rfd = kmig_session(self->dev, self->rx_sock, KMIG_ROLE_RECV,
			   variant->proto, variant->caps, &self->dst, 1, 0);
	ASSERT_LE(0, sfd);
	ASSERT_LE(0, rfd);
	EXPECT_EQ(-ETIMEDOUT, kmig_send_full_round(sfd, KMIG_ROUND_FINAL));
	/* the source gives up: abort, resume, and the guest writes */
	ASSERT_EQ(0, connect(self->tx_sock, &sa, sizeof(sa)));
	memset(self->s, 0x5c, NPAGES * self->ps);

	ret = kmig_recv_all(rfd, self->blob, BLOB_LEN, NULL);
	EXPECT_NE(0, ret);
	for (long i = 0; i + 8 <= NPAGES * self->ps; i += self->ps)
		newer += !memcmp(self->d + i, "\x5c\x5c\x5c\x5c\x5c\x5c\x5c\x5c", 8);
	TH_LOG("receive ended with %d; %ld pages with newer bytes", ret, newer);
	EXPECT_EQ(0, newer);
	close(sfd);
	close(rfd);
}

/*
 * The destination dies mid-stream: the source gets a clean error, its memory
 * is intact and still tracked, and a second migration succeeds.
 */
TEST_F(stream, destination_killed_then_retry)
{
	struct kmig_session_stats st;
	struct kmig_mem_stats ms;
	unsigned char *copy = malloc(NPAGES * self->ps);
	int sfd, ret = 0, status;
	pid_t pid;

	ASSERT_NE(NULL, copy);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char buf[4096];

		/* Read a little of the stream, then die. */
		if (read(self->rx_sock, buf, sizeof(buf)) > 0)
			raise(SIGKILL);
		_exit(1);
	}
	close(self->rx_sock);
	self->rx_sock = -1;
	sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
			   variant->proto, variant->caps, &self->src, 1, 0);
	ASSERT_LE(0, sfd);
	/* Every page is dirty again each round, so the stream never idles. */
	for (int i = 0; i < 50 && !ret; i++) {
		for (int pg = 0; pg < NPAGES; pg++)
			self->s[pg * self->ps] ^= 1;
		ret = kmig_send_full_round(sfd, 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	memcpy(copy, self->s, NPAGES * self->ps);
	EXPECT_TRUE(ret == -EPIPE || ret == -ECONNRESET) TH_LOG("ret %d", ret);
	ASSERT_EQ(0, kmig_session_stats(sfd, &st));
	EXPECT_EQ(KMIG_STATE_BROKEN, st.state);
	EXPECT_EQ(KMIG_ERR_SOCKET, st.error_reason);
	/* Later calls report the broken session. */
	EXPECT_EQ(-EPIPE, kmig_send_full_round(sfd, 0));
	EXPECT_EQ(-EPIPE, kmig_send_end(sfd));
	close(sfd);

	/* The failure changed nothing in the source. */
	EXPECT_EQ(0, memcmp(copy, self->s, NPAGES * self->ps));
	ASSERT_EQ(0, kmig_mem_stats(self->src, &ms));
	EXPECT_EQ(1, ms.tracking);

	/* Retry: everything again, to a new destination. */
	close(self->tx_sock);
	ASSERT_EQ(0, tcp_pair(&self->tx_sock, &self->rx_sock));
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_STOP, 0));
	ASSERT_EQ(0, kmig_track(self->src, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	sfd = stream_to_receiver(self, variant);
	ASSERT_LE(0, sfd);
	EXPECT_EQ(0, pages_differ(self));
	close(sfd);
	free(copy);
}

/* The source dies mid-stream: the destination reports a truncated stream. */
TEST_F(stream, source_killed)
{
	struct kmig_session_stats st;
	int rfd, ret, status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct kmig_send_round r;
		int sfd = kmig_session(self->dev, self->tx_sock, KMIG_ROLE_SEND,
				       variant->proto, variant->caps,
				       &self->src, 1, 0);

		if (sfd < 0)
			_exit(2);
		r = (struct kmig_send_round){
			.size = sizeof(r), .max_bytes = NPAGES * self->ps / 3,
		};
		kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, &r);
		raise(SIGKILL);
	}
	close(self->tx_sock);
	self->tx_sock = -1;
	rfd = kmig_session(self->dev, self->rx_sock, KMIG_ROLE_RECV,
			   variant->proto, variant->caps, &self->dst, 1, 0);
	ASSERT_LE(0, rfd);
	ret = kmig_recv_all(rfd, NULL, 0, NULL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_TRUE(ret == -EPIPE || ret == -ECONNRESET) TH_LOG("ret %d", ret);
	ASSERT_EQ(0, kmig_session_stats(rfd, &st));
	EXPECT_EQ(KMIG_STATE_BROKEN, st.state);
	EXPECT_TRUE(st.error_reason == KMIG_ERR_TRUNCATED ||
		    st.error_reason == KMIG_ERR_SOCKET);
	EXPECT_EQ(-EPIPE, kmig_recv_all(rfd, NULL, 0, NULL));
	close(rfd);
}

TEST_HARNESS_MAIN
