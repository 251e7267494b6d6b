// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty tracking on guest memory objects: start, stop, harvest and re-arm.
 * The locking rules are stated above struct kmig_mem in mem.h.
 */
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"
#include "mem.h"

int kmig_mem_rearm_method(void)
{
	if (KMIG_COMPAT_HAVE_WP && !kmig_force_unmap_rearm())
		return KMIG_REARM_WP;
	return KMIG_REARM_UNMAP;
}

/* Called by page_mkwrite with the page locked. */
void kmig_mem_set_dirty(struct kmig_mem *mem, pgoff_t index)
{
	kmig_dirty_set(&mem->dirty, index);
}

static void kmig_mem_wp_run(struct kmig_mem *mem, int method, pgoff_t first,
			    pgoff_t nr)
{
	if (method == KMIG_REARM_WP)
		kmig_compat_wp_range(mem->mapping, first, nr);
	else
		unmap_mapping_pages(mem->mapping, first, nr, false);
}

/* Is b->page[i] (not NULL) the first page of its folio in the batch? */
static bool kmig_batch_new_folio(const struct kmig_batch *b, unsigned int i)
{
	struct folio *folio = page_folio(b->page[i]);

	while (i--)
		if (b->page[i])
			return page_folio(b->page[i]) != folio;
	return true;
}

/*
 * Is @folio held by someone beyond the object (one reference per folio) and
 * the PTEs that map its pages (one each)? That is GUP: O_DIRECT (FOLL_GET on
 * 6.1, FOLL_PIN later), process_vm_writev(), vhost, vfio, KVM's
 * kvm_vcpu_map(); or a socket's zero-copy fragments, or a lookup in passing.
 * A writer through such a reference causes no fault, so page_mkwrite never
 * sees it. Called after the folio's pages were write-protected or unmapped,
 * whose TLB flush waits for any GUP-fast that saw them writable: a holder
 * that got in before is counted here; one that comes after faults.
 */
static bool kmig_folio_held(struct folio *folio)
{
	return folio_maybe_dma_pinned(folio) ||
	       folio_ref_count(folio) > 1 + kmig_compat_folio_mapcount(folio);
}

/*
 * Keep the locked pages of a re-armed batch that are held (see above) dirty,
 * so that every harvest reports them until they are released: the last one
 * after the release sends what was written through the reference.
 */
static void kmig_mem_keep_held(struct kmig_mem *mem, struct kmig_batch *b)
{
	unsigned int i, held = 0;
	bool is_held = false;

	for (i = 0; i < b->n; i++) {
		if (!b->page[i])
			continue;
		if (kmig_batch_new_folio(b, i))
			is_held = kmig_folio_held(page_folio(b->page[i]));
		if (is_held) {
			kmig_dirty_set(&mem->dirty, b->index[i]);
			held++;
		}
	}
	if (held)
		atomic64_add(held, &mem->held);
}

/*
 * Re-arm the pages of a batch (indices ascending): look up their pages, lock
 * them, clear their dirty bits if @clear, write-protect them if @wp, one call
 * per contiguous run, and unlock. An index without a page has no mapping to
 * protect; its bit is cleared under the xarray lock so that a concurrent
 * first fault either comes before (and is seen here) or marks the page again
 * after. Fills b->page[].
 */
static void kmig_mem_rearm_batch(struct kmig_mem *mem, struct kmig_batch *b,
				 bool clear, bool wp)
{
	int method = kmig_mem_rearm_method();
	unsigned int i, end, locked = 0;
	XA_STATE(xas, &mem->pages, 0);

	lockdep_assert_held(&mem->lock);

	/* One walk of the xarray, stepping to the next slot along a run. */
	xas_lock(&xas);
	for (i = 0; i < b->n; i++) {
		if (i && b->index[i] == b->index[i - 1] + 1) {
			b->page[i] = xas_next(&xas);
		} else {
			xas_set(&xas, b->index[i]);
			b->page[i] = xas_load(&xas);
		}
		/* a folio being populated has reserved, empty slots */
		if (xa_is_zero(b->page[i]))
			b->page[i] = NULL;
		if (!b->page[i] && clear)
			kmig_dirty_clear(&mem->dirty, b->index[i]);
	}
	xas_unlock(&xas);

	/*
	 * Ascending index order: two lockers can never deadlock. The pages of
	 * a folio share its lock and are adjacent in the batch: lock it once.
	 */
	for (i = 0; i < b->n; i++) {
		if (b->page[i]) {
			if (kmig_batch_new_folio(b, i))
				folio_lock(page_folio(b->page[i]));
			locked++;
		}
	}

	if (clear)
		for (i = 0; i < b->n; i++)
			if (b->page[i])
				kmig_dirty_clear(&mem->dirty, b->index[i]);

	/*
	 * One call per stretch of the batch with gaps of at most rearm_gap
	 * pages (see main.c). Unpopulated indices are mapped nowhere, and
	 * protecting an unlocked page in a gap loses nothing: a write that
	 * made it writable set its bit first (page_mkwrite), and the bit
	 * stays set until a harvest locks, clears and protects that page.
	 */
	if (wp && locked) {
		unsigned long gap = kmig_rearm_gap();

		for (i = 0; i < b->n; i = end) {
			for (end = i + 1; end < b->n; end++)
				if (b->index[end] - b->index[end - 1] > gap + 1)
					break;
			kmig_mem_wp_run(mem, method, b->index[i],
					b->index[end - 1] - b->index[i] + 1);
		}
		atomic64_add(locked, &mem->rearmed);
		kmig_mem_keep_held(mem, b);
	}

	for (i = 0; i < b->n; i++)
		if (b->page[i] && kmig_batch_new_folio(b, i))
			folio_unlock(page_folio(b->page[i]));
}

