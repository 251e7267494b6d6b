// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the handshake parser and encoder (messages crafted byte by
 * byte with tests/wire.h) and of the library's small helpers: capability
 * names, offers, key files, reasons.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmig_internal.h"
#include "tap.h"
#include "wire.h"

static struct wb w;		/* big: keep off the stack */
static struct kmig_hs_msg m;

static int parse(void)
{
	return kmig_hs_parse(w.b, w.n, &m);
}

/* Parse must fail with this reason; show the text for the log. */
#define CHECK_REFUSED(reason_)						\
	do {								\
		int _r = parse();					\
		CHECKF(_r == -EPROTO && m.error == (reason_),		\
		       "parse returned %d, reason %u (%s): %s", _r,	\
		       m.error, kmig_hs_reason_name(m.error),		\
		       m.error_text);					\
	} while (0)

#define CHECK_PARSES()							\
	do {								\
		int _r = parse();					\
		CHECKF(_r == 0, "parse returned %d, reason %s: %s", _r,	\
		       kmig_hs_reason_name(m.error), m.error_text);	\
	} while (0)

static void std_hello(void)
{
	wb_begin(&w, W_HELLO);
	wb_hello_fields(&w, 1, 2, 0x3, 4096);
}

static bool parse_valid_hello(void)
{
	static const uint8_t nonce[32] = { 1, 2, 3, [31] = 0xff };

	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1, 2, 0x01020304 }, 3);
	wb_f_u64(&w, WF_CAPS, 0x0102030405060708ULL);
	wb_f_u64(&w, WF_CAPS_REQ, 0x0000000000000008ULL);
	wb_f_u32(&w, WF_PAGE_SIZE, 16384);
	wb_field(&w, WF_LAYOUT, 24);
	wb_u32(&w, 7);
	wb_u64(&w, 16384ULL * 3);
	wb_u32(&w, 9);
	wb_u64(&w, 0x100000000ULL);
	wb_f_str(&w, WF_HOST_ID, "host-a");
	wb_f_str(&w, WF_VM_ID, "vm \xc3\xa9t\xc3\xa9");	/* UTF-8 */
	wb_f_bytes(&w, WF_NONCE, nonce, 32);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.type, W_HELLO);
	CHECK_EQ(m.nr_versions, 3);
	CHECK_EQ(m.versions[2], 0x01020304);
	CHECK(m.caps_supported == 0x0102030405060708ULL);
	CHECK_EQ(m.caps_required, 8);
	CHECK_EQ(m.page_size, 16384);
	CHECK_EQ(m.nr_regions, 2);
	CHECK_EQ(m.regions[0].id, 7);
	CHECK(m.regions[0].size == 16384ULL * 3);
	CHECK_EQ(m.regions[1].id, 9);
	CHECK(m.regions[1].size == 0x100000000ULL);
	CHECK(!strcmp(m.host_id, "host-a"));
	CHECK(!strcmp(m.vm_id, "vm \xc3\xa9t\xc3\xa9"));
	CHECK(!memcmp(m.nonce, nonce, 32));
	CHECK(m.present & KMIG_HS_BIT(KMIG_HS_F_AUTH_NONCE));
	CHECK_EQ(m.nr_skipped, 0);
	return true;
}

static bool parse_valid_other_messages(void)
{
	uint8_t mac[32];

	wb_begin(&w, W_ACCEPT);
	wb_accept_fields(&w, 2, 5, 4096);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.chosen_version, 2);
	CHECK_EQ(m.chosen_caps, 5);

	wb_begin(&w, W_REFUSE);
	wb_f_u32(&w, WF_REASON, 10);
	wb_f_str(&w, WF_REASON_TEXT, "go away");
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.reason, 10);
	CHECK(!strcmp(m.reason_text, "go away"));

	memset(mac, 0xab, sizeof(mac));
	wb_begin(&w, W_AUTH);
	wb_f_bytes(&w, WF_MAC, mac, 32);
	wb_end(&w);
	CHECK_PARSES();
	CHECK(!memcmp(m.mac, mac, 32));

	wb_begin(&w, W_CONFIRM);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.body_len, 0);
	return true;
}

static bool parse_unknown_noncritical_skipped(void)
{
	std_hello();
	wb_f_str(&w, 0x0123, "from the future");
	wb_field(&w, 0x7fff, 0);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.nr_skipped, 2);
	CHECK_EQ(m.nr_versions, 2);
	return true;
}

static bool parse_unknown_critical_refused(void)
{
	std_hello();
	wb_f_u32(&w, W_CRIT | 0x0123, 1);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_UNKNOWN_CRITICAL);
	CHECK_STR_HAS(m.error_text, "291");	/* 0x123 */
	return true;
}

