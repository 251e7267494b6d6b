// SPDX-License-Identifier: GPL-2.0
/*
 * kmig: kernel-assisted VM live migration.
 *
 * Module init and exit (memory objects, the kmig filesystem, the /dev/kmig
 * misc device) and the module parameters.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "kmig.h"
#include "mem.h"

/*
 * proto_min and proto_max narrow the window of wire protocol versions the
 * module advertises and accepts: proto_max to behave like an older host,
 * proto_min like a newer one that dropped old versions. They may change at
 * runtime; a session checks them once, when it is created. The window is
 * never empty: each is checked against the other.
 */
static unsigned int proto_min = KMIG_PROTO_MIN_BUILTIN;
static unsigned int proto_max = KMIG_PROTO_MAX_BUILTIN;
static DEFINE_MUTEX(proto_lock);

static int proto_param_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v < KMIG_PROTO_MIN_BUILTIN || v > KMIG_PROTO_MAX_BUILTIN)
		return -EINVAL;
	mutex_lock(&proto_lock);
	if (kp->arg == &proto_min ? v > proto_max : v < proto_min)
		ret = -EINVAL;
	else
		WRITE_ONCE(*(unsigned int *)kp->arg, v);
	mutex_unlock(&proto_lock);
	return ret;
}

static const struct kernel_param_ops proto_param_ops = {
	.set = proto_param_set,
	.get = param_get_uint,
};

module_param_cb(proto_min, &proto_param_ops, &proto_min, 0644);
MODULE_PARM_DESC(proto_min, "Lowest wire protocol version to speak (1..2)");
module_param_cb(proto_max, &proto_param_ops, &proto_max, 0644);
MODULE_PARM_DESC(proto_max, "Highest wire protocol version to speak (1..2)");

u32 kmig_proto_min(void)
{
	return READ_ONCE(proto_min);
}

u32 kmig_proto_max(void)
{
	return READ_ONCE(proto_max);
}

/* Largest guest memory object, in MiB. Default 64 GiB. */
static unsigned long max_mem_mb = 64UL << 10;
module_param(max_mem_mb, ulong, 0644);
MODULE_PARM_DESC(max_mem_mb, "Largest guest memory object in MiB");

u64 kmig_max_mem_size(void)
{
	u64 mb = READ_ONCE(max_mem_mb);

	/* Clamp so that the byte count and the page count fit everywhere. */
	return min_t(u64, mb, 1ULL << 30) << 20;
}

/*
 * Re-arming write-protects the harvested pages of a batch with one call per
 * stretch whose gaps are at most rearm_gap clean pages. Each call costs a
 * TLB flush and an MMU notifier invalidation (KVM drops its mappings of the
 * whole stretch), which is dearer than protecting a few clean pages; too
 * wide a stretch makes the guest fault its clean pages back into KVM.
 * Documentation/admin-guide.rst has the measurements behind the default.
 */
static unsigned int rearm_gap = KMIG_REARM_GAP_DEFAULT;

static int rearm_gap_set(const char *val, const struct kernel_param *kp)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v > KMIG_REARM_GAP_MAX)
		return -EINVAL;
	WRITE_ONCE(rearm_gap, v);
	return 0;
}

static const struct kernel_param_ops rearm_gap_ops = {
	.set = rearm_gap_set,
	.get = param_get_uint,
};

module_param_cb(rearm_gap, &rearm_gap_ops, &rearm_gap, 0644);
MODULE_PARM_DESC(rearm_gap, "Clean pages one re-arm call may span (0..256)");

unsigned int kmig_rearm_gap(void)
{
	return READ_ONCE(rearm_gap);
}

/*
 * Test hooks. debug_no_rearm makes harvests skip write protection, so that
 * the test suite can show that its exactness tests catch lost writes.
 * force_unmap_rearm selects the fallback re-arm on kernels that have the
 * cheaper one, so that both paths are tested everywhere.
 */
static bool debug_no_rearm;
module_param(debug_no_rearm, bool, 0600);
MODULE_PARM_DESC(debug_no_rearm, "Testing only: harvest without re-arming (loses writes)");

bool kmig_debug_no_rearm(void)
{
	return READ_ONCE(debug_no_rearm);
}

/*
 * debug_race_delay_ms widens a race window for the test suite: a tracked
 * page_mkwrite sleeps that long after it has seen tracking on, and a reset
 * of the dirty bitmap sleeps that long between two levels.
 */
static unsigned int debug_race_delay_ms;
module_param(debug_race_delay_ms, uint, 0600);
MODULE_PARM_DESC(debug_race_delay_ms, "Testing only: widen the dirty-bitmap race windows (ms)");

void kmig_debug_race_delay(void)
{
	unsigned int ms = READ_ONCE(debug_race_delay_ms);

	if (unlikely(ms))
		msleep(min(ms, 10000U));
}

static bool force_unmap_rearm;
module_param(force_unmap_rearm, bool, 0600);
MODULE_PARM_DESC(force_unmap_rearm, "Testing only: re-arm by unmapping even where write-protect helpers exist");

bool kmig_force_unmap_rearm(void)
{
	return READ_ONCE(force_unmap_rearm);
}

static const struct file_operations kmig_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= kmig_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= no_llseek,
};

/* Root only by default; see Documentation/admin-guide.rst for a group. */
static struct miscdevice kmig_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= KMIG_DEVICE_NAME,
	.fops	= &kmig_dev_fops,
	.mode	= 0600,
};

static int __init kmig_init(void)
{
	int ret;

	ret = kmig_mem_init();
	if (ret)
		return ret;

	ret = kmigfs_init();
	if (ret)
		goto out_mem_exit;

	ret = misc_register(&kmig_misc);
	if (ret)
		goto out_fs_exit;

	pr_info("version %s, protocol %u..%u, re-arm by %s\n",
		KMIG_MODULE_VERSION_STR, kmig_proto_min(), kmig_proto_max(),
		KMIG_COMPAT_HAVE_WP ? "write-protect" : "unmap");
	return 0;

out_fs_exit:
	kmigfs_exit();
out_mem_exit:
	kmig_mem_exit();
	return ret;
}

static void __exit kmig_exit(void)
{
	misc_deregister(&kmig_misc);
	kmigfs_exit();
	kmig_mem_exit();
}

module_init(kmig_init);
module_exit(kmig_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel-assisted VM live migration");
MODULE_AUTHOR("kmig developers");
MODULE_VERSION(KMIG_MODULE_VERSION_STR);
