// SPDX-License-Identifier: GPL-2.0
/*
 * kmig_xfer: one side of a memory stream between two "hosts" (network
 * namespaces), for kmig_netns.sh. The source fills deterministic memory,
 * streams it in rounds while a writer dirties it, then a final round; both
 * sides print a hash of their memory, which the script compares.
 *
 *   kmig_xfer send ADDR PORT PAGES PROTO CAPS
 *   kmig_xfer recv PORT PAGES PROTO CAPS
 */
#include <pthread.h>
#include <stdatomic.h>

#include "kmig_stream.h"

static atomic_int stop;
static unsigned char *mem;
static long npages;

static void *writer(void *arg)
{
	unsigned int seed = 99;

	(void)arg;
	while (!atomic_load(&stop)) {
		long pg = rand_r(&seed) % npages;

		mem[pg * page_size() + rand_r(&seed) % page_size()]++;
		if (rand_r(&seed) % 32 == 0)
			usleep(50);
	}
	return NULL;
}

static uint64_t hash(const unsigned char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "kmig_xfer: %s: %s\n", what, strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	bool send = argc == 7 && !strcmp(argv[1], "send");
	int a = send ? 3 : 2;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	__u32 proto;
	__u64 caps;
	int dev, fd, sock, sfd, ret;

	if (!send && !(argc == 6 && !strcmp(argv[1], "recv"))) {
		fprintf(stderr, "usage: kmig_xfer send ADDR PORT PAGES PROTO CAPS | recv PORT PAGES PROTO CAPS\n");
		return 2;
	}
	addr.sin_port = htons(atoi(argv[a]));
	npages = atol(argv[a + 1]);
	proto = atoi(argv[a + 2]);
	caps = strtoull(argv[a + 3], NULL, 0);

	dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return die("open /dev/kmig", errno);
	fd = kmig_mem_create(dev, npages * page_size());
	if (fd < 0)
		return die("KMIG_MEM_CREATE", -fd);
	mem = mmap(NULL, npages * page_size(), PROT_READ | PROT_WRITE,
		   MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return die("mmap", errno);

	sock = socket(AF_INET, SOCK_STREAM, 0);
	if (send) {
		pthread_t th;

		for (long i = 0; i < npages * page_size(); i += 64)
			mem[i] = (i / 64) % 251 * (i % 3 != 0);
		ret = kmig_track(fd, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY);
		if (ret)
			return die("KMIG_MEM_TRACK_START", -ret);
		if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1)
			return die("address", EINVAL);
		for (int i = 0; connect(sock, (void *)&addr, sizeof(addr)); i++) {
			if (i == 100)
				return die("connect", errno);
			usleep(100 * 1000);
		}
		sfd = kmig_session(dev, sock, KMIG_ROLE_SEND, proto, caps, &fd,
				   1, 0);
		if (sfd < 0)
			return die("KMIG_SESSION_CREATE", -sfd);
		pthread_create(&th, NULL, writer, NULL);
		for (int round = 0; round < 3; round++) {
			ret = kmig_send_full_round(sfd, 0);
			if (ret)
				return die("SEND_ROUND", -ret);
		}
		atomic_store(&stop, 1);
		pthread_join(th, NULL);
		ret = kmig_send_full_round(sfd, KMIG_ROUND_FINAL);
		if (!ret)
			ret = kmig_send_end(sfd);
		if (ret)
			return die("final round", -ret);
	} else {
		int one = 1, l = sock, rfd;

		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		addr.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(l, (void *)&addr, sizeof(addr)) || listen(l, 1))
			return die("listen", errno);
		printf("listening\n");
		fflush(stdout);
		sock = accept(l, NULL, NULL);
		if (sock < 0)
			return die("accept", errno);
		rfd = kmig_session(dev, sock, KMIG_ROLE_RECV, proto, caps, &fd,
				   1, 0);
		if (rfd < 0)
			return die("KMIG_SESSION_CREATE", -rfd);
		ret = kmig_recv_all(rfd, NULL, 0, NULL);
		if (ret)
			return die("RECV", -ret);
	}
	printf("hash %016llx\n",
	       (unsigned long long)hash(mem, npages * page_size()));
	return 0;
}
