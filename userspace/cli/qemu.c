// SPDX-License-Identifier: GPL-2.0
/*
 * kmigctl qemu: the migration agent for stock QEMU (Documentation/qemu.rst).
 *
 * QEMU keeps guest RAM on kmig files (memory-backend-file on a kmig
 * filesystem, share=on) and migrates only its device state, with
 * x-ignore-shared; kmig moves the RAM. The agent on each host talks QMP to
 * its QEMU and runs kmig's handshake and stream with the other agent:
 *
 *   source agent                                 destination agent
 *   checks RAM, sets capabilities                checks RAM, capabilities,
 *                                                migrate-incoming, listens
 *   handshake                     <---------->   handshake
 *   pre-copy rounds (guest runs)  ----------->   into its kmig files
 *   QEMU "migrate"; QEMU stops the guest and parks in pre-switchover
 *   final round, END              ----------->   memory complete
 *                                 <-----------   READY
 *   migrate-continue: QEMU sends the device state; waits for "completed"
 *   GO                            ----------->   waits for QEMU's incoming
 *                                                "completed", then "cont"
 *                                 <-----------   ACK
 *
 * Until GO, any failure resumes the source guest (migrate_cancel, or
 * "cont" after QEMU's own migration completed) and the destination QEMU is
 * quit (--on-failure keep leaves it paused). Downtime is from QEMU's STOP
 * event on the source to the ACK, which comes after the destination's
 * RESUME event (the destination reports that event's time too).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <unistd.h>

#include "libkmig.h"
#include "kmigctl.h"
#include "qmp.h"

#define QEMU_MAX_RAM	16		/* memory backends in one guest */
#define QMP_TIMEOUT_MS	10000

struct ram {
	char id[64];			/* QOM id of the backend */
	char path[4096];		/* its mem-path */
	uint64_t size;
	int fd;				/* the kmig file, opened by path */
};

struct agent {
	const char *role;		/* "source" or "destination" */
	bool json;
	struct qmp qmp;
	unsigned int nr_ram;
	struct ram ram[QEMU_MAX_RAM];
	/* source */
	const char *qemu_uri;
	uint64_t stop_us;		/* QEMU's STOP event */
	/* the switch-over's steps, wall clock us: QEMU parked, READY came,
	 * QEMU's device state sent, the destination acknowledged */
	uint64_t parked_us, ready_us, device_us, ack_us;
	char qemu_status[QMP_STATUS_MAX];	/* QEMU's run state at the end */
	const char *hold;		/* KMIG_TEST_QEMU_HOLD */
	/* destination */
	uint64_t resume_us;		/* QEMU's RESUME event */
	int data_sock;
	int watch_pipe[2];
	pthread_t watcher;
	bool watching;
};

static uint64_t wall_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* One line for the operator, or with --json one {"event":"log"} object. */
__attribute__((format(printf, 2, 3)))
static void say(const struct agent *a, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (a->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string("log"));
		json_object_object_add(o, "role", json_object_new_string(a->role));
		json_object_object_add(o, "message", json_object_new_string(msg));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else {
		printf("%s: %s\n", a->role, msg);
	}
	fflush(stdout);
}

static const char *qom_str(struct agent *a, const char *path, const char *prop,
			   char *buf, size_t len)
{
	struct json_object *args = json_object_new_object(), *r;

	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string(prop));
	if (qmp_call(&a->qmp, "qom-get", args, &r, QMP_TIMEOUT_MS))
		return NULL;
	snprintf(buf, len, "%s", json_object_get_string(r));
	json_object_put(r);
	return buf;
}

static int ram_cmp(const void *x, const void *y)
{
	return strcmp(((const struct ram *)x)->id, ((const struct ram *)y)->id);
}

/*
 * Find the guest's RAM: every memory backend must be a kmig file with
 * share=on, and together they must be all of the guest's RAM. Opens each
 * file by path. Returns 0 or -1 after saying why.
 */
