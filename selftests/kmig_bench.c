// SPDX-License-Identifier: GPL-2.0
/*
 * kmig_bench: kmig against the alternatives, in one boot, as ratios.
 * Not a test: it asserts nothing and prints a table (make bench).
 *
 *   stream    kmig's sender vs userspace send() from the mapping, send()
 *             with MSG_ZEROCOPY, and the raw bound (one large send() of as
 *             many bytes), over loopback TCP; all dirty (contiguous) and a
 *             random 10% of pages. MB/s and sender and sink CPU s/GiB;
 *             with a sink that reads, then with one that discards.
 *   track     cost per tracked write and per re-armed page: kmig
 *             write-notify vs userfaultfd write-protect vs soft-dirty
 *             (clear_refs + pagemap), anonymous memory for the last two.
 *   harvest   time to harvest D dirty pages out of memories of growing size.
 *   zero      bytes on the wire / non-zero bytes, 0%, 50%, 90% zero.
 *
 * usage: kmig_bench [-r REPS] [-m MIB] [-n NETNS_A:NETNS_B]
 *                   [-s kmig,send,zerocopy,raw] [stream|track|harvest|zero ...]
 *
 * -s runs only the named stream senders (to profile one of them).
 *
 * -n also streams over veth between two network namespaces (paths of
 * their /proc/PID/ns/net; host a is 10.77.0.1, host b 10.77.0.2, as
 * kmig_hosts.sh makes them): the sender in a, the sink in b.
 */
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>

#include "kmig_stream.h"

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY	60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY	0x4000000
#endif

static int reps = 5;
static int veth_listener = -1;	/* in host b's namespace, with -n */
static const char *link_name = "loopback";
/*
 * The stream's sink: read() into a buffer, one copy per byte as a migration
 * destination makes; or recv(MSG_TRUNC), which TCP discards without a
 * copy, so that the senders alone bound the throughput.
 */
static bool sink_discards;
static long mib = 32;
static long ps;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stat3 {
	double min, med, max;
};

static struct stat3 stat3(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct stat3){ v[0], v[n / 2], v[n - 1] };
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- stream ---- */

struct sink {
	int fd;
	long bytes;
	double cpu;	/* the sink thread's CPU seconds */
};

/*
 * Sender and sink each on a CPU of their own (when there are two): the
 * scheduler moving them around is most of the noise of a TCG VM.
 */
static void pin_to_cpu(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *sink_thread(void *arg)
{
	struct sink *s = arg;
	static char buf[1 << 20];
	ssize_t n;

	pin_to_cpu(1);
	s->cpu = cpu_now();
	while ((n = recv(s->fd, buf, sizeof(buf),
			 sink_discards ? MSG_TRUNC : 0)) > 0)
		s->bytes += n;
	s->cpu = cpu_now() - s->cpu;
	return NULL;
}

struct run {
	long first, n;
};

static void *listen_in_b(void *path)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_port = htons(7900) };
	int ns = open(path, O_RDONLY);

	/* namespaces are per thread: only this one moves to host b */
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		die("setns into host b");
	inet_pton(AF_INET, "10.77.0.2", &addr.sin_addr);
	veth_listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(veth_listener, (void *)&addr, sizeof(addr)) ||
	    listen(veth_listener, 4))
		die("listen in host b");
	close(ns);
	return NULL;
}

/* -n A:B: this process goes to host a; a listener waits in host b. */
static void veth_setup(char *spec)
{
	char *b = strchr(spec, ':');
	pthread_t th;
	int ns;

	if (!b)
		die("-n NETNS_A:NETNS_B");
	*b++ = 0;
	pthread_create(&th, NULL, listen_in_b, b);
	pthread_join(th, NULL);
	ns = open(spec, O_RDONLY);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		die("setns into host a");
	close(ns);
}

