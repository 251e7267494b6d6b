// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Names of capabilities, features, roles and handshake reasons.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmig_internal.h"

const char *kmig_lib_version(void)
{
	return LIBKMIG_VERSION_STRING;
}

static const char *const cap_names[64] = {
	[0] = "zero_pages",	/* KMIG_CAP_ZERO_PAGES */
	[1] = "checksum",	/* KMIG_CAP_CHECKSUM */
	[2] = "blobs",		/* KMIG_CAP_BLOBS */
	[63] = "commit",	/* KMIG_HS_CAP_COMMIT (libkmig) */
};

static const char *const feature_names[64] = {
	[0] = "get_info",	/* KMIG_FEAT_GET_INFO */
	[1] = "mem",		/* KMIG_FEAT_MEM */
	[2] = "dirty_track",	/* KMIG_FEAT_DIRTY_TRACK */
	[3] = "wp_helpers",	/* KMIG_FEAT_WP_HELPERS */
	[4] = "session",	/* KMIG_FEAT_SESSION */
	[5] = "send",		/* KMIG_FEAT_SEND */
	[6] = "recv",		/* KMIG_FEAT_RECV */
	[7] = "mem_large",	/* KMIG_FEAT_MEM_LARGE */
	[8] = "mark_dirty",	/* KMIG_FEAT_MARK_DIRTY */
	[9] = "held_dirty",	/* KMIG_FEAT_HELD_DIRTY */
	[10] = "fs",		/* KMIG_FEAT_FS */
};

_Static_assert(KMIG_CAP_ZERO_PAGES == 1ULL << 0, "cap_names");
_Static_assert(KMIG_CAP_CHECKSUM == 1ULL << 1, "cap_names");
_Static_assert(KMIG_CAP_BLOBS == 1ULL << 2, "cap_names");
_Static_assert(KMIG_FEAT_WP_HELPERS == 1ULL << 3, "feature_names");
#ifdef KMIG_FEAT_RECV
_Static_assert(KMIG_FEAT_SESSION == 1ULL << 4, "feature_names");
_Static_assert(KMIG_FEAT_SEND == 1ULL << 5, "feature_names");
_Static_assert(KMIG_FEAT_RECV == 1ULL << 6, "feature_names");
#endif
#ifdef KMIG_FEAT_MEM_LARGE
_Static_assert(KMIG_FEAT_MEM_LARGE == 1ULL << 7, "feature_names");
#endif
#ifdef KMIG_FEAT_HELD_DIRTY
_Static_assert(KMIG_FEAT_MARK_DIRTY == 1ULL << 8, "feature_names");
_Static_assert(KMIG_FEAT_HELD_DIRTY == 1ULL << 9, "feature_names");
#endif

const char *kmig_cap_name(unsigned int bit)
{
	return bit < 64 ? cap_names[bit] : NULL;
}

const char *kmig_feature_name(unsigned int bit)
{
	return bit < 64 ? feature_names[bit] : NULL;
}

int kmig_caps_format(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;
	int n;

	if (!buf && len)
		return -EINVAL;
	if (!mask)
		return snprintf(buf, len, "none");
	if (len)
		buf[0] = '\0';
	for (unsigned int bit = 0; bit < 64; bit++) {
		char *at = off < len ? buf + off : NULL;
		size_t room = off < len ? len - off : 0;

		if (!(mask & (1ULL << bit)))
			continue;
		if (cap_names[bit])
			n = snprintf(at, room, "%s%s", off ? "," : "",
				     cap_names[bit]);
		else
			n = snprintf(at, room, "%sbit%u", off ? "," : "", bit);
		if (n < 0)
			return -EINVAL;
		off += (size_t)n;
	}
	return off > 0x7fffffff ? -EINVAL : (int)off;
}

static int cap_token(const char *tok, uint64_t *m)
{
	char *end;

	if (!strcasecmp(tok, "none"))
		return 0;
	if (!strcasecmp(tok, "all")) {
		for (unsigned int bit = 0; bit < 64; bit++)
			if (cap_names[bit])
				*m |= 1ULL << bit;
		return 0;
	}
	for (unsigned int bit = 0; bit < 64; bit++) {
		if (cap_names[bit] && !strcasecmp(tok, cap_names[bit])) {
			*m |= 1ULL << bit;
			return 0;
		}
	}
	if (!strncasecmp(tok, "bit", 3) && isdigit((unsigned char)tok[3])) {
		unsigned long bit = strtoul(tok + 3, &end, 10);

		if (*end || bit > 63)
			return -EINVAL;
		*m |= 1ULL << bit;
		return 0;
	}
	if (isdigit((unsigned char)tok[0])) {
		unsigned long long v;

		errno = 0;
		v = strtoull(tok, &end, 0);
		if (*end || errno)
			return -EINVAL;
		*m |= v;
		return 0;
	}
	return -EINVAL;
}

