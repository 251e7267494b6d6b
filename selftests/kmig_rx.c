// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver against crafted streams. Each malformed case is written byte
 * by byte from userspace into the receiver's socket. Each test checks the
 * errno, the reason and offset in the statistics, and that nothing outside
 * the pages a valid prefix addressed has changed: the destination's other
 * pages keep their pattern, and a memory object outside the session is
 * untouched.
 */
#include <sys/wait.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES		16
#define OLD		0xaa
#define CANARY		0x55
#define ALL_CAPS	(KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS)

struct builder {
	uint8_t *buf;
	size_t len;
	uint64_t seq;
	uint32_t proto;
	uint64_t caps;
};

struct hdr {
	uint32_t magic;
	uint16_t version;
	int16_t len_delta;	/* added to the correct header_len */
	uint64_t caps;
	uint32_t page_size;
	uint16_t nr;
	uint16_t flags;
	uint64_t reserved;
	uint64_t pages[80];
	uint64_t region_reserved;
	uint32_t crc_xor;	/* corrupts the checksum */
};

static void b_bytes(struct builder *b, const void *p, size_t n)
{
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void b_header(struct builder *b, const struct hdr *h)
{
	uint8_t *p = b->buf + b->len;
	size_t len = 32 + 16 * h->nr + 4;

	memset(p, 0, len);
	put_le32(p, h->magic);
	put_le16(p + 4, h->version);
	put_le16(p + 6, len + h->len_delta);
	put_le64(p + 8, h->caps);
	put_le32(p + 16, h->page_size);
	put_le16(p + 20, h->nr);
	put_le16(p + 22, h->flags);
	put_le64(p + 24, h->reserved);
	for (int i = 0; i < h->nr; i++) {
		put_le64(p + 32 + 16 * i, h->pages[i]);
		put_le64(p + 40 + 16 * i, i ? 0 : h->region_reserved);
	}
	put_le32(p + len - 4, test_crc32c(~0U, p, len - 4) ^ h->crc_xor);
	b->len += len;
}

/* The header a session of this builder expects. */
static struct hdr good_header(const struct builder *b)
{
	struct hdr h = {
		.magic = KMIG_WIRE_MAGIC,
		.version = b->proto,
		.caps = b->caps,
		.page_size = page_size(),
		.nr = 1,
		.pages = { NPAGES },
	};

	return h;
}

/*
 * Append a record. payload is written as given, whatever count says. The
 * checksum, when agreed, covers header and payload, seeded with the
 * record's sequence number; corrupt flips a bit of it.
 */
static void b_record(struct builder *b, int type, int flags, int region,
		     uint64_t index, uint32_t count, const void *payload,
		     size_t plen, uint32_t corrupt)
{
	uint8_t *p = b->buf + b->len;
	bool csum = b->caps & KMIG_CAP_CHECKSUM;
	size_t hlen = b->proto == 1 ? 24 : 16;
	uint32_t crc;

	memset(p, 0, hlen);
	if (b->proto == 1) {
		put_le16(p, type);
		put_le16(p + 2, flags);
		put_le32(p + 4, region);
		put_le64(p + 8, index);
		put_le32(p + 16, count);
	} else {
		p[0] = type;
		p[1] = flags;
		put_le16(p + 2, region);
		put_le32(p + 4, count);
		put_le64(p + 8, index);
	}
	crc = test_crc32c(~(uint32_t)b->seq, p, hlen);
	crc = test_crc32c(crc, payload, plen) ^ corrupt;
	if (csum && b->proto == 1)
		put_le32(p + 20, crc);
	b->len += hlen;
	b_bytes(b, payload, plen);
	if (csum && b->proto >= 2) {
		put_le32(b->buf + b->len, crc);
		b->len += 4;
	}
	b->seq++;
}

static void b_end(struct builder *b, uint64_t records, uint64_t pages,
		  uint64_t zero, uint64_t blobs, uint64_t rounds, uint64_t bytes)
{
	uint8_t e[48];

	put_le64(e, records);
	put_le64(e + 8, pages);
	put_le64(e + 16, zero);
	put_le64(e + 24, blobs);
	put_le64(e + 32, rounds);
	put_le64(e + 40, bytes);
	b_record(b, KMIG_REC_END, 0, 0, 0, 48, e, 48, 0);
}

/* Index of the first byte that is not c, or -1. */
static long first_not(const unsigned char *p, unsigned char c, long len)
{
	for (long i = 0; i < len; i++)
		if (p[i] != c)
			return i;
	return -1;
}

FIXTURE(rx) {
	int dev, dst, canary, w, r, sfd;
	long ps;
	unsigned char *d, *c, *page, *two;
	unsigned char touched[NPAGES];
	struct builder b;
};

FIXTURE_VARIANT(rx) {
	__u32 proto;
	__u64 caps;
};

FIXTURE_VARIANT_ADD(rx, v1) {
	.proto = 1, .caps = KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS,
};
FIXTURE_VARIANT_ADD(rx, v1_checksum) { .proto = 1, .caps = ALL_CAPS };
FIXTURE_VARIANT_ADD(rx, v2) {
	.proto = 2, .caps = KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS,
};
FIXTURE_VARIANT_ADD(rx, v2_checksum) { .proto = 2, .caps = ALL_CAPS };

FIXTURE_SETUP(rx)
{
	self->ps = page_size();
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->dst = kmig_mem_create(self->dev, NPAGES * self->ps);
	self->canary = kmig_mem_create(self->dev, NPAGES * self->ps);
	ASSERT_LE(0, self->dst);
	ASSERT_LE(0, self->canary);
	self->d = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->dst, 0);
	self->c = mmap(NULL, NPAGES * self->ps, PROT_READ | PROT_WRITE,
		       MAP_SHARED, self->canary, 0);
	ASSERT_NE(MAP_FAILED, self->d);
	ASSERT_NE(MAP_FAILED, self->c);
	memset(self->d, OLD, NPAGES * self->ps);
	memset(self->c, CANARY, NPAGES * self->ps);
	memset(self->touched, 0, sizeof(self->touched));
	ASSERT_EQ(0, unix_pair(&self->w, &self->r));
	self->sfd = kmig_session(self->dev, self->r, KMIG_ROLE_RECV,
				 variant->proto, variant->caps, &self->dst, 1,
				 0);
	ASSERT_LE(0, self->sfd);
	self->b = (struct builder){
		.buf = calloc(1, 4 << 20),
		.proto = variant->proto,
		.caps = variant->caps,
	};
	self->page = malloc(self->ps);
	self->two = malloc(2 * self->ps);
	ASSERT_NE(NULL, self->b.buf);
	ASSERT_NE(NULL, self->page);
	ASSERT_NE(NULL, self->two);
	memset(self->page, 0x3c, self->ps);
	memset(self->two, 0x3c, 2 * self->ps);
}