/* A connected pair over the current link: loopback, or a -> b over veth. */
static int link_pair(int *a, int *b)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
				    .sin_port = htons(7900) };

	if (veth_listener < 0 || strcmp(link_name, "veth"))
		return tcp_pair(a, b);
	inet_pton(AF_INET, "10.77.0.2", &addr.sin_addr);
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a < 0 || connect(*a, (void *)&addr, sizeof(addr)))
		return -1;
	*b = accept4(veth_listener, NULL, NULL, SOCK_CLOEXEC);
	return *b < 0 ? -1 : 0;
}

/* The dirty set as runs: everything, or a random 10% of pages. */
static int make_runs(struct run *runs, long npages, bool sparse)
{
	unsigned int seed = 7;
	int nr = 0;

	if (!sparse) {
		runs[0] = (struct run){ 0, npages };
		return 1;
	}
	for (long i = 0; i < npages; i++) {
		if (rand_r(&seed) % 10)
			continue;
		if (nr && runs[nr - 1].first + runs[nr - 1].n == i)
			runs[nr - 1].n++;
		else
			runs[nr++] = (struct run){ i, 1 };
	}
	return nr;
}

/*
 * kmig sends from KMIG_MEM_CREATE_LARGE memory, as kmig-vmm creates it;
 * "kmig, 4 KiB pages" from memory created without the flag.
 */
enum sender { S_KMIG, S_KMIG_SMALL, S_SEND, S_ZEROCOPY, S_RAW, S_MAX };
static const char *const sender_name[S_MAX] = {
	"kmig", "kmig, 4 KiB pages", "send()", "MSG_ZEROCOPY", "raw bound",
};
/* -s: which senders run, by their short names */
static const char *const sender_opt[S_MAX] = {
	"kmig", "kmig4k", "send", "zerocopy", "raw",
};
static unsigned int senders = (1u << S_MAX) - 1;

static void parse_senders(char *list)
{
	senders = 0;
	for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
		int w;

		for (w = 0; w < S_MAX; w++)
			if (!strcmp(t, sender_opt[w]))
				break;
		if (w == S_MAX) {
			fprintf(stderr, "-s: senders are kmig, kmig4k, send, zerocopy, raw\n");
			exit(2);
		}
		senders |= 1u << w;
	}
}

/* Reap MSG_ZEROCOPY completions until @want sends are acknowledged. */
static void zc_reap(int fd, long want)
{
	long done = 0;

	while (done < want) {
		char ctrl[256];
		struct msghdr m = { .msg_control = ctrl,
				    .msg_controllen = sizeof(ctrl) };
		struct pollfd p = { .fd = fd, .events = 0 };

		if (recvmsg(fd, &m, MSG_ERRQUEUE) < 0) {
			poll(&p, 1, 100);
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c;
		     c = CMSG_NXTHDR(&m, c)) {
			struct { __u32 errno_; __u8 origin, type, code, pad;
				 __u32 info, data; } *e = (void *)CMSG_DATA(c);

			done += e->data - e->info + 1;
		}
	}
}

static int send_all(int fd, const void *p, size_t len, int flags)
{
	while (len) {
		ssize_t n = send(fd, p, len, flags);

		if (n < 0) {
			if (errno == ENOBUFS && (flags & MSG_ZEROCOPY))
				continue;
			return -1;
		}
		p = (const char *)p + n;
		len -= n;
	}
	return 0;
}

/* One pass: MB/s, and the sender's and the sink's CPU seconds per GiB. */
struct pass {
	double mbs, cpu, rcpu;
};

/* The memory a pass sends from: [0] large, [1] 4 KiB pages, same bytes. */
struct source {
	int mem[2];
	unsigned char *map[2];
};

static void stream_pass(int dev, const struct source *src, long npages,
			const struct run *runs, int nr, enum sender who,
			struct pass *res)
{
	int mem = src->mem[who == S_KMIG_SMALL];
	unsigned char *map = src->map[who == S_KMIG_SMALL];
	double *cpu = &res->cpu;
	struct sink sink = { 0 };
	long payload = 0, zc_sends = 0;
	double t0, c0;
	pthread_t th;
	int a, b, one = 1;

	for (int i = 0; i < nr; i++)
		payload += runs[i].n * ps;
	if (link_pair(&a, &b))
		die("tcp pair");
	sink.fd = b;
	pthread_create(&th, NULL, sink_thread, &sink);

