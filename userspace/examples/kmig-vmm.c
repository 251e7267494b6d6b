// SPDX-License-Identifier: GPL-2.0
/*
 * kmig-vmm: a small, real KVM VMM whose guest RAM is a kmig memory object,
 * and the reference user of libkmig's migration driver.
 *
 * The guest runs in 32-bit protected mode with flat segments (set through
 * KVM_SET_SREGS, no GDT). It increments a counter at guest address 0x500,
 * writes the counter into a pseudo-random page per step, and every "batch"
 * steps executes OUT to port 0x10, where the VMM throttles it to the
 * requested rate of page writes per second.
 *
 *   kmig-vmm run --mem MIB [--rate WRITES/S] [--migrate-to ADDR:PORT]
 *                [--after SEC] [--run-for SEC] [--downtime MS]
 *                [--max-rounds N] [--max-time MS] [--policy fail|force]
 *                [--bw BYTES/S] [--key FILE] [--proto-min N] [--proto-max N]
 *                [--retry N] [--checksum] [--json]
 *   kmig-vmm incoming --listen [ADDR:]PORT [--mem MIB] [--run-for SEC]
 *                [--key FILE] [--proto-min N] [--proto-max N] [--checksum]
 *                [--accept-timeout MS] [--max-rejects N] [--json]
 *   kmig-vmm bench-track [--mem MIB] [--run-for SEC]
 *
 * incoming --listen takes a numeric IPv4 address or an IPv6 address in
 * brackets ([::1]:7000); a bare PORT listens on all IPv4 addresses. It
 * waits (libkmig's kmig_listen_handshake()) for a source that passes the
 * handshake: a connection that sends garbage, stays silent, has another key
 * or none, or names another VM is logged and closed, and the next one is
 * accepted, up to --max-rejects (default 16) rejected connections and
 * --accept-timeout (default: no bound) in all.
 *
 * --baseline[=kvm|softdirty] (run and incoming) migrates without kmig, for
 * comparison: anonymous guest RAM, KVM's dirty log (or soft-dirty page
 * table bits) and userspace send()/recv(), with the same convergence rule
 * and limits.
 *
 * bench-track (make bench) runs the same unthrottled guest four ways and
 * harvests its dirty pages every 100 ms: on kmig memory untracked, on kmig
 * memory with kmig's tracking, on anonymous memory with KVM's own dirty log
 * (KVM_MEM_LOG_DIRTY_PAGES + KVM_GET_DIRTY_LOG, which re-protects), and on
 * anonymous memory with soft-dirty (the two baselines' trackers).
 *
 * --crash-after-round N (testing) makes the VMM kill itself with SIGKILL
 * once round N is reported, to test failures at a known point.
 *
 * Guest RAM is created with KMIG_MEM_CREATE_LARGE (64 KiB folios) when the
 * module has it; --small-pages creates it from single pages.
 *
 * --checksum offers KMIG_CAP_CHECKSUM (a CRC per record, at the cost of a
 * copy on the sender); it is used only if both sides offer it.
 * --proto-min/--proto-max narrow the versions offered in the handshake to
 * those of the module that lie in the range. --retry tries a failed migration
 * again, to the same address, up to N more times.
 *
 * Exit status: 0 on success; 1 on failure. A source whose migration failed
 * keeps its guest running for --run-for seconds and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/kvm.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libkmig.h"

#define COUNTER_GPA	0x500
#define NPAGES_GPA	0x600
#define BATCH_GPA	0x604
#define CODE_GPA	0x1000
#define IO_PORT		0x10
#define STATE_MAGIC	0x4b564d31	/* "KVM1" */

/*
 * The guest. ebx = pages, esi = steps per OUT. Pages 0 and 1 (counter and
 * code) are never the target of the data writes.
 */
extern const unsigned char guest_code[], guest_code_end[];
asm(".pushsection .rodata\n"
    "guest_code:\n"
    ".code32\n"
    "	mov 0x600, %ebx\n"
    "	mov 0x604, %esi\n"
    "1:	mov %esi, %ecx\n"
    "2:	mov 0x500, %eax\n"
    "	inc %eax\n"
    "	mov %eax, 0x500\n"
    "	imul $0x9e3779b1, %eax, %eax\n"
    "	xor %edx, %edx\n"
    "	div %ebx\n"
    "	cmp $2, %edx\n"
    "	jae 3f\n"
    "	add $2, %edx\n"
    "3:	shl $12, %edx\n"
    "	mov 0x500, %eax\n"
    "	mov %eax, (%edx)\n"
    "	not %eax\n"
    "	mov %eax, 4(%edx)\n"
    "	dec %ecx\n"
    "	jnz 2b\n"
    "	out %al, $0x10\n"
    "	jmp 1b\n"
    ".code64\n"
    "guest_code_end:\n"
    ".popsection\n");

/* Device state sent in the stream: the vCPU and a checksum of RAM. */
struct vm_state {
	uint32_t magic;
	uint32_t pad;
	uint64_t ram_hash;
	uint64_t counter;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

struct vm {
	int kvm, vm, vcpu, dev, mem;
	size_t ram_size;
	uint8_t *ram;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* vCPU control: want_pause is set, then the thread is kicked. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want_pause, paused, quit;
	uint64_t rate;		/* page writes per second, 0 = unthrottled */
	uint64_t batch;
	uint64_t exits;
	uint64_t start_ns, start_counter;
	bool json;
	const char *name;
	uint64_t dest_hash;	/* destination: hash received */
	uint32_t crash_after;	/* testing: SIGKILL itself at this round */
	bool dirty_log;		/* bench-track: anonymous RAM, KVM dirty log */
	bool soft_dirty;	/* private anonymous RAM without THP */
	bool anon;		/* --baseline: private anonymous RAM */
};

static bool small_pages;	/* --small-pages: no KMIG_MEM_CREATE_LARGE */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * A line for the operator: as it is, or with --json as a "log" event, so
 * that every line on stdout is one JSON object.
 */
static void __attribute__((format(printf, 2, 3)))
say(const struct vm *v, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!v->json) {
		printf("%s: %s\n", v->name, msg);
	} else {
		printf("{\"event\":\"log\",\"host\":\"%s\",\"message\":\"", v->name);
		for (const char *c = msg; *c; c++) {
			if (*c == '"' || *c == '\\')
				printf("\\%c", *c);
			else if ((unsigned char)*c < 0x20)
				printf("\\u%04x", *c);
			else
				putchar(*c);
		}
		printf("\"}\n");
	}
	fflush(stdout);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "kmig-vmm: %s: %s\n", what, strerror(err));
	exit(1);
}

