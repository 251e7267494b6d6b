// SPDX-License-Identifier: GPL-2.0
/*
 * kmig_fuzz_uapi: random sequences of every kmig ioctl, with random sizes,
 * flags, fds, pointers, offsets and orders, mixed with mmap, munmap, writes
 * through mappings, fork, close, garbage on the sockets and signals, from
 * several threads at once.
 *
 * The only expectations are the kernel's: no splat, no hang, every call
 * returns (any errno is fine), and the module still works and unloads
 * afterwards (the VM's rmmod and kmemleak scan). The seed is printed first,
 * so that a failing run can be replayed:
 *
 *   KMIG_FUZZ_SEED=N KMIG_FUZZ_ITERS=M ./kmig_fuzz_uapi
 *
 * KMIG_FUZZ_ITERS is the total over all threads (default 20000).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define THREADS		3
#define SLOTS		48
#define MAPS		16
#define ARG_BYTES	8192

/* What a slot holds; fds change under other threads' feet on purpose. */
enum kind { K_NONE, K_DEV, K_MEM, K_SESSION, K_SOCK, K_OTHER };

static struct {
	pthread_mutex_t lock;	/* protects the tables, not the fds */
	int fd[SLOTS];
	enum kind kind[SLOTS];
	struct { unsigned char *p; size_t len; } map[MAPS];
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static atomic_long iters_left;
static atomic_int running;
static atomic_long calls, ok_calls, maps_done, forks_done;
static unsigned char *unmapped;	/* an address known to fault */

static const unsigned long cmds[] = {
	KMIG_GET_INFO, KMIG_MEM_CREATE, KMIG_SESSION_CREATE,
	KMIG_MEM_TRACK_START, KMIG_MEM_TRACK_STOP, KMIG_MEM_HARVEST,
	KMIG_MEM_GET_STATS, KMIG_SESSION_SEND_ROUND, KMIG_SESSION_SEND_BLOB,
	KMIG_SESSION_SEND_END, KMIG_SESSION_RECV, KMIG_SESSION_GET_STATS,
};

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	return n ? rand_r(seed) % n : 0;
}

static __u64 edge_value(unsigned int *seed)
{
	static const __u64 edges[] = {
		0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 255, 256, 4095, 4096,
		4097, 65536, 1 << 20, 0x7fffffff, 0x80000000, 0xffffffff,
		0x100000000ULL, 0x7fffffffffffffffULL, ~0ULL, ~0ULL - 4095,
		KMIG_BLOB_MAX, KMIG_BLOB_MAX + 1ULL, KMIG_MAX_REGIONS,
		KMIG_MAX_REGIONS + 1,
	};

	switch (rnd(seed, 4)) {
	case 0:
		return ((__u64)rand_r(seed) << 32) | rand_r(seed);
	case 1:
		return rnd(seed, 8);
	default:
		return edges[rnd(seed, sizeof(edges) / sizeof(edges[0]))];
	}
}

static int pick_fd(unsigned int *seed, enum kind want)
{
	int fd = -1, start = rnd(seed, SLOTS);
	bool any = want == K_NONE || !rnd(seed, 8);

	pthread_mutex_lock(&pool.lock);
	for (int n = 0; n < SLOTS && fd < 0; n++) {
		int i = (start + n) % SLOTS;

		if (pool.kind[i] != K_NONE && (any || pool.kind[i] == want))
			fd = pool.fd[i];
	}
	pthread_mutex_unlock(&pool.lock);
	if (fd < 0 || !rnd(seed, 32))
		fd = rnd(seed, 3) ? -1 : (int)rnd(seed, 1024);
	return fd;
}

static void put_fd(unsigned int *seed, int fd, enum kind k)
{
	int i = rnd(seed, SLOTS), old = -1;

	if (fd < 0)
		return;
	pthread_mutex_lock(&pool.lock);
	if (pool.kind[i] != K_NONE)
		old = pool.fd[i];
	pool.fd[i] = fd;
	pool.kind[i] = k;
	pthread_mutex_unlock(&pool.lock);
	if (old >= 0)
		close(old);
}

static void *pick_ptr(unsigned int *seed, unsigned char *buf)
{
	switch (rnd(seed, 10)) {
	case 0:
		return NULL;
	case 1:
		return unmapped;
	case 2:
		return (void *)0xffff888000000000ULL;	/* kernel memory */
	case 3:
		return buf + ARG_BYTES - rnd(seed, 64);	/* runs off the end */
	default:
		return buf + rnd(seed, 64) * 8;
	}
}