FIXTURE_TEARDOWN(rx)
{
	long bad = first_not(self->c, CANARY, NPAGES * self->ps);

	EXPECT_EQ(-1, bad) TH_LOG("memory outside the session changed");
	for (int pg = 0; pg < NPAGES; pg++) {
		if (self->touched[pg])
			continue;
		bad = first_not(self->d + pg * self->ps, OLD, self->ps);
		EXPECT_EQ(-1, bad) TH_LOG("page %d changed", pg);
	}
	close(self->sfd);
	close(self->w);
	close(self->r);
	munmap(self->d, NPAGES * self->ps);
	munmap(self->c, NPAGES * self->ps);
	close(self->dst);
	close(self->canary);
	close(self->dev);
	free(self->b.buf);
	free(self->page);
	free(self->two);
}

/* Feed the built stream, then EOF; receive until an error or the end. */
static int feed(FIXTURE_DATA(rx) *self, struct kmig_recv *ev)
{
	int ret;

	if (write_all(self->w, self->b.buf, self->b.len))
		return -EIO;
	shutdown(self->w, SHUT_WR);
	do {
		ret = kmig_recv(self->sfd, ev, self->page, self->ps);
	} while (!ret && ev->event != KMIG_EVENT_END);
	return ret;
}

/* The receive failed with err for reason at offset, and stays failed. */
static void expect_broken(struct __test_metadata *_metadata,
			  FIXTURE_DATA(rx) *self, int err, int ret,
			  __u32 reason, __u64 offset)
{
	struct kmig_session_stats st;
	struct kmig_recv ev;

	EXPECT_EQ(-err, ret);
	ASSERT_EQ(0, kmig_session_stats(self->sfd, &st));
	EXPECT_EQ(KMIG_STATE_BROKEN, st.state);
	EXPECT_EQ(-err, st.error);
	EXPECT_EQ(reason, st.error_reason);
	EXPECT_EQ(offset, st.error_offset);
	EXPECT_EQ(-EPIPE, kmig_recv(self->sfd, &ev, NULL, 0));
}

