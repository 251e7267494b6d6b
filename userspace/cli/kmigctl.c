// SPDX-License-Identifier: GPL-2.0
/*
 * kmigctl - inspect the kmig module and diagnose migration handshakes.
 *
 *   kmigctl info [--json]
 *   kmigctl handshake --listen [ADDR:]PORT | --connect HOST:PORT [options]
 *   kmigctl qemu send|receive --qmp SOCKET ... (qemu.c)
 *
 * Exit status: 0 success, 1 handshake refused or failed, 2 usage error,
 * 3 environment error (module missing, cannot connect, bad key file).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libkmig.h"
#include "kmigctl.h"

#define KMIGCTL_VERSION	LIBKMIG_VERSION_STRING

const char *prog = "kmigctl";

void errmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Parsing helpers
 */

bool parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!parse_u64(s, &v) || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool parse_ms(const char *s, int *out)
{
	uint32_t v;

	if (!parse_u32(s, &v) || v > INT_MAX)
		return false;
	*out = (int)v;
	return true;
}

/* "4096", "64K", "1G" (binary multiples). */
bool parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return false;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	default:
		return false;
	}
	if (*end && end[1])
		return false;
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* "1,2,3" or "1..3" or a mix ("1,3..5"). */
static bool parse_versions(const char *s, struct kmig_offer *o)
{
	const char *p = s;

	o->nr_versions = 0;
	while (*p) {
		uint32_t a, b;
		char tok[32], *dots;
		size_t n = strcspn(p, ",");

		if (!n || n >= sizeof(tok))
			return false;
		memcpy(tok, p, n);
		tok[n] = '\0';
		dots = strstr(tok, "..");
		if (dots) {
			*dots = '\0';
			if (!parse_u32(tok, &a) || !parse_u32(dots + 2, &b))
				return false;
		} else {
			if (!parse_u32(tok, &a))
				return false;
			b = a;
		}
		if (!a || a > b || b - a >= KMIG_HS_MAX_VERSIONS)
			return false;
		for (uint32_t v = a; ; v++) {
			if (o->nr_versions >= KMIG_HS_MAX_VERSIONS ||
			    (o->nr_versions && v <= o->versions[o->nr_versions - 1]))
				return false;
			o->versions[o->nr_versions++] = v;
			if (v == b)
				break;
		}
		p += n;
		if (*p == ',' && !*++p)
			return false;
	}
	return o->nr_versions > 0;
}

static const char *bits_format(uint64_t mask, const char *(*name)(unsigned int),
			       char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "none");
	for (unsigned int bit = 0; bit < 64 && mask; bit++) {
		const char *n;

		if (!(mask & (1ULL << bit)))
			continue;
		n = name(bit);
		if (off < len) {
			int r = n ? snprintf(buf + off, len - off, "%s%s",
					     off ? "," : "", n) :
				    snprintf(buf + off, len - off, "%sbit%u",
					     off ? "," : "", bit);
			off += r > 0 ? (size_t)r : 0;
		}
	}
	return buf;
}

/*
 * JSON output
 */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_names(FILE *f, uint64_t mask, const char *(*name)(unsigned int))
{
	bool first = true;

	fputc('[', f);
	for (unsigned int bit = 0; bit < 64; bit++) {
		char buf[16];
		const char *n;

		if (!(mask & (1ULL << bit)))
			continue;
		n = name(bit);
		if (!n) {
			snprintf(buf, sizeof(buf), "bit%u", bit);
			n = buf;
		}
		if (!first)
			fputc(',', f);
		json_str(f, n);
		first = false;
	}
	fputc(']', f);
}

/*
 * kmigctl info
 */

int open_device(void)
{
	int fd = kmig_open();

	if (fd == -ENOENT)
		errmsg("/dev/kmig: %s (kmig module not loaded? modprobe kmig)",
		       strerror(-fd));
	else if (fd == -EACCES || fd == -EPERM)
		errmsg("/dev/kmig: %s (run as root or check the device permissions)",
		       strerror(-fd));
	else if (fd < 0)
		errmsg("/dev/kmig: %s", strerror(-fd));
	return fd;
}

