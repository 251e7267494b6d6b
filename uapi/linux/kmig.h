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

#define KMIG_IOC_MAGIC		0xB9

/*
 * KMIG_GET_INFO, on /dev/kmig: describe the module.
 */
struct kmig_info {
	__u32 size;		/* in: sizeof(struct kmig_info) */
	__u32 flags;		/* in: must be 0 */
	__u32 module_version;	/* out: KMIG_VERSION(major, minor, patch) */
	__u32 page_size;	/* out: bytes per guest page */
	__u32 proto_min;	/* out: lowest wire protocol spoken */
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
 */
struct kmig_mem_create {
	__u32 size;		/* in: sizeof(struct kmig_mem_create) */
	__u32 flags;		/* in: must be 0 */
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
	__u64 reserved[4];	/* must be 0 */
};

#define KMIG_MEM_STATS_SIZE_VER0	96

#define KMIG_REARM_WP		1	/* wp_shared_mapping_range() */
#define KMIG_REARM_UNMAP	2	/* unmap_mapping_pages() */

/* Ioctls on /dev/kmig. */
#define KMIG_GET_INFO		_IO(KMIG_IOC_MAGIC, 0x00)
#define KMIG_MEM_CREATE		_IO(KMIG_IOC_MAGIC, 0x01)

/* Ioctls on a memory fd. */
#define KMIG_MEM_TRACK_START	_IO(KMIG_IOC_MAGIC, 0x20)
#define KMIG_MEM_TRACK_STOP	_IO(KMIG_IOC_MAGIC, 0x21)
#define KMIG_MEM_HARVEST	_IO(KMIG_IOC_MAGIC, 0x22)
#define KMIG_MEM_GET_STATS	_IO(KMIG_IOC_MAGIC, 0x23)

#endif /* _UAPI_LINUX_KMIG_H */
