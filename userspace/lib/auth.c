// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * Pre-shared keys and the handshake's challenge-response (Documentation/handshake.rst,
 * "Authentication"):
 *
 *   MAC(role) = HMAC-SHA256(key, label(role) || nonce_src || nonce_dst ||
 *                                SHA-256(HELLO) || SHA-256(ACCEPT))
 *
 * label(source) = "kmig-hs-v1 source auth\0", label(destination) =
 * "kmig-hs-v1 destination auth\0". HELLO and ACCEPT are the whole messages as
 * sent, header included. Nonces are 32 bytes from RAND_bytes().
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "kmig_internal.h"

static const char label_src[] = "kmig-hs-v1 source auth";
static const char label_dst[] = "kmig-hs-v1 destination auth";

void kmig_wipe(void *p, size_t len)
{
	if (p && len)
		OPENSSL_cleanse(p, len);
}

void kmig_key_clear(struct kmig_key *key)
{
	if (!key)
		return;
	kmig_wipe(key->bytes, sizeof(key->bytes));
	key->len = 0;
}

int kmig_key_set(struct kmig_key *key, const void *bytes, size_t len)
{
	if (!key)
		return -EINVAL;
	kmig_key_clear(key);
	if (!bytes || len < KMIG_HS_KEY_MIN)
		return -EINVAL;
	if (len > KMIG_HS_KEY_MAX)
		return -EFBIG;
	memcpy(key->bytes, bytes, len);
	key->len = len;
	return 0;
}

int kmig_load_key_file(const char *path, struct kmig_key *key)
{
	struct stat st;
	size_t len = 0;
	int fd, err = 0;

	if (!key)
		return -EINVAL;
	kmig_key_clear(key);
	if (!path || !*path)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	/* A key others can read is no secret; one they can write, no key. */
	if (st.st_mode & 077) {
		err = -EACCES;
		goto out;
	}
	/* Read up to the limit, then probe for one byte more. */
	for (;;) {
		uint8_t probe;
		ssize_t n;

		if (len < KMIG_HS_KEY_MAX)
			n = read(fd, key->bytes + len, KMIG_HS_KEY_MAX - len);
		else
			n = read(fd, &probe, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (len == KMIG_HS_KEY_MAX) {
			err = -EFBIG;
			goto out;
		}
		len += (size_t)n;
	}
	if (len < KMIG_HS_KEY_MIN)
		err = -EINVAL;
	else
		key->len = len;
out:
	close(fd);
	if (err)
		kmig_key_clear(key);
	return err;
}

int kmig_auth_nonce(uint8_t nonce[KMIG_HS_NONCE_LEN])
{
	return RAND_bytes(nonce, KMIG_HS_NONCE_LEN) == 1 ? 0 : -EIO;
}

int kmig_auth_digest(const uint8_t *msg, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(msg, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -EIO;
	return 0;
}

int kmig_auth_mac(const struct kmig_key *key, uint32_t role,
		  const uint8_t nonce_src[KMIG_HS_NONCE_LEN],
		  const uint8_t nonce_dst[KMIG_HS_NONCE_LEN],
		  const uint8_t h_hello[32], const uint8_t h_accept[32],
		  uint8_t out[KMIG_HS_MAC_LEN])
{
	uint8_t buf[sizeof(label_dst) + 2 * KMIG_HS_NONCE_LEN + 2 * 32];
	const char *label = role == KMIG_HS_ROLE_SOURCE ? label_src : label_dst;
	size_t llen = (role == KMIG_HS_ROLE_SOURCE ? sizeof(label_src) :
		       sizeof(label_dst));	/* includes the NUL */
	unsigned int n = 0;
	size_t off = 0;

	if (!key || key->len < KMIG_HS_KEY_MIN || key->len > KMIG_HS_KEY_MAX ||
	    (role != KMIG_HS_ROLE_SOURCE && role != KMIG_HS_ROLE_DESTINATION))
		return -EINVAL;
	memcpy(buf + off, label, llen);
	off += llen;
	memcpy(buf + off, nonce_src, KMIG_HS_NONCE_LEN);
	off += KMIG_HS_NONCE_LEN;
	memcpy(buf + off, nonce_dst, KMIG_HS_NONCE_LEN);
	off += KMIG_HS_NONCE_LEN;
	memcpy(buf + off, h_hello, 32);
	off += 32;
	memcpy(buf + off, h_accept, 32);
	off += 32;
	if (!HMAC(EVP_sha256(), key->bytes, (int)key->len, buf, off, out, &n) ||
	    n != KMIG_HS_MAC_LEN)
		return -EIO;
	return 0;
}

bool kmig_auth_mac_equal(const uint8_t *a, const uint8_t *b)
{
	return CRYPTO_memcmp(a, b, KMIG_HS_MAC_LEN) == 0;
}