static int query_device(struct kmig_info *info)
{
	int fd = open_device(), err;

	if (fd < 0)
		return fd;
	err = kmig_query(fd, info);
	close(fd);
	if (err == -ENOTTY)
		errmsg("KMIG_GET_INFO: %s (is /dev/kmig really the kmig module?)",
		       strerror(-err));
	else if (err)
		errmsg("KMIG_GET_INFO: %s", strerror(-err));
	return err;
}

static void usage_info(FILE *f)
{
	fprintf(f,
		"usage: %s info [--json]\n"
		"Show the version, protocol window, capabilities and features of the\n"
		"loaded kmig module (from KMIG_GET_INFO on /dev/kmig).\n", prog);
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct kmig_info info;
	bool json = false;
	char caps[256], feats[256];
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage_info(stdout);
			return 0;
		default:
			usage_info(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		errmsg("info: unexpected argument '%s'", argv[optind]);
		usage_info(stderr);
		return EXIT_USAGE;
	}
	if (query_device(&info))
		return EXIT_ENV;

	if (json) {
		printf("{\"module_version\":\"%u.%u.%u\",\"proto_min\":%u,"
		       "\"proto_max\":%u,\"proto_max_builtin\":%u,\"caps\":",
		       KMIG_VERSION_MAJOR(info.module_version),
		       KMIG_VERSION_MINOR(info.module_version),
		       KMIG_VERSION_PATCH(info.module_version),
		       info.proto_min, info.proto_max, info.proto_max_builtin);
		json_names(stdout, info.caps, kmig_cap_name);
		printf(",\"caps_mask\":%llu,\"features\":",
		       (unsigned long long)info.caps);
		json_names(stdout, info.features, kmig_feature_name);
		printf(",\"features_mask\":%llu,\"page_size\":%u,"
		       "\"max_mem_size\":%llu}\n",
		       (unsigned long long)info.features, info.page_size,
		       (unsigned long long)info.max_mem_size);
		return 0;
	}
	printf("module version:   %u.%u.%u\n",
	       KMIG_VERSION_MAJOR(info.module_version),
	       KMIG_VERSION_MINOR(info.module_version),
	       KMIG_VERSION_PATCH(info.module_version));
	printf("protocol:         %u..%u (built-in maximum %u)\n",
	       info.proto_min, info.proto_max, info.proto_max_builtin);
	printf("capabilities:     %s (0x%llx)\n",
	       bits_format(info.caps, kmig_cap_name, caps, sizeof(caps)),
	       (unsigned long long)info.caps);
	printf("features:         %s (0x%llx)\n",
	       bits_format(info.features, kmig_feature_name, feats, sizeof(feats)),
	       (unsigned long long)info.features);
	printf("page size:        %u\n", info.page_size);
	printf("max memory size:  %llu bytes (%llu MiB)\n",
	       (unsigned long long)info.max_mem_size,
	       (unsigned long long)(info.max_mem_size >> 20));
	return 0;
}

/*
 * kmigctl handshake
 */

struct hs_args {
	const char *listen;
	const char *connect;
	const char *key_file;
	const char *caps;
	const char *require;
	const char *layout;
	const char *host_id;
	const char *vm_id;
	const char *offer_versions;
	const char *offer_caps;
	uint32_t role;
	uint32_t proto_max;
	uint32_t offer_min;
	uint32_t offer_max;
	uint32_t page_size;
	int timeout_ms;
	int accept_timeout_ms;
	unsigned int max_rejects;
	bool json;
};