#define HDR_LEN		(32 + 16 + 4)
/* A record header (and trailer) without payload. */
#define RECORD_LEN(b)	((b)->proto == 1 ? 24 : 16 + \
			 ((b)->caps & KMIG_CAP_CHECKSUM ? 4 : 0))

#define EXPECT_HEADER_ERROR(field_change, err, reason) do {		\
	struct hdr h = good_header(&self->b);				\
	struct kmig_recv ev;						\
									\
	field_change;							\
	b_header(&self->b, &h);						\
	expect_broken(_metadata, self, err, feed(self, &ev), reason, 0); \
} while (0)

TEST_F(rx, valid_stream_is_accepted)
{
	struct hdr h = good_header(&self->b);
	struct kmig_session_stats st;
	unsigned char blob[100];
	struct kmig_recv ev;
	uint64_t end_at;

	memset(blob, 0x77, sizeof(blob));
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_PAGES, 0, 0, 3, 2, self->two,
		 2 * self->ps, 0);
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 7, 1, NULL, 0, 0);
	b_record(&self->b, KMIG_REC_ROUND, KMIG_REC_F_FINAL, 0, 0, 3, NULL, 0,
		 0);
	b_record(&self->b, KMIG_REC_BLOB, 0, 0, 9, sizeof(blob), blob,
		 sizeof(blob), 0);
	end_at = self->b.len;
	b_end(&self->b, 4, 2, 1, 1, 1, end_at);
	self->touched[3] = self->touched[4] = self->touched[7] = 1;

	ASSERT_EQ(0, write_all(self->w, self->b.buf, self->b.len));
	ASSERT_EQ(0, kmig_recv(self->sfd, &ev, self->page, self->ps));
	EXPECT_EQ(KMIG_EVENT_ROUND, ev.event);
	EXPECT_EQ(0, ev.round);
	EXPECT_EQ(KMIG_REC_F_FINAL, ev.round_flags);
	EXPECT_EQ(2, ev.pages);
	EXPECT_EQ(1, ev.zero_pages);
	ASSERT_EQ(0, kmig_recv(self->sfd, &ev, self->page, self->ps));
	EXPECT_EQ(KMIG_EVENT_BLOB, ev.event);
	EXPECT_EQ(9, ev.blob_tag);
	EXPECT_EQ(sizeof(blob), ev.blob_len);
	EXPECT_EQ(0, memcmp(self->page, blob, sizeof(blob)));
	ASSERT_EQ(0, kmig_recv(self->sfd, &ev, self->page, self->ps));
	EXPECT_EQ(KMIG_EVENT_END, ev.event);
	EXPECT_EQ(self->b.len, ev.bytes);

	EXPECT_EQ(-1, first_not(self->d + 3 * self->ps, 0x3c, 2 * self->ps));
	EXPECT_EQ(-1, first_not(self->d + 7 * self->ps, 0, self->ps));
	ASSERT_EQ(0, kmig_session_stats(self->sfd, &st));
	EXPECT_EQ(KMIG_STATE_ENDED, st.state);
	EXPECT_EQ(5, st.records);
	EXPECT_EQ(1, st.blobs);
	EXPECT_EQ(0, st.error);
	/* An ended session receives nothing more. */
	EXPECT_EQ(-EINVAL, kmig_recv(self->sfd, &ev, NULL, 0));
}

TEST_F(rx, blob_larger_than_buffer)
{
	struct hdr h = good_header(&self->b);
	unsigned char blob[300], got[300];
	struct kmig_recv ev;

	memset(blob, 0x12, sizeof(blob));
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_BLOB, 0, 0, 4, sizeof(blob), blob,
		 sizeof(blob), 0);
	ASSERT_EQ(0, write_all(self->w, self->b.buf, self->b.len));
	/* Too small: -ENOBUFS and the size needed; the blob waits. */
	EXPECT_EQ(-ENOBUFS, kmig_recv(self->sfd, &ev, got, 100));
	EXPECT_EQ(sizeof(blob), ev.blob_len);
	EXPECT_EQ(-EFAULT, kmig_recv(self->sfd, &ev, NULL, sizeof(got)));
	ASSERT_EQ(0, kmig_recv(self->sfd, &ev, got, sizeof(got)));
	EXPECT_EQ(KMIG_EVENT_BLOB, ev.event);
	EXPECT_EQ(0, memcmp(blob, got, sizeof(blob)));
}

