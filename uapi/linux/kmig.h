/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kmig - kernel-assisted VM live migration: userspace API.
 *
 * This is the only ABI header of kmig. It is a public contract: change it only
 * compatibly (see Documentation/compatibility.rst).
 *
 * Rules that hold for every ioctl below:
 *  - Every argument struct starts with "__u32 size", the number of bytes of
 *    the struct as userspace knows it. The kernel reads it with
 *    copy_struct_from_user(): a size below the struct's *_SIZE_VER0 is
 *    -EINVAL, a larger size whose extra bytes are not all zero is -E2BIG, and
 *    a size above 4096 is -E2BIG. Output is written for min(size, kernel
 *    size) bytes, so old binaries keep working when a struct grows.
 *  - Every "flags" field rejects unknown bits with -EINVAL.
 *  - Every "pad" and "reserved" field must be zero (-EINVAL).
 *  - Pointers are passed as __u64.
 *  - Unknown ioctl numbers return -ENOTTY.
 *  - The ioctl numbers use _IO(): the size lives in the struct, not in the
 *    number (as VFIO does), so the numbers never change when a struct grows.
 */
#ifndef _UAPI_LINUX_KMIG_H
#define _UAPI_LINUX_KMIG_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KMIG_DEVICE_NAME	"kmig"

/*
 * Wire protocol versions. Explicit numbers with fixed meanings; there is no
 * "current" or "latest" alias anywhere in the protocol.
 */
#define KMIG_PROTO_V1		1
#define KMIG_PROTO_V2		2

/*
 * Wire capabilities: optional stream features that both peers must agree on.
 * They are independent of the protocol version.
 */
#define KMIG_CAP_ZERO_PAGES	(1ULL << 0)	/* zero-page runs, no payload */
#define KMIG_CAP_CHECKSUM	(1ULL << 1)	/* CRC32C over every record */
#define KMIG_CAP_BLOBS		(1ULL << 2)	/* opaque VMM blobs in the stream */

/*
 * Features: which ioctls and behaviours this module implements. A feature bit
 * is set only when the module really implements it.
 */
#define KMIG_FEAT_GET_INFO	(1ULL << 0)	/* KMIG_GET_INFO */
#define KMIG_FEAT_MEM		(1ULL << 1)	/* KMIG_MEM_CREATE and memory fds */
#define KMIG_FEAT_DIRTY_TRACK	(1ULL << 2)	/* TRACK_START/STOP, HARVEST */
#define KMIG_FEAT_WP_HELPERS	(1ULL << 3)	/* re-arm via wp_shared_mapping_range */
#define KMIG_FEAT_SESSION	(1ULL << 4)	/* KMIG_SESSION_CREATE, GET_STATS */
#define KMIG_FEAT_SEND		(1ULL << 5)	/* SEND_ROUND, SEND_BLOB, SEND_END */
#define KMIG_FEAT_RECV		(1ULL << 6)	/* KMIG_SESSION_RECV */
#define KMIG_FEAT_MEM_LARGE	(1ULL << 7)	/* KMIG_MEM_CREATE_LARGE */
#define KMIG_FEAT_MARK_DIRTY	(1ULL << 8)	/* KMIG_MEM_MARK_DIRTY */
#define KMIG_FEAT_HELD_DIRTY	(1ULL << 9)	/* held pages stay dirty */
#define KMIG_FEAT_FS		(1ULL << 10)	/* the "kmig" filesystem */

/*
 * statfs() f_type of the "kmig" filesystem (mount -t kmig): guest memory
 * objects as regular files any VMM can open by path.
 */
#define KMIGFS_MAGIC		0x6b6d6673	/* "kmfs" */

#define KMIG_IOC_MAGIC		0xB9

/*
 * KMIG_GET_INFO, on /dev/kmig: describe the module.
 */