static void usage_handshake(FILE *f)
{
	fprintf(f,
		"usage: %s handshake (--listen [ADDR:]PORT | --connect HOST:PORT) [options]\n"
		"Run the kmig migration handshake alone and print the outcome.\n"
		"\n"
		"  -l, --listen [ADDR:]PORT   wait for a peer that passes the handshake; ADDR is\n"
		"                             a numeric IPv4 or [IPv6] address (default: all\n"
		"                             IPv4 addresses), PORT 0 picks a free port\n"
		"  -c, --connect HOST:PORT    connect to the peer\n"
		"  -r, --role ROLE            source or destination (default: source with\n"
		"                             --connect, destination with --listen)\n"
		"  -k, --key FILE             pre-shared key file (16..4096 raw bytes)\n"
		"      --proto-max N          offer no protocol version above N\n"
		"      --caps LIST            offer only these capabilities\n"
		"      --require LIST         require these capabilities\n"
		"      --layout ID:SIZE,...   memory regions the source announces\n"
		"      --host-id STR          host identity (default: the hostname)\n"
		"      --vm-id STR            VM identity (destination: VM it expects)\n"
		"  -t, --timeout MS           handshake timeout, per connection (default %d)\n"
		"      --accept-timeout MS    how long --listen waits in all (default: forever)\n"
		"      --max-rejects N        --listen gives up at the Nth rejected connection\n"
		"                             (default %d)\n"
		"      --offer-min N          offer without the module: lowest version\n"
		"      --offer-max N          highest version\n"
		"      --offer-versions LIST  explicit versions, e.g. 1,3..4\n"
		"      --offer-caps LIST      supported capabilities (default none)\n"
		"      --page-size N          page size to announce (default: this host's)\n"
		"  -j, --json                 print the result as one JSON object\n"
		"\n"
		"With --listen, a connection that fails the handshake (garbage, silence,\n"
		"a wrong or missing key, another VM or none) is logged, closed and the next\n"
		"one accepted; a well-formed peer refused for its configuration ends the\n"
		"wait unless a key is configured.\n"
		"\n"
		"LIST is comma separated capability names (zero_pages, checksum, blobs),\n"
		"numbers (0x3) or 'none'. Exit status: 0 success, 1 refused or failed,\n"
		"2 usage error, 3 environment error.\n",
		prog, KMIG_HS_DEFAULT_TIMEOUT_MS, KMIG_LISTEN_DEFAULT_MAX_REJECTS);
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split "host:port" or "[v6]:port" (--listen is parsed by libkmig). */
static bool split_hostport(const char *s, char *host, size_t hlen,
			   char *port, size_t plen)
{
	const char *colon;
	size_t n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		n = (size_t)(close - s - 1);
		colon = close + 1;
		if (n == 0 || n >= hlen)
			return false;
		memcpy(host, s + 1, n);
		host[n] = '\0';
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		n = (size_t)(colon - s);
		if (n == 0 || n >= hlen || memchr(s, ':', n))
			return false;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	if (!colon[1] || strlen(colon + 1) >= plen)
		return false;
	strcpy(port, colon + 1);
	return true;
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", ip, port);
	} else {
		snprintf(buf, len, "?");
	}
}

