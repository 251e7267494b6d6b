/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * libkmig - userspace library for kmig, kernel-assisted VM live migration.
 *
 * Two parts:
 *  - a thin wrapper around /dev/kmig (kmig_open(), kmig_query());
 *  - the migration handshake that a SOURCE and a DESTINATION host run over a
 *    connected stream socket before any guest page moves: protocol version,
 *    capabilities, page size, memory layout, identities and optional mutual
 *    authentication with a pre-shared key. The wire format is described in
 *    Documentation/handshake.rst.
 *
 * Conventions:
 *  - Every function that can fail returns 0 (or a file descriptor) on success
 *    and a negative errno value on failure. errno itself is not relied upon.
 *  - No function prints anything, allocates memory the caller must free,
 *    installs signal handlers or changes the flags of a caller's descriptor.
 *  - All functions are thread-safe as long as the objects passed in are not
 *    shared between threads at the same time.
 *
 * ABI: the symbols below form version nodes LIBKMIG_0.1, LIBKMIG_0.2 and
 * LIBKMIG_0.3 (libkmig.map), soname libkmig.so.0. struct kmig_hs_opts,
 * struct kmig_migrate_params and struct kmig_listen_opts are extensible
 * (their first member is their size); the other structures have a fixed
 * layout and can only change together with a new version node.
 */
#ifndef LIBKMIG_H
#define LIBKMIG_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kmig.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBKMIG_VERSION_MAJOR	0
#define LIBKMIG_VERSION_MINOR	1
#define LIBKMIG_VERSION_PATCH	0
#define LIBKMIG_VERSION_STRING	"0.1.0"

/* Version of the library actually loaded, e.g. "0.1.0". */
const char *kmig_lib_version(void);

/*
 * Device access
 */

/* Open /dev/kmig (O_RDWR | O_CLOEXEC). Returns the fd or -errno (-ENOENT when
 * the module is not loaded). */
int kmig_open(void);

/* KMIG_GET_INFO. Clears *info, sets info->size and issues the ioctl.
 * Returns 0 or -errno. */
int kmig_query(int devfd, struct kmig_info *info);

/*
 * Limits of the handshake (see Documentation/handshake.rst). They bound what a peer may send;
 * a message beyond any of them is refused.
 */
#define KMIG_HS_FORMAT_VERSION	1	/* handshake header format spoken */
#define KMIG_HS_MAX_VERSIONS	32	/* protocol versions in one offer */
#define KMIG_HS_MAX_REGIONS	64	/* memory regions in one layout (at most
					 * the module's KMIG_MAX_REGIONS) */
#define KMIG_HS_ID_MAX		255	/* bytes in a host or VM identity */

/*
 * Capability bits 48..63 of the handshake belong to libkmig, not to the
 * module: they are negotiated like KMIG_CAP_* bits but never reach the
 * module's session or the stream (kmig_session_open() masks them out).
 * KMIG_HS_CAP_COMMIT: the switch-over commit protocol (READY, GO, ACK;
 * Documentation/handshake.rst, "Switch-over"). Offers made by
 * kmig_offer_from_info() include it.
 */
#define KMIG_HS_CAP_COMMIT	(1ULL << 63)
#define KMIG_HS_CAPS_LIBRARY	(0xffffULL << 48)
#define KMIG_HS_REASON_MAX		255	/* bytes in a refusal text */
#define KMIG_HS_KEY_MIN		16	/* bytes in a pre-shared key, at least */
#define KMIG_HS_KEY_MAX		4096	/* and at most */
#define KMIG_HS_DEFAULT_TIMEOUT_MS	10000

/*
 * One guest memory region the source will send. Order matters: the i-th
 * region of a layout is region i of the migration stream (and of the memory
 * objects handed to the module's session), so both sides must list them in
 * the same order.
 */
struct kmig_hs_region {
	uint32_t id;		/* unique within a layout */
	uint32_t pad;		/* 0, not sent */
	uint64_t size;		/* bytes, non-zero multiple of the page size */
};

/*
 * What one side offers. Fill it with kmig_offer_init() and the helpers below,
 * or directly (then check it with kmig_offer_validate()).
 */
