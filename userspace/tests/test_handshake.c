// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the handshake state machines over socketpair(AF_UNIX,
 * SOCK_STREAM). Either two library sides (source in the main thread,
 * destination in a thread), or one library side against a "raw" peer that
 * sends messages crafted byte by byte with tests/wire.h and records what it
 * receives. Only the public API (libkmig.h) is used. The listener
 * (kmig_listen_handshake()) runs in a thread on loopback TCP, with
 * connectors in the main thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "libkmig.h"
#include "tap.h"
#include "wire.h"

#define T_MS		3000	/* timeout of handshakes expected to finish */
#define SHORT_MS	200	/* timeout of handshakes expected to time out */
#define RAW_MS		5000	/* how long a raw peer waits for anything */

#define SRC		KMIG_HS_ROLE_SOURCE
#define DST		KMIG_HS_ROLE_DESTINATION

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A library side
 */

struct side {
	uint32_t role;
	struct kmig_offer offer;
	struct kmig_key key;
	bool use_key;
	int timeout_ms;
	int fd;
	int ret;
	int64_t elapsed_ms;
	struct kmig_hs_result res;
};

static struct side S, D;

static void side_init(struct side *s, uint32_t role, uint32_t vmin, uint32_t vmax,
		      uint64_t caps)
{
	memset(s, 0, sizeof(*s));
	s->role = role;
	kmig_offer_init(&s->offer);
	s->offer.page_size = 4096;
	kmig_offer_set_versions(&s->offer, vmin, vmax);
	s->offer.caps_supported = caps;
	s->timeout_ms = T_MS;
	s->fd = -1;
}

static void side_versions(struct side *s, const uint32_t *v, uint32_t n)
{
	s->offer.nr_versions = n;
	memcpy(s->offer.versions, v, n * sizeof(*v));
}

static void side_key(struct side *s, const char *k)
{
	kmig_key_set(&s->key, k, strlen(k));
	s->use_key = true;
}

static int side_run(struct side *s)
{
	KMIG_HS_OPTS(o, .timeout_ms = s->timeout_ms,
		     .key = s->use_key ? &s->key : NULL);
	int64_t t0 = now_ms();

	if (s->role == SRC)
		s->ret = kmig_handshake_source(s->fd, &s->offer, &o, &s->res);
	else
		s->ret = kmig_handshake_destination(s->fd, &s->offer, &o, &s->res);
	s->elapsed_ms = now_ms() - t0;
	/* Let the peer see the end of the stream instead of waiting. */
	shutdown(s->fd, SHUT_WR);
	return s->ret;
}

static void *side_thread(void *arg)
{
	side_run(arg);
	return NULL;
}

static bool run_pair(void)
{
	int sv[2];
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return false;
	S.fd = sv[0];
	D.fd = sv[1];
	if (pthread_create(&t, NULL, side_thread, &D)) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	side_run(&S);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return true;
}

static bool side_ok(const char *who, const struct side *s)
{
	CHECKF(s->ret == 0 && s->res.status == 0,
	       "%s returned %d (%s): %s", who, s->ret,
	       kmig_hs_reason_name(s->res.reason), s->res.message);
	CHECK_EQ(s->res.reason, KMIG_HS_OK);
	CHECK_EQ(s->res.refused_by, KMIG_HS_ROLE_NONE);
	CHECK(s->res.message[0] == '\0');
	return true;
}

static bool both_ok(uint32_t version, uint64_t caps)
{
	CHECK(side_ok("source", &S));
	CHECK(side_ok("destination", &D));
	CHECK_EQ(S.res.version, version);
	CHECK_EQ(D.res.version, version);
	CHECK_EQ(S.res.caps, caps);
	CHECK_EQ(D.res.caps, caps);
	CHECK_EQ(S.res.page_size, D.res.page_size);
	CHECK_EQ(S.res.authenticated, D.res.authenticated);
	return true;
}

/* Both sides failed the same way and report the same text. */
static bool both_refused(int err, uint32_t reason, uint32_t by, const char *substr)
{
	tap_diag("source:      %d %s: %s", S.ret, kmig_hs_reason_name(S.res.reason),
		 S.res.message);
	tap_diag("destination: %d %s: %s", D.ret, kmig_hs_reason_name(D.res.reason),
		 D.res.message);
	CHECK_EQ(S.ret, err);
	CHECK_EQ(D.ret, err);
	CHECK_EQ(S.res.status, err);
	CHECK_EQ(D.res.status, err);
	CHECK_EQ(S.res.reason, reason);
	CHECK_EQ(D.res.reason, reason);
	CHECK_EQ(S.res.refused_by, by);
	CHECK_EQ(D.res.refused_by, by);
	CHECK(!strcmp(S.res.message, D.res.message));
	if (substr)
		CHECK_STR_HAS(S.res.message, substr);
	/* No outcome on failure. */
	CHECK_EQ(S.res.version, 0);
	CHECK_EQ(D.res.version, 0);
	CHECK_EQ(S.res.caps, 0);
	CHECK_EQ(D.res.authenticated, 0);
	return true;
}

/* One side's failure. */
static bool side_failed(const struct side *s, int err, uint32_t reason, uint32_t by,
			const char *substr)
{
	tap_diag("%s: %d %s: %s", kmig_hs_role_name(s->role), s->ret,
		 kmig_hs_reason_name(s->res.reason), s->res.message);
	CHECK_EQ(s->ret, err);
	CHECK_EQ(s->res.status, err);
	CHECK_EQ(s->res.reason, reason);
	CHECK_EQ(s->res.refused_by, by);
	if (substr)
		CHECK_STR_HAS(s->res.message, substr);
	return true;
}

/*
 * A raw peer: runs a script of steps and records the messages it receives.
 */

enum { R_END, R_SEND, R_SEND_SLOW, R_RECV, R_WAIT_EOF, R_HANGUP };

struct rstep {
	int op;
	const void *p;
	size_t len;
};

struct frame {
	uint16_t format;
	uint16_t type;
	uint32_t reason;
	char text[256];
	bool has_nonce;
};

struct raw {
	int fd;
	struct rstep steps[8];
	int nr_got;
	struct frame got[8];
	uint8_t buf[W_MAX];
};

static struct raw R;
static struct wb m1, m2;

#define STEP_SEND(w)	((struct rstep){ R_SEND, (w).b, (w).n })
#define STEP_SLOW(w)	((struct rstep){ R_SEND_SLOW, (w).b, (w).n })
#define STEP_BYTES(s)	((struct rstep){ R_SEND, (s), sizeof(s) - 1 })
#define STEP_PART(w, n)	((struct rstep){ R_SEND, (w).b, (n) })
#define STEP_RECV	((struct rstep){ R_RECV, NULL, 0 })
#define STEP_WAIT_EOF	((struct rstep){ R_WAIT_EOF, NULL, 0 })
#define STEP_HANGUP	((struct rstep){ R_HANGUP, NULL, 0 })

static void raw_script(int n, ...)
{
	va_list ap;

	memset(&R, 0, sizeof(R));
	R.fd = -1;
	va_start(ap, n);
	for (int i = 0; i < n && i < 7; i++)
		R.steps[i] = va_arg(ap, struct rstep);
	va_end(ap);
}

static bool raw_wait(int fd, short ev)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int r;

	do {
		r = poll(&pfd, 1, RAW_MS);
	} while (r < 0 && errno == EINTR);
	return r > 0;
}

static void raw_send(int fd, const uint8_t *p, size_t len, bool slow)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, p + off, slow ? 1 : len - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			if (slow)
				usleep(2000);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && raw_wait(fd, POLLOUT))
			continue;
		return;
	}
}

/* Read exactly len bytes; false on EOF, error or RAW_MS of silence. */
static bool raw_read(int fd, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, p + off, len - off, MSG_DONTWAIT);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return false;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !raw_wait(fd, POLLIN))
			return false;
	}
	return true;
}

