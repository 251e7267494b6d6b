// SPDX-License-Identifier: GPL-2.0
/*
 * Migration sessions: creation and its checks, the session fd, statistics
 * and the error path shared by both roles. The state machine is described in
 * session.h.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <net/sock.h>

#include "kmig.h"
#include "session.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

/* Break the session: the first error wins. Returns @error. */
int kmig_session_fail(struct kmig_session *s, int error, u32 reason,
		      u64 offset)
{
	lockdep_assert_held(&s->lock);

	if (s->state != KMIG_STATE_BROKEN) {
		s->state = KMIG_STATE_BROKEN;
		s->error = error;
		s->error_reason = reason;
		s->error_offset = offset;
		trace_kmig_stream_error(s->role, error, reason, offset);
		pr_debug("session %p broken: error %d, reason %u, offset %llu\n",
			 s, error, reason, offset);
	}
	return error;
}

/* @valid is a mask of BIT(KMIG_STATE_*) in which the operation may run. */
int kmig_session_check_state(struct kmig_session *s, unsigned int valid)
{
	if (s->state == KMIG_STATE_BROKEN)
		return -EPIPE;
	if (!(valid & BIT(s->state)))
		return -EINVAL;
	if (!s->start_ns)
		s->start_ns = ktime_get_ns();
	return 0;
}

/* A field written under @lock, read by a reader that may not hold it. */
#define KMIG_SNAP(x)	data_race(READ_ONCE(x))

static long kmig_session_get_stats(struct kmig_session *s, void __user *uarg)
{
	struct kmig_session_stats st;
	bool locked;
	u64 start_ns;
	int ret;

	ret = kmig_copy_args(&st, sizeof(st), KMIG_SESSION_STATS_SIZE_VER0,
			     uarg);
	if (ret)
		return ret;
	if (st.flags || !kmig_all_zero(st.reserved, sizeof(st.reserved)))
		return -EINVAL;

	/*
	 * A send or receive holds @lock for as long as its peer makes it
	 * wait; statistics do not wait for it. Without the lock each figure
	 * is read once and is current, but the set may straddle a record.
	 */
	locked = mutex_trylock(&s->lock);
	st.role = s->role;
	st.proto = s->proto;
	st.caps = s->caps;
	st.state = KMIG_SNAP(s->state);
	st.round = KMIG_SNAP(s->rounds);
	st.bytes = KMIG_SNAP(s->bytes);
	st.pages = KMIG_SNAP(s->pages);
	st.zero_pages = KMIG_SNAP(s->zero_pages);
	st.blobs = KMIG_SNAP(s->blobs);
	st.records = KMIG_SNAP(s->records);
	st.last_dirty = KMIG_SNAP(s->last_dirty);
	st.dirty_rate = KMIG_SNAP(s->dirty_rate);
	st.bandwidth = KMIG_SNAP(s->bandwidth);
	start_ns = KMIG_SNAP(s->start_ns);
	st.elapsed_ns = start_ns ? ktime_get_ns() - start_ns : 0;
	st.error = KMIG_SNAP(s->error);
	st.error_reason = KMIG_SNAP(s->error_reason);
	st.error_offset = KMIG_SNAP(s->error_offset);
	if (locked)
		mutex_unlock(&s->lock);

	return kmig_copy_args_out(uarg, &st, sizeof(st));
}

static long kmig_session_ioctl(struct file *file, unsigned int cmd,
			       unsigned long arg)
{
	struct kmig_session *s = file->private_data;
	void __user *uarg = (void __user *)arg;
	bool send = s->role == KMIG_ROLE_SEND;

	switch (cmd) {
	case KMIG_SESSION_SEND_ROUND:
		return send ? kmig_session_send_round(s, uarg) : -EINVAL;
	case KMIG_SESSION_SEND_BLOB:
		return send ? kmig_session_send_blob(s, uarg) : -EINVAL;
	case KMIG_SESSION_SEND_END:
		return send ? kmig_session_send_end(s, uarg) : -EINVAL;
	case KMIG_SESSION_RECV:
		return send ? -EINVAL : kmig_session_recv(s, uarg);
	case KMIG_SESSION_GET_STATS:
		return kmig_session_get_stats(s, uarg);
	default:
		return -ENOIOCTLCMD;
	}
}

/*
 * Readiness, for poll() and epoll: a receive session is readable when its
 * socket has data (RECV makes progress, though it may still wait for the
 * rest of a record) or a blob waits for a larger buffer; a send session is
 * writable when its socket has room. EPOLLERR once BROKEN, EPOLLHUP once
 * ENDED.
 */
static __poll_t kmig_session_poll(struct file *file, poll_table *wait)
{
	struct kmig_session *s = file->private_data;
	struct socket *sock = s->sock;
	__poll_t mask = sock->ops->poll(s->sock_file, sock, wait);

	switch (KMIG_SNAP(s->state)) {
	case KMIG_STATE_BROKEN:
		return EPOLLERR;
	case KMIG_STATE_ENDED:
		return EPOLLHUP;
	}
	if (s->role == KMIG_ROLE_SEND)
		return mask & (EPOLLOUT | EPOLLWRNORM | EPOLLERR | EPOLLHUP);
	if (KMIG_SNAP(s->rx->state) == KMIG_RX_BLOB_READY)
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask & (EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP);
}

static void kmig_session_put_regions(struct kmig_session *s, unsigned int n,
				     unsigned int attached)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (i < attached)
			kmig_mem_detach(s->regions[i].mem, s);
		fput(s->regions[i].file);
	}
}

