// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * The kmig migration handshake: source and destination agree on a protocol
 * version, capabilities, page size and memory layout, and optionally prove to
 * each other that they hold the same pre-shared key, before any page moves.
 * The byte-level format is in Documentation/handshake.rst; encoding/parsing is in tlv.c.
 *
 * Flow (S = source, D = destination):
 *
 *   S -> D  HELLO    versions, caps supported/required, page size, layout,
 *                    host/VM identity, [nonce_src]
 *   D -> S  ACCEPT   chosen version, chosen caps, page size, identity,
 *                    [nonce_dst]                   or REFUSE(reason, text)
 *   S -> D  AUTH     [MAC(source)]                 or REFUSE     (key only)
 *   D -> S  AUTH     [MAC(destination)]            or REFUSE     (key only)
 *   S -> D  CONFIRM                                or REFUSE
 *
 * The destination decides the outcome; the source checks that the ACCEPT is
 * consistent with its own offer. CONFIRM is always the last message, so a
 * handshake has succeeded on both sides exactly when the source sent CONFIRM
 * and the destination received it. Whoever fails sends a REFUSE carrying a
 * reason code and a text that says what to do, and both sides return that
 * same reason and text.
 *
 * Compatibility rules (keep old binaries working; Documentation/handshake.rst has the long
 * form):
 *  1. The header layout (magic, u16 format version, u16 type, u32 length) is
 *     frozen. The format version is bumped only if the header itself or the
 *     TLV encoding changes; never for new fields or new message contents.
 *  2. New information is a new TLV field with a new number. A field number or
 *     message type number is never reused, and a field's encoding never
 *     changes. Retired numbers stay reserved.
 *  3. A new field is non-critical unless an old peer ignoring it would do
 *     something wrong (e.g. a field that changes how pages are encoded). For
 *     critical fields, prefer announcing support first (a capability bit or a
 *     protocol version) and send the field only when the peer announced it.
 *  4. Receivers skip unknown non-critical fields and refuse unknown critical
 *     ones (KMIG_HS_UNKNOWN_CRITICAL). A known field in a message where it has
 *     no meaning counts as unknown.
 *  5. Fields required by format 1 stay required forever; new fields are
 *     always optional, and their absence means "the old behaviour".
 *  6. Protocol versions are explicit numbers. Dropping support for an old
 *     version is removing it from the offer, never renumbering.
 *  7. Limits (field counts, lengths, the 64 KiB body) may only be raised
 *     together with a format or protocol announcement, because old receivers
 *     refuse what exceeds them.
 *  8. Reason codes keep their meaning; unknown codes are plain refusals.
 *  9. New message types are only sent after the peer announced them.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "kmig_internal.h"

/* Bound on a best-effort REFUSE, which is sent even after a timeout. */
#define REFUSE_SEND_MS	100

/* Private I/O result: end of stream. */
#define EV_EOF		(-ENODATA)

struct hs {
	int fd;
	uint32_t role;			/* this side */
	uint32_t peer_role;
	const struct kmig_offer *mine;
	const struct kmig_key *key;
	int timeout_ms;
	int64_t deadline;		/* CLOCK_MONOTONIC ns */
	struct kmig_hs_result *res;