static bool parse_field_outside_its_message(void)
{
	/* HOST_ID is not defined in CONFIRM: non-critical, so skipped. */
	wb_begin(&w, W_CONFIRM);
	wb_f_str(&w, WF_HOST_ID, "x");
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.nr_skipped, 1);
	CHECK(!(m.present & KMIG_HS_BIT(KMIG_HS_F_HOST_ID)));
	/* VERSIONS (critical) in CONFIRM: unknown critical there. */
	wb_begin(&w, W_CONFIRM);
	wb_f_versions(&w, (const uint32_t[]){ 1 }, 1);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_UNKNOWN_CRITICAL);
	return true;
}

static bool parse_critical_bit_of_known_field_ignored(void)
{
	/* A known field is understood with or without the critical bit. */
	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1 }, 1);
	wb_f_u64(&w, 2, 1);		/* CAPS_SUPPORTED without the bit */
	wb_f_u32(&w, W_CRIT | 6, 0x41414141);	/* HOST_ID "AAAA" with it */
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.caps_supported, 1);
	CHECK(!strcmp(m.host_id, "AAAA"));
	return true;
}

static bool parse_duplicate_field_refused(void)
{
	std_hello();
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_DUPLICATE_FIELD);
	CHECK_STR_HAS(m.error_text, "PAGE_SIZE");

	/* Also with the other value of the critical bit, and unknown fields. */
	std_hello();
	wb_f_u32(&w, 4, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_DUPLICATE_FIELD);
	std_hello();
	wb_field(&w, 0x200, 0);
	wb_field(&w, 0x200, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_DUPLICATE_FIELD);
	return true;
}

static bool parse_truncated_refused(void)
{
	/* Shorter than a header. */
	std_hello();
	wb_end(&w);
	w.n = 11;
	CHECK_REFUSED(KMIG_HS_TRUNCATED);
	/* Body shorter than announced. */
	std_hello();
	wb_end(&w);
	w.n -= 1;
	CHECK_REFUSED(KMIG_HS_TRUNCATED);
	/* Field value running past the end of the body. */
	std_hello();
	wb_field(&w, WF_HOST_ID, 10);
	wb_raw(&w, "abc", 3);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_TRUNCATED);
	CHECK_STR_HAS(m.error_text, "past the end");
	/* Field header cut in half. */
	std_hello();
	wb_u16(&w, WF_HOST_ID);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_TRUNCATED);
	return true;
}

static bool parse_trailing_bytes_refused(void)
{
	std_hello();
	wb_end(&w);
	wb_u8(&w, 0);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	return true;
}

static bool parse_oversized_length_refused(void)
{
	/* 65536 bytes of body are allowed ... */
	std_hello();
	{
		size_t room = 65536 - (w.n - 12) - 8;
		uint16_t a = (uint16_t)(room / 2), b = (uint16_t)(room - a);

		wb_field(&w, 0x300, a);
		for (uint16_t i = 0; i < a; i++)
			wb_u8(&w, 'x');
		wb_field(&w, 0x301, b);
		for (uint16_t i = 0; i < b; i++)
			wb_u8(&w, 'y');
	}
	wb_end(&w);
	CHECK_EQ(w.n, 12 + 65536);
	CHECK_PARSES();
	/* ... 65537 are not, whatever follows. */
	wb_u8(&w, 'z');
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_TOO_LARGE);
	/* A huge announced length is refused from the header alone. */
	std_hello();
	wb_set_len(&w, 0xffffffffu);
	CHECK_EQ(kmig_hs_parse_header(w.b, &m), -EPROTO);
	CHECK_EQ(m.error, KMIG_HS_TOO_LARGE);
	return true;
}

static bool parse_bad_magic_refused(void)
{
	wb_hdr(&w, "KMHT", 1, W_HELLO);
	wb_hello_fields(&w, 1, 1, 0, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_BAD_MAGIC);
	w.n = 0;
	wb_raw(&w, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	CHECK_REFUSED(KMIG_HS_BAD_MAGIC);
	CHECK(!kmig_hs_magic_ok((const uint8_t *)"KX", 2));
	CHECK(kmig_hs_magic_ok((const uint8_t *)"KM", 2));
	return true;
}

static bool parse_bad_format_refused(void)
{
	wb_hdr(&w, "KMHS", 2, W_HELLO);
	wb_hello_fields(&w, 1, 1, 0, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_BAD_FORMAT);
	CHECK_STR_HAS(m.error_text, "format 2");
	wb_hdr(&w, "KMHS", 0, W_HELLO);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_BAD_FORMAT);
	return true;
}

static bool parse_unknown_message_type_refused(void)
{
	wb_begin(&w, 99);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_UNEXPECTED_MESSAGE);
	wb_begin(&w, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_UNEXPECTED_MESSAGE);
	return true;
}

static bool parse_field_count_bounded(void)
{
	std_hello();			/* 4 fields */
	for (int i = 0; i < 60; i++)
		wb_field(&w, (uint16_t)(0x400 + i), 0);
	wb_end(&w);
	CHECK_PARSES();			/* 64 fields */
	CHECK_EQ(m.nr_fields, 64);
	wb_field(&w, 0x500, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);	/* 65 */
	CHECK_STR_HAS(m.error_text, "more than 64");
	return true;
}