/* An argument struct: a valid-looking one, mutated. */
static void build_arg(unsigned int *seed, unsigned long cmd, __u8 *arg,
		      unsigned char *buf)
{
	__u32 *size = (__u32 *)arg;
	int *fds = (int *)(buf + 2048);

	memset(arg, 0, 512);
	for (int i = 0; i < 8; i++)
		fds[i] = pick_fd(seed, K_MEM);
	switch (cmd) {
	case KMIG_MEM_CREATE: {
		struct kmig_mem_create *c = (void *)arg;

		c->mem_size = (rnd(seed, 64) + 1) * 4096ULL;
		break;
	}
	case KMIG_SESSION_CREATE: {
		struct kmig_session_create *c = (void *)arg;

		c->sock_fd = pick_fd(seed, K_SOCK);
		c->role = 1 + rnd(seed, 2);
		c->proto = 1 + rnd(seed, 2);
		c->caps = rnd(seed, 8);
		c->nr_mem = 1 + rnd(seed, 2);
		c->mem_fds = (unsigned long)fds;
		break;
	}
	case KMIG_MEM_HARVEST: {
		struct kmig_harvest *h = (void *)arg;

		h->flags = rnd(seed, 4);
		h->first_page = rnd(seed, 70);
		h->num_pages = rnd(seed, 70);
		h->bitmap_ptr = (unsigned long)pick_ptr(seed, buf);
		break;
	}
	case KMIG_SESSION_SEND_ROUND: {
		struct kmig_send_round *r = (void *)arg;

		r->flags = rnd(seed, 2);
		r->max_bytes = rnd(seed, 3) ? 65536 : 0;
		r->max_ns = 20 * 1000 * 1000;
		break;
	}
	case KMIG_SESSION_SEND_BLOB: {
		struct kmig_send_blob *b = (void *)arg;

		b->tag = rnd(seed, 4);
		b->data = (unsigned long)pick_ptr(seed, buf);
		b->len = rnd(seed, 2048);
		break;
	}
	case KMIG_SESSION_RECV: {
		struct kmig_recv *r = (void *)arg;

		r->blob_buf = (unsigned long)pick_ptr(seed, buf);
		r->blob_buf_len = rnd(seed, 4096);
		break;
	}
	}
	/* The size: right, short, long, zero or absurd. */
	switch (rnd(seed, 12)) {
	case 0:
		*size = edge_value(seed);
		break;
	case 1:
		*size = rnd(seed, 256);
		break;
	default:
		*size = 128;	/* no struct is bigger; the tail is zero */
		break;
	}
	/* Mutations, one call in three: a random field or two. */
	for (int m = rnd(seed, 3) ? 0 : 1 + rnd(seed, 2); m > 0; m--) {
		unsigned int off = rnd(seed, 120) & ~3U;

		if (rnd(seed, 2))
			*(__u32 *)(arg + off) = edge_value(seed);
		else
			*(__u64 *)(arg + (off & ~7U)) = edge_value(seed);
	}
}

static void do_ioctl(unsigned int *seed, unsigned char *buf)
{
	unsigned long cmd = cmds[rnd(seed, sizeof(cmds) / sizeof(cmds[0]))];
	__u8 *arg = buf + 4096;
	void *argp = arg;
	enum kind k = K_NONE;
	int fd;
	long ret;

	if (!rnd(seed, 20))
		cmd = _IO(KMIG_IOC_MAGIC, rnd(seed, 256));	/* unknown */
	else if (!rnd(seed, 40))
		cmd = _IOWR(KMIG_IOC_MAGIC, rnd(seed, 0x50), __u64);
	switch (cmd) {
	case KMIG_GET_INFO: case KMIG_MEM_CREATE: case KMIG_SESSION_CREATE:
		k = K_DEV;
		break;
	case KMIG_MEM_TRACK_START: case KMIG_MEM_TRACK_STOP:
	case KMIG_MEM_HARVEST: case KMIG_MEM_GET_STATS:
		k = K_MEM;
		break;
	default:
		k = K_SESSION;
	}
	fd = pick_fd(seed, k);
	build_arg(seed, cmd, arg, buf);
	if (!rnd(seed, 16))
		argp = pick_ptr(seed, buf);
	ret = ioctl(fd, cmd, argp);
	calls++;
	if (ret < 0)
		return;
	ok_calls++;
	if (cmd == KMIG_MEM_CREATE)
		put_fd(seed, ret, K_MEM);
	else if (cmd == KMIG_SESSION_CREATE)
		put_fd(seed, ret, K_SESSION);
}

