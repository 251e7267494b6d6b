// SPDX-License-Identifier: GPL-2.0
/*
 * Guest memory objects.
 *
 * Each object belongs to one inode: an anon inode on kmig's own pseudo
 * filesystem (KMIG_MEM_CREATE), or a regular file of a kmig filesystem
 * (fs.c). Every mapping of it, in any process, shares that inode's
 * address_space: re-arming walks that mapping's VMAs by file offset.
 *
 * Pages are order-0, allocated on first fault and charged to the memory
 * cgroup of the object's creator where the kernel lets a module do that
 * (@memcg in mem.h), else to the task that faults them; with
 * KMIG_MEM_CREATE_LARGE they come in 64 KiB compound folios where the
 * allocator has them. They are ordinary refcounted pages (no VM_PFNMAP, no
 * VM_IO), so GUP works for KVM, vhost and O_DIRECT; a mapped page of a folio
 * holds a reference on its folio.
 * VM_DONTEXPAND stops mremap() from growing a mapping and, being in
 * VM_SPECIAL, keeps mlock() away from pages that are not on the LRU.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/fs_context.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "kmig.h"
#include "mem.h"

/* The internal pseudo filesystem of KMIG_MEM_CREATE's anon inodes. */
#define KMIG_PSEUDO_MAGIC	0x6b6d6967	/* "kmig" */

static struct vfsmount *kmig_mnt;

static int kmig_pseudo_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, KMIG_PSEUDO_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type kmig_pseudo_fs_type = {
	.name			= "kmig_mem",
	.init_fs_context	= kmig_pseudo_init_fs_context,
	.kill_sb		= kill_anon_super,
};

#define KMIG_GFP_PAGE	(GFP_HIGHUSER | __GFP_ZERO | __GFP_ACCOUNT)

/*
 * KMIG_MEM_CREATE_LARGE: populate the aligned folio-sized stretch around
 * @index with one folio, if the allocator has one at once and no index of the
 * stretch is populated yet (see @populate_lock in mem.h). Returns the page at
 * @index, or NULL for the single-page path to decide.
 */
static struct page *kmig_mem_populate_large(struct kmig_mem *mem,
					    pgoff_t index)
{
	pgoff_t first = round_down(index, KMIG_LARGE_PAGES), i;
	struct page *head, *page = NULL;

	if (first + KMIG_LARGE_PAGES > mem->npages)
		return NULL;
	head = alloc_pages(KMIG_GFP_PAGE | __GFP_COMP | __GFP_NORETRY |
			   __GFP_NOWARN, KMIG_LARGE_ORDER);
	if (!head)
		return NULL;

	mutex_lock(&mem->populate_lock);
	for (i = 0; i < KMIG_LARGE_PAGES; i++)
		if (xa_reserve(&mem->pages, first + i, GFP_KERNEL_ACCOUNT))
			goto out_release;

	xa_lock(&mem->pages);
	for (i = 0; i < KMIG_LARGE_PAGES; i++)
		if (xa_load(&mem->pages, first + i))
			break;
	if (i == KMIG_LARGE_PAGES) {
		/* Reserved slots: storing allocates nothing, cannot fail. */
		for (i = 0; i < KMIG_LARGE_PAGES; i++)
			__xa_store(&mem->pages, first + i, nth_page(head, i), 0);
		page = nth_page(head, index - first);
	}
	xa_unlock(&mem->pages);
	if (page) {
		mutex_unlock(&mem->populate_lock);
		atomic_long_add(KMIG_LARGE_PAGES, &mem->populated);
		atomic_long_inc(&mem->large_folios);
		return page;
	}

	/* A single page of the stretch came first: give the folio back. */
	i = KMIG_LARGE_PAGES;
out_release:
	while (i--)
		xa_release(&mem->pages, first + i);
	mutex_unlock(&mem->populate_lock);
	__free_pages(head, KMIG_LARGE_ORDER);
	return xa_load(&mem->pages, index);
}

