// SPDX-License-Identifier: GPL-2.0
/*
 * The kmig filesystem: guest memory any VMM can open by path.
 *
 *   mount -t kmig -o mode=0770,gid=kvm,size=64G none /run/kmig
 *
 * A flat directory of regular files, in the manner of hugetlbfs. A new file
 * has size 0 and no memory object; the first ftruncate() to a non-zero
 * size creates one (kmig_mem_new(), as KMIG_MEM_CREATE does, with
 * KMIG_MEM_CREATE_LARGE on a mount with the "large" option) and publishes it
 * in the inode (Lifetime above struct kmig_mem in mem.h). Its size, and
 * whether it is large, never change after that. Every open of the file, in
 * any process, shares the inode and so its address_space: mmap, fault,
 * write-notify tracking and the memory-fd ioctls are those of mem.c.
 * Documentation/userspace-api.rst has every operation and its errno.
 *
 * Locking: the inode lock (held by the VFS around ->setattr) serializes
 * sizing a file. @lock of struct kmigfs_sb_info protects its counters; nothing
 * is taken inside it.
 */
#include <linux/ctype.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/statfs.h>
#include <linux/uio.h>

#include "kmig.h"
#include "mem.h"

/* Mount options, parsed into the fs_context. */
struct kmigfs_opts {
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
	u64 max_pages;		/* size=, in pages; 0: no limit */
	u64 max_inodes;		/* nr_inodes=; 0: no limit */
	bool large;		/* large / nolarge */
	unsigned int seen;	/* BIT(KMIGFS_OPT_*) of the options given */
};

/*
 * struct kmigfs_sb_info - one mount's limits and usage, its s_fs_info.
 *
 * @lock (spinlock) protects @max_pages, @used_pages, @max_inodes and
 * @used_inodes, and serializes writers of @large (remount), which readers
 * read with READ_ONCE(): each file's sizing sees one value or the other.
 * @used_pages is the sum of the sizes of the files whose inode is alive,
 * reserved before an object is created and given back when its inode is
 * evicted; @used_inodes counts the inodes alive, the root included.
 * @large (mount option "large"): files sized from now on get
 * KMIG_MEM_CREATE_LARGE objects.
 * @mode, @uid and @gid are the root directory's, for show_options; fixed.
 */
struct kmigfs_sb_info {
	spinlock_t lock;	/* see above */
	u64 max_pages;
	u64 used_pages;
	u64 max_inodes;
	u64 used_inodes;
	bool large;
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
};

#define KMIGFS_DEFAULT_MODE	(0777 | S_ISVTX)	/* as tmpfs */

static const struct super_operations kmigfs_sops;
static const struct inode_operations kmigfs_dir_iops;
static const struct inode_operations kmigfs_file_iops;
static const struct file_operations kmigfs_file_fops;

static struct kmigfs_sb_info *kmigfs_sbi(struct super_block *sb)
{
	return sb->s_fs_info;
}

static bool kmigfs_reserve(u64 *used, u64 max, u64 n)
{
	if (max && (n > max || *used > max - n))
		return false;
	*used += n;
	return true;
}

static bool kmigfs_reserve_pages(struct kmigfs_sb_info *sbi, u64 pages)
{
	bool ok;

	spin_lock(&sbi->lock);
	ok = kmigfs_reserve(&sbi->used_pages, sbi->max_pages, pages);
	spin_unlock(&sbi->lock);
	return ok;
}

static void kmigfs_unreserve_pages(struct kmigfs_sb_info *sbi, u64 pages)
{
	spin_lock(&sbi->lock);
	sbi->used_pages -= pages;
	spin_unlock(&sbi->lock);
}

/* A new inode of type @mode (S_IFREG or S_IFDIR); the caller sets owner. */
static struct inode *kmigfs_new_inode(struct super_block *sb, umode_t mode)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(sb);
	struct inode *inode;
	bool ok;

	spin_lock(&sbi->lock);
	ok = kmigfs_reserve(&sbi->used_inodes, sbi->max_inodes, 1);
	spin_unlock(&sbi->lock);
	if (!ok)
		return ERR_PTR(-ENOSPC);

	inode = new_inode(sb);
	if (!inode) {
		spin_lock(&sbi->lock);
		sbi->used_inodes--;
		spin_unlock(&sbi->lock);
		return ERR_PTR(-ENOMEM);
	}
	inode->i_ino = get_next_ino();
	inode->i_mode = mode;
	kmig_compat_inode_init_ts(inode);
	if (S_ISDIR(mode)) {
		inode->i_op = &kmigfs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* "." */
	} else {
		inode->i_op = &kmigfs_file_iops;
		inode->i_fop = &kmigfs_file_fops;
	}
	return inode;
}