static bool raw_recv_frame(struct raw *r)
{
	struct frame *f = &r->got[r->nr_got < 7 ? r->nr_got : 7];
	const uint8_t *v;
	uint32_t len;
	uint16_t flen;

	if (!raw_read(r->fd, r->buf, 12))
		return false;
	len = rd_u32(r->buf + 8);
	if (len > W_MAX - 12 || !raw_read(r->fd, r->buf + 12, len))
		return false;
	memset(f, 0, sizeof(*f));
	f->format = rd_u16(r->buf + 4);
	f->type = rd_u16(r->buf + 6);
	v = rd_field(r->buf, 12 + len, 12, &flen);
	if (v && flen == 4)
		f->reason = rd_u32(v);
	v = rd_field(r->buf, 12 + len, 13, &flen);
	if (v && flen < sizeof(f->text))
		memcpy(f->text, v, flen);
	f->has_nonce = rd_field(r->buf, 12 + len, 8, &flen) != NULL;
	if (r->nr_got < 8)
		r->nr_got++;
	return true;
}

static void *raw_thread(void *arg)
{
	struct raw *r = arg;

	for (int i = 0; r->steps[i].op != R_END; i++) {
		const struct rstep *s = &r->steps[i];

		switch (s->op) {
		case R_SEND:
		case R_SEND_SLOW:
			raw_send(r->fd, s->p, s->len, s->op == R_SEND_SLOW);
			break;
		case R_RECV:
			raw_recv_frame(r);
			break;
		case R_WAIT_EOF:
			while (raw_recv_frame(r))
				;
			break;
		case R_HANGUP:
			shutdown(r->fd, SHUT_RDWR);
			break;
		}
	}
	return NULL;
}

/* What was left unread on the library side's socket after the handshake. */
static char leftover[64];
static ssize_t leftover_len;

/* Run library side s against the raw peer's script. */
static bool run_raw(struct side *s)
{
	int sv[2];
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return false;
	s->fd = sv[0];
	R.fd = sv[1];
	if (pthread_create(&t, NULL, raw_thread, &R)) {
		close(sv[0]);
		close(sv[1]);
		return false;
	}
	side_run(s);
	pthread_join(t, NULL);
	leftover_len = recv(sv[0], leftover, sizeof(leftover) - 1, MSG_DONTWAIT);
	close(sv[0]);
	close(sv[1]);
	return true;
}

static bool raw_got(uint16_t type)
{
	for (int i = 0; i < R.nr_got; i++)
		if (R.got[i].type == type)
			return true;
	return false;
}

/* The raw peer was told: REFUSE with this reason, in format 1. */
static bool raw_got_refuse(uint32_t reason)
{
	for (int i = 0; i < R.nr_got; i++) {
		if (R.got[i].type != W_REFUSE)
			continue;
		CHECK_EQ(R.got[i].format, 1);
		CHECKF(R.got[i].reason == reason, "peer got REFUSE %u: %s",
		       R.got[i].reason, R.got[i].text);
		CHECK(R.got[i].text[0]);
		return true;
	}
	tap_diag("the raw peer received no REFUSE (%d messages)", R.nr_got);
	return false;
}

/* Typical raw messages. */
static void hello_std(struct wb *w)
{
	wb_begin(w, W_HELLO);
	wb_hello_fields(w, 1, 2, 0, 4096);
	wb_end(w);
}

static void accept_std(struct wb *w, uint32_t version, uint64_t caps)
{
	wb_begin(w, W_ACCEPT);
	wb_accept_fields(w, version, caps, 4096);
	wb_end(w);
}

static void confirm(struct wb *w)
{
	wb_begin(w, W_CONFIRM);
	wb_end(w);
}

/*
 * Negotiation matrix
 */

static bool neg_equal_windows(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_pair());
	return both_ok(2, 0);
}

static bool neg_old_source_new_destination(void)
{
	side_init(&S, SRC, 1, 1, 0);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_pair());
	return both_ok(1, 0);
}

static bool neg_new_source_old_destination(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 1, 0);
	CHECK(run_pair());
	return both_ok(1, 0);
}

static bool neg_disjoint_source_newer(void)
{
	side_init(&S, SRC, 2, 3, 0);
	side_init(&D, DST, 1, 1, 0);
	CHECK(run_pair());
	CHECK(both_refused(-EPROTONOSUPPORT, KMIG_HS_NO_COMMON_VERSION, DST,
			   "destination supports protocol 1..1, source offers 2..3"));
	CHECK_STR_HAS(S.res.message, "upgrade the destination or allow protocol 1 on the source");
	return true;
}

static bool neg_disjoint_source_older(void)
{
	side_init(&S, SRC, 1, 1, 0);
	side_init(&D, DST, 2, 3, 0);
	CHECK(run_pair());
	CHECK(both_refused(-EPROTONOSUPPORT, KMIG_HS_NO_COMMON_VERSION, DST,
			   "destination supports protocol 2..3, source offers 1..1"));
	CHECK_STR_HAS(S.res.message, "upgrade the source or allow protocol 1 on the destination");
	return true;
}

static bool neg_single_version_windows(void)
{
	side_init(&S, SRC, 2, 2, 0);
	side_init(&D, DST, 2, 2, 0);
	CHECK(run_pair());
	CHECK(both_ok(2, 0));
	side_init(&S, SRC, 1, 1, 0);
	side_init(&D, DST, 2, 2, 0);
	CHECK(run_pair());
	return both_refused(-EPROTONOSUPPORT, KMIG_HS_NO_COMMON_VERSION, DST,
			    "destination supports protocol 2..2, source offers 1..1");
}

static bool neg_highest_common_chosen(void)
{
	side_init(&S, SRC, 1, 3, 0);
	side_init(&D, DST, 2, 4, 0);
	CHECK(run_pair());
	CHECK(both_ok(3, 0));
	side_init(&S, SRC, 2, 4, 0);
	side_init(&D, DST, 1, 3, 0);
	CHECK(run_pair());
	return both_ok(3, 0);
}

static bool neg_sparse_version_sets(void)
{
	side_init(&S, SRC, 1, 1, 0);
	side_init(&D, DST, 1, 1, 0);
	side_versions(&S, (const uint32_t[]){ 1, 3, 7 }, 3);
	side_versions(&D, (const uint32_t[]){ 2, 3, 5 }, 3);
	CHECK(run_pair());
	CHECK(both_ok(3, 0));
	side_versions(&D, (const uint32_t[]){ 2, 5 }, 2);
	CHECK(run_pair());
	return both_refused(-EPROTONOSUPPORT, KMIG_HS_NO_COMMON_VERSION, DST,
			    "destination supports protocol {2,5}, source offers {1,3,7}");
}

/*
 * Capabilities, page size, layout, identity
 */

static bool caps_intersection(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS);
	side_init(&D, DST, 1, 2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS | (1ULL << 40));
	CHECK(run_pair());
	return both_ok(2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS);
}

static bool caps_required_by_source_missing(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM);
	side_init(&D, DST, 1, 2, KMIG_CAP_ZERO_PAGES);
	CHECK_EQ(kmig_offer_require(&S.offer, KMIG_CAP_CHECKSUM), 0);
	CHECK(run_pair());
	CHECK(both_refused(-EOPNOTSUPP, KMIG_HS_MISSING_CAPABILITY, DST,
			   "required capability checksum"));
	CHECK_STR_HAS(S.res.message, "the source requires it");
	return true;
}

static bool caps_required_by_destination_missing(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_ZERO_PAGES);
	side_init(&D, DST, 1, 2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS);
	CHECK_EQ(kmig_offer_require(&D.offer, KMIG_CAP_BLOBS), 0);
	CHECK(run_pair());
	CHECK(both_refused(-EOPNOTSUPP, KMIG_HS_MISSING_CAPABILITY, DST,
			   "required capability blobs"));
	CHECK_STR_HAS(S.res.message, "the destination requires it");
	return true;
}

static bool caps_required_present(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS);
	side_init(&D, DST, 1, 2, KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS);
	kmig_offer_require(&S.offer, KMIG_CAP_CHECKSUM);
	kmig_offer_require(&D.offer, KMIG_CAP_BLOBS);
	CHECK(run_pair());
	return both_ok(2, KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS);
}