TEST_F(rx, recv_bad_flags)
{
	struct kmig_recv ev = { .size = sizeof(ev), .flags = 1 };

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->sfd, KMIG_SESSION_RECV, &ev));
	ev.flags = 0;
	ev.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->sfd, KMIG_SESSION_RECV, &ev));
	ev.reserved[2] = 0;
	ev.size = KMIG_RECV_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->sfd, KMIG_SESSION_RECV, &ev));
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->sfd, KMIG_SESSION_RECV, NULL));
}

/* Stream header. */

TEST_F(rx, header_bad_magic)
{
	EXPECT_HEADER_ERROR(h.magic = 0x47494d4c, EPROTO, KMIG_ERR_MAGIC);
}

TEST_F(rx, header_version_zero)
{
	EXPECT_HEADER_ERROR(h.version = 0, EPROTONOSUPPORT, KMIG_ERR_VERSION);
}

TEST_F(rx, header_version_unknown)
{
	EXPECT_HEADER_ERROR(h.version = 3, EPROTONOSUPPORT, KMIG_ERR_VERSION);
}

TEST_F(rx, header_version_not_agreed)
{
	EXPECT_HEADER_ERROR(h.version = variant->proto == 1 ? 2 : 1, EPROTO,
			    KMIG_ERR_VERSION);
}

TEST_F(rx, header_caps_unknown)
{
	EXPECT_HEADER_ERROR(h.caps |= 1ULL << 63, EOPNOTSUPP, KMIG_ERR_CAPS);
}

TEST_F(rx, header_caps_not_agreed)
{
	EXPECT_HEADER_ERROR(h.caps ^= KMIG_CAP_ZERO_PAGES, EPROTO,
			    KMIG_ERR_CAPS);
}

TEST_F(rx, header_length_wrong)
{
	EXPECT_HEADER_ERROR(h.len_delta = 16, EPROTO, KMIG_ERR_HEADER);
}

TEST_F(rx, header_no_regions)
{
	EXPECT_HEADER_ERROR(h.nr = 0, EPROTO, KMIG_ERR_HEADER);
}

TEST_F(rx, header_too_many_regions)
{
	EXPECT_HEADER_ERROR(h.nr = KMIG_MAX_REGIONS + 1, EPROTO,
			    KMIG_ERR_HEADER);
}

TEST_F(rx, header_flags)
{
	EXPECT_HEADER_ERROR(h.flags = 1, EPROTO, KMIG_ERR_HEADER);
}

TEST_F(rx, header_reserved)
{
	EXPECT_HEADER_ERROR(h.reserved = 1, EPROTO, KMIG_ERR_HEADER);
}

TEST_F(rx, header_page_size)
{
	EXPECT_HEADER_ERROR(h.page_size = 2 * page_size(), EPROTO,
			    KMIG_ERR_PAGE_SIZE);
}

TEST_F(rx, header_checksum)
{
	EXPECT_HEADER_ERROR(h.crc_xor = 1, EBADMSG, KMIG_ERR_HEADER_CRC);
}

TEST_F(rx, header_region_reserved)
{
	EXPECT_HEADER_ERROR(h.region_reserved = 1, EPROTO, KMIG_ERR_HEADER);
}

TEST_F(rx, header_layout_more_regions)
{
	EXPECT_HEADER_ERROR((h.nr = 2, h.pages[1] = NPAGES), EPROTO,
			    KMIG_ERR_LAYOUT);
}

TEST_F(rx, header_layout_region_size)
{
	EXPECT_HEADER_ERROR(h.pages[0] = NPAGES + 1, EPROTO, KMIG_ERR_LAYOUT);
}

TEST_F(rx, garbage)
{
	struct kmig_recv ev;
	unsigned int seed = 3;

	for (int i = 0; i < 4096; i++)
		self->b.buf[i] = rand_r(&seed);
	self->b.len = 4096;
	expect_broken(_metadata, self, EPROTO, feed(self, &ev), KMIG_ERR_MAGIC,
		      0);
}

/* Records: each case after a valid header, as the first record. */

#define EXPECT_RECORD_ERROR(type, flags, region, index, count, payload, \
			    plen, err, reason) do {			\
	struct hdr h = good_header(&self->b);				\
	struct kmig_recv ev;						\
									\
	b_header(&self->b, &h);						\
	b_record(&self->b, type, flags, region, index, count, payload,	\
		 plen, 0);						\
	expect_broken(_metadata, self, err, feed(self, &ev), reason,	\
		      HDR_LEN);						\
} while (0)

TEST_F(rx, record_type_zero)
{
	EXPECT_RECORD_ERROR(0, 0, 0, 0, 1, NULL, 0, EPROTO, KMIG_ERR_TYPE);
}