/*
 * An inode dies: its last link, file and mapping are gone (or the mount
 * goes away). Its object, if it has one, goes with it, and so does the space
 * it held in the mount.
 */
static void kmigfs_evict_inode(struct inode *inode)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(inode->i_sb);
	struct kmig_mem *mem = S_ISREG(inode->i_mode) ? inode->i_private : NULL;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	spin_lock(&sbi->lock);
	if (mem)
		sbi->used_pages -= mem->npages;
	sbi->used_inodes--;
	spin_unlock(&sbi->lock);
	if (mem)
		kmig_mem_free(mem);
}

static int kmigfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(dentry->d_sb);

	buf->f_type = KMIGFS_MAGIC;
	buf->f_bsize = PAGE_SIZE;
	buf->f_namelen = NAME_MAX;
	spin_lock(&sbi->lock);
	if (sbi->max_pages) {
		buf->f_blocks = sbi->max_pages;
		buf->f_bfree = sbi->max_pages - sbi->used_pages;
		buf->f_bavail = buf->f_bfree;
	}
	if (sbi->max_inodes) {
		buf->f_files = sbi->max_inodes;
		buf->f_ffree = sbi->max_inodes - sbi->used_inodes;
	}
	spin_unlock(&sbi->lock);
	return 0;
}