static bool parse_field_number_zero_refused(void)
{
	std_hello();
	wb_field(&w, 0, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	std_hello();
	wb_field(&w, W_CRIT, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	return true;
}

static bool versions_msg(const uint32_t *v, size_t n)
{
	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, v, n);
	wb_f_u64(&w, WF_CAPS, 0);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	return true;
}

static bool parse_versions_validated(void)
{
	uint32_t many[33];

	for (int i = 0; i < 33; i++)
		many[i] = (uint32_t)i + 1;
	versions_msg(many, 32);
	CHECK_PARSES();
	CHECK_EQ(m.nr_versions, 32);
	versions_msg(many, 33);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	versions_msg((const uint32_t[]){ 0, 1 }, 2);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	versions_msg((const uint32_t[]){ 2, 1 }, 2);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	versions_msg((const uint32_t[]){ 2, 2 }, 2);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	versions_msg(many, 0);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	/* Length not a multiple of 4. */
	wb_begin(&w, W_HELLO);
	wb_field(&w, WF_VERSIONS, 6);
	wb_u32(&w, 1);
	wb_u16(&w, 0);
	wb_f_u64(&w, WF_CAPS, 0);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	return true;
}

static bool parse_fixed_lengths_enforced(void)
{
	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1 }, 1);
	wb_f_u32(&w, WF_CAPS, 1);	/* u64 field sent as 4 bytes */
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	CHECK_STR_HAS(m.error_text, "CAPS_SUPPORTED");

	wb_begin(&w, W_ACCEPT);
	wb_f_u64(&w, WF_CHOSEN_VER, 1);	/* u32 field sent as 8 bytes */
	wb_f_u64(&w, WF_CHOSEN_CAPS, 0);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);

	wb_begin(&w, W_AUTH);
	wb_f_bytes(&w, WF_MAC, "short", 5);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	return true;
}

static bool parse_page_size_validated(void)
{
	static const uint32_t bad[] = { 0, 256, 4097, 3 << 12, 1U << 31 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wb_begin(&w, W_HELLO);
		wb_hello_fields(&w, 1, 1, 0, bad[i]);
		wb_end(&w);
		CHECK_REFUSED(KMIG_HS_MALFORMED);
	}
	wb_begin(&w, W_HELLO);
	wb_hello_fields(&w, 1, 1, 0, 65536);
	wb_end(&w);
	CHECK_PARSES();
	return true;
}

static void layout_msg(uint32_t n, uint32_t dup_at, uint64_t size)
{
	std_hello();
	wb_field(&w, WF_LAYOUT, (uint16_t)(12 * n));
	for (uint32_t i = 0; i < n; i++) {
		wb_u32(&w, i == dup_at ? 0 : i);
		wb_u64(&w, i == n - 1 ? size : 4096);
	}
	wb_end(&w);
}

static bool parse_layout_validated(void)
{
	layout_msg(KMIG_HS_MAX_REGIONS, ~0U, 4096);
	CHECK_PARSES();
	CHECK_EQ(m.nr_regions, KMIG_HS_MAX_REGIONS);
	CHECK_EQ(m.regions[KMIG_HS_MAX_REGIONS - 1].id, KMIG_HS_MAX_REGIONS - 1);
	layout_msg(KMIG_HS_MAX_REGIONS + 1, ~0U, 4096);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	layout_msg(3, 2, 4096);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	CHECK_STR_HAS(m.error_text, "twice");
	layout_msg(3, ~0U, 0);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	/* Entry length not a multiple of 12. */
	std_hello();
	wb_field(&w, WF_LAYOUT, 8);
	wb_u64(&w, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	/* Empty layout is allowed (no regions). */
	std_hello();
	wb_field(&w, WF_LAYOUT, 0);
	wb_end(&w);
	CHECK_PARSES();
	CHECK_EQ(m.nr_regions, 0);
	return true;
}

static bool id_msg(const void *s, size_t n)
{
	std_hello();
	wb_f_bytes(&w, WF_HOST_ID, s, n);
	wb_end(&w);
	return true;
}

static bool parse_strings_validated(void)
{
	char big[256];

	memset(big, 'h', sizeof(big));
	id_msg(big, 255);
	CHECK_PARSES();
	CHECK_EQ(strlen(m.host_id), 255);
	id_msg(big, 256);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("", 0);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("a\nb", 3);			/* control character */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("a\0b", 3);			/* NUL */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("a\x7f", 2);			/* DEL */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("\xc0\x80", 2);			/* overlong NUL */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("\xed\xa0\x80", 3);		/* surrogate */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("ab\xe2\x82", 4);		/* cut sequence */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("\xc2\x85", 2);			/* C1 control NEL */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("\xf4\x90\x80\x80", 4);		/* > U+10FFFF */
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	id_msg("Z\xc3\xbcrich-\xe3\x83\x9b\xf0\x9f\x98\x80", 15);
	CHECK_PARSES();
	return true;
}

static bool parse_missing_required_refused(void)
{
	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1 }, 1);
	wb_f_u64(&w, WF_CAPS, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MISSING_FIELD);
	CHECK_STR_HAS(m.error_text, "PAGE_SIZE");

	wb_begin(&w, W_ACCEPT);
	wb_f_u64(&w, WF_CHOSEN_CAPS, 0);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MISSING_FIELD);
	CHECK_STR_HAS(m.error_text, "CHOSEN_VERSION");

	wb_begin(&w, W_REFUSE);
	wb_f_str(&w, WF_REASON_TEXT, "no reason code");
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MISSING_FIELD);

	wb_begin(&w, W_AUTH);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MISSING_FIELD);
	return true;
}

