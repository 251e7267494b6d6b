// SPDX-License-Identifier: GPL-2.0
/*
 * The sender: dirty pages from kernel context to the socket, zero-copy.
 *
 * A round harvests a batch of dirty pages of one region, which re-arms them
 * (write-protects them under their page locks) before anything is sent; then
 * it cuts the batch into runs of contiguous pages, one record per run, and
 * sends each data run zero-copy, straight from the guest pages, in one call
 * (kmig_compat_send_pages(): one socket lock per run where TCP allows). A
 * write after the re-arm marks the page dirty again, so it is sent again
 * later in the same ordered stream, and the final round runs with the guest
 * paused. No page, bitmap or mmap lock is held while the socket blocks.
 *
 * With KMIG_CAP_CHECKSUM a record's payload is first copied, and the checksum
 * covers the copy that is sent: a zero-copy page could change between the
 * checksum and the transmission.
 */
#include <linux/highmem.h>
#include <linux/hrtimer.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "kmig.h"
#include "session.h"
#include "trace.h"

void kmig_tx_free(struct kmig_tx *tx)
{
	if (!tx)
		return;
	vfree(tx->bounce);
	kvfree(tx->blob);
	kvfree(tx);
}

static bool kmig_tx_idle(const struct kmig_tx *tx)
{
	return !tx->hdr_len;
}

static int kmig_tx_send_buf(struct kmig_session *s, const void *buf,
			    size_t len, bool more)
{
	struct kvec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0) };

	return kernel_sendmsg(s->sock, &msg, &iov, 1, len);
}

/* Account a send: bytes moved, or why not. */
static int kmig_tx_sent(struct kmig_session *s, int ret, size_t *off)
{
	if (ret <= 0)
		return ret ? ret : -EPIPE;
	*off += ret;
	s->bytes += ret;
	return 0;
}

