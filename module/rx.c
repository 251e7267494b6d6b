// SPDX-License-Identifier: GPL-2.0
/*
 * The receiver: a resumable state machine (enum kmig_rx_state) run in the
 * caller's context. It validates every record before it acts on it, reads
 * page payloads straight into the destination guest pages, and returns to
 * userspace at each round boundary, blob and at the end of the stream.
 *
 * A malformed or truncated stream breaks the session with a specific errno;
 * the reason and the offset of the offending record are in GET_STATS. No
 * record ever writes outside the layout: its region and page range are
 * checked before a byte of its payload is read.
 */
#include <linux/bvec.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "kmig.h"
#include "session.h"
#include "trace.h"

void kmig_rx_free(struct kmig_rx *rx)
{
	if (!rx)
		return;
	kvfree(rx->blob);
	kvfree(rx);
}

/* Socket trouble; an interruption keeps the state for the next call. */
static int kmig_rx_error(struct kmig_session *s, int ret)
{
	if (ret == -ERESTARTSYS || ret == -EINTR)
		return -ERESTARTSYS;
	if (!ret)	/* EOF before the END record */
		return kmig_session_fail(s, -EPIPE, KMIG_ERR_TRUNCATED,
					 s->rx->rec_start);
	if (ret == -EAGAIN)
		ret = -ETIMEDOUT;	/* SO_RCVTIMEO expired */
	return kmig_session_fail(s, ret, KMIG_ERR_SOCKET, s->bytes);
}

/*
 * A connection the peer reset delivers what it had queued before the reset,
 * but a source aborts its stream before it resumes its guest, and zero-copy
 * pages queued on a local path (loopback, veth) are read at delivery, so
 * they may carry bytes written after that resume. The reset reaches this
 * socket before the source's abort returns, so checked before each read,
 * nothing newer is read; checked after, a read that raced with it counts
 * for nothing either: the session breaks.
 */
static int kmig_rx_check_reset(struct kmig_session *s, int ret)
{
	int err = READ_ONCE(s->sock->sk->sk_err);

	return err ? kmig_session_fail(s, -err, KMIG_ERR_SOCKET, s->bytes) :
		     ret;
}

/* Read up to @len bytes into @buf: > 0 bytes read, or kmig_rx_error(). */
static int kmig_rx_read(struct kmig_session *s, void *buf, size_t len)
{
	struct kvec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	int ret;

	ret = kmig_rx_check_reset(s, 0);
	if (ret)
		return ret;
	ret = kernel_recvmsg(s->sock, &msg, &iov, 1, len, 0);
	if (ret <= 0)
		return kmig_rx_error(s, ret);
	s->bytes += ret;
	return kmig_rx_check_reset(s, ret);
}

/* Fill rx->buf up to rx->need bytes. 0 when there. */
static int kmig_rx_fill(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;

	while (rx->have < rx->need) {
		int ret = kmig_rx_read(s, rx->buf + rx->have,
				       rx->need - rx->have);

		if (ret < 0)
			return ret;
		rx->have += ret;
	}
	return 0;
}

static int kmig_rx_bad(struct kmig_session *s, int error, u32 reason)
{
	return kmig_session_fail(s, error, reason, s->rx->rec_start);
}

/* Expect @need more bytes in rx->buf, in @state. */
static void kmig_rx_expect(struct kmig_rx *rx, enum kmig_rx_state state,
			   unsigned int need)
{
	rx->state = state;
	rx->have = 0;
	rx->need = need;
}