static void do_mmap(unsigned int *seed)
{
	int fd = pick_fd(seed, K_MEM), i = rnd(seed, MAPS);
	size_t len = (rnd(seed, 70) + 1) * 4096UL;
	off_t off = rnd(seed, 4) ? 0 : rnd(seed, 70) * 4096L;
	int prot = rnd(seed, 4) ? PROT_READ | PROT_WRITE : PROT_READ;
	int flags = rnd(seed, 6) ? MAP_SHARED : MAP_PRIVATE;
	unsigned char *p, *old = NULL;
	size_t oldlen = 0;

	p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		return;
	maps_done++;
	pthread_mutex_lock(&pool.lock);
	old = pool.map[i].p;
	oldlen = pool.map[i].len;
	pool.map[i].p = p;
	pool.map[i].len = len;
	pthread_mutex_unlock(&pool.lock);
	if (old)
		munmap(old, oldlen);
}

/*
 * Write into a mapping through the kernel (process_vm_writev), so that a
 * mapping larger than its object, or one another thread just unmapped,
 * gives an error instead of a signal.
 */
static void do_touch(unsigned int *seed)
{
	unsigned char data[64];
	struct iovec local = { data, sizeof(data) }, remote;
	int i = rnd(seed, MAPS);

	pthread_mutex_lock(&pool.lock);
	remote.iov_base = pool.map[i].p;
	remote.iov_len = pool.map[i].len;
	pthread_mutex_unlock(&pool.lock);
	if (!remote.iov_base)
		return;
	remote.iov_base = (char *)remote.iov_base +
			  rnd(seed, remote.iov_len / 64) * 64;
	remote.iov_len = sizeof(data);
	memset(data, rnd(seed, 256), sizeof(data));
	if (rnd(seed, 3))
		process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	else
		process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

static void do_munmap(unsigned int *seed)
{
	int i = rnd(seed, MAPS);
	unsigned char *p;
	size_t len;

	pthread_mutex_lock(&pool.lock);
	p = pool.map[i].p;
	len = pool.map[i].len;
	pool.map[i].p = NULL;
	pthread_mutex_unlock(&pool.lock);
	if (p) {
		/* sometimes only a part of it */
		if (len > 4096 && rnd(seed, 2))
			munmap(p + 4096, len - 4096);
		munmap(p, len);
	}
}

static void do_close(unsigned int *seed)
{
	int i = rnd(seed, SLOTS), fd = -1;

	pthread_mutex_lock(&pool.lock);
	if (pool.kind[i] != K_NONE) {
		fd = pool.fd[i];
		pool.kind[i] = K_NONE;
	}
	pthread_mutex_unlock(&pool.lock);
	if (fd >= 0)
		close(fd);
}

static void do_open(unsigned int *seed)
{
	int a, b;

	switch (rnd(seed, 5)) {
	case 0:
		put_fd(seed, open(KMIG_DEV, O_RDWR), K_DEV);
		break;
	case 1:
	case 2:
		if (!unix_pair(&a, &b)) {
			put_fd(seed, a, K_SOCK);
			put_fd(seed, b, K_SOCK);
		}
		break;
	case 3:
		if (!tcp_pair(&a, &b)) {
			put_fd(seed, a, K_SOCK);
			put_fd(seed, b, K_SOCK);
		}
		break;
	default:
		put_fd(seed, rnd(seed, 2) ? socket(AF_INET, SOCK_DGRAM, 0) :
			      open("/dev/null", O_RDWR), K_OTHER);
	}
}

/* Garbage, or a little of a real stream, into a random socket. */
static void do_garbage(unsigned int *seed, unsigned char *buf)
{
	int fd = pick_fd(seed, K_SOCK);
	size_t len = rnd(seed, 512);

	for (size_t i = 0; i < len; i++)
		buf[i] = rand_r(seed);
	if (rnd(seed, 2))
		put_le32(buf, KMIG_WIRE_MAGIC);
	send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (!rnd(seed, 4))
		recv(fd, buf, ARG_BYTES, MSG_DONTWAIT);
}

/* A child that inherits everything, does a little, and exits. */
static void do_fork(unsigned int *seed, unsigned char *buf)
{
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (!pid) {
		unsigned int s = *seed ^ 0x5a5a;

		/* another thread may have held the lock at fork() */
		pthread_mutex_init(&pool.lock, NULL);
		alarm(5);
		for (int i = 0; i < 20; i++) {
			if (rnd(&s, 2))
				do_ioctl(&s, buf);
			else
				do_touch(&s);
		}
		_exit(0);
	}
	forks_done++;
	if (rnd(seed, 2))
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void one_op(unsigned int *seed, unsigned char *buf)
{
	unsigned int r = rnd(seed, 100);

	if (r < 45)
		do_ioctl(seed, buf);
	else if (r < 55)
		do_open(seed);
	else if (r < 63)
		do_mmap(seed);
	else if (r < 75)
		do_touch(seed);
	else if (r < 80)
		do_munmap(seed);
	else if (r < 88)
		do_close(seed);
	else if (r < 97)
		do_garbage(seed, buf);
	else
		do_fork(seed, buf);
}

struct worker {
	pthread_t th;
	unsigned int seed;
};

/*
 * A worker's argument buffer ends where an inaccessible page starts: a
 * pointer that runs off its end (pick_ptr()) makes the kernel fault there
 * (EFAULT) instead of writing, as asked, over the worker's own heap.
 */
static unsigned char *guarded_buf(void)
{
	unsigned char *p = mmap(NULL, ARG_BYTES + 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + ARG_BYTES, 4096, PROT_NONE)) {
		munmap(p, ARG_BYTES + 4096);
		return NULL;
	}
	return p;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *buf = guarded_buf();

	while (buf && atomic_fetch_sub(&iters_left, 1) > 0)
		one_op(&w->seed, buf);
	if (buf)
		munmap(buf, ARG_BYTES + 4096);
	running--;
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

FIXTURE(fuzz) {
	int unused;
};

FIXTURE_SETUP(fuzz)
{
	if (access(KMIG_DEV, R_OK | W_OK))
		SETUP_SKIP("no %s", KMIG_DEV);
}

FIXTURE_TEARDOWN(fuzz)
{
}

TEST_F_TIMEOUT(fuzz, random_sequences, 1200)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	unsigned long seed = kmig_env_ul("KMIG_FUZZ_SEED", time(NULL));
	unsigned long iters = kmig_env_ul("KMIG_FUZZ_ITERS", 20000);
	struct worker w[THREADS];
	struct kmig_progress prog = { 0 };
	long left;
	int splats = kmig_dmesg_splats(), dev;
	struct kmig_info info;

	/* Printed first, so that a crash still leaves it in the log. */
	printf("# kmig_fuzz_uapi: KMIG_FUZZ_SEED=%lu KMIG_FUZZ_ITERS=%lu\n",
	       seed, iters);
	fflush(stdout);
	ASSERT_LE(0, splats);
	unmapped = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	munmap(unmapped, 4096);
	/* signals interrupt blocking calls: no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	iters_left = iters;
	running = THREADS;

	for (int i = 0; i < THREADS; i++) {
		w[i].seed = seed * 2654435761UL + i;
		ASSERT_EQ(0, pthread_create(&w[i].th, NULL, worker_main, &w[i]));
	}
	/* until every worker is out of its last (maybe blocking) call */
	while (atomic_load(&running) > 0) {
		usleep(20000);
		left = atomic_load(&iters_left);
		kmig_progress(&prog, "iterations",
			      iters - (left > 0 ? left : 0), iters);
		for (int i = 0; i < THREADS; i++)
			pthread_kill(w[i].th, SIGUSR1);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(w[i].th, NULL);

	for (int i = 0; i < SLOTS; i++)
		if (pool.kind[i] != K_NONE)
			close(pool.fd[i]);
	for (int i = 0; i < MAPS; i++)
		if (pool.map[i].p)
			munmap(pool.map[i].p, pool.map[i].len);

	TH_LOG("seed %lu: %lu iterations, %ld ioctls (%ld succeeded), %ld mmaps, %ld forks",
	       seed, iters, (long)calls, (long)ok_calls, (long)maps_done,
	       (long)forks_done);
	/* It did something, and the module still works. */
	ASSERT_LT(0, ok_calls);
	dev = open(KMIG_DEV, O_RDWR);
	ASSERT_LE(0, dev);
	ASSERT_EQ(0, kmig_get_info(dev, &info));
	close(dev);
	ASSERT_EQ(splats, kmig_dmesg_splats());
}

TEST_HARNESS_MAIN
