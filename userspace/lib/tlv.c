// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Handshake message encoding and parsing.
 *
 * Message = 12-byte header + body. Header, little-endian:
 *   0  magic "KMHS"
 *   4  u16 format version (1)
 *   6  u16 message type (KMIG_HS_MSG_*)
 *   8  u32 body length (<= 65536)
 * Body = a sequence of TLV fields:
 *   0  u16 type: bit 15 critical, bits 0..14 field number (KMIG_HS_F_*)
 *   2  u16 value length
 *   4  value
 *
 * The parser is the only code that looks at bytes from the peer. It checks
 * every length before using it, refuses anything outside the bounds in
 * kmig_internal.h and fills a struct kmig_hs_msg whose contents are then
 * known to be well-formed. It does not allocate and does not fail on its own
 * (no I/O, no crypto), which makes it the fuzzer's main target.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kmig_internal.h"

#define M(t)	KMIG_HS_BIT(KMIG_HS_MSG_##t)

struct field_spec {
	const char *name;
	uint16_t min_len;
	uint16_t max_len;
	uint16_t unit;		/* length must be a multiple of this */
	uint8_t critical;	/* bit set by the encoder */
	uint8_t msgs;		/* message types where the field is defined */
};

static const struct field_spec field_specs[KMIG_HS_F_MAX + 1] = {
	[KMIG_HS_F_VERSIONS] = {
		"VERSIONS", 4, 4 * KMIG_HS_MAX_VERSIONS, 4, 1, M(HELLO) },
	[KMIG_HS_F_CAPS_SUPPORTED] = {
		"CAPS_SUPPORTED", 8, 8, 8, 1, M(HELLO) },
	[KMIG_HS_F_CAPS_REQUIRED] = {
		"CAPS_REQUIRED", 8, 8, 8, 1, M(HELLO) },
	[KMIG_HS_F_PAGE_SIZE] = {
		"PAGE_SIZE", 4, 4, 4, 1, M(HELLO) | M(ACCEPT) },
	[KMIG_HS_F_LAYOUT] = {
		"LAYOUT", 0, KMIG_HS_LAYOUT_ENTRY_LEN * KMIG_HS_MAX_REGIONS,
		KMIG_HS_LAYOUT_ENTRY_LEN, 1, M(HELLO) },
	[KMIG_HS_F_HOST_ID] = {
		"HOST_ID", 1, KMIG_HS_ID_MAX, 1, 0, M(HELLO) | M(ACCEPT) },
	[KMIG_HS_F_VM_ID] = {
		"VM_ID", 1, KMIG_HS_ID_MAX, 1, 0, M(HELLO) | M(ACCEPT) },
	[KMIG_HS_F_AUTH_NONCE] = {
		"AUTH_NONCE", KMIG_HS_NONCE_LEN, KMIG_HS_NONCE_LEN, 1, 1,
		M(HELLO) | M(ACCEPT) },
	[KMIG_HS_F_AUTH_MAC] = {
		"AUTH_MAC", KMIG_HS_MAC_LEN, KMIG_HS_MAC_LEN, 1, 1, M(AUTH) },
	[KMIG_HS_F_CHOSEN_VERSION] = {
		"CHOSEN_VERSION", 4, 4, 4, 1, M(ACCEPT) },
	[KMIG_HS_F_CHOSEN_CAPS] = {
		"CHOSEN_CAPS", 8, 8, 8, 1, M(ACCEPT) },
	[KMIG_HS_F_REASON] = {
		"REASON", 4, 4, 4, 1, M(REFUSE) },
	[KMIG_HS_F_REASON_TEXT] = {
		"REASON_TEXT", 1, KMIG_HS_REASON_MAX, 1, 0, M(REFUSE) },
};

/* Fields each message type must carry. */
static const uint32_t required_fields[KMIG_HS_MSG_MAX + 1] = {
	[KMIG_HS_MSG_HELLO] = KMIG_HS_BIT(KMIG_HS_F_VERSIONS) |
			   KMIG_HS_BIT(KMIG_HS_F_CAPS_SUPPORTED) |
			   KMIG_HS_BIT(KMIG_HS_F_PAGE_SIZE),
	[KMIG_HS_MSG_ACCEPT] = KMIG_HS_BIT(KMIG_HS_F_CHOSEN_VERSION) |
			    KMIG_HS_BIT(KMIG_HS_F_CHOSEN_CAPS) |
			    KMIG_HS_BIT(KMIG_HS_F_PAGE_SIZE),
	[KMIG_HS_MSG_REFUSE] = KMIG_HS_BIT(KMIG_HS_F_REASON),
	[KMIG_HS_MSG_AUTH] = KMIG_HS_BIT(KMIG_HS_F_AUTH_MAC),
	[KMIG_HS_MSG_CONFIRM] = 0,
};