static struct page *kmig_mem_populate(struct kmig_mem *mem, pgoff_t index)
{
	struct page *page, *old;

	if (mem->large) {
		page = kmig_mem_populate_large(mem, index);
		if (page)
			return page;
	}

	page = alloc_page(KMIG_GFP_PAGE);
	if (!page)
		return NULL;

	old = xa_cmpxchg(&mem->pages, index, NULL, page, GFP_KERNEL_ACCOUNT);
	if (xa_is_err(old)) {
		__free_page(page);
		return NULL;
	}
	if (old) {
		/* Another fault populated it first. */
		__free_page(page);
		return old;
	}
	atomic_long_inc(&mem->populated);
	return page;
}

/*
 * Return the page at @index, allocating it (or its folio) if needed, charged
 * to the creator's memcg (@memcg in mem.h). No reference is taken: pages
 * live as long as the object.
 */
struct page *kmig_mem_get_page(struct kmig_mem *mem, pgoff_t index)
{
	struct mem_cgroup *old_memcg;
	struct page *page;

	page = xa_load(&mem->pages, index);
	if (page)
		return page;
	if (!mem->memcg)
		return kmig_mem_populate(mem, index);
	old_memcg = kmig_compat_set_active_memcg(mem->memcg);
	page = kmig_mem_populate(mem, index);
	kmig_compat_set_active_memcg(old_memcg);
	return page;
}

/*
 * Copy the object's bytes from @pos on into @to: zeros for a page that was
 * never populated, which stays unpopulated. Returns the bytes copied, 0 at
 * the end, or -EFAULT if the first copy faulted.
 */
ssize_t kmig_mem_read(struct kmig_mem *mem, loff_t pos, struct iov_iter *to)
{
	u64 size = (u64)mem->npages << PAGE_SHIFT;
	ssize_t done = 0;

	while (pos >= 0 && pos < size && iov_iter_count(to)) {
		size_t off = offset_in_page(pos), len = PAGE_SIZE - off, n;
		struct page *page;

		/* Pages are never removed while a file of the object is open. */
		page = xa_load(&mem->pages, pos >> PAGE_SHIFT);
		if (page)
			n = copy_page_to_iter(page, off, len, to);
		else
			n = iov_iter_zero(len, to);
		done += n;
		pos += n;
		if (n < len && iov_iter_count(to))
			return done ? done : -EFAULT;
		if (fatal_signal_pending(current))
			break;
		cond_resched();
	}
	return done;
}

/* A mapping exists only once its object does (kmig_mem_mmap()). */
static struct kmig_mem *kmig_vma_mem(struct vm_area_struct *vma)
{
	return kmig_mem_of(file_inode(vma->vm_file));
}

static vm_fault_t kmig_mem_fault(struct vm_fault *vmf)
{
	struct kmig_mem *mem = kmig_vma_mem(vmf->vma);
	struct page *page;

	if (vmf->pgoff >= mem->npages)
		return VM_FAULT_SIGBUS;

	page = kmig_mem_get_page(mem, vmf->pgoff);
	if (!page)
		return VM_FAULT_OOM;

	get_page(page);
	vmf->page = page;
	return 0;
}

/*
 * The first write to a page after it was mapped or re-armed. See the locking
 * rules above struct kmig_mem: the page stays locked until the core has
 * installed the writable PTE.
 */
static vm_fault_t kmig_mem_page_mkwrite(struct vm_fault *vmf)
{
	struct kmig_mem *mem = kmig_vma_mem(vmf->vma);

	lock_page(vmf->page);
	kmig_mem_set_written(mem, vmf->pgoff);
	if (READ_ONCE(mem->tracking)) {
		kmig_debug_race_delay();
		kmig_mem_set_dirty(mem, vmf->pgoff);
		atomic64_inc(&mem->write_faults);
	}
	return VM_FAULT_LOCKED;
}