/* The fixed part of the stream header. */
static int kmig_rx_header(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;
	const u8 *b = rx->buf;
	u32 version = get_unaligned_le16(b + 4);
	u32 len = get_unaligned_le16(b + 6);
	u64 caps = get_unaligned_le64(b + 8);
	u32 nr = get_unaligned_le16(b + 20);

	if (get_unaligned_le32(b) != KMIG_WIRE_MAGIC)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_MAGIC);
	if (version < kmig_proto_min() || version > kmig_proto_max())
		return kmig_rx_bad(s, -EPROTONOSUPPORT, KMIG_ERR_VERSION);
	if (caps & ~KMIG_CAPS_SUPPORTED)
		return kmig_rx_bad(s, -EOPNOTSUPP, KMIG_ERR_CAPS);
	if (s->proto && version != s->proto)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_VERSION);
	if (s->proto && caps != s->caps)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_CAPS);
	if (!nr || nr > KMIG_MAX_REGIONS || len != kmig_wire_header_len(nr) ||
	    get_unaligned_le16(b + 22) || get_unaligned_le64(b + 24))
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_HEADER);
	if (get_unaligned_le32(b + 16) != PAGE_SIZE)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_PAGE_SIZE);

	rx->state = KMIG_RX_HEADER_REST;
	rx->need = len;
	return 0;
}

/* Regions and the header checksum: the layout must be ours exactly. */
static int kmig_rx_header_rest(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;
	unsigned int nr = get_unaligned_le16(rx->buf + 20), i;
	const u8 *reg = rx->buf + KMIG_WIRE_HEADER_FIXED;

	if (get_unaligned_le32(rx->buf + rx->need - 4) !=
	    kmig_crc(~0U, rx->buf, rx->need - 4))
		return kmig_rx_bad(s, -EBADMSG, KMIG_ERR_HEADER_CRC);
	for (i = 0; i < nr; i++, reg += sizeof(struct kmig_wire_region))
		if (get_unaligned_le64(reg + 8))
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_HEADER);
	if (nr != s->nr_regions)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_LAYOUT);
	reg = rx->buf + KMIG_WIRE_HEADER_FIXED;
	for (i = 0; i < nr; i++, reg += sizeof(struct kmig_wire_region))
		if (get_unaligned_le64(reg) != s->regions[i].mem->npages)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_LAYOUT);

	/* A saved stream brings its own version and capabilities. */
	s->proto = get_unaligned_le16(rx->buf + 4);
	s->caps = get_unaligned_le64(rx->buf + 8);
	s->state = KMIG_STATE_STREAMING;
	rx->rec_start = s->bytes;
	kmig_rx_expect(rx, KMIG_RX_RECORD, kmig_rec_len(s->proto));
	return 0;
}

/* Check a record header against the layout, the agreement and the order. */
static int kmig_rx_check_record(struct kmig_session *s,
				const struct kmig_rec *r)
{
	bool csum = s->caps & KMIG_CAP_CHECKSUM;

	if (s->proto == KMIG_PROTO_V1 && !csum && r->check)
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_FLAGS);

	switch (r->type) {
	case KMIG_REC_ZERO:
		if (!(s->caps & KMIG_CAP_ZERO_PAGES))
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_NOT_AGREED);
		fallthrough;
	case KMIG_REC_PAGES:
		if (r->flags)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_FLAGS);
		/* After the final round only blobs and END may follow. */
		if (s->rx->final_seen)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_ORDER);
		if (!r->count)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_LENGTH);
		if (r->region >= s->nr_regions ||
		    r->index >= s->regions[r->region].mem->npages ||
		    r->count > s->regions[r->region].mem->npages - r->index)
			return kmig_rx_bad(s, -ERANGE, KMIG_ERR_RANGE);
		return 0;
	case KMIG_REC_ROUND:
		if ((r->flags & ~KMIG_REC_F_FINAL) || r->region)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_FLAGS);
		if (r->index != s->rounds || s->rx->final_seen)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_ORDER);
		if (r->index > U32_MAX)
			return kmig_rx_bad(s, -ERANGE, KMIG_ERR_RANGE);
		if (r->count != s->rx->round_pages)
			return kmig_rx_bad(s, -EBADMSG, KMIG_ERR_TOTALS);
		return 0;
	case KMIG_REC_BLOB:
		if (!(s->caps & KMIG_CAP_BLOBS))
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_NOT_AGREED);
		if (r->flags || r->region)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_FLAGS);
		if (!r->count)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_LENGTH);
		if (r->count > KMIG_BLOB_MAX)
			return kmig_rx_bad(s, -EMSGSIZE, KMIG_ERR_TOO_BIG);
		return 0;
	case KMIG_REC_END:
		if (r->flags || r->region || r->index)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_FLAGS);
		if (r->count != sizeof(struct kmig_wire_end))
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_LENGTH);
		/* A stream ends only after its final round. */
		if (!s->rx->final_seen)
			return kmig_rx_bad(s, -EPROTO, KMIG_ERR_ORDER);
		return 0;
	default:
		return kmig_rx_bad(s, -EPROTO, KMIG_ERR_TYPE);
	}
}