	if (who == S_KMIG || who == S_KMIG_SMALL) {
		__u64 bm[64];

		/* the dirty set, then one round */
		kmig_track(mem, KMIG_MEM_TRACK_STOP, 0);
		if (kmig_track(mem, KMIG_MEM_TRACK_START, 0))
			die("track start");
		for (long first = 0; first < npages; first += 4096)
			kmig_harvest_bitmap(mem, first, npages - first < 4096 ?
					    npages - first : 4096, bm, 0);
		for (int i = 0; i < nr; i++)
			for (long k = 0; k < runs[i].n; k++)
				map[(runs[i].first + k) * ps] ^= 1;
		int sfd = kmig_session(dev, a, KMIG_ROLE_SEND, KMIG_PROTO_V2,
				       0, &mem, 1, 0);
		if (sfd < 0)
			die("session");
		t0 = now();
		c0 = cpu_now();
		if (kmig_send_full_round(sfd, KMIG_ROUND_FINAL))
			die("send round");
		*cpu = cpu_now() - c0;
		close(sfd);
	} else {
		if (who == S_ZEROCOPY &&
		    setsockopt(a, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
			die("SO_ZEROCOPY");
		t0 = now();
		c0 = cpu_now();
		if (who == S_RAW) {
			/* as many bytes, in one call, from one buffer */
			if (send_all(a, map, payload, 0))
				die("send");
		} else {
			for (int i = 0; i < nr; i++) {
				unsigned char hdr[16] = { KMIG_REC_PAGES };
				int fl = who == S_ZEROCOPY ? MSG_ZEROCOPY : 0;

				put_le32(hdr + 4, runs[i].n);
				put_le64(hdr + 8, runs[i].first);
				/* a record header, then the run, like kmig */
				if (send_all(a, hdr, sizeof(hdr), MSG_MORE) ||
				    send_all(a, map + runs[i].first * ps,
					     runs[i].n * ps, fl))
					die("send");
				zc_sends += who == S_ZEROCOPY;
			}
			if (who == S_ZEROCOPY)
				zc_reap(a, zc_sends);
		}
		*cpu = cpu_now() - c0;
	}
	shutdown(a, SHUT_WR);
	pthread_join(th, NULL);
	res->mbs = payload / (now() - t0) / 1e6;
	*cpu = *cpu / ((double)payload / (1 << 30));
	res->rcpu = sink.cpu / ((double)payload / (1 << 30));
	close(a);
	close(b);
}

static void bench_stream(int dev)
{
	long npages = mib * (1 << 20) / ps;
	struct run *runs = calloc(npages, sizeof(*runs));
	struct source src;

	if (!runs)
		die("memory");
	pin_to_cpu(0);
	for (int k = 0; k < 2; k++) {
		unsigned int seed = 1;

		src.mem[k] = kmig_mem_create_flags(dev, npages * ps,
						   k ? 0 : KMIG_MEM_CREATE_LARGE);
		if (src.mem[k] < 0)
			die("memory");
		src.map[k] = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
				  MAP_SHARED, src.mem[k], 0);
		if (src.map[k] == MAP_FAILED)
			die("mmap");
		for (long i = 0; i < npages * ps; i += 8)
			*(unsigned long *)(src.map[k] + i) = rand_r(&seed) | 1;
	}

	printf("\n## stream: %ld MiB over %s TCP, sink %s, %d passes each (MB/s min/median/max; CPU s/GiB median)\n\n",
	       mib, link_name,
	       sink_discards ? "discards (MSG_TRUNC)" : "reads into a buffer",
	       reps);
	printf("| pattern | sender | MB/s min | median | max | sender CPU s/GiB | sink CPU s/GiB | kmig ratio (median MB/s) |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (int sparse = 0; sparse < 2; sparse++) {
		int nr = make_runs(runs, npages, sparse);
		double mbs[S_MAX][64], cpu[S_MAX][64], rcpu[S_MAX][64];
		struct stat3 st[S_MAX];

		/* interleaved, so that drift of a noisy machine is shared */
		for (int r = 0; r < reps; r++)
			for (int w = 0; w < S_MAX; w++) {
				struct pass p;

				if (!(senders & (1u << w)))
					continue;
				stream_pass(dev, &src, npages, runs, nr, w, &p);
				mbs[w][r] = p.mbs;
				cpu[w][r] = p.cpu;
				rcpu[w][r] = p.rcpu;
			}
		for (int w = 0; w < S_MAX; w++) {
			if (!(senders & (1u << w)))
				continue;
			st[w] = stat3(mbs[w], reps);
			printf("| %s | %s | %.0f | %.0f | %.0f | %.2f | %.2f | ",
			       sparse ? "random 10%" : "contiguous",
			       sender_name[w], st[w].min, st[w].med, st[w].max,
			       stat3(cpu[w], reps).med, stat3(rcpu[w], reps).med);
			if (!w)
				printf("1.00x |\n");
			else if (senders & (1u << S_KMIG))
				printf("kmig / this: %.2fx |\n",
				       st[S_KMIG].med / st[w].med);
			else
				printf("- |\n");
		}
	}
	for (int k = 0; k < 2; k++) {
		munmap(src.map[k], npages * ps);
		close(src.mem[k]);
	}
	free(runs);
}

/* ---- track ---- */

static long uffd_faults;

static void *uffd_thread(void *arg)
{
	int uffd = (int)(long)arg;
	struct uffd_msg msg;

	while (read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		struct uffdio_writeprotect wp = {
			.range = { msg.arg.pagefault.address & ~(ps - 1), ps },
			.mode = 0,
		};

		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		/* record it (a real migrator would), and let it go */
		uffd_faults++;
		ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
	}
	return NULL;
}

/* ns per write and ns per re-armed page, for one method. */
static void track_kmig(int dev, long n, double *w_ns, double *r_ns)
{
	int mem = kmig_mem_create(dev, n * ps);
	unsigned char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE,
				MAP_SHARED, mem, 0);
	__u64 *bm = calloc(n / 64 + 1, 8);
	double t;

