/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared between kmig's files.
 */
#ifndef _KMIG_H
#define _KMIG_H

#include <linux/types.h>
#include <linux/kmig.h>

#define KMIG_MODULE_VERSION	KMIG_VERSION(0, 2, 0)
#define KMIG_MODULE_VERSION_STR	"0.2.0"

/* The wire protocol window this build implements. */
#define KMIG_PROTO_MIN_BUILTIN	KMIG_PROTO_V1
#define KMIG_PROTO_MAX_BUILTIN	KMIG_PROTO_V2

/* Largest argument struct the kernel reads; larger ones are -E2BIG. */
#define KMIG_ARG_SIZE_MAX	4096

/* rearm_gap: default and largest value, in pages */
#define KMIG_REARM_GAP_DEFAULT	16
#define KMIG_REARM_GAP_MAX	256	/* as in rearm_gap's description */

/* main.c: module parameters, read with these accessors. */
u32 kmig_proto_min(void);
u32 kmig_proto_max(void);
u64 kmig_max_mem_size(void);
unsigned int kmig_rearm_gap(void);
bool kmig_debug_no_rearm(void);
bool kmig_force_unmap_rearm(void);
void kmig_debug_race_delay(void);

/* ioctl.c */
int kmig_copy_args(void *karg, size_t ksize, size_t size_ver0,
		   const void __user *uarg);
int kmig_copy_args_out(void __user *uarg, const void *karg, size_t ksize);
bool kmig_all_zero(const void *p, size_t len);
long kmig_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* _KMIG_H */