/*
 * mprotect() that adds write access makes a shared mapping's dirty PTEs
 * writable with no fault (change_protection() with
 * MM_CP_TRY_CHANGE_WRITABLE), and a write-protect re-arm leaves the PTEs
 * dirty. So zap the range first, under the mmap lock mprotect() holds for
 * writing: the next access faults the page in again read-only, and the first
 * write calls page_mkwrite. Other mappings of the object refault too, which
 * is harmless; mprotect() of guest memory is rare.
 */
static int kmig_mem_mprotect(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, unsigned long newflags)
{
	struct kmig_mem *mem = kmig_vma_mem(vma);

	if ((newflags & VM_WRITE) && !(vma->vm_flags & VM_WRITE))
		unmap_mapping_pages(mem->mapping, linear_page_index(vma, start),
				    (end - start) >> PAGE_SHIFT, false);
	return 0;
}

static const struct vm_operations_struct kmig_mem_vm_ops = {
	.fault		= kmig_mem_fault,
	.page_mkwrite	= kmig_mem_page_mkwrite,
	.mprotect	= kmig_mem_mprotect,
};

/*
 * mmap() of a memory fd or a kmigfs file. A kmigfs file without an object
 * (not sized yet) has no byte to map: -EINVAL, as for a range beyond the end.
 */
int kmig_mem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct kmig_mem *mem = kmig_mem_of(file_inode(file));
	unsigned long pages = vma_pages(vma);

	/* A private mapping would copy on write behind the tracking's back. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	/* Guest RAM is data to the host; refuse to make it executable. */
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (!mem)
		return -EINVAL;
	if (vma->vm_pgoff >= mem->npages || pages > mem->npages - vma->vm_pgoff)
		return -EINVAL;

	vm_flags_clear(vma, VM_MAYEXEC);
	vm_flags_set(vma, VM_DONTEXPAND);
	vma->vm_ops = &kmig_mem_vm_ops;
	return 0;
}

static long kmig_mem_get_stats(struct kmig_mem *mem, void __user *uarg)
{
	struct kmig_mem_stats st;
	int ret;

	ret = kmig_copy_args(&st, sizeof(st), KMIG_MEM_STATS_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (st.flags || !kmig_all_zero(st.reserved, sizeof(st.reserved)))
		return -EINVAL;

	st.pages = mem->npages;
	st.populated_pages = atomic_long_read(&mem->populated);
	st.tracking = READ_ONCE(mem->tracking);
	st.dirty_pages = st.tracking ? kmig_dirty_count(&mem->dirty) : 0;
	st.write_faults = atomic64_read(&mem->write_faults);
	st.harvests = atomic64_read(&mem->harvests);
	st.rearmed_pages = atomic64_read(&mem->rearmed);
	st.rearm_method = kmig_mem_rearm_method();
	st.large_folios = atomic_long_read(&mem->large_folios);
	st.held_pages = atomic64_read(&mem->held);
	st.marked_pages = atomic64_read(&mem->marked);

	return kmig_copy_args_out(uarg, &st, sizeof(st));
}

/*
 * Ioctls of a memory fd or a kmigfs file. -ENODATA before a kmigfs file has
 * an object. Everything but GET_STATS changes the object or what a migration
 * sends from it, so it takes an fd open for writing (-EBADF otherwise, as for
 * write(2)): a reader of a kmigfs file must not steal a migration's dirty
 * bits. A memory fd is always open for writing.
 */
long kmig_mem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kmig_mem *mem = kmig_mem_of(file_inode(file));
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KMIG_MEM_GET_STATS:
		break;
	case KMIG_MEM_TRACK_START:
	case KMIG_MEM_TRACK_STOP:
	case KMIG_MEM_HARVEST:
	case KMIG_MEM_MARK_DIRTY:
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		break;
	default:
		return -ENOIOCTLCMD;
	}
	if (!mem)
		return -ENODATA;

	switch (cmd) {
	case KMIG_MEM_TRACK_START:
		return kmig_mem_track_start(mem, uarg);
	case KMIG_MEM_TRACK_STOP:
		return kmig_mem_track_stop(mem, uarg);
	case KMIG_MEM_HARVEST:
		return kmig_mem_harvest(mem, uarg);
	case KMIG_MEM_GET_STATS:
		return kmig_mem_get_stats(mem, uarg);
	case KMIG_MEM_MARK_DIRTY:
		return kmig_mem_mark_dirty(mem, uarg);
	default:
		return -ENOIOCTLCMD;
	}
}

