// SPDX-License-Identifier: GPL-2.0
/*
 * kmig_fuzz_stream: the in-kernel receiver against mutated streams.
 *
 * Valid streams are recorded from the module's own sender (two regions,
 * several rounds, zero pages and a blob), for three protocol/capability
 * combinations. Each case mutates one of them (bit flips, truncation,
 * splices of two streams, header and record fields set to edge values,
 * records duplicated or dropped) and feeds it to a fresh receive session.
 *
 * Every case must end in success (END) or one of the receiver's documented
 * errors, with the session's state agreeing; nothing outside the session's
 * memory may change: a memory object outside the session keeps its
 * pattern, and the blob buffer is not written past the length the call
 * reports. The seed is printed first:
 *
 *   KMIG_FUZZ_SEED=N KMIG_FUZZ_CASES=M ./kmig_fuzz_stream   (default 4000)
 */
#include <pthread.h>
#include <signal.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define R0_PAGES	16
#define R1_PAGES	8
#define OLD		0xaa
#define CANARY		0x55
#define BLOB_BUF	256
#define NSTREAMS	3

struct stream {
	__u32 proto;
	__u64 caps;
	unsigned char *p;
	size_t len;
	size_t rec[256];	/* record offsets */
	int nrec;
	unsigned char *ref[2];	/* the source when the stream ended */
};

FIXTURE(fuzz) {
	int dev;
	long ps;
	int src[2], dst[2], guard;
	unsigned char *smap[2], *dmap[2], *gmap;
	struct stream s[NSTREAMS];
};

static const unsigned long npages[2] = { R0_PAGES, R1_PAGES };

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return n ? rand_r(seed) % n : 0;
}

static unsigned char *map_mem(int fd, long bytes)
{
	return mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

struct drain {
	int fd;
	unsigned char *p;
	size_t len, cap;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	ssize_t n;

	for (;;) {
		if (d->len == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 1 << 18;
			d->p = realloc(d->p, d->cap);
			if (!d->p)
				return NULL;
		}
		n = read(d->fd, d->p + d->len, d->cap - d->len);
		if (n <= 0)
			return NULL;
		d->len += n;
	}
}

static __u32 le32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (__u32)p[3] << 24;
}

/* Record offsets of a valid stream, from the wire format. */
static void parse(struct stream *s, long ps)
{
	size_t off = le32(s->p + 4) >> 16;	/* header_len */
	bool v1 = s->proto == KMIG_PROTO_V1;
	size_t hlen = v1 ? 24 : 16;
	size_t trailer = !v1 && (s->caps & KMIG_CAP_CHECKSUM) ? 4 : 0;

	s->nrec = 0;
	while (off + hlen <= s->len && s->nrec < 256) {
		unsigned int type = v1 ? s->p[off] : s->p[off];
		__u32 count = le32(s->p + off + (v1 ? 16 : 4));
		size_t payload = 0;

		s->rec[s->nrec++] = off;
		if (type == KMIG_REC_PAGES)
			payload = (size_t)count * ps;
		else if (type == KMIG_REC_BLOB || type == KMIG_REC_END)
			payload = count;
		off += hlen + payload + trailer;
	}
}

static int record(FIXTURE_DATA(fuzz) *self, struct stream *s)
{
	static const char blob[100] = "vcpu and device state";
	struct drain d = { 0 };
	pthread_t th;
	int sv[2], sfd, ret;

	if (kmig_track(self->src[0], KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY) ||
	    kmig_track(self->src[1], KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY) ||
	    unix_pair(&sv[0], &sv[1]))
		return -1;
	d.fd = sv[1];
	if (pthread_create(&th, NULL, drain_thread, &d))
		return -1;
	sfd = kmig_session(self->dev, sv[0], KMIG_ROLE_SEND, s->proto, s->caps,
			   self->src, 2, 0);
	ret = sfd < 0 ? sfd : kmig_send_full_round(sfd, 0);
	/* a second round with a few pages, one of them zeroed */
	self->smap[0][3 * self->ps] ^= 0x11;
	memset(self->smap[1] + 5 * self->ps, 0, self->ps);
	if (!ret)
		ret = kmig_send_full_round(sfd, 0);
	if (!ret && (s->caps & KMIG_CAP_BLOBS))
		ret = kmig_send_blob(sfd, 9, blob, sizeof(blob));
	self->smap[1][0] ^= 0x22;
	if (!ret)
		ret = kmig_send_full_round(sfd, KMIG_ROUND_FINAL);
	if (!ret)
		ret = kmig_send_end(sfd);
	if (sfd >= 0)
		close(sfd);
	close(sv[0]);
	pthread_join(th, NULL);
	close(sv[1]);
	kmig_track(self->src[0], KMIG_MEM_TRACK_STOP, 0);
	kmig_track(self->src[1], KMIG_MEM_TRACK_STOP, 0);
	s->p = d.p;
	s->len = d.len;
	if (ret || !s->p)
		return -1;
	for (int r = 0; r < 2; r++) {
		s->ref[r] = malloc(npages[r] * self->ps);
		if (!s->ref[r])
			return -1;
		memcpy(s->ref[r], self->smap[r], npages[r] * self->ps);
	}
	parse(s, self->ps);
	return 0;
}

