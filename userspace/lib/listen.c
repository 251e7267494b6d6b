// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Listening for the peer (Documentation/handshake.rst, "Listening"): a
 * listening socket on "[ADDR:]PORT", and the loop that accepts connections
 * one at a time and runs the handshake on each until a peer passes it, so
 * that a bad connector (a port scanner, garbage, a wrong key, another VM,
 * silence) does not use up the listener. Bounded by a number of rejected
 * connections and by an overall timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kmig_internal.h"

#define LISTEN_BACKLOG	8
/* How long a closed connection may take to read our REFUSE. */
#define LINGER_MS	200

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *err_str(int err, char *buf, size_t len)
{
	/* GNU strerror_r: thread-safe, may return a static string. */
	return strerror_r(err, buf, len);
}

/* Decimal 0..65535, digits only. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned int v = 0;
	size_t n;

	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n == 5)
			return false;
		v = v * 10 + (unsigned int)(s[n] - '0');
	}
	if (!n || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "PORT", "IPv4:PORT" or "[IPv6]:PORT", numeric only. */
static int parse_addr(const char *spec, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];
	const char *port, *end;
	bool v6 = false;
	uint16_t p;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (!spec)
		return -EINVAL;
	if (spec[0] == '[') {
		end = strchr(spec, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		n = (size_t)(end - spec - 1);
		port = end + 2;
		spec++;
		v6 = true;
	} else {
		end = strchr(spec, ':');
		if (end) {
			n = (size_t)(end - spec);
			port = end + 1;
			if (!n)
				return -EINVAL;
		} else {
			n = 0;		/* bare port: all IPv4 addresses */
			port = spec;
		}
	}
	if (n >= sizeof(host) || !parse_port(port, &p))
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (v6) {
		if (!n || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(p);
		*len = sizeof(*in6);
		return 0;
	}
	if (n && inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -EINVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons(p);
	*len = sizeof(*in);
	return 0;
}

/* "1.2.3.4:5", "[::1]:5", "unix:/path"; printable ASCII only. */
static void addr_format(const struct sockaddr_storage *ss, socklen_t len,
			char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (!buf || !size)
		return;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, size, "%s:%u", ip, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, size, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? strnlen(un->sun_path, len - off) : 0;

		if (n)
			snprintf(buf, size, "unix:%.*s", (int)n, un->sun_path);
		else
			snprintf(buf, size, "unix");
	} else {
		snprintf(buf, size, "?");
	}
	/* A path is any bytes: keep log lines one line. */
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
			*c = '?';
}

int kmig_listen_socket(const char *addr, char *where, size_t wherelen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	if (where && wherelen)
		where[0] = '\0';
	err = parse_addr(addr, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, LISTEN_BACKLOG))
		goto fail;
	if (where && wherelen) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len))
			goto fail;
		addr_format(&ss, len, where, wherelen);
	}
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/*
 * Close a connection after a failed handshake, letting the peer read the
 * REFUSE first: our end of the stream, then what the peer still sends is
 * read and dropped (closing with unread data would reset the connection),
 * until it closes too or LINGER_MS (at most until end) passed.
 */
static void linger_close(int fd, int64_t end)
{
	int64_t stop = mono_ms() + LINGER_MS;
	char buf[512];

	if (end && end < stop)
		stop = end;
	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = stop - mono_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
	}
	close(fd);
}

/*
 * Does this failure end the wait (true), or is the connection rejected and
 * the next one accepted (false)? Local errors end it: the next connection
 * would fail the same way. A well-formed peer refused for its configuration
 * ends it too, so that the mistake is reported at once, unless a key is
 * configured: before the peer's proof nothing it sent can be trusted. The
 * rest (garbage, silence, a closed connection, authentication, the VM
 * identity) is what a stranger or the wrong source causes: rejected.
 */
static bool ends_wait(const struct kmig_hs_result *res, uint32_t role, bool keyed)
{
	switch (res->reason) {
	case KMIG_HS_BAD_ARGUMENT:
	case KMIG_HS_NO_MEMORY:
	case KMIG_HS_CRYPTO_ERROR:
		/* A peer may send these codes too: only ours count. */
		return res->refused_by == role;
	case KMIG_HS_NO_COMMON_VERSION:
	case KMIG_HS_MISSING_CAPABILITY:
	case KMIG_HS_PAGE_SIZE_MISMATCH:
	case KMIG_HS_BAD_LAYOUT:
	case KMIG_HS_INCONSISTENT_ACCEPT:
		return !keyed;
	default:
		return false;
	}
}

static void plural(unsigned int n, const char *word, char *buf, size_t len)
{
	snprintf(buf, len, "%u %s%s", n, word, n == 1 ? "" : "s");
}

int kmig_listen_handshake(int lfd, enum kmig_hs_role role,
			  const struct kmig_offer *mine,
			  const struct kmig_listen_opts *opts,
			  struct kmig_hs_result *res, char *peer, size_t peerlen)
{
	/*
	 * The size of the first version (LIBKMIG_0.3). Fields added later go at
	 * the end, are read only if opts->sz covers them, and leave this be.
	 */
	static const size_t opts_min = offsetof(struct kmig_listen_opts, opaque) +
				       sizeof(void *);
	char addr[KMIG_LISTEN_PEER_MAX] = "", where[KMIG_LISTEN_PEER_MAX] = "?";
	char last[KMIG_HS_REASON_MAX + 1] = "", n_rej[32], buf[64];
	unsigned int max_rejects = KMIG_LISTEN_DEFAULT_MAX_REJECTS, rejects = 0;
	const struct kmig_hs_opts *hs_opts = NULL;
	int accept_ms = 0, timeout_ms, type = 0, listening = 0, err;
	const struct kmig_key *key;
	struct sockaddr_storage ss;
	socklen_t len;
	int64_t end = 0;