static bool page_size_mismatch(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	D.offer.page_size = 16384;
	CHECK(run_pair());
	return both_refused(-ECONNREFUSED, KMIG_HS_PAGE_SIZE_MISMATCH, DST,
			    "source uses 4096 bytes, destination uses 16384 bytes");
}

static bool layout_and_identity_delivered(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	CHECK_EQ(kmig_offer_add_region(&S.offer, 10, 1ULL << 30), 0);
	CHECK_EQ(kmig_offer_add_region(&S.offer, 3, 64 * 4096), 0);
	CHECK_EQ(kmig_offer_set_identity(&S.offer, "src-host", "vm-42"), 0);
	CHECK_EQ(kmig_offer_set_identity(&D.offer, "dst-h\xc3\xb6st", "vm-42"), 0);
	CHECK(run_pair());
	CHECK(both_ok(2, 0));
	for (int i = 0; i < 2; i++) {
		const struct kmig_hs_result *r = i ? &D.res : &S.res;

		CHECK_EQ(r->nr_regions, 2);
		CHECK_EQ(r->regions[0].id, 10);
		CHECK(r->regions[0].size == 1ULL << 30);
		CHECK_EQ(r->regions[1].id, 3);
		CHECK(r->regions[1].size == 64 * 4096);
	}
	CHECK(!strcmp(D.res.peer_host_id, "src-host"));
	CHECK(!strcmp(D.res.peer_vm_id, "vm-42"));
	CHECK(!strcmp(S.res.peer_host_id, "dst-h\xc3\xb6st"));
	CHECK(!strcmp(S.res.peer_vm_id, "vm-42"));
	return true;
}

static bool vm_identity_mismatch(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	kmig_offer_set_identity(&S.offer, NULL, "vm-a");
	kmig_offer_set_identity(&D.offer, NULL, "vm-b");
	CHECK(run_pair());
	return both_refused(-ECONNREFUSED, KMIG_HS_VM_MISMATCH, DST,
			    "the source sends VM \"vm-a\", the destination expects VM \"vm-b\"");
}

static bool vm_identity_missing(void)
{
	/* The destination expects a VM: a source naming none is refused. */
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	kmig_offer_set_identity(&D.offer, NULL, "vm-b");
	CHECK(run_pair());
	CHECK(both_refused(-ECONNREFUSED, KMIG_HS_VM_MISMATCH, DST,
			   "VM identity missing: the destination expects VM \"vm-b\", the source names no VM"));
	/* A destination expecting none takes any VM. */
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	kmig_offer_set_identity(&S.offer, NULL, "vm-a");
	CHECK(run_pair());
	CHECK(both_ok(2, 0));
	CHECK(!strcmp(D.res.peer_vm_id, "vm-a"));
	return true;
}

static bool large_hello_small_buffers(void)
{
	char id[KMIG_HS_ID_MAX + 1];
	int sv[2], small = 1;
	pthread_t t;

	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	memset(id, 'i', KMIG_HS_ID_MAX);
	id[KMIG_HS_ID_MAX] = '\0';
	kmig_offer_set_identity(&S.offer, id, id);
	kmig_offer_set_identity(&D.offer, id, id);
	for (uint32_t i = 0; i < KMIG_HS_MAX_REGIONS; i++)
		CHECK_EQ(kmig_offer_add_region(&S.offer, i * 7, (i + 1) * 4096ULL), 0);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	for (int i = 0; i < 2; i++) {
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	S.fd = sv[0];
	D.fd = sv[1];
	CHECK(!pthread_create(&t, NULL, side_thread, &D));
	side_run(&S);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	CHECK(both_ok(2, 0));
	CHECK_EQ(D.res.nr_regions, KMIG_HS_MAX_REGIONS);
	CHECK_EQ(D.res.regions[KMIG_HS_MAX_REGIONS - 1].id, (KMIG_HS_MAX_REGIONS - 1) * 7);
	CHECK_EQ(strlen(D.res.peer_host_id), KMIG_HS_ID_MAX);
	return true;
}

/*
 * Arguments and local errors
 */

static bool invalid_local_offer(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_CHECKSUM);
	side_init(&D, DST, 1, 2, 0);
	S.offer.caps_required = KMIG_CAP_BLOBS;	/* not supported: invalid */
	CHECK(run_pair());
	CHECK(side_failed(&S, -EINVAL, KMIG_HS_BAD_ARGUMENT, SRC, NULL));
	/* Nothing was sent: the destination sees the connection close. */
	return side_failed(&D, -ECONNRESET, KMIG_HS_PEER_CLOSED, DST, "closed");
}

static bool bad_arguments(void)
{
	static struct kmig_hs_result res;
	struct kmig_hs_opts small = { .sz = 4 };
	struct kmig_key shortkey = { .len = 5 };
	int sv[2], pfd[2];

	side_init(&S, SRC, 1, 2, 0);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK_EQ(kmig_handshake_source(sv[0], &S.offer, NULL, NULL), -EINVAL);
	CHECK_EQ(kmig_handshake_source(sv[0], NULL, NULL, &res), -EINVAL);
	CHECK_EQ(res.reason, KMIG_HS_BAD_ARGUMENT);
	CHECK_EQ(kmig_handshake_source(sv[0], &S.offer, &small, &res), -EINVAL);
	{
		KMIG_HS_OPTS(neg, .timeout_ms = -1);
		KMIG_HS_OPTS(sk, .key = &shortkey);

		CHECK_EQ(kmig_handshake_source(sv[0], &S.offer, &neg, &res), -EINVAL);
		CHECK_EQ(kmig_handshake_destination(sv[0], &S.offer, &sk, &res), -EINVAL);
	}
	CHECK_EQ(kmig_handshake_source(-1, &S.offer, NULL, &res), -EBADF);
	close(sv[0]);
	close(sv[1]);

	CHECK(!pipe(pfd));
	CHECK_EQ(kmig_handshake_source(pfd[1], &S.offer, NULL, &res), -ENOTSOCK);
	CHECK(strlen(res.message) > 0);
	close(pfd[0]);
	close(pfd[1]);

	CHECK(!socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	CHECK_EQ(kmig_handshake_destination(sv[0], &S.offer, NULL, &res), -EINVAL);
	CHECK_STR_HAS(res.message, "SOCK_STREAM");
	close(sv[0]);
	close(sv[1]);
	return true;
}

static bool default_options(void)
{
	int sv[2];
	pthread_t t;

	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	D.fd = sv[1];
	CHECK(!pthread_create(&t, NULL, side_thread, &D));
	/* NULL options: default timeout, no key. */
	S.ret = kmig_handshake_source(sv[0], &S.offer, NULL, &S.res);
	shutdown(sv[0], SHUT_WR);
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	return both_ok(2, 0);
}

/*
 * Robustness against what a peer sends
 */

static bool wire_unknown_noncritical_in_hello(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_f_str(&m1, 0x0777, "a field from the future");
	wb_end(&m1);
	confirm(&m2);
	raw_script(4, STEP_SEND(m1), STEP_RECV, STEP_SEND(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 3, 0);
	CHECK(run_raw(&D));
	CHECK(side_ok("destination", &D));
	CHECK_EQ(D.res.version, 2);
	CHECK(raw_got(W_ACCEPT));
	return true;
}

static bool wire_unknown_noncritical_in_accept(void)
{
	wb_begin(&m1, W_ACCEPT);
	wb_accept_fields(&m1, 2, 0, 4096);
	wb_f_u64(&m1, 0x0778, 12345);
	wb_end(&m1);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_ok("source", &S));
	CHECK_EQ(S.res.version, 2);
	CHECK(raw_got(W_CONFIRM));
	return true;
}

static bool wire_unknown_critical_in_hello(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_f_u32(&m1, W_CRIT | 0x0777, 1);
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_UNKNOWN_CRITICAL, DST,
			  "unknown critical field 1911"));
	return raw_got_refuse(KMIG_HS_UNKNOWN_CRITICAL);
}