TEST_F(rx, record_type_unknown)
{
	EXPECT_RECORD_ERROR(6, 0, 0, 0, 1, NULL, 0, EPROTO, KMIG_ERR_TYPE);
}

TEST_F(rx, record_type_high)
{
	EXPECT_RECORD_ERROR(255, 0, 0, 0, 1, NULL, 0, EPROTO, KMIG_ERR_TYPE);
}

TEST_F(rx, pages_flags)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 1, 0, 0, 1, self->page, self->ps,
			    EPROTO, KMIG_ERR_FLAGS);
}

TEST_F(rx, pages_count_zero)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 0, 0, 0, NULL, 0, EPROTO,
			    KMIG_ERR_LENGTH);
}

TEST_F(rx, pages_region_beyond_layout)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 1, 0, 1, self->page, self->ps,
			    ERANGE, KMIG_ERR_RANGE);
}

TEST_F(rx, pages_index_beyond_region)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 0, NPAGES, 1, self->page,
			    self->ps, ERANGE, KMIG_ERR_RANGE);
}

TEST_F(rx, pages_run_beyond_region)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 0, NPAGES - 1, 2, self->page,
			    self->ps, ERANGE, KMIG_ERR_RANGE);
}

TEST_F(rx, pages_index_overflow)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 0, ~0ULL, 2, self->page,
			    self->ps, ERANGE, KMIG_ERR_RANGE);
}

TEST_F(rx, pages_count_huge)
{
	EXPECT_RECORD_ERROR(KMIG_REC_PAGES, 0, 0, 0, ~0U, self->page, self->ps,
			    ERANGE, KMIG_ERR_RANGE);
}

TEST_F(rx, zero_run_beyond_region)
{
	EXPECT_RECORD_ERROR(KMIG_REC_ZERO, 0, 0, 8, NPAGES, NULL, 0, ERANGE,
			    KMIG_ERR_RANGE);
}

TEST_F(rx, zero_flags)
{
	EXPECT_RECORD_ERROR(KMIG_REC_ZERO, 0x80, 0, 0, 1, NULL, 0, EPROTO,
			    KMIG_ERR_FLAGS);
}

TEST_F(rx, blob_empty)
{
	EXPECT_RECORD_ERROR(KMIG_REC_BLOB, 0, 0, 0, 0, NULL, 0, EPROTO,
			    KMIG_ERR_LENGTH);
}

TEST_F(rx, blob_too_big)
{
	EXPECT_RECORD_ERROR(KMIG_REC_BLOB, 0, 0, 0, KMIG_BLOB_MAX + 1, NULL, 0,
			    EMSGSIZE, KMIG_ERR_TOO_BIG);
}

TEST_F(rx, blob_region_set)
{
	EXPECT_RECORD_ERROR(KMIG_REC_BLOB, 0, 1, 0, 4, "abcd", 4, EPROTO,
			    KMIG_ERR_FLAGS);
}

TEST_F(rx, round_out_of_order)
{
	EXPECT_RECORD_ERROR(KMIG_REC_ROUND, 0, 0, 1, 0, NULL, 0, EPROTO,
			    KMIG_ERR_ORDER);
}

TEST_F(rx, round_count_wrong)
{
	EXPECT_RECORD_ERROR(KMIG_REC_ROUND, 0, 0, 0, 5, NULL, 0, EBADMSG,
			    KMIG_ERR_TOTALS);
}

TEST_F(rx, round_unknown_flags)
{
	EXPECT_RECORD_ERROR(KMIG_REC_ROUND, 2, 0, 0, 0, NULL, 0, EPROTO,
			    KMIG_ERR_FLAGS);
}

TEST_F(rx, end_wrong_length)
{
	uint8_t e[40] = { 0 };

	EXPECT_RECORD_ERROR(KMIG_REC_END, 0, 0, 0, sizeof(e), e, sizeof(e),
			    EPROTO, KMIG_ERR_LENGTH);
}

TEST_F(rx, end_index_set)
{
	uint8_t e[48] = { 0 };

	EXPECT_RECORD_ERROR(KMIG_REC_END, 0, 0, 1, sizeof(e), e, sizeof(e),
			    EPROTO, KMIG_ERR_FLAGS);
}