static int find_ram(struct agent *a)
{
	struct json_object *list, *args, *sum;
	uint64_t total = 0, base, plugged;
	char buf[4096], opath[128];
	size_t n;
	int ret;

	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string("/objects"));
	ret = qmp_call(&a->qmp, "qom-list", args, &list, QMP_TIMEOUT_MS);
	if (ret) {
		say(a, "%s", a->qmp.error);
		return -1;
	}
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		const char *name = json_object_get_string(json_object_object_get(e, "name"));
		const char *type = json_object_get_string(json_object_object_get(e, "type"));
		struct ram *r;
		struct statfs sfs;
		struct stat st;

		if (!name || !type || strncmp(type, "child<memory-backend-", 21))
			continue;
		if (strcmp(type, "child<memory-backend-file>")) {
			say(a, "memory backend '%s' is %.*s, not memory-backend-file on a kmig file system: its RAM would not move with kmig",
			    name, (int)strlen(type) - 7, type + 6);
			goto fail;
		}
		if (a->nr_ram == QEMU_MAX_RAM) {
			say(a, "more than %d memory backends", QEMU_MAX_RAM);
			goto fail;
		}
		r = &a->ram[a->nr_ram];
		snprintf(r->id, sizeof(r->id), "%s", name);
		snprintf(opath, sizeof(opath), "/objects/%s", name);
		if (!qom_str(a, opath, "share", buf, sizeof(buf)) ||
		    strcmp(buf, "true")) {
			say(a, "memory backend '%s' needs share=on", name);
			goto fail;
		}
		if (!qom_str(a, opath, "size", buf, sizeof(buf)) ||
		    !parse_u64(buf, &r->size) ||
		    !qom_str(a, opath, "mem-path", r->path, sizeof(r->path))) {
			say(a, "memory backend '%s': %s", name, a->qmp.error);
			goto fail;
		}
		if (statfs(r->path, &sfs) || sfs.f_type != KMIGFS_MAGIC) {
			say(a, "memory backend '%s': %s is not on a kmig file system (mount -t kmig none DIR)",
			    name, r->path);
			goto fail;
		}
		r->fd = open(r->path, O_RDWR | O_CLOEXEC);
		if (r->fd < 0) {
			say(a, "memory backend '%s': %s: %s", name, r->path,
			    strerror(errno));
			goto fail;
		}
		a->nr_ram++;
		if (fstat(r->fd, &st) || (uint64_t)st.st_size != r->size) {
			say(a, "memory backend '%s': %s is %lld bytes, QEMU says %llu",
			    name, r->path, (long long)st.st_size,
			    (unsigned long long)r->size);
			goto fail;
		}
		total += r->size;
	}
	json_object_put(list);
	list = NULL;
	if (!a->nr_ram) {
		say(a, "QEMU has no memory backend: start it with -object memory-backend-file,id=ram0,size=...,mem-path=KMIGFS/NAME,share=on -machine memory-backend=ram0");
		return -1;
	}
	/* RAM outside the backends (plain -m) would go through QEMU. */
	ret = qmp_call(&a->qmp, "query-memory-size-summary", NULL, &sum,
		       QMP_TIMEOUT_MS);
	if (ret) {
		say(a, "%s", a->qmp.error);
		return -1;
	}
	base = json_object_get_int64(json_object_object_get(sum, "base-memory"));
	plugged = json_object_get_int64(json_object_object_get(sum, "plugged-memory"));
	json_object_put(sum);
	if (base + plugged != total) {
		say(a, "the guest has %llu bytes of RAM, its kmig memory backends %llu: all of it must be on kmig files",
		    (unsigned long long)(base + plugged),
		    (unsigned long long)total);
		return -1;
	}
	qsort(a->ram, a->nr_ram, sizeof(a->ram[0]), ram_cmp);
	return 0;
fail:
	json_object_put(list);
	return -1;
}

static void close_ram(struct agent *a)
{
	for (unsigned int i = 0; i < a->nr_ram; i++)
		close(a->ram[i].fd);
	a->nr_ram = 0;
}

static int build_offer(struct agent *a, int dev, uint32_t proto_min,
		       uint32_t proto_max, const char *vm_id,
		       struct kmig_offer *o)
{
	char host[KMIG_HS_ID_MAX + 1] = "";
	struct kmig_info info;
	int ret;

	ret = kmig_query(dev, &info);
	if (!ret && proto_min > info.proto_min)
		info.proto_min = proto_min;
	if (!ret && info.proto_min > info.proto_max)
		ret = -ERANGE;
	if (!ret)
		ret = kmig_offer_from_info(&info, o);
	if (!ret)
		ret = kmig_offer_narrow(o, proto_max, ~KMIG_CAP_CHECKSUM);
	/* migrate-continue happens between READY and GO */
	if (!ret)
		ret = kmig_offer_require(o, KMIG_HS_CAP_COMMIT);
	for (unsigned int i = 0; !ret && !strcmp(a->role, "source") &&
	     i < a->nr_ram; i++)
		ret = kmig_offer_add_region(o, i, a->ram[i].size);
	gethostname(host, sizeof(host) - 1);
	if (!ret)
		ret = kmig_offer_set_identity(o, host, vm_id);
	if (ret)
		say(a, "cannot build the handshake offer: %s%s", strerror(-ret),
		    ret == -ERANGE ? " (--proto-min above what the module speaks)" : "");
	return ret;
}

static void on_progress(void *opaque, const struct kmig_migrate_progress *p)
{
	struct agent *a = opaque;

	if (a->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string("progress"));
		json_object_object_add(o, "role", json_object_new_string(a->role));
		json_object_object_add(o, "round", json_object_new_int64(p->round));
		json_object_object_add(o, "final", json_object_new_boolean(p->final));
		json_object_object_add(o, "remaining_pages",
				       json_object_new_uint64(p->remaining_pages));
		json_object_object_add(o, "bytes", json_object_new_uint64(p->bytes));
		json_object_object_add(o, "bandwidth",
				       json_object_new_uint64(p->bandwidth));
		json_object_object_add(o, "expected_downtime_ms",
				       json_object_new_double(p->expected_downtime_ns ==
							      UINT64_MAX ? -1 :
							      p->expected_downtime_ns / 1e6));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (strcmp(a->role, "source")) {
		printf("%s: round %u%s received, %.1f MB so far\n", a->role,
		       p->round, p->final ? " (final)" : "", p->bytes / 1e6);
	} else {
		printf("%s: round %u%s: %llu pages left, %.1f MB/s, expected downtime %.1f ms, %.1f MB sent\n",
		       a->role, p->round, p->final ? " (final)" : "",
		       (unsigned long long)p->remaining_pages,
		       p->bandwidth / 1e6, p->expected_downtime_ns / 1e6,
		       p->bytes / 1e6);
	}
	fflush(stdout);
}

