// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the handshake.
 *
 * The first input byte selects what the rest is fed to (bits 0..1):
 *   0  the parser alone (kmig_hs_parse + header parse), and, for a valid
 *      HELLO, the negotiation against a fixed destination offer;
 *   1  the destination state machine, no key: the bytes are what the
 *      "source" sends (e.g. HELLO then CONFIRM);
 *   2  the destination state machine with a pre-shared key;
 *   3  the source state machine: the bytes are the "destination's" replies.
 * Modes 1..3 write the bytes into a socketpair and close its write side, so
 * the state machine sees end-of-stream rather than waiting for a timeout.
 *
 * Bit 2 set: the rest is not raw wire bytes but a compact description that
 * is assembled into correctly framed messages first, so that mutations reach
 * the field checks instead of failing the (strict) length checks:
 *   message := u8 type, u8 nr_fields, nr_fields * (u16 type, u8 len, value)
 * repeated until the input ends.
 *
 * Built with -fsanitize=fuzzer,address,undefined (make fuzz).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kmig_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct kmig_hs_msg msg;
static uint8_t wire[4 * KMIG_HS_MAX_MSG];
static struct kmig_offer dst_offer, src_offer, peer;
static struct kmig_hs_result res;
static struct kmig_key key;
static int ready;

static void setup(void)
{
	kmig_offer_init(&dst_offer);
	dst_offer.page_size = 4096;
	kmig_offer_set_versions(&dst_offer, 1, 3);
	dst_offer.caps_supported = KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM;
	kmig_offer_require(&dst_offer, KMIG_CAP_ZERO_PAGES);
	kmig_offer_set_identity(&dst_offer, "fuzz-dst", NULL);

	kmig_offer_init(&src_offer);
	src_offer.page_size = 4096;
	kmig_offer_set_versions(&src_offer, 1, 2);
	src_offer.caps_supported = KMIG_CAP_ZERO_PAGES | KMIG_CAP_BLOBS;
	kmig_offer_add_region(&src_offer, 0, 1 << 20);
	kmig_offer_set_identity(&src_offer, "fuzz-src", "vm");

	kmig_key_set(&key, "fuzzing key, 32 bytes long......", 32);
	ready = 1;
}

/* Compact description -> framed messages. Returns the bytes written. */
static size_t assemble(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i = 0, len = 0;

	while (i + 2 <= n && len + KMIG_HS_HDR_LEN <= cap) {
		size_t start = len;
		uint8_t nf = in[i + 1];

		memcpy(out + len, KMIG_HS_MAGIC, KMIG_HS_MAGIC_LEN);
		kmig_put_le16(out + len + 4, KMIG_HS_FORMAT_VERSION);
		kmig_put_le16(out + len + 6, in[i]);
		len += KMIG_HS_HDR_LEN;
		i += 2;
		for (uint8_t f = 0; f < nf && i + 3 <= n; f++) {
			size_t vlen = in[i + 2];

			if (i + 3 + vlen > n || len + 4 + vlen > cap)
				break;
			out[len] = in[i];
			out[len + 1] = in[i + 1];
			kmig_put_le16(out + len + 2, (uint16_t)vlen);
			memcpy(out + len + 4, in + i + 3, vlen);
			len += 4 + vlen;
			i += 3 + vlen;
		}
		kmig_put_le32(out + start + 8,
			      (uint32_t)(len - start - KMIG_HS_HDR_LEN));
	}
	return len;
}

static void parse_only(const uint8_t *p, size_t n)
{
	char text[KMIG_HS_REASON_MAX + 1];
	uint32_t version;
	uint64_t caps;

	if (n >= KMIG_HS_HDR_LEN)
		kmig_hs_parse_header(p, &msg);
	if (kmig_hs_parse(p, n, &msg) || msg.type != KMIG_HS_MSG_HELLO)
		return;
	/* Same conversion as the destination does. */
	memset(&peer, 0, sizeof(peer));
	peer.nr_versions = msg.nr_versions;
	memcpy(peer.versions, msg.versions, sizeof(peer.versions));
	peer.caps_supported = msg.caps_supported;
	peer.caps_required = msg.caps_required;
	peer.page_size = msg.page_size;
	peer.nr_regions = msg.nr_regions;
	memcpy(peer.regions, msg.regions, sizeof(peer.regions));
	memcpy(peer.host_id, msg.host_id, sizeof(peer.host_id));
	memcpy(peer.vm_id, msg.vm_id, sizeof(peer.vm_id));
	if (kmig_negotiate(&peer, &dst_offer, &version, &caps, text, sizeof(text)))
		if (!kmig_text_valid((const uint8_t *)text, strlen(text),
				     KMIG_HS_REASON_MAX))
			abort();	/* a refusal text the peer would reject */
}

static void state_machine(int mode, const uint8_t *p, size_t n)
{
	int sv[2];
	size_t off = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	while (off < n) {
		ssize_t w = send(sv[1], p + off, n - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	shutdown(sv[1], SHUT_WR);
	{
		KMIG_HS_OPTS(o, .timeout_ms = 200, .key = mode == 2 ? &key : NULL);

		if (mode == 3)
			kmig_handshake_source(sv[0], &src_offer, &o, &res);
		else
			kmig_handshake_destination(sv[0], &dst_offer, &o, &res);
	}
	/* Whatever happened, the result must be coherent. */
	if (res.status != 0 && res.reason == KMIG_HS_OK)
		abort();
	if (res.status == 0 && (res.reason != KMIG_HS_OK || !res.version))
		abort();
	if (memchr(res.message, 0, sizeof(res.message)) == NULL)
		abort();
	close(sv[0]);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	size_t n;
	int mode;

	if (!ready)
		setup();
	if (size < 1)
		return 0;
	mode = data[0] & 3;
	p = data + 1;
	n = size - 1;
	if (data[0] & 4) {
		n = assemble(p, n, wire, sizeof(wire));
		p = wire;
	}
	if (mode == 0)
		parse_only(p, n);
	else
		state_machine(mode, p, n);
	return 0;
}