	struct kmig_hs_msg msg;		/* last message received */
	struct kmig_offer peer;		/* destination: the source's offer */
	uint8_t nonce_src[KMIG_HS_NONCE_LEN];
	uint8_t nonce_dst[KMIG_HS_NONCE_LEN];
	uint8_t h_hello[32];
	uint8_t h_accept[32];
	uint8_t mac[KMIG_HS_MAC_LEN];
	size_t rx_len;
	uint8_t tx[KMIG_HS_MAX_MSG];
	uint8_t rx[KMIG_HS_MAX_MSG];
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *err_str(int err, char *buf, size_t len)
{
	/* GNU strerror_r: thread-safe, may return a static string. */
	return strerror_r(err, buf, len);
}

/*
 * Results
 */

static void clear_outcome(struct kmig_hs_result *res)
{
	res->version = 0;
	res->caps = 0;
	res->page_size = 0;
	res->authenticated = 0;
	res->nr_regions = 0;
	memset(res->regions, 0, sizeof(res->regions));
}

/* Record a failure. err 0 means "the errno of the reason". */
static int set_failure(struct kmig_hs_result *res, uint32_t reason, uint32_t by,
		       int err, const char *text)
{
	clear_outcome(res);
	res->reason = reason;
	res->refused_by = by;
	res->status = err ? err : kmig_hs_reason_errno(reason);
	if (!res->status)
		res->status = -ECONNREFUSED;
	snprintf(res->message, sizeof(res->message), "%s",
		 text && *text ? text : kmig_hs_reason_str(reason));
	kmig_text_truncate(res->message, KMIG_HS_REASON_MAX);
	return res->status;
}

/* set_failure() with a formatted text. */
KMIG_HS_PRINTF(5, 0)
static int vfailf(struct kmig_hs_result *res, uint32_t reason, uint32_t by,
		  int err, const char *fmt, va_list ap)
{
	char text[KMIG_HS_REASON_MAX + 1];

	vsnprintf(text, sizeof(text), fmt, ap);
	kmig_text_truncate(text, KMIG_HS_REASON_MAX);
	return set_failure(res, reason, by, err, text);
}

/* A failure detected here that the peer is not told about. */
KMIG_HS_PRINTF(4, 5)
static int fail(struct hs *hs, uint32_t reason, int err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfailf(hs->res, reason, hs->role, err, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * I/O, all bounded by a deadline. recv()/send() with MSG_DONTWAIT so that the
 * descriptor's own flags do not matter; poll() waits; EINTR restarts.
 */

static int io_wait(struct hs *hs, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = hs->fd, .events = events };
		int64_t left = deadline - mono_ns();
		int ms, r;

		if (left <= 0)
			return -ETIMEDOUT;
		left = (left + 999999) / 1000000;
		ms = left > INT_MAX ? INT_MAX : (int)left;
		r = poll(&pfd, 1, ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r > 0)
			return 0;	/* ready, or error/hangup for recv to report */
	}
}

static int io_send(struct hs *hs, const uint8_t *p, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(hs->fd, p + off, len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		int err;

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		err = io_wait(hs, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

/* Read exactly len bytes. *got counts what arrived, also on failure. */
static int io_recv(struct hs *hs, uint8_t *p, size_t len, size_t *got,
		   int64_t deadline)
{
	while (*got < len) {
		ssize_t n = recv(hs->fd, p + *got, len - *got, MSG_DONTWAIT);
		int err;

		if (n > 0) {
			*got += (size_t)n;
			continue;
		}
		if (n == 0)
			return EV_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		err = io_wait(hs, POLLIN, deadline);
		if (err)
			return err;
	}
	return 0;
}

static void send_refuse(struct hs *hs, uint32_t reason, const char *text)
{
	struct kmig_wbuf w;
	int len;

	kmig_w_begin(&w, hs->tx, sizeof(hs->tx), KMIG_HS_MSG_REFUSE);
	kmig_w_u32(&w, KMIG_HS_F_REASON, reason);
	if (kmig_text_valid((const uint8_t *)text, strlen(text), KMIG_HS_REASON_MAX))
		kmig_w_str(&w, KMIG_HS_F_REASON_TEXT, text);
	len = kmig_w_end(&w);
	if (len > 0)	/* best effort: the peer may be gone */
		io_send(hs, hs->tx, (size_t)len,
			mono_ns() + (int64_t)REFUSE_SEND_MS * 1000000);
}

/* Refuse: record the failure and tell the peer. */
KMIG_HS_PRINTF(3, 4)
static int refuse(struct hs *hs, uint32_t reason, const char *fmt, ...)
{
	char text[KMIG_HS_REASON_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	kmig_text_truncate(text, KMIG_HS_REASON_MAX);
	set_failure(hs->res, reason, hs->role, 0, text);
	send_refuse(hs, reason, hs->res->message);
	return hs->res->status;
}

/* The peer sent REFUSE: adopt its reason and text. */
static int peer_refused(struct hs *hs)
{
	const struct kmig_hs_msg *m = &hs->msg;
	int err = m->reason > 255 ? -ECONNREFUSED : 0;

	return set_failure(hs->res, m->reason, hs->peer_role, err,
			   (m->present & KMIG_HS_BIT(KMIG_HS_F_REASON_TEXT)) ?
			   m->reason_text : NULL);
}

static int io_failed(struct hs *hs, int err, const char *doing, const char *what,
		     size_t got, size_t want)
{
	const char *peer = kmig_hs_role_name(hs->peer_role);
	char buf[64];

	if (err == -ETIMEDOUT) {
		refuse(hs, KMIG_HS_TIMEOUT,
		       "timed out after %d ms %s %s %s the %s (is the peer a kmig %s?)",
		       hs->timeout_ms, doing, what,
		       doing[0] == 's' ? "to" : "from", peer, peer);
		return hs->res->status;
	}
	if (err == EV_EOF || err == -ECONNRESET || err == -EPIPE) {
		if (got)
			return fail(hs, KMIG_HS_PEER_CLOSED, 0,
				    "the %s closed the connection in the middle of %s (%zu of %zu bytes)",
				    peer, what, got, want);
		return fail(hs, KMIG_HS_PEER_CLOSED, 0,
			    "the %s closed the connection while this side was %s %s",
			    peer, doing, what);
	}
	return fail(hs, KMIG_HS_IO_ERROR, err, "%s %s failed: %s", doing, what,
		    err_str(-err, buf, sizeof(buf)));
}

static int send_msg(struct hs *hs, struct kmig_wbuf *w, size_t *len_out)
{
	const char *what = kmig_hs_msg_name(kmig_get_le16(w->buf + 6));
	int len = kmig_w_end(w);
	int err;

	if (len < 0)
		return fail(hs, KMIG_HS_BAD_ARGUMENT, len,
			    "cannot encode %s: %s", what,
			    len == -EMSGSIZE ? "message too large" : "invalid field");
	err = io_send(hs, w->buf, (size_t)len, hs->deadline);
	if (err)
		return io_failed(hs, err, "sending", what, 0, 0);
	if (len_out)
		*len_out = (size_t)len;
	return 0;
}

static void show_bytes(const uint8_t *p, size_t n, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off + 4 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%02x",
					i ? " " : "", p[i]);
	if (off + 4 < len) {
		buf[off++] = ' ';
		buf[off++] = '"';
		for (size_t i = 0; i < n && off + 2 < len; i++)
			buf[off++] = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' ?
				     (char)p[i] : '.';
		buf[off++] = '"';
		buf[off] = '\0';
	}
}

/*
 * Receive one message of the expected type into hs->msg (raw bytes in hs->rx).
 * A REFUSE from the peer, a malformed or unexpected message, a timeout or a
 * closed connection end the handshake: the result is filled and a negative
 * errno returned.
 */
static int recv_msg(struct hs *hs, uint16_t expect)
{
	struct kmig_hs_msg *m = &hs->msg;
	const char *what = kmig_hs_msg_name(expect);
	const char *peer = kmig_hs_role_name(hs->peer_role);
	size_t got = 0, want;
	int err;

	hs->rx_len = 0;
	/* The magic first, so a peer speaking something else is told at once. */
	err = io_recv(hs, hs->rx, KMIG_HS_MAGIC_LEN, &got, hs->deadline);
	if (got && !kmig_hs_magic_ok(hs->rx, got)) {
		char bytes[48];

		show_bytes(hs->rx, got, bytes, sizeof(bytes));
		return refuse(hs, KMIG_HS_BAD_MAGIC,
			      "the %s does not speak the kmig handshake (received %s instead of \"KMHS\"): wrong address or port?",
			      peer, bytes);
	}
	if (!err)
		err = io_recv(hs, hs->rx, KMIG_HS_HDR_LEN, &got, hs->deadline);
	if (err)
		return io_failed(hs, err, "waiting for", what, got, KMIG_HS_HDR_LEN);

	memset(m, 0, sizeof(*m));
	if (kmig_hs_parse_header(hs->rx, m)) {
		if (m->error == KMIG_HS_BAD_FORMAT)
			return refuse(hs, KMIG_HS_BAD_FORMAT,
				      "the %s uses handshake format %u, this side only speaks format %u: upgrade this side",
				      peer, m->format, KMIG_HS_FORMAT_VERSION);
		return refuse(hs, m->error, "invalid message from the %s: %s",
			      peer, m->error_text);
	}
	want = KMIG_HS_HDR_LEN + m->body_len;
	err = io_recv(hs, hs->rx, want, &got, hs->deadline);
	if (err)
		return io_failed(hs, err, "waiting for", what, got, want);
	hs->rx_len = want;

	if (kmig_hs_parse(hs->rx, want, m)) {
		return refuse(hs, m->error, "invalid message from the %s: %s",
			      peer, m->error_text);
	}
	if (m->type == KMIG_HS_MSG_REFUSE)
		return peer_refused(hs);
	if (m->type != expect)
		return refuse(hs, KMIG_HS_UNEXPECTED_MESSAGE,
			      "expected %s from the %s, received %s", what, peer,
			      kmig_hs_msg_name(m->type));
	return 0;
}

/*
 * Setup
 */

int kmig_hs_failf(struct kmig_hs_result *res, uint32_t reason, uint32_t by,
		  int err, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vfailf(res, reason, by, err, fmt, ap);
	va_end(ap);
	return ret;
}

int kmig_hs_opts_get(const struct kmig_hs_opts *opts, uint32_t role,
		     int *timeout_ms, const struct kmig_key **key,
		     struct kmig_hs_result *res)
{
	static const size_t opts_min = offsetof(struct kmig_hs_opts, timeout_ms) +
				       sizeof(int);

	*timeout_ms = KMIG_HS_DEFAULT_TIMEOUT_MS;
	*key = NULL;
	if (opts) {
		if (opts->sz < opts_min)
			return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
					   "kmig_hs_opts.sz is too small: declare options with KMIG_HS_OPTS()");
		/* A newer caller's extra options must be zero (unused). */
		for (size_t i = sizeof(*opts); i < opts->sz; i++)
			if (((const uint8_t *)opts)[i])
				return set_failure(res, KMIG_HS_BAD_ARGUMENT, role,
						   -E2BIG, "unsupported handshake option set");
		if (opts->timeout_ms < 0)
			return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
					   "negative timeout");
		if (opts->timeout_ms)
			*timeout_ms = opts->timeout_ms;
		if (opts->sz >= offsetof(struct kmig_hs_opts, key) + sizeof(*key))
			*key = opts->key;
	}
	if (*key && ((*key)->len < KMIG_HS_KEY_MIN || (*key)->len > KMIG_HS_KEY_MAX))
		return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
				   "pre-shared key must be 16..4096 bytes");
	return 0;
}

static int hs_begin(struct hs **out, int sock, uint32_t role,
		    const struct kmig_offer *mine, const struct kmig_hs_opts *opts,
		    struct kmig_hs_result *res)
{
	int timeout_ms, type = 0, err;
	const struct kmig_key *key;
	socklen_t tlen = sizeof(type);
	struct hs *hs;

