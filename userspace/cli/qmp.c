// SPDX-License-Identifier: GPL-2.0
/*
 * A small QMP client: one command at a time, events recorded as they pass.
 *
 * QEMU writes one JSON object per line. Each line is parsed by json-c; an
 * object with "event" is an event (its timestamp and, for MIGRATION, its
 * status are kept), an object with "return" or "error" answers the command
 * in flight, and the greeting has "QMP".
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

#define QMP_LINE_MAX	(1 << 20)	/* no sane reply is longer */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int qmp_errorf(struct qmp *q, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int qmp_errorf(struct qmp *q, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->error, sizeof(q->error), fmt, ap);
	va_end(ap);
	return err;
}

bool qmp_in(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

static void qmp_event(struct qmp *q, struct json_object *o)
{
	const char *name = json_object_get_string(json_object_object_get(o, "event"));
	struct json_object *ts = json_object_object_get(o, "timestamp");
	uint64_t us = 0;

	if (ts)
		us = json_object_get_int64(json_object_object_get(ts, "seconds")) *
		     1000000ULL +
		     json_object_get_int64(json_object_object_get(ts, "microseconds"));
	if (!name)
		return;
	if (!strcmp(name, "STOP"))
		q->stop_us = us;
	else if (!strcmp(name, "RESUME"))
		q->resume_us = us;
	else if (!strcmp(name, "MIGRATION")) {
		const char *st = json_object_get_string(json_object_object_get(
			json_object_object_get(o, "data"), "status"));

		if (st)
			snprintf(q->migration, sizeof(q->migration), "%s", st);
	}
}

/*
 * The next line that is not an event, parsed, by @deadline (ms, monotonic;
 * -1 = do not wait for more than is there). NULL with *err set otherwise:
 * -ETIMEDOUT (also when nothing is pending with deadline -1), -EPIPE, -EIO;
 * or, with @on_event, 0 as soon as an event was dispatched.
 */
static struct json_object *qmp_next(struct qmp *q, int64_t deadline, int *err,
				    bool on_event)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		if (nl) {
			enum json_tokener_error jerr;
			struct json_object *o;
			size_t used = nl - q->buf + 1;

			*nl = 0;
			o = json_tokener_parse_verbose(q->buf, &jerr);
			memmove(q->buf, q->buf + used, q->len - used);
			q->len -= used;
			if (!o || !json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				*err = qmp_errorf(q, -EIO, "%s sent a line that is not a JSON object (%s)",
						  q->who, json_tokener_error_desc(jerr));
				return NULL;
			}
			if (!json_object_object_get_ex(o, "event", NULL))
				return o;
			qmp_event(q, o);
			json_object_put(o);
			if (on_event) {
				*err = 0;
				return NULL;
			}
			continue;
		}
		if (q->closed) {
			*err = qmp_errorf(q, -EPIPE, "%s closed its QMP socket (did it exit?)",
					  q->who);
			return NULL;
		}
		left = deadline < 0 ? 0 : deadline - mono_ms();
		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*err = qmp_errorf(q, -ETIMEDOUT, "%s did not answer in time", q->who);
			return NULL;
		}
		if (q->cap - q->len < 4096) {
			char *nb;

			if (q->cap >= QMP_LINE_MAX) {
				*err = qmp_errorf(q, -EIO, "%s sent a line over %d bytes",
						  q->who, QMP_LINE_MAX);
				return NULL;
			}
			nb = realloc(q->buf, q->cap ? q->cap * 2 : 16384);
			if (!nb) {
				*err = -ENOMEM;
				return NULL;
			}
			q->buf = nb;
			q->cap = q->cap ? q->cap * 2 : 16384;
		}
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			q->closed = true;
		else
			q->len += n;
	}
}

int qmp_poll(struct qmp *q, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	struct json_object *o;
	int err = 0;

	/* Only events can come while no command is in flight. */
	o = qmp_next(q, deadline, &err, true);
	if (o) {
		json_object_put(o);
		return qmp_errorf(q, -EIO, "%s answered a command nobody sent", q->who);
	}
	return err == -ETIMEDOUT ? 0 : err;
}

int qmp_call(struct qmp *q, const char *cmd, struct json_object *args,
	     struct json_object **ret, int timeout_ms)
{
	struct json_object *req = json_object_new_object(), *o, *r, *e;
	int64_t deadline = mono_ms() + timeout_ms;
	const char *text;
	size_t len, off = 0;
	int err = 0;

	if (ret)
		*ret = NULL;
	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	/* One command per line, as QEMU's own tools send them. */
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	len = strlen(text) + 1;
	while (off < len) {
		ssize_t n = send(q->fd, off < len - 1 ? text + off : "\n",
				 off < len - 1 ? len - 1 - off : 1, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			json_object_put(req);
			q->closed = true;
			return qmp_errorf(q, -EPIPE, "%s: cannot send %s (did it exit?)",
					  q->who, cmd);
		}
		off += n;
	}
	json_object_put(req);

