// SPDX-License-Identifier: GPL-2.0
/*
 * Write the fuzzer's seed corpus: a few valid and edge-case inputs for each
 * mode of fuzz_handshake.c (first byte = mode). Run by "make fuzz-corpus";
 * the files it writes are committed in tests/fuzz/corpus/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmig_internal.h"

static uint8_t out[4 * KMIG_HS_MAX_MSG];
static size_t out_len;
static uint8_t msgbuf[KMIG_HS_MAX_MSG];
static const char *dir;
static int failed;

static void start(uint8_t mode)
{
	out[0] = mode;
	out_len = 1;
}

static void add(struct kmig_wbuf *w)
{
	int n = kmig_w_end(w);

	if (n < 0 || out_len + (size_t)n > sizeof(out)) {
		failed = 1;
		return;
	}
	memcpy(out + out_len, w->buf, (size_t)n);
	out_len += (size_t)n;
}

static void add_raw(const void *p, size_t n)
{
	memcpy(out + out_len, p, n);
	out_len += n;
}

static void save(const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, out, out_len) != (ssize_t)out_len) {
		fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
		failed = 1;
	}
	if (fd >= 0)
		close(fd);
}

static void hello(struct kmig_wbuf *w, bool nonce, bool extras)
{
	static const uint32_t v[] = { 1, 2, 3 };
	static const struct kmig_hs_region r[] = {
		{ .id = 0, .size = 1 << 20 }, { .id = 1, .size = 4096 },
	};
	uint8_t n[KMIG_HS_NONCE_LEN];

	memset(n, 0x11, sizeof(n));
	kmig_w_begin(w, msgbuf, sizeof(msgbuf), KMIG_HS_MSG_HELLO);
	kmig_w_versions(w, v, 3);
	kmig_w_u64(w, KMIG_HS_F_CAPS_SUPPORTED, 3);
	kmig_w_u64(w, KMIG_HS_F_CAPS_REQUIRED, 1);
	kmig_w_u32(w, KMIG_HS_F_PAGE_SIZE, 4096);
	if (extras) {
		kmig_w_layout(w, r, 2);
		kmig_w_str(w, KMIG_HS_F_HOST_ID, "seed-host");
		kmig_w_str(w, KMIG_HS_F_VM_ID, "vm");
	}
	if (nonce)
		kmig_w_bytes(w, KMIG_HS_F_AUTH_NONCE, n, sizeof(n));
}

static void simple(struct kmig_wbuf *w, uint16_t type)
{
	kmig_w_begin(w, msgbuf, sizeof(msgbuf), type);
}

/* Compact form for the structured modes (see fuzz_handshake.c). */
static void c_msg(uint8_t type, uint8_t nf)
{
	out[out_len++] = type;
	out[out_len++] = nf;
}

static void c_field(uint16_t type, const void *v, uint8_t len)
{
	out[out_len++] = (uint8_t)type;
	out[out_len++] = (uint8_t)(type >> 8);
	out[out_len++] = len;
	memcpy(out + out_len, v, len);
	out_len += len;
}