/* Make sure the source guest runs: its migration cancelled, vCPUs going. */
static int source_resume(void *opaque)
{
	static const char *const done[] = { "none", "completed", "failed",
					    "cancelled", NULL };
	struct agent *a = opaque;
	struct json_object *r;
	char st[QMP_STATUS_MAX];
	const char *run;
	int ret;

	ret = qmp_migration_status(&a->qmp, st, sizeof(st));
	if (!ret && !qmp_in(st, done)) {
		/* QEMU restarts the vCPUs itself once the cancel is through. */
		ret = qmp_call(&a->qmp, "migrate_cancel", NULL, NULL, QMP_TIMEOUT_MS);
		if (!ret)
			ret = qmp_wait_migration(&a->qmp, done, st, sizeof(st),
						 30000);
	}
	if (!ret)
		ret = qmp_call(&a->qmp, "query-status", NULL, &r, QMP_TIMEOUT_MS);
	if (ret) {
		say(a, "cannot resume the source guest: %s", a->qmp.error);
		return ret;
	}
	run = json_object_get_string(json_object_object_get(r, "status"));
	if (run && strcmp(run, "running"))
		ret = qmp_call(&a->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS);
	json_object_put(r);
	if (ret)
		say(a, "cannot resume the source guest: %s", a->qmp.error);
	else
		say(a, "the source guest runs on here (QEMU migration %s)", st);
	return ret;
}

/*
 * The guest must stop: start QEMU's own migration, which stops the vCPUs
 * and parks in pre-switchover before any device state is sent.
 */
static int source_pause(void *opaque)
{
	static const char *const parked[] = { "pre-switchover", "failed",
					      "cancelled", "completed", NULL };
	struct agent *a = opaque;
	struct json_object *args = json_object_new_object();
	char st[QMP_STATUS_MAX];
	uint64_t before = a->qmp.stop_us;
	int ret;

	json_object_object_add(args, "uri", json_object_new_string(a->qemu_uri));
	ret = qmp_call(&a->qmp, "migrate", args, NULL, QMP_TIMEOUT_MS);
	if (!ret)
		ret = qmp_wait_migration(&a->qmp, parked, st, sizeof(st), 60000);
	if (!ret && strcmp(st, "pre-switchover")) {
		snprintf(a->qmp.error, sizeof(a->qmp.error),
			 "QEMU's migration to %s ended '%s' before the switch-over (is the destination QEMU listening?)",
			 a->qemu_uri, st);
		ret = -ECONNREFUSED;
	}
	if (!ret)
		ret = qmp_wait_event_time(&a->qmp, false, before, &a->stop_us,
					  QMP_TIMEOUT_MS);
	if (ret) {
		say(a, "%s", a->qmp.error);
		source_resume(a);
		return ret;
	}
	a->parked_us = wall_us();
	say(a, "QEMU stopped the guest and waits in pre-switchover");
	return 0;
}

/*
 * Test hook: with KMIG_TEST_QEMU_HOLD=PATH the source agent, once READY came
 * (all of the memory is at the destination, whose QEMU has not loaded any
 * device state yet) and before migrate-continue, creates PATH.held and waits
 * for PATH.go: both guests are stopped then, and a test compares their RAM.
 */