	if (peer && peerlen)
		peer[0] = '\0';
	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (role != KMIG_HS_ROLE_SOURCE && role != KMIG_HS_ROLE_DESTINATION)
		return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, KMIG_HS_ROLE_NONE,
				     -EINVAL, "role must be source or destination");
	if (opts) {
		if (opts->sz < opts_min)
			return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
					     "kmig_listen_opts.sz is too small: declare options with KMIG_LISTEN_OPTS()");
		/* A newer caller's extra options must be zero (unused). */
		for (size_t i = sizeof(*opts); i < opts->sz; i++)
			if (((const uint8_t *)opts)[i])
				return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role,
						     -E2BIG, "unsupported listen option set");
		if (opts->accept_timeout_ms < 0)
			return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
					     "negative accept timeout");
		hs_opts = opts->hs;
		accept_ms = opts->accept_timeout_ms;
		if (opts->max_rejects)
			max_rejects = opts->max_rejects;
	}
	err = kmig_hs_opts_get(hs_opts, role, &timeout_ms, &key, res);
	if (err)
		return err;
	if (!mine || kmig_offer_validate(mine))
		return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
				     "invalid local offer (see kmig_offer_validate())");
	if (lfd < 0)
		return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -EBADF,
				     "invalid socket descriptor");
	len = sizeof(type);
	if (getsockopt(lfd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -errno,
				     "the descriptor is not a socket");
	len = sizeof(listening);
	if (type != SOCK_STREAM ||
	    getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    !listening)
		return kmig_hs_failf(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
				     "not a listening SOCK_STREAM socket (see kmig_listen_socket())");
	len = sizeof(ss);
	if (!getsockname(lfd, (struct sockaddr *)&ss, &len))
		addr_format(&ss, len, where, sizeof(where));

	if (accept_ms)
		end = mono_ms() + accept_ms;
	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		int fd, wait = -1, t = timeout_ms, r;

		if (end) {
			int64_t left = end - mono_ms();

			if (left <= 0)
				goto timed_out;
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno != EINTR) {
			int e = errno;

			return kmig_hs_failf(res, KMIG_HS_IO_ERROR, role, -e,
					     "waiting for a connection on %s failed: %s",
					     where, err_str(e, buf, sizeof(buf)));
		}
		if (r <= 0)
			continue;
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			int e = errno;

			switch (e) {
			/* Gone already, or nothing after all: wait again. */
			case EINTR: case EAGAIN: case ECONNABORTED: case EPROTO:
			case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
			case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
				continue;
			default:
				return kmig_hs_failf(res, KMIG_HS_IO_ERROR, role, -e,
						     "accepting a connection on %s failed: %s",
						     where, err_str(e, buf, sizeof(buf)));
			}
		}
		addr_format(&ss, len, addr, sizeof(addr));
		if (peer && peerlen)
			snprintf(peer, peerlen, "%s", addr);
		if (end) {
			/* The accept timeout bounds the whole wait. */
			int64_t left = end - mono_ms();

			if (left <= 0) {
				close(fd);
				goto timed_out;
			}
			if (left < t)
				t = (int)left;
		}
		{
			KMIG_HS_OPTS(o, .timeout_ms = t, .key = key);

			if (role == KMIG_HS_ROLE_SOURCE)
				err = kmig_handshake_source(fd, mine, &o, res);
			else
				err = kmig_handshake_destination(fd, mine, &o, res);
		}
		if (!err)
			return fd;
		if (ends_wait(res, role, key != NULL)) {
			linger_close(fd, end);
			return err;
		}
		rejects++;
		if (opts && opts->on_reject)
			opts->on_reject(opts->opaque, addr, res);
		linger_close(fd, end);
		kmig_textf(last, sizeof(last), "the last, from %s, failed with %s: %s",
			   addr, kmig_hs_reason_name(res->reason), res->message);
		if (rejects >= max_rejects) {
			plural(rejects, "rejected connection", n_rej, sizeof(n_rej));
			memset(res, 0, sizeof(*res));
			return kmig_hs_failf(res, KMIG_HS_TOO_MANY_REJECTS, role, 0,
					     "gave up on %s after %s; %s", where,
					     n_rej, last);
		}
	}

timed_out:
	memset(res, 0, sizeof(*res));
	if (!rejects)
		return kmig_hs_failf(res, KMIG_HS_ACCEPT_TIMEOUT, role, 0,
				     "no connection on %s within %d ms", where,
				     accept_ms);
	plural(rejects, "connection", n_rej, sizeof(n_rej));
	return kmig_hs_failf(res, KMIG_HS_ACCEPT_TIMEOUT, role, 0,
			     "no acceptable peer on %s within %d ms (%s rejected); %s",
			     where, accept_ms, n_rej, last);
}