/* Send what is left of a kernel buffer, from *off on. */
static int kmig_tx_send_rest(struct kmig_session *s, const void *buf,
			     size_t len, size_t *off, bool more)
{
	while (*off < len) {
		int ret = kmig_tx_sent(s, kmig_tx_send_buf(s, buf + *off,
							   len - *off, more),
				       off);

		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Send what is left of the record in flight. Returns 0 once it is all on the
 * socket, or the socket's error; an interrupted send keeps its place.
 */
static int kmig_tx_flush(struct kmig_session *s)
{
	struct kmig_tx *tx = s->tx;
	size_t off;
	int ret;

	ret = kmig_tx_send_rest(s, tx->hdr, tx->hdr_len, &tx->hdr_off,
				tx->nr_pages || tx->buf_len || tx->trailer_len);
	if (ret)
		return ret;
	while (tx->page_i < tx->nr_pages) {
		int flags = MSG_NOSIGNAL | (tx->trailer_len ? KMIG_SEND_MORE : 0);

		off = tx->page_off;
		ret = kmig_compat_send_pages(s->sock, tx->pages + tx->page_i,
					     tx->nr_pages - tx->page_i,
					     tx->page_off, flags);
		ret = kmig_tx_sent(s, ret, &off);
		tx->page_i += off / PAGE_SIZE;
		tx->page_off = off % PAGE_SIZE;
		if (ret)
			return ret;
	}
	ret = kmig_tx_send_rest(s, tx->buf, tx->buf_len, &tx->buf_off,
				tx->trailer_len);
	if (!ret)
		ret = kmig_tx_send_rest(s, tx->trailer, tx->trailer_len,
					&tx->trailer_off, false);
	if (ret)
		return ret;

	tx->hdr_len = 0;
	tx->hdr_off = 0;
	tx->nr_pages = 0;
	tx->page_i = 0;
	tx->page_off = 0;
	tx->buf = NULL;
	tx->buf_len = 0;
	tx->buf_off = 0;
	tx->trailer_len = 0;
	tx->trailer_off = 0;
	tx->kind = 0;
	return 0;
}

/*
 * A socket error breaks the session; an interruption does not: the record in
 * flight stays queued and the next call finishes it.
 */
static int kmig_tx_error(struct kmig_session *s, int ret)
{
	if (ret == -ERESTARTSYS || ret == -EINTR)
		return -ERESTARTSYS;
	if (ret == -EAGAIN)
		ret = -ETIMEDOUT;	/* SO_SNDTIMEO expired */
	return kmig_session_fail(s, ret, KMIG_ERR_SOCKET, s->bytes);
}

/* Finish the record in flight, breaking the session on a socket error. */
static int kmig_tx_push(struct kmig_session *s)
{
	int ret = kmig_tx_flush(s);

	return ret ? kmig_tx_error(s, ret) : 0;
}

static void kmig_tx_queue_header(struct kmig_session *s)
{
	struct kmig_tx *tx = s->tx;
	size_t len = kmig_wire_header_len(s->nr_regions);
	u8 *b = tx->hdr;
	unsigned int i;

	memset(b, 0, len);
	put_unaligned_le32(KMIG_WIRE_MAGIC, b);
	put_unaligned_le16(s->proto, b + 4);
	put_unaligned_le16(len, b + 6);
	put_unaligned_le64(s->caps, b + 8);
	put_unaligned_le32(PAGE_SIZE, b + 16);
	put_unaligned_le16(s->nr_regions, b + 20);
	for (i = 0; i < s->nr_regions; i++)
		put_unaligned_le64(s->regions[i].mem->npages,
				   b + KMIG_WIRE_HEADER_FIXED +
				   i * sizeof(struct kmig_wire_region));
	put_unaligned_le32(kmig_crc(~0U, b, len - 4), b + len - 4);
	tx->hdr_len = len;
}

/*
 * Queue one record: its header, and either the first @nr_pages of tx->pages
 * (zero-copy) or a kernel buffer as payload. With checksums, the payload must
 * be a buffer.
 */
static void kmig_tx_queue(struct kmig_session *s, struct kmig_rec *r,
			  unsigned int nr_pages, const void *buf, size_t buf_len)
{
	struct kmig_tx *tx = s->tx;
	unsigned int len = kmig_rec_len(s->proto);

	r->check = 0;
	kmig_rec_encode(s->proto, r, tx->hdr);
	if (s->caps & KMIG_CAP_CHECKSUM) {
		u32 crc = kmig_crc(kmig_crc_seed(s->records), tx->hdr, len);

		WARN_ON_ONCE(nr_pages);
		crc = kmig_crc(crc, buf, buf_len);
		if (s->proto == KMIG_PROTO_V1) {
			r->check = crc;
			kmig_rec_encode(s->proto, r, tx->hdr);
		} else {
			put_unaligned_le32(crc, tx->trailer);
			tx->trailer_len = 4;
		}
	}
	tx->hdr_len = len;
	tx->kind = r->type;
	tx->nr_pages = nr_pages;
	tx->buf = buf;
	tx->buf_len = buf_len;
	s->records++;
}

static bool kmig_page_is_zero(struct page *page)
{
	void *p = kmap_local_page(page);
	bool zero = !memchr_inv(p, 0, PAGE_SIZE);

	kunmap_local(p);
	return zero;
}

/* Queue the next run of the batch: contiguous pages of one kind. */
static int kmig_tx_queue_run(struct kmig_session *s)
{
	struct kmig_tx *tx = s->tx;
	struct kmig_batch *b = &tx->batch;
	unsigned int i = tx->batch_pos, n, k, max;
	bool csum = s->caps & KMIG_CAP_CHECKSUM;
	bool zero = tx->zero[i];
	struct kmig_rec r = {
		.type = zero ? KMIG_REC_ZERO : KMIG_REC_PAGES,
		.region = tx->batch_region,
		.index = b->index[i],
	};

	max = csum && !zero ? KMIG_CSUM_RUN : KMIG_BATCH;
	for (n = 1; i + n < b->n && n < max; n++)
		if (b->index[i + n] != b->index[i] + n || tx->zero[i + n] != zero)
			break;
	r.count = n;

	if (zero) {
		kmig_tx_queue(s, &r, 0, NULL, 0);
		s->zero_pages += n;
	} else if (csum) {
		if (!tx->bounce) {
			tx->bounce = __vmalloc(KMIG_CSUM_RUN * PAGE_SIZE,
					       GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
			if (!tx->bounce)
				return -ENOMEM;
		}
		for (k = 0; k < n; k++) {
			void *dst = tx->bounce + k * PAGE_SIZE;

			if (b->page[i + k])
				memcpy_from_page(dst, b->page[i + k], 0,
						 PAGE_SIZE);
			else
				memset(dst, 0, PAGE_SIZE);
		}
		kmig_tx_queue(s, &r, 0, tx->bounce, n * PAGE_SIZE);
		s->pages += n;
	} else {
		for (k = 0; k < n; k++)
			tx->pages[k] = b->page[i + k] ?: ZERO_PAGE(0);
		kmig_tx_queue(s, &r, n, NULL, 0);
		s->pages += n;
	}
	tx->round_pages += n;
	tx->batch_pos += n;
	return 0;
}

/* @count per second over @ns, at millisecond resolution. */
static u64 kmig_per_second(u64 count, u64 ns)
{
	return div64_u64(count * MSEC_PER_SEC, div64_u64(ns, NSEC_PER_MSEC) + 1);
}

static u64 kmig_tx_dirty(struct kmig_session *s)
{
	u64 dirty = s->tx->batch.n - s->tx->batch_pos;
	unsigned int i;

	for (i = 0; i < s->nr_regions; i++)
		dirty += kmig_dirty_count(&s->regions[i].mem->dirty);
	return dirty;
}

static u64 kmig_tx_write_faults(struct kmig_session *s)
{
	u64 faults = 0;
	unsigned int i;

	for (i = 0; i < s->nr_regions; i++)
		faults += atomic64_read(&s->regions[i].mem->write_faults);
	return faults;
}

static void kmig_tx_start_round(struct kmig_session *s, bool final)
{
	struct kmig_tx *tx = s->tx;
	u64 now = ktime_get_ns();
	u64 faults = kmig_tx_write_faults(s);

	/* Pages newly dirtied per second, over the round that just ended. */
	if (tx->round_start_ns)
		s->dirty_rate = kmig_per_second(faults - tx->faults_at_round_start,
						now - tx->round_start_ns);
	tx->faults_at_round_start = faults;
	tx->round_start_ns = now;
	tx->round_start_bytes = s->bytes;
	tx->round_open = true;
	tx->round_final = final;
	tx->region = 0;
	tx->pos = 0;
	tx->round_pages = 0;
	s->last_dirty = kmig_tx_dirty(s);
	trace_kmig_round_start(s->role, s->rounds, s->last_dirty);
}

/* Harvest the next batch of the open round; false when the round is done. */
static bool kmig_tx_next_batch(struct kmig_session *s)
{
	struct kmig_tx *tx = s->tx;
	struct kmig_mem *mem;
	unsigned int i;

	while (tx->region < s->nr_regions) {
		mem = s->regions[tx->region].mem;

		/*
		 * Tracking cannot stop while the session owns the object; were
		 * it off, the batch would come back empty.
		 */
		kmig_mem_harvest_batch(mem, &tx->pos, mem->npages, &tx->batch);
		tx->batch_region = tx->region;
		tx->batch_pos = 0;
		if (tx->batch.n)
			break;
		tx->region++;
		tx->pos = 0;
	}
	if (tx->region == s->nr_regions)
		return false;

	mem = s->regions[tx->batch_region].mem;
	for (i = 0; i < tx->batch.n; i++) {
		struct page *page = tx->batch.page[i];

		/* A page never written is zero without reading it. */
		tx->zero[i] = (s->caps & KMIG_CAP_ZERO_PAGES) &&
			      (!page || !kmig_mem_written(mem, tx->batch.index[i]) ||
			       kmig_page_is_zero(page));
	}
	return true;
}

/* Queue the ROUND record that closes the open round; returns its number. */
static u64 kmig_tx_end_round(struct kmig_session *s)
{
	struct kmig_tx *tx = s->tx;
	struct kmig_rec r = {
		.type = KMIG_REC_ROUND,
		.flags = tx->round_final ? KMIG_REC_F_FINAL : 0,
		.index = s->rounds,
		.count = tx->round_pages,
	};
	u64 ns = ktime_get_ns() - tx->round_start_ns;

	kmig_tx_queue(s, &r, 0, NULL, 0);
	s->bandwidth = kmig_per_second(s->bytes - tx->round_start_bytes, ns);
	trace_kmig_round_end(s->role, s->rounds, r.flags, tx->round_pages,
			     s->bytes);
	tx->round_open = false;
	if (tx->round_final)
		s->state = KMIG_STATE_FINAL;
	return s->rounds++;
}

/*
 * Sleep as long as this call is ahead of bw_limit, on a high-resolution
 * timer: a jiffy-rounded sleep overshot by up to a tick at the end of every
 * capped round, which added up to tens of milliseconds over a migration.
 */
static int kmig_tx_throttle(u64 bw_limit, u64 bytes, u64 t0)
{
	u64 due_us, now_us;
	ktime_t delay;

	if (!bw_limit)
		return 0;
	bytes = min(bytes, 1ULL << 43);
	due_us = div64_u64(bytes * USEC_PER_SEC, bw_limit);
	now_us = div64_u64(ktime_get_ns() - t0, NSEC_PER_USEC);
	if (due_us <= now_us)
		return 0;
	delay = ns_to_ktime((due_us - now_us) * NSEC_PER_USEC);
	set_current_state(TASK_INTERRUPTIBLE);
	schedule_hrtimeout_range(&delay, 50 * NSEC_PER_USEC, HRTIMER_MODE_REL);
	if (signal_pending(current))
		return -ERESTARTSYS;
	return 0;
}

static bool kmig_tx_budget_spent(const struct kmig_send_round *r, u64 bytes,
				 u64 t0)
{
	if (r->max_bytes && bytes >= r->max_bytes)
		return true;
	return r->max_ns && ktime_get_ns() - t0 >= r->max_ns;
}

static int kmig_tx_round(struct kmig_session *s, struct kmig_send_round *r,
			 u64 t0, u64 bytes0)
{
	struct kmig_tx *tx = s->tx;
	bool final = r->flags & KMIG_ROUND_FINAL;
	int ret;

	/*
	 * FINAL sends every page dirty at the time of the call. An open
	 * pre-copy round has passed pages that were dirtied since: close it
	 * (its pages are out) and start the final round from the first page.
	 * A final round split by a budget continues only as FINAL.
	 */
	if (tx->round_open && tx->round_final != final) {
		if (!final)
			return -EINVAL;
		kmig_tx_end_round(s);
	}
	r->round = s->rounds;
	for (;;) {
		ret = kmig_tx_push(s);
		if (ret)
			return ret;
		if (r->complete || s->state != KMIG_STATE_STREAMING)
			return 0;
		if (kmig_tx_budget_spent(r, s->bytes - bytes0, t0))
			return 0;
		ret = kmig_tx_throttle(r->bw_limit, s->bytes - bytes0, t0);
		if (ret)
			return ret;

		if (!tx->round_open) {
			/* Round numbers fit every uapi field: __u32. */
			if (s->rounds > U32_MAX)
				return -EOVERFLOW;
			kmig_tx_start_round(s, final);
			r->round = s->rounds;
		}
		if (tx->batch_pos < tx->batch.n || kmig_tx_next_batch(s)) {
			ret = kmig_tx_queue_run(s);
			if (ret)
				return kmig_session_fail(s, ret, KMIG_ERR_NONE,
							 s->bytes);
		} else {
			r->round = kmig_tx_end_round(s);
			r->complete = 1;
		}
		cond_resched();
	}
}

#define KMIG_TX_STATES	(BIT(KMIG_STATE_IDLE) | BIT(KMIG_STATE_STREAMING) | \
			 BIT(KMIG_STATE_FINAL))

/*
 * Common entry: lock, check the state, put the stream header out first, and
 * finish a record that an interrupted call left in flight; *finished says
 * which kind it was. Returns with the lock held on success.
 */
static int kmig_tx_begin(struct kmig_session *s, unsigned int states,
			 u16 *finished)
{
	int ret;

	if (mutex_lock_interruptible(&s->lock))
		return -ERESTARTSYS;
	ret = kmig_session_check_state(s, states);
	if (ret)
		goto out_unlock;

	*finished = s->tx->kind;
	if (s->state == KMIG_STATE_IDLE) {
		kmig_tx_queue_header(s);
		s->state = KMIG_STATE_STREAMING;
	}
	ret = kmig_tx_push(s);
	if (ret)
		goto out_unlock;
	return 0;

out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

/* Is @r the same request as the SEND_ROUND that a signal interrupted? */
static bool kmig_tx_same_call(const struct kmig_tx *tx,
			      const struct kmig_send_round *r)
{
	return tx->call_interrupted && tx->call_flags == r->flags &&
	       tx->call_max_ns == r->max_ns &&
	       tx->call_max_bytes == r->max_bytes &&
	       tx->call_bw_limit == r->bw_limit;
}

long kmig_session_send_round(struct kmig_session *s, void __user *uarg)
{
	struct kmig_send_round r;
	struct kmig_tx *tx = s->tx;
	u64 t0, bytes0, pages0, zero0;
	u16 finished;
	int ret;

	ret = kmig_copy_args(&r, sizeof(r), KMIG_SEND_ROUND_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if ((r.flags & ~KMIG_ROUND_FINAL) ||
	    !kmig_all_zero(r.reserved, sizeof(r.reserved)))
		return -EINVAL;
	if (r.bw_limit && r.bw_limit < PAGE_SIZE)
		return -EINVAL;

	ret = kmig_tx_begin(s, KMIG_TX_STATES, &finished);
	if (ret)
		return ret;
	/*
	 * The deadline and the bandwidth window start with the call, not
	 * with its restart after a signal: a signal storm must not stretch a
	 * budget or reset a cap.
	 */
	if (!kmig_tx_same_call(tx, &r)) {
		tx->call_flags = r.flags;
		tx->call_max_ns = r.max_ns;
		tx->call_max_bytes = r.max_bytes;
		tx->call_bw_limit = r.bw_limit;
		tx->call_t0 = ktime_get_ns();
		tx->call_bytes0 = s->bytes;
		tx->call_pages0 = s->pages;
		tx->call_zero0 = s->zero_pages;
	}
	t0 = tx->call_t0;
	bytes0 = tx->call_bytes0;
	pages0 = tx->call_pages0;
	zero0 = tx->call_zero0;
	r.complete = 0;
	if (finished == KMIG_REC_ROUND) {
		/* Restarted after the ROUND record was queued: it is out now. */
		r.round = s->rounds - 1;
		r.complete = 1;
	} else if (s->state == KMIG_STATE_FINAL) {
		ret = -EINVAL;
	} else {
		ret = kmig_tx_round(s, &r, t0, bytes0);
	}
	r.pages = s->pages - pages0;
	r.zero_pages = s->zero_pages - zero0;
	r.bytes = s->bytes - bytes0;
	r.remaining = kmig_tx_dirty(s);
	r.elapsed_ns = ktime_get_ns() - t0;
	tx->call_interrupted = ret == -ERESTARTSYS;
	mutex_unlock(&s->lock);

	if (ret)
		return ret;
	return kmig_copy_args_out(uarg, &r, sizeof(r));
}

/*
 * SEND_BLOB and SEND_END commit their record before it is on the wire. If
 * the call is interrupted, the next call on the session sends the rest. A
 * restarted SEND_END only finishes its own record. A SEND_BLOB with the tag
 * and length of an interrupted one finishes that one instead of sending
 * anew: it returns 0 if its data is the data that went out (a restart),
 * and -EALREADY if the data differs, which then was not sent.
 */
long kmig_session_send_blob(struct kmig_session *s, void __user *uarg)
{
	struct kmig_send_blob a;
	struct kmig_rec r = { .type = KMIG_REC_BLOB };
	u16 finished;
	void *buf;
	int ret;

	ret = kmig_copy_args(&a, sizeof(a), KMIG_SEND_BLOB_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (a.flags || !kmig_all_zero(a.reserved, sizeof(a.reserved)) || !a.len)
		return -EINVAL;
	if (a.len > KMIG_BLOB_MAX)
		return -EMSGSIZE;
	if (!(s->caps & KMIG_CAP_BLOBS))
		return -EOPNOTSUPP;

	buf = kvmalloc(a.len, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf)
		return -ENOMEM;
	if (copy_from_user(buf, u64_to_user_ptr(a.data), a.len)) {
		kvfree(buf);
		return -EFAULT;
	}

	ret = kmig_tx_begin(s, KMIG_TX_STATES, &finished);
	if (ret) {
		kvfree(buf);
		return ret;
	}
	if (finished == KMIG_REC_BLOB && s->tx->blob_tag == a.tag &&
	    s->tx->blob_len == a.len) {
		/* The interrupted SEND_BLOB of this tag is out now. */
		if (memcmp(s->tx->blob, buf, a.len))
			ret = -EALREADY;
		kvfree(buf);
		goto out_unlock;
	}

	kvfree(s->tx->blob);
	r.index = a.tag;
	r.count = a.len;
	s->tx->blob = buf;
	s->tx->blob_tag = a.tag;
	s->tx->blob_len = a.len;
	kmig_tx_queue(s, &r, 0, buf, a.len);
	s->blobs++;
	ret = kmig_tx_push(s);

out_unlock:
	mutex_unlock(&s->lock);
	return ret;
}

long kmig_session_send_end(struct kmig_session *s, void __user *uarg)
{
	struct kmig_send_end a;
	struct kmig_tx *tx = s->tx;
	struct kmig_wire_end *end = (void *)tx->end;
	struct kmig_rec r = {
		.type = KMIG_REC_END,
		.count = sizeof(*end),
	};
	u16 finished;
	int ret;

	ret = kmig_copy_args(&a, sizeof(a), KMIG_SEND_END_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (a.flags || !kmig_all_zero(a.reserved, sizeof(a.reserved)))
		return -EINVAL;

	if (mutex_lock_interruptible(&s->lock))
		return -ERESTARTSYS;
	/* A restarted SEND_END only finishes its record. */
	if (s->state == KMIG_STATE_ENDED && !kmig_tx_idle(tx)) {
		ret = kmig_tx_push(s);
		mutex_unlock(&s->lock);
		return ret;
	}
	mutex_unlock(&s->lock);

	/* Only a completed final round may end the stream. */
	ret = kmig_tx_begin(s, BIT(KMIG_STATE_FINAL), &finished);
	if (ret)
		return ret;
	kvfree(tx->blob);
	tx->blob = NULL;

	end->records = cpu_to_le64(s->records);
	end->pages = cpu_to_le64(s->pages);
	end->zero_pages = cpu_to_le64(s->zero_pages);
	end->blobs = cpu_to_le64(s->blobs);
	end->rounds = cpu_to_le64(s->rounds);
	end->bytes = cpu_to_le64(s->bytes);
	kmig_tx_queue(s, &r, 0, end, sizeof(*end));
	s->state = KMIG_STATE_ENDED;
	ret = kmig_tx_push(s);
	mutex_unlock(&s->lock);
	return ret;
}
