/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where kmig adapts to the kernel it is built against. Core
 * files include this header and never test kernel versions. Every switch here
 * is driven by a feature probe (compat/probe.sh -> kmig_probes.h).
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include "kmig_probes.h"

#ifndef KMIG_HAVE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/*
 * Re-arming write protection: wp_shared_mapping_range() write-protects the
 * PTEs of a file range in every mapping and keeps read access, with one TLB
 * flush per call. Without CONFIG_MAPPING_DIRTY_HELPERS, zap the PTEs with
 * unmap_mapping_pages(): the next access faults the page back in read-only.
 */
#ifdef KMIG_HAVE_WP_SHARED_MAPPING_RANGE
#define KMIG_COMPAT_HAVE_WP	true
static inline void kmig_compat_wp_range(struct address_space *mapping,
					pgoff_t first, pgoff_t nr)
{
	wp_shared_mapping_range(mapping, first, nr);
}
#else
#define KMIG_COMPAT_HAVE_WP	false
static inline void kmig_compat_wp_range(struct address_space *mapping,
					pgoff_t first, pgoff_t nr)
{
	WARN_ON_ONCE(1);
}
#endif

/*
 * PTE mappings of all the pages of @folio (kmig never maps a folio with a
 * PMD). On 6.1 folio_mapcount() is not exported, page_mapcount() is.
 */
static inline int kmig_compat_folio_mapcount(struct folio *folio)
{
	long i, n = folio_nr_pages(folio);
	int sum = 0;

	for (i = 0; i < n; i++)
		sum += page_mapcount(folio_page(folio, i));
	return sum;
}

#ifndef MSG_SENDPAGE_NOTLAST
#define MSG_SENDPAGE_NOTLAST	0
#endif

/*
 * Zero-copy send of part of a page. kernel_sendpage() while it exists; once
 * sendpage is gone (6.5), MSG_SPLICE_PAGES with a bvec iterator. Debian's 6.1
 * defines MSG_SPLICE_PAGES without the TCP support behind it, so the probe
 * for kernel_sendpage() decides first. Returns bytes sent or -errno.
 */
#define KMIG_SEND_MORE	(MSG_MORE | MSG_SENDPAGE_NOTLAST)

static inline int kmig_compat_sendpage(struct socket *sock, struct page *page,
				       unsigned int offset, size_t len,
				       int flags)
{
#if defined(KMIG_HAVE_KERNEL_SENDPAGE)
	return kernel_sendpage(sock, page, offset, len, flags);
#elif defined(KMIG_HAVE_MSG_SPLICE_PAGES)
	struct bio_vec bvec;
	struct msghdr msg = { .msg_flags = flags | MSG_SPLICE_PAGES };

	bvec_set_page(&bvec, page, len, offset);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bvec, 1, len);
	return sock_sendmsg(sock, &msg);
#else
	struct kvec iov;
	struct msghdr msg = { .msg_flags = flags };
	int ret;

	iov.iov_base = kmap_local_page(page) + offset;
	iov.iov_len = len;
	ret = kernel_sendmsg(sock, &msg, &iov, 1, len);
	kunmap_local(iov.iov_base);
	return ret;
#endif
}

/*
 * The same under the socket lock the caller holds, where the socket can
 * (TCP until 6.4: sendpage_locked).
 */
#ifdef KMIG_HAVE_KERNEL_SENDPAGE_LOCKED
static inline bool kmig_compat_has_sendpage_locked(struct socket *sock)
{
	return sock->ops->sendpage_locked;
}

static inline int kmig_compat_sendpage_locked(struct socket *sock,
					      struct page *page,
					      unsigned int offset, size_t len,
					      int flags)
{
	return kernel_sendpage_locked(sock->sk, page, offset, len, flags);
}
#else
static inline bool kmig_compat_has_sendpage_locked(struct socket *sock)
{
	return false;
}

static inline int kmig_compat_sendpage_locked(struct socket *sock,
					      struct page *page,
					      unsigned int offset, size_t len,
					      int flags)
{
	return -EOPNOTSUPP;
}
#endif

/*
 * Where a run's pages lie in one folio (KMIG_MEM_CREATE_LARGE), they go to
 * the socket as one fragment of the folio. Returns the end of the segment
 * that starts at pages[i].
 */
static inline unsigned int kmig_compat_segment_end(struct page **pages,
						   unsigned int i,
						   unsigned int nr)
{
	struct folio *folio = page_folio(pages[i]);
	unsigned int j;

	if (IS_ENABLED(CONFIG_HIGHMEM) || !folio_test_large(folio))
		return i + 1;
	for (j = i + 1; j < nr; j++)
		if (pages[j] != nth_page(pages[i], j - i) ||
		    page_folio(pages[j]) != folio)
			break;
	return j;
}

