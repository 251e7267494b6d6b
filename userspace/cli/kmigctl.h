/* SPDX-License-Identifier: GPL-2.0 */
/* kmigctl: what its commands share (kmigctl.c). */
#ifndef KMIGCTL_H
#define KMIGCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_REFUSED	1	/* refused or failed: see the message */
#define EXIT_USAGE	2
#define EXIT_ENV	3	/* module missing, cannot connect, bad file */

extern const char *prog;

__attribute__((format(printf, 1, 2)))
void errmsg(const char *fmt, ...);

bool parse_u64(const char *s, uint64_t *out);
bool parse_u32(const char *s, uint32_t *out);
bool parse_ms(const char *s, int *out);
/* "4096", "64K", "1G" (binary multiples) */
bool parse_size(const char *s, uint64_t *out);
int64_t now_ms(void);

/* /dev/kmig, or a negative errno after a message saying what to do. */
int open_device(void);
/*
 * Connect to HOST:PORT (numeric or a name) within @timeout_ms; @peer gets
 * the address. The fd, or -EXIT_USAGE / -EXIT_ENV after a message.
 */
int kmigctl_connect(const char *target, int timeout_ms, char *peer,
		    size_t peerlen);

struct kmig_key;
/*
 * Load a key file, saying what is wrong with it and how to mend it (mode,
 * size). 0 or the negative errno of kmig_load_key_file().
 */
int kmigctl_load_key(const char *path, struct kmig_key *key);

/* kmigctl qemu (qemu.c) */
int cmd_qemu(int argc, char **argv);

#endif /* KMIGCTL_H */