TEST_F(rx, end_totals_wrong)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	uint64_t at;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_PAGES, 0, 0, 2, 1, self->page, self->ps, 0);
	b_record(&self->b, KMIG_REC_ROUND, KMIG_REC_F_FINAL, 0, 0, 1, NULL, 0,
		 0);
	self->touched[2] = 1;
	at = self->b.len;
	/* One page claimed more than was sent. */
	b_end(&self->b, 2, 2, 0, 0, 1, at);
	expect_broken(_metadata, self, EBADMSG, feed(self, &ev),
		      KMIG_ERR_TOTALS, at);
}

TEST_F(rx, end_offset_wrong)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ROUND, KMIG_REC_F_FINAL, 0, 0, 0, NULL, 0,
		 0);
	b_end(&self->b, 1, 0, 0, 0, 1, 0);
	expect_broken(_metadata, self, EBADMSG, feed(self, &ev),
		      KMIG_ERR_TOTALS, HDR_LEN + RECORD_LEN(&self->b));
}

/* A stream ends only after its final round; nothing but blobs follows it. */
TEST_F(rx, end_without_final_round)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	uint64_t at;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ROUND, 0, 0, 0, 0, NULL, 0, 0);
	at = self->b.len;
	b_end(&self->b, 1, 0, 0, 0, 1, at);
	expect_broken(_metadata, self, EPROTO, feed(self, &ev),
		      KMIG_ERR_ORDER, at);
}

TEST_F(rx, end_right_after_the_header)
{
	EXPECT_RECORD_ERROR(KMIG_REC_END, 0, 0, 0, 48, (uint8_t[48]){ 0 }, 48,
			    EPROTO, KMIG_ERR_ORDER);
}

static void after_final(struct __test_metadata *_metadata,
			FIXTURE_DATA(rx) *self, int type, int flags,
			uint32_t count, const void *payload, size_t plen)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	uint64_t at;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ROUND, KMIG_REC_F_FINAL, 0, 0, 0, NULL, 0,
		 0);
	at = self->b.len;
	b_record(&self->b, type, flags, 0, type == KMIG_REC_ROUND ? 1 : 0,
		 count, payload, plen, 0);
	expect_broken(_metadata, self, EPROTO, feed(self, &ev),
		      KMIG_ERR_ORDER, at);
}

TEST_F(rx, pages_after_final_round)
{
	after_final(_metadata, self, KMIG_REC_PAGES, 0, 1, self->page,
		    self->ps);
}

TEST_F(rx, zero_after_final_round)
{
	after_final(_metadata, self, KMIG_REC_ZERO, 0, 1, NULL, 0);
}

TEST_F(rx, round_after_final_round)
{
	after_final(_metadata, self, KMIG_REC_ROUND, 0, 0, NULL, 0);
}

/*
 * Caps: a session that agreed on none refuses what they allow. Replace the
 * fixture's session and socket pair with ones that agreed on no capability.
 */
static void reopen_without_caps(struct __test_metadata *_metadata,
				FIXTURE_DATA(rx) *self,
				const FIXTURE_VARIANT(rx) *variant)
{
	int fd, w, r;

	ASSERT_EQ(0, unix_pair(&w, &r));
	close(self->sfd);
	fd = kmig_session(self->dev, r, KMIG_ROLE_RECV, variant->proto, 0,
			  &self->dst, 1, 0);
	ASSERT_LE(0, fd);
	close(self->w);
	close(self->r);
	self->w = w;
	self->r = r;
	self->sfd = fd;
	self->b.caps = 0;
}

TEST_F(rx, zero_record_not_agreed)
{
	struct hdr h;
	struct kmig_recv ev;

	reopen_without_caps(_metadata, self, variant);
	h = good_header(&self->b);
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 0, 1, NULL, 0, 0);
	expect_broken(_metadata, self, EPROTO, feed(self, &ev),
		      KMIG_ERR_NOT_AGREED, HDR_LEN);
}

TEST_F(rx, blob_record_not_agreed)
{
	struct hdr h;
	struct kmig_recv ev;

	reopen_without_caps(_metadata, self, variant);
	h = good_header(&self->b);
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_BLOB, 0, 0, 0, 4, "abcd", 4, 0);
	expect_broken(_metadata, self, EPROTO, feed(self, &ev),
		      KMIG_ERR_NOT_AGREED, HDR_LEN);
}

TEST_F(rx, v1_check_field_without_checksums)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	if (variant->proto != 1 || (variant->caps & KMIG_CAP_CHECKSUM))
		SKIP(return, "protocol 1 without checksums only");
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 0, 1, NULL, 0, 0);
	put_le32(self->b.buf + HDR_LEN + 20, 1);
	expect_broken(_metadata, self, EPROTO, feed(self, &ev), KMIG_ERR_FLAGS,
		      HDR_LEN);
}

