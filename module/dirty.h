/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A hierarchical dirty bitmap: level 0 has one bit per page; each bit of level
 * l + 1 summarises one word (BITS_PER_LONG bits) of level l. The top level is
 * a single word. Finding the next dirty page costs O(levels) per dirty page,
 * so a harvest over a large, mostly clean object does not scan the leaves.
 *
 * Concurrency: any number of setters run concurrently with one clearer or
 * one reset.
 * Leaf bits are authoritative; a summary bit may be set while the word below
 * it is empty (the clearer skips it), but whenever a leaf bit is set its
 * summary bits are set by the time kmig_dirty_set() returns. See dirty.c.
 */
#ifndef _KMIG_DIRTY_H
#define _KMIG_DIRTY_H

#include <linux/atomic.h>
#include <linux/types.h>

#define KMIG_DIRTY_MAX_LEVELS	6	/* 64^6 pages is far beyond any limit */

struct kmig_dirty {
	unsigned long nbits;			/* pages */
	unsigned int levels;
	unsigned long *bits[KMIG_DIRTY_MAX_LEVELS];
	unsigned long level_bits[KMIG_DIRTY_MAX_LEVELS];
	atomic_long_t count;			/* leaf bits set */
};

int kmig_dirty_init(struct kmig_dirty *d, unsigned long nbits);
void kmig_dirty_free(struct kmig_dirty *d);
void kmig_dirty_reset(struct kmig_dirty *d, bool all_dirty);
bool kmig_dirty_set(struct kmig_dirty *d, unsigned long bit);
bool kmig_dirty_clear(struct kmig_dirty *d, unsigned long bit);
unsigned long kmig_dirty_find(struct kmig_dirty *d, unsigned long from,
			      unsigned long end);

static inline bool kmig_dirty_test(const struct kmig_dirty *d,
				   unsigned long bit)
{
	return test_bit(bit, d->bits[0]);
}

static inline unsigned long kmig_dirty_count(const struct kmig_dirty *d)
{
	return atomic_long_read(&d->count);
}

#endif /* _KMIG_DIRTY_H */