static uint64_t ram_hash(const struct vm *v)
{
	uint64_t h = 1469598103934665603ULL;
	const uint64_t *p = (const uint64_t *)v->ram;

	for (size_t i = 0; i < v->ram_size / 8; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static uint32_t counter(const struct vm *v)
{
	return *(volatile uint32_t *)(v->ram + COUNTER_GPA);
}

static void kick(int sig)
{
	(void)sig;
}

static void *vcpu_thread(void *arg)
{
	struct vm *v = arg;
	uint64_t t0 = now_ns(), done = 0;

	for (;;) {
		pthread_mutex_lock(&v->lock);
		while (v->want_pause && !v->quit) {
			v->paused = true;
			pthread_cond_broadcast(&v->cond);
			pthread_cond_wait(&v->cond, &v->lock);
		}
		v->paused = false;
		if (v->quit) {
			pthread_mutex_unlock(&v->lock);
			return NULL;
		}
		pthread_mutex_unlock(&v->lock);

		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR) {
				v->run->immediate_exit = 0;
				continue;
			}
			die("KVM_RUN", errno);
		}
		if (v->run->exit_reason != KVM_EXIT_IO ||
		    v->run->io.port != IO_PORT) {
			struct kvm_regs r = { 0 };

			/* What the guest did, for the report: rare, and so far
			 * only under nested virtualization in TCG. */
			ioctl(v->vcpu, KVM_GET_REGS, &r);
			fprintf(stderr, "kmig-vmm: unexpected exit %u at rip %#llx",
				v->run->exit_reason, (unsigned long long)r.rip);
			if (v->run->exit_reason == KVM_EXIT_MMIO)
				fprintf(stderr, " (MMIO %s of %u bytes at %#llx)",
					v->run->mmio.is_write ? "write" : "read",
					v->run->mmio.len,
					(unsigned long long)v->run->mmio.phys_addr);
			fprintf(stderr, "\n");
			exit(1);
		}
		v->exits++;
		/* Throttle: batch writes went by; sleep to keep the rate. */
		done += v->batch;
		if (v->rate) {
			uint64_t due = t0 + done * 1000000000ULL / v->rate;
			uint64_t now = now_ns();

			if (due > now + 1000000000ULL)
				t0 = now - done * 1000000000ULL / v->rate;
			else if (due > now)
				usleep((due - now) / 1000);
		}
	}
}

static void vcpu_start(struct vm *v)
{
	v->start_ns = now_ns();
	v->start_counter = counter(v);
	if (pthread_create(&v->thread, NULL, vcpu_thread, v))
		die("pthread_create", errno);
	v->thread_started = true;
}

static int vm_pause(void *opaque)
{
	struct vm *v = opaque;

	pthread_mutex_lock(&v->lock);
	v->want_pause = true;
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, SIGUSR1);
	while (!v->paused)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static int vm_resume(void *opaque)
{
	struct vm *v = opaque;

	if (!v->thread_started) {
		vcpu_start(v);
		return 0;
	}
	pthread_mutex_lock(&v->lock);
	v->want_pause = false;
	v->run->immediate_exit = 0;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static int vm_save(void *opaque, void *buf, size_t cap, size_t *len)
{
	struct vm *v = opaque;
	struct vm_state *st = buf;

	if (cap < sizeof(*st))
		return -ENOSPC;
	memset(st, 0, sizeof(*st));
	st->magic = STATE_MAGIC;
	if (ioctl(v->vcpu, KVM_GET_REGS, &st->regs) ||
	    ioctl(v->vcpu, KVM_GET_SREGS, &st->sregs))
		return -errno;
	st->counter = counter(v);
	st->ram_hash = ram_hash(v);
	*len = sizeof(*st);
	if (v->json)
		printf("{\"event\":\"paused\",\"counter\":%llu,\"ram_hash\":\"%016llx\"}\n",
		       (unsigned long long)st->counter,
		       (unsigned long long)st->ram_hash);
	else
		printf("%s: guest paused at counter %llu, memory checksum %016llx\n",
		       v->name, (unsigned long long)st->counter,
		       (unsigned long long)st->ram_hash);
	fflush(stdout);
	return 0;
}

static int vm_load(void *opaque, const void *buf, size_t len)
{
	struct vm *v = opaque;
	const struct vm_state *st = buf;
	uint64_t h;

	if (len != sizeof(*st) || st->magic != STATE_MAGIC)
		return -EPROTO;
	h = ram_hash(v);
	v->dest_hash = h;
	if (h != st->ram_hash || counter(v) != st->counter) {
		fprintf(stderr, "%s: memory checksum %016llx differs from the source's %016llx\n",
			v->name, (unsigned long long)h,
			(unsigned long long)st->ram_hash);
		return -EBADMSG;
	}
	if (ioctl(v->vcpu, KVM_SET_SREGS, &st->sregs) ||
	    ioctl(v->vcpu, KVM_SET_REGS, &st->regs))
		return -errno;
	if (v->json)
		printf("{\"event\":\"loaded\",\"counter\":%llu,\"ram_hash\":\"%016llx\",\"checksum_match\":true}\n",
		       (unsigned long long)st->counter, (unsigned long long)h);
	else
		printf("%s: memory checksum %016llx matches the source; guest resumes at counter %llu\n",
		       v->name, (unsigned long long)h,
		       (unsigned long long)st->counter);
	fflush(stdout);
	return 0;
}

static void vm_progress(void *opaque, const struct kmig_migrate_progress *p)
{
	struct vm *v = opaque;

	if (v->crash_after && p->round >= v->crash_after) {
		say(v, "crashing on purpose after round %u", p->round);
		fflush(stdout);
		raise(SIGKILL);
	}
	if (v->json) {
		printf("{\"event\":\"progress\",\"round\":%u,\"final\":%u,\"remaining_pages\":%llu,\"bytes\":%llu,\"bandwidth\":%llu,\"expected_downtime_ms\":%.1f}\n",
		       p->round, p->final,
		       (unsigned long long)p->remaining_pages,
		       (unsigned long long)p->bytes,
		       (unsigned long long)p->bandwidth,
		       p->expected_downtime_ns == UINT64_MAX ? -1.0 :
		       p->expected_downtime_ns / 1e6);
	} else if (isatty(STDOUT_FILENO)) {
		printf("\r%s: round %3u %s| %8llu pages left | %7.1f MB/s | expected downtime %7.1f ms   %s",
		       v->name, p->round, p->final ? "final " : "      ",
		       (unsigned long long)p->remaining_pages,
		       p->bandwidth / 1e6, p->expected_downtime_ns / 1e6,
		       p->final ? "\n" : "");
	} else {
		printf("%s: round %u%s: %llu pages left, %.1f MB/s, expected downtime %.1f ms, %.1f MB sent\n",
		       v->name, p->round, p->final ? " (final)" : "",
		       (unsigned long long)p->remaining_pages,
		       p->bandwidth / 1e6, p->expected_downtime_ns / 1e6,
		       p->bytes / 1e6);
	}
	fflush(stdout);
}

static void vm_create(struct vm *v, size_t ram_size)
{
	struct kvm_userspace_memory_region region = { .slot = 0 };
	struct sigaction sa = { .sa_handler = kick };
	struct kmig_mem_create mc = { .size = sizeof(mc) };
	struct kmig_info info;
	int mmap_size;

	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	v->ram_size = ram_size;
	v->dev = kmig_open();
	if (v->dev < 0)
		die("/dev/kmig (is the module loaded?)", -v->dev);
	mc.mem_size = ram_size;
	/* 64 KiB folios where the module has them: fewer, larger fragments */
	if (!small_pages && !kmig_query(v->dev, &info) &&
	    (info.features & KMIG_FEAT_MEM_LARGE))
		mc.flags = KMIG_MEM_CREATE_LARGE;
	v->mem = ioctl(v->dev, KMIG_MEM_CREATE, &mc);
	if (v->mem < 0)
		die("KMIG_MEM_CREATE", errno);
	if (v->dirty_log) {
		v->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		region.flags = KVM_MEM_LOG_DIRTY_PAGES;
	} else if (v->anon || v->soft_dirty) {
		v->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (v->ram != MAP_FAILED && v->soft_dirty &&
		    madvise(v->ram, ram_size, MADV_NOHUGEPAGE))
			die("MADV_NOHUGEPAGE", errno);
	} else {
		v->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, v->mem, 0);
	}
	if (v->ram == MAP_FAILED)
		die("mmap guest RAM", errno);
	/*
	 * Map all of guest RAM now, as a VMM does before its guest runs: a
	 * first touch (for kmig memory, the allocation of the page) belongs
	 * to start-up, not to a migration's downtime, where this VMM's
	 * checksum of guest RAM would otherwise take it.
	 */
	if (madvise(v->ram, ram_size, MADV_POPULATE_READ))
		die("MADV_POPULATE_READ", errno);

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0)
		die("/dev/kvm", errno);
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0)
		die("KVM_CREATE_VM", errno);
	region.memory_size = ram_size;
	region.userspace_addr = (uintptr_t)v->ram;
	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION", errno);
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0)
		die("KVM_CREATE_VCPU", errno);
	mmap_size = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	v->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu, 0);
	if (v->run == MAP_FAILED)
		die("mmap kvm_run", errno);
}