TEST_F(rx, checksum_payload_corrupted)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	if (!(variant->caps & KMIG_CAP_CHECKSUM))
		SKIP(return, "checksums not agreed in this variant");
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_PAGES, 0, 0, 5, 1, self->page, self->ps, 0);
	/* Flip one payload bit after the checksum was computed. */
	self->b.buf[HDR_LEN + (variant->proto == 1 ? 24 : 16) + 100] ^= 4;
	self->touched[5] = 1;	/* written before it could be checked */
	expect_broken(_metadata, self, EBADMSG, feed(self, &ev),
		      KMIG_ERR_CHECKSUM, HDR_LEN);
}

TEST_F(rx, checksum_header_corrupted)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	if (!(variant->caps & KMIG_CAP_CHECKSUM))
		SKIP(return, "checksums not agreed in this variant");
	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 5, 1, NULL, 0, 0x100);
	expect_broken(_metadata, self, EBADMSG, feed(self, &ev),
		      KMIG_ERR_CHECKSUM, HDR_LEN);
}

/* A record is lost: the next one's checksum has the wrong sequence. */
TEST_F(rx, checksum_catches_lost_record)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	size_t first;

	if (!(variant->caps & KMIG_CAP_CHECKSUM))
		SKIP(return, "checksums not agreed in this variant");
	b_header(&self->b, &h);
	first = self->b.len;
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 1, 1, NULL, 0, 0);
	/* Drop the first record, keep the second (sequence 1). */
	self->b.len = first;
	self->b.seq = 1;
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 2, 1, NULL, 0, 0);
	expect_broken(_metadata, self, EBADMSG, feed(self, &ev),
		      KMIG_ERR_CHECKSUM, HDR_LEN);
}

/* Truncation anywhere is -EPIPE, at the offset of the unfinished record. */

TEST_F(rx, truncated_in_header)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	self->b.len = 20;
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, 0);
}

TEST_F(rx, truncated_before_regions)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	self->b.len = 40;
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, 0);
}

TEST_F(rx, truncated_in_record_header)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_ZERO, 0, 0, 1, 1, NULL, 0, 0);
	self->b.len = HDR_LEN + 10;
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, HDR_LEN);
}

TEST_F(rx, truncated_in_payload)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	/* Two pages announced, one and a half sent. */
	b_record(&self->b, KMIG_REC_PAGES, 0, 0, 9, 2, self->page, self->ps, 0);
	b_bytes(&self->b, self->page, self->ps / 2);
	self->touched[9] = self->touched[10] = 1;
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, HDR_LEN);
}

TEST_F(rx, truncated_in_blob)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_BLOB, 0, 0, 0, 1000, self->page, 10, 0);
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, HDR_LEN);
}

TEST_F(rx, eof_before_end_record)
{
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	uint64_t at;

	b_header(&self->b, &h);
	b_record(&self->b, KMIG_REC_PAGES, 0, 0, 0, 1, self->page, self->ps, 0);
	b_record(&self->b, KMIG_REC_ROUND, 0, 0, 0, 1, NULL, 0, 0);
	self->touched[0] = 1;
	at = self->b.len;
	ASSERT_EQ(0, write_all(self->w, self->b.buf, self->b.len));
	shutdown(self->w, SHUT_WR);
	ASSERT_EQ(0, kmig_recv(self->sfd, &ev, NULL, 0));
	ASSERT_EQ(KMIG_EVENT_ROUND, ev.event);
	self->b.len = 0;
	expect_broken(_metadata, self, EPIPE, feed(self, &ev),
		      KMIG_ERR_TRUNCATED, at);
}