/* The options that differ from the defaults, as mount(8) takes them. */
static int kmigfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(root->d_sb);
	u64 max_pages, max_inodes;

	spin_lock(&sbi->lock);
	max_pages = sbi->max_pages;
	max_inodes = sbi->max_inodes;
	spin_unlock(&sbi->lock);

	if (sbi->mode != KMIGFS_DEFAULT_MODE)
		seq_printf(m, ",mode=%04o", sbi->mode);
	if (!uid_eq(sbi->uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u", from_kuid_munged(&init_user_ns, sbi->uid));
	if (!gid_eq(sbi->gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u", from_kgid_munged(&init_user_ns, sbi->gid));
	if (max_pages)
		seq_printf(m, ",size=%llu", max_pages << PAGE_SHIFT);
	if (max_inodes)
		seq_printf(m, ",nr_inodes=%llu", max_inodes);
	if (READ_ONCE(sbi->large))
		seq_puts(m, ",large");
	return 0;
}

static const struct super_operations kmigfs_sops = {
	.statfs		= kmigfs_statfs,
	.drop_inode	= generic_delete_inode,
	.evict_inode	= kmigfs_evict_inode,
	.show_options	= kmigfs_show_options,
};

/*
 * Size a file: the first non-zero size creates its object; the same size
 * again is a no-op; any other change of size later is -EPERM (like a memfd
 * sealed against growing and shrinking). The object is large if the mount
 * says so now: a later remount does not change it. Called under the inode
 * lock.
 */
static int kmigfs_set_size(struct inode *inode, loff_t size)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(inode->i_sb);
	struct kmig_mem *mem = inode->i_private;
	u32 flags;
	u64 pages;

	if (mem)
		return size == i_size_read(inode) ? 0 : -EPERM;
	if (!size)
		return 0;
	if (!PAGE_ALIGNED(size))
		return -EINVAL;
	if (size > kmig_max_mem_size())
		return -EFBIG;

	pages = size >> PAGE_SHIFT;
	if (!kmigfs_reserve_pages(sbi, pages))
		return -ENOSPC;
	flags = READ_ONCE(sbi->large) ? KMIG_MEM_CREATE_LARGE : 0;
	mem = kmig_mem_new(size, flags);
	if (IS_ERR(mem)) {
		kmigfs_unreserve_pages(sbi, pages);
		return PTR_ERR(mem);
	}
	kmig_mem_publish(mem, inode);
	return 0;
}

static int kmigfs_setattr(struct kmig_idmap *idmap, struct dentry *dentry,
			  struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int ret;

	ret = setattr_prepare(idmap, dentry, attr);
	if (ret)
		return ret;
	if (attr->ia_valid & ATTR_SIZE) {
		ret = kmigfs_set_size(inode, attr->ia_size);
		if (ret)
			return ret;
	}
	setattr_copy(idmap, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

static const struct inode_operations kmigfs_file_iops = {
	.setattr	= kmigfs_setattr,
};

/*
 * read(2): the object's bytes, zeros where a page was never touched, so that
 * cmp(1) and cp(1) can compare or save guest RAM. There is no write(2): a
 * write must go through a mapping, where page_mkwrite sees it for tracking.
 */
static ssize_t kmigfs_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct kmig_mem *mem = kmig_mem_of(file_inode(iocb->ki_filp));
	ssize_t ret;

	if (!mem)
		return 0;
	ret = kmig_mem_read(mem, iocb->ki_pos, to);
	if (ret > 0)
		iocb->ki_pos += ret;
	return ret;
}

static const struct file_operations kmigfs_file_fops = {
	.owner		= THIS_MODULE,
	.open		= generic_file_open,
	.read_iter	= kmigfs_read_iter,
	.llseek		= generic_file_llseek,
	.mmap		= kmig_mem_mmap,
	.unlocked_ioctl	= kmig_mem_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.show_fdinfo	= kmig_mem_show_fdinfo,
	.fsync		= noop_fsync,
};

bool kmigfs_file(const struct file *file)
{
	return file->f_op == &kmigfs_file_fops;
}

static struct inode *kmigfs_new_file(struct kmig_idmap *idmap,
				     struct inode *dir, umode_t mode)
{
	struct inode *inode = kmigfs_new_inode(dir->i_sb, S_IFREG);

	if (!IS_ERR(inode))
		inode_init_owner(idmap, inode, dir, (mode & ~S_IFMT) | S_IFREG);
	return inode;
}

static int kmigfs_create(struct kmig_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, umode_t mode, bool excl)
{
	struct inode *inode = kmigfs_new_file(idmap, dir, mode);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_instantiate(dentry, inode);
	dget(dentry);	/* pinned while linked, as in ramfs */
	kmig_compat_dir_changed(dir);
	return 0;
}

/* O_TMPFILE: a file with no name, gone with its last file and mapping. */
static int kmigfs_tmpfile(struct kmig_idmap *idmap, struct inode *dir,
			  struct file *file, umode_t mode)
{
	struct inode *inode = kmigfs_new_file(idmap, dir, mode);

	if (IS_ERR(inode))
		return PTR_ERR(inode);
	d_tmpfile(file, inode);
	return finish_open_simple(file, 0);
}

/* No mkdir, mknod or symlink: -EPERM from the VFS. The directory is flat. */
static const struct inode_operations kmigfs_dir_iops = {
	.lookup		= simple_lookup,
	.create		= kmigfs_create,
	.tmpfile	= kmigfs_tmpfile,
	.link		= simple_link,
	.unlink		= simple_unlink,
	.rename		= simple_rename,
};

static int kmigfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct kmigfs_opts *opts = fc->fs_private;
	struct kmigfs_sb_info *sbi;
	struct inode *root;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	spin_lock_init(&sbi->lock);
	sbi->max_pages = opts->max_pages;
	sbi->max_inodes = opts->max_inodes;
	sbi->large = opts->large;
	sbi->mode = opts->mode;
	sbi->uid = opts->uid;
	sbi->gid = opts->gid;
	/* kmigfs_kill_sb() frees it, whatever happens from here on. */
	sb->s_fs_info = sbi;

	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = KMIGFS_MAGIC;
	sb->s_op = &kmigfs_sops;
	sb->s_time_gran = 1;

	root = kmigfs_new_inode(sb, S_IFDIR | opts->mode);
	if (IS_ERR(root))
		return PTR_ERR(root);
	root->i_uid = opts->uid;
	root->i_gid = opts->gid;
	sb->s_root = d_make_root(root);
	return sb->s_root ? 0 : -ENOMEM;
}

static void kmigfs_kill_sb(struct super_block *sb)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(sb);

	kill_litter_super(sb);	/* evicts every inode, which uses @sbi */
	kfree(sbi);
}

enum {
	KMIGFS_OPT_MODE,
	KMIGFS_OPT_UID,
	KMIGFS_OPT_GID,
	KMIGFS_OPT_SIZE,
	KMIGFS_OPT_NR_INODES,
	KMIGFS_OPT_LARGE,
};

static const struct fs_parameter_spec kmigfs_params[] = {
	fsparam_u32oct("mode",		KMIGFS_OPT_MODE),
	fsparam_u32("uid",		KMIGFS_OPT_UID),
	fsparam_u32("gid",		KMIGFS_OPT_GID),
	fsparam_string("size",		KMIGFS_OPT_SIZE),
	fsparam_string("nr_inodes",	KMIGFS_OPT_NR_INODES),
	fsparam_flag_no("large",	KMIGFS_OPT_LARGE),	/* and nolarge */
	{}
};

/* A number with an optional k, m, g, t, p or e suffix, nothing after. */
static int kmigfs_parse_size(const char *s, u64 *val)
{
	char *rest;

	if (!isdigit(*s))
		return -EINVAL;
	*val = memparse(s, &rest);
	return *rest ? -EINVAL : 0;
}

static int kmigfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct kmigfs_opts *opts = fc->fs_private;
	struct fs_parse_result result;
	u64 val;
	int opt;

	opt = fs_parse(fc, kmigfs_params, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case KMIGFS_OPT_MODE:
		if (result.uint_32 & ~07777)
			goto bad_value;
		opts->mode = result.uint_32;
		break;
	case KMIGFS_OPT_UID:
		opts->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(opts->uid))
			goto bad_value;
		break;
	case KMIGFS_OPT_GID:
		opts->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(opts->gid))
			goto bad_value;
		break;
	case KMIGFS_OPT_SIZE:
		if (kmigfs_parse_size(param->string, &val))
			goto bad_value;
		opts->max_pages = DIV_ROUND_UP_ULL(val, PAGE_SIZE);
		break;
	case KMIGFS_OPT_NR_INODES:
		if (kmigfs_parse_size(param->string, &val))
			goto bad_value;
		opts->max_inodes = val;
		break;
	case KMIGFS_OPT_LARGE:
		opts->large = !result.negated;
		break;
	}
	opts->seen |= BIT(opt);
	return 0;