/*
 * Zero-copy send of a run of @nr pages, the first from @offset on, in one
 * call: every segment but the last goes with KMIG_SEND_MORE, the last with
 * @flags. Where the socket has sendpage_locked, the socket lock is taken
 * once for the run instead of once per segment, and the backlog (ACKs) is
 * processed every KMIG_SEND_FLUSH pages, as tcp_sendmsg() does every few
 * segments; the socket's own waits for memory release the lock. Returns
 * bytes sent, which may be short, or -errno if nothing was sent.
 */
#define KMIG_SEND_FLUSH	16

static inline int kmig_compat_send_pages(struct socket *sock,
					 struct page **pages, unsigned int nr,
					 unsigned int offset, int flags)
{
	bool locked = kmig_compat_has_sendpage_locked(sock);
	unsigned int i, j, flushed = 0;
	int sent = 0, ret = 0;

	if (locked)
		lock_sock(sock->sk);
	for (i = 0; i < nr; i = j) {
		struct folio *folio = page_folio(pages[i]);
		struct page *head = folio_page(folio, 0);
		unsigned int off;
		size_t len;
		int fl;

		j = kmig_compat_segment_end(pages, i, nr);
		off = (pages[i] - head) * PAGE_SIZE + offset;
		len = (j - i) * PAGE_SIZE - offset;
		fl = j < nr ? flags | KMIG_SEND_MORE : flags;
		if (!locked) {
			ret = kmig_compat_sendpage(sock, head, off, len, fl);
		} else {
			if (i - flushed >= KMIG_SEND_FLUSH) {
				sk_flush_backlog(sock->sk);
				flushed = i;
			}
			ret = kmig_compat_sendpage_locked(sock, head, off, len,
							  fl);
		}
		if (ret <= 0)
			break;
		sent += ret;
		if (ret < len)
			break;
		offset = 0;
	}
	if (locked)
		release_sock(sock->sk);
	return sent ? sent : ret;
}

/*
 * The idmap argument of the inode operations kmigfs implements: a struct
 * mnt_idmap from 6.3 on, a struct user_namespace before. Only passed on.
 */
#ifdef KMIG_HAVE_MNT_IDMAP
#define kmig_idmap	mnt_idmap
#else
#define kmig_idmap	user_namespace
#endif

/* Inode timestamps: behind accessors from 6.7 on. */
#ifdef KMIG_HAVE_SIMPLE_INODE_INIT_TS
static inline void kmig_compat_inode_init_ts(struct inode *inode)
{
	simple_inode_init_ts(inode);
}

static inline void kmig_compat_dir_changed(struct inode *dir)
{
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
}
#else
static inline void kmig_compat_inode_init_ts(struct inode *inode)
{
	inode->i_atime = current_time(inode);
	inode->i_mtime = inode->i_atime;
	inode->i_ctime = inode->i_atime;
}

static inline void kmig_compat_dir_changed(struct inode *dir)
{
	dir->i_mtime = current_time(dir);
	dir->i_ctime = dir->i_mtime;
}
#endif

/*
 * Charging an object's pages to the memory cgroup of its creator, as BPF
 * maps do: take a reference on the creator's memcg and allocate under
 * set_active_memcg(). Without the exports (no CONFIG_MEMCG) there is no
 * memcg to remember, and pages go to the allocating task as before.
 */
#if defined(KMIG_HAVE_GET_MEM_CGROUP_FROM_MM) && \
	defined(KMIG_HAVE_INT_ACTIVE_MEMCG)
#define KMIG_COMPAT_HAVE_REMOTE_MEMCG	true
static inline struct mem_cgroup *kmig_compat_memcg_get(void)
{
	return get_mem_cgroup_from_mm(current->mm);
}

static inline void kmig_compat_memcg_put(struct mem_cgroup *memcg)
{
	mem_cgroup_put(memcg);
}

static inline struct mem_cgroup *
kmig_compat_set_active_memcg(struct mem_cgroup *memcg)
{
	return set_active_memcg(memcg);
}
#else
#define KMIG_COMPAT_HAVE_REMOTE_MEMCG	false
static inline struct mem_cgroup *kmig_compat_memcg_get(void)
{
	return NULL;
}

static inline void kmig_compat_memcg_put(struct mem_cgroup *memcg)
{
}

static inline struct mem_cgroup *
kmig_compat_set_active_memcg(struct mem_cgroup *memcg)
{
	return NULL;
}
#endif

#endif /* _KMIG_COMPAT_H */
