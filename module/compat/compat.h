/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where kmig adapts to the kernel it is built against. Core
 * files include this header and never test kernel versions. Every switch here
 * is driven by a feature probe (compat/probe.sh -> kmig_probes.h).
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
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

#ifndef MSG_SENDPAGE_NOTLAST
#define MSG_SENDPAGE_NOTLAST	0
#endif

#endif /* _KMIG_COMPAT_H */
