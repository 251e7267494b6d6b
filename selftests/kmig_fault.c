// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection: every allocation on kmig's paths fails once, in turn.
 *
 * The kernel's per-task fail-nth (/proc/thread-self/fail-nth, from
 * CONFIG_FAULT_INJECTION) fails the Nth failslab or fail_page_alloc check
 * this thread makes, and nothing in any other task. For each operation the
 * test runs N = 1, 2, ... until the operation completes without consuming
 * the injection: then every allocation point it reaches has failed once.
 *
 * After each injected failure the operation must have returned an errno
 * from its documented set, the state must be what it was before (the test
 * checks the observable part), and a retry without injection must work.
 * A run under the debug kernel adds KASAN, lockdep and a kmemleak scan.
 * Without fault injection in the kernel, the tests SKIP.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		16
#define MAX_SWEEP	4000
#define DEBUGFS		"/sys/kernel/debug/"

struct fcase {
	int dev;
	long ps;
	int mem, dst;			/* source and destination memory */
	unsigned char *map, *dmap;
	int sock[2];
	int sfd;
	pthread_t peer;
	bool peer_running;
	int peer_ret;
	unsigned char *stream;		/* a recorded stream (recv case) */
	size_t stream_len;
	unsigned char *ref;		/* ... and the memory it carries */
};

/* One operation under test. op() returns 0 or -errno. */
struct fault_op {
	const char *name;
	int (*prepare)(struct fcase *c);
	int (*op)(struct fcase *c);
	/* errnos a failure may report */
	int errs[4];
	/* checks after a failure (and the retry); after a success */
	int (*after_fail)(struct fcase *c, int err);
	int (*after_ok)(struct fcase *c);
	/*
	 * Whether some injected failure must fail the call. The first fault
	 * of a page through GUP does not always reach kmig's allocation
	 * through the same task's counter, so there it is only counted.
	 */
	bool must_fail;
};

static int fail(const char *what, long got)
{
	fprintf(stderr, "# fault: %s (got %ld)\n", what, got);
	return -1;
}

/*
 * failslab and fail_page_alloc, quiet, reaching GFP_KERNEL and highmem
 * allocations of any order, never firing by probability: only fail-nth.
 */
static int fi_configure(void)
{
	static const char *const attrs[][2] = {
		{ "failslab/probability", "0" },
		{ "failslab/verbose", "0" },
		{ "failslab/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/probability", "0" },
		{ "fail_page_alloc/verbose", "0" },
		{ "fail_page_alloc/ignore-gfp-wait", "N" },
		{ "fail_page_alloc/ignore-gfp-highmem", "N" },
		{ "fail_page_alloc/min-order", "0" },
	};
	char path[128];
	unsigned int i;
	int ret;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		const char *val = attrs[i][1];

		/* KMIG_FAULT_VERBOSE=2: the kernel logs each injected failure */
		if (strstr(attrs[i][0], "verbose") && getenv("KMIG_FAULT_VERBOSE"))
			val = getenv("KMIG_FAULT_VERBOSE");
		snprintf(path, sizeof(path), DEBUGFS "%s", attrs[i][0]);
		ret = kmig_write_file(path, val);
		if (ret)
			return ret;
	}
	return 0;
}

/* fail-nth of this thread: arm it, and read (and disarm) what is left. */
static int nth_fd = -1;

static void fi_arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(nth_fd, buf, len, 0) != len)
		abort();
}

static int fi_left(void)
{
	char buf[16] = "";
	int left;

	if (pread(nth_fd, buf, sizeof(buf) - 1, 0) <= 0)
		abort();
	left = atoi(buf);
	fi_arm(0);
	return left;
}

static void fill(unsigned char *p, long ps, unsigned int seed)
{
	for (int i = 0; i < NPAGES; i++) {
		/* every fourth page stays zero, for the zero-page records */
		if (i % 4 == 3)
			continue;
		for (long k = 0; k < ps; k += 64)
			p[i * ps + k] = (unsigned char)(seed + i * 7 + k);
	}
}

static int new_mem(struct fcase *c, int *fd, unsigned char **map)
{
	*fd = kmig_mem_create(c->dev, NPAGES * c->ps);
	if (*fd < 0)
		return fail("create memory", *fd);
	*map = mmap(NULL, NPAGES * c->ps, PROT_READ | PROT_WRITE, MAP_SHARED,
		    *fd, 0);
	if (*map == MAP_FAILED)
		return fail("mmap memory", errno);
	return 0;
}

