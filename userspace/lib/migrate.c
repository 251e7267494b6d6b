// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The migration driver: sessions from handshake results, and the source and
 * destination sides of a live migration.
 *
 * The switch-over (Documentation/handshake.rst, "Switch-over"). When both
 * sides offered KMIG_HS_CAP_COMMIT, after the stream's END:
 *
 *   source                          destination
 *   FINAL round, blob, END   ---->  stream complete, device state loaded
 *                            <----  READY (status 0, or why it cannot run)
 *   GO                       ---->  resumes the guest
 *                            <----  ACK (status of the resume)
 *
 * Each message is 16 bytes: a magic, a status (0 or a positive errno) and
 * a time in ns, little-endian. The source may resume its guest only while it
 * has not sent GO, and aborts the connection (RST) first, so that nothing
 * still queued reaches the destination; the destination resumes only after
 * GO. A source that sent GO and got no ACK, or a destination that sent READY
 * and got no GO, cannot know where the guest runs: it does not resume, and
 * returns KMIG_MIGRATE_OUTCOME_UNKNOWN for the operator to decide.
 *
 * A peer without the capability (libkmig before it) gets the old CONFIRM:
 * the destination resumes after END and answers "KMCF" with its status.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "kmig_internal.h"

#define KMIG_CONFIRM_MAGIC	"KMCF"
#define KMIG_READY_MAGIC	"KMRD"
#define KMIG_GO_MAGIC		"KMGO"
#define KMIG_ACK_MAGIC		"KMAK"
#define KMIG_CONFIRM_LEN	16

/* Defaults of struct kmig_migrate_params. */
#define KMIG_DEFAULT_DOWNTIME_MS	300
#define KMIG_DEFAULT_MAX_ROUNDS		30
#define KMIG_DEFAULT_CONFIRM_MS		10000
#define KMIG_DEFAULT_IO_TIMEOUT_MS	30000

/*
 * Testing only: KMIG_TEST_SWITCHOVER in the environment makes the driver
 * misbehave at one step of the switch-over, as a lossy network or a slow
 * host would: "drop-ready", "drop-go" and "drop-ack" leave that message
 * unsent (a lost message, or a partition from then on); "delay-resume=MS"
 * makes the destination wait that long before it resumes after GO.
 */