	*out = NULL;
	if (!res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));

	err = kmig_hs_opts_get(opts, role, &timeout_ms, &key, res);
	if (err)
		return err;
	if (!mine || kmig_offer_validate(mine))
		return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
				   "invalid local offer (see kmig_offer_validate())");
	if (sock < 0)
		return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EBADF,
				   "invalid socket descriptor");
	if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0)
		return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -errno,
				   "the descriptor is not a socket");
	if (type != SOCK_STREAM)
		return set_failure(res, KMIG_HS_BAD_ARGUMENT, role, -EINVAL,
				   "the handshake needs a SOCK_STREAM socket");

	hs = calloc(1, sizeof(*hs));
	if (!hs)
		return set_failure(res, KMIG_HS_NO_MEMORY, role, -ENOMEM,
				   "out of memory");
	hs->fd = sock;
	hs->role = role;
	hs->peer_role = role == KMIG_HS_ROLE_SOURCE ? KMIG_HS_ROLE_DESTINATION :
						   KMIG_HS_ROLE_SOURCE;
	hs->mine = mine;
	hs->key = key;
	hs->timeout_ms = timeout_ms;
	hs->deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	hs->res = res;
	*out = hs;
	return 0;
}

static int hs_end(struct hs *hs, int err)
{
	struct kmig_hs_result *res = hs->res;

	if (!err) {
		res->status = 0;
		res->reason = KMIG_HS_OK;
		res->refused_by = KMIG_HS_ROLE_NONE;
		res->message[0] = '\0';
	} else if (!res->status || res->reason == KMIG_HS_OK) {
		/* Every failure path records itself; keep the result coherent
		 * should one ever not. */
		set_failure(res, KMIG_HS_IO_ERROR, hs->role, err, NULL);
	}
	kmig_wipe(hs->mac, sizeof(hs->mac));
	free(hs);
	return err;
}