struct kmig_offer {
	uint32_t nr_versions;		/* 1..KMIG_HS_MAX_VERSIONS */
	uint32_t versions[KMIG_HS_MAX_VERSIONS];	/* strictly ascending, >= 1 */
	uint64_t caps_supported;	/* KMIG_CAP_* this side can use */
	uint64_t caps_required;		/* subset of caps_supported */
	uint32_t page_size;		/* power of two, 512..1 GiB */
	uint32_t nr_regions;		/* source: layout it will send */
	struct kmig_hs_region regions[KMIG_HS_MAX_REGIONS];
	char host_id[KMIG_HS_ID_MAX + 1];	/* optional, "" = not sent */
	char vm_id[KMIG_HS_ID_MAX + 1];	/* optional; on the destination, the VM
					 * it expects ("" = any): a source that
					 * names another VM or none is refused */
};

/* Empty offer: no versions, no caps, page size of this host, no layout. */
void kmig_offer_init(struct kmig_offer *offer);

/* Replace the version set by every version in min..max. -EINVAL if min is 0,
 * min > max or the range holds more than KMIG_HS_MAX_VERSIONS versions. */
int kmig_offer_set_versions(struct kmig_offer *offer, uint32_t min, uint32_t max);

/* Offer what the local module supports: versions proto_min..proto_max, all
 * its caps, none required, its page size. -EINVAL if the info is unusable. */
int kmig_offer_from_info(const struct kmig_info *info, struct kmig_offer *offer);

/* Narrow an offer by local policy: drop versions above proto_max (0 = no
 * limit) and capabilities outside caps_mask. -ENOENT if no version is left,
 * -EINVAL if a required capability would be dropped. */
int kmig_offer_narrow(struct kmig_offer *offer, uint32_t proto_max, uint64_t caps_mask);

/* Require capabilities (added to caps_required). -EOPNOTSUPP if they are not
 * all in caps_supported. */
int kmig_offer_require(struct kmig_offer *offer, uint64_t caps);

/* Append a region. -E2BIG when full, -EEXIST for a duplicate id, -EINVAL for
 * a size of 0 or not a multiple of the offer's page size. */
int kmig_offer_add_region(struct kmig_offer *offer, uint32_t id, uint64_t size);

/* Set the identities (NULL leaves one unchanged, "" clears it). Identities are
 * 1..KMIG_HS_ID_MAX bytes of printable UTF-8 (no control characters).
 * -EINVAL otherwise. */
int kmig_offer_set_identity(struct kmig_offer *offer, const char *host_id,
			    const char *vm_id);

/* 0 if the offer can be sent, -EINVAL otherwise. The handshake functions call
 * it too. */
int kmig_offer_validate(const struct kmig_offer *offer);

/*
 * Pre-shared key for mutual authentication.
 */
struct kmig_key {
	size_t len;			/* KMIG_HS_KEY_MIN..KMIG_HS_KEY_MAX */
	uint8_t bytes[KMIG_HS_KEY_MAX];
};

/* Load a key file: its whole content, raw bytes (a trailing newline is part of
 * the key). -EINVAL if shorter than KMIG_HS_KEY_MIN bytes or not a regular file,
 * -EACCES if group or others may read or write it (mode & 077; nothing is read
 * then), -EFBIG if longer than KMIG_HS_KEY_MAX, -errno from open/read. On
 * failure the key is left cleared. Generate one with:
 * (umask 077; head -c 32 /dev/urandom > FILE) */
int kmig_load_key_file(const char *path, struct kmig_key *key);

/* Key from memory, same bounds as kmig_load_key_file(). */
int kmig_key_set(struct kmig_key *key, const void *bytes, size_t len);

/* Wipe a key (not optimised away). */
void kmig_key_clear(struct kmig_key *key);

/*
 * Handshake options. Declare with KMIG_HS_OPTS() so that .sz is set; fields
 * left out are zero and mean "default". Passing NULL means all defaults.
 */
struct kmig_hs_opts {
	size_t sz;			/* sizeof(struct kmig_hs_opts) */
	int timeout_ms;			/* whole handshake; 0 = default (10 s) */
	const struct kmig_key *key;	/* NULL = no authentication */
};

#define KMIG_HS_OPTS(name, ...)						\
	struct kmig_hs_opts name = {					\
		.sz = sizeof(struct kmig_hs_opts), __VA_ARGS__		\
	}

enum kmig_hs_role {
	KMIG_HS_ROLE_NONE = 0,
	KMIG_HS_ROLE_SOURCE = 1,
	KMIG_HS_ROLE_DESTINATION = 2,
};