static bool test_fault(const char *what)
{
	const char *v = getenv("KMIG_TEST_SWITCHOVER");

	return v && !strncmp(v, what, strlen(what));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long xioctl(int fd, unsigned long cmd, void *arg)
{
	long ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

int kmig_session_open(int devfd, int sock, enum kmig_hs_role role,
		      const struct kmig_hs_result *res, const int *mem_fds,
		      unsigned int nr_mem)
{
	struct kmig_session_create c = {
		.size = sizeof(c),
		.sock_fd = sock,
		.nr_mem = nr_mem,
		.mem_fds = (uintptr_t)mem_fds,
	};
	unsigned int i;

	if (!res || res->status || !mem_fds || nr_mem != res->nr_regions)
		return -EINVAL;
	if (role == KMIG_HS_ROLE_SOURCE)
		c.role = KMIG_ROLE_SEND;
	else if (role == KMIG_HS_ROLE_DESTINATION)
		c.role = KMIG_ROLE_RECV;
	else
		return -EINVAL;
	for (i = 0; i < nr_mem; i++) {
		struct kmig_mem_stats st = { .size = sizeof(st) };

		if (xioctl(mem_fds[i], KMIG_MEM_GET_STATS, &st) < 0)
			return -EINVAL;
		if (st.pages * res->page_size != res->regions[i].size)
			return -EINVAL;
	}
	c.proto = res->version;
	c.caps = res->caps & ~KMIG_HS_CAPS_LIBRARY;
	return xioctl(devfd, KMIG_SESSION_CREATE, &c);
}

static int fail(struct kmig_migrate_result *res, int err, const char *fmt, ...)
	KMIG_HS_PRINTF(3, 4);

static int fail(struct kmig_migrate_result *res, int err, const char *fmt, ...)
{
	va_list ap;

	if (!res->message[0]) {
		va_start(ap, fmt);
		vsnprintf(res->message, sizeof(res->message), fmt, ap);
		va_end(ap);
	}
	res->status = err;
	return err;
}

static void session_totals(int sfd, struct kmig_migrate_result *res)
{
	struct kmig_session_stats st = { .size = sizeof(st) };

	if (xioctl(sfd, KMIG_SESSION_GET_STATS, &st) < 0)
		return;
	res->bytes = st.bytes;
	res->pages = st.pages;
	res->zero_pages = st.zero_pages;
}

/* Wait up to timeout_ms for exactly len bytes. */
static int read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	size_t have = 0;

	while (have < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (deadline - now) / 1000000 + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			continue;
		n = recv(fd, (char *)buf + have, len - have, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ECONNRESET;
		have += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(fd, (const char *)buf + done, len - done,
				 MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

/* A switch-over message: magic, status (positive errno or 0), time in ns. */
static int send_msg(int sock, const char *magic, int status, uint64_t ns)
{
	uint8_t c[KMIG_CONFIRM_LEN];
	uint32_t st = status < 0 ? -status : status;

	memcpy(c, magic, 4);
	for (int i = 0; i < 4; i++)
		c[4 + i] = st >> (8 * i);
	for (int i = 0; i < 8; i++)
		c[8 + i] = ns >> (8 * i);
	return write_full(sock, c, sizeof(c));
}

/*
 * Read the message with @magic within @timeout_ms. Returns 0 and its status
 * (as a negative errno, or 0) in *status; or -ETIMEDOUT, -ECONNRESET, or
 * -EPROTO for another magic.
 */
static int recv_msg(int sock, const char *magic, int timeout_ms, int *status,
		    uint64_t *ns)
{
	uint8_t c[KMIG_CONFIRM_LEN];
	int ret = read_full(sock, c, sizeof(c), timeout_ms);

	if (ret)
		return ret;
	if (memcmp(c, magic, 4))
		return -EPROTO;
	*status = -(int)(c[4] | c[5] << 8 | c[6] << 16 | (uint32_t)c[7] << 24);
	*ns = 0;
	for (int i = 0; i < 8; i++)
		*ns |= (uint64_t)c[8 + i] << (8 * i);
	return 0;
}

/*
 * Abort the connection before the source resumes its guest: a TCP socket
 * is disconnected (connect() to AF_UNSPEC sends a RST and drops what is
 * still queued, zero-copy pages included); any other socket is shut down.
 */
static void abort_stream(int sock)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };

	if (connect(sock, &sa, sizeof(sa)))
		shutdown(sock, SHUT_RDWR);
}

/* One whole round; fills the progress numbers of the round. */
static int send_round(int sfd, uint32_t flags, uint64_t bw_limit,
		      struct kmig_migrate_progress *p, uint64_t page_size)
{
	uint64_t bytes = 0, ns = 0;
	struct kmig_send_round r;
	long ret;

	do {
		memset(&r, 0, sizeof(r));
		r.size = sizeof(r);
		r.flags = flags;
		r.bw_limit = bw_limit;
		ret = xioctl(sfd, KMIG_SESSION_SEND_ROUND, &r);
		if (ret)
			return ret;
		bytes += r.bytes;
		ns += r.elapsed_ns;
	} while (!r.complete);

	p->round = r.round + 1;
	p->remaining_pages = r.remaining;
	p->bytes += bytes;
	p->pages += r.pages;
	p->zero_pages += r.zero_pages;
	if (ns)
		p->bandwidth = bytes * 1000000000ULL / ns;
	p->expected_downtime_ns = p->bandwidth ?
		r.remaining * page_size * 1000000000ULL / p->bandwidth :
		UINT64_MAX;
	return 0;
}

static int restart_tracking(const int *mem_fds, unsigned int nr)
{
	struct kmig_track t = { .size = sizeof(t) };
	unsigned int i;
	long ret;

	for (i = 0; i < nr; i++) {
		t.flags = 0;
		ret = xioctl(mem_fds[i], KMIG_MEM_TRACK_STOP, &t);
		if (ret && ret != -EINVAL)
			return ret;
		t.flags = KMIG_TRACK_ALL_DIRTY;
		ret = xioctl(mem_fds[i], KMIG_MEM_TRACK_START, &t);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * The caller's params, as far as its struct goes (sz), with the defaults
 * for what it leaves 0. -EINVAL for a size below the first version's or a
 * larger struct with non-zero bytes this library does not know (E2BIG).
 */
static int get_params(const struct kmig_migrate_params *params,
		      struct kmig_migrate_params *prm)
{
	memset(prm, 0, sizeof(*prm));
	prm->sz = sizeof(*prm);
	if (params) {
		const unsigned char *tail = (const void *)params;

		if (params->sz < offsetof(struct kmig_migrate_params,
					  io_timeout_ms))
			return -EINVAL;
		for (size_t i = sizeof(*prm); i < params->sz; i++)
			if (tail[i])
				return -E2BIG;
		memcpy(prm, params, params->sz < sizeof(*prm) ?
		       params->sz : sizeof(*prm));
		prm->sz = sizeof(*prm);
	}
	if (!prm->downtime_ms)
		prm->downtime_ms = KMIG_DEFAULT_DOWNTIME_MS;
	if (!prm->max_rounds)
		prm->max_rounds = KMIG_DEFAULT_MAX_ROUNDS;
	if (!prm->confirm_timeout_ms)
		prm->confirm_timeout_ms = KMIG_DEFAULT_CONFIRM_MS;
	if (!prm->io_timeout_ms)
		prm->io_timeout_ms = KMIG_DEFAULT_IO_TIMEOUT_MS;
	return 0;
}

/*
 * No stream stalls forever: a send or receive that makes no progress for
 * @ms fails (SO_SNDTIMEO, SO_RCVTIMEO: the module's session then breaks with
 * ETIMEDOUT), unacknowledged data times the connection out
 * (TCP_USER_TIMEOUT), and keepalive probes a silent peer. Socket options
 * that do not apply (AF_UNIX has no TCP level) are skipped.
 */
static void set_io_timeouts(int sock, uint32_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };
	int one = 1, idle = ms / 3000 ? ms / 3000 : 1, cnt = 3;
	unsigned int user = ms;

	setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (setsockopt(sock, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user)))
		return;
	setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
	setsockopt(sock, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/*
 * The source's side of the commit, after END, with the guest paused. Until
 * GO is out, any failure aborts the stream and resumes the guest here. After
 * GO the guest is the destination's; an ACK with an error says that it could
 * not run it (so it runs on here), and no ACK leaves the outcome unknown:
 * the guest stays paused.
 */
static int commit_source(int sock, const struct kmig_migrate_params *prm,
			 const struct kmig_migrate_ops *ops, void *opaque,
			 struct kmig_migrate_result *res, uint64_t t_pause)
{
	uint64_t ns;
	int st, ret;

	ret = recv_msg(sock, KMIG_READY_MAGIC, prm->confirm_timeout_ms, &st,
		       &ns);
	if (ret)
		fail(res, ret, "the destination did not say it is ready: %s",
		     strerror(-ret));
	else if (st)
		ret = fail(res, st, "the destination cannot run the guest: %s",
			   strerror(-st));
	else if (prm->before_go && (ret = prm->before_go(opaque)))
		fail(res, ret, "the step before GO failed: %s", strerror(-ret));
	else if (!test_fault("drop-go"))
		ret = send_msg(sock, KMIG_GO_MAGIC, 0, 0);
	if (ret) {
		/* No GO went out: the destination never resumes this guest. */
		fail(res, ret, "switch-over failed: %s", strerror(-ret));
		abort_stream(sock);
		if (ops->resume(opaque))
			fail(res, ret, "and the guest could not be resumed");
		return ret;
	}

	/* GO is out (or counted as lost): the source never resumes on its own. */
	ret = recv_msg(sock, KMIG_ACK_MAGIC, prm->confirm_timeout_ms, &st, &ns);
	if (ret)
		return fail(res, KMIG_MIGRATE_OUTCOME_UNKNOWN,
			    "outcome unknown: GO was sent and not acknowledged (%s); the guest stays paused here. Ask the destination: if it runs the guest, stop this one; if it reports the outcome unknown too, it never resumed, so resume here and discard it there",
			    strerror(-ret));
	if (st) {
		/* The destination got GO and could not resume: it will not. */
		fail(res, st, "the destination could not resume after GO: %s",
		     strerror(-st));
		abort_stream(sock);
		if (ops->resume(opaque))
			fail(res, st, "and the guest could not be resumed");
		return st;
	}
	res->downtime_ns = now_ns() - t_pause;
	return 0;
}

int kmig_migrate_source(int devfd, int sock, const struct kmig_hs_result *hs,
			const int *mem_fds, unsigned int nr_mem,
			const struct kmig_migrate_params *params,
			const struct kmig_migrate_ops *ops, void *opaque,
			struct kmig_migrate_result *res)
{
	struct kmig_migrate_params prm = { .sz = sizeof(prm) };
	struct kmig_migrate_progress p = { 0 };
	struct kmig_send_end end = { .size = sizeof(end) };
	uint64_t t0 = now_ns(), t_pause = 0, limit_ns;
	bool paused = false;
	void *state = NULL;
	size_t state_len = 0;
	int sfd = -1, ret, st;
	uint64_t ns;

	memset(res, 0, sizeof(*res));
	ret = get_params(params, &prm);
	if (ret)
		return fail(res, ret, "invalid params (sz %zu)", params->sz);
	limit_ns = (uint64_t)prm.downtime_ms * 1000000;
	if (!ops || !ops->pause || !ops->resume || !hs || hs->status)
		return fail(res, -EINVAL, "invalid arguments");
	res->version = hs->version;
	res->caps = hs->caps;
	if (prm.before_go && !(hs->caps & KMIG_HS_CAP_COMMIT))
		return fail(res, -EOPNOTSUPP,
			    "a step before GO needs the commit protocol, which the destination does not speak");
	if (ops->save_state && !(hs->caps & KMIG_CAP_BLOBS))
		return fail(res, -EOPNOTSUPP,
			    "device state needs the blobs capability, which the hosts did not agree on");

	ret = restart_tracking(mem_fds, nr_mem);
	if (ret)
		return fail(res, ret, "cannot start dirty tracking: %s",
			    strerror(-ret));
	set_io_timeouts(sock, prm.io_timeout_ms);
	sfd = kmig_session_open(devfd, sock, KMIG_HS_ROLE_SOURCE, hs, mem_fds,
				nr_mem);
	if (sfd < 0)
		return fail(res, sfd, "the module refused the session: %s",
			    strerror(-sfd));

	/* Pre-copy until the estimate fits, or the bounds say stop. */
	for (;;) {
		ret = send_round(sfd, 0, prm.bw_limit, &p, hs->page_size);
		if (ret) {
			fail(res, ret, "pre-copy round %u failed: %s", p.round,
			     strerror(-ret));
			goto out_close;
		}
		p.elapsed_ns = now_ns() - t0;
		if (ops->progress)
			ops->progress(opaque, &p);
		if (p.expected_downtime_ns <= limit_ns)
			break;
		if (p.round >= prm.max_rounds ||
		    (prm.max_time_ms &&
		     p.elapsed_ns >= (uint64_t)prm.max_time_ms * 1000000)) {
			if (prm.policy != KMIG_MIGRATE_FORCE) {
				ret = fail(res, -ETIMEDOUT,
					   "did not converge in %u rounds: %llu pages left, expected downtime %llu ms over the %u ms limit",
					   p.round,
					   (unsigned long long)p.remaining_pages,
					   (unsigned long long)(p.expected_downtime_ns / 1000000),
					   prm.downtime_ms);
				goto out_close;
			}
			res->forced = 1;
			break;
		}
	}

	/* Switch over. */
	res->expected_downtime_ns = p.expected_downtime_ns;
	t_pause = now_ns();
	ret = ops->pause(opaque);
	if (ret) {
		fail(res, ret, "could not pause the guest: %s", strerror(-ret));
		goto out_close;
	}
	paused = true;
	ret = send_round(sfd, KMIG_ROUND_FINAL, 0, &p, hs->page_size);
	if (ret) {
		fail(res, ret, "final round failed: %s", strerror(-ret));
		goto out_resume;
	}
	if (ops->save_state) {
		state = malloc(KMIG_BLOB_MAX);
		if (!state) {
			ret = fail(res, -ENOMEM, "no memory for device state");
			goto out_resume;
		}
		ret = ops->save_state(opaque, state, KMIG_BLOB_MAX, &state_len);
		if (!ret) {
			struct kmig_send_blob b = {
				.size = sizeof(b), .tag = 1,
				.data = (uintptr_t)state, .len = state_len,
			};

			ret = xioctl(sfd, KMIG_SESSION_SEND_BLOB, &b);
		}
		if (ret) {
			fail(res, ret, "device state not sent: %s",
			     strerror(-ret));
			goto out_resume;
		}
	}
	ret = xioctl(sfd, KMIG_SESSION_SEND_END, &end);
	if (ret) {
		fail(res, ret, "end of stream not sent: %s", strerror(-ret));
		goto out_resume;
	}
	p.final = 1;
	p.elapsed_ns = now_ns() - t0;
	if (ops->progress)
		ops->progress(opaque, &p);

	if (hs->caps & KMIG_HS_CAP_COMMIT) {
		ret = commit_source(sock, &prm, ops, opaque, res, t_pause);
		goto out_close;
	}

	/* A peer without the commit protocol: it resumes, then confirms. */
	ret = recv_msg(sock, KMIG_CONFIRM_MAGIC, prm.confirm_timeout_ms, &st,
		       &ns);
	if (ret) {
		fail(res, ret, "no confirmation from the destination: %s",
		     strerror(-ret));
		goto out_resume;
	}
	if (st) {
		ret = fail(res, st, "the destination could not resume: %s",
			   strerror(-st));
		goto out_resume;
	}
	res->downtime_ns = now_ns() - t_pause;
	goto out_close;

out_resume:
	/* Nothing was given away: abort the stream, the source guest runs on. */
	abort_stream(sock);
	if (paused && ops->resume(opaque))
		fail(res, ret, "and the guest could not be resumed");
out_close:
	res->rounds = p.round;
	session_totals(sfd, res);
	free(state);
	close(sfd);
	res->total_ns = now_ns() - t0;
	res->status = ret;
	return ret;
}

/*
 * The destination's side of the commit, after END: READY with the status of
 * the load, then the guest runs only on GO. Without GO, it does not run,
 * and nobody knows whether the source resumed (it did if it never sent GO).
 */
static int commit_destination(int sock, const struct kmig_migrate_params *prm,
			      const struct kmig_migrate_ops *ops,
			      void *opaque, struct kmig_migrate_result *res,
			      int loaded, uint64_t t_end)
{
	const char *delay = getenv("KMIG_TEST_SWITCHOVER");
	uint64_t ns;
	int st, ret;

	/* A READY that cannot be sent whole is never a commit: no GO follows. */
	if (!test_fault("drop-ready") &&
	    send_msg(sock, KMIG_READY_MAGIC, loaded, now_ns() - t_end) && !loaded)
		return fail(res, -ECONNRESET,
			    "READY could not be sent: the source keeps its guest, this one is discarded");
	if (loaded)
		return loaded;	/* the source resumes its own guest */

	ret = recv_msg(sock, KMIG_GO_MAGIC, prm->confirm_timeout_ms, &st, &ns);
	if (ret)
		return fail(res, KMIG_MIGRATE_OUTCOME_UNKNOWN,
			    "outcome unknown: READY was sent and no GO came (%s); the guest is not resumed here. Ask the source: if it runs its guest (it does unless it sent GO), discard this one; if it reports the outcome unknown too, resume the guest here",
			    strerror(-ret));
	if (delay && !strncmp(delay, "delay-resume=", 13))
		usleep(strtoul(delay + 13, NULL, 10) * 1000);
	ret = ops->resume(opaque);
	if (ret)
		fail(res, ret, "guest not resumed after GO: %s", strerror(-ret));
	if (!test_fault("drop-ack") &&
	    send_msg(sock, KMIG_ACK_MAGIC, ret, now_ns() - t_end) && !ret)
		fail(res, 0, "resumed, but the source did not get the acknowledgement; it keeps its guest paused");
	return ret;
}

int kmig_migrate_destination(int devfd, int sock,
			     const struct kmig_hs_result *hs,
			     const int *mem_fds, unsigned int nr_mem,
			     const struct kmig_migrate_ops *ops, void *opaque,
			     struct kmig_migrate_result *res)
{
	return kmig_migrate_destination_params(devfd, sock, hs, mem_fds, nr_mem,
					       NULL, ops, opaque, res);
}

int kmig_migrate_destination_params(int devfd, int sock,
				    const struct kmig_hs_result *hs,
				    const int *mem_fds, unsigned int nr_mem,
				    const struct kmig_migrate_params *params,
				    const struct kmig_migrate_ops *ops,
				    void *opaque,
				    struct kmig_migrate_result *res)
{
	struct kmig_migrate_params prm;
	struct kmig_migrate_progress p = { 0 };
	uint64_t t0 = now_ns(), t_end;
	size_t cap = 1 << 20, state_len = 0;
	void *state = malloc(cap);
	int sfd, ret;

	memset(res, 0, sizeof(*res));
	if (!state)
		return fail(res, -ENOMEM, "no memory");
	if (!ops || !ops->resume || !hs || hs->status) {
		free(state);
		return fail(res, -EINVAL, "invalid arguments");
	}
	ret = get_params(params, &prm);
	if (ret) {
		free(state);
		return fail(res, ret, "invalid params (sz %zu)", params->sz);
	}
	res->version = hs->version;
	res->caps = hs->caps;
	set_io_timeouts(sock, prm.io_timeout_ms);
	sfd = kmig_session_open(devfd, sock, KMIG_HS_ROLE_DESTINATION, hs,
				mem_fds, nr_mem);
	if (sfd < 0) {
		free(state);
		return fail(res, sfd, "the module refused the session: %s",
			    strerror(-sfd));
	}

	for (;;) {
		struct kmig_recv ev = {
			.size = sizeof(ev),
			.blob_buf = (uintptr_t)state,
			.blob_buf_len = cap,
		};

		ret = xioctl(sfd, KMIG_SESSION_RECV, &ev);
		if (ret == -ENOBUFS) {
			void *bigger = realloc(state, ev.blob_len);

			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			state = bigger;
			cap = ev.blob_len;
			continue;
		}
		if (ret)
			break;
		p.bytes = ev.bytes;
		p.pages = ev.pages;
		p.zero_pages = ev.zero_pages;
		if (ev.event == KMIG_EVENT_ROUND) {
			p.round = ev.round + 1;
			p.final = !!(ev.round_flags & KMIG_REC_F_FINAL);
			p.elapsed_ns = now_ns() - t0;
			if (ops->progress)
				ops->progress(opaque, &p);
		} else if (ev.event == KMIG_EVENT_BLOB) {
			state_len = ev.blob_len;
		} else {
			/* The module refuses END without it; check anyway. */
			if (!p.final)
				ret = -EPROTO;
			break;
		}
	}
	res->rounds = p.round;
	session_totals(sfd, res);
	if (ret) {
		struct kmig_session_stats st = { .size = sizeof(st) };

		xioctl(sfd, KMIG_SESSION_GET_STATS, &st);
		fail(res, ret,
		     "incomplete stream, the guest is discarded: %s (reason %u at byte %llu)",
		     strerror(-ret), st.error_reason,
		     (unsigned long long)st.error_offset);
		goto out;
	}

	/* The stream is complete: now, and only now, the guest may run. */
	t_end = now_ns();
	if (ops->load_state)
		ret = ops->load_state(opaque, state, state_len);
	if (ret)
		fail(res, ret, "device state not loaded: %s", strerror(-ret));
	if (hs->caps & KMIG_HS_CAP_COMMIT) {
		ret = commit_destination(sock, &prm, ops, opaque, res, ret,
					 t_end);
		goto out;
	}
	if (!ret && (ret = ops->resume(opaque)))
		fail(res, ret, "guest not resumed: %s", strerror(-ret));
	if (send_msg(sock, KMIG_CONFIRM_MAGIC, ret, now_ns() - t_end) && !ret)
		ret = fail(res, -ECONNRESET,
			   "resumed, but the source did not get the confirmation");
out:
	close(sfd);
	free(state);
	res->total_ns = now_ns() - t0;
	res->status = ret;
	return ret;
}