static void copy_identity(struct kmig_hs_result *res, const struct kmig_hs_msg *m)
{
	if (m->present & KMIG_HS_BIT(KMIG_HS_F_HOST_ID))
		memcpy(res->peer_host_id, m->host_id, sizeof(res->peer_host_id));
	if (m->present & KMIG_HS_BIT(KMIG_HS_F_VM_ID))
		memcpy(res->peer_vm_id, m->vm_id, sizeof(res->peer_vm_id));
}

static void put_identity(struct kmig_wbuf *w, const struct kmig_offer *o)
{
	if (o->host_id[0])
		kmig_w_str(w, KMIG_HS_F_HOST_ID, o->host_id);
	if (o->vm_id[0])
		kmig_w_str(w, KMIG_HS_F_VM_ID, o->vm_id);
}

static bool offer_has_version(const struct kmig_offer *o, uint32_t v)
{
	for (uint32_t i = 0; i < o->nr_versions; i++)
		if (o->versions[i] == v)
			return true;
	return false;
}

/* Compute our MAC (in hs->mac) and send it in an AUTH message. */
static int send_auth(struct hs *hs)
{
	struct kmig_wbuf w;
	int err;

	err = kmig_auth_mac(hs->key, hs->role, hs->nonce_src, hs->nonce_dst,
			    hs->h_hello, hs->h_accept, hs->mac);
	if (err)
		return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "computing the MAC failed");
	kmig_w_begin(&w, hs->tx, sizeof(hs->tx), KMIG_HS_MSG_AUTH);
	kmig_w_bytes(&w, KMIG_HS_F_AUTH_MAC, hs->mac, sizeof(hs->mac));
	return send_msg(hs, &w, NULL);
}

