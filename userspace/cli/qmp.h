/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small QMP client (QEMU Machine Protocol) for kmigctl's QEMU agent. JSON
 * is json-c's: this file frames and dispatches, it parses nothing itself.
 */
#ifndef KMIGCTL_QMP_H
#define KMIGCTL_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define QMP_ERROR_MAX	256
#define QMP_STATUS_MAX	32

struct qmp {
	int fd;
	const char *who;		/* "source QEMU", for messages */
	char *buf;			/* bytes read, not yet a whole line */
	size_t len, cap;
	/* QEMU's timestamps of the last events of each kind, in us, 0 = none */
	uint64_t stop_us, resume_us;
	/* status of the last MIGRATION event, "" if none came */
	char migration[QMP_STATUS_MAX];
	bool closed;			/* QEMU closed the socket */
	char error[QMP_ERROR_MAX];	/* what the last failure was */
};

/* Connect to a QMP unix socket and leave capabilities negotiation mode. */
int qmp_open(struct qmp *q, const char *path, const char *who, int timeout_ms);
void qmp_close(struct qmp *q);

/*
 * Run a command. @args (may be NULL) is consumed. On success *@ret (if not
 * NULL) gets the "return" member with a reference the caller puts. A QMP
 * error returns -EREMOTEIO with q->error "Class: description"; -EPIPE when
 * QEMU went away; -ETIMEDOUT.
 */
int qmp_call(struct qmp *q, const char *cmd, struct json_object *args,
	     struct json_object **ret, int timeout_ms);

/* migrate-set-capabilities with the named capabilities set to @on. */
int qmp_set_caps(struct qmp *q, const char *const *caps, bool on);

/* query-migrate's "status" into @status ("none" if there is none yet). */
int qmp_migration_status(struct qmp *q, char *status, size_t len);

/*
 * Wait until the migration's status is one of the NULL-terminated @want
 * (from MIGRATION events, after a first query-migrate), and copy it to
 * @got. -ETIMEDOUT, -EPIPE.
 */
int qmp_wait_migration(struct qmp *q, const char *const *want, char *got,
		       size_t len, int timeout_ms);

/* Wait for a STOP (or RESUME) event newer than @after_us; its time in us. */
int qmp_wait_event_time(struct qmp *q, bool resume, uint64_t after_us,
			uint64_t *us, int timeout_ms);

/* Wait at most @timeout_ms for an event; returns once one was dispatched. */
int qmp_poll(struct qmp *q, int timeout_ms);

/* Is @s one of the NULL-terminated @set? */
bool qmp_in(const char *s, const char *const *set);

#endif /* KMIGCTL_QMP_H */