static bool parse_semantic_checks(void)
{
	/* Required caps must be a subset of the supported ones. */
	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1 }, 1);
	wb_f_u64(&w, WF_CAPS, 0x1);
	wb_f_u64(&w, WF_CAPS_REQ, 0x2);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	/* REFUSE with reason 0 ("ok") is nonsense. */
	wb_begin(&w, W_REFUSE);
	wb_f_u32(&w, WF_REASON, 0);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	/* ACCEPT choosing version 0. */
	wb_begin(&w, W_ACCEPT);
	wb_accept_fields(&w, 0, 0, 4096);
	wb_end(&w);
	CHECK_REFUSED(KMIG_HS_MALFORMED);
	return true;
}

/* The library's encoder must produce exactly the documented bytes. */
static bool encoder_matches_spec(void)
{
	static uint8_t buf[KMIG_HS_MAX_MSG];
	static const struct kmig_hs_region r[2] = {
		{ .id = 1, .size = 8192 }, { .id = 0x01020304, .size = 1ULL << 40 },
	};
	uint8_t nonce[32];
	struct kmig_wbuf kw;
	int len;

	for (int i = 0; i < 32; i++)
		nonce[i] = (uint8_t)(i * 7);
	kmig_w_begin(&kw, buf, sizeof(buf), KMIG_HS_MSG_HELLO);
	kmig_w_versions(&kw, (const uint32_t[]){ 1, 2 }, 2);
	kmig_w_u64(&kw, KMIG_HS_F_CAPS_SUPPORTED, 0x8000000000000005ULL);
	kmig_w_u64(&kw, KMIG_HS_F_CAPS_REQUIRED, 0x1);
	kmig_w_u32(&kw, KMIG_HS_F_PAGE_SIZE, 4096);
	kmig_w_layout(&kw, r, 2);
	kmig_w_str(&kw, KMIG_HS_F_HOST_ID, "h");
	kmig_w_str(&kw, KMIG_HS_F_VM_ID, "v");
	kmig_w_bytes(&kw, KMIG_HS_F_AUTH_NONCE, nonce, 32);
	len = kmig_w_end(&kw);

	wb_begin(&w, W_HELLO);
	wb_f_versions(&w, (const uint32_t[]){ 1, 2 }, 2);
	wb_f_u64(&w, WF_CAPS, 0x8000000000000005ULL);
	wb_f_u64(&w, WF_CAPS_REQ, 0x1);
	wb_f_u32(&w, WF_PAGE_SIZE, 4096);
	wb_field(&w, WF_LAYOUT, 24);
	wb_u32(&w, 1);
	wb_u64(&w, 8192);
	wb_u32(&w, 0x01020304);
	wb_u64(&w, 1ULL << 40);
	wb_f_str(&w, WF_HOST_ID, "h");
	wb_f_str(&w, WF_VM_ID, "v");
	wb_f_bytes(&w, WF_NONCE, nonce, 32);
	wb_end(&w);

	CHECK_EQ(len, (int)w.n);
	for (size_t i = 0; i < w.n; i++)
		CHECKF(buf[i] == w.b[i], "byte %zu: library 0x%02x, spec 0x%02x",
		       i, buf[i], w.b[i]);
	/* Header bytes spelled out. */
	CHECK(!memcmp(buf, "KMHS\x01\x00\x01\x00", 8));
	CHECK_EQ(rd_u32(buf + 8), len - 12);

	/* Encoder limits. */
	kmig_w_begin(&kw, buf, sizeof(buf), KMIG_HS_MSG_HELLO);
	for (int i = 0; i < 65; i++)
		kmig_w_u32(&kw, KMIG_HS_F_PAGE_SIZE, 4096);
	CHECK_EQ(kmig_w_end(&kw), -EMSGSIZE);
	kmig_w_begin(&kw, buf, 20, KMIG_HS_MSG_HELLO);
	kmig_w_u64(&kw, KMIG_HS_F_CAPS_SUPPORTED, 1);
	CHECK_EQ(kmig_w_end(&kw), -EMSGSIZE);
	kmig_w_begin(&kw, buf, sizeof(buf), KMIG_HS_MSG_HELLO);
	kmig_w_u32(&kw, 99, 1);
	CHECK_EQ(kmig_w_end(&kw), -EINVAL);
	return true;
}