/* Receive the peer's AUTH and check its MAC. */
static int verify_auth(struct hs *hs)
{
	const char *peer = kmig_hs_role_name(hs->peer_role);
	int err;

	err = recv_msg(hs, KMIG_HS_MSG_AUTH);
	if (err)
		return err;
	err = kmig_auth_mac(hs->key, hs->peer_role, hs->nonce_src, hs->nonce_dst,
			    hs->h_hello, hs->h_accept, hs->mac);
	if (err)
		return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "computing the MAC failed");
	if (!kmig_auth_mac_equal(hs->mac, hs->msg.mac))
		return refuse(hs, KMIG_HS_AUTH_FAILED,
			      "authentication failed: key mismatch (the %s's proof did not verify at the %s): use the same key file on both sides",
			      peer, kmig_hs_role_name(hs->role));
	return 0;
}

/*
 * Source
 */

static int source_run(struct hs *hs)
{
	const struct kmig_offer *mine = hs->mine;
	struct kmig_hs_result *res = hs->res;
	const struct kmig_hs_msg *m = &hs->msg;
	char a[96], b[160];
	struct kmig_wbuf w;
	size_t len;
	bool peer_nonce;
	int err;

	if (hs->key && kmig_auth_nonce(hs->nonce_src))
		return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO,
			    "cannot get random bytes for the auth nonce");

	kmig_w_begin(&w, hs->tx, sizeof(hs->tx), KMIG_HS_MSG_HELLO);
	kmig_w_versions(&w, mine->versions, mine->nr_versions);
	kmig_w_u64(&w, KMIG_HS_F_CAPS_SUPPORTED, mine->caps_supported);
	kmig_w_u64(&w, KMIG_HS_F_CAPS_REQUIRED, mine->caps_required);
	kmig_w_u32(&w, KMIG_HS_F_PAGE_SIZE, mine->page_size);
	if (mine->nr_regions)
		kmig_w_layout(&w, mine->regions, mine->nr_regions);
	put_identity(&w, mine);
	if (hs->key)
		kmig_w_bytes(&w, KMIG_HS_F_AUTH_NONCE, hs->nonce_src,
			     sizeof(hs->nonce_src));
	err = send_msg(hs, &w, &len);
	if (err)
		return err;
	if (hs->key && kmig_auth_digest(hs->tx, len, hs->h_hello))
		return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "SHA-256 failed");

	err = recv_msg(hs, KMIG_HS_MSG_ACCEPT);
	if (err)
		return err;
	copy_identity(res, m);

	/* The destination decided; check that it decided within our offer. */
	if (!offer_has_version(mine, m->chosen_version)) {
		kmig_versions_format(mine->versions, mine->nr_versions, b, sizeof(b));
		return refuse(hs, KMIG_HS_INCONSISTENT_ACCEPT,
			      "the destination chose protocol %u, which the source did not offer (it offered %s)",
			      m->chosen_version, b);
	}
	if (m->chosen_caps & ~mine->caps_supported) {
		kmig_caps_format(m->chosen_caps & ~mine->caps_supported, a, sizeof(a));
		return refuse(hs, KMIG_HS_INCONSISTENT_ACCEPT,
			      "the destination chose capabilities the source did not offer: %s",
			      a);
	}
	if (mine->caps_required & ~m->chosen_caps) {
		kmig_caps_format(mine->caps_required & ~m->chosen_caps, a, sizeof(a));
		return refuse(hs, KMIG_HS_MISSING_CAPABILITY,
			      "required capability %s not available: the source requires it, the destination did not choose it: enable it on the destination or stop requiring it on the source",
			      a);
	}
	if (m->page_size != mine->page_size)
		return refuse(hs, KMIG_HS_PAGE_SIZE_MISMATCH,
			      "page size mismatch: source uses %u bytes, destination uses %u bytes: migrate only between hosts with the same page size",
			      mine->page_size, m->page_size);

	peer_nonce = m->present & KMIG_HS_BIT(KMIG_HS_F_AUTH_NONCE);
	if (hs->key && !peer_nonce)
		return refuse(hs, KMIG_HS_AUTH_REQUIRED,
			      "peer did not authenticate: the destination sent no auth nonce but the source requires a pre-shared key: configure the same key on the destination");
	if (!hs->key && peer_nonce)
		return refuse(hs, KMIG_HS_AUTH_REQUIRED,
			      "the destination requires authentication but the source has no key configured: configure the same key on the source");

	res->version = m->chosen_version;
	res->caps = m->chosen_caps;
	res->page_size = m->page_size;

	if (hs->key) {
		memcpy(hs->nonce_dst, m->nonce, sizeof(hs->nonce_dst));
		if (kmig_auth_digest(hs->rx, hs->rx_len, hs->h_accept))
			return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "SHA-256 failed");
		err = send_auth(hs);
		if (err)
			return err;
		err = verify_auth(hs);
		if (err)
			return err;
		res->authenticated = 1;
	}

	kmig_w_begin(&w, hs->tx, sizeof(hs->tx), KMIG_HS_MSG_CONFIRM);
	err = send_msg(hs, &w, NULL);
	if (err)
		return err;

	res->nr_regions = mine->nr_regions;
	memcpy(res->regions, mine->regions, sizeof(res->regions));
	return 0;
}