static void test_hold(struct agent *a)
{
	char name[4200];
	int fd;

	if (!a->hold)
		return;
	snprintf(name, sizeof(name), "%s.held", a->hold);
	fd = open(name, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(name, sizeof(name), "%s.go", a->hold);
	say(a, "test hold: waiting for %s", name);
	while (access(name, F_OK))
		usleep(50000);
}

/* READY came: all memory is at the destination. Let QEMU send its state. */
static int source_continue(void *opaque)
{
	static const char *const end[] = { "completed", "failed", "cancelled",
					   NULL };
	struct agent *a = opaque;
	struct json_object *args = json_object_new_object();
	char st[QMP_STATUS_MAX];
	int ret;

	a->ready_us = wall_us();
	test_hold(a);
	json_object_object_add(args, "state", json_object_new_string("pre-switchover"));
	ret = qmp_call(&a->qmp, "migrate-continue", args, NULL, QMP_TIMEOUT_MS);
	if (!ret)
		ret = qmp_wait_migration(&a->qmp, end, st, sizeof(st), 60000);
	if (!ret && strcmp(st, "completed")) {
		snprintf(a->qmp.error, sizeof(a->qmp.error),
			 "QEMU's device state migration ended '%s'", st);
		ret = -EIO;
	}
	a->device_us = wall_us();
	if (ret)
		say(a, "%s", a->qmp.error);
	else
		say(a, "QEMU sent its device state");
	return ret;
}

/* This agent's CPU time so far, user and system (kmig's sends run here). */
static double cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void print_summary(struct agent *a, const struct kmig_migrate_result *r,
			  uint64_t qemu_bytes, double downtime_ms)
{
	char caps[128];

	kmig_caps_format(r->caps, caps, sizeof(caps));
	if (a->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "event", json_object_new_string("summary"));
		json_object_object_add(o, "role", json_object_new_string(a->role));
		json_object_object_add(o, "status", json_object_new_int(r->status));
		json_object_object_add(o, "message", json_object_new_string(r->message));
		json_object_object_add(o, "version", json_object_new_int64(r->version));
		json_object_object_add(o, "caps", json_object_new_string(caps));
		json_object_object_add(o, "rounds", json_object_new_int64(r->rounds));
		json_object_object_add(o, "forced", json_object_new_boolean(r->forced));
		json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes));
		json_object_object_add(o, "pages", json_object_new_uint64(r->pages));
		json_object_object_add(o, "zero_pages",
				       json_object_new_uint64(r->zero_pages));
		json_object_object_add(o, "total_ms",
				       json_object_new_double(r->total_ns / 1e6));
		json_object_object_add(o, "qemu_bytes",
				       json_object_new_uint64(qemu_bytes));
		json_object_object_add(o, "downtime_ms",
				       json_object_new_double(downtime_ms));
		json_object_object_add(o, "stop_us", json_object_new_uint64(a->stop_us));
		json_object_object_add(o, "qemu_status",
				       json_object_new_string(a->qemu_status));
		if (a->ack_us && a->device_us) {
			json_object_object_add(o, "parked_ms",
					       json_object_new_double((a->parked_us - a->stop_us) / 1e3));
			json_object_object_add(o, "final_ms",
					       json_object_new_double((a->ready_us - a->parked_us) / 1e3));
			json_object_object_add(o, "device_ms",
					       json_object_new_double((a->device_us - a->ready_us) / 1e3));
			json_object_object_add(o, "commit_ms",
					       json_object_new_double((a->ack_us - a->device_us) / 1e3));
		}
		json_object_object_add(o, "cpu_ms", json_object_new_double(cpu_ms()));
		json_object_object_add(o, "resume_us",
				       json_object_new_uint64(a->resume_us));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
		fflush(stdout);
		return;
	}
	printf("%s: migration %s\n", a->role, r->status ? "FAILED" : "complete");
	if (r->status)
		printf("  reason:              %s\n", r->message);
	printf("  protocol version:    %u\n", r->version);
	printf("  capabilities:        %s\n", caps);
	printf("  rounds:              %u%s\n", r->rounds,
	       r->forced ? " (switched over without converging)" : "");
	printf("  kmig bytes:          %llu (%.1f MB), %llu pages, %llu zero\n",
	       (unsigned long long)r->bytes, r->bytes / 1e6,
	       (unsigned long long)r->pages, (unsigned long long)r->zero_pages);
	if (!strcmp(a->role, "source")) {
		printf("  QEMU bytes:          %llu (device state)\n",
		       (unsigned long long)qemu_bytes);
		if (!r->status) {
			printf("  downtime:            %.1f ms (QEMU's STOP to the destination's resume)\n",
			       downtime_ms);
			printf("    QEMU parked %.1f, final round to READY %.1f, device state %.1f, GO to ACK %.1f ms\n",
			       (a->parked_us - a->stop_us) / 1e3,
			       (a->ready_us - a->parked_us) / 1e3,
			       (a->device_us - a->ready_us) / 1e3,
			       (a->ack_us - a->device_us) / 1e3);
		}
		printf("  source QEMU:         %s\n", a->qemu_status);
	}
	printf("  total time:          %.1f ms\n", r->total_ns / 1e6);
	printf("  agent CPU:           %.1f ms\n", cpu_ms());
	fflush(stdout);
}

struct common_opts {
	const char *qmp, *key, *vm_id;
	uint32_t proto_min, proto_max;
	bool json;
};

/* An option both send and receive take; false if its value is bad. */
static bool parse_common(int c, struct common_opts *co,
			 struct kmig_migrate_params *prm)
{
	uint32_t v;
	int ms;

	switch (c) {
	case 'q':
		co->qmp = optarg;
		return true;
	case 'k':
		co->key = optarg;
		return true;
	case 'i':
		co->vm_id = optarg;
		return true;
	case 'j':
		co->json = true;
		return true;
	case 'm':
	case 'M':
		if (!parse_u32(optarg, &v) || !v)
			return false;
		*(c == 'm' ? &co->proto_min : &co->proto_max) = v;
		return true;
	case 'c':
	case 'o':
		if (!parse_ms(optarg, &ms) || !ms)
			return false;
		*(c == 'c' ? &prm->confirm_timeout_ms : &prm->io_timeout_ms) = ms;
		return true;
	default:
		return false;	/* unknown: getopt said so already */
	}
}

static const struct option common_long[] = {
	{ "qmp", required_argument, NULL, 'q' },
	{ "key", required_argument, NULL, 'k' },
	{ "vm-id", required_argument, NULL, 'i' },
	{ "proto-min", required_argument, NULL, 'm' },
	{ "proto-max", required_argument, NULL, 'M' },
	{ "json", no_argument, NULL, 'j' },
	{ "confirm-timeout", required_argument, NULL, 'c' },
	{ "io-timeout", required_argument, NULL, 'o' },
};

#define COMMON_OPTS	(sizeof(common_long) / sizeof(common_long[0]))

/* @all gets the options both agents take, then a command's own @extra. */
static void merge_opts(struct option *all, const struct option *extra,
		       size_t extra_size)
{
	memcpy(all, common_long, sizeof(common_long));
	memcpy(all + COMMON_OPTS, extra, extra_size);
}

/*
 * What both agents do first: the key, QMP, the guest's RAM, /dev/kmig.
 * 0, or an exit status after saying why; agent_end() undoes it either way.
 */
