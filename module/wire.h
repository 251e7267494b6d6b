/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Encoding and decoding of the wire format declared in uapi/linux/kmig.h and
 * documented in Documentation/wire-format.rst.
 */
#ifndef _KMIG_WIRE_H
#define _KMIG_WIRE_H

#include <linux/crc32.h>
#include <linux/kmig.h>
#include <linux/types.h>
#include <asm/unaligned.h>

#define KMIG_WIRE_HEADER_FIXED	sizeof(struct kmig_wire_header)
#define KMIG_WIRE_HEADER_MAX	(KMIG_WIRE_HEADER_FIXED + \
				 KMIG_MAX_REGIONS * sizeof(struct kmig_wire_region) + 4)
#define KMIG_REC_MAX		sizeof(struct kmig_wire_rec_v1)
#define KMIG_CAPS_SUPPORTED	(KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM | \
				 KMIG_CAP_BLOBS)

/* A record header, independent of the version it travels in. */
struct kmig_rec {
	u16 type;
	u16 flags;
	u32 region;
	u64 index;
	u32 count;
	u32 check;
};

static inline size_t kmig_wire_header_len(unsigned int nr_regions)
{
	return KMIG_WIRE_HEADER_FIXED +
	       nr_regions * sizeof(struct kmig_wire_region) + 4;
}

static inline unsigned int kmig_rec_len(u32 proto)
{
	return proto == KMIG_PROTO_V1 ? sizeof(struct kmig_wire_rec_v1) :
					sizeof(struct kmig_wire_rec_v2);
}

/* Protocol 2 carries a record's checksum after its payload. */
static inline unsigned int kmig_trailer_len(u32 proto, u64 caps)
{
	return proto >= KMIG_PROTO_V2 && (caps & KMIG_CAP_CHECKSUM) ? 4 : 0;
}

/*
 * Record checksums are CRC32C (Castagnoli), without final inversion, seeded
 * with the complement of the record's sequence number: a lost, repeated or
 * reordered record fails its check even if its bytes are intact.
 */
static inline u32 kmig_crc_seed(u64 seq)
{
	return ~(u32)seq;
}

static inline u32 kmig_crc(u32 crc, const void *p, size_t len)
{
	return __crc32c_le(crc, p, len);
}

static inline void kmig_rec_encode(u32 proto, const struct kmig_rec *r, u8 *b)
{
	if (proto == KMIG_PROTO_V1) {
		put_unaligned_le16(r->type, b);
		put_unaligned_le16(r->flags, b + 2);
		put_unaligned_le32(r->region, b + 4);
		put_unaligned_le64(r->index, b + 8);
		put_unaligned_le32(r->count, b + 16);
		put_unaligned_le32(r->check, b + 20);
	} else {
		b[0] = r->type;
		b[1] = r->flags;
		put_unaligned_le16(r->region, b + 2);
		put_unaligned_le32(r->count, b + 4);
		put_unaligned_le64(r->index, b + 8);
	}
}

static inline void kmig_rec_decode(u32 proto, const u8 *b, struct kmig_rec *r)
{
	if (proto == KMIG_PROTO_V1) {
		r->type = get_unaligned_le16(b);
		r->flags = get_unaligned_le16(b + 2);
		r->region = get_unaligned_le32(b + 4);
		r->index = get_unaligned_le64(b + 8);
		r->count = get_unaligned_le32(b + 16);
		r->check = get_unaligned_le32(b + 20);
	} else {
		r->type = b[0];
		r->flags = b[1];
		r->region = get_unaligned_le16(b + 2);
		r->count = get_unaligned_le32(b + 4);
		r->index = get_unaligned_le64(b + 8);
		r->check = 0;
	}
}

#endif /* _KMIG_WIRE_H */
