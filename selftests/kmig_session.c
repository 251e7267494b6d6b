// SPDX-License-Identifier: GPL-2.0
/*
 * KMIG_SESSION_CREATE and the session ioctls: every invalid input has its own
 * errno, the module enforces its protocol window and capabilities whatever a
 * helper offers, and sessions own their memory objects exclusively.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>

#include "kmig_stream.h"
#include "kselftest_harness.h"

#define NPAGES	16

FIXTURE(create) {
	int dev, mem, mem2, a, b;
	struct kmig_session_create c;
	char saved_max[8];
	char saved_min[8];
};

FIXTURE_SETUP(create)
{
	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->mem = kmig_mem_create(self->dev, NPAGES * page_size());
	self->mem2 = kmig_mem_create(self->dev, NPAGES * page_size());
	ASSERT_LE(0, self->mem);
	ASSERT_LE(0, self->mem2);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, tcp_pair(&self->a, &self->b));
	ASSERT_EQ(0, kmig_param_read("proto_max", self->saved_max,
				     sizeof(self->saved_max)));
	ASSERT_EQ(0, kmig_param_read("proto_min", self->saved_min,
				     sizeof(self->saved_min)));
	self->c = (struct kmig_session_create){
		.size = sizeof(self->c),
		.sock_fd = self->a,
		.role = KMIG_ROLE_SEND,
		.proto = KMIG_PROTO_V2,
		.nr_mem = 1,
		.caps = KMIG_CAP_ZERO_PAGES,
		.mem_fds = (unsigned long)&self->mem,
	};
}

FIXTURE_TEARDOWN(create)
{
	kmig_param_write("proto_min", self->saved_min);
	kmig_param_write("proto_max", self->saved_max);
	close(self->a);
	close(self->b);
	close(self->mem);
	close(self->mem2);
	close(self->dev);
}

static int create(FIXTURE_DATA(create) *self)
{
	return kmig_ioctl(self->dev, KMIG_SESSION_CREATE, &self->c);
}

TEST_F(create, valid_send_and_receive)
{
	struct kmig_session_stats st;
	int s, r;

	s = create(self);
	ASSERT_LE(0, s);
	EXPECT_TRUE(fcntl(s, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, kmig_session_stats(s, &st));
	EXPECT_EQ(KMIG_ROLE_SEND, st.role);
	EXPECT_EQ(KMIG_PROTO_V2, st.proto);
	EXPECT_EQ(KMIG_CAP_ZERO_PAGES, st.caps);
	EXPECT_EQ(KMIG_STATE_IDLE, st.state);
	self->c.role = KMIG_ROLE_RECV;
	self->c.sock_fd = self->b;
	self->c.mem_fds = (unsigned long)&self->mem2;
	r = create(self);
	ASSERT_LE(0, r);
	close(s);
	close(r);
}

TEST_F(create, struct_too_small)
{
	self->c.size = KMIG_SESSION_CREATE_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, bad_pointer)
{
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->dev, KMIG_SESSION_CREATE, NULL));
}

TEST_F(create, unknown_flags)
{
	self->c.flags = 1U << 5;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, reserved_nonzero)
{
	self->c.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, role_invalid)
{
	self->c.role = 0;
	EXPECT_EQ(-EINVAL, create(self));
	self->c.role = 3;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, proto_zero)
{
	self->c.proto = 0;
	EXPECT_EQ(-EPROTONOSUPPORT, create(self));
}

TEST_F(create, proto_above_builtin)
{
	self->c.proto = KMIG_PROTO_V2 + 1;
	EXPECT_EQ(-EPROTONOSUPPORT, create(self));
	self->c.proto = ~0U;
	EXPECT_EQ(-EPROTONOSUPPORT, create(self));
}

/* A helper tricked into offering 2 cannot make a proto_max=1 module speak it. */
TEST_F(create, proto_above_lowered_maximum)
{
	int s;

	ASSERT_EQ(0, kmig_param_write("proto_max", "1"));
	EXPECT_EQ(-EPROTONOSUPPORT, create(self));
	self->c.proto = KMIG_PROTO_V1;
	s = create(self);
	EXPECT_LE(0, s);
	close(s);
}