/* The peer resets the connection (TCP): a socket error, not a hang. */
TEST_F(rx, connection_reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct hdr h = good_header(&self->b);
	struct kmig_recv ev;
	int a, b, fd;

	ASSERT_EQ(0, tcp_pair(&a, &b));
	close(self->sfd);
	fd = kmig_session(self->dev, b, KMIG_ROLE_RECV, variant->proto,
			  variant->caps, &self->dst, 1, 0);
	ASSERT_LE(0, fd);
	self->sfd = fd;
	b_header(&self->b, &h);
	ASSERT_EQ(0, write_all(a, self->b.buf, self->b.len));
	ASSERT_EQ(0, setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	close(a);		/* RST */
	close(b);
	EXPECT_EQ(-ECONNRESET, kmig_recv(self->sfd, &ev, NULL, 0));
}

/* A silent peer: SO_RCVTIMEO bounds the wait. */
TEST_F(rx, silent_peer_times_out)
{
	struct timeval tv = { .tv_usec = 200 * 1000 };
	struct kmig_session_stats st;
	struct kmig_recv ev;

	ASSERT_EQ(0, setsockopt(self->r, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	EXPECT_EQ(-ETIMEDOUT, kmig_recv(self->sfd, &ev, NULL, 0));
	ASSERT_EQ(0, kmig_session_stats(self->sfd, &st));
	EXPECT_EQ(KMIG_ERR_SOCKET, st.error_reason);
}

/*
 * One 16-byte ZERO record may cover a whole region. The receiver must give
 * the CPU up while it clears: a SCHED_FIFO ticker on the receiver's CPU
 * wakes every millisecond, and the receiving thread must be preempted many
 * times inside the one RECV that handles the record. Without rescheduling,
 * a huge record holds the CPU until it is done (RCU stalls, soft lockups).
 */
#define ZERO_REGION	(1ULL << 30)	/* bytes */
#define ZERO_WRITTEN	(64ULL << 20)	/* of which written, to be cleared */

static atomic_int ticker_stop;

static void *ticker(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };
	struct timespec ts = { .tv_nsec = 1000 * 1000 };
	cpu_set_t *cpu = arg;

	if (sched_setaffinity(0, sizeof(*cpu), cpu) ||
	    sched_setscheduler(0, SCHED_FIFO, &sp))
		return (void *)1;
	while (!atomic_load(&ticker_stop))
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	return NULL;
}

TEST(zero_record_over_a_whole_region_reschedules)
{
	long ps = page_size();
	__u64 pages = ZERO_REGION / ps;
	struct builder b = { .proto = 2, .caps = KMIG_CAP_ZERO_PAGES };
	struct hdr h = {
		.magic = KMIG_WIRE_MAGIC, .version = 2, .caps = b.caps,
		.page_size = ps, .nr = 1, .pages = { pages },
	};
	struct rusage ru0, ru1;
	struct kmig_recv ev;
	unsigned char *d;
	cpu_set_t cpu;
	pthread_t th;
	void *th_ret;
	int dev, dst, w, r, sfd;

	dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	dst = kmig_mem_create(dev, ZERO_REGION);
	ASSERT_LE(0, dst);
	d = mmap(NULL, ZERO_WRITTEN, PROT_READ | PROT_WRITE, MAP_SHARED, dst, 0);
	ASSERT_NE(MAP_FAILED, d);
	memset(d, 0x5a, ZERO_WRITTEN);
	ASSERT_EQ(0, unix_pair(&w, &r));
	sfd = kmig_session(dev, r, KMIG_ROLE_RECV, 2, b.caps, &dst, 1, 0);
	ASSERT_LE(0, sfd);
	b.buf = calloc(1, 4096);
	ASSERT_NE(NULL, b.buf);
	b_header(&b, &h);
	b_record(&b, KMIG_REC_ZERO, 0, 0, 0, pages, NULL, 0, 0);
	b_record(&b, KMIG_REC_ROUND, 0, 0, 0, pages, NULL, 0, 0);
	ASSERT_EQ(0, write_all(w, b.buf, b.len));

	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpu), &cpu));
	atomic_store(&ticker_stop, 0);
	ASSERT_EQ(0, pthread_create(&th, NULL, ticker, &cpu));
	ASSERT_EQ(0, getrusage(RUSAGE_THREAD, &ru0));
	do {
		ASSERT_EQ(0, kmig_recv(sfd, &ev, NULL, 0));
	} while (ev.event != KMIG_EVENT_ROUND);
	ASSERT_EQ(0, getrusage(RUSAGE_THREAD, &ru1));
	atomic_store(&ticker_stop, 1);
	pthread_join(th, &th_ret);
	ASSERT_EQ(NULL, th_ret);

	EXPECT_EQ(pages, ev.zero_pages);
	EXPECT_EQ(-1, first_not(d, 0, ZERO_WRITTEN));
	TH_LOG("preempted %ld times while clearing %llu MiB of a %llu MiB region",
	       ru1.ru_nivcsw - ru0.ru_nivcsw, ZERO_WRITTEN >> 20,
	       ZERO_REGION >> 20);
	EXPECT_LE(5, ru1.ru_nivcsw - ru0.ru_nivcsw);
	munmap(d, ZERO_WRITTEN);
	close(sfd);
	close(w);
	close(r);
	close(dst);
	close(dev);
	free(b.buf);
}

TEST_HARNESS_MAIN
