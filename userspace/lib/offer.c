// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Offers and the negotiation rules.
 *
 * The destination decides; the source only checks that the decision is
 * consistent with what it offered. The rules (Documentation/handshake.rst, "Negotiation"):
 *  - version: the highest version present in both sets;
 *  - page size: must be equal;
 *  - layout: every region a non-zero multiple of the page size, unique ids,
 *    total size representable in 64 bits;
 *  - capabilities: the intersection of both supported masks; every capability
 *    required by either side must be in it;
 *  - VM identity: if the destination names the VM it expects, the source
 *    must name the same VM (a source that names none is refused too).
 * They are checked in this order and the first failure is reported.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kmig_internal.h"

/* Every layout that passes the handshake must fit one kmig session. */
#ifdef KMIG_MAX_REGIONS
_Static_assert(KMIG_HS_MAX_REGIONS <= KMIG_MAX_REGIONS,
	       "handshake layout bound above the module's region limit");
#endif

static bool page_size_ok(uint32_t ps)
{
	return ps >= KMIG_HS_PAGE_SIZE_MIN && ps <= KMIG_HS_PAGE_SIZE_MAX &&
	       !(ps & (ps - 1));
}

void kmig_offer_init(struct kmig_offer *offer)
{
	long ps = sysconf(_SC_PAGESIZE);

	if (!offer)
		return;
	memset(offer, 0, sizeof(*offer));
	offer->page_size = ps > 0 && page_size_ok((uint32_t)ps) ? (uint32_t)ps : 4096;
}

int kmig_offer_set_versions(struct kmig_offer *offer, uint32_t min, uint32_t max)
{
	if (!offer || min == 0 || min > max || max - min >= KMIG_HS_MAX_VERSIONS)
		return -EINVAL;
	offer->nr_versions = 0;
	for (uint32_t v = min; ; v++) {
		offer->versions[offer->nr_versions++] = v;
		if (v == max)
			break;
	}
	return 0;
}

int kmig_offer_from_info(const struct kmig_info *info, struct kmig_offer *offer)
{
	int err;

	if (!info || !offer || !page_size_ok(info->page_size))
		return -EINVAL;
	kmig_offer_init(offer);
	err = kmig_offer_set_versions(offer, info->proto_min, info->proto_max);
	if (err)
		return err;
	offer->caps_supported = (info->caps & ~KMIG_HS_CAPS_LIBRARY) |
				KMIG_HS_CAP_COMMIT;
	offer->page_size = info->page_size;
	return 0;
}

int kmig_offer_narrow(struct kmig_offer *offer, uint32_t proto_max, uint64_t caps_mask)
{
	uint32_t n = 0;

	if (!offer)
		return -EINVAL;
	if (offer->caps_required & ~caps_mask)
		return -EINVAL;
	if (proto_max) {
		while (n < offer->nr_versions && n < KMIG_HS_MAX_VERSIONS &&
		       offer->versions[n] <= proto_max)
			n++;
		if (n == 0)
			return -ENOENT;
		offer->nr_versions = n;
	}
	offer->caps_supported &= caps_mask;
	return 0;
}

int kmig_offer_require(struct kmig_offer *offer, uint64_t caps)
{
	if (!offer)
		return -EINVAL;
	if (caps & ~offer->caps_supported)
		return -EOPNOTSUPP;
	offer->caps_required |= caps;
	return 0;
}

int kmig_offer_add_region(struct kmig_offer *offer, uint32_t id, uint64_t size)
{
	if (!offer || !size || !offer->page_size || size % offer->page_size)
		return -EINVAL;
	if (offer->nr_regions >= KMIG_HS_MAX_REGIONS)
		return -E2BIG;
	for (uint32_t i = 0; i < offer->nr_regions; i++)
		if (offer->regions[i].id == id)
			return -EEXIST;
	offer->regions[offer->nr_regions].id = id;
	offer->regions[offer->nr_regions].pad = 0;
	offer->regions[offer->nr_regions].size = size;
	offer->nr_regions++;
	return 0;
}

static int set_id(char *dst, const char *src)
{
	size_t len;

	if (!src)
		return 0;
	len = strlen(src);
	if (len && !kmig_text_valid((const uint8_t *)src, len, KMIG_HS_ID_MAX))
		return -EINVAL;
	memcpy(dst, src, len + 1);
	return 0;
}