/* Fill @b with up to @limit dirty pages of [*pos, end); advances *pos. */
static void kmig_mem_find_batch(struct kmig_mem *mem, u64 *pos, u64 end,
				struct kmig_batch *b, unsigned int limit)
{
	for (b->n = 0; b->n < limit; b->n++) {
		*pos = kmig_dirty_find(&mem->dirty, *pos, end);
		if (*pos >= end)
			break;
		b->index[b->n] = (*pos)++;
	}
}

/*
 * For the in-kernel sender: harvest and re-arm up to KMIG_BATCH dirty pages
 * of [*pos, end). Every page in @b is write-protected before this returns, so
 * a later write marks it dirty again and it is sent again, later in the
 * stream. Returns -EINVAL if tracking is off.
 */
int kmig_mem_harvest_batch(struct kmig_mem *mem, u64 *pos, u64 end,
			   struct kmig_batch *b)
{
	int ret = 0;

	mutex_lock(&mem->lock);
	if (mem->tracking) {
		kmig_mem_find_batch(mem, pos, end, b, KMIG_BATCH);
		kmig_mem_rearm_batch(mem, b, true, !kmig_debug_no_rearm());
	} else {
		b->n = 0;
		ret = -EINVAL;
	}
	mutex_unlock(&mem->lock);
	return ret;
}