/* Free an object nothing can reach any more (see Lifetime in mem.h). */
void kmig_mem_free(struct kmig_mem *mem)
{
	unsigned long index, next = 0;
	struct page *page;

	/*
	 * The object holds one reference per folio. A large folio's head sits
	 * at the first of its indices; once it is put the folio may be gone,
	 * so its other indices are skipped by number, not by looking.
	 */
	xa_for_each(&mem->pages, index, page) {
		if (index < next)
			continue;
		next = index + compound_nr(page);
		put_page(page);
	}
	xa_destroy(&mem->pages);
	kmig_dirty_free(&mem->dirty);
	kvfree(mem->written);
	if (mem->memcg)
		kmig_compat_memcg_put(mem->memcg);
	kfree(mem);
}

/*
 * The last reference to the only file of a KMIG_MEM_CREATE inode is gone: no
 * mapping, no fd, no session, no ioctl in flight; nothing can reach the
 * inode again.
 */
static int kmig_mem_release(struct inode *inode, struct file *file)
{
	kmig_mem_free(kmig_mem_of(inode));
	return 0;
}

/*
 * /proc/PID/fdinfo/FD: the object's pages are on no LRU and in no process's
 * RSS, so this is where an operator sees them (Documentation/admin-guide.rst).
 * Read without locks: each figure is a snapshot of its own. A kmigfs file
 * not sized yet has no object and shows no kmig- lines.
 */
void kmig_mem_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kmig_mem *mem = kmig_mem_of(file_inode(file));
	bool tracking;
	long populated;

	if (!mem)
		return;
	tracking = READ_ONCE(mem->tracking);
	populated = atomic_long_read(&mem->populated);

	seq_printf(m, "kmig-size:\t%llu\n", (u64)mem->npages << PAGE_SHIFT);
	seq_printf(m, "kmig-populated:\t%ld\n", populated);
	seq_printf(m, "kmig-populated-kb:\t%ld\n", populated << (PAGE_SHIFT - 10));
	seq_printf(m, "kmig-large-folios:\t%ld\n",
		   atomic_long_read(&mem->large_folios));
	seq_printf(m, "kmig-tracking:\t%d\n", tracking);
	seq_printf(m, "kmig-dirty:\t%lu\n",
		   tracking ? kmig_dirty_count(&mem->dirty) : 0);
	seq_printf(m, "kmig-sessions:\t%d\n", !!READ_ONCE(mem->owner));
}