/* A newer host that dropped protocol 1 refuses it. */
TEST_F(create, proto_below_raised_minimum)
{
	ASSERT_EQ(0, kmig_param_write("proto_min", "2"));
	self->c.proto = KMIG_PROTO_V1;
	EXPECT_EQ(-EPROTONOSUPPORT, create(self));
}

TEST_F(create, caps_unknown)
{
	self->c.caps = 1ULL << 40;
	EXPECT_EQ(-EOPNOTSUPP, create(self));
}

TEST_F(create, from_stream_on_send)
{
	self->c.flags = KMIG_SESSION_FROM_STREAM;
	self->c.proto = 0;
	self->c.caps = 0;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, from_stream_with_proto)
{
	self->c.flags = KMIG_SESSION_FROM_STREAM;
	self->c.role = KMIG_ROLE_RECV;
	self->c.mem_fds = (unsigned long)&self->mem2;
	EXPECT_EQ(-EINVAL, create(self));
	self->c.proto = 0;
	EXPECT_EQ(-EINVAL, create(self));	/* caps still set */
	self->c.caps = 0;
	int s = create(self);

	EXPECT_LE(0, s);
	close(s);
}

TEST_F(create, no_regions)
{
	self->c.nr_mem = 0;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, too_many_regions)
{
	self->c.nr_mem = KMIG_MAX_REGIONS + 1;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, socket_fd_invalid)
{
	self->c.sock_fd = -1;
	EXPECT_EQ(-EBADF, create(self));
	self->c.sock_fd = 100000;
	EXPECT_EQ(-EBADF, create(self));
}

TEST_F(create, socket_fd_not_a_socket)
{
	self->c.sock_fd = self->mem2;
	EXPECT_EQ(-ENOTSOCK, create(self));
}

TEST_F(create, socket_datagram)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	ASSERT_LE(0, u);
	self->c.sock_fd = u;
	EXPECT_EQ(-EPROTOTYPE, create(self));
	close(u);
}

TEST_F(create, socket_seqpacket)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	self->c.sock_fd = sv[0];
	EXPECT_EQ(-EPROTOTYPE, create(self));
	close(sv[0]);
	close(sv[1]);
}

TEST_F(create, socket_not_connected)
{
	int t = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, t);
	self->c.sock_fd = t;
	EXPECT_EQ(-ENOTCONN, create(self));
	close(t);
}

/*
 * A non-blocking connect() that completed (as agents with a connect timeout
 * do) leaves sock->state at SS_CONNECTING: the session must still take it.
 */
TEST_F(create, socket_connected_without_blocking)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(addr);
	struct pollfd pfd;
	int l, t, p, err = 0;

	l = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind(l, (void *)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(l, 1));
	ASSERT_EQ(0, getsockname(l, (void *)&addr, &len));
	t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_LE(0, t);
	if (connect(t, (void *)&addr, sizeof(addr)))
		ASSERT_EQ(EINPROGRESS, errno);
	pfd = (struct pollfd){ .fd = t, .events = POLLOUT };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	len = sizeof(err);
	ASSERT_EQ(0, getsockopt(t, SOL_SOCKET, SO_ERROR, &err, &len));
	ASSERT_EQ(0, err);
	p = accept(l, NULL, NULL);
	ASSERT_LE(0, p);
	ASSERT_EQ(0, fcntl(t, F_SETFL, 0));
	self->c.sock_fd = t;
	t = create(self);
	EXPECT_LE(0, t);
	if (t >= 0)
		close(t);
	close(self->c.sock_fd);
	close(p);
	close(l);
}

TEST_F(create, socket_listening)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int l = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT_LE(0, l);
	ASSERT_EQ(0, bind(l, (void *)&addr, sizeof(addr)));
	ASSERT_EQ(0, listen(l, 1));
	self->c.sock_fd = l;
	EXPECT_EQ(-ENOTCONN, create(self));
	close(l);
}

TEST_F(create, mem_fds_bad_pointer)
{
	self->c.mem_fds = 16;
	EXPECT_EQ(-EFAULT, create(self));
}

TEST_F(create, mem_fd_invalid)
{
	int fds[2] = { self->mem, -1 };

	self->c.nr_mem = 2;
	self->c.mem_fds = (unsigned long)fds;
	EXPECT_EQ(-EBADF, create(self));
}