/* ---- create ---- */

static int op_create(struct fcase *c)
{
	c->mem = kmig_mem_create(c->dev, NPAGES * c->ps);
	return c->mem < 0 ? c->mem : 0;
}

static int create_retry(struct fcase *c, int err)
{
	(void)err;
	c->mem = -1;
	return op_create(c) ? fail("retry create", c->mem) : 0;
}

static int create_ok(struct fcase *c)
{
	struct kmig_mem_stats st;

	if (kmig_mem_stats(c->mem, &st) || st.pages != NPAGES)
		return fail("stats of the new memory", st.pages);
	return 0;
}

/* ---- first fault of a page, through GUP (a user fault would retry) ---- */

static int prep_mapped(struct fcase *c)
{
	return new_mem(c, &c->mem, &c->map);
}

static int op_fault(struct fcase *c)
{
	unsigned char buf[4096];
	struct iovec local = { buf, sizeof(buf) };
	struct iovec remote = { c->map + 5 * c->ps, sizeof(buf) };
	ssize_t n;

	memset(buf, 0x5a, sizeof(buf));
	n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return n == sizeof(buf) ? 0 : -EIO;
}

static int fault_check(struct fcase *c)
{
	for (long i = 0; i < NPAGES * c->ps; i++) {
		bool in = i >= 5 * c->ps && i < 5 * c->ps + 4096;

		if (c->map[i] != (in ? 0x5a : 0))
			return fail("memory after the fault", i);
	}
	return 0;
}

static int fault_retry(struct fcase *c, int err)
{
	(void)err;
	/* nothing was written by the failed call */
	for (long i = 0; i < NPAGES * c->ps; i++)
		if (c->map[i])
			return fail("memory written by a failed fault", i);
	if (op_fault(c))
		return fail("retry the fault", 0);
	return fault_check(c);
}

/* ---- start tracking ---- */

static int prep_written(struct fcase *c)
{
	if (new_mem(c, &c->mem, &c->map))
		return -1;
	fill(c->map, c->ps, 1);
	return 0;
}

static int op_track_start(struct fcase *c)
{
	return kmig_track(c->mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY);
}

static int track_ok(struct fcase *c)
{
	__u64 bm[1] = { 0 };
	long n = kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0);

	if (n != NPAGES || bm[0] != (1ULL << NPAGES) - 1)
		return fail("harvest after tracking started", n);
	/* and the re-arm works: one write, one page */
	c->map[2 * c->ps] ^= 1;
	n = kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0);
	if (n != 1 || bm[0] != 1ULL << 2)
		return fail("harvest after one write", n);
	return 0;
}

static int track_retry(struct fcase *c, int err)
{
	__u64 bm[1];
	long n;

	(void)err;
	n = kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0);
	if (n != -EINVAL)
		return fail("harvest after a failed start (tracking is on?)", n);
	n = op_track_start(c);
	if (n)
		return fail("retry the start", n);
	return track_ok(c);
}

/* ---- harvest: a failed harvest loses no dirty bit ---- */

static int prep_tracking(struct fcase *c)
{
	__u64 bm[1];

	if (prep_written(c))
		return -1;
	if (kmig_track(c->mem, KMIG_MEM_TRACK_START, 0))
		return fail("start tracking", errno);
	if (kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0) != 0)
		return fail("first harvest", 0);
	for (int i = 1; i < NPAGES; i += 2)
		c->map[i * c->ps + 1] ^= 0xff;
	return 0;
}

#define ODD_PAGES	0xaaaaULL

static int op_harvest(struct fcase *c)
{
	__u64 bm[1] = { 0 };
	long n = kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0);

	if (n < 0)
		return n;
	if (n != NPAGES / 2 || bm[0] != ODD_PAGES)
		return fail("harvest result", n), -EIO;
	return 0;
}

static int harvest_ok(struct fcase *c)
{
	__u64 bm[1] = { 0 };
	long n;

	c->map[4 * c->ps] ^= 1;
	n = kmig_harvest_bitmap(c->mem, 0, NPAGES, bm, 0);
	if (n != 1 || bm[0] != 1ULL << 4)
		return fail("harvest after one more write", n);
	return 0;
}

