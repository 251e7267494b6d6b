/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by kmig's kselftests.
 */
#ifndef _KMIG_TEST_H
#define _KMIG_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kmig.h>

#define KMIG_DEV	"/dev/kmig"
/* Largest record a sender emits: 256 pages of payload and a header. */
#define KMIG_BATCH_BYTES	(256 * 4096 + 64)
#define KMIG_PARAM_DIR	"/sys/module/kmig/parameters/"

static inline long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* ioctl() that returns -errno on failure. */
static inline long kmig_ioctl(int fd, unsigned long cmd, void *arg)
{
	long ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static inline int kmig_get_info(int devfd, struct kmig_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return kmig_ioctl(devfd, KMIG_GET_INFO, info);
}

/* Returns the new memory fd or -errno. */
static inline int kmig_mem_create_flags(int devfd, unsigned long long bytes,
					__u32 flags)
{
	struct kmig_mem_create c = {
		.size = sizeof(c),
		.flags = flags,
		.mem_size = bytes,
	};

	return kmig_ioctl(devfd, KMIG_MEM_CREATE, &c);
}

static inline int kmig_mem_create(int devfd, unsigned long long bytes)
{
	return kmig_mem_create_flags(devfd, bytes, 0);
}

static inline int kmig_track(int memfd, unsigned long cmd, unsigned int flags)
{
	struct kmig_track t = { .size = sizeof(t), .flags = flags };

	return kmig_ioctl(memfd, cmd, &t);
}

static inline int kmig_mem_stats(int memfd, struct kmig_mem_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return kmig_ioctl(memfd, KMIG_MEM_GET_STATS, st);
}

/* Harvest [first, first + n) into a bitmap; returns dirty pages or -errno. */
static inline long kmig_harvest_bitmap(int memfd, unsigned long long first,
				       unsigned long long n, __u64 *bitmap,
				       unsigned int flags)
{
	struct kmig_harvest h = {
		.size = sizeof(h),
		.flags = flags,
		.first_page = first,
		.num_pages = n,
		.bitmap_ptr = (unsigned long)bitmap,
	};
	long ret = kmig_ioctl(memfd, KMIG_MEM_HARVEST, &h);

	return ret < 0 ? ret : (long)h.dirty_pages;
}

static inline int test_bit64(const __u64 *map, unsigned long bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

static inline void set_bit64(__u64 *map, unsigned long bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

/*
 * SKIP() from a FIXTURE_SETUP. The 6.1 kselftest_harness.h runs the test body
 * after a SKIP() in setup; leave through the harness's jump buffer instead, so
 * that neither the body nor the teardown runs and the test reports SKIP.
 */
#define SETUP_SKIP(fmt, ...) \
	SKIP(longjmp(_metadata->env, 1), fmt, ##__VA_ARGS__)

/* Write a string to a sysfs, debugfs or proc file. Returns 0 or -errno. */
static inline int kmig_write_file(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Module parameters, as strings. Return 0 or -errno. */
static inline int kmig_param_write(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), KMIG_PARAM_DIR "%s", name);
	return kmig_write_file(path, val);
}

static inline int kmig_param_read(const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), KMIG_PARAM_DIR "%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Count the lines of the kernel log that look like a splat. */
static inline int kmig_dmesg_splats(void)
{
	static const char *const markers[] = {
		"cut here", "WARNING: CPU:", "BUG:", "Oops", "Call Trace:",
		"KASAN:", "unreferenced object",
	};
	char *buf = malloc(1 << 20);
	int n, hits = 0;
	unsigned int i;

	if (!buf)
		return -ENOMEM;
	/* SYSLOG_ACTION_READ_ALL */
	n = klogctl(3, buf, (1 << 20) - 1);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	buf[n] = 0;
	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		for (char *p = buf; (p = strstr(p, markers[i])); p++)
			hits++;
	free(buf);
	return hits;
}

#define KMIG_NO_WP_HELPERS	"kernel lacks CONFIG_MAPPING_DIRTY_HELPERS (wp_shared_mapping_range not exported)"

/*
 * Make the module re-arm by @rearm (KMIG_REARM_*) with force_unmap_rearm,
 * after saving the parameter's value in @saved for the teardown. Returns 0,
 * -EOPNOTSUPP if @rearm is KMIG_REARM_WP and the kernel has no write-protect
 * helpers (KMIG_NO_WP_HELPERS says why), or -errno.
 */
static inline int kmig_select_rearm(int dev, int rearm, char *saved,
				    size_t len)
{
	struct kmig_info info;
	int ret;

	ret = kmig_get_info(dev, &info);
	if (!ret)
		ret = kmig_param_read("force_unmap_rearm", saved, len);
	if (ret)
		return ret;
	if (rearm == KMIG_REARM_WP && !(info.features & KMIG_FEAT_WP_HELPERS))
		return -EOPNOTSUPP;
	return kmig_param_write("force_unmap_rearm",
				rearm == KMIG_REARM_UNMAP ? "Y" : "N");
}

/* The state letter of a thread of this process ('S', 'D', ...), or 0. */
static inline char kmig_thread_state(pid_t tid)
{
	char path[64], buf[256], *p;
	int fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] ? p[2] : 0;
}

/* An unsigned number from the environment, or @def. */
static inline unsigned long kmig_env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

/*
 * Progress of a long test: a line on stderr at most every
 * KMIG_PROGRESS_SECS seconds, so that the VM harness's silence watchdog
 * (boot.sh, 300 s) never takes a slow test for a wedged VM. Tests are bounded
 * by work; the clock only paces these lines and never decides a verdict.
 */
#define KMIG_PROGRESS_SECS	10

struct kmig_progress {
	time_t next;
};

static inline void kmig_progress(struct kmig_progress *p, const char *what,
				 unsigned long done, unsigned long total)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec < p->next)
		return;
	if (p->next)
		fprintf(stderr, "# %s: %lu of %lu\n", what, done, total);
	p->next = ts.tv_sec + KMIG_PROGRESS_SECS;
}

/* A number read from a file such as a cgroup's memory.current; -1 if none. */
static inline long kmig_read_long(const char *path)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atol(buf) : -1;
}

#endif /* _KMIG_TEST_H */