struct kmig_info {
	__u32 size;		/* in: sizeof(struct kmig_info) */
	__u32 flags;		/* in: must be 0 */
	__u32 module_version;	/* out: KMIG_VERSION(major, minor, patch) */
	__u32 page_size;	/* out: bytes per guest page */
	__u32 proto_min;	/* out: lowest, after the proto_min parameter */
	__u32 proto_max;	/* out: highest, after the proto_max parameter */
	__u64 caps;		/* out: KMIG_CAP_* supported */
	__u64 features;		/* out: KMIG_FEAT_* implemented */
	__u64 max_mem_size;	/* out: largest KMIG_MEM_CREATE size, bytes */
	__u32 proto_max_builtin;/* out: highest protocol this build knows */
	__u32 pad;		/* must be 0 */
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_INFO_SIZE_VER0	88

#define KMIG_VERSION(maj, min, patch)	(((maj) << 16) | ((min) << 8) | (patch))
#define KMIG_VERSION_MAJOR(v)		(((v) >> 16) & 0xffff)
#define KMIG_VERSION_MINOR(v)		(((v) >> 8) & 0xff)
#define KMIG_VERSION_PATCH(v)		((v) & 0xff)

/*
 * KMIG_MEM_CREATE, on /dev/kmig: create a guest memory object of mem_size
 * bytes. Returns a new file descriptor (O_RDWR | O_CLOEXEC) for it.
 *
 * KMIG_MEM_CREATE_LARGE: allocate the object in physically contiguous 64 KiB
 * folios (aligned runs of 16 pages) where the page allocator has them, and
 * in single pages where it does not or at an end that is not a whole folio.
 * The first touch of a page populates its whole folio. The sender then hands
 * the socket one 64 KiB fragment per folio instead of 16 pages. Tracking
 * stays per page.
 */
#define KMIG_MEM_CREATE_LARGE	(1U << 0)

struct kmig_mem_create {
	__u32 size;		/* in: sizeof(struct kmig_mem_create) */
	__u32 flags;		/* in: KMIG_MEM_CREATE_* */
	__u64 mem_size;		/* in: bytes, a non-zero multiple of page_size */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_MEM_CREATE_SIZE_VER0	32

/*
 * KMIG_MEM_TRACK_START, on a memory fd: start dirty tracking. Every page
 * mapped writable anywhere is write-protected; from then on the first write
 * to a page after each harvest marks it dirty.
 */
#define KMIG_TRACK_ALL_DIRTY	(1U << 0)	/* start with every page dirty */

struct kmig_track {
	__u32 size;		/* in: sizeof(struct kmig_track) */
	__u32 flags;		/* in: KMIG_TRACK_* */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_TRACK_SIZE_VER0	24

/*
 * KMIG_MEM_HARVEST, on a memory fd: for the pages [first_page,
 * first_page + num_pages), write the dirty set to userspace and, atomically
 * per page, clear it and write-protect the pages again. Writes that race with
 * the harvest are reported by this harvest or by the next one, never lost.
 *
 * Output is either a bitmap (bit i of the little-endian __u64 array at
 * bitmap_ptr is page first_page + i, num_pages bits rounded up to 64) or,
 * with KMIG_HARVEST_LIST, an array of __u64 page indices at list_ptr with
 * room for list_len entries. In list mode the harvest stops when the list is
 * full; next_page tells where to continue. Cost grows with the number of dirty
 * pages, not with num_pages (except for clearing the user bitmap).
 */
#define KMIG_HARVEST_LIST	(1U << 0)	/* output a page list, not a bitmap */
#define KMIG_HARVEST_PEEK	(1U << 1)	/* report only: no clear, no re-arm */

struct kmig_harvest {
	__u32 size;		/* in: sizeof(struct kmig_harvest) */
	__u32 flags;		/* in: KMIG_HARVEST_* */
	__u64 first_page;	/* in: first page of the range */
	__u64 num_pages;	/* in: pages in the range, > 0 */
	__u64 bitmap_ptr;	/* in: user bitmap (bitmap mode) */
	__u64 list_ptr;		/* in: user __u64 array (list mode) */
	__u64 list_len;		/* in: entries at list_ptr (list mode) */
	__u64 dirty_pages;	/* out: dirty pages reported */
	__u64 next_page;	/* out: first page not yet examined */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_HARVEST_SIZE_VER0	80

/*
 * KMIG_MEM_MARK_DIRTY, on a memory fd: report that the pages [first_page,
 * first_page + num_pages) were written by a writer kmig cannot see, such as
 * a device writing through a pin taken before tracking started, or an
 * emulated device writing through a mapping kmig does not know of. The next
 * harvest reports them. Tracking must be on.
 */
struct kmig_mark_dirty {
	__u32 size;		/* in: sizeof(struct kmig_mark_dirty) */
	__u32 flags;		/* in: must be 0 */
	__u64 first_page;	/* in: first page of the range */
	__u64 num_pages;	/* in: pages in the range, > 0 */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_MARK_DIRTY_SIZE_VER0	40

/*
 * KMIG_MEM_GET_STATS, on a memory fd.
 */
struct kmig_mem_stats {
	__u32 size;		/* in: sizeof(struct kmig_mem_stats) */
	__u32 flags;		/* in: must be 0 */
	__u64 pages;		/* out: pages in the object */
	__u64 populated_pages;	/* out: pages allocated so far */
	__u64 dirty_pages;	/* out: pages dirty now (tracking on) */
	__u64 write_faults;	/* out: tracked write faults since creation */
	__u64 harvests;		/* out: harvest calls */
	__u64 rearmed_pages;	/* out: pages write-protected again */
	__u32 tracking;		/* out: 1 while tracking is on */
	__u32 rearm_method;	/* out: KMIG_REARM_* in use */
	__u64 large_folios;	/* out: 64 KiB folios allocated (CREATE_LARGE) */
	__u64 held_pages;	/* out: harvested pages kept dirty because held */
	__u64 marked_pages;	/* out: pages marked by KMIG_MEM_MARK_DIRTY */
	__u64 reserved[1];	/* must be 0 */
};

#define KMIG_MEM_STATS_SIZE_VER0	96

#define KMIG_REARM_WP		1	/* wp_shared_mapping_range() */
#define KMIG_REARM_UNMAP	2	/* unmap_mapping_pages() */

/*
 * KMIG_SESSION_CREATE, on /dev/kmig: attach a connected stream socket (TCP or
 * AF_UNIX SOCK_STREAM) to a migration session over nr_mem memory objects,
 * in layout order (region i is mem_fds[i]). Returns a session fd (O_CLOEXEC).
 * The session holds its own references to the socket and the memory objects.
 *
 * proto and caps are what the handshake negotiated; the module refuses a
 * version outside its window (-EPROTONOSUPPORT) and capabilities it does not
 * have (-EOPNOTSUPP). A receive session created with KMIG_SESSION_FROM_STREAM
 * passes proto = caps = 0 and takes both from the stream header (a saved
 * stream, no handshake).
 */
#define KMIG_ROLE_SEND		1
#define KMIG_ROLE_RECV		2

#define KMIG_SESSION_FROM_STREAM	(1U << 0)

#define KMIG_MAX_REGIONS	64

struct kmig_session_create {
	__u32 size;		/* in: sizeof(struct kmig_session_create) */
	__u32 flags;		/* in: KMIG_SESSION_* */
	__s32 sock_fd;		/* in: connected SOCK_STREAM socket */
	__u32 role;		/* in: KMIG_ROLE_* */
	__u32 proto;		/* in: negotiated KMIG_PROTO_* */
	__u32 nr_mem;		/* in: 1..KMIG_MAX_REGIONS */
	__u64 caps;		/* in: negotiated KMIG_CAP_* */
	__u64 mem_fds;		/* in: pointer to __s32[nr_mem] */
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_SESSION_CREATE_SIZE_VER0	72

/*
 * KMIG_SESSION_SEND_ROUND, on a send session: harvest the dirty pages of
 * every region, re-arm them, and stream them; at the end of the round send a
 * ROUND record. The call returns early, with complete = 0, when max_bytes or
 * max_ns is reached; the next call continues the same round. bw_limit caps
 * the rate of this call in bytes per second. KMIG_ROUND_FINAL marks the round
 * sent with the guest paused; after it only blobs and the end may follow.
 */
#define KMIG_ROUND_FINAL	(1U << 0)

struct kmig_send_round {
	__u32 size;		/* in: sizeof(struct kmig_send_round) */
	__u32 flags;		/* in: KMIG_ROUND_* */
	__u64 max_bytes;	/* in: budget for this call, 0 = none */
	__u64 max_ns;		/* in: time budget for this call, 0 = none */
	__u64 bw_limit;		/* in: bytes per second, 0 = none */
	__u64 pages;		/* out: data pages sent by this call */
	__u64 zero_pages;	/* out: zero pages sent by this call */
	__u64 bytes;		/* out: stream bytes written by this call */
	__u64 remaining;	/* out: dirty pages not yet sent */
	__u64 elapsed_ns;	/* out: time spent in this call */
	__u32 round;		/* out: the round this call worked on */
	__u32 complete;		/* out: 1 if that round ended in this call */
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_SEND_ROUND_SIZE_VER0	112

/* KMIG_SESSION_SEND_BLOB: send len bytes at data as an opaque blob. */
#define KMIG_BLOB_MAX		(64U << 20)

struct kmig_send_blob {
	__u32 size;		/* in: sizeof(struct kmig_send_blob) */
	__u32 flags;		/* in: must be 0 */
	__u64 tag;		/* in: the VMM's label for the blob */
	__u64 data;		/* in: pointer to the bytes */
	__u64 len;		/* in: 1..KMIG_BLOB_MAX */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_SEND_BLOB_SIZE_VER0	48

/* KMIG_SESSION_SEND_END: send the END record with the stream's totals. */
struct kmig_send_end {
	__u32 size;		/* in: sizeof(struct kmig_send_end) */
	__u32 flags;		/* in: must be 0 */
	__u64 reserved[2];	/* must be 0 */
};

#define KMIG_SEND_END_SIZE_VER0		24

/*
 * KMIG_SESSION_RECV, on a receive session: read the stream into the memory
 * objects until the next event: a round boundary, a blob (copied to
 * blob_buf) or the end of the stream.
 */
#define KMIG_EVENT_ROUND	1
#define KMIG_EVENT_BLOB		2
#define KMIG_EVENT_END		3

struct kmig_recv {
	__u32 size;		/* in: sizeof(struct kmig_recv) */
	__u32 flags;		/* in: must be 0 */
	__u64 blob_buf;		/* in: where a blob is copied */
	__u64 blob_buf_len;	/* in: its size */
	__u32 event;		/* out: KMIG_EVENT_* */
	__u32 round_flags;	/* out: ROUND: KMIG_REC_F_* */
	__u64 round;		/* out: ROUND: the round that ended */
	__u64 blob_tag;		/* out: BLOB: its tag */
	__u64 blob_len;		/* out: BLOB: its length (-ENOBUFS: needed) */
	__u64 pages;		/* out: data pages received so far */
	__u64 zero_pages;	/* out: zero pages received so far */
	__u64 bytes;		/* out: stream bytes received so far */
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_RECV_SIZE_VER0	112

/* KMIG_SESSION_GET_STATS, on a session fd. */
#define KMIG_STATE_IDLE		0	/* nothing on the wire yet */
#define KMIG_STATE_STREAMING	1	/* header done, rounds flowing */
#define KMIG_STATE_FINAL	2	/* send: final round done */
#define KMIG_STATE_ENDED	3	/* END sent or received */
#define KMIG_STATE_BROKEN	4	/* an error ended the session */

/* Why a session broke: error_reason in struct kmig_session_stats. */
enum kmig_stream_error {
	KMIG_ERR_NONE = 0,
	KMIG_ERR_SOCKET,	/* the socket failed; see error */
	KMIG_ERR_TRUNCATED,	/* the stream ended inside a record */
	KMIG_ERR_MAGIC,		/* stream header magic */
	KMIG_ERR_VERSION,	/* version outside the window or not agreed */
	KMIG_ERR_CAPS,		/* capabilities unknown or not agreed */
	KMIG_ERR_HEADER,	/* malformed stream header */
	KMIG_ERR_HEADER_CRC,	/* stream header checksum */
	KMIG_ERR_PAGE_SIZE,	/* page size differs */
	KMIG_ERR_LAYOUT,	/* regions differ from the memory objects */
	KMIG_ERR_TYPE,		/* unknown record type */
	KMIG_ERR_FLAGS,		/* reserved record bits set */
	KMIG_ERR_LENGTH,	/* bad count or length */
	KMIG_ERR_RANGE,		/* region or pages outside the layout */
	KMIG_ERR_CHECKSUM,	/* record checksum (or sequence) */
	KMIG_ERR_ORDER,		/* record not allowed here */
	KMIG_ERR_TOTALS,	/* ROUND or END totals disagree */
	KMIG_ERR_NOT_AGREED,	/* record needs a capability not agreed */
	KMIG_ERR_TOO_BIG,	/* blob larger than KMIG_BLOB_MAX */
};

struct kmig_session_stats {
	__u32 size;		/* in: sizeof(struct kmig_session_stats) */
	__u32 flags;		/* in: must be 0 */
	__u32 role;		/* out: KMIG_ROLE_* */
	__u32 proto;		/* out: protocol version in use */
	__u64 caps;		/* out: capabilities in use */
	__u32 state;		/* out: KMIG_STATE_* */
	__u32 round;		/* out: current round */
	__u64 bytes;		/* out: stream bytes sent or received */
	__u64 pages;		/* out: data pages */
	__u64 zero_pages;	/* out: zero pages */
	__u64 blobs;		/* out: blobs */
	__u64 records;		/* out: records, the stream header not counted */
	__u64 last_dirty;	/* out: send: dirty pages when the last round began */
	__u64 dirty_rate;	/* out: send: pages dirtied per second, last round */
	__u64 bandwidth;	/* out: bytes per second, last round */
	__u64 elapsed_ns;	/* out: since the first byte */
	__s32 error;		/* out: negative errno that broke the session */
	__u32 error_reason;	/* out: enum kmig_stream_error */
	__u64 error_offset;	/* out: stream offset of the offending record */
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_SESSION_STATS_SIZE_VER0	152

/*
 * The wire format (Documentation/wire-format.rst). All integers are
 * little-endian. A stream is one header, then records.
 */
#define KMIG_WIRE_MAGIC		0x47494d4bU	/* "KMIG" */

struct kmig_wire_header {
	__le32 magic;		/* KMIG_WIRE_MAGIC */
	__le16 version;		/* KMIG_PROTO_* of the records that follow */
	__le16 header_len;	/* 32 + 16 * nr_regions + 4 */
	__le64 caps;		/* KMIG_CAP_* in force */
	__le32 page_size;
	__le16 nr_regions;	/* 1..KMIG_MAX_REGIONS */
	__le16 flags;		/* 0 */
	__le64 reserved;	/* 0 */
	/* struct kmig_wire_region regions[nr_regions]; __le32 crc32c; */
};

struct kmig_wire_region {
	__le64 pages;		/* size of the region in pages */
	__le64 reserved;	/* 0 */
};

/* Record types, the same in every version. */
#define KMIG_REC_PAGES		1	/* count pages of data follow */
#define KMIG_REC_ZERO		2	/* count zero pages, no payload */
#define KMIG_REC_ROUND		3	/* end of round index */
#define KMIG_REC_BLOB		4	/* count bytes of blob follow */
#define KMIG_REC_END		5	/* struct kmig_wire_end follows */

#define KMIG_REC_F_FINAL	0x01	/* ROUND: sent with the guest paused */

/* Protocol 1: 24-byte record header. */
struct kmig_wire_rec_v1 {
	__le16 type;
	__le16 flags;
	__le32 region;		/* PAGES, ZERO: region; else 0 */
	__le64 index;		/* PAGES, ZERO: first page; ROUND: round; BLOB: tag */
	__le32 count;		/* PAGES, ZERO: pages; ROUND: pages in round; BLOB, END: bytes */
	__le32 check;		/* KMIG_CAP_CHECKSUM: crc32c; else 0 */
};

/*
 * Protocol 2: 16-byte record header; with KMIG_CAP_CHECKSUM a __le32
 * crc32c trailer follows the payload.
 */
struct kmig_wire_rec_v2 {
	__u8 type;
	__u8 flags;
	__le16 region;
	__le32 count;
	__le64 index;
};

/* END payload: what the sender sent, for the receiver to check. */
struct kmig_wire_end {
	__le64 records;		/* records before END */
	__le64 pages;		/* pages in PAGES records */
	__le64 zero_pages;	/* pages in ZERO records */
	__le64 blobs;
	__le64 rounds;
	__le64 bytes;		/* stream bytes before END */
};

/* Ioctls on /dev/kmig. */
#define KMIG_GET_INFO		_IO(KMIG_IOC_MAGIC, 0x00)
#define KMIG_MEM_CREATE		_IO(KMIG_IOC_MAGIC, 0x01)
#define KMIG_SESSION_CREATE	_IO(KMIG_IOC_MAGIC, 0x02)

/* Ioctls on a memory fd. */
#define KMIG_MEM_TRACK_START	_IO(KMIG_IOC_MAGIC, 0x20)
#define KMIG_MEM_TRACK_STOP	_IO(KMIG_IOC_MAGIC, 0x21)
#define KMIG_MEM_HARVEST	_IO(KMIG_IOC_MAGIC, 0x22)
#define KMIG_MEM_GET_STATS	_IO(KMIG_IOC_MAGIC, 0x23)
#define KMIG_MEM_MARK_DIRTY	_IO(KMIG_IOC_MAGIC, 0x24)

/* Ioctls on a session fd. */
#define KMIG_SESSION_SEND_ROUND	_IO(KMIG_IOC_MAGIC, 0x40)
#define KMIG_SESSION_SEND_BLOB	_IO(KMIG_IOC_MAGIC, 0x41)
#define KMIG_SESSION_SEND_END	_IO(KMIG_IOC_MAGIC, 0x42)
#define KMIG_SESSION_RECV	_IO(KMIG_IOC_MAGIC, 0x43)
#define KMIG_SESSION_GET_STATS	_IO(KMIG_IOC_MAGIC, 0x44)

#endif /* _UAPI_LINUX_KMIG_H */