/* A fresh guest: code, configuration, flat 32-bit segments. */
static void vm_boot(struct vm *v, uint32_t batch)
{
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 11,
		.present = 1, .db = 1, .s = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = CODE_GPA, .rflags = 2 };

	memcpy(v->ram + CODE_GPA, guest_code, guest_code_end - guest_code);
	*(uint32_t *)(v->ram + NPAGES_GPA) = v->ram_size / 4096;
	*(uint32_t *)(v->ram + BATCH_GPA) = batch;
	if (ioctl(v->vcpu, KVM_GET_SREGS, &sregs))
		die("KVM_GET_SREGS", errno);
	data.type = 3;
	data.selector = 0x10;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.cr0 |= 1;		/* protected mode, no paging */
	if (ioctl(v->vcpu, KVM_SET_SREGS, &sregs) ||
	    ioctl(v->vcpu, KVM_SET_REGS, &regs))
		die("set vCPU registers", errno);
}

/* Report the guest's progress for a while; fail if the counter stalls. */
static int watch(struct vm *v, double seconds)
{
	uint64_t end = now_ns() + seconds * 1e9;
	uint32_t last = counter(v);
	int stalls = 0;

	while (now_ns() < end) {
		uint32_t c;

		usleep(500 * 1000);
		c = counter(v);
		if (v->json)
			printf("{\"event\":\"counter\",\"value\":%u}\n", c);
		else
			printf("%s: guest counter %u\n", v->name, c);
		fflush(stdout);
		stalls = c == last ? stalls + 1 : 0;
		if (stalls >= 4) {
			fprintf(stderr, "%s: the guest counter does not move\n",
				v->name);
			return -1;
		}
		last = c;
	}
	return 0;
}

static int load_key(const char *path, struct kmig_key *key)
{
	struct stat st;
	int ret;

	if (!path)
		return 0;
	ret = kmig_load_key_file(path, key);
	/* libkmig refuses a key group or others can access (mode & 077). */
	if (ret == -EACCES && !stat(path, &st) && (st.st_mode & 077)) {
		fprintf(stderr, "kmig-vmm: key file %s: accessible by group or others (mode %04o), refused: chmod 600 %s\n",
			path, (unsigned int)(st.st_mode & 07777), path);
		exit(1);
	}
	if (ret)
		die(path, -ret);
	return 1;
}

static bool checksum;
static uint32_t crash_after;
/* --legacy-confirm: behave like libkmig before the commit protocol */
static bool legacy_confirm;

static void build_offer(struct vm *v, struct kmig_offer *o, uint32_t proto_min,
			uint32_t proto_max, bool source)
{
	struct kmig_info info;
	int ret;

	ret = kmig_query(v->dev, &info);
	if (ret)
		die("KMIG_GET_INFO", -ret);
	if (proto_min > info.proto_min)
		info.proto_min = proto_min;
	if (info.proto_min > info.proto_max)
		die("--proto-min is above what the module speaks", EINVAL);
	ret = kmig_offer_from_info(&info, o);
	/* Checksums cost the zero-copy path: only when asked for. */
	if (!ret)
		ret = kmig_offer_narrow(o, proto_max,
					(checksum ? ~0ULL : ~KMIG_CAP_CHECKSUM) &
					(legacy_confirm ? ~KMIG_HS_CAP_COMMIT :
					 ~0ULL));
	/* Device state travels as a blob. */
	if (!ret)
		ret = kmig_offer_require(o, KMIG_CAP_BLOBS);
	if (!ret && source)
		ret = kmig_offer_add_region(o, 0, v->ram_size);
	if (!ret)
		ret = kmig_offer_set_identity(o, source ? "host-a" : "host-b",
					      "kmig-demo-vm");
	if (ret)
		die("building the handshake offer", -ret);
}