/*
 * Why a handshake failed. Codes 1..255 travel in REFUSE messages and keep
 * their meaning forever; codes from 256 are detected locally and never sent.
 * A peer may send a code this library does not know: treat it as a refusal.
 */
enum kmig_hs_reason {
	KMIG_HS_OK			= 0,
	KMIG_HS_MALFORMED		= 1,	/* invalid field value, etc. */
	KMIG_HS_BAD_MAGIC		= 2,	/* peer speaks something else */
	KMIG_HS_BAD_FORMAT		= 3,	/* unknown handshake format */
	KMIG_HS_TOO_LARGE		= 4,	/* message length over the bound */
	KMIG_HS_TRUNCATED		= 5,	/* field runs past the message */
	KMIG_HS_UNKNOWN_CRITICAL	= 6,	/* critical field not understood */
	KMIG_HS_DUPLICATE_FIELD		= 7,
	KMIG_HS_MISSING_FIELD		= 8,
	KMIG_HS_UNEXPECTED_MESSAGE	= 9,
	KMIG_HS_NO_COMMON_VERSION	= 10,
	KMIG_HS_MISSING_CAPABILITY	= 11,
	KMIG_HS_PAGE_SIZE_MISMATCH	= 12,
	KMIG_HS_BAD_LAYOUT		= 13,
	KMIG_HS_VM_MISMATCH		= 14,
	KMIG_HS_AUTH_REQUIRED		= 15,	/* key on one side only */
	KMIG_HS_AUTH_FAILED		= 16,	/* key mismatch */
	KMIG_HS_INCONSISTENT_ACCEPT	= 17,	/* ACCEPT contradicts the offer */
	KMIG_HS_TIMEOUT			= 18,	/* sent best effort */
	/* local only */
	KMIG_HS_PEER_CLOSED		= 256,
	KMIG_HS_IO_ERROR		= 257,
	KMIG_HS_BAD_ARGUMENT		= 258,
	KMIG_HS_NO_MEMORY		= 259,
	KMIG_HS_CRYPTO_ERROR		= 260,
	KMIG_HS_TOO_MANY_REJECTS	= 261,	/* listener: reject bound */
	KMIG_HS_ACCEPT_TIMEOUT		= 262,	/* listener: no peer in time */
};

/*
 * Outcome of a handshake. On a refusal both sides end up with the same
 * status, reason, refused_by and message (the refusing side's text).
 */
struct kmig_hs_result {
	int status;			/* what the call returned */
	uint32_t reason;		/* enum kmig_hs_reason, or a peer's code */
	uint32_t refused_by;		/* enum kmig_hs_role that decided a failure */
	uint32_t version;		/* negotiated protocol version */
	uint64_t caps;			/* negotiated KMIG_CAP_* */
	uint32_t page_size;
	uint32_t authenticated;		/* 1 if both proved the key */
	uint32_t nr_regions;		/* layout the source will send */
	struct kmig_hs_region regions[KMIG_HS_MAX_REGIONS];
	char peer_host_id[KMIG_HS_ID_MAX + 1];	/* "" if the peer sent none */
	char peer_vm_id[KMIG_HS_ID_MAX + 1];
	char message[KMIG_HS_REASON_MAX + 1];	/* failure text, "" on success */
};

/*
 * Run the handshake on a connected SOCK_STREAM socket (blocking or not; its
 * flags are not changed). The whole exchange is bounded by opts->timeout_ms.
 * The handshake never reads past its own last message, so the migration
 * stream can follow on the same socket right after a success. On failure the
 * REFUSE is sent to the peer when it can still be reached; the stream is then
 * unusable and the caller should close it.
 *
 * Returns 0, or a negative errno derived from res->reason
 * (kmig_hs_reason_errno()): -EPROTO malformed / unexpected input, -ETIMEDOUT,
 * -ECONNRESET peer closed, -EPROTONOSUPPORT no common version, -EOPNOTSUPP
 * missing required capability, -EACCES authentication, -ECONNREFUSED other
 * refusals (page size, layout, VM identity, unknown peer code), -EINVAL bad
 * arguments, -ENOMEM, or the errno of a failed send/recv.
 */
int kmig_handshake_source(int sock, const struct kmig_offer *mine,
			  const struct kmig_hs_opts *opts,
			  struct kmig_hs_result *res);