static bool wire_unknown_critical_in_accept(void)
{
	wb_begin(&m1, W_ACCEPT);
	wb_accept_fields(&m1, 2, 0, 4096);
	wb_field(&m1, W_CRIT | 0x0100, 0);
	wb_end(&m1);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -EPROTO, KMIG_HS_UNKNOWN_CRITICAL, SRC, "critical"));
	CHECK(!raw_got(W_CONFIRM));
	return raw_got_refuse(KMIG_HS_UNKNOWN_CRITICAL);
}

static bool wire_truncated_field(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_field(&m1, WF_HOST_ID, 200);		/* 200 announced, 5 present */
	wb_raw(&m1, "short", 5);
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_TRUNCATED, DST, "past the end"));
	return raw_got_refuse(KMIG_HS_TRUNCATED);
}

static bool wire_truncated_message_then_close(void)
{
	hello_std(&m1);
	raw_script(2, STEP_PART(m1, m1.n - 7), STEP_HANGUP);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	return side_failed(&D, -ECONNRESET, KMIG_HS_PEER_CLOSED, DST,
			   "in the middle of HELLO");
}

static bool wire_truncated_message_then_silence(void)
{
	hello_std(&m1);
	raw_script(2, STEP_PART(m1, m1.n - 7), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	D.timeout_ms = SHORT_MS;
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -ETIMEDOUT, KMIG_HS_TIMEOUT, DST, "timed out"));
	CHECK(D.elapsed_ms < 3 * SHORT_MS);
	return true;
}

static bool wire_oversized_length(void)
{
	hello_std(&m1);
	wb_set_len(&m1, 1U << 20);		/* 1 MiB body announced */
	raw_script(2, STEP_PART(m1, 12), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_TOO_LARGE, DST, "exceeds the limit"));
	/* Refused from the header: not waiting for a body or the timeout. */
	CHECKF(D.elapsed_ms < T_MS / 2, "took %lld ms", (long long)D.elapsed_ms);
	return raw_got_refuse(KMIG_HS_TOO_LARGE);
}

static bool wire_duplicate_field(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_f_u64(&m1, WF_CAPS, 0);
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_DUPLICATE_FIELD, DST, "twice"));
	return raw_got_refuse(KMIG_HS_DUPLICATE_FIELD);
}

static bool wire_missing_required_field(void)
{
	wb_begin(&m1, W_HELLO);
	wb_f_versions(&m1, (const uint32_t[]){ 1 }, 1);
	wb_f_u64(&m1, WF_CAPS, 0);
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_MISSING_FIELD, DST, "PAGE_SIZE"));
	return raw_got_refuse(KMIG_HS_MISSING_FIELD);
}

static bool wire_garbage_body(void)
{
	uint32_t x = 0x12345678;

	wb_begin(&m1, W_HELLO);
	for (int i = 0; i < 300; i++) {
		x = x * 1103515245 + 12345;
		wb_u8(&m1, (uint8_t)(x >> 16));
	}
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	tap_diag("destination: %s: %s", kmig_hs_reason_name(D.res.reason),
		 D.res.message);
	CHECK_EQ(D.ret, -EPROTO);
	CHECK(D.res.reason >= KMIG_HS_MALFORMED &&
	      D.res.reason <= KMIG_HS_UNEXPECTED_MESSAGE);
	return raw_got_refuse(D.res.reason);
}

static bool wire_garbage_bytes(void)
{
	static const char junk[] = "\x93\x01\xfe\x00garbage\xff\xff\xff\xff\x00\x01\x02";

	raw_script(2, STEP_BYTES(junk), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_BAD_MAGIC, DST,
			  "does not speak the kmig handshake"));
	return raw_got_refuse(KMIG_HS_BAD_MAGIC);
}

static bool wire_other_protocol_at_destination(void)
{
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";

	raw_script(2, STEP_BYTES(ssh), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_BAD_MAGIC, DST, "\"SSH-\""));
	/* Immediately, not after the timeout. */
	CHECK(D.elapsed_ms < T_MS / 2);
	return raw_got_refuse(KMIG_HS_BAD_MAGIC);
}

static bool wire_other_protocol_at_source(void)
{
	static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

	raw_script(3, STEP_RECV, STEP_BYTES(http), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -EPROTO, KMIG_HS_BAD_MAGIC, SRC, "wrong address or port"));
	return raw_got_refuse(KMIG_HS_BAD_MAGIC);
}

static bool wire_wrong_format_version(void)
{
	wb_hdr(&m1, "KMHS", 2, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_BAD_FORMAT, DST, "format 2"));
	return raw_got_refuse(KMIG_HS_BAD_FORMAT);
}

static bool wire_unexpected_message(void)
{
	confirm(&m1);		/* CONFIRM where HELLO belongs */
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_UNEXPECTED_MESSAGE, DST,
			  "expected HELLO from the source, received CONFIRM"));
	return raw_got_refuse(KMIG_HS_UNEXPECTED_MESSAGE);
}

static bool silent_peer_at_destination(void)
{
	raw_script(1, STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	D.timeout_ms = SHORT_MS;
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -ETIMEDOUT, KMIG_HS_TIMEOUT, DST,
			  "timed out after 200 ms waiting for HELLO from the source"));
	tap_diag("elapsed %lld ms for a %d ms timeout", (long long)D.elapsed_ms, SHORT_MS);
	CHECK(D.elapsed_ms >= SHORT_MS - 10);
	CHECK(D.elapsed_ms < 3 * SHORT_MS);
	/* The silent peer is told, in case it is listening. */
	return raw_got_refuse(KMIG_HS_TIMEOUT);
}

static bool silent_peer_at_source(void)
{
	raw_script(2, STEP_RECV, STEP_WAIT_EOF);	/* reads HELLO, never answers */
	side_init(&S, SRC, 1, 2, 0);
	S.timeout_ms = SHORT_MS;
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -ETIMEDOUT, KMIG_HS_TIMEOUT, SRC, "waiting for ACCEPT"));
	tap_diag("elapsed %lld ms for a %d ms timeout", (long long)S.elapsed_ms, SHORT_MS);
	CHECK(S.elapsed_ms >= SHORT_MS - 10);
	CHECK(S.elapsed_ms < 3 * SHORT_MS);
	return true;
}

static bool peer_closes_immediately(void)
{
	raw_script(1, STEP_HANGUP);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -ECONNRESET, KMIG_HS_PEER_CLOSED, DST,
			  "closed the connection"));
	raw_script(1, STEP_HANGUP);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	return side_failed(&S, -ECONNRESET, KMIG_HS_PEER_CLOSED, SRC, "closed");
}

static bool peer_closes_mid_handshake(void)
{
	hello_std(&m1);
	raw_script(3, STEP_SEND(m1), STEP_RECV, STEP_HANGUP);	/* no CONFIRM */
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(raw_got(W_ACCEPT));
	return side_failed(&D, -ECONNRESET, KMIG_HS_PEER_CLOSED, DST,
			   "waiting for CONFIRM");
}