TEST_F(create, mem_fd_not_kmig_memory)
{
	int fds[1] = { self->b };

	self->c.mem_fds = (unsigned long)fds;
	EXPECT_EQ(-EINVAL, create(self));
	fds[0] = self->dev;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, mem_fd_twice)
{
	int fds[2] = { self->mem, self->mem };
	int dup_fd = dup(self->mem);

	self->c.nr_mem = 2;
	self->c.mem_fds = (unsigned long)fds;
	EXPECT_EQ(-EINVAL, create(self));
	/* Another fd of the same object is the same object. */
	fds[1] = dup_fd;
	EXPECT_EQ(-EINVAL, create(self));
	close(dup_fd);
}

TEST_F(create, send_needs_tracking)
{
	self->c.mem_fds = (unsigned long)&self->mem2;
	EXPECT_EQ(-EINVAL, create(self));
}

TEST_F(create, failure_leaves_memory_free)
{
	int fds[2] = { self->mem, -1 };
	int s;

	self->c.nr_mem = 2;
	self->c.mem_fds = (unsigned long)fds;
	EXPECT_EQ(-EBADF, create(self));
	/* The failed call attached nothing. */
	self->c.nr_mem = 1;
	s = create(self);
	EXPECT_LE(0, s);
	close(s);
}

TEST_F(create, memory_owned_by_one_session)
{
	__u64 map[1];
	int s, t;

	s = create(self);
	ASSERT_LE(0, s);
	EXPECT_EQ(-EBUSY, create(self));
	self->c.role = KMIG_ROLE_RECV;
	EXPECT_EQ(-EBUSY, create(self));
	/* The session owns the dirty set. */
	EXPECT_EQ(-EBUSY, kmig_harvest_bitmap(self->mem, 0, NPAGES, map, 0));
	EXPECT_EQ(NPAGES, kmig_harvest_bitmap(self->mem, 0, NPAGES, map,
					      KMIG_HARVEST_PEEK));
	EXPECT_EQ(-EBUSY, kmig_track(self->mem, KMIG_MEM_TRACK_STOP, 0));
	close(s);
	/* Closing the session frees the memory. */
	self->c.role = KMIG_ROLE_SEND;
	t = create(self);
	EXPECT_LE(0, t);
	close(t);
	EXPECT_EQ(NPAGES, kmig_harvest_bitmap(self->mem, 0, NPAGES, map, 0));
}

FIXTURE(ops) {
	int dev, mem, a, b, send, recv;
};

FIXTURE_SETUP(ops)
{
	int mem2;

	self->dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->dev);
	self->mem = kmig_mem_create(self->dev, NPAGES * page_size());
	mem2 = kmig_mem_create(self->dev, NPAGES * page_size());
	ASSERT_LE(0, self->mem);
	ASSERT_LE(0, mem2);
	ASSERT_EQ(0, kmig_track(self->mem, KMIG_MEM_TRACK_START,
				KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, tcp_pair(&self->a, &self->b));
	self->send = kmig_session(self->dev, self->a, KMIG_ROLE_SEND,
				  KMIG_PROTO_V2, KMIG_CAP_BLOBS, &self->mem, 1,
				  0);
	self->recv = kmig_session(self->dev, self->b, KMIG_ROLE_RECV,
				  KMIG_PROTO_V2, KMIG_CAP_BLOBS, &mem2, 1, 0);
	ASSERT_LE(0, self->send);
	ASSERT_LE(0, self->recv);
	/* The sessions hold what they need. */
	close(mem2);
	close(self->a);
	close(self->b);
}

FIXTURE_TEARDOWN(ops)
{
	close(self->send);
	close(self->recv);
	close(self->mem);
	close(self->dev);
}

TEST_F(ops, wrong_role)
{
	struct kmig_recv ev;
	struct kmig_send_round r;

	EXPECT_EQ(-EINVAL, kmig_recv(self->send, &ev, NULL, 0));
	EXPECT_EQ(-EINVAL, kmig_send_round(self->recv, &r, 0));
	EXPECT_EQ(-EINVAL, kmig_send_blob(self->recv, 1, "x", 1));
	EXPECT_EQ(-EINVAL, kmig_send_end(self->recv));
}

