/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory objects: module-owned pages behind a memory fd that VMMs map
 * MAP_SHARED, with write-notify dirty tracking.
 */
#ifndef _KMIG_MEM_H
#define _KMIG_MEM_H

#include <linux/bitops.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/xarray.h>

#include "compat/compat.h"
#include "dirty.h"

/*
 * struct kmig_mem - one guest memory object, the i_private of its inode.
 *
 * Lifetime: an object belongs to exactly one inode and lives as long as that
 * inode can be reached. It is published in inode->i_private, once, fully
 * built (smp_store_release(), read with smp_load_acquire() by
 * kmig_mem_of()), and never changes or goes away while any file, mapping or
 * session can reach the inode: each of those holds a reference on a struct
 * file of the inode. It is freed when the inode dies:
 *  - an inode of KMIG_MEM_CREATE has no name and exactly one struct file,
 *    so the release of that file frees the object (in module code that still
 *    holds the module reference the file took);
 *  - an inode of a kmig filesystem (fs.c) gets its object from the first
 *    ftruncate() to a non-zero size, under the inode lock, and frees it in
 *    evict_inode, once it is unlinked and its last file and mapping are gone;
 *    the mount pins the module until then.
 *
 * Locking, outermost first:
 *
 * @lock (mutex) serializes the control operations: TRACK_START, TRACK_STOP
 * and HARVEST. Only its holder clears dirty bits or changes @tracking, so at
 * most one clearer ever runs on @dirty.
 *
 * The page lock of each page orders marking against re-arming, which is what
 * keeps writes from being lost:
 *  - page_mkwrite takes the page lock, sets the page's dirty bit and returns
 *    VM_FAULT_LOCKED, so the core installs the writable PTE before the page
 *    is unlocked;
 *  - a harvest locks the dirty pages of a batch in ascending index order,
 *    clears their bits and write-protects them, then unlocks.
 * Either page_mkwrite completes first (its PTE exists and is write-protected
 * by the harvest) or it runs after the harvest (its bit is set for the next
 * one). Nothing may touch user memory while holding page locks: the user
 * buffer could be this very object. In a KMIG_MEM_CREATE_LARGE object the
 * pages of one folio share the folio's lock; a harvest takes it once for
 * all its pages in the batch, still in ascending order.
 *
 * @pages is an xarray; its xa_lock serializes populating an index against a
 * harvest clearing the dirty bit of an index that has no page yet. Pages are
 * only added, never removed, until the object is freed.
 *
 * @populate_lock (mutex, innermost, KMIG_MEM_CREATE_LARGE only) serializes
 * populating folios: its holder reserves a folio's indices, then fills them
 * all under one xa_lock hold, or none if a single page got there first. No
 * one else removes a reservation, so the fill cannot fail half way, and a
 * reader never sees part of a folio that is then taken back.
 *
 * @owner is the session the object is attached to, or NULL; set and cleared
 * under @lock. While a send session owns the object, only the session
 * harvests it and tracking cannot stop.
 *
 * @tracking is written under @lock and read under the page lock in
 * page_mkwrite. A page_mkwrite racing with TRACK_STOP may leave a stale bit,
 * which the next TRACK_START resets; it may even set its bit during that
 * reset, which kmig_dirty_reset() allows for (dirty.c). TRACK_START sets @tracking before it
 * write-protects the pages under their page locks, so no page_mkwrite that
 * saw the old value can still be installing a writable PTE afterwards.
 *
 * @written has a bit per page that may hold non-zero bytes: set (atomic
 * set_bit) by page_mkwrite, which every first write through a mapping
 * passes, tracking or not, and by the receiver before it reads into a page;
 * never cleared. A page whose bit is clear is still the zeroed page it was
 * allocated as, so the sender need not read it to know it is zero, and a
 * ZERO record need not clear it.
 *
 * @memcg is the memory cgroup of the task that created the object (the
 * caller of KMIG_MEM_CREATE, or the task whose ftruncate() sized a kmigfs
 * file), referenced until the object is freed; pages and xarray nodes are
 * charged to it wherever they are allocated (fault, receive). NULL where the
 * kernel does not export what it takes (compat.h): then they are charged to
 * the allocating task.
 *
 * The statistics are atomics, read without locks.
 */
