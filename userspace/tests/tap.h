/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP producer for the host tests.
 *
 * A test is "static bool test_name(void)" that returns true on success and
 * uses CHECK() for its assertions. TEST_MAIN() runs a table of them and
 * prints one "ok N name" / "not ok N name" line each, with "# ..."
 * diagnostics before it, then the plan "1..N". A test may call tap_skip()
 * and return true to be reported as "ok N name # SKIP reason".
 * Pass a substring as argv[1] to run only the matching tests.
 */
#ifndef KMIG_TAP_H
#define KMIG_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_test {
	const char *name;
	bool (*fn)(void);
};

static char tap_skip_reason[128];

__attribute__((format(printf, 1, 2)))
static void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

__attribute__((format(printf, 1, 2), unused))
static void tap_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tap_skip_reason, sizeof(tap_skip_reason), fmt, ap);
	va_end(ap);
}

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			tap_diag("%s:%d: check failed: %s", __FILE__,	\
				 __LINE__, #cond);			\
			return false;					\
		}							\
	} while (0)

/* CHECK with a printf-style explanation. */
#define CHECKF(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			tap_diag("%s:%d: check failed: %s", __FILE__,	\
				 __LINE__, #cond);			\
			tap_diag(__VA_ARGS__);				\
			return false;					\
		}							\
	} while (0)

#define CHECK_EQ(a, b)							\
	do {								\
		long long _a = (long long)(a), _b = (long long)(b);	\
		if (_a != _b) {						\
			tap_diag("%s:%d: %s == %s failed: %lld != %lld",\
				 __FILE__, __LINE__, #a, #b, _a, _b);	\
			return false;					\
		}							\
	} while (0)

#define CHECK_STR_HAS(s, sub)						\
	do {								\
		if (!strstr((s), (sub))) {				\
			tap_diag("%s:%d: \"%s\" does not contain \"%s\"",\
				 __FILE__, __LINE__, (s), (sub));	\
			return false;					\
		}							\
	} while (0)

static int tap_run(const struct tap_test *tests, size_t n, int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : NULL;
	int num = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < n; i++) {
		bool ok;

		if (filter && !strstr(tests[i].name, filter))
			continue;
		tap_skip_reason[0] = '\0';
		ok = tests[i].fn();
		num++;
		if (!ok)
			failed++;
		if (ok && tap_skip_reason[0])
			printf("ok %d %s # SKIP %s\n", num, tests[i].name,
			       tap_skip_reason);
		else
			printf("%sok %d %s\n", ok ? "" : "not ", num,
			       tests[i].name);
	}
	printf("1..%d\n", num);
	return failed ? 1 : 0;
}

#define TEST(name)	{ #name, name }
#define TEST_MAIN(table)						\
	int main(int argc, char **argv)					\
	{								\
		return tap_run(table, sizeof(table) / sizeof(table[0]),	\
			       argc, argv);				\
	}

#endif /* KMIG_TAP_H */