int kmig_handshake_destination(int sock, const struct kmig_offer *mine,
			       const struct kmig_hs_opts *opts,
			       struct kmig_hs_result *res);

/*
 * Listening for the peer (LIBKMIG_0.3)
 */

#define KMIG_LISTEN_DEFAULT_MAX_REJECTS	16
#define KMIG_LISTEN_PEER_MAX		128	/* bytes for a peer address */

/*
 * Create a TCP socket listening on "[ADDR:]PORT": ADDR is a numeric IPv4
 * address, or a numeric IPv6 address in brackets ("[::1]:7000", "[::]:7000");
 * a bare PORT listens on all IPv4 addresses (0.0.0.0). PORT 0 picks a free
 * port. The socket is SOCK_CLOEXEC | SOCK_NONBLOCK with SO_REUSEADDR. If where
 * is not NULL, the address actually bound ("127.0.0.1:7000", "[::1]:7000") is
 * written to it (KMIG_LISTEN_PEER_MAX bytes are enough). Returns the socket,
 * -EINVAL for a malformed address, or the errno of socket/bind/listen
 * (-EADDRINUSE, -EADDRNOTAVAIL, ...).
 */
int kmig_listen_socket(const char *addr, char *where, size_t wherelen);

/* Declare with KMIG_LISTEN_OPTS(); zero fields mean the defaults. */
struct kmig_listen_opts {
	size_t sz;			/* sizeof(struct kmig_listen_opts) */
	const struct kmig_hs_opts *hs;	/* each connection's handshake; its
					 * timeout also bounds a silent peer.
					 * NULL = defaults */
	int accept_timeout_ms;		/* whole wait; 0 = no bound */
	unsigned int max_rejects;	/* give up at this many rejected
					 * connections; 0 = default (16) */
	/* Optional: called for each rejected connection, before it is closed.
	 * peer is its address, res the failed handshake. */
	void (*on_reject)(void *opaque, const char *peer,
			  const struct kmig_hs_result *res);
	void *opaque;
};

#define KMIG_LISTEN_OPTS(name, ...)					\
	struct kmig_listen_opts name = {				\
		.sz = sizeof(struct kmig_listen_opts), __VA_ARGS__	\
	}

/*
 * Accept connections on the listening socket lfd (blocking or not; its flags
 * are not changed) and run the handshake as role on each, one at a time,
 * until a peer passes it. A connection whose handshake fails is rejected:
 * on_reject is told, the connection is closed and the next one accepted.
 * Rejected are failures that a stranger can cause or that name another VM:
 * garbage, an unexpected or malformed message, a silent peer (the handshake
 * timeout), a closed connection, failed or one-sided authentication and a VM
 * identity mismatch or omission. A refusal of a well-formed peer for its
 * configuration (no common version, missing capability, page size, layout,
 * inconsistent ACCEPT) ends the wait instead, so that a misconfigured peer is
 * reported at once, unless a key is configured: then nothing before the
 * peer's proof is trusted and those are rejected too. Local errors (bad
 * arguments, out of memory, crypto) end the wait at once.
 *
 * Bounds: the max_rejects-th rejected connection, and accept_timeout_ms for
 * the whole call (each handshake is cut to what is left of it).
 *
 * Returns the connected socket of the peer that passed the handshake
 * (SOCK_CLOEXEC, blocking; the caller closes it), with res filled as by
 * kmig_handshake_source()/kmig_handshake_destination(). Otherwise the last
 * connection is closed and a negative errno is returned with res filled: the
 * ending failure's own, or KMIG_HS_TOO_MANY_REJECTS (-ECONNREFUSED) or
 * KMIG_HS_ACCEPT_TIMEOUT (-ETIMEDOUT) with a message that names the last
 * rejected peer and why, or bad arguments (-EINVAL, -EBADF, -ENOTSOCK).
 * peer (may be NULL) receives the address of the last connection, "" if none.
 */
int kmig_listen_handshake(int lfd, enum kmig_hs_role role,
			  const struct kmig_offer *mine,
			  const struct kmig_listen_opts *opts,
			  struct kmig_hs_result *res, char *peer, size_t peerlen);