FIXTURE_SETUP(fuzz)
{
	static const struct { __u32 proto; __u64 caps; } kinds[NSTREAMS] = {
		{ KMIG_PROTO_V1, 0 },
		{ KMIG_PROTO_V2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS },
		{ KMIG_PROTO_V2, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS |
				 KMIG_CAP_CHECKSUM },
	};

	memset(self->s, 0, sizeof(self->s));
	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR);
	if (self->dev < 0)
		SETUP_SKIP("no %s", KMIG_DEV);
	signal(SIGPIPE, SIG_IGN);
	for (int r = 0; r < 2; r++) {
		self->src[r] = kmig_mem_create(self->dev, npages[r] * self->ps);
		self->dst[r] = kmig_mem_create(self->dev, npages[r] * self->ps);
		ASSERT_LE(0, self->src[r]);
		ASSERT_LE(0, self->dst[r]);
		self->smap[r] = map_mem(self->src[r], npages[r] * self->ps);
		self->dmap[r] = map_mem(self->dst[r], npages[r] * self->ps);
		ASSERT_NE(MAP_FAILED, self->smap[r]);
		ASSERT_NE(MAP_FAILED, self->dmap[r]);
		for (unsigned long i = 0; i < npages[r]; i++)
			if (i % 3)	/* every third page is zero */
				memset(self->smap[r] + i * self->ps,
				       (int)(r * 50 + i + 1), self->ps);
	}
	self->guard = kmig_mem_create(self->dev, R0_PAGES * self->ps);
	ASSERT_LE(0, self->guard);
	self->gmap = map_mem(self->guard, R0_PAGES * self->ps);
	ASSERT_NE(MAP_FAILED, self->gmap);
	memset(self->gmap, CANARY, R0_PAGES * self->ps);
	for (int i = 0; i < NSTREAMS; i++) {
		self->s[i].proto = kinds[i].proto;
		self->s[i].caps = kinds[i].caps;
		ASSERT_EQ(0, record(self, &self->s[i]));
		ASSERT_LT(4, self->s[i].nrec);
	}
}

FIXTURE_TEARDOWN(fuzz)
{
	for (int i = 0; i < NSTREAMS; i++) {
		free(self->s[i].p);
		free(self->s[i].ref[0]);
		free(self->s[i].ref[1]);
	}
	for (int r = 0; r < 2; r++) {
		munmap(self->smap[r], npages[r] * self->ps);
		munmap(self->dmap[r], npages[r] * self->ps);
		close(self->src[r]);
		close(self->dst[r]);
	}
	munmap(self->gmap, R0_PAGES * self->ps);
	close(self->guard);
	close(self->dev);
}

static __u64 edge(unsigned int *seed)
{
	static const __u64 edges[] = {
		0, 1, 2, 5, 6, 7, 15, 16, 17, 255, 4095, 4096, 65535, 65536,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		KMIG_BLOB_MAX, KMIG_BLOB_MAX + 1ULL, ~0ULL, ~0ULL >> 1,
		R0_PAGES - 1, R0_PAGES, R1_PAGES, KMIG_MAX_REGIONS,
	};

	return edges[rnd(seed, sizeof(edges) / sizeof(edges[0]))];
}

static void put_width(unsigned char *p, unsigned int width, __u64 v)
{
	for (unsigned int i = 0; i < width; i++)
		p[i] = v >> (8 * i);
}