static const char *const msg_names[KMIG_HS_MSG_MAX + 1] = {
	[KMIG_HS_MSG_HELLO] = "HELLO",
	[KMIG_HS_MSG_ACCEPT] = "ACCEPT",
	[KMIG_HS_MSG_REFUSE] = "REFUSE",
	[KMIG_HS_MSG_AUTH] = "AUTH",
	[KMIG_HS_MSG_CONFIRM] = "CONFIRM",
};

const char *kmig_hs_msg_name(uint32_t type)
{
	if (type >= 1 && type <= KMIG_HS_MSG_MAX)
		return msg_names[type];
	return "unknown message";
}

const char *kmig_hs_field_name(uint32_t field)
{
	if (field >= 1 && field <= KMIG_HS_F_MAX)
		return field_specs[field].name;
	return "unknown";
}

/*
 * Text helpers
 */

bool kmig_text_valid(const uint8_t *s, size_t len, size_t max)
{
	size_t i = 0;

	if (len == 0 || len > max)
		return false;
	while (i < len) {
		uint32_t c = s[i], min;
		size_t n;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			c &= 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			c &= 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			c &= 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			uint8_t b = s[i + k];

			if ((b & 0xc0) != 0x80)
				return false;
			c = c << 6 | (b & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ||
		    (c >= 0x80 && c <= 0x9f))
			return false;
		i += n + 1;
	}
	return true;
}

void kmig_text_truncate(char *s, size_t max)
{
	size_t len = strlen(s), j, cont = 0;

	if (len <= max)
		return;
	len = max;
	/* Drop a multi-byte sequence that the cut left incomplete. */
	j = len;
	while (j > 0 && cont < 3 && ((uint8_t)s[j - 1] & 0xc0) == 0x80) {
		j--;
		cont++;
	}
	if (j > 0) {
		uint8_t lead = (uint8_t)s[j - 1];
		size_t need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 :
			      lead >= 0xc0 ? 1 : 0;

		if (lead >= 0xc0 && need != cont)
			len = j - 1;
	}
	s[len] = '\0';
}

void kmig_textf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	kmig_text_truncate(buf, size - 1);
}

/*
 * Encoder
 */

void kmig_w_begin(struct kmig_wbuf *w, uint8_t *buf, size_t cap, uint16_t type)
{
	w->buf = buf;
	w->cap = cap < KMIG_HS_MAX_MSG ? cap : KMIG_HS_MAX_MSG;
	w->len = KMIG_HS_HDR_LEN;
	w->nr_fields = 0;
	w->err = 0;
	if (w->cap < KMIG_HS_HDR_LEN) {
		w->err = -EMSGSIZE;
		return;
	}
	memcpy(buf, KMIG_HS_MAGIC, KMIG_HS_MAGIC_LEN);
	kmig_put_le16(buf + 4, KMIG_HS_FORMAT_VERSION);
	kmig_put_le16(buf + 6, type);
	kmig_put_le32(buf + 8, 0);
}

/* Reserve a field; returns where its value goes, or NULL. */
static uint8_t *w_field(struct kmig_wbuf *w, uint16_t field, size_t len)
{
	uint16_t type = field;
	uint8_t *p;

	if (w->err)
		return NULL;
	if (field < 1 || field > KMIG_HS_F_MAX) {
		w->err = -EINVAL;
		return NULL;
	}
	if (len > 0xffff || w->nr_fields >= KMIG_HS_MAX_FIELDS ||
	    w->cap - w->len < KMIG_HS_TLV_HDR_LEN + len) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	if (field_specs[field].critical)
		type |= KMIG_HS_TLV_CRITICAL;
	p = w->buf + w->len;
	kmig_put_le16(p, type);
	kmig_put_le16(p + 2, (uint16_t)len);
	w->len += KMIG_HS_TLV_HDR_LEN + len;
	w->nr_fields++;
	return p + KMIG_HS_TLV_HDR_LEN;
}

