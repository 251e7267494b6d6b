/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Migration sessions: a socket attached to memory objects, streaming pages
 * out (send role) or in (receive role).
 *
 * The state machine (KMIG_STATE_*, reported by GET_STATS):
 *
 *   IDLE ----first send or receive----> STREAMING
 *   STREAMING --final round (send)----> FINAL
 *   STREAMING, FINAL --END sent/read--> ENDED
 *   any state --socket or stream error--> BROKEN
 *
 * SEND_ROUND is valid in IDLE and STREAMING; SEND_BLOB in IDLE, STREAMING
 * and FINAL; SEND_END in FINAL only (a stream ends after its final round);
 * RECV in IDLE and STREAMING.
 * Anything else is -EINVAL, and everything on a BROKEN session is -EPIPE.
 * An interrupted call (-ERESTARTSYS) leaves the state and the record in
 * flight as they were; the next call continues the same record, so the
 * stream stays well formed.
 */
#ifndef _KMIG_SESSION_H
#define _KMIG_SESSION_H

#include <linux/mutex.h>
#include <linux/net.h>

#include "mem.h"
#include "wire.h"

/* Pages per record when each record's payload is checksummed (a copy). */
#define KMIG_CSUM_RUN	16

/* Destination pages one socket read fills at most. */
#define KMIG_RX_PAGES_PER_READ	16

struct kmig_region {
	struct file *file;
	struct kmig_mem *mem;
};

/* Send side. The record in flight is header, then pages or buf, then trailer. */
struct kmig_tx {
	u8 hdr[KMIG_WIRE_HEADER_MAX];
	size_t hdr_len, hdr_off;
	struct page *pages[KMIG_BATCH];
	unsigned int nr_pages, page_i, page_off;
	const void *buf;
	size_t buf_len, buf_off;
	u8 trailer[4];
	size_t trailer_len, trailer_off;

	/* Pages harvested and re-armed, owed to the stream. */
	struct kmig_batch batch;
	bool zero[KMIG_BATCH];
	unsigned int batch_pos, batch_region;

	/* Where the open round stands; round_final: started by FINAL. */
	bool round_open;
	bool round_final;
	unsigned int region;
	u64 pos;
	u64 round_pages;
	u64 round_start_ns;
	u64 round_start_bytes;
	u64 faults_at_round_start;

	/*
	 * SEND_ROUND's budget across restarts: a call interrupted by a signal
	 * and made again with the same arguments continues the same deadline
	 * and bandwidth window (call_t0, call_bytes0) instead of starting anew.
	 */
	bool call_interrupted;
	u32 call_flags;
	u64 call_max_ns, call_max_bytes, call_bw_limit;
	u64 call_t0, call_bytes0, call_pages0, call_zero0;

	void *bounce;		/* KMIG_CAP_CHECKSUM: stable copy of a run */
	void *blob;		/* SEND_BLOB: kernel copy, kept for a restart */
	u16 kind;		/* KMIG_REC_* in flight, or 0 */
	u64 blob_tag, blob_len;	/* the last blob queued */
	u8 end[sizeof(struct kmig_wire_end)];	/* END payload */
};

enum kmig_rx_state {
	KMIG_RX_HEADER,		/* the fixed part of the stream header */
	KMIG_RX_HEADER_REST,	/* regions and header checksum */
	KMIG_RX_RECORD,		/* a record header */
	KMIG_RX_PAGES,		/* PAGES payload, straight into guest pages */
	KMIG_RX_BLOB,		/* BLOB payload */
	KMIG_RX_END,		/* END payload */
	KMIG_RX_TRAILER,	/* protocol 2 checksum */
	KMIG_RX_BLOB_READY,	/* a blob waits for a large enough buffer */
};

/* Receive side. */
struct kmig_rx {
	enum kmig_rx_state state;
	u8 buf[KMIG_WIRE_HEADER_MAX];
	unsigned int have, need;
	struct kmig_rec rec;
	u64 rec_start;		/* stream offset of the record */
	u32 crc;
	u32 page_i, page_off;
	void *blob;
	size_t blob_have;
	u64 round_pages;
	bool final_seen;	/* the final round's ROUND record arrived */
};

/*
 * struct kmig_session - the private_data of a session fd.
 *
 * @lock serializes every ioctl on the session and is held while blocking on
 * the socket; it nests outside each memory object's lock. The counters and
 * @state below are written only under @lock. GET_STATS and poll() read them
 * without waiting for it (KMIG_SNAP(), session.c), each figure once.
 */
struct kmig_session {
	struct mutex lock;	/* see above */
	u32 role;
	u32 proto;
	u64 caps;
	u32 state;
	struct file *sock_file;
	struct socket *sock;

	u64 bytes;		/* stream offset */
	u64 records;		/* also the next record's sequence number */
	u64 pages;
	u64 zero_pages;
	u64 blobs;
	u64 rounds;		/* ROUND records */
	u64 start_ns;
	u64 last_dirty;
	u64 dirty_rate;
	u64 bandwidth;

	int error;
	u32 error_reason;
	u64 error_offset;

	union {
		struct kmig_tx *tx;
		struct kmig_rx *rx;
	};
	unsigned int nr_regions;
	struct kmig_region regions[];
};

int kmig_session_create(void __user *uarg);
int kmig_session_fail(struct kmig_session *s, int error, u32 reason,
		      u64 offset);
int kmig_session_check_state(struct kmig_session *s, unsigned int valid);

/* tx.c */
long kmig_session_send_round(struct kmig_session *s, void __user *uarg);
long kmig_session_send_blob(struct kmig_session *s, void __user *uarg);
long kmig_session_send_end(struct kmig_session *s, void __user *uarg);
void kmig_tx_free(struct kmig_tx *tx);

/* rx.c */
long kmig_session_recv(struct kmig_session *s, void __user *uarg);
void kmig_rx_free(struct kmig_rx *rx);

#endif /* _KMIG_SESSION_H */