/* Numeric address (no resolver needed, works in static binaries). */
static bool numeric_addr(const char *host, uint16_t port,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

static int connect_one(const struct sockaddr *sa, socklen_t len, int timeout_ms,
		       int *err)
{
	int fd, flags, soerr = 0;
	socklen_t elen = sizeof(soerr);
	int64_t end = now_ms() + timeout_ms;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	if (connect(fd, sa, len) < 0) {
		if (errno != EINPROGRESS) {
			*err = errno;
			close(fd);
			return -1;
		}
		for (;;) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int64_t left = end - now_ms();
			int r;

			if (left <= 0) {
				*err = ETIMEDOUT;
				close(fd);
				return -1;
			}
			r = poll(&pfd, 1, (int)left);
			if (r > 0)
				break;
			if (r < 0 && errno != EINTR) {
				*err = errno;
				close(fd);
				return -1;
			}
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr) {
			*err = soerr ? soerr : errno;
			close(fd);
			return -1;
		}
	}
	flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

int kmigctl_connect(const char *target, int timeout_ms, char *peer,
		    size_t peerlen)
{
	char host[256], port[16];
	struct sockaddr_storage ss;
	struct addrinfo hints = { 0 }, *ai, *p;
	socklen_t len;
	uint32_t portnum;
	int fd = -1, err = 0, r;

	if (!split_hostport(target, host, sizeof(host), port, sizeof(port)) ||
	    !parse_u32(port, &portnum) || portnum == 0 || portnum > 65535) {
		errmsg("expected HOST:PORT, got '%s'", target);
		return -EXIT_USAGE;
	}
	if (numeric_addr(host, (uint16_t)portnum, &ss, &len)) {
		fd = connect_one((struct sockaddr *)&ss, len, timeout_ms, &err);
		if (fd >= 0)
			addr_str((struct sockaddr *)&ss, peer, peerlen);
	} else {
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		r = getaddrinfo(host, port, &hints, &ai);
		if (r) {
			errmsg("%s: %s", host, gai_strerror(r));
			return -EXIT_ENV;
		}
		for (p = ai; p && fd < 0; p = p->ai_next) {
			fd = connect_one(p->ai_addr, p->ai_addrlen, timeout_ms, &err);
			if (fd >= 0)
				addr_str(p->ai_addr, peer, peerlen);
		}
		freeaddrinfo(ai);
	}
	if (fd < 0) {
		errmsg("connect to %s: %s%s", target, strerror(err),
		       err == ECONNREFUSED ? " (is the peer listening?)" : "");
		return -EXIT_ENV;
	}
	return fd;
}

/* Let the peer read what we sent (a REFUSE) before the socket goes away. */
static void linger_close(int fd)
{
	int64_t end = now_ms() + 500;
	char buf[512];

	shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		int r;

		if (left <= 0)
			break;
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	close(fd);
}

static int build_offer(const struct hs_args *a, struct kmig_offer *o)
{
	char hostname[KMIG_HS_ID_MAX + 1];
	uint64_t mask, req;
	int err;

	if (a->offer_versions || a->offer_min || a->offer_max || a->offer_caps) {
		uint32_t min = a->offer_min ? a->offer_min : KMIG_PROTO_V1;
		uint32_t max = a->offer_max ? a->offer_max : min;

		kmig_offer_init(o);
		if (a->offer_versions) {
			if (!parse_versions(a->offer_versions, o)) {
				errmsg("--offer-versions: expected ascending versions like 1,3..4, got '%s'",
				       a->offer_versions);
				return EXIT_USAGE;
			}
		} else if (kmig_offer_set_versions(o, min, max)) {
			errmsg("--offer-min/--offer-max: invalid range %u..%u", min, max);
			return EXIT_USAGE;
		}
		if (a->offer_caps && kmig_caps_parse(a->offer_caps, &o->caps_supported)) {
			errmsg("--offer-caps: cannot parse '%s'", a->offer_caps);
			return EXIT_USAGE;
		}
	} else {
		struct kmig_info info;

		if (query_device(&info)) {
			errmsg("(without the module, describe the offer with --offer-min, --offer-max and --offer-caps)");
			return EXIT_ENV;
		}
		err = kmig_offer_from_info(&info, o);
		if (err) {
			errmsg("the module reports an unusable offer (protocol %u..%u, page size %u)",
			       info.proto_min, info.proto_max, info.page_size);
			return EXIT_ENV;
		}
	}
	if (a->page_size)
		o->page_size = a->page_size;

	mask = ~0ULL;
	if (a->caps && kmig_caps_parse(a->caps, &mask)) {
		errmsg("--caps: cannot parse '%s'", a->caps);
		return EXIT_USAGE;
	}
	err = kmig_offer_narrow(o, a->proto_max, mask);
	if (err == -ENOENT) {
		errmsg("--proto-max %u leaves no protocol version to offer (lowest is %u)",
		       a->proto_max, o->versions[0]);
		return EXIT_USAGE;
	}
	if (a->require) {
		if (kmig_caps_parse(a->require, &req)) {
			errmsg("--require: cannot parse '%s'", a->require);
			return EXIT_USAGE;
		}
		if (kmig_offer_require(o, req)) {
			char have[128];

			kmig_caps_format(o->caps_supported, have, sizeof(have));
			errmsg("--require %s: this side does not support all of it (supported: %s)",
			       a->require, have);
			return EXIT_USAGE;
		}
	}
	if (a->layout) {
		const char *p = a->layout;

		while (*p) {
			char tok[64], *colon;
			size_t n = strcspn(p, ",");
			uint32_t id;
			uint64_t size;

			if (!n || n >= sizeof(tok))
				goto bad_layout;
			memcpy(tok, p, n);
			tok[n] = '\0';
			colon = strchr(tok, ':');
			if (!colon)
				goto bad_layout;
			*colon = '\0';
			if (!parse_u32(tok, &id) || !parse_size(colon + 1, &size))
				goto bad_layout;
			err = kmig_offer_add_region(o, id, size);
			if (err) {
				errmsg("--layout: region %u: %s", id,
				       err == -EINVAL ? "size must be a non-zero multiple of the page size" :
				       err == -EEXIST ? "duplicate id" : "too many regions");
				return EXIT_USAGE;
			}
			p += n;
			if (*p == ',' && !*++p)
				goto bad_layout;
		}
	}
	if (a->host_id) {
		if (kmig_offer_set_identity(o, a->host_id, NULL)) {
			errmsg("--host-id: must be 1..%d bytes of printable UTF-8", KMIG_HS_ID_MAX);
			return EXIT_USAGE;
		}
	} else if (!gethostname(hostname, sizeof(hostname))) {
		hostname[sizeof(hostname) - 1] = '\0';
		kmig_offer_set_identity(o, hostname, NULL);	/* best effort */
	}
	if (a->vm_id && kmig_offer_set_identity(o, NULL, a->vm_id)) {
		errmsg("--vm-id: must be 1..%d bytes of printable UTF-8", KMIG_HS_ID_MAX);
		return EXIT_USAGE;
	}
	if (kmig_offer_validate(o)) {
		errmsg("the resulting offer is invalid (check --page-size and --layout)");
		return EXIT_USAGE;
	}
	return 0;

bad_layout:
	errmsg("--layout: expected ID:SIZE[,ID:SIZE...], e.g. 0:1G,1:64M, got '%s'",
	       a->layout);
	return EXIT_USAGE;
}

int kmigctl_load_key(const char *path, struct kmig_key *key)
{
	struct stat st;
	int err = kmig_load_key_file(path, key);

	if (err == -EINVAL)
		errmsg("key file %s: not a regular file or shorter than %d bytes (create one with: (umask 077; head -c 32 /dev/urandom > %s))",
		       path, KMIG_HS_KEY_MIN, path);
	else if (err == -EFBIG)
		errmsg("key file %s: longer than %d bytes", path, KMIG_HS_KEY_MAX);
	/* libkmig refuses a key group or others can access (mode & 077). */
	else if (err == -EACCES && !stat(path, &st) && (st.st_mode & 077))
		errmsg("key file %s: accessible by group or others (mode %04o), refused: chmod 600 %s (and make a new key if others may have read it)",
		       path, (unsigned int)(st.st_mode & 07777), path);
	else if (err)
		errmsg("key file %s: %s", path, strerror(-err));
	return err;
}

static void print_result(const struct hs_args *a, const struct kmig_hs_result *r,
			 const char *peer)
{
	const char *me = kmig_hs_role_name(a->role);
	char caps[256];
	uint64_t total = 0;

	for (uint32_t i = 0; i < r->nr_regions; i++)
		total += r->regions[i].size;
	kmig_caps_format(r->caps, caps, sizeof(caps));

	if (a->json) {
		char ename[32];
		const char *en = r->status ? strerrorname_np(-r->status) : NULL;

		snprintf(ename, sizeof(ename), "%s", en ? en : "");
		printf("{\"result\":\"%s\",\"role\":\"%s\",\"peer\":",
		       !r->status ? "ok" : r->refused_by ? "refused" : "error", me);
		json_str(stdout, peer);
		printf(",\"status\":%d,\"errno\":", r->status);
		json_str(stdout, ename);
		printf(",\"reason\":\"%s\",\"reason_code\":%u,\"refused_by\":\"%s\",\"message\":",
		       kmig_hs_reason_name(r->reason), r->reason,
		       kmig_hs_role_name(r->refused_by));
		json_str(stdout, r->message);
		printf(",\"version\":%u,\"caps\":", r->version);
		json_names(stdout, r->caps, kmig_cap_name);
		printf(",\"caps_mask\":%llu,\"page_size\":%u,\"authenticated\":%s,"
		       "\"peer_host_id\":", (unsigned long long)r->caps,
		       r->page_size, r->authenticated ? "true" : "false");
		json_str(stdout, r->peer_host_id);
		printf(",\"peer_vm_id\":");
		json_str(stdout, r->peer_vm_id);
		printf(",\"regions\":[");
		for (uint32_t i = 0; i < r->nr_regions; i++)
			printf("%s{\"id\":%u,\"size\":%llu}", i ? "," : "",
			       r->regions[i].id,
			       (unsigned long long)r->regions[i].size);
		printf("]}\n");
		return;
	}
	if (r->status) {
		errmsg("handshake failed (%s, decided by the %s): %s",
		       kmig_hs_reason_name(r->reason),
		       kmig_hs_role_name(r->refused_by), r->message);
		return;
	}
	printf("handshake ok: protocol %u, capabilities %s (0x%llx), page size %u, %s\n",
	       r->version, caps, (unsigned long long)r->caps, r->page_size,
	       r->authenticated ? "authenticated" : "not authenticated");
	printf("  role:       %s\n", me);
	printf("  peer:       %s host \"%s\" vm \"%s\"\n", peer,
	       r->peer_host_id, r->peer_vm_id);
	printf("  layout:     %u regions, %llu bytes\n", r->nr_regions,
	       (unsigned long long)total);
	for (uint32_t i = 0; i < r->nr_regions; i++)
		printf("    region %u: %llu bytes\n", r->regions[i].id,
		       (unsigned long long)r->regions[i].size);
}

/* --listen: one line per rejected connection. */
static void log_reject(void *opaque, const char *peer,
		       const struct kmig_hs_result *r)
{
	unsigned int *rejects = opaque;

	(*rejects)++;
	fprintf(stderr, "%s: rejected connection from %s (%s, decided by the %s): %s\n",
		prog, peer, kmig_hs_reason_name(r->reason),
		kmig_hs_role_name(r->refused_by), r->message);
	fflush(stderr);
}

/*
 * --listen: wait for a peer that passes the handshake (libkmig's loop), print
 * the outcome. Returns the exit status.
 */
static int do_listen(const struct hs_args *a, const struct kmig_offer *offer,
		     const struct kmig_key *key, struct kmig_hs_result *res)
{
	char where[KMIG_LISTEN_PEER_MAX], peer[KMIG_LISTEN_PEER_MAX];
	unsigned int rejects = 0;
	int lfd, fd;

	lfd = kmig_listen_socket(a->listen, where, sizeof(where));
	if (lfd == -EINVAL) {
		errmsg("--listen: expected [ADDR:]PORT with a numeric IPv4 address or an IPv6 address in brackets ([::1]:7000), got '%s'",
		       a->listen);
		return EXIT_USAGE;
	}
	if (lfd < 0) {
		errmsg("listen on %s: %s", a->listen, strerror(-lfd));
		return EXIT_ENV;
	}
	fprintf(stderr, "%s: listening on %s\n", prog, where);
	fflush(stderr);
	{
		KMIG_HS_OPTS(hopts, .timeout_ms = a->timeout_ms, .key = key);
		KMIG_LISTEN_OPTS(lopts, .hs = &hopts,
				 .accept_timeout_ms = a->accept_timeout_ms,
				 .max_rejects = a->max_rejects,
				 .on_reject = log_reject, .opaque = &rejects);

		fd = kmig_listen_handshake(lfd, a->role, offer, &lopts, res,
					   peer, sizeof(peer));
	}
	close(lfd);
	if (fd >= 0) {
		linger_close(fd);
		print_result(a, res, peer);
		return 0;
	}
	if (!peer[0]) {
		/* Nobody came (or accept failed): nothing was refused. */
		errmsg("%s", res->message);
		return EXIT_ENV;
	}
	print_result(a, res, peer);
	return EXIT_REFUSED;
}

static int cmd_handshake(int argc, char **argv)
{
	enum {
		O_PROTO_MAX = 256, O_CAPS, O_REQUIRE, O_LAYOUT, O_HOST_ID,
		O_VM_ID, O_ACCEPT_TIMEOUT, O_OFFER_MIN, O_OFFER_MAX,
		O_OFFER_VERSIONS, O_OFFER_CAPS, O_PAGE_SIZE, O_MAX_REJECTS,
	};
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "role", required_argument, NULL, 'r' },
		{ "key", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "proto-max", required_argument, NULL, O_PROTO_MAX },
		{ "caps", required_argument, NULL, O_CAPS },
		{ "require", required_argument, NULL, O_REQUIRE },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "host-id", required_argument, NULL, O_HOST_ID },
		{ "vm-id", required_argument, NULL, O_VM_ID },
		{ "accept-timeout", required_argument, NULL, O_ACCEPT_TIMEOUT },
		{ "max-rejects", required_argument, NULL, O_MAX_REJECTS },
		{ "offer-min", required_argument, NULL, O_OFFER_MIN },
		{ "offer-max", required_argument, NULL, O_OFFER_MAX },
		{ "offer-versions", required_argument, NULL, O_OFFER_VERSIONS },
		{ "offer-caps", required_argument, NULL, O_OFFER_CAPS },
		{ "page-size", required_argument, NULL, O_PAGE_SIZE },
		{ 0 }
	};
	struct hs_args a = { .timeout_ms = KMIG_HS_DEFAULT_TIMEOUT_MS };
	struct kmig_hs_result *res = NULL;
	struct kmig_offer *offer = NULL;
	struct kmig_key *key = NULL;
	char peer[KMIG_LISTEN_PEER_MAX] = "";
	int c, li = -1, fd, err, ret;
	uint32_t u32;

	while ((li = -1, c = getopt_long(argc, argv, "l:c:r:k:t:jh", opts, &li)) != -1) {
		switch (c) {
		case 'l':
			a.listen = optarg;
			break;
		case 'c':
			a.connect = optarg;
			break;
		case 'r':
			if (!strcmp(optarg, "source"))
				a.role = KMIG_HS_ROLE_SOURCE;
			else if (!strcmp(optarg, "destination"))
				a.role = KMIG_HS_ROLE_DESTINATION;
			else
				goto bad_value;
			break;
		case 'k':
			a.key_file = optarg;
			break;
		case 't':
			if (!parse_ms(optarg, &a.timeout_ms) || !a.timeout_ms)
				goto bad_value;
			break;
		case 'j':
			a.json = true;
			break;
		case 'h':
			usage_handshake(stdout);
			return 0;
		case O_PROTO_MAX:
			if (!parse_u32(optarg, &a.proto_max) || !a.proto_max)
				goto bad_value;
			break;
		case O_CAPS:
			a.caps = optarg;
			break;
		case O_REQUIRE:
			a.require = optarg;
			break;
		case O_LAYOUT:
			a.layout = optarg;
			break;
		case O_HOST_ID:
			a.host_id = optarg;
			break;
		case O_VM_ID:
			a.vm_id = optarg;
			break;
		case O_ACCEPT_TIMEOUT:
			if (!parse_ms(optarg, &a.accept_timeout_ms))
				goto bad_value;
			break;
		case O_MAX_REJECTS:
			if (!parse_u32(optarg, &u32) || !u32)
				goto bad_value;
			a.max_rejects = u32;
			break;
		case O_OFFER_MIN:
			if (!parse_u32(optarg, &a.offer_min) || !a.offer_min)
				goto bad_value;
			break;
		case O_OFFER_MAX:
			if (!parse_u32(optarg, &a.offer_max) || !a.offer_max)
				goto bad_value;
			break;
		case O_OFFER_VERSIONS:
			a.offer_versions = optarg;
			break;
		case O_OFFER_CAPS:
			a.offer_caps = optarg;
			break;
		case O_PAGE_SIZE:
			if (!parse_u32(optarg, &a.page_size) || !a.page_size)
				goto bad_value;
			break;
		default:
			usage_handshake(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		errmsg("handshake: unexpected argument '%s'", argv[optind]);
		usage_handshake(stderr);
		return EXIT_USAGE;
	}
	if (!a.listen == !a.connect) {
		errmsg("handshake: give exactly one of --listen and --connect");
		usage_handshake(stderr);
		return EXIT_USAGE;
	}
	if (!a.role)
		a.role = a.connect ? KMIG_HS_ROLE_SOURCE : KMIG_HS_ROLE_DESTINATION;

	offer = calloc(1, sizeof(*offer));
	res = calloc(1, sizeof(*res));
	key = calloc(1, sizeof(*key));
	if (!offer || !res || !key) {
		errmsg("out of memory");
		ret = EXIT_ENV;
		goto out;
	}
	ret = build_offer(&a, offer);
	if (ret)
		goto out;
	if (a.key_file && kmigctl_load_key(a.key_file, key)) {
		ret = EXIT_ENV;
		goto out;
	}

	if (a.listen) {
		ret = do_listen(&a, offer, a.key_file ? key : NULL, res);
		goto out;
	}
	fd = kmigctl_connect(a.connect, a.timeout_ms, peer, sizeof(peer));
	if (fd < 0) {
		ret = -fd;
		goto out;
	}

	{
		KMIG_HS_OPTS(hopts, .timeout_ms = a.timeout_ms,
			     .key = a.key_file ? key : NULL);

		if (a.role == KMIG_HS_ROLE_SOURCE)
			err = kmig_handshake_source(fd, offer, &hopts, res);
		else
			err = kmig_handshake_destination(fd, offer, &hopts, res);
	}
	linger_close(fd);
	print_result(&a, res, peer);
	ret = err ? EXIT_REFUSED : 0;
out:
	if (key)
		kmig_key_clear(key);
	free(key);
	free(res);
	free(offer);
	return ret;

bad_value:
	for (size_t i = 0; li < 0 && opts[i].name; i++)
		if (opts[i].val == c)
			li = (int)i;
	errmsg("handshake: invalid value '%s' for --%s", optarg,
	       li >= 0 ? opts[li].name : "?");
	usage_handshake(stderr);
	return EXIT_USAGE;
}

/*
 * Command table
 */

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "info", cmd_info, "show what the loaded kmig module supports" },
	{ "handshake", cmd_handshake, "run the migration handshake alone, for diagnosis" },
	{ "qemu", cmd_qemu, "migrate a stock QEMU guest whose RAM is on kmig files" },
	{ "help", cmd_help, "show this help" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [--help] [--version] COMMAND [ARGS]\n\ncommands:\n", prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s  %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", prog);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static void version(void)
{
	printf("kmigctl %s (libkmig %s, handshake format %d, protocols %d..%d)\n",
	       KMIGCTL_VERSION, kmig_lib_version(), KMIG_HS_FORMAT_VERSION,
	       KMIG_PROTO_V1, KMIG_PROTO_V2);
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		version();
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(cmd, commands[i].name)) {
			/* getopt sees "kmigctl-CMD ARGS..." */
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	errmsg("unknown command '%s'", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