TEST_F(ops, unknown_ioctl)
{
	struct kmig_info info = { .size = sizeof(info) };

	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->send, _IO(KMIG_IOC_MAGIC, 0x4f),
				      &info));
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->send, KMIG_GET_INFO, &info));
	EXPECT_EQ(-ENOTTY, kmig_ioctl(self->recv, KMIG_MEM_HARVEST, &info));
}

TEST_F(ops, round_bad_arguments)
{
	struct kmig_send_round r = { .size = sizeof(r), .flags = 2 };

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	r.flags = 0;
	r.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	r.reserved[0] = 0;
	r.bw_limit = 100;	/* less than a page a second */
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	r.bw_limit = 0;
	r.size = KMIG_SEND_ROUND_SIZE_VER0 - 8;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	EXPECT_EQ(-EFAULT, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND,
				      NULL));
}

TEST_F(ops, blob_bad_arguments)
{
	struct kmig_send_blob b = {
		.size = sizeof(b), .data = (unsigned long)"x", .len = 1,
		.flags = 1,
	};

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_BLOB, &b));
	b.flags = 0;
	b.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_SEND_BLOB, &b));
	EXPECT_EQ(-EINVAL, kmig_send_blob(self->send, 0, "x", 0));
	EXPECT_EQ(-EMSGSIZE, kmig_send_blob(self->send, 0, "x",
					    KMIG_BLOB_MAX + 1ULL));
	EXPECT_EQ(-EFAULT, kmig_send_blob(self->send, 0, NULL, 10));
}

TEST_F(ops, blob_needs_capability)
{
	int a, b, s;

	ASSERT_EQ(0, tcp_pair(&a, &b));
	close(self->send);
	s = kmig_session(self->dev, a, KMIG_ROLE_SEND, KMIG_PROTO_V2, 0,
			 &self->mem, 1, 0);
	ASSERT_LE(0, s);
	EXPECT_EQ(-EOPNOTSUPP, kmig_send_blob(s, 0, "x", 1));
	self->send = s;
	close(a);
	close(b);
}

TEST_F(ops, end_before_anything)
{
	EXPECT_EQ(-EINVAL, kmig_send_end(self->send));
}