bad_value:
	return invalfc(fc, "Bad value '%s' for mount option '%s'",
		       param->string, param->key);
}

static int kmigfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, kmigfs_fill_super);
}

/*
 * mount -o remount: size= and nr_inodes= change, but never below what is
 * in use (-EINVAL); large / nolarge changes what files sized from now on
 * get; mode=, uid= and gid= are ignored, as tmpfs does. Nothing changes if
 * anything is refused.
 */
static int kmigfs_reconfigure(struct fs_context *fc)
{
	struct kmigfs_sb_info *sbi = kmigfs_sbi(fc->root->d_sb);
	struct kmigfs_opts *opts = fc->fs_private;
	u64 max_pages, max_inodes;
	int ret = 0;

	spin_lock(&sbi->lock);
	max_pages = opts->seen & BIT(KMIGFS_OPT_SIZE) ? opts->max_pages :
						 sbi->max_pages;
	max_inodes = opts->seen & BIT(KMIGFS_OPT_NR_INODES) ? opts->max_inodes :
						       sbi->max_inodes;
	if ((max_pages && max_pages < sbi->used_pages) ||
	    (max_inodes && max_inodes < sbi->used_inodes)) {
		ret = -EINVAL;
	} else {
		sbi->max_pages = max_pages;
		sbi->max_inodes = max_inodes;
		if (opts->seen & BIT(KMIGFS_OPT_LARGE))
			WRITE_ONCE(sbi->large, opts->large);
	}
	spin_unlock(&sbi->lock);
	if (ret)
		return invalfc(fc, "Limit below what is in use");
	return 0;
}

static void kmigfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations kmigfs_context_ops = {
	.free		= kmigfs_free_fc,
	.parse_param	= kmigfs_parse_param,
	.get_tree	= kmigfs_get_tree,
	.reconfigure	= kmigfs_reconfigure,
};

static int kmigfs_init_fs_context(struct fs_context *fc)
{
	struct kmigfs_opts *opts;

	opts = kzalloc(sizeof(*opts), GFP_KERNEL);
	if (!opts)
		return -ENOMEM;
	opts->mode = KMIGFS_DEFAULT_MODE;
	opts->uid = current_fsuid();
	opts->gid = current_fsgid();
	fc->fs_private = opts;
	fc->ops = &kmigfs_context_ops;
	return 0;
}

/*
 * Not FS_USERNS_MOUNT: only the initial namespace's root mounts it. The
 * owner makes a mount pin the module, so rmmod fails until umount.
 */
static struct file_system_type kmigfs_type = {
	.owner			= THIS_MODULE,
	.name			= "kmig",
	.init_fs_context	= kmigfs_init_fs_context,
	.parameters		= kmigfs_params,
	.kill_sb		= kmigfs_kill_sb,
};
MODULE_ALIAS_FS("kmig");

int kmigfs_init(void)
{
	return register_filesystem(&kmigfs_type);
}

void kmigfs_exit(void)
{
	unregister_filesystem(&kmigfs_type);
}