static bool caps_names_parse_format(void)
{
	char buf[128];
	uint64_t m64 = 0;

	CHECK(!strcmp(kmig_cap_name(0), "zero_pages"));
	CHECK(!strcmp(kmig_cap_name(1), "checksum"));
	CHECK(!strcmp(kmig_cap_name(2), "blobs"));
	CHECK(kmig_cap_name(3) == NULL);
	CHECK(kmig_cap_name(64) == NULL);
	CHECK(!strcmp(kmig_feature_name(2), "dirty_track"));

	CHECK_EQ(kmig_caps_parse("checksum,blobs", &m64), 0);
	CHECK_EQ(m64, KMIG_CAP_CHECKSUM | KMIG_CAP_BLOBS);
	CHECK_EQ(kmig_caps_parse(" Zero_Pages , 0x4 ", &m64), 0);
	CHECK_EQ(m64, KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS);
	CHECK_EQ(kmig_caps_parse("none", &m64), 0);
	CHECK_EQ(m64, 0);
	CHECK_EQ(kmig_caps_parse("", &m64), 0);
	CHECK_EQ(m64, 0);
	CHECK_EQ(kmig_caps_parse("all", &m64), 0);
	CHECK_EQ(m64, 7 | KMIG_HS_CAP_COMMIT);
	CHECK(!strcmp(kmig_cap_name(63), "commit"));
	CHECK_EQ(kmig_caps_parse("bit9,7", &m64), 0);
	CHECK_EQ(m64, (1 << 9) | 7);
	m64 = 42;
	CHECK_EQ(kmig_caps_parse("checksum,bogus", &m64), -EINVAL);
	CHECK_EQ(m64, 42);
	CHECK_EQ(kmig_caps_parse("checksum,", &m64), -EINVAL);
	CHECK_EQ(kmig_caps_parse(",checksum", &m64), -EINVAL);
	CHECK_EQ(kmig_caps_parse("bit64", &m64), -EINVAL);
	CHECK_EQ(kmig_caps_parse("0x1zz", &m64), -EINVAL);

	CHECK_EQ(kmig_caps_format(0, buf, sizeof(buf)), 4);
	CHECK(!strcmp(buf, "none"));
	CHECK_EQ(kmig_caps_format(0x83, buf, sizeof(buf)), 24);
	CHECK(!strcmp(buf, "zero_pages,checksum,bit7"));
	CHECK_EQ(kmig_caps_format(0x83, buf, 5), 24);	/* truncated */
	CHECK(!strcmp(buf, "zero"));
	return true;
}

static int nop_op(void *opaque)
{
	(void)opaque;
	return 0;
}

/* The migration driver checks its params struct before anything else. */
static bool migrate_params_validated(void)
{
	struct kmig_hs_result hs = { .version = 2, .page_size = 4096,
				     .nr_regions = 1 };
	struct kmig_migrate_ops ops = { .pause = nop_op, .resume = nop_op };
	struct kmig_migrate_params zero = { .sz = 0 };
	struct kmig_migrate_params v0 = {
		.sz = offsetof(struct kmig_migrate_params, io_timeout_ms),
	};
	struct {
		struct kmig_migrate_params p;
		uint64_t extra;
	} big = { .p = { .sz = sizeof(big) }, .extra = 1 };
	static struct kmig_migrate_result res;
	int mem = -1;

	CHECK_EQ(kmig_migrate_source(-1, -1, &hs, &mem, 1, &zero, &ops, NULL,
				     &res), -EINVAL);
	CHECK(strstr(res.message, "params") != NULL);
	CHECK_EQ(kmig_migrate_destination_params(-1, -1, &hs, &mem, 1, &zero,
						 &ops, NULL, &res), -EINVAL);
	CHECK_EQ(kmig_migrate_source(-1, -1, &hs, &mem, 1, &big.p, &ops, NULL,
				     &res), -E2BIG);
	CHECK_EQ(kmig_migrate_destination_params(-1, -1, &hs, &mem, 1, &big.p,
						 &ops, NULL, &res), -E2BIG);
	/* a zero tail, and the first version's size, get past the check */
	big.extra = 0;
	CHECK_EQ(kmig_migrate_source(-1, -1, &hs, &mem, 1, &big.p, &ops, NULL,
				     &res), -EBADF);
	CHECK_EQ(kmig_migrate_source(-1, -1, &hs, &mem, 1, &v0, &ops, NULL,
				     &res), -EBADF);
	return true;
}

