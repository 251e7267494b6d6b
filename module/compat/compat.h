/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one place where kmig adapts to the kernel it is built against. Core
 * files include this header and never test kernel versions. Every switch here
 * is driven by a feature probe (compat/probe.sh -> kmig_probes.h).
 */
#ifndef _KMIG_COMPAT_H
#define _KMIG_COMPAT_H

#include <linux/mm.h>
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

#endif /* _KMIG_COMPAT_H */