TEST_F(ops, end_with_round_open)
{
	struct kmig_send_round r = {
		.size = sizeof(r), .max_bytes = 1,
	};

	ASSERT_EQ(0, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	ASSERT_EQ(0, r.complete);
	EXPECT_EQ(-EINVAL, kmig_send_end(self->send));
	EXPECT_EQ(0, kmig_send_full_round(self->send, 0));
	/* a completed pre-copy round is not enough: END needs FINAL */
	EXPECT_EQ(-EINVAL, kmig_send_end(self->send));
	EXPECT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	EXPECT_EQ(0, kmig_send_end(self->send));
}

/*
 * FINAL sends every page dirty at the time of the call: a pre-copy round
 * split by a budget has passed pages that were written since.
 */
TEST_F(ops, final_sends_pages_behind_an_open_round)
{
	struct kmig_send_round r = { .size = sizeof(r), .max_bytes = 1 };
	struct kmig_send_round f;
	struct kmig_session_stats st;
	struct kmig_mem_stats ms;
	unsigned char *p;

	p = mmap(NULL, NPAGES * page_size(), PROT_READ | PROT_WRITE,
		 MAP_SHARED, self->mem, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	ASSERT_EQ(0, r.complete);
	ASSERT_LT(0, r.pages);		/* the cursor has passed page 0 */
	p[0] = 1;
	do {
		ASSERT_EQ(0, kmig_send_round(self->send, &f, KMIG_ROUND_FINAL));
	} while (!f.complete);
	EXPECT_EQ(1, f.round);		/* round 0 was closed, then FINAL */
	ASSERT_EQ(0, kmig_mem_stats(self->mem, &ms));
	EXPECT_EQ(0, ms.dirty_pages);
	ASSERT_EQ(0, kmig_send_end(self->send));
	ASSERT_EQ(0, kmig_recv_all(self->recv, NULL, 0, NULL));
	ASSERT_EQ(0, kmig_session_stats(self->recv, &st));
	EXPECT_EQ(2, st.round);
	EXPECT_EQ(NPAGES + 1, st.pages);
	munmap(p, NPAGES * page_size());
}

/* A final round split by a budget goes on as FINAL only. */
TEST_F(ops, split_final_round_continues_only_as_final)
{
	struct kmig_send_round r = {
		.size = sizeof(r), .flags = KMIG_ROUND_FINAL, .max_bytes = 1,
	};

	ASSERT_EQ(0, kmig_ioctl(self->send, KMIG_SESSION_SEND_ROUND, &r));
	ASSERT_EQ(0, r.complete);
	EXPECT_EQ(-EINVAL, kmig_send_full_round(self->send, 0));
	EXPECT_EQ(-EINVAL, kmig_send_end(self->send));
	EXPECT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	EXPECT_EQ(0, kmig_send_end(self->send));
	EXPECT_EQ(0, kmig_recv_all(self->recv, NULL, 0, NULL));
}

TEST_F(ops, nothing_after_final_or_end)
{
	EXPECT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	EXPECT_EQ(-EINVAL, kmig_send_full_round(self->send, 0));
	EXPECT_EQ(0, kmig_send_blob(self->send, 5, "state", 5));
	EXPECT_EQ(0, kmig_send_end(self->send));
	EXPECT_EQ(-EINVAL, kmig_send_end(self->send));
	EXPECT_EQ(-EINVAL, kmig_send_blob(self->send, 5, "state", 5));
	/* The receiver has no room for the blob. */
	EXPECT_EQ(-ENOBUFS, kmig_recv_all(self->recv, NULL, 0, NULL));
}

TEST_F(ops, stats_bad_arguments)
{
	struct kmig_session_stats st = { .size = sizeof(st), .flags = 1 };

	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_GET_STATS, &st));
	st.flags = 0;
	st.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_GET_STATS, &st));
	st.reserved[0] = 0;
	st.size = KMIG_SESSION_STATS_SIZE_VER0 - 4;
	EXPECT_EQ(-EINVAL, kmig_ioctl(self->send, KMIG_SESSION_GET_STATS, &st));
}

TEST_F(ops, statistics_after_migration)
{
	struct kmig_session_stats st;

	ASSERT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(self->send));
	ASSERT_EQ(0, kmig_recv_all(self->recv, NULL, 0, NULL));
	ASSERT_EQ(0, kmig_session_stats(self->send, &st));
	EXPECT_EQ(KMIG_STATE_ENDED, st.state);
	EXPECT_EQ(NPAGES, st.pages);
	EXPECT_EQ(1, st.round);
	EXPECT_EQ(NPAGES, st.last_dirty);
	EXPECT_LT(0, st.bandwidth);
	EXPECT_LT(0, st.elapsed_ns);
	/* One PAGES run, ROUND, END: three records. */
	EXPECT_EQ(3, st.records);
	EXPECT_EQ(32 + 16 + 4 + 16 + NPAGES * page_size() + 16 + 16 + 48,
		  st.bytes);
	ASSERT_EQ(0, kmig_session_stats(self->recv, &st));
	EXPECT_EQ(KMIG_STATE_ENDED, st.state);
	EXPECT_EQ(NPAGES, st.pages);
	EXPECT_EQ(3, st.records);
}

struct blocked_recv {
	int sfd;
	pid_t tid;
	int ret;
	struct kmig_recv ev;
};

static void *recv_thread(void *arg)
{
	struct blocked_recv *b = arg;

	b->tid = gettid();
	b->ret = kmig_recv(b->sfd, &b->ev, NULL, 0);
	return NULL;
}

/* Statistics do not wait for a receive that blocks on a silent peer. */
TEST_F_TIMEOUT(ops, stats_while_a_receive_blocks, 60)
{
	struct blocked_recv b = { .sfd = self->recv };
	struct kmig_session_stats st;
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, recv_thread, &b));
	while (!b.tid || kmig_thread_state(b.tid) != 'S')
		sched_yield();
	/* this call hung until the receive returned */
	ASSERT_EQ(0, kmig_session_stats(self->recv, &st));
	EXPECT_EQ(KMIG_ROLE_RECV, st.role);
	EXPECT_EQ(0, st.bytes);
	ASSERT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(self->send));
	pthread_join(th, NULL);
	EXPECT_EQ(0, b.ret);
	EXPECT_EQ(KMIG_EVENT_ROUND, b.ev.event);
}