static bool offer_helpers(void)
{
	struct kmig_info info = { .proto_min = 1, .proto_max = 2, .caps = 7,
				  .page_size = 4096 };
	static struct kmig_offer o;

	CHECK_EQ(kmig_offer_from_info(&info, &o), 0);
	CHECK_EQ(o.nr_versions, 2);
	CHECK_EQ(o.versions[0], 1);
	CHECK_EQ(o.versions[1], 2);
	/* the module's capabilities, and libkmig's commit protocol */
	CHECK_EQ(o.caps_supported, 7 | KMIG_HS_CAP_COMMIT);
	CHECK_EQ(o.caps_required, 0);
	CHECK_EQ(kmig_offer_validate(&o), 0);

	info.proto_min = 0;
	CHECK_EQ(kmig_offer_from_info(&info, &o), -EINVAL);
	info.proto_min = 3;
	CHECK_EQ(kmig_offer_from_info(&info, &o), -EINVAL);
	info.proto_min = 1;
	info.proto_max = 40;
	CHECK_EQ(kmig_offer_from_info(&info, &o), -EINVAL);
	info.proto_max = 3;
	info.page_size = 1000;
	CHECK_EQ(kmig_offer_from_info(&info, &o), -EINVAL);
	info.page_size = 4096;
	CHECK_EQ(kmig_offer_from_info(&info, &o), 0);

	/* Narrowing. */
	CHECK_EQ(kmig_offer_require(&o, KMIG_CAP_CHECKSUM), 0);
	CHECK_EQ(kmig_offer_narrow(&o, 2, ~KMIG_CAP_CHECKSUM), -EINVAL);
	CHECK_EQ(kmig_offer_narrow(&o, 2, KMIG_CAP_CHECKSUM), 0);
	CHECK_EQ(o.nr_versions, 2);
	CHECK_EQ(o.caps_supported, KMIG_CAP_CHECKSUM);
	CHECK_EQ(kmig_offer_narrow(&o, 0, ~0ULL), 0);	/* no-op */
	CHECK_EQ(o.nr_versions, 2);
	CHECK_EQ(kmig_offer_require(&o, KMIG_CAP_BLOBS), -EOPNOTSUPP);
	kmig_offer_init(&o);
	CHECK_EQ(kmig_offer_set_versions(&o, 2, 3), 0);
	CHECK_EQ(kmig_offer_narrow(&o, 1, ~0ULL), -ENOENT);
	CHECK_EQ(o.nr_versions, 2);	/* unchanged */
	CHECK_EQ(kmig_offer_set_versions(&o, 0, 1), -EINVAL);
	CHECK_EQ(kmig_offer_set_versions(&o, 2, 1), -EINVAL);
	CHECK_EQ(kmig_offer_set_versions(&o, 1, 32), 0);
	CHECK_EQ(kmig_offer_set_versions(&o, 1, 33), -EINVAL);
	CHECK_EQ(kmig_offer_set_versions(&o, 0xfffffff0u, 0xffffffffu), 0);
	CHECK_EQ(o.nr_versions, 16);

	/* Regions. */
	o.page_size = 4096;
	CHECK_EQ(kmig_offer_add_region(&o, 1, 4096), 0);
	CHECK_EQ(kmig_offer_add_region(&o, 1, 8192), -EEXIST);
	CHECK_EQ(kmig_offer_add_region(&o, 2, 100), -EINVAL);
	CHECK_EQ(kmig_offer_add_region(&o, 2, 0), -EINVAL);
	for (uint32_t i = 2; i <= KMIG_HS_MAX_REGIONS; i++)
		CHECK_EQ(kmig_offer_add_region(&o, i, 4096), 0);
	CHECK_EQ(kmig_offer_add_region(&o, 1000, 4096), -E2BIG);
	CHECK_EQ(kmig_offer_validate(&o), 0);

	/* Identities. */
	CHECK_EQ(kmig_offer_set_identity(&o, "host", "vm-1"), 0);
	CHECK(!strcmp(o.host_id, "host") && !strcmp(o.vm_id, "vm-1"));
	CHECK_EQ(kmig_offer_set_identity(&o, "ok", "bad\x01"), -EINVAL);
	CHECK(!strcmp(o.host_id, "host") && !strcmp(o.vm_id, "vm-1"));
	CHECK_EQ(kmig_offer_set_identity(&o, NULL, ""), 0);
	CHECK(!strcmp(o.host_id, "host") && !o.vm_id[0]);
	return true;
}

static bool offer_validate_rejects(void)
{
	static struct kmig_offer o;

	kmig_offer_init(&o);
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);	/* no versions */
	kmig_offer_set_versions(&o, 1, 2);
	CHECK_EQ(kmig_offer_validate(&o), 0);
	o.versions[1] = 1;
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);	/* not ascending */
	o.versions[1] = 2;
	o.caps_required = 1;
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);	/* required > supported */
	o.caps_required = 0;
	o.page_size = 3000;
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);
	o.page_size = 4096;
	o.nr_regions = 1;
	o.regions[0].size = 4095;
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);
	o.nr_regions = 0;
	memset(o.host_id, 'x', sizeof(o.host_id));	/* unterminated */
	CHECK_EQ(kmig_offer_validate(&o), -EINVAL);
	o.host_id[0] = '\0';
	CHECK_EQ(kmig_offer_validate(NULL), -EINVAL);
	CHECK_EQ(kmig_offer_validate(&o), 0);
	return true;
}