int kmig_offer_set_identity(struct kmig_offer *offer, const char *host_id,
			    const char *vm_id)
{
	char h[KMIG_HS_ID_MAX + 1], v[KMIG_HS_ID_MAX + 1];

	if (!offer)
		return -EINVAL;
	/* Validate both before changing anything. */
	memcpy(h, offer->host_id, sizeof(h));
	memcpy(v, offer->vm_id, sizeof(v));
	if (set_id(h, host_id) || set_id(v, vm_id))
		return -EINVAL;
	memcpy(offer->host_id, h, sizeof(h));
	memcpy(offer->vm_id, v, sizeof(v));
	return 0;
}

static bool id_ok(const char *id, size_t size)
{
	size_t len = strnlen(id, size);

	if (len == size)
		return false;	/* not terminated */
	return len == 0 || kmig_text_valid((const uint8_t *)id, len, KMIG_HS_ID_MAX);
}

uint32_t kmig_layout_check(const struct kmig_hs_region *r, uint32_t n,
			   uint32_t page_size, char *text, size_t textlen)
{
	uint64_t total = 0;

	if (n > KMIG_HS_MAX_REGIONS) {
		kmig_textf(text, textlen,
			   "invalid memory layout: %u regions, at most %u allowed",
			   n, KMIG_HS_MAX_REGIONS);
		return KMIG_HS_BAD_LAYOUT;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!r[i].size || r[i].size % page_size) {
			kmig_textf(text, textlen,
				   "invalid memory layout: region %u has size %llu, not a non-zero multiple of the page size %u",
				   r[i].id, (unsigned long long)r[i].size, page_size);
			return KMIG_HS_BAD_LAYOUT;
		}
		for (uint32_t k = 0; k < i; k++) {
			if (r[k].id == r[i].id) {
				kmig_textf(text, textlen,
					   "invalid memory layout: region id %u appears twice",
					   r[i].id);
				return KMIG_HS_BAD_LAYOUT;
			}
		}
		if (total + r[i].size < total) {
			kmig_textf(text, textlen,
				   "invalid memory layout: total size overflows 64 bits");
			return KMIG_HS_BAD_LAYOUT;
		}
		total += r[i].size;
	}
	return KMIG_HS_OK;
}

int kmig_offer_validate(const struct kmig_offer *o)
{
	char text[KMIG_HS_REASON_MAX + 1];

	if (!o || o->nr_versions < 1 || o->nr_versions > KMIG_HS_MAX_VERSIONS)
		return -EINVAL;
	for (uint32_t i = 0; i < o->nr_versions; i++) {
		if (o->versions[i] == 0)
			return -EINVAL;
		if (i && o->versions[i] <= o->versions[i - 1])
			return -EINVAL;
	}
	if (o->caps_required & ~o->caps_supported)
		return -EINVAL;
	if (!page_size_ok(o->page_size))
		return -EINVAL;
	if (kmig_layout_check(o->regions, o->nr_regions, o->page_size, text,
			      sizeof(text)))
		return -EINVAL;
	if (!id_ok(o->host_id, sizeof(o->host_id)) ||
	    !id_ok(o->vm_id, sizeof(o->vm_id)))
		return -EINVAL;
	return 0;
}

void kmig_versions_format(const uint32_t *v, uint32_t n, char *buf, size_t len)
{
	size_t off;

	if (!len)
		return;
	if (n == 0) {
		snprintf(buf, len, "none");
		return;
	}
	if (v[n - 1] - v[0] == n - 1) {
		snprintf(buf, len, "%u..%u", v[0], v[n - 1]);
		return;
	}
	off = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n && off < len; i++) {
		int r = snprintf(buf + off, len - off, "%s%u",
				 i ? "," : "{", v[i]);

		if (r < 0)
			break;
		off += (size_t)r;
	}
	if (off < len)
		snprintf(buf + off, len - off, "}");
}

#define IT(one)	((one) ? "it" : "them")

static bool has_version(const struct kmig_offer *o, uint32_t v)
{
	for (uint32_t i = 0; i < o->nr_versions; i++)
		if (o->versions[i] == v)
			return true;
	return false;
}