static int agent_begin(struct agent *a, const struct common_opts *co,
		       const char *who, struct kmig_key *key,
		       struct kmig_hs_opts *hs, int *dev)
{
	a->json = co->json;
	a->qmp.fd = -1;
	*dev = -1;
	if (co->key) {
		if (kmigctl_load_key(co->key, key))
			return EXIT_ENV;
		hs->key = key;
	}
	if (qmp_open(&a->qmp, co->qmp, who, QMP_TIMEOUT_MS)) {
		errmsg("%s", a->qmp.error);
		return EXIT_ENV;
	}
	if (find_ram(a))
		return EXIT_ENV;
	*dev = open_device();
	return *dev < 0 ? EXIT_ENV : 0;
}

static void agent_end(struct agent *a, int dev, const struct common_opts *co,
		      struct kmig_key *key)
{
	close_ram(a);
	qmp_close(&a->qmp);
	if (dev >= 0)
		close(dev);
	if (co->key)
		kmig_key_clear(key);
}

static void usage_qemu(FILE *f)
{
	fprintf(f,
		"usage: %s qemu send --qmp SOCKET --to HOST:PORT --qemu-uri URI --vm-id ID [options]\n"
		"       %s qemu receive --qmp SOCKET --listen [ADDR:]PORT --vm-id ID [options]\n"
		"       %s qemu qmp --qmp SOCKET COMMAND [ARGUMENTS-JSON]\n"
		"       %s qemu qmp --qmp SOCKET --wait-event STOP|RESUME\n"
		"\n"
		"Migrate a stock QEMU guest whose RAM is on kmig files (memory-backend-file\n"
		"on a kmig file system, share=on): kmig moves the RAM, QEMU its device state.\n"
		"Documentation/qemu.rst has the QEMU options.\n"
		"\n"
		"both:\n"
		"  --qmp SOCKET          the QEMU's QMP unix socket\n"
		"  --vm-id ID            the guest's name; both sides must agree\n"
		"  --key FILE            pre-shared key of the handshake (mode 0600)\n"
		"  --proto-min N, --proto-max N   narrow the protocol versions offered\n"
		"  --confirm-timeout MS  switch-over messages (default 30000)\n"
		"  --io-timeout MS       a stalled stream fails after this (default 30000)\n"
		"  --json                one JSON object per line on stdout\n"
		"send:\n"
		"  --to HOST:PORT        the destination agent\n"
		"  --qemu-uri URI        where the destination QEMU listens (tcp:HOST:PORT)\n"
		"  --downtime MS         switch over below this expected downtime (300)\n"
		"  --max-rounds N, --max-time MS, --policy fail|force, --bw BYTES/S\n"
		"receive:\n"
		"  --listen [ADDR:]PORT  where kmig's stream comes in\n"
		"  --qemu-incoming URI   send QEMU migrate-incoming URI (QEMU started with\n"
		"                        -incoming defer); without it QEMU already listens\n"
		"  --accept-timeout MS, --max-rejects N   bound the wait for the source\n"
		"  --on-failure quit|keep  what happens to the destination QEMU (quit)\n"
		"\n"
		"Exit status: 0 migrated, 1 failed (the source guest runs on), 2 usage,\n"
		"3 environment, 4 outcome unknown (neither side resumed the guest).\n"
		"qmp runs one QMP command and prints its return as JSON (exit 1 if QEMU\n"
		"refused it), or waits up to 60 s for an event and prints QEMU's time of\n"
		"it in microseconds.\n",
		prog, prog, prog, prog);
}

/* Stop the destination QEMU after a failed migration, unless kept. */
static void destination_discard(struct agent *a, bool keep)
{
	if (keep) {
		say(a, "the destination QEMU stays paused (--on-failure keep)");
		return;
	}
	if (a->qmp.closed)
		return;
	if (qmp_call(&a->qmp, "quit", NULL, NULL, QMP_TIMEOUT_MS) &&
	    !a->qmp.closed)
		say(a, "could not quit the destination QEMU: %s", a->qmp.error);
	else
		say(a, "the destination QEMU was quit");
}

/*
 * While the stream comes in, QEMU dying must end it: then the source keeps
 * its guest. The watcher only polls the QMP socket for a hang-up; the main
 * thread alone reads it.
 */