/* A record header arrived: check it and get ready for its payload. */
static int kmig_rx_record(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;
	struct kmig_rec *r = &rx->rec;
	unsigned int len = kmig_rec_len(s->proto);
	int ret;

	kmig_rec_decode(s->proto, rx->buf, r);
	ret = kmig_rx_check_record(s, r);
	if (ret)
		return ret;

	if (s->caps & KMIG_CAP_CHECKSUM) {
		/* Protocol 1 checks the header with its check field zero. */
		if (s->proto == KMIG_PROTO_V1)
			memset(rx->buf + 20, 0, 4);
		rx->crc = kmig_crc(kmig_crc_seed(s->records), rx->buf, len);
	}

	switch (r->type) {
	case KMIG_REC_PAGES:
		rx->state = KMIG_RX_PAGES;
		rx->page_i = 0;
		rx->page_off = 0;
		break;
	case KMIG_REC_BLOB:
		/* sized by the peer: a failure is an errno, not a warning */
		rx->blob = kvmalloc(r->count, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!rx->blob)
			return kmig_rx_bad(s, -ENOMEM, KMIG_ERR_NONE);
		rx->blob_have = 0;
		rx->state = KMIG_RX_BLOB;
		break;
	case KMIG_REC_END:
		kmig_rx_expect(rx, KMIG_RX_END, r->count);
		break;
	default:
		/* No payload. */
		kmig_rx_expect(rx, KMIG_RX_TRAILER,
			       kmig_trailer_len(s->proto, s->caps));
		break;
	}
	return 0;
}

/* Checksum the @len bytes that a read put into the pieces of @bv. */
static u32 kmig_rx_crc_pages(u32 crc, const struct bio_vec *bv, size_t len)
{
	for (; len; bv++) {
		size_t n = min_t(size_t, len, bv->bv_len);
		void *p = kmap_local_page(bv->bv_page);

		crc = kmig_crc(crc, p + bv->bv_offset, n);
		kunmap_local(p);
		len -= n;
	}
	return crc;
}

/*
 * PAGES payload, read straight into the destination pages, up to
 * KMIG_RX_PAGES_PER_READ of them per socket read.
 */
static int kmig_rx_pages(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;
	struct kmig_mem *mem = s->regions[rx->rec.region].mem;
	bool csum = s->caps & KMIG_CAP_CHECKSUM;

	while (rx->page_i < rx->rec.count) {
		struct bio_vec bv[KMIG_RX_PAGES_PER_READ];
		struct msghdr msg = {};
		unsigned int i, n, off = rx->page_off;
		size_t len = 0;
		int ret;

		n = min_t(u32, rx->rec.count - rx->page_i,
			  KMIG_RX_PAGES_PER_READ);
		for (i = 0; i < n; i++) {
			struct page *page;

			page = kmig_mem_get_page(mem, rx->rec.index +
						 rx->page_i + i);
			if (!page)
				return kmig_rx_bad(s, -ENOMEM, KMIG_ERR_NONE);
			kmig_mem_set_written(mem, rx->rec.index + rx->page_i + i);
			bvec_set_page(&bv[i], page, PAGE_SIZE - off, off);
			len += PAGE_SIZE - off;
			off = 0;
		}
		iov_iter_bvec(&msg.msg_iter, ITER_DEST, bv, n, len);
		ret = kmig_rx_check_reset(s, 0);
		if (ret)
			return ret;
		ret = sock_recvmsg(s->sock, &msg, 0);
		if (ret <= 0)
			return kmig_rx_error(s, ret);
		s->bytes += ret;
		ret = kmig_rx_check_reset(s, ret);
		if (ret < 0)
			return ret;
		if (csum)
			rx->crc = kmig_rx_crc_pages(rx->crc, bv, ret);
		off = rx->page_off + ret;
		rx->page_i += off / PAGE_SIZE;
		rx->page_off = off % PAGE_SIZE;
	}
	kmig_rx_expect(rx, KMIG_RX_TRAILER, kmig_trailer_len(s->proto, s->caps));
	return 0;
}