int kmig_caps_parse(const char *list, uint64_t *mask)
{
	const char *p = list;
	uint64_t m = 0;

	if (!list || !mask)
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		*mask = 0;
		return 0;
	}
	p = list;
	for (;;) {
		size_t n = strcspn(p, ","), s = 0, e = n;
		char tok[32];
		int err;

		while (s < e && isspace((unsigned char)p[s]))
			s++;
		while (e > s && isspace((unsigned char)p[e - 1]))
			e--;
		if (s == e || e - s >= sizeof(tok))
			return -EINVAL;
		memcpy(tok, p + s, e - s);
		tok[e - s] = '\0';
		err = cap_token(tok, &m);
		if (err)
			return err;
		if (!p[n])
			break;
		p += n + 1;
	}
	*mask = m;
	return 0;
}

const char *kmig_hs_role_name(uint32_t role)
{
	switch (role) {
	case KMIG_HS_ROLE_SOURCE:
		return "source";
	case KMIG_HS_ROLE_DESTINATION:
		return "destination";
	default:
		return "none";
	}
}

struct reason_info {
	uint32_t code;
	const char *name;
	const char *str;
	int err;
};

static const struct reason_info reasons[] = {
	{ KMIG_HS_OK, "ok", "success", 0 },
	{ KMIG_HS_MALFORMED, "malformed", "malformed handshake message", EPROTO },
	{ KMIG_HS_BAD_MAGIC, "bad_magic", "peer does not speak the kmig handshake", EPROTO },
	{ KMIG_HS_BAD_FORMAT, "bad_format", "unsupported handshake format version", EPROTO },
	{ KMIG_HS_TOO_LARGE, "too_large", "handshake message too large", EPROTO },
	{ KMIG_HS_TRUNCATED, "truncated", "truncated handshake message", EPROTO },
	{ KMIG_HS_UNKNOWN_CRITICAL, "unknown_critical", "unknown critical field", EPROTO },
	{ KMIG_HS_DUPLICATE_FIELD, "duplicate_field", "duplicate field", EPROTO },
	{ KMIG_HS_MISSING_FIELD, "missing_field", "required field missing", EPROTO },
	{ KMIG_HS_UNEXPECTED_MESSAGE, "unexpected_message", "unexpected message", EPROTO },
	{ KMIG_HS_NO_COMMON_VERSION, "no_common_version", "no common protocol version", EPROTONOSUPPORT },
	{ KMIG_HS_MISSING_CAPABILITY, "missing_capability", "required capability not available", EOPNOTSUPP },
	{ KMIG_HS_PAGE_SIZE_MISMATCH, "page_size_mismatch", "page size mismatch", ECONNREFUSED },
	{ KMIG_HS_BAD_LAYOUT, "bad_layout", "invalid memory layout", ECONNREFUSED },
	{ KMIG_HS_VM_MISMATCH, "vm_mismatch", "VM identity mismatch", ECONNREFUSED },
	{ KMIG_HS_AUTH_REQUIRED, "auth_required", "authentication configured on one side only", EACCES },
	{ KMIG_HS_AUTH_FAILED, "auth_failed", "authentication failed", EACCES },
	{ KMIG_HS_INCONSISTENT_ACCEPT, "inconsistent_accept", "ACCEPT inconsistent with the offer", EPROTO },
	{ KMIG_HS_TIMEOUT, "timeout", "handshake timed out", ETIMEDOUT },
	{ KMIG_HS_PEER_CLOSED, "peer_closed", "peer closed the connection", ECONNRESET },
	{ KMIG_HS_IO_ERROR, "io_error", "I/O error", EIO },
	{ KMIG_HS_BAD_ARGUMENT, "bad_argument", "invalid argument", EINVAL },
	{ KMIG_HS_NO_MEMORY, "no_memory", "out of memory", ENOMEM },
	{ KMIG_HS_CRYPTO_ERROR, "crypto_error", "cryptographic library failure", EIO },
	{ KMIG_HS_TOO_MANY_REJECTS, "too_many_rejects", "too many rejected connections", ECONNREFUSED },
	{ KMIG_HS_ACCEPT_TIMEOUT, "accept_timeout", "no acceptable peer in time", ETIMEDOUT },
};

static const struct reason_info *reason_lookup(uint32_t code)
{
	for (size_t i = 0; i < KMIG_HS_ARRAY_SIZE(reasons); i++)
		if (reasons[i].code == code)
			return &reasons[i];
	return NULL;
}

const char *kmig_hs_reason_name(uint32_t reason)
{
	const struct reason_info *r = reason_lookup(reason);

	return r ? r->name : "unknown";
}

const char *kmig_hs_reason_str(uint32_t reason)
{
	const struct reason_info *r = reason_lookup(reason);

	return r ? r->str : "refused for an unknown reason";
}

int kmig_hs_reason_errno(uint32_t reason)
{
	const struct reason_info *r = reason_lookup(reason);

	return r ? -r->err : -ECONNREFUSED;
}