static void *watch_qemu(void *arg)
{
	struct agent *a = arg;
	struct pollfd pfd[2] = {
		{ .fd = a->qmp.fd, .events = POLLRDHUP },
		{ .fd = a->watch_pipe[0], .events = POLLIN },
	};

	while (poll(pfd, 2, -1) < 0 && errno == EINTR)
		;
	if (pfd[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
		say(a, "the destination QEMU went away: aborting the incoming stream");
		shutdown(a->data_sock, SHUT_RDWR);
	}
	return NULL;
}

static void watch_stop(struct agent *a)
{
	if (!a->watching)
		return;
	if (write(a->watch_pipe[1], "x", 1) < 0)
		pthread_cancel(a->watcher);
	pthread_join(a->watcher, NULL);
	close(a->watch_pipe[0]);
	close(a->watch_pipe[1]);
	a->watching = false;
}


/* GO came: QEMU's incoming migration must be complete, then it may run. */
static int destination_resume(void *opaque)
{
	static const char *const end[] = { "completed", "failed", "cancelled",
					   NULL };
	struct agent *a = opaque;
	char st[QMP_STATUS_MAX];
	uint64_t before = a->qmp.resume_us;
	int ret;

	watch_stop(a);
	ret = qmp_wait_migration(&a->qmp, end, st, sizeof(st), 60000);
	if (!ret && strcmp(st, "completed")) {
		snprintf(a->qmp.error, sizeof(a->qmp.error),
			 "QEMU's incoming migration ended '%s'", st);
		ret = -EIO;
	}
	if (!ret)
		ret = qmp_call(&a->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS);
	if (!ret)
		ret = qmp_wait_event_time(&a->qmp, true, before, &a->resume_us,
					  QMP_TIMEOUT_MS);
	if (ret) {
		say(a, "%s", a->qmp.error);
		return ret;
	}
	say(a, "the guest runs here");
	return 0;
}

/*
 * The destination QEMU must be waiting for an incoming migration, and must
 * not start the guest when it completes: only GO may. "stop" during an
 * incoming migration does exactly that (it clears QEMU's autostart), so -S
 * is not needed.
 */
static int destination_prepare(struct agent *a)
{
	struct json_object *r;
	const char *st;
	int ret;

	ret = qmp_call(&a->qmp, "query-status", NULL, &r, QMP_TIMEOUT_MS);
	if (ret)
		return ret;
	st = json_object_get_string(json_object_object_get(r, "status"));
	if (!st || strcmp(st, "inmigrate")) {
		snprintf(a->qmp.error, sizeof(a->qmp.error),
			 "the destination QEMU is '%s', not waiting for a migration: start it with -incoming defer",
			 st ? st : "?");
		ret = -EINVAL;
	}
	json_object_put(r);
	if (!ret)
		ret = qmp_call(&a->qmp, "stop", NULL, NULL, QMP_TIMEOUT_MS);
	return ret;
}

static int no_pause(void *opaque)
{
	(void)opaque;
	return 0;
}

static int qemu_send(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "to", required_argument, NULL, 't' },
		{ "qemu-uri", required_argument, NULL, 'u' },
		{ "downtime", required_argument, NULL, 'd' },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "max-time", required_argument, NULL, 'T' },
		{ "policy", required_argument, NULL, 'p' },
		{ "bw", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const caps[] = { "x-ignore-shared",
					    "pause-before-switchover",
					    "events", NULL };
	struct option longopts[COMMON_OPTS + sizeof(extra) / sizeof(extra[0])];
	struct agent a = { .role = "source" };
	struct common_opts co = { 0 };
	KMIG_MIGRATE_PARAMS(prm, .confirm_timeout_ms = 30000,
			    .before_go = source_continue);
	KMIG_HS_OPTS(hs_opts, .timeout_ms = 10000);
	struct kmig_migrate_ops ops = {
		.pause = source_pause, .resume = source_resume,
		.progress = on_progress,
	};
	struct kmig_migrate_result res = { 0 };
	struct kmig_hs_result hs;
	struct kmig_offer offer;
	struct kmig_key key;
	struct json_object *r;
	char peer[128], st[QMP_STATUS_MAX];
	const char *to = NULL;
	uint64_t qemu_bytes = 0;
	double downtime_ms = 0;
	int dev = -1, sock = -1, c, ret, fds[QEMU_MAX_RAM];

	merge_opts(longopts, extra, sizeof(extra));
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 't': to = optarg; break;
		case 'u': a.qemu_uri = optarg; break;
		case 'd':
			if (!parse_u32(optarg, &prm.downtime_ms) || !prm.downtime_ms)
				goto usage;
			break;
		case 'r':
			if (!parse_u32(optarg, &prm.max_rounds) || !prm.max_rounds)
				goto usage;
			break;
		case 'T':
			if (!parse_u32(optarg, &prm.max_time_ms))
				goto usage;
			break;
		case 'p':
			if (!strcmp(optarg, "fail"))
				prm.policy = KMIG_MIGRATE_FAIL;
			else if (!strcmp(optarg, "force"))
				prm.policy = KMIG_MIGRATE_FORCE;
			else
				goto usage;
			break;
		case 'b':
			if (!parse_size(optarg, &prm.bw_limit))
				goto usage;
			break;
		case 'h':
			usage_qemu(stdout);
			return 0;
		default:
			if (!parse_common(c, &co, &prm))
				goto usage;
		}
	}
	if (optind != argc || !co.qmp || !to || !a.qemu_uri || !co.vm_id)
		goto usage;
	a.hold = getenv("KMIG_TEST_QEMU_HOLD");
	ret = agent_begin(&a, &co, "the source QEMU", &key, &hs_opts, &dev);
	if (ret)
		goto out;
	ret = EXIT_ENV;
	if (qmp_migration_status(&a.qmp, st, sizeof(st)) ||
	    !strcmp(st, "active") || !strcmp(st, "pre-switchover") ||
	    !strcmp(st, "setup") || !strcmp(st, "device")) {
		say(&a, "QEMU is already migrating (%s)", a.qmp.error[0] ? a.qmp.error : st);
		goto out;
	}
	if (qmp_set_caps(&a.qmp, caps, true)) {
		say(&a, "%s", a.qmp.error);
		goto out;
	}
	if (build_offer(&a, dev, co.proto_min, co.proto_max, co.vm_id, &offer))
		goto out;
	for (unsigned int i = 0; i < a.nr_ram; i++) {
		fds[i] = a.ram[i].fd;
		say(&a, "RAM %s: %s, %llu MiB", a.ram[i].id, a.ram[i].path,
		    (unsigned long long)(a.ram[i].size >> 20));
	}
	sock = kmigctl_connect(to, 10000, peer, sizeof(peer));
	if (sock < 0) {
		ret = -sock;
		goto out;
	}
	ret = EXIT_REFUSED;
	if (kmig_handshake_source(sock, &offer, &hs_opts, &hs)) {
		say(&a, "handshake refused (%s): %s", kmig_hs_reason_name(hs.reason),
		    hs.message);
		goto out;
	}
	say(&a, "handshake with %s: protocol %u, capabilities %#llx%s", peer,
	    hs.version, (unsigned long long)hs.caps,
	    hs.authenticated ? ", authenticated" : "");
	ret = kmig_migrate_source(dev, sock, &hs, fds, a.nr_ram, &prm, &ops, &a,
				  &res);
	if (!ret && !qmp_call(&a.qmp, "query-migrate", NULL, &r, QMP_TIMEOUT_MS)) {
		qemu_bytes = json_object_get_int64(json_object_object_get(
			json_object_object_get(r, "ram"), "transferred"));
		json_object_put(r);
	}
	a.ack_us = wall_us();
	if (!ret)
		downtime_ms = (a.ack_us - a.stop_us) / 1e3;
	if (!qmp_call(&a.qmp, "query-status", NULL, &r, QMP_TIMEOUT_MS)) {
		snprintf(a.qemu_status, sizeof(a.qemu_status), "%s",
			 json_object_get_string(json_object_object_get(r, "status")));
		json_object_put(r);
	}
	print_summary(&a, &res, qemu_bytes, downtime_ms);
	if (ret == KMIG_MIGRATE_OUTCOME_UNKNOWN)
		ret = 4;
	else
		ret = ret ? EXIT_REFUSED : 0;