	o = qmp_next(q, deadline, &err, false);
	if (!o)
		return err;
	if (json_object_object_get_ex(o, "return", &r)) {
		if (ret)
			*ret = json_object_get(r);
		json_object_put(o);
		return 0;
	}
	if (json_object_object_get_ex(o, "error", &e)) {
		err = qmp_errorf(q, -EREMOTEIO, "%s refused %s: %s: %s", q->who, cmd,
				 json_object_get_string(json_object_object_get(e, "class")),
				 json_object_get_string(json_object_object_get(e, "desc")));
		json_object_put(o);
		return err;
	}
	json_object_put(o);
	return qmp_errorf(q, -EIO, "%s sent neither a return nor an error for %s",
			  q->who, cmd);
}

int qmp_open(struct qmp *q, const char *path, const char *who, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = mono_ms() + timeout_ms;
	struct json_object *o;
	int err = 0;

	memset(q, 0, sizeof(*q));
	q->who = who;
	q->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return qmp_errorf(q, -ENAMETOOLONG, "QMP socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return qmp_errorf(q, -errno, "socket: %s", strerror(errno));
	/* QEMU may still be starting: its socket appears when it listens. */
	while (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		if ((err != -ENOENT && err != -ECONNREFUSED) || mono_ms() > deadline) {
			close(q->fd);
			q->fd = -1;
			return qmp_errorf(q, err, "%s: cannot connect to %s: %s", who,
					  path, strerror(-err));
		}
		usleep(50000);
	}
	o = qmp_next(q, deadline, &err, false);
	if (!o) {
		qmp_close(q);
		return err;
	}
	if (!json_object_object_get_ex(o, "QMP", NULL)) {
		json_object_put(o);
		qmp_close(q);
		return qmp_errorf(q, -EPROTO, "%s: %s does not greet like QMP", who, path);
	}
	json_object_put(o);
	err = qmp_call(q, "qmp_capabilities", NULL, NULL, timeout_ms);
	if (err)
		qmp_close(q);
	return err;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
}

int qmp_set_caps(struct qmp *q, const char *const *caps, bool on)
{
	struct json_object *args = json_object_new_object();
	struct json_object *list = json_object_new_array();

	for (; *caps; caps++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "capability", json_object_new_string(*caps));
		json_object_object_add(c, "state", json_object_new_boolean(on));
		json_object_array_add(list, c);
	}
	json_object_object_add(args, "capabilities", list);
	return qmp_call(q, "migrate-set-capabilities", args, NULL, 10000);
}

int qmp_migration_status(struct qmp *q, char *status, size_t len)
{
	struct json_object *r;
	const char *st;
	int err;

	err = qmp_call(q, "query-migrate", NULL, &r, 10000);
	if (err)
		return err;
	st = json_object_get_string(json_object_object_get(r, "status"));
	snprintf(status, len, "%s", st ? st : "none");
	json_object_put(r);
	return 0;
}

int qmp_wait_migration(struct qmp *q, const char *const *want, char *got,
		       size_t len, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int err;

	for (;;) {
		int64_t left;

		q->migration[0] = 0;
		err = qmp_migration_status(q, got, len);
		if (err)
			return err;
		if (qmp_in(got, want))
			return 0;
		/*
		 * A MIGRATION event can reach us ahead of an answer that QEMU
		 * computed before it: events, not only answers, count.
		 */
		if (q->migration[0] && qmp_in(q->migration, want))
			break;
		left = deadline - mono_ms();
		if (left <= 0)
			return qmp_errorf(q, -ETIMEDOUT,
					  "%s: migration still '%s' after %d ms",
					  q->who, got, timeout_ms);
		/* The next event, or a look again in 100 ms at the latest. */
		q->migration[0] = 0;
		err = qmp_poll(q, left < 100 ? (int)left : 100);
		if (err)
			return err;
		if (q->migration[0] && qmp_in(q->migration, want))
			break;
	}
	snprintf(got, len, "%s", q->migration);
	return 0;
}

int qmp_wait_event_time(struct qmp *q, bool resume, uint64_t after_us,
			uint64_t *us, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	int err;

	for (;;) {
		uint64_t t = resume ? q->resume_us : q->stop_us;
		int64_t left;

		if (t > after_us) {
			*us = t;
			return 0;
		}
		left = deadline - mono_ms();
		if (left <= 0)
			return qmp_errorf(q, -ETIMEDOUT, "%s: no %s event in %d ms",
					  q->who, resume ? "RESUME" : "STOP",
					  timeout_ms);
		err = qmp_poll(q, (int)left);
		if (err)
			return err;
	}
}