static void kmig_session_free(struct kmig_session *s)
{
	kmig_session_put_regions(s, s->nr_regions, s->nr_regions);
	fput(s->sock_file);
	if (s->role == KMIG_ROLE_SEND)
		kmig_tx_free(s->tx);
	else
		kmig_rx_free(s->rx);
	kfree(s);
}

static int kmig_session_release(struct inode *inode, struct file *file)
{
	kmig_session_free(file->private_data);
	return 0;
}

static const struct file_operations kmig_session_fops = {
	.owner		= THIS_MODULE,
	.release	= kmig_session_release,
	.poll		= kmig_session_poll,
	.unlocked_ioctl	= kmig_session_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static int kmig_session_check_args(const struct kmig_session_create *c)
{
	if ((c->flags & ~KMIG_SESSION_FROM_STREAM) ||
	    !kmig_all_zero(c->reserved, sizeof(c->reserved)))
		return -EINVAL;
	if (c->role != KMIG_ROLE_SEND && c->role != KMIG_ROLE_RECV)
		return -EINVAL;
	if (c->flags & KMIG_SESSION_FROM_STREAM) {
		/* Version and capabilities come from the stream header. */
		if (c->role != KMIG_ROLE_RECV || c->proto || c->caps)
			return -EINVAL;
	} else {
		if (c->proto < kmig_proto_min() ||
		    c->proto > kmig_proto_max())
			return -EPROTONOSUPPORT;
		if (c->caps & ~KMIG_CAPS_SUPPORTED)
			return -EOPNOTSUPP;
	}
	if (!c->nr_mem || c->nr_mem > KMIG_MAX_REGIONS)
		return -EINVAL;
	return 0;
}

/* Take the socket: a connected stream socket, referenced by its file. */
static int kmig_session_get_socket(struct kmig_session *s, int fd)
{
	struct socket *sock;
	struct file *file;

	file = fget(fd);
	if (!file)
		return -EBADF;
	sock = sock_from_file(file);
	if (!sock) {
		fput(file);
		return -ENOTSOCK;
	}
	if (sock->type != SOCK_STREAM) {
		fput(file);
		return -EPROTOTYPE;
	}
	/*
	 * A non-blocking connect() that completed leaves sock->state at
	 * SS_CONNECTING until connect() is called again; the connection
	 * itself is what counts (AF_UNIX uses TCP_ESTABLISHED too).
	 */
	if (sock->state != SS_CONNECTED &&
	    READ_ONCE(sock->sk->sk_state) != TCP_ESTABLISHED) {
		fput(file);
		return -ENOTCONN;
	}
	s->sock_file = file;
	s->sock = sock;
	return 0;
}

/* Take the memory objects, in layout order, and attach to each. */
static int kmig_session_get_regions(struct kmig_session *s,
				    const s32 __user *ufds, unsigned int n)
{
	bool send = s->role == KMIG_ROLE_SEND;
	unsigned int i, j, got = 0, attached = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		struct file *file;
		s32 fd;

		if (get_user(fd, ufds + i)) {
			ret = -EFAULT;
			goto out_put_regions;
		}
		file = fget(fd);
		if (!file) {
			ret = -EBADF;
			goto out_put_regions;
		}
		s->regions[i].file = file;
		got++;
		s->regions[i].mem = kmig_mem_from_file(file);
		if (IS_ERR(s->regions[i].mem)) {
			ret = PTR_ERR(s->regions[i].mem);
			goto out_put_regions;
		}
		for (j = 0; j < i; j++) {
			if (s->regions[j].mem == s->regions[i].mem) {
				ret = -EINVAL;
				goto out_put_regions;
			}
		}
	}
	for (i = 0; i < n; i++) {
		ret = kmig_mem_attach(s->regions[i].mem, s, send);
		if (ret)
			goto out_put_regions;
		attached++;
	}
	return 0;

out_put_regions:
	kmig_session_put_regions(s, got, attached);
	return ret;
}

int kmig_session_create(void __user *uarg)
{
	struct kmig_session_create c;
	struct kmig_session *s;
	struct file *file;
	int fd, ret;

	ret = kmig_copy_args(&c, sizeof(c), KMIG_SESSION_CREATE_SIZE_VER0,
			     uarg);
	if (ret)
		return ret;
	ret = kmig_session_check_args(&c);
	if (ret)
		return ret;

	s = kzalloc(struct_size(s, regions, c.nr_mem), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	s->role = c.role;
	s->proto = c.proto;
	s->caps = c.caps;
	s->state = KMIG_STATE_IDLE;
	if (s->role == KMIG_ROLE_SEND)
		s->tx = kvzalloc(sizeof(*s->tx), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	else
		s->rx = kvzalloc(sizeof(*s->rx), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!s->tx) {
		ret = -ENOMEM;
		goto out_free_session;
	}

	ret = kmig_session_get_socket(s, c.sock_fd);
	if (ret)
		goto out_free_session;

	ret = kmig_session_get_regions(s, u64_to_user_ptr(c.mem_fds), c.nr_mem);
	if (ret)
		goto out_put_socket;
	s->nr_regions = c.nr_mem;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_put_regions;
	}
	file = anon_inode_getfile("[kmig-session]", &kmig_session_fops, s,
				  O_RDWR);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_put_fd;
	}
	fd_install(fd, file);
	return fd;

out_put_fd:
	put_unused_fd(fd);
out_put_regions:
	kmig_session_put_regions(s, c.nr_mem, c.nr_mem);
out_put_socket:
	fput(s->sock_file);
out_free_session:
	kvfree(s->tx);
	kfree(s);
	return ret;
}