static bool stream_after_confirm_untouched(void)
{
	static const char stream[] = "KMIG...first bytes of the migration stream";

	hello_std(&m1);
	confirm(&m2);
	wb_raw(&m2, stream, sizeof(stream) - 1);	/* right behind CONFIRM */
	raw_script(4, STEP_SEND(m1), STEP_RECV, STEP_SEND(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_ok("destination", &D));
	CHECK_EQ(leftover_len, (ssize_t)sizeof(stream) - 1);
	leftover[leftover_len] = '\0';
	CHECK(!strcmp(leftover, stream));
	return true;
}

static bool short_reads_byte_by_byte(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, KMIG_CAP_CHECKSUM, 4096);
	wb_f_str(&m1, WF_HOST_ID, "slow-peer");
	wb_end(&m1);
	confirm(&m2);
	raw_script(4, STEP_SLOW(m1), STEP_RECV, STEP_SLOW(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, KMIG_CAP_CHECKSUM);
	CHECK(run_raw(&D));
	CHECK(side_ok("destination", &D));
	CHECK_EQ(D.res.caps, KMIG_CAP_CHECKSUM);
	CHECK(!strcmp(D.res.peer_host_id, "slow-peer"));
	return true;
}

static volatile sig_atomic_t sig_count;
static volatile bool storm_stop;
static pthread_t storm_target;

static void on_signal(int sig)
{
	(void)sig;
	sig_count++;
}

static void *storm_thread(void *arg)
{
	(void)arg;
	while (!storm_stop) {
		pthread_kill(storm_target, SIGUSR1);
		usleep(300);
	}
	return NULL;
}

static bool eintr_signal_storm(void)
{
	struct sigaction sa = { .sa_handler = on_signal }, old;	/* no SA_RESTART */
	pthread_t storm;

	hello_std(&m1);
	confirm(&m2);
	raw_script(4, STEP_SLOW(m1), STEP_RECV, STEP_SLOW(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	sigemptyset(&sa.sa_mask);
	CHECK(!sigaction(SIGUSR1, &sa, &old));
	sig_count = 0;
	storm_stop = false;
	storm_target = pthread_self();
	CHECK(!pthread_create(&storm, NULL, storm_thread, NULL));
	run_raw(&D);
	storm_stop = true;
	pthread_join(storm, NULL);
	sigaction(SIGUSR1, &old, NULL);
	tap_diag("%d signals during the handshake", (int)sig_count);
	CHECK(sig_count > 10);
	return side_ok("destination", &D);
}

static bool peer_refusal_unknown_code(void)
{
	wb_begin(&m1, W_REFUSE);
	wb_f_u32(&m1, WF_REASON, 200);
	wb_f_str(&m1, WF_REASON_TEXT, "maintenance window: try again at 03:00");
	wb_end(&m1);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -ECONNREFUSED, 200, DST,
			  "maintenance window: try again at 03:00"));
	/* A refusal is final: nothing is sent back. */
	CHECK(!raw_got(W_REFUSE) && !raw_got(W_CONFIRM));
	return true;
}

static bool peer_refusal_without_text(void)
{
	wb_begin(&m1, W_REFUSE);
	wb_f_u32(&m1, WF_REASON, KMIG_HS_PAGE_SIZE_MISMATCH);
	wb_end(&m1);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	return side_failed(&S, -ECONNREFUSED, KMIG_HS_PAGE_SIZE_MISMATCH, DST,
			   kmig_hs_reason_str(KMIG_HS_PAGE_SIZE_MISMATCH));
}

static bool accept_version_not_offered(void)
{
	accept_std(&m1, 5, 0);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -EPROTO, KMIG_HS_INCONSISTENT_ACCEPT, SRC,
			  "chose protocol 5, which the source did not offer"));
	CHECK(!raw_got(W_CONFIRM));
	return raw_got_refuse(KMIG_HS_INCONSISTENT_ACCEPT);
}

static bool accept_caps_not_offered(void)
{
	accept_std(&m1, 2, KMIG_CAP_BLOBS);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, KMIG_CAP_CHECKSUM);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -EPROTO, KMIG_HS_INCONSISTENT_ACCEPT, SRC, "blobs"));
	return raw_got_refuse(KMIG_HS_INCONSISTENT_ACCEPT);
}

static bool accept_drops_required_cap(void)
{
	accept_std(&m1, 2, 0);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, KMIG_CAP_CHECKSUM);
	kmig_offer_require(&S.offer, KMIG_CAP_CHECKSUM);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -EOPNOTSUPP, KMIG_HS_MISSING_CAPABILITY, SRC, "checksum"));
	return raw_got_refuse(KMIG_HS_MISSING_CAPABILITY);
}

static bool accept_page_size_differs(void)
{
	wb_begin(&m1, W_ACCEPT);
	wb_accept_fields(&m1, 2, 0, 65536);
	wb_end(&m1);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	CHECK(run_raw(&S));
	CHECK(side_failed(&S, -ECONNREFUSED, KMIG_HS_PAGE_SIZE_MISMATCH, SRC, "65536"));
	return raw_got_refuse(KMIG_HS_PAGE_SIZE_MISMATCH);
}

static bool bad_layout_from_source(void)
{
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_field(&m1, WF_LAYOUT, 12);
	wb_u32(&m1, 1);
	wb_u64(&m1, 4096 + 512);		/* not a page multiple */
	wb_end(&m1);
	raw_script(2, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -ECONNREFUSED, KMIG_HS_BAD_LAYOUT, DST,
			  "region 1 has size 4608"));
	return raw_got_refuse(KMIG_HS_BAD_LAYOUT);
}

/*
 * Authentication
 */

#define KEY_A	"0123456789abcdef0123456789abcdef"
#define KEY_B	"0123456789abcdef0123456789abcdeF"

static bool auth_same_key(void)
{
	side_init(&S, SRC, 1, 2, KMIG_CAP_CHECKSUM);
	side_init(&D, DST, 1, 2, KMIG_CAP_CHECKSUM);
	side_key(&S, KEY_A);
	side_key(&D, KEY_A);
	CHECK(run_pair());
	CHECK(both_ok(2, KMIG_CAP_CHECKSUM));
	CHECK_EQ(S.res.authenticated, 1);
	CHECK_EQ(D.res.authenticated, 1);
	return true;
}

static bool auth_wrong_key(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	side_key(&S, KEY_A);
	side_key(&D, KEY_B);
	CHECK(run_pair());
	return both_refused(-EACCES, KMIG_HS_AUTH_FAILED, DST,
			    "authentication failed: key mismatch");
}

static bool auth_key_on_source_only(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	side_key(&S, KEY_A);
	CHECK(run_pair());
	return both_refused(-EACCES, KMIG_HS_AUTH_REQUIRED, DST,
			    "the source requires authentication but the destination has no key");
}

static bool auth_key_on_destination_only(void)
{
	side_init(&S, SRC, 1, 2, 0);
	side_init(&D, DST, 1, 2, 0);
	side_key(&D, KEY_A);
	CHECK(run_pair());
	return both_refused(-EACCES, KMIG_HS_AUTH_REQUIRED, DST,
			    "peer did not authenticate");
}

static bool auth_accept_without_nonce(void)
{
	/* A destination that ignores auth altogether (an old binary). */
	accept_std(&m1, 2, 0);
	raw_script(3, STEP_RECV, STEP_SEND(m1), STEP_WAIT_EOF);
	side_init(&S, SRC, 1, 2, 0);
	side_key(&S, KEY_A);
	CHECK(run_raw(&S));
	CHECK(R.got[0].type == W_HELLO && R.got[0].has_nonce);
	CHECK(side_failed(&S, -EACCES, KMIG_HS_AUTH_REQUIRED, SRC,
			  "peer did not authenticate"));
	CHECK(!raw_got(W_CONFIRM) && !raw_got(W_AUTH));
	return raw_got_refuse(KMIG_HS_AUTH_REQUIRED);
}

