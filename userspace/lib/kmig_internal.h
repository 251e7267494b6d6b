/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libkmig internals: handshake wire constants, TLV encoder and parser.
 *
 * Not installed and not exported from libkmig.so (libkmig.map lists the public
 * symbols). The host tests and the fuzzer link libkmig.a and use these.
 */
#ifndef KMIG_INTERNAL_H
#define KMIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libkmig.h"

#define KMIG_HS_PRINTF(a, b)	__attribute__((format(printf, a, b)))
#define KMIG_HS_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Header: magic, format version, message type, body length. */
#define KMIG_HS_MAGIC		"KMHS"
#define KMIG_HS_MAGIC_LEN	4
#define KMIG_HS_HDR_LEN		12
#define KMIG_HS_MAX_BODY	65536U
#define KMIG_HS_MAX_MSG		(KMIG_HS_HDR_LEN + KMIG_HS_MAX_BODY)
#define KMIG_HS_MAX_FIELDS	64

/* Message types. Never reuse a number. */
enum kmig_hs_msg_type {
	KMIG_HS_MSG_HELLO		= 1,	/* source -> destination */
	KMIG_HS_MSG_ACCEPT		= 2,	/* destination -> source */
	KMIG_HS_MSG_REFUSE		= 3,	/* either way, ends the handshake */
	KMIG_HS_MSG_AUTH		= 4,	/* either way, carries a MAC */
	KMIG_HS_MSG_CONFIRM	= 5,	/* source -> destination, last */
	KMIG_HS_MSG_MAX		= 5,
};

/* TLV field header: u16 type (bit 15 = critical), u16 value length. */
#define KMIG_HS_TLV_HDR_LEN	4
#define KMIG_HS_TLV_CRITICAL	0x8000U
#define KMIG_HS_TLV_NUM_MASK	0x7fffU

/* TLV field numbers. Never reuse a number; 0 is invalid. */
enum kmig_hs_field {
	KMIG_HS_F_VERSIONS		= 1,	/* u32[] ascending */
	KMIG_HS_F_CAPS_SUPPORTED	= 2,	/* u64 */
	KMIG_HS_F_CAPS_REQUIRED	= 3,	/* u64 */
	KMIG_HS_F_PAGE_SIZE	= 4,	/* u32 */
	KMIG_HS_F_LAYOUT		= 5,	/* {u32 id, u64 size}[] */
	KMIG_HS_F_HOST_ID		= 6,	/* string */
	KMIG_HS_F_VM_ID		= 7,	/* string */
	KMIG_HS_F_AUTH_NONCE	= 8,	/* 32 bytes */
	KMIG_HS_F_AUTH_MAC		= 9,	/* 32 bytes */
	KMIG_HS_F_CHOSEN_VERSION	= 10,	/* u32 */
	KMIG_HS_F_CHOSEN_CAPS	= 11,	/* u64 */
	KMIG_HS_F_REASON		= 12,	/* u32 */
	KMIG_HS_F_REASON_TEXT	= 13,	/* string */
	KMIG_HS_F_MAX		= 13,
};

#define KMIG_HS_LAYOUT_ENTRY_LEN	12
#define KMIG_HS_NONCE_LEN	32
#define KMIG_HS_MAC_LEN		32
#define KMIG_HS_PAGE_SIZE_MIN	512U
#define KMIG_HS_PAGE_SIZE_MAX	(1U << 30)

#define KMIG_HS_BIT(f)		(1U << (f))

/* A parsed message. Only fields with their bit in .present are valid. */
struct kmig_hs_msg {
	uint16_t format;
	uint16_t type;
	uint32_t body_len;
	uint32_t present;		/* KMIG_HS_BIT(KMIG_HS_F_*) */
	uint32_t nr_fields;
	uint32_t nr_skipped;		/* unknown non-critical fields */

	uint32_t nr_versions;
	uint32_t versions[KMIG_HS_MAX_VERSIONS];
	uint64_t caps_supported;
	uint64_t caps_required;
	uint32_t page_size;
	uint32_t nr_regions;
	struct kmig_hs_region regions[KMIG_HS_MAX_REGIONS];
	char host_id[KMIG_HS_ID_MAX + 1];
	char vm_id[KMIG_HS_ID_MAX + 1];
	uint8_t nonce[KMIG_HS_NONCE_LEN];
	uint8_t mac[KMIG_HS_MAC_LEN];
	uint32_t chosen_version;
	uint64_t chosen_caps;
	uint32_t reason;
	char reason_text[KMIG_HS_REASON_MAX + 1];

	/* on a parse error */
	uint32_t error;			/* enum kmig_hs_reason */
	char error_text[KMIG_HS_REASON_MAX + 1];
};