/* poll(): readable when the stream has data, HUP at the end, ERR broken. */
TEST_F(ops, poll_follows_the_stream)
{
	struct pollfd pfd = { .fd = self->recv, .events = POLLIN };
	struct kmig_recv ev;
	int a, b, mem, sfd;

	EXPECT_EQ(0, poll(&pfd, 1, 0));
	pfd = (struct pollfd){ .fd = self->send, .events = POLLOUT };
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLOUT);

	ASSERT_EQ(0, kmig_send_full_round(self->send, KMIG_ROUND_FINAL));
	ASSERT_EQ(0, kmig_send_end(self->send));
	pfd = (struct pollfd){ .fd = self->send, .events = POLLOUT };
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP);
	pfd = (struct pollfd){ .fd = self->recv, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	ASSERT_EQ(0, kmig_recv_all(self->recv, NULL, 0, NULL));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLHUP);

	/* garbage breaks a receive session */
	ASSERT_EQ(0, tcp_pair(&a, &b));
	mem = kmig_mem_create(self->dev, NPAGES * page_size());
	ASSERT_LE(0, mem);
	sfd = kmig_session(self->dev, b, KMIG_ROLE_RECV, KMIG_PROTO_V2, 0,
			   &mem, 1, 0);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, write_all(a, "garbage, not a kmig stream header....", 37));
	pfd = (struct pollfd){ .fd = sfd, .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	EXPECT_EQ(-EPROTO, kmig_recv(sfd, &ev, NULL, 0));
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_TRUE(pfd.revents & POLLERR);
	close(sfd);
	close(mem);
	close(a);
	close(b);
}

/* "vmalloc" of a cgroup's memory.stat: bytes, or -1. */
static long long memcg_vmalloc(const char *cg)
{
	char path[128], line[128];
	long long val = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "vmalloc ", 8))
			val = strtoll(line + 8, NULL, 10);
	fclose(f);
	return val;
}

/*
 * Every allocation a user can cause is charged to the user's memory cgroup,
 * the sender's checksum bounce buffer (vmalloc, a run of pages) included.
 */
TEST(checksum_bounce_buffer_is_charged)
{
	char cg[64], procs[96], pid[16];
	long long before, after;
	int dev, mem, a, b, sfd;
	unsigned char *p;

	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/kmig_acct.%d", getpid());
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (kmig_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory") ||
	    mkdir(cg, 0700))
		SKIP(return, "no cgroup2 memory controller: %s", strerror(errno));
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	ASSERT_EQ(0, kmig_write_file(procs, pid));

	dev = open(KMIG_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, dev);
	mem = kmig_mem_create(dev, NPAGES * page_size());
	ASSERT_LE(0, mem);
	p = mmap(NULL, NPAGES * page_size(), PROT_READ | PROT_WRITE,
		 MAP_SHARED, mem, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0x42, NPAGES * page_size());
	ASSERT_EQ(0, kmig_track(mem, KMIG_MEM_TRACK_START, KMIG_TRACK_ALL_DIRTY));
	ASSERT_EQ(0, unix_pair(&a, &b));
	sfd = kmig_session(dev, a, KMIG_ROLE_SEND, KMIG_PROTO_V2,
			   KMIG_CAP_CHECKSUM, &mem, 1, 0);
	ASSERT_LE(0, sfd);
	before = memcg_vmalloc(cg);
	ASSERT_LE(0, before);
	/* the first checksummed run allocates the bounce buffer */
	ASSERT_EQ(0, kmig_send_full_round(sfd, 0));
	after = memcg_vmalloc(cg);
	TH_LOG("vmalloc charged to the cgroup: %lld -> %lld bytes", before, after);
	EXPECT_LE(NPAGES * page_size(), after - before);

	close(sfd);
	close(a);
	close(b);
	munmap(p, NPAGES * page_size());
	close(mem);
	close(dev);
	kmig_write_file("/sys/fs/cgroup/cgroup.procs", pid);
	rmdir(cg);
}

TEST_HARNESS_MAIN