static bool auth_cannot_be_skipped(void)
{
	static const uint8_t nonce[32] = { 9, 9, 9 };

	/* A source that sends a nonce but then jumps to CONFIRM. */
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_f_bytes(&m1, WF_NONCE, nonce, 32);
	wb_end(&m1);
	confirm(&m2);
	raw_script(4, STEP_SEND(m1), STEP_RECV, STEP_SEND(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	side_key(&D, KEY_A);
	CHECK(run_raw(&D));
	CHECK(raw_got(W_ACCEPT) && R.got[0].has_nonce);
	CHECK(side_failed(&D, -EPROTO, KMIG_HS_UNEXPECTED_MESSAGE, DST,
			  "expected AUTH"));
	CHECK_EQ(D.res.authenticated, 0);
	return raw_got_refuse(KMIG_HS_UNEXPECTED_MESSAGE);
}

static bool auth_forged_mac(void)
{
	static const uint8_t nonce[32] = { 1 };
	uint8_t mac[32];

	memset(mac, 0x5a, sizeof(mac));
	wb_begin(&m1, W_HELLO);
	wb_hello_fields(&m1, 1, 2, 0, 4096);
	wb_f_bytes(&m1, WF_NONCE, nonce, 32);
	wb_end(&m1);
	wb_begin(&m2, W_AUTH);
	wb_f_bytes(&m2, WF_MAC, mac, 32);
	wb_end(&m2);
	raw_script(4, STEP_SEND(m1), STEP_RECV, STEP_SEND(m2), STEP_WAIT_EOF);
	side_init(&D, DST, 1, 2, 0);
	side_key(&D, KEY_A);
	CHECK(run_raw(&D));
	CHECK(side_failed(&D, -EACCES, KMIG_HS_AUTH_FAILED, DST, "key mismatch"));
	/* The destination did not reveal its own MAC. */
	CHECK(!raw_got(W_AUTH));
	return raw_got_refuse(KMIG_HS_AUTH_FAILED);
}

/* Man in the middle between source (a) and destination (b). */
struct relay {
	int a, b;
	bool tamper;
	uint8_t buf[W_MAX];
};

static struct relay M;

static void *relay_thread(void *arg)
{
	struct relay *r = arg;
	int from = r->a, to = r->b;
	bool first = true;

	for (;;) {
		uint32_t len;

		if (!raw_read(from, r->buf, 12) ||
		    (len = rd_u32(r->buf + 8)) > W_MAX - 12 ||
		    !raw_read(from, r->buf + 12, len)) {
			shutdown(r->a, SHUT_WR);
			shutdown(r->b, SHUT_WR);
			break;
		}
		if (first && r->tamper) {
			uint16_t flen;
			uint8_t *v = (uint8_t *)rd_field(r->buf, 12 + len, 2, &flen);

			/* Downgrade: strip "checksum" from the source's offer. */
			if (v && flen == 8)
				v[0] &= (uint8_t)~KMIG_CAP_CHECKSUM;
		}
		first = false;
		raw_send(to, r->buf, 12 + len, false);
		from = from == r->a ? r->b : r->a;
		to = to == r->a ? r->b : r->a;
	}
	return NULL;
}

static bool run_relayed(bool tamper)
{
	int sa[2], sb[2];
	pthread_t td, tr;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sa))
		return false;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sb)) {
		close(sa[0]);
		close(sa[1]);
		return false;
	}
	S.fd = sa[0];
	M.a = sa[1];
	M.b = sb[0];
	M.tamper = tamper;
	D.fd = sb[1];
	pthread_create(&td, NULL, side_thread, &D);
	pthread_create(&tr, NULL, relay_thread, &M);
	side_run(&S);
	pthread_join(td, NULL);
	pthread_join(tr, NULL);
	close(sa[0]);
	close(sa[1]);
	close(sb[0]);
	close(sb[1]);
	return true;
}

static bool auth_detects_tampering(void)
{
	const uint64_t caps = KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM;

	/* Through an honest relay the handshake works... */
	side_init(&S, SRC, 1, 2, caps);
	side_init(&D, DST, 1, 2, caps);
	side_key(&S, KEY_A);
	side_key(&D, KEY_A);
	CHECK(run_relayed(false));
	CHECK(both_ok(2, caps));
	/* ... and without a key a downgrade goes unnoticed ... */
	side_init(&S, SRC, 1, 2, caps);
	side_init(&D, DST, 1, 2, caps);
	CHECK(run_relayed(true));
	CHECK(both_ok(2, KMIG_CAP_ZERO_PAGES));
	/* ... but with a key, the altered HELLO breaks the MACs. */
	side_init(&S, SRC, 1, 2, caps);
	side_init(&D, DST, 1, 2, caps);
	side_key(&S, KEY_A);
	side_key(&D, KEY_A);
	CHECK(run_relayed(true));
	return both_refused(-EACCES, KMIG_HS_AUTH_FAILED, DST, "key mismatch");
}

/*
 * The listener: kmig_listen_handshake() as the destination in a thread, on
 * 127.0.0.1; connectors run one after the other in the main thread.
 */

struct lsn {
	int lfd;
	uint16_t port;
	struct kmig_offer offer;
	struct kmig_key key;
	bool use_key;
	int timeout_ms;
	int accept_timeout_ms;
	unsigned int max_rejects;
	int ret;
	int64_t elapsed_ms;
	struct kmig_hs_result res;
	char peer[KMIG_LISTEN_PEER_MAX];
	unsigned int nr_rejects;
	uint32_t reasons[8];
	char reject_peer[KMIG_LISTEN_PEER_MAX];
	pthread_t thread;
};

static struct lsn L;

static void lsn_reject(void *opaque, const char *peer,
		       const struct kmig_hs_result *res)
{
	struct lsn *l = opaque;

	tap_diag("rejected %s: %s: %s", peer, kmig_hs_reason_name(res->reason),
		 res->message);
	if (l->nr_rejects < sizeof(l->reasons) / sizeof(l->reasons[0]))
		l->reasons[l->nr_rejects] = res->reason;
	l->nr_rejects++;
	snprintf(l->reject_peer, sizeof(l->reject_peer), "%s", peer);
}

static void *lsn_thread(void *arg)
{
	struct lsn *l = arg;
	KMIG_HS_OPTS(h, .timeout_ms = l->timeout_ms,
		     .key = l->use_key ? &l->key : NULL);
	KMIG_LISTEN_OPTS(o, .hs = &h, .accept_timeout_ms = l->accept_timeout_ms,
			 .max_rejects = l->max_rejects, .on_reject = lsn_reject,
			 .opaque = l);
	int64_t t0 = now_ms();

	l->ret = kmig_listen_handshake(l->lfd, KMIG_HS_ROLE_DESTINATION,
				       &l->offer, &o, &l->res, l->peer,
				       sizeof(l->peer));
	l->elapsed_ms = now_ms() - t0;
	return NULL;
}

static void lsn_init(uint32_t vmin, uint32_t vmax)
{
	memset(&L, 0, sizeof(L));
	L.lfd = -1;
	kmig_offer_init(&L.offer);
	L.offer.page_size = 4096;
	kmig_offer_set_versions(&L.offer, vmin, vmax);
	L.timeout_ms = T_MS;
	L.accept_timeout_ms = 20000;	/* a broken test ends, too */
}

static bool lsn_start(void)
{
	char where[KMIG_LISTEN_PEER_MAX];

	L.lfd = kmig_listen_socket("127.0.0.1:0", where, sizeof(where));
	CHECKF(L.lfd >= 0, "kmig_listen_socket: %d", L.lfd);
	CHECK_STR_HAS(where, "127.0.0.1:");
	L.port = (uint16_t)atoi(where + strlen("127.0.0.1:"));
	CHECK(L.port != 0);
	CHECK(!pthread_create(&L.thread, NULL, lsn_thread, &L));
	return true;
}