static const struct file_operations kmig_mem_fops = {
	.owner		= THIS_MODULE,
	.show_fdinfo	= kmig_mem_show_fdinfo,
	.release	= kmig_mem_release,
	.mmap		= kmig_mem_mmap,
	.unlocked_ioctl	= kmig_mem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

/*
 * The memory object behind @file, a memory fd or a kmigfs file open for
 * writing: ERR_PTR(-EINVAL) for any other file, -EBADF for a kmigfs file
 * open read-only, -ENODATA for one not sized yet.
 */
struct kmig_mem *kmig_mem_from_file(struct file *file)
{
	struct kmig_mem *mem;

	if (file->f_op != &kmig_mem_fops && !kmigfs_file(file))
		return ERR_PTR(-EINVAL);
	if (!(file->f_mode & FMODE_WRITE))
		return ERR_PTR(-EBADF);
	mem = kmig_mem_of(file_inode(file));
	return mem ?: ERR_PTR(-ENODATA);
}

/*
 * Give a session exclusive use of @mem: -EBUSY if another session has it;
 * -EINVAL if @need_tracking and tracking is off.
 */
int kmig_mem_attach(struct kmig_mem *mem, void *owner, bool need_tracking)
{
	int ret = 0;

	mutex_lock(&mem->lock);
	if (mem->owner)
		ret = -EBUSY;
	else if (need_tracking && !mem->tracking)
		ret = -EINVAL;
	else
		mem->owner = owner;
	mutex_unlock(&mem->lock);
	return ret;
}

void kmig_mem_detach(struct kmig_mem *mem, void *owner)
{
	mutex_lock(&mem->lock);
	if (mem->owner == owner)
		mem->owner = NULL;
	mutex_unlock(&mem->lock);
}

/*
 * A new object of @size bytes (KMIG_MEM_CREATE_* @flags), for the current
 * task as its creator; not published yet. -EINVAL if @size is 0 or not page
 * aligned, -EFBIG above max_mem_mb, -ENOMEM.
 */
struct kmig_mem *kmig_mem_new(u64 size, u32 flags)
{
	struct kmig_mem *mem;
	int ret;

	if (!size || !PAGE_ALIGNED(size))
		return ERR_PTR(-EINVAL);
	if (size > kmig_max_mem_size())
		return ERR_PTR(-EFBIG);

	mem = kzalloc(sizeof(*mem), GFP_KERNEL_ACCOUNT);
	if (!mem)
		return ERR_PTR(-ENOMEM);
	mem->npages = size >> PAGE_SHIFT;
	mem->large = flags & KMIG_MEM_CREATE_LARGE;
	xa_init(&mem->pages);
	mutex_init(&mem->lock);
	mutex_init(&mem->populate_lock);

	/* sized by the user: a failure is an errno, not a warning */
	mem->written = kvcalloc(BITS_TO_LONGS(mem->npages), sizeof(long),
				GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!mem->written) {
		ret = -ENOMEM;
		goto out_free_mem;
	}
	ret = kmig_dirty_init(&mem->dirty, mem->npages);
	if (ret)
		goto out_free_written;
	mem->memcg = kmig_compat_memcg_get();
	return mem;

out_free_written:
	kvfree(mem->written);
out_free_mem:
	kfree(mem);
	return ERR_PTR(ret);
}

/*
 * Make @mem the object of @inode, which has none yet (its size is 0): from
 * here on kmig_mem_of() finds it, fully built. Called before the inode has
 * a file, or under its inode lock (a kmigfs ftruncate()).
 */
void kmig_mem_publish(struct kmig_mem *mem, struct inode *inode)
{
	mem->mapping = inode->i_mapping;
	i_size_write(inode, (loff_t)mem->npages << PAGE_SHIFT);
	/* Pairs with kmig_mem_of(): whoever sees @mem sees it built. */
	smp_store_release(&inode->i_private, mem);
}

int kmig_mem_create(u64 size, u32 flags)
{
	struct kmig_mem *mem;
	struct inode *inode;
	struct file *file;
	int fd, ret;

	mem = kmig_mem_new(size, flags);
	if (IS_ERR(mem))
		return PTR_ERR(mem);

	inode = alloc_anon_inode(kmig_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto out_free_mem;
	}
	kmig_mem_publish(mem, inode);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_inode;
	}

	/* The file's release drops this, as for anon_inode_getfile(). */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, kmig_mnt, "kmig-mem", O_RDWR,
				 &kmig_mem_fops);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_module;
	}
	fd_install(fd, file);
	return fd;

out_put_module:
	module_put(THIS_MODULE);
	put_unused_fd(fd);
out_put_inode:
	iput(inode);
out_free_mem:
	kmig_mem_free(mem);
	return ret;
}

int kmig_mem_init(void)
{
	kmig_mnt = kern_mount(&kmig_pseudo_fs_type);
	return PTR_ERR_OR_ZERO(kmig_mnt);
}

void kmig_mem_exit(void)
{
	kern_unmount(kmig_mnt);
}