void kmig_w_u32(struct kmig_wbuf *w, uint16_t field, uint32_t v)
{
	uint8_t *p = w_field(w, field, 4);

	if (p)
		kmig_put_le32(p, v);
}

void kmig_w_u64(struct kmig_wbuf *w, uint16_t field, uint64_t v)
{
	uint8_t *p = w_field(w, field, 8);

	if (p)
		kmig_put_le64(p, v);
}

void kmig_w_bytes(struct kmig_wbuf *w, uint16_t field, const void *src, size_t len)
{
	uint8_t *p = w_field(w, field, len);

	if (p && len)
		memcpy(p, src, len);
}

void kmig_w_str(struct kmig_wbuf *w, uint16_t field, const char *s)
{
	kmig_w_bytes(w, field, s, strlen(s));
}

void kmig_w_versions(struct kmig_wbuf *w, const uint32_t *v, uint32_t n)
{
	uint8_t *p;

	if (n > KMIG_HS_MAX_VERSIONS) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	p = w_field(w, KMIG_HS_F_VERSIONS, (size_t)n * 4);
	for (uint32_t i = 0; p && i < n; i++)
		kmig_put_le32(p + 4 * i, v[i]);
}

void kmig_w_layout(struct kmig_wbuf *w, const struct kmig_hs_region *r, uint32_t n)
{
	uint8_t *p;

	if (n > KMIG_HS_MAX_REGIONS) {
		if (!w->err)
			w->err = -EINVAL;
		return;
	}
	p = w_field(w, KMIG_HS_F_LAYOUT, (size_t)n * KMIG_HS_LAYOUT_ENTRY_LEN);
	for (uint32_t i = 0; p && i < n; i++) {
		kmig_put_le32(p, r[i].id);
		kmig_put_le64(p + 4, r[i].size);
		p += KMIG_HS_LAYOUT_ENTRY_LEN;
	}
}

int kmig_w_end(struct kmig_wbuf *w)
{
	if (w->err)
		return w->err;
	if (w->len - KMIG_HS_HDR_LEN > KMIG_HS_MAX_BODY)
		return -EMSGSIZE;
	kmig_put_le32(w->buf + 8, (uint32_t)(w->len - KMIG_HS_HDR_LEN));
	return (int)w->len;
}

/*
 * Parser
 */

KMIG_HS_PRINTF(3, 4)
static int perr(struct kmig_hs_msg *m, uint32_t reason, const char *fmt, ...)
{
	va_list ap;

	m->error = reason;
	va_start(ap, fmt);
	vsnprintf(m->error_text, sizeof(m->error_text), fmt, ap);
	va_end(ap);
	kmig_text_truncate(m->error_text, KMIG_HS_REASON_MAX);
	return -EPROTO;
}

bool kmig_hs_magic_ok(const uint8_t *p, size_t n)
{
	if (n > KMIG_HS_MAGIC_LEN)
		n = KMIG_HS_MAGIC_LEN;
	return memcmp(p, KMIG_HS_MAGIC, n) == 0;
}

int kmig_hs_parse_header(const uint8_t *hdr, struct kmig_hs_msg *m)
{
	if (!kmig_hs_magic_ok(hdr, KMIG_HS_MAGIC_LEN))
		return perr(m, KMIG_HS_BAD_MAGIC,
			    "bad magic %02x %02x %02x %02x, expected \"KMHS\": the peer does not speak the kmig handshake",
			    hdr[0], hdr[1], hdr[2], hdr[3]);
	m->format = kmig_get_le16(hdr + 4);
	m->type = kmig_get_le16(hdr + 6);
	m->body_len = kmig_get_le32(hdr + 8);
	if (m->format != KMIG_HS_FORMAT_VERSION)
		return perr(m, KMIG_HS_BAD_FORMAT,
			    "handshake format %u is not supported, this side speaks format %u",
			    m->format, KMIG_HS_FORMAT_VERSION);
	if (m->body_len > KMIG_HS_MAX_BODY)
		return perr(m, KMIG_HS_TOO_LARGE,
			    "message body of %u bytes exceeds the limit of %u bytes",
			    m->body_len, KMIG_HS_MAX_BODY);
	return 0;
}

