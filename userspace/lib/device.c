// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * /dev/kmig access.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kmig_internal.h"

int kmig_open(void)
{
	int fd = open("/dev/" KMIG_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int kmig_query(int devfd, struct kmig_info *info)
{
	if (devfd < 0)
		return -EBADF;
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	if (ioctl(devfd, KMIG_GET_INFO, info) < 0)
		return -errno;
	return 0;
}