/* Short identifier of a reason ("no_common_version"), "unknown" if unknown. */
const char *kmig_hs_reason_name(uint32_t reason);
/* One-line description ("no common protocol version"). */
const char *kmig_hs_reason_str(uint32_t reason);
/* Negative errno a handshake returns for a reason (0 for KMIG_HS_OK). */
int kmig_hs_reason_errno(uint32_t reason);
/* "source", "destination" or "none". */
const char *kmig_hs_role_name(uint32_t role);

/*
 * Names of KMIG_CAP_* and KMIG_FEAT_* bits ("zero_pages", "dirty_track"), or
 * NULL for a bit without a name.
 */
const char *kmig_cap_name(unsigned int bit);
const char *kmig_feature_name(unsigned int bit);

/* Parse a capability list: comma separated names and/or numbers ("0x3",
 * "checksum,blobs", "none", ""). -EINVAL on an unknown name. */
int kmig_caps_parse(const char *list, uint64_t *mask);

/* Format a mask as "zero_pages,checksum,bit7" ("none" for 0). Returns the
 * length it needed (excluding NUL) like snprintf, or -EINVAL. */
int kmig_caps_format(uint64_t mask, char *buf, size_t len);

/*
 * Handing the handshake's result to the module
 */

/*
 * Create a kmig session (KMIG_SESSION_CREATE) on the socket the handshake ran
 * on, with the negotiated version and capabilities, over the memory objects
 * mem_fds[] in layout order. The layout must match res's: same number of
 * regions, each memory object of the region's size. role is
 * KMIG_HS_ROLE_SOURCE or KMIG_HS_ROLE_DESTINATION. Returns the session fd,
 * or -errno: -EINVAL for a failed handshake result or a layout mismatch, and
 * the module's errors (-EPROTONOSUPPORT when the version is outside the
 * module's window, whatever the handshake agreed, -EOPNOTSUPP, ...).
 */
int kmig_session_open(int devfd, int sock, enum kmig_hs_role role,
		      const struct kmig_hs_result *res, const int *mem_fds,
		      unsigned int nr_mem);

/*
 * The migration driver: the whole source or destination side of a live
 * migration on a socket whose handshake succeeded, so that a VMM does not
 * write the loop itself.
 */

struct kmig_migrate_progress {
	uint32_t round;			/* rounds completed */
	uint32_t final;			/* 1 once the guest is paused */
	uint64_t remaining_pages;	/* dirty, not yet sent */
	uint64_t bytes;			/* stream bytes so far */
	uint64_t pages, zero_pages;	/* pages sent so far */
	uint64_t bandwidth;		/* bytes/s, last round */
	uint64_t dirty_rate;		/* pages/s, last round */
	uint64_t expected_downtime_ns;	/* if paused now */
	uint64_t elapsed_ns;
};

/* What the driver needs from the VMM. Return 0 or a negative errno. */
struct kmig_migrate_ops {
	/* Stop the vCPUs and devices: guest memory must not change after. */
	int (*pause)(void *opaque);
	/*
	 * Run the guest. On the source, only after a failed migration: the
	 * guest was paused and is intact. On the destination, after the whole
	 * stream arrived and the state was loaded.
	 */
	int (*resume)(void *opaque);
	/* Source, paused: write device state into buf (cap bytes), set *len. */
	int (*save_state)(void *opaque, void *buf, size_t cap, size_t *len);
	/* Destination: load device state received from the source. */
	int (*load_state)(void *opaque, const void *buf, size_t len);
	/* Optional: called after each round and at the end. */
	void (*progress)(void *opaque, const struct kmig_migrate_progress *p);
};


enum kmig_migrate_policy {
	KMIG_MIGRATE_FAIL = 0,		/* not converged in bounds: give up */
	KMIG_MIGRATE_FORCE = 1,		/* not converged in bounds: switch over */
};

