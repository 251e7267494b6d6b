// SPDX-License-Identifier: GPL-2.0
/*
 * The hierarchical dirty bitmap described in dirty.h.
 *
 * Ordering between a setter and the clearer, for one word w of level l and
 * its summary bit s at level l + 1:
 *
 *   setter                          clearer (kmig_dirty_clear)
 *   set bit in w                    clear bit in w
 *   smp_mb__after_atomic()          if w is now empty:
 *   if s is clear: set s              clear s; smp_mb__after_atomic()
 *                                     if w is not empty any more: set s
 *
 * Each side writes, issues a full barrier, then reads the other's location,
 * so at least one of them sees the other's write: either the setter sees s
 * cleared and sets it, or the clearer sees the new bit in w and sets s again.
 * A summary bit is never left clear above a set bit. It may be left set above
 * an empty word, which costs a harvest one wasted look.
 */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "dirty.h"
#include "kmig.h"

int kmig_dirty_init(struct kmig_dirty *d, unsigned long nbits)
{
	unsigned long n = nbits;
	unsigned int l;

	memset(d, 0, sizeof(*d));
	d->nbits = nbits;
	for (l = 0; l < KMIG_DIRTY_MAX_LEVELS; l++) {
		d->level_bits[l] = n;
		/* sized by the user: a failure is an errno, not a warning */
		d->bits[l] = kvcalloc(BITS_TO_LONGS(n), sizeof(unsigned long),
				      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!d->bits[l])
			goto out_free_levels;
		d->levels = l + 1;
		if (n <= BITS_PER_LONG)
			return 0;
		n = DIV_ROUND_UP(n, BITS_PER_LONG);
	}
	/* More pages than KMIG_DIRTY_MAX_LEVELS can summarise. */
	kmig_dirty_free(d);
	return -EFBIG;

out_free_levels:
	kmig_dirty_free(d);
	return -ENOMEM;
}

void kmig_dirty_free(struct kmig_dirty *d)
{
	unsigned int l;

	for (l = 0; l < KMIG_DIRTY_MAX_LEVELS; l++) {
		kvfree(d->bits[l]);
		d->bits[l] = NULL;
	}
	d->levels = 0;
}

/*
 * Start over with every bit clear, or every page dirty. The caller excludes
 * other clearers, but setters may still run: a page_mkwrite that saw tracking
 * on before a TRACK_STOP can set its bit while the next TRACK_START resets.
 * So every word is replaced with xchg(), a full barrier, and the count moves
 * by what the word held; and the levels go top-down. A setter whose leaf bit
 * outlives the reset of its word set it after that xchg, so it reads the
 * summary after the summary's xchg, finds it in its new state and sets it if
 * it is clear (the setter's side of the ordering above). Bottom-up, the
 * summary could be cleared above a leaf set in between, and that page would
 * never be found again.
 */
void kmig_dirty_reset(struct kmig_dirty *d, bool all_dirty)
{
	unsigned int l = d->levels;

	while (l--) {
		unsigned long bits = d->level_bits[l];
		unsigned long w, nwords = BITS_TO_LONGS(bits);

		for (w = 0; w < nwords; w++) {
			unsigned long val = 0, old;

			if (all_dirty)
				val = w + 1 < nwords ? ~0UL :
				      BITMAP_LAST_WORD_MASK(bits);
			old = xchg(&d->bits[l][w], val);
			if (!l)
				atomic_long_add((long)hweight_long(val) -
						(long)hweight_long(old),
						&d->count);
		}
		if (l)
			kmig_debug_race_delay();
	}
}

/* Returns true if the bit was clear before. */
bool kmig_dirty_set(struct kmig_dirty *d, unsigned long bit)
{
	unsigned int l;

	if (test_and_set_bit(bit, d->bits[0]))
		return false;
	atomic_long_inc(&d->count);

	for (l = 1; l < d->levels; l++) {
		bit /= BITS_PER_LONG;
		/* Order the bit below before reading its summary: see above. */
		smp_mb__after_atomic();
		if (test_bit(bit, d->bits[l]))
			break;
		set_bit(bit, d->bits[l]);
	}
	return true;
}

/*
 * Clear a leaf bit and the summary bits that no longer summarise anything.
 * Only one clearer may run at a time. Returns true if the bit was set.
 */
bool kmig_dirty_clear(struct kmig_dirty *d, unsigned long bit)
{
	unsigned int l;

	if (!test_and_clear_bit(bit, d->bits[0]))
		return false;
	atomic_long_dec(&d->count);

	for (l = 1; l < d->levels; l++) {
		unsigned long w = bit / BITS_PER_LONG;

		if (READ_ONCE(d->bits[l - 1][w]))
			break;
		clear_bit(w, d->bits[l]);
		/* Order the cleared summary before re-reading the word below. */
		smp_mb__after_atomic();
		if (READ_ONCE(d->bits[l - 1][w])) {
			set_bit(w, d->bits[l]);
			break;
		}
		bit = w;
	}
	return true;
}

/* First set bit of level l at or after from, or level_bits[l]. */
static unsigned long kmig_dirty_find_level(struct kmig_dirty *d,
					   unsigned int l, unsigned long from)
{
	unsigned long size = d->level_bits[l];

	while (from < size) {
		unsigned long word = READ_ONCE(d->bits[l][from / BITS_PER_LONG]);
		unsigned long next;

		word &= ~0UL << (from % BITS_PER_LONG);
		if (word) {
			next = round_down(from, BITS_PER_LONG) + __ffs(word);
			return min(next, size);
		}
		if (l + 1 == d->levels)
			break;
		/* This word is done: ask the level above for the next one. */
		next = kmig_dirty_find_level(d, l + 1, from / BITS_PER_LONG + 1);
		if (next >= d->level_bits[l + 1])
			break;
		from = next * BITS_PER_LONG;
	}
	return size;
}

/* First dirty page in [from, end), or end. */
unsigned long kmig_dirty_find(struct kmig_dirty *d, unsigned long from,
			      unsigned long end)
{
	unsigned long bit;

	if (from >= end)
		return end;
	bit = kmig_dirty_find_level(d, 0, from);
	return min(bit, end);
}
