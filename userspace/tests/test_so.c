// SPDX-License-Identifier: GPL-2.0
/*
 * Links against libkmig.so (not the static library) and uses only the public
 * header: checks that the exported ABI is enough for a real handshake. The
 * two sides run in two processes.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libkmig.h"
#include "tap.h"

static bool so_version(void)
{
	CHECK(!strcmp(kmig_lib_version(), LIBKMIG_VERSION_STRING));
	return true;
}

static bool so_handshake_across_processes(void)
{
	static struct kmig_offer mine;
	static struct kmig_hs_result res;
	static struct kmig_key key;
	int sv[2], status;
	pid_t pid;

	CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK_EQ(kmig_key_set(&key, "a key of more than sixteen bytes", 31), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		KMIG_HS_OPTS(o, .timeout_ms = 3000, .key = &key);

		close(sv[0]);
		kmig_offer_init(&mine);
		kmig_offer_set_versions(&mine, 1, 3);
		mine.caps_supported = KMIG_CAP_ZERO_PAGES;
		_exit(kmig_handshake_destination(sv[1], &mine, &o, &res) == 0 &&
		      res.version == 2 && res.nr_regions == 1 ? 0 : 1);
	}
	close(sv[1]);
	{
		KMIG_HS_OPTS(o, .timeout_ms = 3000, .key = &key);

		kmig_offer_init(&mine);
		kmig_offer_set_versions(&mine, 1, 2);
		mine.caps_supported = KMIG_CAP_ZERO_PAGES | KMIG_CAP_CHECKSUM;
		CHECK_EQ(kmig_offer_add_region(&mine, 0, mine.page_size * 16ULL), 0);
		CHECK_EQ(kmig_handshake_source(sv[0], &mine, &o, &res), 0);
	}
	close(sv[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(res.version, 2);
	CHECK_EQ(res.caps, KMIG_CAP_ZERO_PAGES);
	CHECK_EQ(res.authenticated, 1);
	return true;
}

static bool so_names(void)
{
	uint64_t m;

	CHECK(!strcmp(kmig_hs_reason_name(KMIG_HS_NO_COMMON_VERSION), "no_common_version"));
	CHECK_EQ(kmig_hs_reason_errno(KMIG_HS_AUTH_FAILED), -EACCES);
	CHECK_EQ(kmig_caps_parse("checksum", &m), 0);
	CHECK_EQ(m, KMIG_CAP_CHECKSUM);
	return true;
}

/* LIBKMIG_0.3: the listener, through the shared library. */
static bool so_listen(void)
{
	static struct kmig_offer mine;
	static struct kmig_hs_result res;
	char where[KMIG_LISTEN_PEER_MAX], peer[KMIG_LISTEN_PEER_MAX];
	KMIG_LISTEN_OPTS(o, .accept_timeout_ms = 50);
	int lfd;

	CHECK_EQ(kmig_listen_socket("localhost:7000", NULL, 0), -EINVAL);
	lfd = kmig_listen_socket("127.0.0.1:0", where, sizeof(where));
	CHECK(lfd >= 0);
	CHECK(!strncmp(where, "127.0.0.1:", 10));
	kmig_offer_init(&mine);
	kmig_offer_set_versions(&mine, 1, 2);
	CHECK_EQ(kmig_listen_handshake(lfd, KMIG_HS_ROLE_DESTINATION, &mine, &o,
				       &res, peer, sizeof(peer)), -ETIMEDOUT);
	CHECK_EQ(res.reason, KMIG_HS_ACCEPT_TIMEOUT);
	CHECK(!strcmp(kmig_hs_reason_name(res.reason), "accept_timeout"));
	close(lfd);
	return true;
}

static const struct tap_test tests[] = {
	TEST(so_version),
	TEST(so_handshake_across_processes),
	TEST(so_names),
	TEST(so_listen),
};

TEST_MAIN(tests)