/* Build one mutated stream into @out; returns its length. */
static size_t mutate(const struct stream *all, unsigned int *seed,
		     unsigned char *out, size_t cap, const char **what)
{
	const struct stream *s = &all[rnd(seed, NSTREAMS)];
	size_t len = s->len, at;
	bool v1 = s->proto == KMIG_PROTO_V1;

	memcpy(out, s->p, len);
	switch (rnd(seed, 7)) {
	case 0:
		*what = "bit flips";
		for (int n = 1 + rnd(seed, 8); n > 0; n--) {
			at = rnd(seed, 4) ? s->rec[rnd(seed, s->nrec)] +
					     rnd(seed, 24) : rnd(seed, len);
			if (at < len)
				out[at] ^= 1 << rnd(seed, 8);
		}
		break;
	case 1:
		*what = "truncation";
		len = rnd(seed, 2) ? rnd(seed, len) :
		      s->rec[rnd(seed, s->nrec)] + rnd(seed, 30);
		break;
	case 2: {
		/* a prefix of one stream, the rest of another */
		const struct stream *t = &all[rnd(seed, NSTREAMS)];
		size_t a = s->rec[rnd(seed, s->nrec)];
		size_t b = rnd(seed, 2) ? t->rec[rnd(seed, t->nrec)] :
					  rnd(seed, t->len);

		*what = "splice";
		if (a + t->len - b <= cap) {
			memcpy(out + a, t->p + b, t->len - b);
			len = a + t->len - b;
		}
		break;
	}
	case 3: {
		/* a header field (checksummed: also caught by the crc) */
		static const unsigned char off[] = { 4, 6, 8, 16, 20, 22, 24,
						     32, 40, 48, 56 };
		static const unsigned char width[] = { 2, 2, 8, 4, 2, 2, 8,
						       8, 8, 8, 8 };
		unsigned int f = rnd(seed, sizeof(off));

		*what = "header field";
		put_width(out + off[f], width[f], edge(seed));
		break;
	}
	case 4: {
		/* a record field: type, flags, region, count, index */
		static const unsigned char off1[] = { 0, 2, 4, 16, 8, 20 };
		static const unsigned char w1[] = { 2, 2, 4, 4, 8, 4 };
		static const unsigned char off2[] = { 0, 1, 2, 4, 8 };
		static const unsigned char w2[] = { 1, 1, 2, 4, 8 };
		unsigned int f = rnd(seed, v1 ? 6 : 5);

		*what = "record field";
		at = s->rec[1 + rnd(seed, s->nrec - 1)];
		put_width(out + at + (v1 ? off1[f] : off2[f]),
			  v1 ? w1[f] : w2[f], edge(seed));
		break;
	}
	case 5: {
		/* a record dropped */
		int r = 1 + rnd(seed, s->nrec - 2);
		size_t a = s->rec[r], b = s->rec[r + 1];

		*what = "record dropped";
		memmove(out + a, out + b, len - b);
		len -= b - a;
		break;
	}
	default: {
		/* a record repeated */
		int r = 1 + rnd(seed, s->nrec - 2);
		size_t a = s->rec[r], b = s->rec[r + 1];

		*what = "record repeated";
		if (len + (b - a) <= cap) {
			memmove(out + b + (b - a), out + b, len - b);
			memcpy(out + b, s->p + a, b - a);
			len += b - a;
		}
		break;
	}
	}
	return len;
}

struct feeder {
	int fd;
	const unsigned char *p;
	size_t len;
};