static int parse_field(struct kmig_hs_msg *m, uint32_t num, const uint8_t *v,
		       uint32_t len)
{
	const char *mn = kmig_hs_msg_name(m->type);
	const char *fn = field_specs[num].name;
	uint32_t n;

	switch (num) {
	case KMIG_HS_F_VERSIONS:
		n = len / 4;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t ver = kmig_get_le32(v + 4 * i);

			if (ver == 0)
				return perr(m, KMIG_HS_MALFORMED,
					    "%s: %s contains version 0", mn, fn);
			if (i && ver <= m->versions[i - 1])
				return perr(m, KMIG_HS_MALFORMED,
					    "%s: %s is not strictly ascending (%u after %u)",
					    mn, fn, ver, m->versions[i - 1]);
			m->versions[i] = ver;
		}
		m->nr_versions = n;
		break;
	case KMIG_HS_F_CAPS_SUPPORTED:
		m->caps_supported = kmig_get_le64(v);
		break;
	case KMIG_HS_F_CAPS_REQUIRED:
		m->caps_required = kmig_get_le64(v);
		break;
	case KMIG_HS_F_PAGE_SIZE:
		m->page_size = kmig_get_le32(v);
		if (m->page_size < KMIG_HS_PAGE_SIZE_MIN ||
		    m->page_size > KMIG_HS_PAGE_SIZE_MAX ||
		    (m->page_size & (m->page_size - 1)))
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: %s %u is not a power of two in %u..%u",
				    mn, fn, m->page_size, KMIG_HS_PAGE_SIZE_MIN,
				    KMIG_HS_PAGE_SIZE_MAX);
		break;
	case KMIG_HS_F_LAYOUT:
		n = len / KMIG_HS_LAYOUT_ENTRY_LEN;
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *e = v + i * KMIG_HS_LAYOUT_ENTRY_LEN;
			struct kmig_hs_region *r = &m->regions[i];

			r->id = kmig_get_le32(e);
			r->pad = 0;
			r->size = kmig_get_le64(e + 4);
			if (r->size == 0)
				return perr(m, KMIG_HS_MALFORMED,
					    "%s: %s region %u has size 0",
					    mn, fn, r->id);
			for (uint32_t k = 0; k < i; k++)
				if (m->regions[k].id == r->id)
					return perr(m, KMIG_HS_MALFORMED,
						    "%s: %s region id %u appears twice",
						    mn, fn, r->id);
		}
		m->nr_regions = n;
		break;
	case KMIG_HS_F_HOST_ID:
	case KMIG_HS_F_VM_ID:
	case KMIG_HS_F_REASON_TEXT:
		if (!kmig_text_valid(v, len, field_specs[num].max_len))
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: %s is not printable UTF-8", mn, fn);
		{
			char *dst = num == KMIG_HS_F_HOST_ID ? m->host_id :
				    num == KMIG_HS_F_VM_ID ? m->vm_id :
				    m->reason_text;

			memcpy(dst, v, len);
			dst[len] = '\0';
		}
		break;
	case KMIG_HS_F_AUTH_NONCE:
		memcpy(m->nonce, v, KMIG_HS_NONCE_LEN);
		break;
	case KMIG_HS_F_AUTH_MAC:
		memcpy(m->mac, v, KMIG_HS_MAC_LEN);
		break;
	case KMIG_HS_F_CHOSEN_VERSION:
		m->chosen_version = kmig_get_le32(v);
		if (m->chosen_version == 0)
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: %s is 0", mn, fn);
		break;
	case KMIG_HS_F_CHOSEN_CAPS:
		m->chosen_caps = kmig_get_le64(v);
		break;
	case KMIG_HS_F_REASON:
		m->reason = kmig_get_le32(v);
		if (m->reason == KMIG_HS_OK)
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: %s is 0", mn, fn);
		break;
	default:
		/* Unreachable: the caller only passes numbers with a spec. */
		return perr(m, KMIG_HS_MALFORMED, "%s: field %u not handled",
			    mn, num);
	}
	m->present |= KMIG_HS_BIT(num);
	return 0;
}