static int kmig_rx_blob(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;

	while (rx->blob_have < rx->rec.count) {
		int ret = kmig_rx_read(s, rx->blob + rx->blob_have,
				       rx->rec.count - rx->blob_have);

		if (ret < 0)
			return ret;
		rx->blob_have += ret;
	}
	if (s->caps & KMIG_CAP_CHECKSUM)
		rx->crc = kmig_crc(rx->crc, rx->blob, rx->rec.count);
	kmig_rx_expect(rx, KMIG_RX_TRAILER, kmig_trailer_len(s->proto, s->caps));
	return 0;
}

/* The END payload must match what this side counted. */
static int kmig_rx_end(struct kmig_session *s)
{
	struct kmig_rx *rx = s->rx;
	const u8 *b = rx->buf;

	if (s->caps & KMIG_CAP_CHECKSUM)
		rx->crc = kmig_crc(rx->crc, b, rx->need);
	if (get_unaligned_le64(b) != s->records ||
	    get_unaligned_le64(b + 8) != s->pages ||
	    get_unaligned_le64(b + 16) != s->zero_pages ||
	    get_unaligned_le64(b + 24) != s->blobs ||
	    get_unaligned_le64(b + 32) != s->rounds ||
	    get_unaligned_le64(b + 40) != rx->rec_start)
		return kmig_rx_bad(s, -EBADMSG, KMIG_ERR_TOTALS);
	kmig_rx_expect(rx, KMIG_RX_TRAILER, kmig_trailer_len(s->proto, s->caps));
	return 0;
}

/*
 * A ZERO record may cover a whole region, 64 GiB in 16 bytes: clear only the
 * pages that may hold data (@written, found a word at a time), and give the
 * CPU up between pages.
 */
static void kmig_rx_zero(struct kmig_mem *mem, u64 first, u64 count)
{
	unsigned long i = first, end = first + count;
	struct page *page;

	for (;;) {
		i = kmig_mem_next_written(mem, i, end);
		if (i >= end)
			break;
		page = xa_load(&mem->pages, i);
		if (page)
			clear_highpage(page);
		i++;
		cond_resched();
	}
}

/*
 * The whole record is in: verify its checksum, then act on it. Returns an
 * event for userspace (KMIG_EVENT_*), 0 to go on, or an error.
 */