static void c_hello(void)
{
	static const uint8_t ver[] = { 1, 0, 0, 0, 2, 0, 0, 0 };
	static const uint8_t caps[] = { 3, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t req[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t ps[] = { 0, 0x10, 0, 0 };
	static const uint8_t layout[] = { 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0 };

	c_msg(KMIG_HS_MSG_HELLO, 7);
	c_field(0x8001, ver, sizeof(ver));
	c_field(0x8002, caps, sizeof(caps));
	c_field(0x8003, req, sizeof(req));
	c_field(0x8004, ps, sizeof(ps));
	c_field(0x8005, layout, sizeof(layout));
	c_field(0x0006, "hostname", 8);
	c_field(0x0007, "vm-1", 4);
}

int main(int argc, char **argv)
{
	struct kmig_wbuf w;
	uint8_t mac[KMIG_HS_MAC_LEN];
	/* A HELLO with an unknown non-critical and an unknown critical field. */
	static const uint8_t unknown[] = {
		'K', 'M', 'H', 'S', 1, 0, 1, 0, 36, 0, 0, 0,
		1, 0x80, 4, 0, 1, 0, 0, 0,
		2, 0x80, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0,
		4, 0x80, 4, 0, 0, 0x10, 0, 0,
		0x34, 0x12, 0, 0,
		0x35, 0x92, 0, 0,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	memset(mac, 0x22, sizeof(mac));

	/* Mode 0: parser. */
	start(0); hello(&w, true, true); add(&w); save("parse-hello-full");
	start(0); simple(&w, KMIG_HS_MSG_ACCEPT);
	kmig_w_u32(&w, KMIG_HS_F_CHOSEN_VERSION, 2);
	kmig_w_u64(&w, KMIG_HS_F_CHOSEN_CAPS, 1);
	kmig_w_u32(&w, KMIG_HS_F_PAGE_SIZE, 4096);
	add(&w); save("parse-accept");
	start(0); simple(&w, KMIG_HS_MSG_REFUSE);
	kmig_w_u32(&w, KMIG_HS_F_REASON, KMIG_HS_NO_COMMON_VERSION);
	kmig_w_str(&w, KMIG_HS_F_REASON_TEXT, "no common protocol version: destination supports protocol 1..1");
	add(&w); save("parse-refuse");
	start(0); simple(&w, KMIG_HS_MSG_AUTH);
	kmig_w_bytes(&w, KMIG_HS_F_AUTH_MAC, mac, sizeof(mac));
	add(&w); save("parse-auth");
	start(0); simple(&w, KMIG_HS_MSG_CONFIRM); add(&w); save("parse-confirm");
	start(0); add_raw(unknown, sizeof(unknown)); save("parse-unknown-fields");
	start(0); add_raw("SSH-2.0-OpenSSH_9.2\r\n", 21); save("parse-other-protocol");
	start(0); hello(&w, false, false); add(&w); out_len -= 3; save("parse-truncated");

	/* Mode 1: destination, no key. */
	start(1); hello(&w, false, true); add(&w);
	simple(&w, KMIG_HS_MSG_CONFIRM); add(&w); save("dst-hello-confirm");
	start(1); hello(&w, false, false); add(&w); save("dst-hello-only");
	start(1); hello(&w, true, false); add(&w); save("dst-hello-nonce");

	/* Mode 2: destination with a key. */
	start(2); hello(&w, true, true); add(&w);
	simple(&w, KMIG_HS_MSG_AUTH);
	kmig_w_bytes(&w, KMIG_HS_F_AUTH_MAC, mac, sizeof(mac)); add(&w);
	simple(&w, KMIG_HS_MSG_CONFIRM); add(&w); save("dstkey-hello-auth-confirm");

	/* Mode 3: source; the bytes are the destination's replies. */
	start(3); simple(&w, KMIG_HS_MSG_ACCEPT);
	kmig_w_u32(&w, KMIG_HS_F_CHOSEN_VERSION, 2);
	kmig_w_u64(&w, KMIG_HS_F_CHOSEN_CAPS, 1);
	kmig_w_u32(&w, KMIG_HS_F_PAGE_SIZE, 4096);
	kmig_w_str(&w, KMIG_HS_F_HOST_ID, "d");
	add(&w); save("src-accept");
	start(3); simple(&w, KMIG_HS_MSG_REFUSE);
	kmig_w_u32(&w, KMIG_HS_F_REASON, KMIG_HS_AUTH_FAILED);
	kmig_w_str(&w, KMIG_HS_F_REASON_TEXT, "authentication failed: key mismatch");
	add(&w); save("src-refuse");

	/* Structured modes (bit 2). */
	start(4); c_hello(); save("s-parse-hello");
	start(5); c_hello(); c_msg(KMIG_HS_MSG_CONFIRM, 0); save("s-dst-hello-confirm");
	start(6); c_hello();
	{
		static const uint8_t nonce[32] = { 7 };

		out[2] = 8;	/* 8 fields: add a nonce */
		c_field(0x8008, nonce, 32);
		c_msg(KMIG_HS_MSG_AUTH, 1);
		c_field(0x8009, mac, 32);
		c_msg(KMIG_HS_MSG_CONFIRM, 0);
	}
	save("s-dstkey-hello-auth-confirm");
	start(7);
	{
		static const uint8_t v2[] = { 2, 0, 0, 0 };
		static const uint8_t c1[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
		static const uint8_t ps[] = { 0, 0x10, 0, 0 };

		c_msg(KMIG_HS_MSG_ACCEPT, 3);
		c_field(0x800a, v2, 4);
		c_field(0x800b, c1, 8);
		c_field(0x8004, ps, 4);
	}
	save("s-src-accept");

	if (failed)
		return 1;
	return 0;
}