int kmig_handshake_source(int sock, const struct kmig_offer *mine,
			  const struct kmig_hs_opts *opts,
			  struct kmig_hs_result *res)
{
	struct hs *hs;
	int err;

	err = hs_begin(&hs, sock, KMIG_HS_ROLE_SOURCE, mine, opts, res);
	if (err)
		return err;
	return hs_end(hs, source_run(hs));
}

/*
 * Destination
 */

static void offer_from_hello(struct kmig_offer *o, const struct kmig_hs_msg *m)
{
	memset(o, 0, sizeof(*o));
	o->nr_versions = m->nr_versions;
	memcpy(o->versions, m->versions, sizeof(o->versions));
	o->caps_supported = m->caps_supported;
	o->caps_required = m->caps_required;
	o->page_size = m->page_size;
	o->nr_regions = m->nr_regions;
	memcpy(o->regions, m->regions, sizeof(o->regions));
	memcpy(o->host_id, m->host_id, sizeof(o->host_id));
	memcpy(o->vm_id, m->vm_id, sizeof(o->vm_id));
}

static int destination_run(struct hs *hs)
{
	const struct kmig_offer *mine = hs->mine;
	struct kmig_hs_result *res = hs->res;
	const struct kmig_hs_msg *m = &hs->msg;
	char text[KMIG_HS_REASON_MAX + 1];
	struct kmig_wbuf w;
	uint32_t reason, version;
	uint64_t caps;
	size_t len;
	bool peer_nonce;
	int err;

	err = recv_msg(hs, KMIG_HS_MSG_HELLO);
	if (err)
		return err;
	offer_from_hello(&hs->peer, m);
	copy_identity(res, m);

	peer_nonce = m->present & KMIG_HS_BIT(KMIG_HS_F_AUTH_NONCE);
	if (hs->key && !peer_nonce)
		return refuse(hs, KMIG_HS_AUTH_REQUIRED,
			      "peer did not authenticate: the source sent no auth nonce but the destination requires a pre-shared key: configure the same key on the source");
	if (!hs->key && peer_nonce)
		return refuse(hs, KMIG_HS_AUTH_REQUIRED,
			      "the source requires authentication but the destination has no key configured: configure the same key on the destination");

	reason = kmig_negotiate(&hs->peer, mine, &version, &caps, text, sizeof(text));
	if (reason)
		return refuse(hs, reason, "%s", text);

	if (hs->key) {
		memcpy(hs->nonce_src, m->nonce, sizeof(hs->nonce_src));
		if (kmig_auth_nonce(hs->nonce_dst))
			return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO,
				    "cannot get random bytes for the auth nonce");
		if (kmig_auth_digest(hs->rx, hs->rx_len, hs->h_hello))
			return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "SHA-256 failed");
	}

	kmig_w_begin(&w, hs->tx, sizeof(hs->tx), KMIG_HS_MSG_ACCEPT);
	kmig_w_u32(&w, KMIG_HS_F_CHOSEN_VERSION, version);
	kmig_w_u64(&w, KMIG_HS_F_CHOSEN_CAPS, caps);
	kmig_w_u32(&w, KMIG_HS_F_PAGE_SIZE, mine->page_size);
	put_identity(&w, mine);
	if (hs->key)
		kmig_w_bytes(&w, KMIG_HS_F_AUTH_NONCE, hs->nonce_dst,
			     sizeof(hs->nonce_dst));
	err = send_msg(hs, &w, &len);
	if (err)
		return err;

	res->version = version;
	res->caps = caps;
	res->page_size = mine->page_size;

	if (hs->key) {
		if (kmig_auth_digest(hs->tx, len, hs->h_accept))
			return fail(hs, KMIG_HS_CRYPTO_ERROR, -EIO, "SHA-256 failed");
		err = verify_auth(hs);
		if (err)
			return err;
		err = send_auth(hs);
		if (err)
			return err;
		res->authenticated = 1;
	}

	err = recv_msg(hs, KMIG_HS_MSG_CONFIRM);
	if (err)
		return err;

	res->nr_regions = hs->peer.nr_regions;
	memcpy(res->regions, hs->peer.regions, sizeof(res->regions));
	return 0;
}

int kmig_handshake_destination(int sock, const struct kmig_offer *mine,
			       const struct kmig_hs_opts *opts,
			       struct kmig_hs_result *res)
{
	struct hs *hs;
	int err;

	err = hs_begin(&hs, sock, KMIG_HS_ROLE_DESTINATION, mine, opts, res);
	if (err)
		return err;
	return hs_end(hs, destination_run(hs));
}