	for (long i = 0; i < n; i++)
		p[i * ps] = 1;
	kmig_track(mem, KMIG_MEM_TRACK_START, 0);
	kmig_harvest_bitmap(mem, 0, n, bm, 0);
	t = now();
	for (long i = 0; i < n; i++)
		p[i * ps] = 2;
	*w_ns = (now() - t) * 1e9 / n;
	t = now();
	if (kmig_harvest_bitmap(mem, 0, n, bm, 0) != n)
		die("kmig harvest");
	*r_ns = (now() - t) * 1e9 / n;
	munmap(p, n * ps);
	close(mem);
	free(bm);
}

static void track_uffd(long n, double *w_ns, double *r_ns)
{
	unsigned char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = {
		.range = { (unsigned long)p, n * ps },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = {
		.range = { (unsigned long)p, n * ps },
		.mode = UFFDIO_WRITEPROTECT_MODE_WP,
	};
	pthread_t th;
	double t;

	for (long i = 0; i < n; i++)
		p[i * ps] = 1;
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) ||
	    ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("userfaultfd");
	pthread_create(&th, NULL, uffd_thread, (void *)(long)uffd);
	ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
	t = now();
	for (long i = 0; i < n; i++)
		p[i * ps] = 2;
	*w_ns = (now() - t) * 1e9 / n;
	t = now();
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp))
		die("uffd re-protect");
	*r_ns = (now() - t) * 1e9 / n;
	close(uffd);
	pthread_cancel(th);
	pthread_join(th, NULL);
	munmap(p, n * ps);
}