/* Declare with KMIG_MIGRATE_PARAMS(); zero fields mean the defaults. */
struct kmig_migrate_params {
	size_t sz;			/* sizeof(struct kmig_migrate_params) */
	uint32_t downtime_ms;		/* switch over below this; default 300 */
	uint32_t max_rounds;		/* pre-copy rounds; default 30 */
	uint32_t max_time_ms;		/* pre-copy time; default 0 = none */
	uint32_t policy;		/* enum kmig_migrate_policy */
	uint64_t bw_limit;		/* bytes/s; default 0 = none */
	uint32_t confirm_timeout_ms;	/* source: for READY and for ACK;
					 * destination: for GO; 10000 */
	/* Since LIBKMIG_0.3: */
	uint32_t io_timeout_ms;		/* a send or receive that makes no
					 * progress this long fails: socket
					 * timeouts, TCP_USER_TIMEOUT and
					 * keepalive; default 30000 */
	/*
	 * Added after io_timeout_ms (the struct grew; no new symbol): source only,
	 * optional. Called once the destination said READY (it holds the
	 * whole memory) and before GO, with the guest paused: the last step
	 * that may still fail safely, such as a VMM sending its own device
	 * state (kmigctl qemu: QEMU's migrate-continue). A non-zero return
	 * (a negative errno) fails the switch-over as before GO: the stream
	 * is aborted and ops->resume runs. Needs KMIG_HS_CAP_COMMIT.
	 */
	int (*before_go)(void *opaque);
};

#define KMIG_MIGRATE_PARAMS(name, ...)					\
	struct kmig_migrate_params name = {				\
		.sz = sizeof(struct kmig_migrate_params), __VA_ARGS__	\
	}

/*
 * The switch-over was committed (GO sent) and not acknowledged, or READY was
 * sent and no GO came: neither side knows where the guest runs, so neither
 * resumed it. See Documentation/handshake.rst, "Switch-over", for what the
 * operator does.
 */
#define KMIG_MIGRATE_OUTCOME_UNKNOWN	(-EINPROGRESS)

struct kmig_migrate_result {
	int status;			/* what the call returned */
	uint32_t version;		/* protocol used */
	uint64_t caps;			/* capabilities used */
	uint32_t rounds;		/* including the final round */
	uint32_t forced;		/* 1 if switched over without converging */
	uint64_t bytes, pages, zero_pages;
	uint64_t total_ns;		/* whole migration */
	uint64_t expected_downtime_ns;	/* estimate when the guest paused */
	uint64_t downtime_ns;		/* source: pause to the destination's
					 * confirmation that it resumed */
	char message[256];		/* what went wrong, "" on success */
};

/*
 * Source side: restart dirty tracking with every page dirty, run pre-copy
 * rounds until the expected downtime is under params->downtime_ms (or the
 * bounds are reached: then fail or force, by policy), pause, send the final
 * round, the device state (needs KMIG_CAP_BLOBS if save_state is set) and
 * the end, then switch over (Documentation/handshake.rst, "Switch-over"):
 * wait for READY, send GO, wait for ACK. Until GO the source guest is
 * intact: on any failure the driver aborts the connection, resumes the guest
 * and returns the error, and a later attempt can start over. After GO it
 * never resumes on its own: no ACK returns KMIG_MIGRATE_OUTCOME_UNKNOWN with
 * the guest paused. The socket gets params->io_timeout_ms.
 */
int kmig_migrate_source(int devfd, int sock, const struct kmig_hs_result *hs,
			const int *mem_fds, unsigned int nr_mem,
			const struct kmig_migrate_params *params,
			const struct kmig_migrate_ops *ops, void *opaque,
			struct kmig_migrate_result *res);

/*
 * Destination side: receive the stream into mem_fds[], and only after its
 * END record (the stream is complete, its final round included) load the
 * device state, send READY, and resume the guest only on the source's GO,
 * then acknowledge. A broken or incomplete stream returns an error and the
 * guest is never resumed; the destination should discard it. READY sent
 * and no GO within confirm_timeout_ms returns KMIG_MIGRATE_OUTCOME_UNKNOWN,
 * guest not resumed. With a source that predates the commit protocol, the
 * guest resumes after END and the source gets the old confirmation.
 * kmig_migrate_destination() is kmig_migrate_destination_params() with
 * the default params (NULL).
 */
int kmig_migrate_destination(int devfd, int sock,
			     const struct kmig_hs_result *hs,
			     const int *mem_fds, unsigned int nr_mem,
			     const struct kmig_migrate_ops *ops, void *opaque,
			     struct kmig_migrate_result *res);
int kmig_migrate_destination_params(int devfd, int sock,
				    const struct kmig_hs_result *hs,
				    const int *mem_fds, unsigned int nr_mem,
				    const struct kmig_migrate_params *params,
				    const struct kmig_migrate_ops *ops,
				    void *opaque,
				    struct kmig_migrate_result *res);

#ifdef __cplusplus
}
#endif

#endif /* LIBKMIG_H */