static bool write_file(const char *path, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	uint8_t buf[4096];
	bool ok = fd >= 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	while (ok && len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		ok = write(fd, buf, n) == (ssize_t)n;
		len -= n;
	}
	if (fd >= 0 && close(fd))
		ok = false;
	return ok;
}

static bool key_files(void)
{
	static struct kmig_key key;
	char dir[] = "/tmp/kmig-test-XXXXXX", path[64];
	bool ok = true;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
#define KEY_CASE(klen, kexp)						\
	do {								\
		int _r;							\
		ok = ok && write_file(path, klen);			\
		_r = kmig_load_key_file(path, &key);			\
		if (_r != (kexp)) {					\
			tap_diag("key of %d bytes: got %d, expected %d",\
				 (int)(klen), _r, (int)(kexp));		\
			ok = false;					\
		}							\
		if (!_r && key.len != (size_t)(klen))			\
			ok = false;					\
		if (_r && key.len != 0)					\
			ok = false;					\
	} while (0)
	KEY_CASE(0, -EINVAL);
	KEY_CASE(15, -EINVAL);
	KEY_CASE(16, 0);
	KEY_CASE(32, 0);
	KEY_CASE(4096, 0);
	KEY_CASE(4097, -EFBIG);
	KEY_CASE(100000, -EFBIG);
#undef KEY_CASE
	unlink(path);
	if (kmig_load_key_file(path, &key) != -ENOENT)
		ok = false;
	if (kmig_load_key_file(dir, &key) != -EINVAL)	/* a directory */
		ok = false;
	rmdir(dir);
	CHECK(ok);

	CHECK_EQ(kmig_key_set(&key, "0123456789abcdef", 16), 0);
	CHECK_EQ(key.len, 16);
	CHECK_EQ(kmig_key_set(&key, "0123456789abcde", 15), -EINVAL);
	CHECK_EQ(key.len, 0);
	kmig_key_set(&key, "0123456789abcdef", 16);
	kmig_key_clear(&key);
	CHECK_EQ(key.len, 0);
	CHECK_EQ(key.bytes[0], 0);
	return true;
}

/* libkmig itself refuses a key group or others may read or write. */
static bool key_file_mode_refused(void)
{
	static const struct {
		mode_t mode;
		int expect;
	} cases[] = {
		{ 0600, 0 }, { 0400, 0 }, { 0700, 0 },
		{ 0644, -EACCES }, { 0640, -EACCES }, { 0604, -EACCES },
		{ 0620, -EACCES }, { 0602, -EACCES }, { 0660, -EACCES },
		{ 0601, -EACCES }, { 0666, -EACCES },
	};
	static struct kmig_key key;
	char dir[] = "/tmp/kmig-test-XXXXXX", path[64];
	bool ok = true;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	ok = write_file(path, 32);
	for (size_t i = 0; ok && i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		/* A key loaded before: a refusal must clear it. */
		kmig_key_set(&key, "0123456789abcdef", 16);
		if (chmod(path, cases[i].mode)) {
			ok = false;
			break;
		}
		r = kmig_load_key_file(path, &key);
		if (r != cases[i].expect || (r ? key.len != 0 : key.len != 32)) {
			tap_diag("mode %04o: got %d (key.len %zu), expected %d",
				 (unsigned int)cases[i].mode, r, key.len,
				 cases[i].expect);
			ok = false;
		}
	}
	unlink(path);
	rmdir(dir);
	CHECK(ok);
	return true;
}

static bool reasons_and_errnos(void)
{
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_OK), 0);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_MALFORMED), -EPROTO);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_NO_COMMON_VERSION), -EPROTONOSUPPORT);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_MISSING_CAPABILITY), -EOPNOTSUPP);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_AUTH_FAILED), -EACCES);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_AUTH_REQUIRED), -EACCES);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_TIMEOUT), -ETIMEDOUT);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_PAGE_SIZE_MISMATCH), -ECONNREFUSED);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_PEER_CLOSED), -ECONNRESET);
	CHECK_EQ(kmig_hs_reason_errno(200), -ECONNREFUSED);
	CHECK(!strcmp(kmig_hs_reason_name(KMIG_HS_BAD_MAGIC), "bad_magic"));
	CHECK(!strcmp(kmig_hs_reason_name(200), "unknown"));
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_TOO_MANY_REJECTS), -ECONNREFUSED);
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_ACCEPT_TIMEOUT), -ETIMEDOUT);
	CHECK(!strcmp(kmig_hs_reason_name(KMIG_HS_ACCEPT_TIMEOUT), "accept_timeout"));
	for (uint32_t r = 1; r <= KMIG_HS_TIMEOUT; r++)
		CHECKF(strcmp(kmig_hs_reason_name(r), "unknown") &&
		       kmig_hs_reason_errno(r) < 0, "reason %u", r);
	CHECK(!strcmp(kmig_hs_role_name(KMIG_HS_ROLE_SOURCE), "source"));
	CHECK(!strcmp(kmig_hs_role_name(KMIG_HS_ROLE_DESTINATION), "destination"));
	CHECK(!strcmp(kmig_lib_version(), LIBKMIG_VERSION_STRING));
	return true;
}

