#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Extract the files kmig borrows at build time from Debian's linux-source-6.1
# package: the kselftest harness and runner, and checkpatch. They are never
# committed. usage: linux-source.sh OUTDIR
set -e

out=$1
tarball=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null | head -n1)
[ -n "$tarball" ] || { echo "linux-source-6.1 is not installed" >&2; exit 1; }
stamp="$out/.stamp"
[ -f "$stamp" ] && [ "$stamp" -nt "$tarball" ] && exit 0

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
tar -xf "$tarball" -C "$out.tmp" --strip-components=1 --wildcards \
	'linux-source-6.1/tools/testing/selftests/kselftest_harness.h' \
	'linux-source-6.1/tools/testing/selftests/kselftest.h' \
	'linux-source-6.1/tools/testing/selftests/lib.mk' \
	'linux-source-6.1/tools/testing/selftests/run_kselftest.sh' \
	'linux-source-6.1/tools/testing/selftests/kselftest/*' \
	'linux-source-6.1/scripts/checkpatch.pl' \
	'linux-source-6.1/scripts/spelling.txt' \
	'linux-source-6.1/scripts/const_structs.checkpatch'
rm -rf "$out"
mv "$out.tmp" "$out"
touch "$stamp"