struct kmig_mem {
	struct address_space *mapping;	/* the shared one of every mapping */
	unsigned long npages;
	struct xarray pages;		/* index -> struct page * */
	struct mutex lock;
	struct mutex populate_lock;	/* see above */
	bool tracking;
	bool large;	/* KMIG_MEM_CREATE_LARGE or a "large" kmigfs; fixed */
	void *owner;
	struct mem_cgroup *memcg;	/* see above; fixed */
	struct kmig_dirty dirty;
	unsigned long *written;

	atomic_long_t populated;
	atomic_long_t large_folios;
	atomic64_t write_faults;
	atomic64_t harvests;
	atomic64_t rearmed;
	atomic64_t held;
	atomic64_t marked;
};

/* KMIG_MEM_CREATE_LARGE: folios of this order (64 KiB with 4 KiB pages). */
#define KMIG_LARGE_ORDER	4
#define KMIG_LARGE_PAGES	BIT(KMIG_LARGE_ORDER)

/* Pages harvested, locked and re-armed together. */
#define KMIG_BATCH	256

/* page[i] is the page at index[i], or NULL if that index has none yet. */
struct kmig_batch {
	unsigned int n;
	u64 index[KMIG_BATCH];
	struct page *page[KMIG_BATCH];
};

int kmig_mem_init(void);
void kmig_mem_exit(void);
int kmig_mem_create(u64 size, u32 flags);
struct kmig_mem *kmig_mem_new(u64 size, u32 flags);
void kmig_mem_publish(struct kmig_mem *mem, struct inode *inode);
void kmig_mem_free(struct kmig_mem *mem);
struct kmig_mem *kmig_mem_from_file(struct file *file);
ssize_t kmig_mem_read(struct kmig_mem *mem, loff_t pos, struct iov_iter *to);

/* File operations shared by memory fds and kmigfs files. */
int kmig_mem_mmap(struct file *file, struct vm_area_struct *vma);
long kmig_mem_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
void kmig_mem_show_fdinfo(struct seq_file *m, struct file *file);

/* fs.c: the kmig filesystem, guest memory by path */
int kmigfs_init(void);
void kmigfs_exit(void);
bool kmigfs_file(const struct file *file);
struct page *kmig_mem_get_page(struct kmig_mem *mem, pgoff_t index);
int kmig_mem_attach(struct kmig_mem *mem, void *owner, bool need_tracking);
void kmig_mem_detach(struct kmig_mem *mem, void *owner);

/* The object behind @inode, or NULL (a kmigfs file not sized yet). */
static inline struct kmig_mem *kmig_mem_of(struct inode *inode)
{
	/* Pairs with kmig_mem_publish(): an object seen here is built. */
	return smp_load_acquire(&inode->i_private);
}

/* track.c */
long kmig_mem_track_start(struct kmig_mem *mem, void __user *uarg);
long kmig_mem_track_stop(struct kmig_mem *mem, void __user *uarg);
long kmig_mem_harvest(struct kmig_mem *mem, void __user *uarg);
long kmig_mem_mark_dirty(struct kmig_mem *mem, void __user *uarg);
int kmig_mem_harvest_batch(struct kmig_mem *mem, u64 *pos, u64 end,
			   struct kmig_batch *b);
void kmig_mem_set_dirty(struct kmig_mem *mem, pgoff_t index);

/* May the page at @index hold non-zero bytes? See @written. */
static inline bool kmig_mem_written(const struct kmig_mem *mem, pgoff_t index)
{
	return test_bit(index, mem->written);
}

/* The first page at or after @from that may hold data, or @end. */
static inline pgoff_t kmig_mem_next_written(const struct kmig_mem *mem,
					    pgoff_t from, pgoff_t end)
{
	return find_next_bit(mem->written, end, from);
}

static inline void kmig_mem_set_written(struct kmig_mem *mem, pgoff_t index)
{
	if (!test_bit(index, mem->written))
		set_bit(index, mem->written);
}

int kmig_mem_rearm_method(void);

#endif /* _KMIG_MEM_H */