static bool text_helpers(void)
{
	char s[32];
	char list[64];

	strcpy(s, "ab\xc3\xa9");	/* 4 bytes */
	kmig_text_truncate(s, 3);	/* would cut the é */
	CHECK(!strcmp(s, "ab"));
	strcpy(s, "ab\xf0\x9f\x98\x80z");
	kmig_text_truncate(s, 5);
	CHECK(!strcmp(s, "ab"));
	strcpy(s, "ab\xf0\x9f\x98\x80z");
	kmig_text_truncate(s, 6);
	CHECK(!strcmp(s, "ab\xf0\x9f\x98\x80"));
	kmig_versions_format((const uint32_t[]){ 1, 2, 3 }, 3, list, sizeof(list));
	CHECK(!strcmp(list, "1..3"));
	kmig_versions_format((const uint32_t[]){ 4 }, 1, list, sizeof(list));
	CHECK(!strcmp(list, "4..4"));
	kmig_versions_format((const uint32_t[]){ 1, 3, 4 }, 3, list, sizeof(list));
	CHECK(!strcmp(list, "{1,3,4}"));
	return true;
}

static bool negotiate_rules(void)
{
	static struct kmig_offer s, d;
	char text[256];
	uint32_t v;
	uint64_t c;

	kmig_offer_init(&s);
	kmig_offer_init(&d);
	s.page_size = d.page_size = 4096;
	s.nr_versions = 2;
	s.versions[0] = 1;
	s.versions[1] = 3;
	d.nr_versions = 2;
	d.versions[0] = 2;
	d.versions[1] = 3;
	s.caps_supported = 7;
	d.caps_supported = 6;
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)), KMIG_HS_OK);
	CHECK_EQ(v, 3);
	CHECK_EQ(c, 6);
	d.versions[1] = 4;
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)),
		 KMIG_HS_NO_COMMON_VERSION);
	CHECK_STR_HAS(text, "destination supports protocol {2,4}, source offers {1,3}");
	CHECK_EQ(v, 0);
	/* A destination that expects a VM: the source must name it. */
	d.versions[1] = 3;
	strcpy(d.vm_id, "vm-1");
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)), KMIG_HS_VM_MISMATCH);
	CHECK_STR_HAS(text, "VM identity missing: the destination expects VM \"vm-1\"");
	strcpy(s.vm_id, "vm-2");
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)), KMIG_HS_VM_MISMATCH);
	strcpy(s.vm_id, "vm-1");
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)), KMIG_HS_OK);
	d.vm_id[0] = '\0';	/* expects none: takes any */
	CHECK_EQ(kmig_negotiate(&s, &d, &v, &c, text, sizeof(text)), KMIG_HS_OK);
	return true;
}

static bool device_without_module(void)
{
	struct kmig_info info;
	int fd;

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_EQ(kmig_query(fd, &info), -ENOTTY);
	close(fd);
	CHECK_EQ(kmig_query(-1, &info), -EBADF);

	if (!access("/dev/kmig", F_OK)) {
		tap_skip("/dev/kmig exists, module tests belong to selftests/");
		return true;
	}
	CHECK_EQ(kmig_open(), -ENOENT);
	return true;
}

static const struct tap_test tests[] = {
	TEST(parse_valid_hello),
	TEST(parse_valid_other_messages),
	TEST(parse_unknown_noncritical_skipped),
	TEST(parse_unknown_critical_refused),
	TEST(parse_field_outside_its_message),
	TEST(parse_critical_bit_of_known_field_ignored),
	TEST(parse_duplicate_field_refused),
	TEST(parse_truncated_refused),
	TEST(parse_trailing_bytes_refused),
	TEST(parse_oversized_length_refused),
	TEST(parse_bad_magic_refused),
	TEST(parse_bad_format_refused),
	TEST(parse_unknown_message_type_refused),
	TEST(parse_field_count_bounded),
	TEST(parse_field_number_zero_refused),
	TEST(parse_versions_validated),
	TEST(parse_fixed_lengths_enforced),
	TEST(parse_page_size_validated),
	TEST(parse_layout_validated),
	TEST(parse_strings_validated),
	TEST(parse_missing_required_refused),
	TEST(parse_semantic_checks),
	TEST(encoder_matches_spec),
	TEST(caps_names_parse_format),
	TEST(offer_helpers),
	TEST(migrate_params_validated),
	TEST(offer_validate_rejects),
	TEST(key_files),
	TEST(key_file_mode_refused),
	TEST(reasons_and_errnos),
	TEST(text_helpers),
	TEST(negotiate_rules),
	TEST(device_without_module),
};

TEST_MAIN(tests)