/* Wait for the listener; close its sockets (L.ret keeps the value). */
static void lsn_join(void)
{
	pthread_join(L.thread, NULL);
	close(L.lfd);
	if (L.ret >= 0)
		close(L.ret);
	tap_diag("listener: %d %s after %lld ms, %u rejected: %s", L.ret,
		 kmig_hs_reason_name(L.res.reason), (long long)L.elapsed_ms,
		 L.nr_rejects, L.res.message);
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A library source connects and runs its handshake. */
static bool source_connects(struct side *s)
{
	s->fd = tcp_connect(L.port);
	CHECK(s->fd >= 0);
	side_run(s);
	close(s->fd);
	s->fd = -1;
	return true;
}

/*
 * A connector sends len bytes (none: silent) and reads until the listener
 * closes, which must first answer with REFUSE(reason).
 */
static bool raw_connects(const void *bytes, size_t len, uint32_t reason)
{
	int fd = tcp_connect(L.port);
	const uint8_t *v;
	uint16_t vlen = 0;
	size_t got = 0;
	ssize_t n;

	CHECK(fd >= 0);
	if (len)
		CHECK(write(fd, bytes, len) == (ssize_t)len);
	while (raw_wait(fd, POLLIN) &&
	       (n = read(fd, R.buf + got, sizeof(R.buf) - got)) > 0)
		got += (size_t)n;
	close(fd);
	CHECKF(got >= 12 && !memcmp(R.buf, "KMHS", 4) && rd_u16(R.buf + 6) == W_REFUSE,
	       "got %zu bytes back", got);
	v = rd_field(R.buf, got, WF_REASON, &vlen);
	CHECK(v && vlen == 4);
	CHECK_EQ(rd_u32(v), reason);
	return true;
}

#define HTTP_GET	"GET / HTTP/1.0\r\n\r\n"

static bool listen_garbage_then_good(void)
{
	lsn_init(1, 2);
	CHECK(lsn_start());
	CHECK(raw_connects(HTTP_GET, strlen(HTTP_GET), KMIG_HS_BAD_MAGIC));
	side_init(&S, SRC, 1, 2, 0);
	CHECK(source_connects(&S));
	lsn_join();
	CHECK(side_ok("source", &S));
	CHECKF(L.ret >= 0, "listener returned %d", L.ret);
	CHECK_EQ(L.res.status, 0);
	CHECK_EQ(L.res.version, 2);
	CHECK_EQ(L.nr_rejects, 1);
	CHECK_EQ(L.reasons[0], KMIG_HS_BAD_MAGIC);
	CHECK_STR_HAS(L.reject_peer, "127.0.0.1:");
	CHECK_STR_HAS(L.peer, "127.0.0.1:");
	CHECK(strcmp(L.peer, L.reject_peer));	/* another connection */
	return true;
}

static bool listen_wrong_key_then_good(void)
{
	lsn_init(1, 2);
	kmig_key_set(&L.key, KEY_A, strlen(KEY_A));
	L.use_key = true;
	CHECK(lsn_start());
	/* Another key, then no key at all: neither gets in. */
	side_init(&S, SRC, 1, 2, 0);
	side_key(&S, KEY_B);
	CHECK(source_connects(&S));
	CHECK(side_failed(&S, -EACCES, KMIG_HS_AUTH_FAILED, DST, "key mismatch"));
	side_init(&S, SRC, 1, 2, 0);
	CHECK(source_connects(&S));
	CHECK(side_failed(&S, -EACCES, KMIG_HS_AUTH_REQUIRED, DST,
			  "peer did not authenticate"));
	side_init(&S, SRC, 1, 2, 0);
	side_key(&S, KEY_A);
	CHECK(source_connects(&S));
	lsn_join();
	CHECK(side_ok("source", &S));
	CHECKF(L.ret >= 0, "listener returned %d", L.ret);
	CHECK_EQ(L.res.authenticated, 1);
	CHECK_EQ(L.nr_rejects, 2);
	CHECK_EQ(L.reasons[0], KMIG_HS_AUTH_FAILED);
	CHECK_EQ(L.reasons[1], KMIG_HS_AUTH_REQUIRED);
	return true;
}

static bool listen_wrong_vm_then_good(void)
{
	lsn_init(1, 2);
	kmig_offer_set_identity(&L.offer, NULL, "vm-a");
	CHECK(lsn_start());
	/* Another VM, then none: refused with the reason, and rejected. */
	side_init(&S, SRC, 1, 2, 0);
	kmig_offer_set_identity(&S.offer, NULL, "vm-b");
	CHECK(source_connects(&S));
	CHECK(side_failed(&S, -ECONNREFUSED, KMIG_HS_VM_MISMATCH, DST,
			  "the source sends VM \"vm-b\", the destination expects VM \"vm-a\""));
	side_init(&S, SRC, 1, 2, 0);
	CHECK(source_connects(&S));
	CHECK(side_failed(&S, -ECONNREFUSED, KMIG_HS_VM_MISMATCH, DST,
			  "VM identity missing: the destination expects VM \"vm-a\""));
	side_init(&S, SRC, 1, 2, 0);
	kmig_offer_set_identity(&S.offer, NULL, "vm-a");
	CHECK(source_connects(&S));
	lsn_join();
	CHECK(side_ok("source", &S));
	CHECKF(L.ret >= 0, "listener returned %d", L.ret);
	CHECK(!strcmp(L.res.peer_vm_id, "vm-a"));
	CHECK_EQ(L.nr_rejects, 2);
	CHECK_EQ(L.reasons[0], KMIG_HS_VM_MISMATCH);
	CHECK_EQ(L.reasons[1], KMIG_HS_VM_MISMATCH);
	return true;
}

static bool listen_silent_then_good(void)
{
	lsn_init(1, 2);
	L.timeout_ms = 1000;	/* per connection: the good one needs less */
	CHECK(lsn_start());
	CHECK(raw_connects(NULL, 0, KMIG_HS_TIMEOUT));
	side_init(&S, SRC, 1, 2, 0);
	CHECK(source_connects(&S));
	lsn_join();
	CHECK(side_ok("source", &S));
	CHECKF(L.ret >= 0, "listener returned %d", L.ret);
	CHECK_EQ(L.nr_rejects, 1);
	CHECK_EQ(L.reasons[0], KMIG_HS_TIMEOUT);
	return true;
}

static bool listen_reject_bound(void)
{
	lsn_init(1, 2);
	L.max_rejects = 2;
	CHECK(lsn_start());
	CHECK(raw_connects("garbage!", 8, KMIG_HS_BAD_MAGIC));
	CHECK(raw_connects(HTTP_GET, strlen(HTTP_GET), KMIG_HS_BAD_MAGIC));
	lsn_join();
	CHECK_EQ(L.ret, -ECONNREFUSED);
	CHECK_EQ(L.res.status, -ECONNREFUSED);
	CHECK_EQ(L.res.reason, KMIG_HS_TOO_MANY_REJECTS);
	CHECK_EQ(L.res.refused_by, DST);
	CHECK_EQ(L.nr_rejects, 2);
	CHECK_STR_HAS(L.res.message, "after 2 rejected connections");
	CHECK_STR_HAS(L.res.message, "failed with bad_magic");
	CHECK_STR_HAS(L.res.message, L.reject_peer);
	CHECK(!strcmp(kmig_hs_reason_name(L.res.reason), "too_many_rejects"));
	/* The listener is gone: nobody accepts the next one. */
	CHECK(tcp_connect(L.port) < 0);
	return true;
}

static bool listen_accept_timeout(void)
{
	/* Nobody comes. */
	lsn_init(1, 2);
	L.accept_timeout_ms = 150;
	CHECK(lsn_start());
	lsn_join();
	CHECK_EQ(L.ret, -ETIMEDOUT);
	CHECK_EQ(L.res.reason, KMIG_HS_ACCEPT_TIMEOUT);
	CHECK_STR_HAS(L.res.message, "no connection on 127.0.0.1:");
	CHECK(L.peer[0] == '\0');
	CHECK(L.elapsed_ms >= 140 && L.elapsed_ms < 2000);
	/* Only strangers come; the deadline also cuts a handshake short. */
	lsn_init(1, 2);
	L.accept_timeout_ms = 1000;
	CHECK(lsn_start());
	CHECK(raw_connects(HTTP_GET, strlen(HTTP_GET), KMIG_HS_BAD_MAGIC));
	CHECK(raw_connects(NULL, 0, KMIG_HS_TIMEOUT));	/* past the deadline */
	lsn_join();
	CHECK_EQ(L.ret, -ETIMEDOUT);
	CHECK_EQ(L.res.reason, KMIG_HS_ACCEPT_TIMEOUT);
	CHECK_STR_HAS(L.res.message, "no acceptable peer on 127.0.0.1:");
	CHECK_STR_HAS(L.res.message, "within 1000 ms (2 connections rejected)");
	CHECK(L.elapsed_ms < 3000);
	return true;
}

static bool listen_misconfigured_peer(void)
{
	/* No key: a well-formed source refused for its offer ends the wait. */
	lsn_init(1, 1);
	CHECK(lsn_start());
	side_init(&S, SRC, 2, 3, 0);
	CHECK(source_connects(&S));
	lsn_join();
	CHECK_EQ(S.ret, -EPROTONOSUPPORT);
	CHECK_EQ(L.ret, -EPROTONOSUPPORT);
	CHECK_EQ(L.res.reason, KMIG_HS_NO_COMMON_VERSION);
	CHECK_EQ(L.nr_rejects, 0);
	CHECK_STR_HAS(L.peer, "127.0.0.1:");
	/* With a key, it has not proved anything yet: rejected, wait on. */
	lsn_init(1, 1);
	kmig_key_set(&L.key, KEY_A, strlen(KEY_A));
	L.use_key = true;
	CHECK(lsn_start());
	side_init(&S, SRC, 2, 3, 0);
	side_key(&S, KEY_A);
	CHECK(source_connects(&S));
	CHECK_EQ(S.ret, -EPROTONOSUPPORT);
	side_init(&S, SRC, 1, 3, 0);
	side_key(&S, KEY_A);
	CHECK(source_connects(&S));
	lsn_join();
	CHECK(side_ok("source", &S));
	CHECKF(L.ret >= 0, "listener returned %d", L.ret);
	CHECK_EQ(L.nr_rejects, 1);
	CHECK_EQ(L.reasons[0], KMIG_HS_NO_COMMON_VERSION);
	return true;
}

static bool listen_socket_addresses(void)
{
	static const char *const bad[] = {
		"", "x", "7000x", "-1", "65536", "127.0.0.1:", ":7000",
		"127.0.0.1:65536", "127.0.0.1:0x10", "127.0.0.1:+1",
		"127.0.0.1:7000:1", "localhost:7000", "1.2.3:7000",
		"256.0.0.1:7000", "::1:7000", "[::1]7000", "[::1]:", "[::1",
		"[]:7000", "[127.0.0.1]:7000", "[::1]:123456",
	};
	char where[KMIG_LISTEN_PEER_MAX];
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(kmig_listen_socket(bad[i], where, sizeof(where)) == -EINVAL,
		       "'%s' accepted", bad[i]);
	CHECK_EQ(kmig_listen_socket(NULL, NULL, 0), -EINVAL);

	fd = kmig_listen_socket("127.0.0.1:0", where, sizeof(where));
	CHECK(fd >= 0);
	CHECK(!getsockname(fd, (struct sockaddr *)&in, &len));
	CHECK_EQ(in.sin_family, AF_INET);
	CHECK_EQ(ntohl(in.sin_addr.s_addr), INADDR_LOOPBACK);
	CHECK(in.sin_port != 0);
	CHECK(!strncmp(where, "127.0.0.1:", 10));
	CHECK_EQ(atoi(where + 10), ntohs(in.sin_port));
	/* The port is taken now. */
	CHECK_EQ(kmig_listen_socket(where, NULL, 0), -EADDRINUSE);
	close(fd);

	/* A bare port: all IPv4 addresses. */
	fd = kmig_listen_socket("0", where, sizeof(where));
	CHECK(fd >= 0);
	CHECK_STR_HAS(where, "0.0.0.0:");
	close(fd);

	fd = kmig_listen_socket("[::1]:0", where, sizeof(where));
	if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) {
		tap_skip("no IPv6 loopback (%d)", fd);
		return true;
	}
	CHECK(fd >= 0);
	CHECK_STR_HAS(where, "[::1]:");
	close(fd);
	return true;
}