uint32_t kmig_negotiate(const struct kmig_offer *src, const struct kmig_offer *dst,
			uint32_t *version, uint64_t *caps, char *text, size_t textlen)
{
	char sv[160], dv[160], names[96];
	uint64_t both, missing;
	uint32_t reason;

	*version = 0;
	*caps = 0;
	for (uint32_t i = src->nr_versions; i-- > 0;) {
		if (has_version(dst, src->versions[i])) {
			*version = src->versions[i];
			break;
		}
	}
	if (!*version) {
		uint32_t smin = src->versions[0];
		uint32_t smax = src->versions[src->nr_versions - 1];
		uint32_t dmin = dst->versions[0];
		uint32_t dmax = dst->versions[dst->nr_versions - 1];
		char advice[96];

		kmig_versions_format(src->versions, src->nr_versions, sv, sizeof(sv));
		kmig_versions_format(dst->versions, dst->nr_versions, dv, sizeof(dv));
		if (smin > dmax)
			snprintf(advice, sizeof(advice),
				 "upgrade the destination or allow protocol %u on the source",
				 dmax);
		else if (smax < dmin)
			snprintf(advice, sizeof(advice),
				 "upgrade the source or allow protocol %u on the destination",
				 smax);
		else
			snprintf(advice, sizeof(advice),
				 "allow a protocol version on one side that the other supports");
		kmig_textf(text, textlen,
			   "no common protocol version: destination supports protocol %s, source offers %s: %s",
			   dv, sv, advice);
		return KMIG_HS_NO_COMMON_VERSION;
	}

	if (src->page_size != dst->page_size) {
		kmig_textf(text, textlen,
			   "page size mismatch: source uses %u bytes, destination uses %u bytes: migrate only between hosts with the same page size",
			   src->page_size, dst->page_size);
		*version = 0;
		return KMIG_HS_PAGE_SIZE_MISMATCH;
	}

	reason = kmig_layout_check(src->regions, src->nr_regions, src->page_size,
				   text, textlen);
	if (reason) {
		*version = 0;
		return reason;
	}

	both = src->caps_supported & dst->caps_supported;
	missing = src->caps_required & ~both;
	if (missing) {
		bool one = !(missing & (missing - 1));

		kmig_caps_format(missing, names, sizeof(names));
		kmig_textf(text, textlen,
			   "required %s %s (0x%llx) not available: the source requires %s, the destination does not support %s: enable %s on the destination or stop requiring %s on the source",
			   one ? "capability" : "capabilities", names,
			   (unsigned long long)missing, IT(one), IT(one), IT(one), IT(one));
		*version = 0;
		return KMIG_HS_MISSING_CAPABILITY;
	}
	missing = dst->caps_required & ~both;
	if (missing) {
		bool one = !(missing & (missing - 1));

		kmig_caps_format(missing, names, sizeof(names));
		kmig_textf(text, textlen,
			   "required %s %s (0x%llx) not available: the destination requires %s, the source does not support %s: enable %s on the source or stop requiring %s on the destination",
			   one ? "capability" : "capabilities", names,
			   (unsigned long long)missing, IT(one), IT(one), IT(one), IT(one));
		*version = 0;
		return KMIG_HS_MISSING_CAPABILITY;
	}

	/* A destination that expects a VM checks it; an absent one is no match. */
	if (dst->vm_id[0] && strcmp(src->vm_id, dst->vm_id)) {
		char s_vm[KMIG_HS_ID_MAX + 1], d_vm[KMIG_HS_ID_MAX + 1];

		/* Shorten at UTF-8 boundaries so the text stays valid. */
		memcpy(s_vm, src->vm_id, sizeof(s_vm));
		memcpy(d_vm, dst->vm_id, sizeof(d_vm));
		s_vm[KMIG_HS_ID_MAX] = d_vm[KMIG_HS_ID_MAX] = '\0';
		kmig_text_truncate(s_vm, 64);
		kmig_text_truncate(d_vm, 64);
		if (!s_vm[0])
			kmig_textf(text, textlen,
				   "VM identity missing: the destination expects VM \"%s\", the source names no VM: give the source the VM's identity",
				   d_vm);
		else
			kmig_textf(text, textlen,
				   "VM identity mismatch: the source sends VM \"%s\", the destination expects VM \"%s\"",
				   s_vm, d_vm);
		*version = 0;
		return KMIG_HS_VM_MISMATCH;
	}

	*caps = both;
	return KMIG_HS_OK;
}
