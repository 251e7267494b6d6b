/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-side handshake message builder and reader, written from Documentation/handshake.rst
 * independently of lib/tlv.c, so that the tests do not just round-trip the
 * library's own encoder. Every integer is written byte by byte,
 * little-endian.
 */
#ifndef KMIG_TEST_WIRE_H
#define KMIG_TEST_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Message types and field numbers, as documented. */
#define W_HELLO		1
#define W_ACCEPT	2
#define W_REFUSE	3
#define W_AUTH		4
#define W_CONFIRM	5

#define W_CRIT		0x8000
#define WF_VERSIONS	(W_CRIT | 1)
#define WF_CAPS		(W_CRIT | 2)
#define WF_CAPS_REQ	(W_CRIT | 3)
#define WF_PAGE_SIZE	(W_CRIT | 4)
#define WF_LAYOUT	(W_CRIT | 5)
#define WF_HOST_ID	6
#define WF_VM_ID	7
#define WF_NONCE	(W_CRIT | 8)
#define WF_MAC		(W_CRIT | 9)
#define WF_CHOSEN_VER	(W_CRIT | 10)
#define WF_CHOSEN_CAPS	(W_CRIT | 11)
#define WF_REASON	(W_CRIT | 12)
#define WF_REASON_TEXT	13

#define W_MAX		(12 + 65536 + 1024)

struct wb {
	size_t n;
	uint8_t b[W_MAX];
};

static inline void wb_u8(struct wb *w, uint8_t v)
{
	if (w->n < sizeof(w->b))
		w->b[w->n++] = v;
}

static inline void wb_u16(struct wb *w, uint16_t v)
{
	wb_u8(w, (uint8_t)(v & 0xff));
	wb_u8(w, (uint8_t)(v >> 8));
}

static inline void wb_u32(struct wb *w, uint32_t v)
{
	wb_u8(w, (uint8_t)(v & 0xff));
	wb_u8(w, (uint8_t)((v >> 8) & 0xff));
	wb_u8(w, (uint8_t)((v >> 16) & 0xff));
	wb_u8(w, (uint8_t)(v >> 24));
}

static inline void wb_u64(struct wb *w, uint64_t v)
{
	wb_u32(w, (uint32_t)(v & 0xffffffffu));
	wb_u32(w, (uint32_t)(v >> 32));
}

static inline void wb_raw(struct wb *w, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wb_u8(w, ((const uint8_t *)p)[i]);
}

/* Header with any magic/format/type; the length is fixed by wb_end(). */
static inline void wb_hdr(struct wb *w, const char *magic, uint16_t format,
			  uint16_t type)
{
	w->n = 0;
	wb_raw(w, magic, 4);
	wb_u16(w, format);
	wb_u16(w, type);
	wb_u32(w, 0);
}

static inline void wb_begin(struct wb *w, uint16_t type)
{
	wb_hdr(w, "KMHS", 1, type);
}

static inline void wb_end(struct wb *w)
{
	uint32_t len = (uint32_t)(w->n - 12);

	w->b[8] = (uint8_t)(len & 0xff);
	w->b[9] = (uint8_t)((len >> 8) & 0xff);
	w->b[10] = (uint8_t)((len >> 16) & 0xff);
	w->b[11] = (uint8_t)(len >> 24);
}

/* Overwrite the body length with any value. */
static inline void wb_set_len(struct wb *w, uint32_t len)
{
	w->b[8] = (uint8_t)(len & 0xff);
	w->b[9] = (uint8_t)((len >> 8) & 0xff);
	w->b[10] = (uint8_t)((len >> 16) & 0xff);
	w->b[11] = (uint8_t)(len >> 24);
}

static inline void wb_field(struct wb *w, uint16_t type, uint16_t len)
{
	wb_u16(w, type);
	wb_u16(w, len);
}

static inline void wb_f_u32(struct wb *w, uint16_t type, uint32_t v)
{
	wb_field(w, type, 4);
	wb_u32(w, v);
}

static inline void wb_f_u64(struct wb *w, uint16_t type, uint64_t v)
{
	wb_field(w, type, 8);
	wb_u64(w, v);
}

static inline void wb_f_bytes(struct wb *w, uint16_t type, const void *p, size_t n)
{
	wb_field(w, type, (uint16_t)n);
	wb_raw(w, p, n);
}

static inline void wb_f_str(struct wb *w, uint16_t type, const char *s)
{
	wb_f_bytes(w, type, s, strlen(s));
}

static inline void wb_f_versions(struct wb *w, const uint32_t *v, size_t n)
{
	wb_field(w, WF_VERSIONS, (uint16_t)(4 * n));
	for (size_t i = 0; i < n; i++)
		wb_u32(w, v[i]);
}

/* The fields of a plain HELLO: versions 1..2, caps, page size 4096. */
static inline void wb_hello_fields(struct wb *w, uint32_t vmin, uint32_t vmax,
				   uint64_t caps, uint32_t page_size)
{
	uint32_t v[32];
	size_t n = 0;

	for (uint32_t x = vmin; x <= vmax && n < 32; x++)
		v[n++] = x;
	wb_f_versions(w, v, n);
	wb_f_u64(w, WF_CAPS, caps);
	wb_f_u64(w, WF_CAPS_REQ, 0);
	wb_f_u32(w, WF_PAGE_SIZE, page_size);
}

static inline void wb_accept_fields(struct wb *w, uint32_t version, uint64_t caps,
				    uint32_t page_size)
{
	wb_f_u32(w, WF_CHOSEN_VER, version);
	wb_f_u64(w, WF_CHOSEN_CAPS, caps);
	wb_f_u32(w, WF_PAGE_SIZE, page_size);
}

static inline uint16_t rd_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Find field number num (critical bit ignored) in a whole message. */
static inline const uint8_t *rd_field(const uint8_t *msg, size_t len, uint16_t num,
				      uint16_t *flen)
{
	size_t off = 12;

	if (len < 12)
		return NULL;
	while (off + 4 <= len) {
		uint16_t t = rd_u16(msg + off), l = rd_u16(msg + off + 2);

		if (off + 4 + l > len)
			return NULL;
		if ((t & 0x7fff) == (num & 0x7fff)) {
			*flen = l;
			return msg + off + 4;
		}
		off += 4 + (size_t)l;
	}
	return NULL;
}

#endif /* KMIG_TEST_WIRE_H */