static bool listen_bad_arguments(void)
{
	static struct kmig_hs_result res;
	static struct kmig_offer offer;
	struct kmig_listen_opts small = { .sz = 8 };
	int sv[2], lfd;

	kmig_offer_init(&offer);
	kmig_offer_set_versions(&offer, 1, 2);
	lfd = kmig_listen_socket("127.0.0.1:0", NULL, 0);
	CHECK(lfd >= 0);
	CHECK_EQ(kmig_listen_handshake(lfd, DST, &offer, NULL, NULL, NULL, 0), -EINVAL);
	CHECK_EQ(kmig_listen_handshake(lfd, 7, &offer, NULL, &res, NULL, 0), -EINVAL);
	CHECK_EQ(res.reason, KMIG_HS_BAD_ARGUMENT);
	CHECK_EQ(kmig_listen_handshake(lfd, DST, &offer, &small, &res, NULL, 0), -EINVAL);
	CHECK_STR_HAS(res.message, "KMIG_LISTEN_OPTS");
	{
		KMIG_LISTEN_OPTS(neg, .accept_timeout_ms = -1);

		CHECK_EQ(kmig_listen_handshake(lfd, DST, &offer, &neg, &res, NULL, 0), -EINVAL);
	}
	CHECK_EQ(kmig_listen_handshake(lfd, DST, NULL, NULL, &res, NULL, 0), -EINVAL);
	CHECK_EQ(kmig_listen_handshake(-1, DST, &offer, NULL, &res, NULL, 0), -EBADF);
	close(lfd);
	/* A connected socket is no listener. */
	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK_EQ(kmig_listen_handshake(sv[0], DST, &offer, NULL, &res, NULL, 0), -EINVAL);
	CHECK_STR_HAS(res.message, "listening");
	close(sv[0]);
	close(sv[1]);
	return true;
}

static const struct tap_test tests[] = {
	TEST(neg_equal_windows),
	TEST(neg_old_source_new_destination),
	TEST(neg_new_source_old_destination),
	TEST(neg_disjoint_source_newer),
	TEST(neg_disjoint_source_older),
	TEST(neg_single_version_windows),
	TEST(neg_highest_common_chosen),
	TEST(neg_sparse_version_sets),
	TEST(caps_intersection),
	TEST(caps_required_by_source_missing),
	TEST(caps_required_by_destination_missing),
	TEST(caps_required_present),
	TEST(page_size_mismatch),
	TEST(layout_and_identity_delivered),
	TEST(vm_identity_mismatch),
	TEST(vm_identity_missing),
	TEST(large_hello_small_buffers),
	TEST(invalid_local_offer),
	TEST(bad_arguments),
	TEST(default_options),
	TEST(wire_unknown_noncritical_in_hello),
	TEST(wire_unknown_noncritical_in_accept),
	TEST(wire_unknown_critical_in_hello),
	TEST(wire_unknown_critical_in_accept),
	TEST(wire_truncated_field),
	TEST(wire_truncated_message_then_close),
	TEST(wire_truncated_message_then_silence),
	TEST(wire_oversized_length),
	TEST(wire_duplicate_field),
	TEST(wire_missing_required_field),
	TEST(wire_garbage_body),
	TEST(wire_garbage_bytes),
	TEST(wire_other_protocol_at_destination),
	TEST(wire_other_protocol_at_source),
	TEST(wire_wrong_format_version),
	TEST(wire_unexpected_message),
	TEST(silent_peer_at_destination),
	TEST(silent_peer_at_source),
	TEST(peer_closes_immediately),
	TEST(peer_closes_mid_handshake),
	TEST(stream_after_confirm_untouched),
	TEST(short_reads_byte_by_byte),
	TEST(eintr_signal_storm),
	TEST(peer_refusal_unknown_code),
	TEST(peer_refusal_without_text),
	TEST(accept_version_not_offered),
	TEST(accept_caps_not_offered),
	TEST(accept_drops_required_cap),
	TEST(accept_page_size_differs),
	TEST(bad_layout_from_source),
	TEST(auth_same_key),
	TEST(auth_wrong_key),
	TEST(auth_key_on_source_only),
	TEST(auth_key_on_destination_only),
	TEST(auth_accept_without_nonce),
	TEST(auth_cannot_be_skipped),
	TEST(auth_forged_mac),
	TEST(auth_detects_tampering),
	TEST(listen_garbage_then_good),
	TEST(listen_wrong_key_then_good),
	TEST(listen_wrong_vm_then_good),
	TEST(listen_silent_then_good),
	TEST(listen_reject_bound),
	TEST(listen_accept_timeout),
	TEST(listen_misconfigured_peer),
	TEST(listen_socket_addresses),
	TEST(listen_bad_arguments),
};

TEST_MAIN(tests)