static void track_softdirty(long n, double *w_ns, double *r_ns)
{
	unsigned char *p = mmap(NULL, n * ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	__u64 *ent = calloc(n, 8);
	long dirty = 0;
	double t;

	for (long i = 0; i < n; i++)
		p[i * ps] = 1;
	if (pm < 0 || kmig_write_file("/proc/self/clear_refs", "4"))
		die("soft-dirty");
	t = now();
	for (long i = 0; i < n; i++)
		p[i * ps] = 2;
	*w_ns = (now() - t) * 1e9 / n;
	/* harvest: read the bits, then clear (re-arm) them */
	t = now();
	if (pread(pm, ent, n * 8, (unsigned long)p / ps * 8) != n * 8)
		die("pagemap");
	for (long i = 0; i < n; i++)
		dirty += (ent[i] >> 55) & 1;
	kmig_write_file("/proc/self/clear_refs", "4");
	*r_ns = (now() - t) * 1e9 / n;
	if (dirty != n)
		fprintf(stderr, "soft-dirty saw %ld of %ld\n", dirty, n);
	close(pm);
	free(ent);
	munmap(p, n * ps);
}

static void bench_track(int dev)
{
	static const char *const names[] = {
		"kmig write-notify", "userfaultfd-wp", "soft-dirty",
	};
	long n = 4096;
	double w[3][64], r[3][64];

	for (int i = 0; i < reps; i++) {
		track_kmig(dev, n, &w[0][i], &r[0][i]);
		track_uffd(n, &w[1][i], &r[1][i]);
		track_softdirty(n, &w[2][i], &r[2][i]);
	}
	printf("\n## track: %ld pages, one write each, %d passes (ns min/median/max)\n\n",
	       n, reps);
	printf("| method | per tracked write | | | per re-armed page | | | kmig write / this |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	struct stat3 kw = stat3(w[0], reps);

	for (int m = 0; m < 3; m++) {
		struct stat3 sw = m ? stat3(w[m], reps) : kw;
		struct stat3 sr = stat3(r[m], reps);

		printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n",
		       names[m], sw.min, sw.med, sw.max, sr.min, sr.med, sr.max,
		       kw.med / sw.med);
	}
}

static void bench_harvest(int dev)
{
	static const long sizes_mib[] = { 16, 64, 256, 1024, 4096, 16384, 65536 };
	static const long dirty[] = { 64, 1024 };
	__u64 *list = calloc(4096, 8);

	printf("\n## harvest: D dirty pages out of a memory of S MiB (list mode, us per harvest, min / median / max of %d)\n\n",
	       reps);
	/*
	 * With the default rearm_gap, dirty pages closer than the gap share
	 * one write-protect call; rearm_gap 0 shows the cost per page alone.
	 */
	char gap[32];

	if (kmig_param_read("rearm_gap", gap, sizeof(gap)))
		die("rearm_gap");
	printf("| S MiB | D=64 | D=1024 | D=64, rearm_gap 0 | D=1024, rearm_gap 0 |\n|---|---|---|---|---|\n");
	for (unsigned int s = 0; s < sizeof(sizes_mib) / sizeof(sizes_mib[0]); s++) {
		long npages = sizes_mib[s] << 20 >> 12;
		int mem = kmig_mem_create(dev, npages * ps);
		unsigned char *p;

		if (mem < 0)
			break;	/* beyond the module's max_mem_mb */
		p = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE, MAP_SHARED,
			 mem, 0);
		if (p == MAP_FAILED)
			die("mmap");
		kmig_track(mem, KMIG_MEM_TRACK_START, 0);
		printf("| %ld |", sizes_mib[s]);
		for (int c = 0; c < 4; c++) {
			int d = c % 2;
			double us[64];

			if (kmig_param_write("rearm_gap", c < 2 ? gap : "0"))
				die("rearm_gap");
			for (int r = 0; r < reps; r++) {
				struct kmig_harvest h = {
					.size = sizeof(h),
					.flags = KMIG_HARVEST_LIST,
					.num_pages = npages,
					.list_ptr = (unsigned long)list,
					.list_len = 4096,
				};
				double t;

				/* D pages spread over the whole memory */
				for (long i = 0; i < dirty[d]; i++)
					p[(i * (npages / dirty[d])) * ps] ^= 1;
				t = now();
				if (kmig_ioctl(mem, KMIG_MEM_HARVEST, &h) ||
				    (long)h.dirty_pages != dirty[d])
					die("harvest");
				us[r] = (now() - t) * 1e6;
			}
			struct stat3 st = stat3(us, reps);

			printf(" %.0f / %.0f / %.0f |", st.min, st.med, st.max);
		}
		printf("\n");
		munmap(p, npages * ps);
		close(mem);
	}
	kmig_param_write("rearm_gap", gap);
	free(list);
}