static int harvest_retry(struct fcase *c, int err)
{
	(void)err;
	/* every dirty page is still reported */
	if (op_harvest(c))
		return -1;
	return harvest_ok(c);
}

/* ---- session attach ---- */

static int prep_socket(struct fcase *c)
{
	if (prep_written(c))
		return -1;
	if (kmig_track(c->mem, KMIG_MEM_TRACK_START, 0))
		return fail("start tracking", errno);
	if (tcp_pair(&c->sock[0], &c->sock[1]))
		return fail("tcp pair", errno);
	return 0;
}

static int op_session(struct fcase *c)
{
	c->sfd = kmig_session(c->dev, c->sock[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			      KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM, &c->mem,
			      1, 0);
	return c->sfd < 0 ? c->sfd : 0;
}

static int session_ok(struct fcase *c)
{
	struct kmig_session_stats st;

	if (kmig_session_stats(c->sfd, &st) || st.state != KMIG_STATE_IDLE ||
	    st.proto != KMIG_PROTO_V2)
		return fail("stats of the new session", st.state);
	return 0;
}

static int session_retry(struct fcase *c, int err)
{
	char b = 'k';

	(void)err;
	c->sfd = -1;
	/* the socket is still the caller's, and still works */
	if (write(c->sock[0], &b, 1) != 1 || read(c->sock[1], &b, 1) != 1 ||
	    b != 'k')
		return fail("the socket after a failed attach", errno);
	if (op_session(c))
		return fail("retry the attach", c->sfd);
	return session_ok(c);
}

/* ---- a whole migration, used to check that the source is intact ---- */

struct recv_job {
	int sock, mem;
};

static void *recv_thread(void *arg)
{
	struct recv_job *j = arg;
	int dev = open(KMIG_DEV, O_RDWR);
	char blob[256];
	long ret;
	int sfd;

	sfd = kmig_session(dev, j->sock, KMIG_ROLE_RECV, KMIG_PROTO_V2,
			   KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM |
			   KMIG_CAP_BLOBS, &j->mem, 1, 0);
	ret = sfd < 0 ? sfd : kmig_recv_all(sfd, blob, sizeof(blob), NULL);
	if (sfd >= 0)
		close(sfd);
	close(dev);
	return (void *)ret;
}

static int start_peer(struct fcase *c, void *(*fn)(void *), void *arg)
{
	if (pthread_create(&c->peer, NULL, fn, arg))
		return fail("start the peer thread", errno);
	c->peer_running = true;
	return 0;
}

static int join_peer(struct fcase *c)
{
	void *ret;

	pthread_join(c->peer, &ret);
	c->peer_running = false;
	return (int)(long)ret;
}

static int send_all(int sfd)
{
	int ret = kmig_send_full_round(sfd, KMIG_ROUND_FINAL);

	return ret ? ret : kmig_send_end(sfd);
}

/* Migrate c->mem (tracking, all pages dirty) to a fresh memory; compare. */
static int migrate_check(struct fcase *c)
{
	static struct recv_job job;
	unsigned char *dmap;
	int sv[2], dst, sfd, ret, rret;

	if (new_mem(c, &dst, &dmap))
		return -1;
	if (unix_pair(&sv[0], &sv[1]))
		return fail("unix pair", errno);
	job.sock = sv[1];
	job.mem = dst;
	if (start_peer(c, recv_thread, &job))
		return -1;
	sfd = kmig_session(c->dev, sv[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM |
			   KMIG_CAP_BLOBS, &c->mem, 1, 0);
	ret = sfd < 0 ? sfd : send_all(sfd);
	if (sfd >= 0)
		close(sfd);
	close(sv[0]);
	rret = join_peer(c);
	close(sv[1]);
	if (ret || rret)
		return fail("migration", ret ? ret : rret);
	ret = memcmp(c->map, dmap, NPAGES * c->ps);
	munmap(dmap, NPAGES * c->ps);
	close(dst);
	return ret ? fail("destination differs from source", ret) : 0;
}

/* ---- send: the destination never completes from a broken stream ---- */

static struct recv_job send_job;

static int prep_sender(struct fcase *c)
{
	if (prep_written(c))
		return -1;
	if (kmig_track(c->mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY))
		return fail("start tracking", errno);
	if (new_mem(c, &c->dst, &c->dmap))
		return -1;
	if (unix_pair(&c->sock[0], &c->sock[1]))
		return fail("unix pair", errno);
	c->sfd = kmig_session(c->dev, c->sock[0], KMIG_ROLE_SEND,
			      KMIG_PROTO_V2, KMIG_CAP_ZERO_PAGES |
			      KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS, &c->mem, 1, 0);
	if (c->sfd < 0)
		return fail("send session", c->sfd);
	send_job.sock = c->sock[1];
	send_job.mem = c->dst;
	return start_peer(c, recv_thread, &send_job);
}

static int op_send(struct fcase *c)
{
	static const char blob[100] = "device state";
	int ret = kmig_send_full_round(c->sfd, KMIG_ROUND_FINAL);

	if (!ret)
		ret = kmig_send_blob(c->sfd, 1, blob, sizeof(blob));
	return ret ? ret : kmig_send_end(c->sfd);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int send_ok(struct fcase *c)
{
	int rret;

	close_fd(&c->sfd);
	close_fd(&c->sock[0]);
	rret = join_peer(c);
	if (rret)
		return fail("the receiver of a complete stream", rret);
	if (memcmp(c->map, c->dmap, NPAGES * c->ps))
		return fail("destination differs from source", 0);
	return 0;
}

/* What is left of op_send after a call failed without breaking the session. */
static int send_rest(struct fcase *c, __u32 state)
{
	static const char blob[100] = "device state";
	int ret = 0;

	if (state == KMIG_STATE_STREAMING)
		ret = kmig_send_full_round(c->sfd, KMIG_ROUND_FINAL);
	if (!ret)
		ret = kmig_send_blob(c->sfd, 1, blob, sizeof(blob));
	return ret ? ret : kmig_send_end(c->sfd);
}

static int send_retry(struct fcase *c, int err)
{
	struct kmig_session_stats st;
	int rret;

	if (kmig_session_stats(c->sfd, &st))
		return fail("stats", errno);
	if (st.state != KMIG_STATE_BROKEN) {
		/*
		 * Nothing went on the wire (a blob's buffer): the session is
		 * intact and the same call works again.
		 */
		if (st.error || send_rest(c, st.state))
			return fail("continue an intact session", st.state);
		return send_ok(c);
	}
	if (st.error != err)
		return fail("the failed session's error", st.error);
	close_fd(&c->sfd);
	close_fd(&c->sock[0]);
	rret = join_peer(c);
	if (!rret)
		return fail("the receiver completed a broken stream", rret);
	/* The source is intact: a second attempt moves all of it. */
	if (kmig_track(c->mem, KMIG_MEM_TRACK_STOP, 0) ||
	    kmig_track(c->mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY))
		return fail("restart tracking", errno);
	return migrate_check(c);
}

/* ---- receive ---- */

struct replay_job {
	int sock;
	const unsigned char *p;
	size_t len;
};

static void *replay_thread(void *arg)
{
	struct replay_job *j = arg;
	size_t off = 0;

	while (off < j->len) {
		ssize_t n = send(j->sock, j->p + off, j->len - off,
				 MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += n;
	}
	shutdown(j->sock, SHUT_WR);
	return NULL;
}

static void *drain_thread(void *arg)
{
	struct fcase *c = arg;
	size_t cap = 1 << 20;
	ssize_t n;

	c->stream = malloc(cap);
	while (c->stream && (n = read(c->sock[1], c->stream + c->stream_len,
				      cap - c->stream_len)) > 0) {
		c->stream_len += n;
		if (c->stream_len == cap)
			c->stream = realloc(c->stream, cap *= 2);
	}
	return NULL;
}

/* Record, once, the stream of a 16-page memory with a blob. */
static int record_stream(struct fcase *c)
{
	static const char blob[100] = "device state";
	int sfd, ret;

	if (prep_written(c))
		return -1;
	if (kmig_track(c->mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY))
		return fail("start tracking", errno);
	if (unix_pair(&c->sock[0], &c->sock[1]))
		return fail("unix pair", errno);
	if (start_peer(c, drain_thread, c))
		return -1;
	sfd = kmig_session(c->dev, c->sock[0], KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM |
			   KMIG_CAP_BLOBS, &c->mem, 1, 0);
	ret = sfd < 0 ? sfd : kmig_send_full_round(sfd, KMIG_ROUND_FINAL);
	if (!ret)
		ret = kmig_send_blob(sfd, 7, blob, sizeof(blob));
	if (!ret)
		ret = kmig_send_end(sfd);
	close(sfd);
	close_fd(&c->sock[0]);
	join_peer(c);
	close_fd(&c->sock[1]);
	if (ret || !c->stream)
		return fail("record a stream", ret);
	c->ref = malloc(NPAGES * c->ps);
	if (!c->ref)
		return fail("allocate", 0);
	memcpy(c->ref, c->map, NPAGES * c->ps);
	return 0;
}

static struct replay_job replay;

static int prep_receiver(struct fcase *c)
{
	if (new_mem(c, &c->dst, &c->dmap))
		return -1;
	if (unix_pair(&c->sock[0], &c->sock[1]))
		return fail("unix pair", errno);
	c->sfd = kmig_session(c->dev, c->sock[1], KMIG_ROLE_RECV,
			      KMIG_PROTO_V2, KMIG_CAP_ZERO_PAGES |
			      KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS, &c->dst, 1, 0);
	if (c->sfd < 0)
		return fail("receive session", c->sfd);
	replay.sock = c->sock[0];
	replay.p = c->stream;
	replay.len = c->stream_len;
	return start_peer(c, replay_thread, &replay);
}

static int op_recv(struct fcase *c)
{
	char blob[128];
	__u64 got = 0;
	int ret = kmig_recv_all(c->sfd, blob, sizeof(blob), &got);

	if (!ret && got != 100)
		return -EIO;
	return ret;
}

static int recv_ok(struct fcase *c)
{
	close_fd(&c->sfd);
	close_fd(&c->sock[1]);
	join_peer(c);
	if (memcmp(c->ref, c->dmap, NPAGES * c->ps))
		return fail("destination differs from the recorded source", 0);
	return 0;
}

static int recv_retry(struct fcase *c, int err)
{
	struct kmig_session_stats st;

	if (kmig_session_stats(c->sfd, &st) || st.state != KMIG_STATE_BROKEN ||
	    st.error != err)
		return fail("the failed session's state", st.state);
	close_fd(&c->sfd);
	close_fd(&c->sock[1]);
	join_peer(c);
	close_fd(&c->sock[0]);
	/* a new session into the same memory gets all of it */
	if (prep_receiver(c))
		return -1;
	if (op_recv(c))
		return fail("receive again", 0);
	return recv_ok(c);
}

static const struct fault_op ops[] = {
	{ "create", NULL, op_create, { ENOMEM, ENFILE, EMFILE },
	  create_retry, create_ok, true },
	{ "fault", prep_mapped, op_fault, { ENOMEM, EFAULT },
	  fault_retry, fault_check, false },
	{ "track_start", prep_written, op_track_start, { ENOMEM },
	  track_retry, track_ok, true },
	{ "harvest", prep_tracking, op_harvest, { ENOMEM },
	  harvest_retry, harvest_ok, true },
	{ "session", prep_socket, op_session, { ENOMEM, ENFILE, EMFILE },
	  session_retry, session_ok, true },
	/* the socket's own errors pass through (unix: ENOBUFS) */
	{ "send", prep_sender, op_send, { ENOMEM, ENOBUFS },
	  send_retry, send_ok, true },
	{ "recv", prep_receiver, op_recv, { ENOMEM },
	  recv_retry, recv_ok, true },
};

static void reset_case(struct fcase *c)
{
	/* a session holds its socket: close it first, so the peer sees EOF */
	close_fd(&c->sfd);
	if (c->peer_running) {
		close_fd(&c->sock[0]);
		close_fd(&c->sock[1]);
		join_peer(c);
	}
	close_fd(&c->sfd);
	close_fd(&c->sock[0]);
	close_fd(&c->sock[1]);
	if (c->map && c->map != MAP_FAILED)
		munmap(c->map, NPAGES * c->ps);
	if (c->dmap && c->dmap != MAP_FAILED)
		munmap(c->dmap, NPAGES * c->ps);
	close_fd(&c->mem);
	close_fd(&c->dst);
	c->map = c->dmap = NULL;
}

struct sweep {
	int points;	/* allocation points reached */
	int failed;	/* ... whose failure failed the operation */
	int absorbed;	/* ... that the operation survived */
};

/*
 * Fail each allocation point of @o in turn. Returns 0, or -1 after printing
 * what went wrong.
 */
static int sweep(struct fcase *c, const struct fault_op *o, struct sweep *s)
{
	int n, ret, left;

	memset(s, 0, sizeof(*s));
	for (n = 1; n <= MAX_SWEEP; n++) {
		bool allowed = false;

		if (o->prepare && o->prepare(c)) {
			fprintf(stderr, "# fault: %s: prepare failed at %d\n",
				o->name, n);
			return -1;
		}
		fi_arm(n);
		ret = o->op(c);
		left = fi_left();

		if (left) {
			/* nothing was injected: every point has been seen */
			if (ret)
				return fail("the operation without injection",
					    ret);
			ret = o->after_ok(c);
			reset_case(c);
			return ret;
		}
		s->points++;
		if (!ret) {
			s->absorbed++;
			if (o->after_ok(c))
				return fail("after an absorbed failure, at", n);
		} else {
			for (unsigned int i = 0; i < 4 && o->errs[i]; i++)
				allowed |= -ret == o->errs[i];
			if (!allowed) {
				fprintf(stderr, "# fault: %s: point %d: %s is not a documented error\n",
					o->name, n, strerror(-ret));
				return -1;
			}
			s->failed++;
			if (o->after_fail(c, ret)) {
				fprintf(stderr, "# fault: %s: point %d failed with %s, and then the state was wrong\n",
					o->name, n, strerror(-ret));
				return -1;
			}
		}
		reset_case(c);
	}
	return fail("more allocation points than the sweep allows", n);
}

FIXTURE(fault) {
	struct fcase c;
};

FIXTURE_SETUP(fault)
{
	memset(&self->c, 0, sizeof(self->c));
	self->c.mem = self->c.dst = self->c.sfd = -1;
	self->c.sock[0] = self->c.sock[1] = -1;
	self->c.ps = page_size();
	if (access(DEBUGFS "failslab", F_OK) ||
	    access(DEBUGFS "fail_page_alloc", F_OK))
		SETUP_SKIP("no failslab/fail_page_alloc in this kernel (make test KERNEL=debug)");
	ASSERT_EQ(0, fi_configure());
	if (nth_fd < 0)
		nth_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	ASSERT_LE(0, nth_fd);
	self->c.dev = open(KMIG_DEV, O_RDWR);
	ASSERT_LE(0, self->c.dev);
	signal(SIGPIPE, SIG_IGN);
}

FIXTURE_TEARDOWN(fault)
{
	reset_case(&self->c);
	free(self->c.stream);
	free(self->c.ref);
	close(self->c.dev);
}

static void run_op(struct __test_metadata *_metadata, struct fcase *c,
		   const char *name)
{
	const struct fault_op *o = NULL;
	struct sweep s;
	int splats = kmig_dmesg_splats();

	for (unsigned int i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(ops[i].name, name))
			o = &ops[i];
	ASSERT_NE(NULL, o);
	ASSERT_EQ(0, sweep(c, o, &s));
	TH_LOG("%s: %d allocation points failed in turn: %d failed the call cleanly, %d absorbed",
	       name, s.points, s.failed, s.absorbed);
	/* The sweep must have reached the operation's allocations. */
	ASSERT_LT(0, s.points);
	if (o->must_fail)
		ASSERT_LT(0, s.failed);
	ASSERT_EQ(splats, kmig_dmesg_splats());
}

TEST_F_TIMEOUT(fault, fault, 300) { run_op(_metadata, &self->c, "fault"); }
TEST_F_TIMEOUT(fault, create, 300) { run_op(_metadata, &self->c, "create"); }
TEST_F_TIMEOUT(fault, track_start, 300)
{
	run_op(_metadata, &self->c, "track_start");
}

TEST_F_TIMEOUT(fault, harvest, 300)
{
	run_op(_metadata, &self->c, "harvest");
}

TEST_F_TIMEOUT(fault, session, 300)
{
	run_op(_metadata, &self->c, "session");
}

TEST_F_TIMEOUT(fault, send, 600) { run_op(_metadata, &self->c, "send"); }

TEST_F_TIMEOUT(fault, recv, 600)
{
	ASSERT_EQ(0, record_stream(&self->c));
	reset_case(&self->c);
	run_op(_metadata, &self->c, "recv");
}

TEST_HARNESS_MAIN