out:
	if (sock >= 0)
		close(sock);
	agent_end(&a, dev, &co, &key);
	return ret;
usage:
	usage_qemu(stderr);
	return EXIT_USAGE;
}

static void log_reject(void *opaque, const char *peer,
		       const struct kmig_hs_result *r)
{
	say(opaque, "rejected a connection from %s (%s): %s", peer,
	    kmig_hs_reason_name(r->reason), r->message);
}

static int qemu_receive(int argc, char **argv)
{
	static const struct option extra[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "qemu-incoming", required_argument, NULL, 'I' },
		{ "accept-timeout", required_argument, NULL, 'A' },
		{ "max-rejects", required_argument, NULL, 'R' },
		{ "on-failure", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const caps[] = { "x-ignore-shared", "events", NULL };
	struct option longopts[COMMON_OPTS + sizeof(extra) / sizeof(extra[0])];
	struct agent a = { .role = "destination", .data_sock = -1 };
	struct common_opts co = { 0 };
	KMIG_MIGRATE_PARAMS(prm, .confirm_timeout_ms = 30000);
	KMIG_HS_OPTS(hs_opts, .timeout_ms = 30000);
	KMIG_LISTEN_OPTS(l_opts, .hs = &hs_opts, .on_reject = log_reject,
			 .opaque = &a);
	struct kmig_migrate_ops ops = {
		.pause = no_pause, .resume = destination_resume,
		.progress = on_progress,
	};
	struct kmig_migrate_result res = { 0 };
	struct kmig_hs_result hs;
	struct kmig_offer offer;
	struct kmig_key key;
	char where[KMIG_LISTEN_PEER_MAX], peer[KMIG_LISTEN_PEER_MAX];
	const char *listen = NULL, *incoming = NULL;
	bool keep = false;
	int dev = -1, lfd = -1, c, ret, fds[QEMU_MAX_RAM];

	merge_opts(longopts, extra, sizeof(extra));
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'I': incoming = optarg; break;
		case 'A':
			if (!parse_ms(optarg, &l_opts.accept_timeout_ms))
				goto usage;
			break;
		case 'R':
			if (!parse_u32(optarg, &l_opts.max_rejects) ||
			    !l_opts.max_rejects)
				goto usage;
			break;
		case 'f':
			if (!strcmp(optarg, "keep"))
				keep = true;
			else if (strcmp(optarg, "quit"))
				goto usage;
			break;
		case 'h':
			usage_qemu(stdout);
			return 0;
		default:
			if (!parse_common(c, &co, &prm))
				goto usage;
		}
	}
	if (optind != argc || !co.qmp || !listen || !co.vm_id)
		goto usage;
	lfd = kmig_listen_socket(listen, where, sizeof(where));
	if (lfd == -EINVAL) {
		errmsg("--listen: expected [ADDR:]PORT with a numeric address, got '%s'",
		       listen);
		return EXIT_USAGE;
	}
	if (lfd < 0) {
		errmsg("--listen %s: %s", listen, strerror(-lfd));
		return EXIT_ENV;
	}
	ret = agent_begin(&a, &co, "the destination QEMU", &key, &hs_opts, &dev);
	if (ret)
		goto out;
	ret = EXIT_ENV;
	if (destination_prepare(&a) || qmp_set_caps(&a.qmp, caps, true)) {
		say(&a, "%s", a.qmp.error);
		goto out;
	}
	if (incoming) {
		struct json_object *args = json_object_new_object();

		json_object_object_add(args, "uri", json_object_new_string(incoming));
		if (qmp_call(&a.qmp, "migrate-incoming", args, NULL, QMP_TIMEOUT_MS)) {
			say(&a, "%s", a.qmp.error);
			goto out;
		}
	}
	if (build_offer(&a, dev, co.proto_min, co.proto_max, co.vm_id, &offer))
		goto out;
	say(&a, "waiting for the source on %s", where);
	a.data_sock = kmig_listen_handshake(lfd, KMIG_HS_ROLE_DESTINATION,
					    &offer, &l_opts, &hs, peer,
					    sizeof(peer));
	close(lfd);
	lfd = -1;
	ret = EXIT_REFUSED;
	if (a.data_sock < 0) {
		say(&a, "no migration came in: %s", hs.message);
		destination_discard(&a, keep);
		goto out;
	}
	say(&a, "source %s passed the handshake: protocol %u", peer, hs.version);
	if (hs.nr_regions != a.nr_ram) {
		say(&a, "the source sends %u memory regions, this QEMU has %u backends",
		    hs.nr_regions, a.nr_ram);
		destination_discard(&a, keep);
		goto out;
	}
	for (unsigned int i = 0; i < a.nr_ram; i++) {
		if (hs.regions[i].id != i || hs.regions[i].size != a.ram[i].size) {
			say(&a, "memory region %u: the source sends %llu bytes, backend '%s' has %llu",
			    i, (unsigned long long)hs.regions[i].size, a.ram[i].id,
			    (unsigned long long)a.ram[i].size);
			destination_discard(&a, keep);
			goto out;
		}
		fds[i] = a.ram[i].fd;
	}
	if (!pipe2(a.watch_pipe, O_CLOEXEC)) {
		if (!pthread_create(&a.watcher, NULL, watch_qemu, &a))
			a.watching = true;
		else {
			close(a.watch_pipe[0]);
			close(a.watch_pipe[1]);
		}
	}
	ret = kmig_migrate_destination_params(dev, a.data_sock, &hs, fds,
					      a.nr_ram, &prm, &ops, &a, &res);
	watch_stop(&a);
	print_summary(&a, &res, 0, 0);
	if (ret == KMIG_MIGRATE_OUTCOME_UNKNOWN) {
		say(&a, "outcome unknown: the destination QEMU stays paused; ask the source side");
		ret = 4;
	} else if (ret) {
		destination_discard(&a, keep);
		ret = EXIT_REFUSED;
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (a.data_sock >= 0)
		close(a.data_sock);
	agent_end(&a, dev, &co, &key);
	return ret;
usage:
	usage_qemu(stderr);
	return EXIT_USAGE;
}

