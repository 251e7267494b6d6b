// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The migration driver: sessions from handshake results, and the source and
 * destination sides of a live migration.
 *
 * After the END record the destination answers on the same socket with a
 * 16-byte confirmation (Documentation/handshake.rst, "Completion"):
 *
 *   offset 0  4  magic "KMCF"
 *   offset 4  4  status: 0 = the guest runs here now, else a positive errno
 *   offset 8  8  destination time from END to resume, ns
 *
 * The source gives up its guest only after a confirmation with status 0.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kmig_internal.h"

#define KMIG_CONFIRM_MAGIC	"KMCF"
#define KMIG_CONFIRM_LEN	16

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
	c.caps = res->caps;
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
	uint8_t confirm[KMIG_CONFIRM_LEN];
	bool paused = false;
	void *state = NULL;
	size_t state_len = 0;
	int sfd = -1, ret;

	memset(res, 0, sizeof(*res));
	if (params)
		memcpy(&prm, params, params->sz < sizeof(prm) ?
		       params->sz : sizeof(prm));
	if (!prm.downtime_ms)
		prm.downtime_ms = 300;
	if (!prm.max_rounds)
		prm.max_rounds = 30;
	if (!prm.confirm_timeout_ms)
		prm.confirm_timeout_ms = 10000;
	limit_ns = (uint64_t)prm.downtime_ms * 1000000;
	if (!ops || !ops->pause || !ops->resume || !hs || hs->status)
		return fail(res, -EINVAL, "invalid arguments");
	res->version = hs->version;
	res->caps = hs->caps;
	if (ops->save_state && !(hs->caps & KMIG_CAP_BLOBS))
		return fail(res, -EOPNOTSUPP,
			    "device state needs the blobs capability, which the hosts did not agree on");

	ret = restart_tracking(mem_fds, nr_mem);
	if (ret)
		return fail(res, ret, "cannot start dirty tracking: %s",
			    strerror(-ret));
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

	/* The guest belongs to the destination only once it says so. */
	ret = read_full(sock, confirm, sizeof(confirm), prm.confirm_timeout_ms);
	if (ret) {
		fail(res, ret, "no confirmation from the destination: %s",
		     strerror(-ret));
		goto out_resume;
	}
	if (memcmp(confirm, KMIG_CONFIRM_MAGIC, 4)) {
		ret = fail(res, -EPROTO, "malformed confirmation");
		goto out_resume;
	}
	ret = confirm[4] | confirm[5] << 8 | confirm[6] << 16 |
	      (uint32_t)confirm[7] << 24;
	if (ret) {
		ret = fail(res, -ret, "the destination could not resume: %s",
			   strerror(ret));
		goto out_resume;
	}
	res->downtime_ns = now_ns() - t_pause;
	res->rounds = p.round;
	goto out_close;

out_resume:
	/* Nothing was given away: the source guest runs on. */
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

static int send_confirm(int sock, int status, uint64_t ns)
{
	uint8_t c[KMIG_CONFIRM_LEN];
	uint32_t st = status < 0 ? -status : status;

	memcpy(c, KMIG_CONFIRM_MAGIC, 4);
	for (int i = 0; i < 4; i++)
		c[4 + i] = st >> (8 * i);
	for (int i = 0; i < 8; i++)
		c[8 + i] = ns >> (8 * i);
	return write_full(sock, c, sizeof(c));
}

int kmig_migrate_destination(int devfd, int sock,
			     const struct kmig_hs_result *hs,
			     const int *mem_fds, unsigned int nr_mem,
			     const struct kmig_migrate_ops *ops, void *opaque,
			     struct kmig_migrate_result *res)
{
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
	res->version = hs->version;
	res->caps = hs->caps;
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
	else if ((ret = ops->resume(opaque)))
		fail(res, ret, "guest not resumed: %s", strerror(-ret));
	if (send_confirm(sock, ret, now_ns() - t_end) && !ret)
		ret = fail(res, -ECONNRESET,
			   "resumed, but the source did not get the confirmation");
out:
	close(sfd);
	free(state);
	res->total_ns = now_ns() - t0;
	res->status = ret;
	return ret;
}