static int kmig_track_args(struct kmig_track *args, void __user *uarg,
			   u32 valid_flags)
{
	int ret;

	ret = kmig_copy_args(args, sizeof(*args), KMIG_TRACK_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if ((args->flags & ~valid_flags) ||
	    !kmig_all_zero(args->reserved, sizeof(args->reserved)))
		return -EINVAL;
	return 0;
}

long kmig_mem_track_start(struct kmig_mem *mem, void __user *uarg)
{
	struct kmig_batch *b;
	struct kmig_track args;
	struct page *page;
	unsigned long index;
	int ret;

	ret = kmig_track_args(&args, uarg, KMIG_TRACK_ALL_DIRTY);
	if (ret)
		return ret;

	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;

	mutex_lock(&mem->lock);
	if (mem->tracking) {
		ret = -EBUSY;
		goto out_unlock;
	}

	kmig_dirty_reset(&mem->dirty, args.flags & KMIG_TRACK_ALL_DIRTY);
	WRITE_ONCE(mem->tracking, true);

	/* Write-protect every populated page, under its page lock. */
	b->n = 0;
	xa_for_each(&mem->pages, index, page) {
		b->index[b->n++] = index;
		if (b->n == KMIG_BATCH) {
			kmig_mem_rearm_batch(mem, b, false, true);
			b->n = 0;
		}
	}
	kmig_mem_rearm_batch(mem, b, false, true);

out_unlock:
	mutex_unlock(&mem->lock);
	kfree(b);
	return ret;
}

long kmig_mem_track_stop(struct kmig_mem *mem, void __user *uarg)
{
	struct kmig_track args;
	int ret;

	ret = kmig_track_args(&args, uarg, 0);
	if (ret)
		return ret;

	mutex_lock(&mem->lock);
	if (mem->owner)
		ret = -EBUSY;
	else if (mem->tracking)
		WRITE_ONCE(mem->tracking, false);
	else
		ret = -EINVAL;
	mutex_unlock(&mem->lock);
	return ret;
}

static int kmig_harvest_check(struct kmig_mem *mem,
			      const struct kmig_harvest *h)
{
	if (h->flags & ~(KMIG_HARVEST_LIST | KMIG_HARVEST_PEEK))
		return -EINVAL;
	if (!kmig_all_zero(h->reserved, sizeof(h->reserved)))
		return -EINVAL;
	if (!h->num_pages || h->first_page >= mem->npages ||
	    h->num_pages > mem->npages - h->first_page)
		return -EINVAL;
	if (h->flags & KMIG_HARVEST_LIST) {
		if (!h->list_len || h->bitmap_ptr)
			return -EINVAL;
	} else if (h->list_ptr || h->list_len) {
		return -EINVAL;
	}
	return 0;
}

/* Set the bits of a batch in the user's (already zeroed) bitmap. */
static int kmig_harvest_put_bitmap(const struct kmig_harvest *h,
				   const struct kmig_batch *b)
{
	u64 __user *bitmap = u64_to_user_ptr(h->bitmap_ptr);
	unsigned int i = 0;

	while (i < b->n) {
		u64 word_index = (b->index[i] - h->first_page) / 64;
		u64 word;

		if (get_user(word, bitmap + word_index))
			return -EFAULT;
		for (; i < b->n; i++) {
			u64 bit = b->index[i] - h->first_page;

			if (bit / 64 != word_index)
				break;
			word |= 1ULL << (bit % 64);
		}
		if (put_user(word, bitmap + word_index))
			return -EFAULT;
	}
	return 0;
}

static int kmig_harvest_put(const struct kmig_harvest *h, u64 done,
			    const struct kmig_batch *b)
{
	u64 __user *list = u64_to_user_ptr(h->list_ptr);

	if (!(h->flags & KMIG_HARVEST_LIST))
		return kmig_harvest_put_bitmap(h, b);
	if (copy_to_user(list + done, b->index, b->n * sizeof(u64)))
		return -EFAULT;
	return 0;
}

/*
 * Each batch goes through three steps: find up to KMIG_BATCH dirty pages
 * without changing anything, write them to userspace (no locks held: the user
 * buffer may fault, even on this object), then clear and re-arm them under
 * their page locks. A fault in the first batch fails the call with nothing
 * changed; a fault later ends the call early, like a short read(), with
 * dirty_pages and next_page telling what was delivered.
 */
long kmig_mem_harvest(struct kmig_mem *mem, void __user *uarg)
{
	struct kmig_harvest h;
	struct kmig_batch *b;
	u64 pos, end, done = 0;
	bool peek, rearm;
	int ret;

	ret = kmig_copy_args(&h, sizeof(h), KMIG_HARVEST_SIZE_VER0, uarg);
	if (ret)
		return ret;
	ret = kmig_harvest_check(mem, &h);
	if (ret)
		return ret;

	b = kmalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return -ENOMEM;

	if (mutex_lock_interruptible(&mem->lock)) {
		ret = -EINTR;
		goto out_free_batch;
	}
	if (!mem->tracking) {
		ret = -EINVAL;
		goto out_unlock;
	}
	/* A session owns the dirty set; PEEK is harmless. */
	if (mem->owner && !(h.flags & KMIG_HARVEST_PEEK)) {
		ret = -EBUSY;
		goto out_unlock;
	}
	if (!(h.flags & KMIG_HARVEST_LIST) &&
	    clear_user(u64_to_user_ptr(h.bitmap_ptr),
		       DIV_ROUND_UP(h.num_pages, 64) * sizeof(u64))) {
		ret = -EFAULT;
		goto out_unlock;
	}

	peek = h.flags & KMIG_HARVEST_PEEK;
	rearm = !kmig_debug_no_rearm();
	pos = h.first_page;
	end = h.first_page + h.num_pages;
	while (pos < end) {
		unsigned int limit = KMIG_BATCH;

		if (h.flags & KMIG_HARVEST_LIST)
			limit = min_t(u64, limit, h.list_len - done);
		if (!limit)
			break;

		kmig_mem_find_batch(mem, &pos, end, b, limit);
		if (!b->n)
			break;

		if (kmig_harvest_put(&h, done, b)) {
			pos = b->index[0];
			if (!done)
				ret = -EFAULT;
			break;
		}
		if (!peek)
			kmig_mem_rearm_batch(mem, b, true, rearm);
		done += b->n;

		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}

	if (!peek)
		atomic64_inc(&mem->harvests);
	h.dirty_pages = done;
	h.next_page = min(pos, end);

out_unlock:
	mutex_unlock(&mem->lock);
	if (!ret)
		ret = kmig_copy_args_out(uarg, &h, sizeof(h));
out_free_batch:
	kfree(b);
	return ret;
}

/*
 * Pages written by a writer kmig cannot see: marked dirty for the next
 * harvest. Allowed while a session owns the object, which is when a VMM
 * reports what its devices wrote; see "Writers kmig tracks" in
 * Documentation/design.rst.
 */
long kmig_mem_mark_dirty(struct kmig_mem *mem, void __user *uarg)
{
	struct kmig_mark_dirty a;
	u64 i;
	int ret;

	ret = kmig_copy_args(&a, sizeof(a), KMIG_MARK_DIRTY_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (a.flags || !kmig_all_zero(a.reserved, sizeof(a.reserved)))
		return -EINVAL;
	if (!a.num_pages || a.first_page >= mem->npages ||
	    a.num_pages > mem->npages - a.first_page)
		return -EINVAL;

	if (mutex_lock_interruptible(&mem->lock))
		return -EINTR;
	if (!mem->tracking) {
		ret = -EINVAL;
		goto out_unlock;
	}
	for (i = 0; i < a.num_pages; i++) {
		kmig_dirty_set(&mem->dirty, a.first_page + i);
		if (!(i % KMIG_BATCH))
			cond_resched();
	}
	atomic64_add(a.num_pages, &mem->marked);
out_unlock:
	mutex_unlock(&mem->lock);
	return ret;
}