/*
 * kmigctl qemu qmp --qmp SOCKET COMMAND [ARGUMENTS]: one QMP command, its
 * "return" printed as one line of JSON (for scripts: make bench).
 * kmigctl qemu qmp --qmp SOCKET --wait-event STOP|RESUME [TIMEOUT_MS]: wait
 * for that event and print its QEMU timestamp in microseconds.
 */
static int qemu_qmp(int argc, char **argv)
{
	struct json_object *args = NULL, *r;
	struct qmp q;
	uint64_t us;
	int ret, ms = 60000;

	if (argc < 4 || argc > 5 || strcmp(argv[1], "--qmp"))
		goto usage;
	if (!strcmp(argv[3], "--wait-event")) {
		if (argc < 5 || (strcmp(argv[4], "STOP") && strcmp(argv[4], "RESUME")))
			goto usage;
		if (qmp_open(&q, argv[2], "QEMU", QMP_TIMEOUT_MS)) {
			errmsg("%s", q.error);
			return EXIT_ENV;
		}
		ret = qmp_wait_event_time(&q, !strcmp(argv[4], "RESUME"), 0, &us, ms);
		if (ret)
			errmsg("%s", q.error);
		else
			printf("%llu\n", (unsigned long long)us);
		qmp_close(&q);
		return ret ? EXIT_REFUSED : 0;
	}
	if (argc == 5) {
		args = json_tokener_parse(argv[4]);
		if (!args || !json_object_is_type(args, json_type_object)) {
			json_object_put(args);
			errmsg("qmp: ARGUMENTS must be a JSON object, got '%s'", argv[4]);
			return EXIT_USAGE;
		}
	}
	if (qmp_open(&q, argv[2], "QEMU", QMP_TIMEOUT_MS)) {
		json_object_put(args);
		errmsg("%s", q.error);
		return EXIT_ENV;
	}
	ret = qmp_call(&q, argv[3], args, &r, QMP_TIMEOUT_MS);
	if (!ret) {
		printf("%s\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
	} else {
		errmsg("%s", q.error);
	}
	qmp_close(&q);
	return ret == -EREMOTEIO ? EXIT_REFUSED : ret ? EXIT_ENV : 0;
usage:
	usage_qemu(stderr);
	return EXIT_USAGE;
}

int cmd_qemu(int argc, char **argv)
{
	/* A peer that goes away must be an error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return qemu_send(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "receive"))
		return qemu_receive(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "qmp"))
		return qemu_qmp(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_qemu(stdout);
		return 0;
	}
	usage_qemu(stderr);
	return EXIT_USAGE;
}