static void print_summary(struct vm *v, const struct kmig_migrate_result *r,
			  bool source)
{
	char caps[128];

	kmig_caps_format(r->caps, caps, sizeof(caps));
	if (v->json) {
		printf("{\"event\":\"summary\",\"role\":\"%s\",\"status\":%d,\"message\":\"%s\",\"version\":%u,\"caps\":\"%s\",\"rounds\":%u,\"forced\":%u,\"bytes\":%llu,\"pages\":%llu,\"zero_pages\":%llu,\"total_ms\":%.1f,\"expected_downtime_ms\":%.1f,\"downtime_ms\":%.1f}\n",
		       source ? "source" : "destination", r->status, r->message,
		       r->version, caps, r->rounds, r->forced,
		       (unsigned long long)r->bytes,
		       (unsigned long long)r->pages,
		       (unsigned long long)r->zero_pages, r->total_ns / 1e6,
		       r->expected_downtime_ns / 1e6, r->downtime_ns / 1e6);
		fflush(stdout);
		return;
	}
	printf("\n%s: migration %s\n", v->name,
	       r->status ? "FAILED" : "complete");
	if (r->status)
		printf("  reason:            %s\n", r->message);
	printf("  protocol version:  %u\n", r->version);
	printf("  capabilities:      %s\n", caps);
	printf("  rounds:            %u%s\n", r->rounds,
	       r->forced ? " (switched over without converging)" : "");
	printf("  bytes on the wire: %llu (%.1f MB)\n",
	       (unsigned long long)r->bytes, r->bytes / 1e6);
	printf("  pages, zero pages: %llu, %llu\n",
	       (unsigned long long)r->pages,
	       (unsigned long long)r->zero_pages);
	printf("  total time:        %.1f ms\n", r->total_ns / 1e6);
	if (source) {
		printf("  expected downtime: %.1f ms\n",
		       r->expected_downtime_ns / 1e6);
		printf("  actual downtime:   %.1f ms (pause to the destination's confirmation)\n",
		       r->downtime_ns / 1e6);
	}
	fflush(stdout);
}

static int connect_to(const char *target)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(target, ':');
	int s, one = 1;

	if (!colon || colon - target >= (long)sizeof(host))
		die("--migrate-to wants ADDR:PORT", EINVAL);
	memcpy(host, target, colon - target);
	host[colon - target] = 0;
	addr.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		die("--migrate-to address", EINVAL);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = 0; connect(s, (void *)&addr, sizeof(addr)); i++) {
		if (i == 50)
			return -errno;
		usleep(100 * 1000);
	}
	return s;
}

struct opts {
	size_t mem_mib;
	uint64_t rate;
	const char *target;
	double after, run_for;
	uint32_t proto_min, proto_max;
	unsigned int retry;
	const char *key;
	bool json;
	const char *listen;	/* incoming: [ADDR:]PORT */
	int accept_timeout_ms;	/* incoming: 0 = no bound */
	unsigned int max_rejects;	/* incoming: 0 = libkmig's default */
	bool mem_given;		/* incoming: create the guest before accepting */
	enum { BL_NONE, BL_KVM, BL_SOFTDIRTY } baseline;
};

/*
 * --baseline[=kvm|softdirty]: the same guest migrated the way a VMM does
 * without kmig; userspace sends the dirty pages with send() and the
 * destination recv()s straight into its RAM. Two trackers:
 *
 * kvm (the default), as QEMU does: guest RAM is private anonymous memory
 * (QEMU's default backend, transparent huge pages allowed) registered with
 * KVM_MEM_LOG_DIRTY_PAGES; KVM_GET_DIRTY_LOG returns and re-protects the
 * pages the guest dirtied. (Shared anonymous memory was used first: at
 * 100,000 writes/s uncapped, under nested SVM in TCG, its guest crashed and
 * then the test VM's kernel panicked, "corrupted stack end", in three boots
 * of three.)
 *
 * softdirty, as a VMM that tracks through the host page tables does:
 * private anonymous RAM without transparent huge pages (a huge page would
 * make one write dirty 512 pages); each harvest reads the soft-dirty bits
 * from /proc/self/pagemap and clears them with "4" > /proc/self/clear_refs.
 * The read and the clear are two steps, and a write between them would be
 * lost, so the vCPU is paused around them: that pause is the price of
 * soft-dirty for pre-copy.
 *
 * The pre-copy rule is libkmig's: switch over when the dirty pages at the
 * measured bandwidth fit in the downtime limit, or after max_rounds (then
 * forced). Each round takes the dirty set (re-protecting it) before
 * sending, so a write racing the send is caught in the next round.
 *
 * (userfaultfd write-protect was tried too: on these 6.1 kernels under
 * nested SVM, a KVM guest on uffd-wp memory crashed with corrupted memory,
 * and once the host kernel panicked.)
 *
 * Its stream: "KBSL", the page count, then records {index, count} with
 * count pages of data; index ~0 ends a round, ~1 carries the device
 * state (count bytes), ~2 ends the stream. The destination answers one
 * byte once its guest runs.
 */
#define BL_ROUND	(~0ULL)
#define BL_STATE	(~1ULL)
#define BL_END		(~2ULL)

struct baseline {
	struct vm *v;
	bool soft_dirty;
	size_t npages, words;
	uint64_t *dirty;	/* pages owed to the destination */
	uint64_t *log;		/* KVM_GET_DIRTY_LOG's output, or pagemap's */
	int pagemap, clear_refs;	/* soft-dirty */
};

#define PM_SOFT_DIRTY	(1ULL << 55)

/* Soft-dirty: read the bits and clear them, with the vCPU paused between. */
static void bl_collect_soft_dirty(struct baseline *b)
{
	struct vm *v = b->v;
	bool running = !v->want_pause;
	size_t len = b->npages * 8;

	if (running)
		vm_pause(v);
	if (pread(b->pagemap, b->log, len, (uintptr_t)v->ram / 4096 * 8) !=
	    (ssize_t)len)
		die("/proc/self/pagemap", errno);
	if (write(b->clear_refs, "4", 1) != 1)
		die("/proc/self/clear_refs", errno);
	if (running)
		vm_resume(v);
	for (size_t i = 0; i < b->npages; i++)
		if (b->log[i] & PM_SOFT_DIRTY)
			b->dirty[i / 64] |= 1ULL << (i % 64);
}

/* Fold what was logged since the last call into the pending set. */
static void bl_collect(struct baseline *b)
{
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = b->log };

	if (b->soft_dirty) {
		bl_collect_soft_dirty(b);
		return;
	}
	if (ioctl(b->v->vm, KVM_GET_DIRTY_LOG, &log))
		die("KVM_GET_DIRTY_LOG", errno);
	for (size_t i = 0; i < b->words; i++)
		b->dirty[i] |= b->log[i];
}

static void bl_track(struct baseline *b)
{
	b->npages = b->v->ram_size / 4096;
	b->words = (b->npages + 63) / 64;
	b->dirty = calloc(b->words, 8);
	b->log = calloc(b->soft_dirty ? b->npages : b->words, 8);
	if (!b->dirty || !b->log)
		die("baseline bitmaps", ENOMEM);
	if (b->soft_dirty) {
		b->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		b->clear_refs = open("/proc/self/clear_refs",
				     O_WRONLY | O_CLOEXEC);
		if (b->pagemap < 0 || b->clear_refs < 0)
			die("soft-dirty needs /proc/self/pagemap and clear_refs",
			    errno);
	}
	/* everything is owed at the start; the log starts from here */
	bl_collect(b);
	for (size_t i = 0; i < b->npages; i++)
		b->dirty[i / 64] |= 1ULL << (i % 64);
}