static int kmig_rx_done(struct kmig_session *s, struct kmig_recv *ev)
{
	struct kmig_rx *rx = s->rx;
	struct kmig_rec *r = &rx->rec;

	if (s->caps & KMIG_CAP_CHECKSUM) {
		u32 want = s->proto == KMIG_PROTO_V1 ?
			   r->check : get_unaligned_le32(rx->buf);

		if (want != rx->crc)
			return kmig_rx_bad(s, -EBADMSG, KMIG_ERR_CHECKSUM);
	}
	s->records++;
	rx->rec_start = s->bytes;
	kmig_rx_expect(rx, KMIG_RX_RECORD, kmig_rec_len(s->proto));

	switch (r->type) {
	case KMIG_REC_PAGES:
		s->pages += r->count;
		rx->round_pages += r->count;
		return 0;
	case KMIG_REC_ZERO:
		kmig_rx_zero(s->regions[r->region].mem, r->index, r->count);
		s->zero_pages += r->count;
		rx->round_pages += r->count;
		return 0;
	case KMIG_REC_ROUND:
		trace_kmig_round_end(s->role, s->rounds, r->flags,
				     rx->round_pages, s->bytes);
		ev->round = s->rounds;
		ev->round_flags = r->flags;
		rx->final_seen = r->flags & KMIG_REC_F_FINAL;
		s->rounds++;
		rx->round_pages = 0;
		return KMIG_EVENT_ROUND;
	case KMIG_REC_BLOB:
		s->blobs++;
		rx->state = KMIG_RX_BLOB_READY;
		return 0;
	default:
		s->state = KMIG_STATE_ENDED;
		return KMIG_EVENT_END;
	}
}

/* Hand a received blob to userspace, or say how much room it needs. */
static int kmig_rx_deliver_blob(struct kmig_session *s, struct kmig_recv *ev)
{
	struct kmig_rx *rx = s->rx;

	ev->blob_tag = rx->rec.index;
	ev->blob_len = rx->rec.count;
	if (rx->rec.count > ev->blob_buf_len)
		return -ENOBUFS;
	if (copy_to_user(u64_to_user_ptr(ev->blob_buf), rx->blob,
			 rx->rec.count))
		return -EFAULT;
	kvfree(rx->blob);
	rx->blob = NULL;
	rx->state = KMIG_RX_RECORD;
	return KMIG_EVENT_BLOB;
}

static int kmig_rx_step(struct kmig_session *s, struct kmig_recv *ev)
{
	struct kmig_rx *rx = s->rx;
	int ret;

	switch (rx->state) {
	case KMIG_RX_HEADER:
		rx->need = KMIG_WIRE_HEADER_FIXED;
		ret = kmig_rx_fill(s);
		return ret ?: kmig_rx_header(s);
	case KMIG_RX_HEADER_REST:
		ret = kmig_rx_fill(s);
		return ret ?: kmig_rx_header_rest(s);
	case KMIG_RX_RECORD:
		ret = kmig_rx_fill(s);
		return ret ?: kmig_rx_record(s);
	case KMIG_RX_PAGES:
		return kmig_rx_pages(s);
	case KMIG_RX_BLOB:
		return kmig_rx_blob(s);
	case KMIG_RX_END:
		ret = kmig_rx_fill(s);
		return ret ?: kmig_rx_end(s);
	case KMIG_RX_TRAILER:
		ret = kmig_rx_fill(s);
		return ret ?: kmig_rx_done(s, ev);
	case KMIG_RX_BLOB_READY:
		return kmig_rx_deliver_blob(s, ev);
	}
	return -EINVAL;
}

long kmig_session_recv(struct kmig_session *s, void __user *uarg)
{
	struct kmig_recv ev;
	int ret;

	ret = kmig_copy_args(&ev, sizeof(ev), KMIG_RECV_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (ev.flags || !kmig_all_zero(ev.reserved, sizeof(ev.reserved)))
		return -EINVAL;

	if (mutex_lock_interruptible(&s->lock))
		return -ERESTARTSYS;
	ret = kmig_session_check_state(s, BIT(KMIG_STATE_IDLE) |
					  BIT(KMIG_STATE_STREAMING));
	if (ret)
		goto out_unlock;

	do {
		ret = kmig_rx_step(s, &ev);
		cond_resched();
	} while (!ret);

	ev.event = ret > 0 ? ret : 0;
	ev.pages = s->pages;
	ev.zero_pages = s->zero_pages;
	ev.bytes = s->bytes;

out_unlock:
	mutex_unlock(&s->lock);
	if (ret > 0 || ret == -ENOBUFS) {
		int err = kmig_copy_args_out(uarg, &ev, sizeof(ev));

		if (err)
			return err;
		return ret > 0 ? 0 : ret;
	}
	return ret;
}
