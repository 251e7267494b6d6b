// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of the Linux guest that stock QEMU runs in kmig's QEMU tests
 * (selftests/kmig_qemu.sh). It keeps rewriting a buffer and checks, before
 * each pass, that the buffer still holds exactly what the previous pass
 * wrote. A live migration that loses or corrupts one page of the buffer makes
 * the check after the switch-over fail.
 *
 * usage: guest-load MIB busy|idle|PAGES_PER_SECOND
 *   busy  rewrite the whole buffer in every pass
 *   idle  rewrite one page per pass and sleep 100 ms
 *   N     rewrite N/10 pages per pass (the next ones, round the buffer)
 *         and sleep 100 ms: about N pages/s (make bench's dirty rates)
 * Prints "guest-load: pass N ok" (at most every 200 ms, and the first) or
 * "guest-load: pass N FAILED ..." and then stops.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE	4096UL

/* The word at @i in the pass @pass: differs in every word and every pass. */
static uint64_t word(uint64_t pass, uint64_t i)
{
	uint64_t x = (pass << 32) ^ i ^ 0x9e3779b97f4a7c15ULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t *buf, *pass_of_page, words, pages, pass, p, i, k, per_pass;
	uint64_t cursor = 0;
	int busy;
	double last = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: guest-load MIB busy|idle\n");
		return 2;
	}
	pages = strtoull(argv[1], NULL, 0) * (1 << 20) / PAGE;
	busy = !strcmp(argv[2], "busy");
	if (busy)
		per_pass = pages;
	else if (!strcmp(argv[2], "idle"))
		per_pass = 1;
	else
		per_pass = strtoull(argv[2], NULL, 0) / 10;
	if (!pages || !per_pass || per_pass > pages) {
		fprintf(stderr, "guest-load: bad size or rate\n");
		return 2;
	}
	words = PAGE / sizeof(uint64_t);
	buf = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	pass_of_page = calloc(pages, sizeof(*pass_of_page));
	if (buf == MAP_FAILED || !pass_of_page) {
		perror("guest-load: memory");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (pass = 1;; pass++) {
		/* Every page must hold what its last pass wrote. */
		for (p = 0; p < pages; p++) {
			uint64_t *w = buf + p * words;

			for (i = 0; i < words; i += 61) {
				uint64_t want = pass_of_page[p] ?
					word(pass_of_page[p], p * words + i) : 0;

				if (w[i] != want) {
					printf("guest-load: pass %llu FAILED page %llu word %llu: %016llx, expected %016llx\n",
					       (unsigned long long)pass,
					       (unsigned long long)p,
					       (unsigned long long)i,
					       (unsigned long long)w[i],
					       (unsigned long long)want);
					for (;;)
						pause();
				}
			}
		}
		for (k = 0; k < per_pass; k++) {
			uint64_t *w;

			p = cursor;
			cursor = (cursor + 1) % pages;
			w = buf + p * words;
			for (i = 0; i < words; i++)
				w[i] = word(pass, p * words + i);
			pass_of_page[p] = pass;
		}
		if (pass == 1 || now() - last >= 0.2) {
			last = now();
			printf("guest-load: pass %llu ok\n",
			       (unsigned long long)pass);
		}
		if (!busy)
			usleep(100000);
	}
}