/* Little-endian helpers, byte by byte. */
static inline void kmig_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void kmig_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void kmig_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t kmig_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t kmig_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t kmig_get_le64(const uint8_t *p)
{
	return (uint64_t)kmig_get_le32(p) | (uint64_t)kmig_get_le32(p + 4) << 32;
}

/* tlv.c: encoder. Errors are sticky and reported by kmig_w_end(). */
struct kmig_wbuf {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint32_t nr_fields;
	int err;
};

void kmig_w_begin(struct kmig_wbuf *w, uint8_t *buf, size_t cap, uint16_t type);
void kmig_w_u32(struct kmig_wbuf *w, uint16_t field, uint32_t v);
void kmig_w_u64(struct kmig_wbuf *w, uint16_t field, uint64_t v);
void kmig_w_bytes(struct kmig_wbuf *w, uint16_t field, const void *p, size_t len);
void kmig_w_str(struct kmig_wbuf *w, uint16_t field, const char *s);
void kmig_w_versions(struct kmig_wbuf *w, const uint32_t *v, uint32_t n);
void kmig_w_layout(struct kmig_wbuf *w, const struct kmig_hs_region *r, uint32_t n);
/* Fill in the header; returns the message length or -EMSGSIZE / -EINVAL. */
int kmig_w_end(struct kmig_wbuf *w);

/* tlv.c: parser. */
/* Check the first n (<= 4) bytes against the magic. */
bool kmig_hs_magic_ok(const uint8_t *p, size_t n);
/* Validate a 12-byte header: 0 or -EPROTO with out->error/error_text set. */
int kmig_hs_parse_header(const uint8_t *hdr, struct kmig_hs_msg *out);
/* Parse and validate one whole message (header + body): syntax, field
 * bounds, values, required fields for its type. 0 or -EPROTO with
 * out->error and out->error_text set. Never reads outside buf[0..len). */
int kmig_hs_parse(const void *buf, size_t len, struct kmig_hs_msg *out);

const char *kmig_hs_msg_name(uint32_t type);
const char *kmig_hs_field_name(uint32_t field);

/* 1..max bytes of printable UTF-8: no C0/C1 controls, no DEL, no NUL,
 * shortest form, no surrogates, <= U+10FFFF. */
bool kmig_text_valid(const uint8_t *s, size_t len, size_t max);
/* Cut a NUL-terminated string to at most max bytes at a UTF-8 boundary. */
void kmig_text_truncate(char *s, size_t max);
/* snprintf into a fixed buffer, cutting at a UTF-8 boundary. */
void kmig_textf(char *buf, size_t size, const char *fmt, ...) KMIG_HS_PRINTF(3, 4);

/* negotiate.c */
/* Check a layout against a page size. 0 or a reason with text filled. */
uint32_t kmig_layout_check(const struct kmig_hs_region *r, uint32_t n,
			   uint32_t page_size, char *text, size_t textlen);
/* Decide the outcome of src's offer against dst's. Returns KMIG_HS_OK with
 * *version and *caps set, or a reason with text filled. */
uint32_t kmig_negotiate(const struct kmig_offer *src, const struct kmig_offer *dst,
			uint32_t *version, uint64_t *caps, char *text, size_t textlen);
/* "1..3" for a contiguous set, "{1,3,4}" otherwise. */
void kmig_versions_format(const uint32_t *v, uint32_t n, char *buf, size_t len);

/* handshake.c */
/* Record a failure in res (no outcome, message from fmt); returns the status. */
int kmig_hs_failf(struct kmig_hs_result *res, uint32_t reason, uint32_t by,
		  int err, const char *fmt, ...) KMIG_HS_PRINTF(5, 6);
/* Check handshake options: 0 with the timeout and key they give (defaults
 * filled in), or a failure recorded in res as the handshake would. */
int kmig_hs_opts_get(const struct kmig_hs_opts *opts, uint32_t role,
		     int *timeout_ms, const struct kmig_key **key,
		     struct kmig_hs_result *res);

/* auth.c */
int kmig_auth_nonce(uint8_t nonce[KMIG_HS_NONCE_LEN]);
int kmig_auth_digest(const uint8_t *msg, size_t len, uint8_t out[32]);
/* MAC of role over (label || nonce_src || nonce_dst || h_hello || h_accept). */
int kmig_auth_mac(const struct kmig_key *key, uint32_t role,
		  const uint8_t nonce_src[KMIG_HS_NONCE_LEN],
		  const uint8_t nonce_dst[KMIG_HS_NONCE_LEN],
		  const uint8_t h_hello[32], const uint8_t h_accept[32],
		  uint8_t out[KMIG_HS_MAC_LEN]);
bool kmig_auth_mac_equal(const uint8_t *a, const uint8_t *b);
void kmig_wipe(void *p, size_t len);

#endif /* KMIG_INTERNAL_H */