int kmig_hs_parse(const void *buf, size_t len, struct kmig_hs_msg *m)
{
	const uint8_t *p = buf;
	uint16_t seen[KMIG_HS_MAX_FIELDS];
	uint32_t off, missing;
	const char *mn;
	int err;

	memset(m, 0, sizeof(*m));
	if (!p && len)
		return perr(m, KMIG_HS_MALFORMED, "no buffer");
	if (len < KMIG_HS_HDR_LEN)
		return perr(m, KMIG_HS_TRUNCATED,
			    "message of %zu bytes is shorter than the %u-byte header",
			    len, KMIG_HS_HDR_LEN);
	err = kmig_hs_parse_header(p, m);
	if (err)
		return err;
	if (m->body_len > len - KMIG_HS_HDR_LEN)
		return perr(m, KMIG_HS_TRUNCATED,
			    "header announces a %u-byte body but only %zu bytes follow",
			    m->body_len, len - KMIG_HS_HDR_LEN);
	if (m->body_len < len - KMIG_HS_HDR_LEN)
		return perr(m, KMIG_HS_MALFORMED,
			    "%zu stray bytes after the %u-byte body",
			    len - KMIG_HS_HDR_LEN - m->body_len, m->body_len);
	if (m->type < 1 || m->type > KMIG_HS_MSG_MAX)
		return perr(m, KMIG_HS_UNEXPECTED_MESSAGE,
			    "unknown message type %u", m->type);
	mn = msg_names[m->type];

	p += KMIG_HS_HDR_LEN;
	off = 0;
	while (off < m->body_len) {
		uint16_t type, flen, num;
		const struct field_spec *spec = NULL;

		if (m->body_len - off < KMIG_HS_TLV_HDR_LEN)
			return perr(m, KMIG_HS_TRUNCATED,
				    "%s: field header at offset %u cut off by the end of the message",
				    mn, off);
		type = kmig_get_le16(p + off);
		flen = kmig_get_le16(p + off + 2);
		off += KMIG_HS_TLV_HDR_LEN;
		num = type & KMIG_HS_TLV_NUM_MASK;
		if (flen > m->body_len - off)
			return perr(m, KMIG_HS_TRUNCATED,
				    "%s: field %u of length %u runs %u bytes past the end of the message",
				    mn, num, flen, flen - (m->body_len - off));
		if (m->nr_fields >= KMIG_HS_MAX_FIELDS)
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: more than %u fields", mn,
				    KMIG_HS_MAX_FIELDS);
		if (num == 0)
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: field number 0 is reserved", mn);
		for (uint32_t i = 0; i < m->nr_fields; i++)
			if (seen[i] == num)
				return perr(m, KMIG_HS_DUPLICATE_FIELD,
					    "%s: field %s (%u) appears twice",
					    mn, kmig_hs_field_name(num), num);
		seen[m->nr_fields++] = num;

		if (num <= KMIG_HS_F_MAX && (field_specs[num].msgs & KMIG_HS_BIT(m->type)))
			spec = &field_specs[num];
		if (!spec) {
			/* Not defined for this message: unknown to us. */
			if (type & KMIG_HS_TLV_CRITICAL)
				return perr(m, KMIG_HS_UNKNOWN_CRITICAL,
					    "%s: unknown critical field %u: the peer needs a feature this version does not implement, upgrade this side",
					    mn, num);
			m->nr_skipped++;
			off += flen;
			continue;
		}
		if (flen < spec->min_len || flen > spec->max_len ||
		    flen % spec->unit)
			return perr(m, KMIG_HS_MALFORMED,
				    "%s: field %s has invalid length %u", mn,
				    spec->name, flen);
		err = parse_field(m, num, p + off, flen);
		if (err)
			return err;
		off += flen;
	}

	missing = required_fields[m->type] & ~m->present;
	if (missing) {
		uint32_t f = (uint32_t)__builtin_ctz(missing);

		return perr(m, KMIG_HS_MISSING_FIELD,
			    "%s: required field %s (%u) is missing", mn,
			    kmig_hs_field_name(f), f);
	}
	if (m->caps_required & ~m->caps_supported)
		return perr(m, KMIG_HS_MALFORMED,
			    "%s: CAPS_REQUIRED 0x%llx is not a subset of CAPS_SUPPORTED 0x%llx",
			    mn, (unsigned long long)m->caps_required,
			    (unsigned long long)m->caps_supported);
	return 0;
}