static int bl_send(int sock, const void *p, size_t len)
{
	while (len) {
		ssize_t n = send(sock, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p = (const char *)p + n;
		len -= n;
	}
	return 0;
}

static int bl_record(int sock, uint64_t index, uint64_t count)
{
	uint64_t h[2] = { index, count };

	return bl_send(sock, h, sizeof(h));
}

static bool bl_zero(const uint8_t *p)
{
	for (int i = 0; i < 4096; i += 8)
		if (*(const uint64_t *)(p + i))
			return false;
	return true;
}

static bool bl_test(const struct baseline *b, size_t pg)
{
	return (b->dirty[pg / 64] >> (pg % 64)) & 1;
}

/*
 * One round: take the dirty set (KVM re-protected it), send it in runs of
 * contiguous pages, one record and one send() each, as kmig batches runs.
 * Returns bytes sent, or -1. The first round skips zero pages.
 */
static int64_t bl_round(struct baseline *b, int sock, bool first,
			uint64_t bw_limit, uint64_t *pages)
{
	uint64_t t0 = now_ns();
	int64_t bytes = 0;
	size_t pg = 0;

	*pages = 0;
	bl_collect(b);
	while (pg < b->npages) {
		size_t n = 0;

		if (!bl_test(b, pg) || (first && bl_zero(b->v->ram + pg * 4096))) {
			pg++;
			continue;
		}
		while (pg + n < b->npages && n < 256 && bl_test(b, pg + n) &&
		       !(first && bl_zero(b->v->ram + (pg + n) * 4096)))
			n++;
		if (bl_record(sock, pg, n) ||
		    bl_send(sock, b->v->ram + pg * 4096, n * 4096))
			return -1;
		bytes += 16 + n * 4096;
		*pages += n;
		pg += n;
		if (bw_limit) {
			uint64_t due = t0 + bytes * 1000000000ULL / bw_limit;
			uint64_t now = now_ns();

			if (due > now)
				usleep((due - now) / 1000);
		}
	}
	memset(b->dirty, 0, b->words * 8);
	if (bl_record(sock, BL_ROUND, 0))
		return -1;
	return bytes + 16;
}

static size_t bl_count(struct baseline *b)
{
	size_t n = 0;

	bl_collect(b);
	for (size_t i = 0; i < b->words; i++)
		n += __builtin_popcountll(b->dirty[i]);
	return n;
}

static int baseline_source(struct vm *v, struct opts *o,
			   const struct kmig_migrate_params *prm)
{
	struct baseline b = { .v = v, .soft_dirty = o->baseline == BL_SOFTDIRTY };
	uint64_t t0 = now_ns(), tp, pages, total = 0, exp_ns = 0, bw = 0;
	uint32_t rounds = 0, forced = 0, hdr[2] = { 0x4c53424b, 0 };
	char state[1024], ack;
	size_t len;
	int64_t n;
	int sock;

	sock = connect_to(o->target);
	if (sock < 0)
		return -1;
	bl_track(&b);
	hdr[1] = b.npages;
	if (bl_send(sock, hdr, sizeof(hdr)))
		return -1;
	for (;;) {
		uint64_t r0 = now_ns();

		n = bl_round(&b, sock, rounds == 0, prm->bw_limit, &pages);
		if (n < 0)
			return -1;
		total += n;
		rounds++;
		bw = n * 1000000000ULL / (now_ns() - r0 + 1);
		exp_ns = bw ? bl_count(&b) * 4112ULL * 1000000000ULL / bw : 0;
		say(v, "baseline round %u: %llu pages, %.1f MB/s, %zu dirty, expected downtime %.1f ms",
		    rounds, (unsigned long long)pages, bw / 1e6, bl_count(&b),
		    exp_ns / 1e6);
		if (exp_ns <= prm->downtime_ms * 1000000ULL)
			break;
		if (rounds >= prm->max_rounds) {
			forced = 1;
			break;
		}
	}
	tp = now_ns();
	vm_pause(v);
	n = bl_round(&b, sock, false, 0, &pages);
	if (n < 0 || vm_save(v, state, sizeof(state), &len) ||
	    bl_record(sock, BL_STATE, len) || bl_send(sock, state, len) ||
	    bl_record(sock, BL_END, 0) || recv(sock, &ack, 1, MSG_WAITALL) != 1) {
		say(v, "baseline migration failed; the guest keeps running here");
		vm_resume(v);
		return -1;
	}
	total += n + len + 32;
	rounds++;
	if (v->json)
		printf("{\"event\":\"summary\",\"role\":\"source\",\"status\":0,\"migrator\":\"baseline\",\"tracker\":\"%s\",\"rounds\":%u,\"forced\":%u,\"bytes\":%llu,\"total_ms\":%.1f,\"expected_downtime_ms\":%.1f,\"downtime_ms\":%.1f}\n",
		       b.soft_dirty ? "soft-dirty" : "kvm-dirty-log",
		       rounds, forced, (unsigned long long)total,
		       (now_ns() - t0) / 1e6, exp_ns / 1e6,
		       (now_ns() - tp) / 1e6);
	else
		printf("\n%s: baseline migration (%s) complete\n  rounds: %u%s\n  bytes on the wire: %llu\n  total time: %.1f ms\n  actual downtime: %.1f ms\n",
		       v->name, b.soft_dirty ? "soft-dirty" : "KVM dirty log",
		       rounds, forced ? " (forced)" : "",
		       (unsigned long long)total, (now_ns() - t0) / 1e6,
		       (now_ns() - tp) / 1e6);
	close(sock);
	return 0;
}

static int bl_recv(int sock, void *p, size_t len)
{
	return recv(sock, p, len, MSG_WAITALL) == (ssize_t)len ? 0 : -1;
}

/*
 * A destination's guest of @size bytes: created now, or, if it was created
 * before the migration came in (incoming --mem), checked to be the source's
 * size. 0, or 1 after saying why not.
 */
static int vm_create_or_match(struct vm *v, size_t size)
{
	if (!v->ram) {
		vm_create(v, size);
		return 0;
	}
	if (v->ram_size == size)
		return 0;
	say(v, "the source's guest has %zu bytes of RAM, this one %zu", size,
	    v->ram_size);
	return 1;
}

/* @v: the guest, already created if --mem came before the migration */
static int baseline_destination(struct opts *o, struct vm *v, int sock)
{
	uint32_t hdr[2];
	uint64_t rec[2];
	char state[1024];

	if (bl_recv(sock, hdr, sizeof(hdr)) || hdr[0] != 0x4c53424b)
		return 1;
	v->anon = true;
	if (vm_create_or_match(v, (size_t)hdr[1] * 4096))
		return 1;
	for (;;) {
		if (bl_recv(sock, rec, sizeof(rec)))
			goto incomplete;
		if (rec[0] == BL_ROUND)
			continue;
		if (rec[0] == BL_END)
			break;
		if (rec[0] == BL_STATE) {
			if (rec[1] > sizeof(state) || bl_recv(sock, state, rec[1]) ||
			    vm_load(v, state, rec[1]))
				goto incomplete;
			continue;
		}
		if (rec[0] >= hdr[1] || rec[1] > hdr[1] - rec[0] ||
		    bl_recv(sock, v->ram + rec[0] * 4096, rec[1] * 4096))
			goto incomplete;
	}
	vm_resume(v);
	if (send(sock, "k", 1, MSG_NOSIGNAL) != 1)
		return 1;
	say(v, "baseline migration received; the guest runs here");
	return watch(v, o->run_for) ? 1 : 0;
incomplete:
	say(v, "incomplete baseline stream, the guest is discarded");
	return 1;
}

static volatile sig_atomic_t operator_resume;

static void on_operator_resume(int sig)
{
	(void)sig;
	operator_resume = 1;
}

/*
 * The switch-over's outcome is unknown (Documentation/handshake.rst,
 * "Switch-over"): the guest stays paused until the operator, who can ask the
 * other side, decides. SIGUSR2 resumes it here; SIGTERM discards it.
 * Returns 0 if it runs here now.
 */
static int await_operator(struct vm *v)
{
	struct sigaction sa = { .sa_handler = on_operator_resume };

	sigaction(SIGUSR2, &sa, NULL);
	say(v, "outcome unknown: the guest stays paused here; \"kill -USR2 %d\" resumes it here, \"kill -TERM %d\" discards it",
	    (int)getpid(), (int)getpid());
	fflush(stdout);
	while (!operator_resume)
		pause();
	say(v, "resumed here by the operator");
	fflush(stdout);
	return vm_resume(v);
}

/* One attempt: connect, handshake, migrate. 0 once the guest moved. */
static int migrate_once(struct vm *v, struct opts *o,
			struct kmig_migrate_params *prm,
			const struct kmig_offer *offer,
			const struct kmig_hs_opts *hs_opts,
			const struct kmig_migrate_ops *ops)
{
	struct kmig_migrate_result res;
	struct kmig_hs_result hs;
	int sock, ret;

	sock = connect_to(o->target);
	if (sock < 0) {
		say(v, "cannot reach %s: %s", o->target, strerror(-sock));
		return -1;
	}
	ret = kmig_handshake_source(sock, offer, hs_opts, &hs);
	if (ret) {
		say(v, "handshake refused: %s", hs.message);
		close(sock);
		return ret;
	}
	say(v, "handshake: protocol %u, capabilities %#llx%s", hs.version,
	    (unsigned long long)hs.caps,
	    hs.authenticated ? ", authenticated" : "");
	ret = kmig_migrate_source(v->dev, sock, &hs, &v->mem, 1, prm, ops, v,
				  &res);
	print_summary(v, &res, true);
	close(sock);
	return ret;
}

static int cmd_run(struct opts *o, struct kmig_migrate_params *prm)
{
	struct vm v = { .name = "host-a", .json = o->json,
			.crash_after = crash_after };
	KMIG_HS_OPTS(hs_opts, .timeout_ms = 10000);
	struct kmig_migrate_ops ops = {
		.pause = vm_pause, .resume = vm_resume, .save_state = vm_save,
		.progress = vm_progress,
	};
	struct kmig_offer offer;
	struct kmig_key key;
	int ret;

	v.rate = o->rate;
	v.batch = o->rate && o->rate < 1000 ? 1 : 64;
	v.dirty_log = o->baseline == BL_KVM;
	v.soft_dirty = o->baseline == BL_SOFTDIRTY;
	vm_create(&v, o->mem_mib << 20);
	vm_boot(&v, v.batch);
	memset(v.ram + 2 * 4096, 0, 4096);	/* touch a little: the rest stays zero */
	vcpu_start(&v);
	say(&v, "guest started: %zu MiB of %s memory, %llu page writes/s",
	    o->mem_mib, o->baseline ? "anonymous" : "kmig",
	    (unsigned long long)o->rate);
	fflush(stdout);
	if (watch(&v, o->after))
		return 1;
	if (!o->target)
		return 0;
	if (o->baseline) {
		if (!baseline_source(&v, o, prm))
			return 0;
		watch(&v, o->run_for ? o->run_for : 1);
		return 1;
	}

	build_offer(&v, &offer, o->proto_min, o->proto_max, true);
	if (load_key(o->key, &key))
		hs_opts.key = &key;
	for (unsigned int attempt = 0;; attempt++) {
		ret = migrate_once(&v, o, prm, &offer, &hs_opts, &ops);
		if (!ret)
			return 0;
		if (ret == KMIG_MIGRATE_OUTCOME_UNKNOWN) {
			if (await_operator(&v))
				return 1;
			watch(&v, o->run_for ? o->run_for : 1);
			return 1;
		}
		say(&v, "the guest keeps running here");
		fflush(stdout);
		if (attempt == o->retry) {
			watch(&v, o->run_for ? o->run_for : 1);
			return 1;
		}
		if (watch(&v, 1))
			return 1;
		say(&v, "trying again");
	}
}

/* A connection that failed the handshake: one line, and the next one. */
static void log_reject(void *opaque, const char *peer,
		       const struct kmig_hs_result *r)
{
	say(opaque, "rejected a connection from %s (%s): %s", peer,
	    kmig_hs_reason_name(r->reason), r->message);
}

static int cmd_incoming(struct opts *o, const struct kmig_migrate_params *prm)
{
	struct vm v = { .name = "host-b", .json = o->json,
			.crash_after = crash_after };
	KMIG_HS_OPTS(hs_opts, .timeout_ms = 30000);
	KMIG_LISTEN_OPTS(l_opts, .hs = &hs_opts,
			 .accept_timeout_ms = o->accept_timeout_ms,
			 .max_rejects = o->max_rejects,
			 .on_reject = log_reject, .opaque = &v);
	struct kmig_migrate_ops ops = {
		.pause = vm_pause, .resume = vm_resume, .load_state = vm_load,
		.progress = vm_progress,
	};
	struct kmig_migrate_result res;
	struct kmig_hs_result hs;
	struct kmig_offer offer;
	struct kmig_key key;
	char where[KMIG_LISTEN_PEER_MAX], peer[KMIG_LISTEN_PEER_MAX];
	int l, sock, ret;

	/* First, so that a bad address is a usage error, module or not. */
	l = kmig_listen_socket(o->listen, where, sizeof(where));
	if (l == -EINVAL) {
		fprintf(stderr, "kmig-vmm: --listen: expected [ADDR:]PORT with a numeric IPv4 address or an IPv6 address in brackets ([::1]:7000), got '%s'\n",
			o->listen);
		return 2;
	}
	if (l < 0)
		die(o->listen, -l);
	v.dev = kmig_open();
	if (v.dev < 0)
		die("/dev/kmig (is the module loaded?)", -v.dev);
	build_offer(&v, &offer, o->proto_min, o->proto_max, false);
	close(v.dev);
	if (load_key(o->key, &key))
		hs_opts.key = &key;

	/* --mem: the guest exists before a migration comes in, as a VMM's does */
	if (o->mem_given) {
		v.anon = o->baseline != BL_NONE;
		vm_create(&v, o->mem_mib << 20);
	}
	say(&v, "waiting for an incoming migration on %s", where);
	fflush(stdout);
	if (o->baseline) {
		/* No handshake to tell a stranger from the source. */
		struct pollfd pfd = { .fd = l, .events = POLLIN };

		while ((sock = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				die("accept", errno);
			poll(&pfd, 1, -1);
		}
		close(l);
		return baseline_destination(o, &v, sock);
	}
	sock = kmig_listen_handshake(l, KMIG_HS_ROLE_DESTINATION, &offer,
				     &l_opts, &hs, peer, sizeof(peer));
	close(l);
	if (sock < 0) {
		if (hs.reason == KMIG_HS_TOO_MANY_REJECTS ||
		    hs.reason == KMIG_HS_ACCEPT_TIMEOUT)
			say(&v, "no incoming migration: %s", hs.message);
		else
			say(&v, "handshake refused: %s", hs.message);
		fflush(stdout);
		return 1;
	}
	say(&v, "source %s passed the handshake", peer);
	/* The layout comes from the source. */
	if (hs.nr_regions != 1) {
		say(&v, "expected one memory region, got %u", hs.nr_regions);
		return 1;
	}
	if (vm_create_or_match(&v, hs.regions[0].size))
		return 1;
	v.batch = 64;
	ret = kmig_migrate_destination_params(v.dev, sock, &hs, &v.mem, 1, prm,
					      &ops, &v, &res);
	print_summary(&v, &res, false);
	if (ret == KMIG_MIGRATE_OUTCOME_UNKNOWN && !await_operator(&v))
		ret = 0;
	if (ret)
		return 1;
	v.rate = o->rate;
	return watch(&v, o->run_for) ? 1 : 0;
}

static void vm_stop(struct vm *v)
{
	pthread_mutex_lock(&v->lock);
	v->quit = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	v->run->immediate_exit = 1;
	pthread_kill(v->thread, SIGUSR1);
	pthread_join(v->thread, NULL);
}

struct track_result {
	double writes_per_s;	/* guest page writes per second */
	double dirty_per_s;	/* distinct dirty pages reported per second */
	double harvest_ns;	/* per reported page */
};

/*
 * One way of running the guest: 0 untracked, 1 kmig, 2 KVM dirty log,
 * 3 soft-dirty.
 */
static void track_run(size_t mib, double seconds, int how,
		      struct track_result *res)
{
	struct vm v = { .name = "bench", .dirty_log = how == 2,
			.soft_dirty = how == 3 };
	struct baseline b = { .v = &v, .soft_dirty = how == 3 };
	size_t npages = (mib << 20) / 4096;
	uint64_t *bm = calloc(npages / 64 + 1, 8);
	uint64_t t0, end, dirty = 0, hns = 0;
	uint32_t c0;

	vm_create(&v, mib << 20);
	vm_boot(&v, 64);
	if (how == 1) {
		struct kmig_track t = { .size = sizeof(t) };

		if (ioctl(v.mem, KMIG_MEM_TRACK_START, &t))
			die("KMIG_MEM_TRACK_START", errno);
	}
	vcpu_start(&v);
	usleep(200 * 1000);	/* past the first touch of every page */
	if (how >= 2)
		bl_track(&b);
	c0 = counter(&v);
	t0 = now_ns();
	end = t0 + seconds * 1e9;
	while (now_ns() < end) {
		uint64_t h0;

		usleep(100 * 1000);
		h0 = now_ns();
		if (how == 1) {
			struct kmig_harvest h = {
				.size = sizeof(h), .num_pages = npages,
				.bitmap_ptr = (uintptr_t)bm,
			};

			if (ioctl(v.mem, KMIG_MEM_HARVEST, &h))
				die("KMIG_MEM_HARVEST", errno);
			dirty += h.dirty_pages;
		} else if (how >= 2) {
			/* KVM's dirty log, or soft-dirty: what the baselines do */
			memset(b.dirty, 0, b.words * 8);
			dirty += bl_count(&b);
		}
		hns += now_ns() - h0;
	}
	res->writes_per_s = (counter(&v) - c0) / ((now_ns() - t0) / 1e9);
	res->dirty_per_s = dirty / seconds;
	res->harvest_ns = dirty ? (double)hns / dirty : 0;
	vm_stop(&v);
	free(bm);
	free(b.dirty);
	free(b.log);
	if (how == 3) {
		close(b.pagemap);
		close(b.clear_refs);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_bench_track(struct opts *o)
{
	static const char *const names[] = {
		"untracked (kmig memory)", "kmig tracking",
		"KVM dirty log (anonymous memory)",
		"soft-dirty, vCPU paused to harvest (anonymous memory)",
	};
	enum { REPS = 3 };
	struct track_result r[4][REPS];
	double base = 0;

	printf("\n## KVM guest: %zu MiB, unthrottled random page writes, harvest every 100 ms, %.0f s x %d passes (min / median / max)\n\n",
	       o->mem_mib, o->run_for, REPS);
	for (int i = 0; i < REPS; i++)
		for (int how = 0; how < 4; how++)
			track_run(o->mem_mib, o->run_for, how, &r[how][i]);

	printf("| guest memory | guest writes/s | of untracked (medians) | dirty pages/s (median) | harvest ns/page |\n");
	printf("|---|---|---|---|---|\n");
	for (int how = 0; how < 4; how++) {
		double w[REPS], d[REPS], h[REPS];

		for (int i = 0; i < REPS; i++) {
			w[i] = r[how][i].writes_per_s;
			d[i] = r[how][i].dirty_per_s;
			h[i] = r[how][i].harvest_ns;
		}
		qsort(w, REPS, sizeof(w[0]), cmp_double);
		qsort(d, REPS, sizeof(d[0]), cmp_double);
		qsort(h, REPS, sizeof(h[0]), cmp_double);
		if (!how)
			base = w[REPS / 2];
		printf("| %s | %.0f / %.0f / %.0f | %.2f | %.0f |", names[how],
		       w[0], w[REPS / 2], w[REPS - 1], w[REPS / 2] / base,
		       d[REPS / 2]);
		if (how)
			printf(" %.0f / %.0f / %.0f |\n", h[0], h[REPS / 2],
			       h[REPS - 1]);
		else
			printf(" - |\n");
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kmig-vmm run --mem MIB [--rate WRITES/S] [--migrate-to ADDR:PORT]\n"
		"                [--after SEC] [--run-for SEC] [--downtime MS]\n"
		"                [--max-rounds N] [--max-time MS] [--policy fail|force]\n"
		"                [--bw BYTES/S] [--key FILE] [--proto-min N] [--proto-max N]\n"
		"                [--retry N] [--checksum] [--json]\n"
		"                [--confirm-timeout MS] [--io-timeout MS]\n"
		"       kmig-vmm incoming --listen [ADDR:]PORT [--mem MIB] [--run-for SEC]\n"
		"                [--key FILE] [--proto-min N] [--proto-max N] [--checksum]\n"
		"                [--accept-timeout MS] [--max-rejects N] [--json]\n"
		"                [--confirm-timeout MS] [--io-timeout MS]\n"
		"       kmig-vmm bench-track [--mem MIB] [--run-for SEC]\n"
		"\n"
		"incoming --listen: ADDR is a numeric IPv4 address or an IPv6 address in\n"
		"brackets ([::1]:7000); a bare PORT listens on all IPv4 addresses. A\n"
		"connection that fails the handshake (garbage, silence, another key or\n"
		"none, another VM) is logged and closed, and the next one accepted, up to\n"
		"--max-rejects rejected connections (default %d) and --accept-timeout\n"
		"milliseconds in all (default: no bound).\n"
		"\n"
		"--confirm-timeout: how long the source waits for READY and for ACK, and\n"
		"the destination for GO (default 10000); --io-timeout: a send or receive\n"
		"that makes no progress this long fails (default 30000). If the switch-\n"
		"over's outcome is unknown, the guest stays paused: SIGUSR2 resumes it\n"
		"here, SIGTERM discards it (Documentation/handshake.rst).\n",
		KMIG_LISTEN_DEFAULT_MAX_REJECTS);
}

/* A decimal count, 0..max. */
static bool parse_count(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "rate", required_argument, NULL, 'r' },
		{ "migrate-to", required_argument, NULL, 't' },
		{ "after", required_argument, NULL, 'a' },
		{ "run-for", required_argument, NULL, 'f' },
		{ "downtime", required_argument, NULL, 'd' },
		{ "max-rounds", required_argument, NULL, 'n' },
		{ "max-time", required_argument, NULL, 'T' },
		{ "policy", required_argument, NULL, 'p' },
		{ "bw", required_argument, NULL, 'b' },
		{ "key", required_argument, NULL, 'k' },
		{ "proto-max", required_argument, NULL, 'P' },
		{ "proto-min", required_argument, NULL, 'M' },
		{ "retry", required_argument, NULL, 'R' },
		{ "checksum", no_argument, NULL, 'C' },
		{ "crash-after-round", required_argument, NULL, 'X' },
		{ "legacy-confirm", no_argument, NULL, 'Y' },
		{ "listen", required_argument, NULL, 'l' },
		{ "accept-timeout", required_argument, NULL, 'A' },
		{ "max-rejects", required_argument, NULL, 'L' },
		{ "confirm-timeout", required_argument, NULL, 'c' },
		{ "io-timeout", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "baseline", optional_argument, NULL, 'B' },
		{ "small-pages", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .mem_mib = 16, .rate = 2000, .after = 2, .run_for = 2 };
	KMIG_MIGRATE_PARAMS(prm);
	const char *cmd;
	unsigned long u;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.mem_mib = strtoul(optarg, NULL, 0);
			o.mem_given = true;
			break;
		case 'r': o.rate = strtoull(optarg, NULL, 0); break;
		case 't': o.target = optarg; break;
		case 'a': o.after = atof(optarg); break;
		case 'f': o.run_for = atof(optarg); break;
		case 'd': prm.downtime_ms = strtoul(optarg, NULL, 0); break;
		case 'n': prm.max_rounds = strtoul(optarg, NULL, 0); break;
		case 'T': prm.max_time_ms = strtoul(optarg, NULL, 0); break;
		case 'p':
			if (!strcmp(optarg, "force"))
				prm.policy = KMIG_MIGRATE_FORCE;
			else if (strcmp(optarg, "fail"))
				return 2;
			break;
		case 'b': prm.bw_limit = strtoull(optarg, NULL, 0); break;
		case 'k': o.key = optarg; break;
		case 'P': o.proto_max = strtoul(optarg, NULL, 0); break;
		case 'M': o.proto_min = strtoul(optarg, NULL, 0); break;
		case 'R': o.retry = strtoul(optarg, NULL, 0); break;
		case 'C': checksum = true; break;
		case 'X': crash_after = strtoul(optarg, NULL, 0); break;
		case 'Y': legacy_confirm = true; break;
		case 'l': o.listen = optarg; break;
		case 'A':
			if (!parse_count(optarg, INT_MAX, &u)) {
				fprintf(stderr, "kmig-vmm: --accept-timeout: expected milliseconds, got '%s'\n",
					optarg);
				return 2;
			}
			o.accept_timeout_ms = (int)u;
			break;
		case 'c':
		case 'i':
			if (!parse_count(optarg, UINT32_MAX, &u) || !u) {
				fprintf(stderr, "kmig-vmm: --%s: expected milliseconds from 1, got '%s'\n",
					c == 'c' ? "confirm-timeout" : "io-timeout",
					optarg);
				return 2;
			}
			if (c == 'c')
				prm.confirm_timeout_ms = (uint32_t)u;
			else
				prm.io_timeout_ms = (uint32_t)u;
			break;
		case 'L':
			if (!parse_count(optarg, UINT_MAX, &u) || !u) {
				fprintf(stderr, "kmig-vmm: --max-rejects: expected a number from 1, got '%s'\n",
					optarg);
				return 2;
			}
			o.max_rejects = (unsigned int)u;
			break;
		case 'j': o.json = true; break;
		case 'S': small_pages = true; break;
		case 'B':
			if (!optarg || !strcmp(optarg, "kvm"))
				o.baseline = BL_KVM;
			else if (!strcmp(optarg, "softdirty"))
				o.baseline = BL_SOFTDIRTY;
			else
				return 2;
			break;
		default: return 2;
		}
	}
	if (!o.mem_mib || o.mem_mib > 4096) {
		fprintf(stderr, "kmig-vmm: --mem must be 1..4096 MiB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "run"))
		return cmd_run(&o, &prm);
	if (!strcmp(cmd, "incoming") && o.listen)
		return cmd_incoming(&o, &prm);
	if (!strcmp(cmd, "bench-track"))
		return cmd_bench_track(&o);
	usage(stderr);
	return 2;
}