static void *feed_thread(void *arg)
{
	struct feeder *f = arg;
	size_t off = 0;

	while (off < f->len) {
		ssize_t n = send(f->fd, f->p + off, f->len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += n;
	}
	close(f->fd);
	return NULL;
}

static bool documented(int err)
{
	switch (err) {
	case EPROTO: case EBADMSG: case EMSGSIZE: case EPROTONOSUPPORT:
	case EOPNOTSUPP: case ERANGE: case EPIPE: case ENOMEM:
		return true;
	}
	return false;
}

struct totals {
	long cases, ended, failed, by_errno[256];
};

/* One case; returns 0, or -1 after printing what was wrong. */
static int run_case(FIXTURE_DATA(fuzz) *self, const unsigned char *p,
		    size_t len, const struct stream *kind, struct totals *t)
{
	unsigned char blob[BLOB_BUF + 64];
	struct kmig_session_stats st;
	struct feeder f = { .p = p, .len = len };
	struct kmig_recv ev;
	pthread_t th;
	int sv[2], sfd, ret;

	for (int r = 0; r < 2; r++)
		memset(self->dmap[r], OLD, npages[r] * self->ps);
	if (unix_pair(&sv[0], &sv[1]))
		return -1;
	/* the receiver agrees with the stream's own kind */
	sfd = kmig_session(self->dev, sv[1], KMIG_ROLE_RECV, kind->proto,
			   kind->caps, self->dst, 2, 0);
	if (sfd < 0) {
		fprintf(stderr, "# receive session: %s\n", strerror(-sfd));
		return -1;
	}
	f.fd = sv[0];
	if (pthread_create(&th, NULL, feed_thread, &f))
		return -1;
	for (;;) {
		memset(blob, CANARY, sizeof(blob));
		ret = kmig_recv(sfd, &ev, blob, BLOB_BUF);
		if (ret == -ENOBUFS)
			continue;	/* a blob bigger than the buffer: skipped */
		if (ret)
			break;
		if (ev.event == KMIG_EVENT_BLOB)
			for (size_t i = ev.blob_len; i < sizeof(blob); i++)
				if (ev.blob_len <= BLOB_BUF && blob[i] != CANARY) {
					fprintf(stderr, "# blob buffer written past its length at %zu\n", i);
					return -1;
				}
		if (ev.event == KMIG_EVENT_END)
			break;
	}
	kmig_session_stats(sfd, &st);
	close(sfd);
	close(sv[1]);
	pthread_join(th, NULL);

	t->cases++;
	if (!ret) {
		t->ended++;
		if (st.state != KMIG_STATE_ENDED) {
			fprintf(stderr, "# END returned, state %u\n", st.state);
			return -1;
		}
	} else {
		t->failed++;
		t->by_errno[-ret & 255]++;
		if (!documented(-ret)) {
			fprintf(stderr, "# undocumented error %s\n", strerror(-ret));
			return -1;
		}
		if (st.state != KMIG_STATE_BROKEN || st.error != ret ||
		    (!st.error_reason && ret != -ENOMEM)) {
			fprintf(stderr, "# error %s, but state %u error %d reason %u\n",
				strerror(-ret), st.state, st.error,
				st.error_reason);
			return -1;
		}
	}
	for (long i = 0; i < R0_PAGES * self->ps; i++)
		if (self->gmap[i] != CANARY) {
			fprintf(stderr, "# memory outside the session changed at %ld\n", i);
			return -1;
		}
	return 0;
}

TEST_F(fuzz, unmodified_streams_are_received)
{
	struct totals t = { 0 };

	for (int i = 0; i < NSTREAMS; i++) {
		ASSERT_EQ(0, run_case(self, self->s[i].p, self->s[i].len,
				      &self->s[i], &t));
		ASSERT_EQ((long)i + 1, t.ended);
		/* and the destination is the source */
		for (int r = 0; r < 2; r++)
			ASSERT_EQ(0, memcmp(self->s[i].ref[r], self->dmap[r],
					    npages[r] * self->ps));
	}
}

TEST_F_TIMEOUT(fuzz, mutated_streams, 1200)
{
	unsigned long seed = kmig_env_ul("KMIG_FUZZ_SEED", time(NULL));
	unsigned long cases = kmig_env_ul("KMIG_FUZZ_CASES", 4000);
	unsigned int rs = seed;
	size_t cap = 0;
	unsigned char *buf;
	struct totals t = { 0 };
	struct kmig_progress prog = { 0 };
	int splats = kmig_dmesg_splats();
	char errs[512] = "";

	printf("# kmig_fuzz_stream: KMIG_FUZZ_SEED=%lu KMIG_FUZZ_CASES=%lu\n",
	       seed, cases);
	fflush(stdout);
	for (int i = 0; i < NSTREAMS; i++)
		cap += self->s[i].len;
	cap *= 2;
	buf = malloc(cap);
	ASSERT_NE(NULL, buf);

	for (unsigned long c = 0; c < cases; c++) {
		const char *what = "";
		unsigned int before = rs;
		size_t len = mutate(self->s, &rs, buf, cap, &what);
		/* the receiver's kind: the first stream's, as mutate picked */
		unsigned int pick = rnd(&before, NSTREAMS);

		kmig_progress(&prog, "mutated streams", c, cases);
		if (run_case(self, buf, len, &self->s[pick], &t)) {
			TH_LOG("case %lu (%s) of seed %lu failed", c, what,
			       seed);
			ASSERT_TRUE(0);
		}
	}
	free(buf);
	for (int e = 1; e < 256; e++)
		if (t.by_errno[e])
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
				 " %s=%ld", strerrorname_np(e) ?: "?",
				 t.by_errno[e]);
	TH_LOG("seed %lu: %ld cases, %ld ended, %ld refused:%s", seed, t.cases,
	       t.ended, t.failed, errs);
	/* Mutations must be mostly caught, and not all: both paths ran. */
	ASSERT_LT(0, t.failed);
	ASSERT_EQ(splats, kmig_dmesg_splats());
}

TEST_HARNESS_MAIN