static void bench_zero(int dev)
{
	static const int pct[] = { 0, 50, 90 };
	long npages = 2048;

	printf("\n## zero pages: %ld pages, bytes on the wire / non-zero bytes\n\n",
	       npages);
	printf("| zero pages | wire bytes | non-zero bytes | ratio |\n|---|---|---|---|\n");
	for (int z = 0; z < 3; z++) {
		int mem = kmig_mem_create(dev, npages * ps), a, b, sfd;
		unsigned char *p = mmap(NULL, npages * ps, PROT_READ | PROT_WRITE,
					MAP_SHARED, mem, 0);
		struct kmig_session_stats st;
		struct sink sink = { 0 };
		unsigned int seed = 3;
		long nonzero = 0;
		pthread_t th;

		for (long i = 0; i < npages; i++)
			if ((long)(rand_r(&seed) % 100) >= pct[z]) {
				memset(p + i * ps, 0x5a, ps);
				nonzero += ps;
			}
		kmig_track(mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY);
		if (tcp_pair(&a, &b))
			die("tcp pair");
		sink.fd = b;
		pthread_create(&th, NULL, sink_thread, &sink);
		sfd = kmig_session(dev, a, KMIG_ROLE_SEND, KMIG_PROTO_V2,
				   KMIG_CAP_ZERO_PAGES, &mem, 1, 0);
		if (sfd < 0 || kmig_send_full_round(sfd, KMIG_ROUND_FINAL) ||
		    kmig_send_end(sfd) || kmig_session_stats(sfd, &st))
			die("zero-page stream");
		close(sfd);
		shutdown(a, SHUT_WR);
		pthread_join(th, NULL);
		printf("| %d%% | %ld | %ld | %.4f |\n", pct[z], sink.bytes,
		       nonzero, nonzero ? (double)sink.bytes / nonzero : 0.0);
		close(a);
		close(b);
		munmap(p, npages * ps);
		close(mem);
	}
}

int main(int argc, char **argv)
{
	struct kmig_info info;
	char *netns = NULL;
	int dev, opt;
	bool all;

	while ((opt = getopt(argc, argv, "r:m:n:s:")) != -1) {
		if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 'm')
			mib = atol(optarg);
		else if (opt == 'n')
			netns = optarg;
		else if (opt == 's')
			parse_senders(optarg);
		else
			return 2;
	}
	if (reps < 1 || reps > 64 || mib < 1)
		return 2;
	ps = page_size();
	signal(SIGPIPE, SIG_IGN);
	if (netns)
		veth_setup(netns);
	dev = open(KMIG_DEV, O_RDWR);
	if (dev < 0 || kmig_get_info(dev, &info))
		die(KMIG_DEV);
	printf("# kmig_bench: kmig %u.%u.%u, re-arm %s, %d passes\n",
	       KMIG_VERSION_MAJOR(info.module_version), KMIG_VERSION_MINOR(info.module_version),
	       KMIG_VERSION_PATCH(info.module_version),
	       info.features & KMIG_FEAT_WP_HELPERS ? "wp" : "unmap", reps);
	all = optind == argc;
	for (int i = optind; i <= argc; i++) {
		const char *what = i < argc ? argv[i] : "";

		if (all || !strcmp(what, "stream")) {
			for (int d = 0; d < 2; d++) {
				sink_discards = d;
				link_name = "loopback";
				bench_stream(dev);
				if (netns) {
					link_name = "veth";
					bench_stream(dev);
				}
			}
			sink_discards = false;
		}
		if (all || !strcmp(what, "track"))
			bench_track(dev);
		if (all || !strcmp(what, "harvest"))
			bench_harvest(dev);
		if (all || !strcmp(what, "zero"))
			bench_zero(dev);
		if (all)
			break;
	}
	close(dev);
	return 0;
}
