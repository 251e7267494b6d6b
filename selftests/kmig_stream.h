/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the stream tests: connected socket pairs, sessions, and an
 * independent implementation of the wire format's checksum and layout, so
 * that crafted streams do not share code with the module.
 */
#ifndef _KMIG_STREAM_H
#define _KMIG_STREAM_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kmig_test.h"

/* A connected loopback TCP pair: *a connected to *b. */
static inline int tcp_pair(int *a, int *b)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0 || bind(l, (void *)&addr, sizeof(addr)) || listen(l, 1) ||
	    getsockname(l, (void *)&addr, &len))
		return -1;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (void *)&addr, sizeof(addr)))
		return -1;
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	return *b < 0 ? -1 : 0;
}

static inline int unix_pair(int *a, int *b)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	*a = sv[0];
	*b = sv[1];
	return 0;
}

/* Returns a session fd or -errno. */
static inline int kmig_session(int dev, int sock, __u32 role, __u32 proto,
			       __u64 caps, const int *mem_fds, __u32 nr,
			       __u32 flags)
{
	struct kmig_session_create c = {
		.size = sizeof(c),
		.flags = flags,
		.sock_fd = sock,
		.role = role,
		.proto = proto,
		.nr_mem = nr,
		.caps = caps,
		.mem_fds = (unsigned long)mem_fds,
	};

	return kmig_ioctl(dev, KMIG_SESSION_CREATE, &c);
}

static inline int kmig_session_stats(int sfd, struct kmig_session_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return kmig_ioctl(sfd, KMIG_SESSION_GET_STATS, st);
}

static inline int kmig_send_round(int sfd, struct kmig_send_round *r,
				  __u32 flags)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = flags;
	return kmig_ioctl(sfd, KMIG_SESSION_SEND_ROUND, r);
}

/* Send rounds until one completes. */
static inline int kmig_send_full_round(int sfd, __u32 flags)
{
	struct kmig_send_round r;
	int ret;

	do {
		ret = kmig_send_round(sfd, &r, flags);
	} while (!ret && !r.complete);
	return ret;
}

static inline int kmig_send_blob(int sfd, __u64 tag, const void *p, __u64 len)
{
	struct kmig_send_blob b = {
		.size = sizeof(b), .tag = tag,
		.data = (unsigned long)p, .len = len,
	};

	return kmig_ioctl(sfd, KMIG_SESSION_SEND_BLOB, &b);
}

static inline int kmig_send_end(int sfd)
{
	struct kmig_send_end e = { .size = sizeof(e) };

	return kmig_ioctl(sfd, KMIG_SESSION_SEND_END, &e);
}

static inline int kmig_recv(int sfd, struct kmig_recv *ev, void *buf,
			    __u64 len)
{
	memset(ev, 0, sizeof(*ev));
	ev->size = sizeof(*ev);
	ev->blob_buf = (unsigned long)buf;
	ev->blob_buf_len = len;
	return kmig_ioctl(sfd, KMIG_SESSION_RECV, ev);
}

/* Receive until END; returns 0, or -errno of the failing call. */
static inline int kmig_recv_all(int sfd, void *blob, __u64 blob_len,
				__u64 *blob_got)
{
	struct kmig_recv ev;
	int ret;

	for (;;) {
		ret = kmig_recv(sfd, &ev, blob, blob_len);
		if (ret)
			return ret;
		if (ev.event == KMIG_EVENT_BLOB && blob_got)
			*blob_got = ev.blob_len;
		if (ev.event == KMIG_EVENT_END)
			return 0;
	}
}

/* CRC32C, reflected polynomial 0x82f63b78, no pre- or post-inversion. */
static inline uint32_t test_crc32c(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78U & -(crc & 1));
	}
	return crc;
}

/* Little-endian stores, byte by byte. */
static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v);
	put_le16(p + 2, v >> 16);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, v);
	put_le32(p + 4, v >> 32);
}

static inline int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

#endif /* _KMIG_STREAM_H */
