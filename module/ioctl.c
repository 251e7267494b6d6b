// SPDX-License-Identifier: GPL-2.0
/*
 * Ioctls on /dev/kmig, and the argument copying rules shared by every kmig
 * ioctl (Documentation/userspace-api.rst, "Conventions").
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/uaccess.h>

#include "kmig.h"
#include "mem.h"
#include "session.h"

/* The first version of each struct never changes size. */
static_assert(offsetofend(struct kmig_info, reserved) == KMIG_INFO_SIZE_VER0);
static_assert(offsetofend(struct kmig_mem_create, reserved) ==
	      KMIG_MEM_CREATE_SIZE_VER0);
static_assert(offsetofend(struct kmig_track, reserved) == KMIG_TRACK_SIZE_VER0);
static_assert(offsetofend(struct kmig_harvest, reserved) ==
	      KMIG_HARVEST_SIZE_VER0);
static_assert(offsetofend(struct kmig_mark_dirty, reserved) ==
	      KMIG_MARK_DIRTY_SIZE_VER0);
static_assert(offsetofend(struct kmig_mem_stats, reserved) ==
	      KMIG_MEM_STATS_SIZE_VER0);
static_assert(offsetofend(struct kmig_session_create, reserved) ==
	      KMIG_SESSION_CREATE_SIZE_VER0);
static_assert(offsetofend(struct kmig_send_round, reserved) ==
	      KMIG_SEND_ROUND_SIZE_VER0);
static_assert(offsetofend(struct kmig_send_blob, reserved) ==
	      KMIG_SEND_BLOB_SIZE_VER0);
static_assert(offsetofend(struct kmig_send_end, reserved) ==
	      KMIG_SEND_END_SIZE_VER0);
static_assert(offsetofend(struct kmig_recv, reserved) == KMIG_RECV_SIZE_VER0);
static_assert(offsetofend(struct kmig_session_stats, reserved) ==
	      KMIG_SESSION_STATS_SIZE_VER0);
static_assert(sizeof(struct kmig_wire_header) == 32);
static_assert(sizeof(struct kmig_wire_region) == 16);
static_assert(sizeof(struct kmig_wire_rec_v1) == 24);
static_assert(sizeof(struct kmig_wire_rec_v2) == 16);
static_assert(sizeof(struct kmig_wire_end) == 48);

bool kmig_all_zero(const void *p, size_t len)
{
	return !memchr_inv(p, 0, len);
}

/*
 * Copy an extensible argument struct in. Its first field is the __u32 size
 * that userspace compiled against: smaller than the first version of the
 * struct is -EINVAL; larger than the kernel's struct is fine as long as the
 * extra bytes are zero (-E2BIG otherwise, from copy_struct_from_user()).
 */
int kmig_copy_args(void *karg, size_t ksize, size_t size_ver0,
		   const void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < size_ver0)
		return -EINVAL;
	if (usize > KMIG_ARG_SIZE_MAX)
		return -E2BIG;

	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	if (ret)
		return ret;
	/* Remember the caller's size for kmig_copy_args_out(). */
	*(u32 *)karg = usize;
	return 0;
}

/* Copy a struct read by kmig_copy_args() back, as much as the caller knows. */
int kmig_copy_args_out(void __user *uarg, const void *karg, size_t ksize)
{
	u32 usize = *(const u32 *)karg;

	if (copy_to_user(uarg, karg, min_t(size_t, usize, ksize)))
		return -EFAULT;
	return 0;
}

static long kmig_dev_get_info(void __user *uarg)
{
	struct kmig_info info;
	int ret;

	ret = kmig_copy_args(&info, sizeof(info), KMIG_INFO_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (info.flags || info.pad ||
	    !kmig_all_zero(info.reserved, sizeof(info.reserved)))
		return -EINVAL;

	info.module_version = KMIG_MODULE_VERSION;
	info.page_size = PAGE_SIZE;
	info.proto_min = kmig_proto_min();
	info.proto_max = kmig_proto_max();
	info.proto_max_builtin = KMIG_PROTO_MAX_BUILTIN;
	info.caps = KMIG_CAPS_SUPPORTED;
	info.features = KMIG_FEAT_GET_INFO | KMIG_FEAT_MEM |
			KMIG_FEAT_DIRTY_TRACK | KMIG_FEAT_SESSION |
			KMIG_FEAT_SEND | KMIG_FEAT_RECV | KMIG_FEAT_MEM_LARGE |
			KMIG_FEAT_MARK_DIRTY | KMIG_FEAT_HELD_DIRTY |
			KMIG_FEAT_FS;
	if (KMIG_COMPAT_HAVE_WP)
		info.features |= KMIG_FEAT_WP_HELPERS;
	info.max_mem_size = kmig_max_mem_size();

	return kmig_copy_args_out(uarg, &info, sizeof(info));
}

static long kmig_dev_mem_create(void __user *uarg)
{
	struct kmig_mem_create args;
	int ret;

	ret = kmig_copy_args(&args, sizeof(args), KMIG_MEM_CREATE_SIZE_VER0,
			     uarg);
	if (ret)
		return ret;
	if ((args.flags & ~KMIG_MEM_CREATE_LARGE) ||
	    !kmig_all_zero(args.reserved, sizeof(args.reserved)))
		return -EINVAL;

	return kmig_mem_create(args.mem_size, args.flags);
}

long kmig_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KMIG_GET_INFO:
		return kmig_dev_get_info(uarg);
	case KMIG_MEM_CREATE:
		return kmig_dev_mem_create(uarg);
	case KMIG_SESSION_CREATE:
		return kmig_session_create(uarg);
	default:
		return -ENOIOCTLCMD;
	}
}
