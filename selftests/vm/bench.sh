#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the test VM (BENCH_KERNEL, default generic) and run
# kmig_bench there. Every figure is measured in that one boot; compare
# ratios, not absolute numbers (QEMU TCG). The table goes to stdout and to
# build/bench.md, with the date, the kernel and the command.
set -u
. "$(dirname "$0")/lib.sh"

flavour=${BENCH_KERNEL:-generic}
out=$BUILD/vm/bench
mkdir -p "$out"
vm_prepare "$flavour" "$out" 2>"$out/build.log" || { cat "$out/build.log"; exit 1; }
KMIG_APPEND="KMIG_BENCH_ARGS=${BENCH_ARGS:+\"$BENCH_ARGS\"}" \
	"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$out" bench 1800 >/dev/null || exit 1
{
	echo "Measured $(date -u +%Y-%m-%d) on $(uname -n), $(nproc) host cpus; guest kernel $KVER"
	grep -v '^KMIG-' "$out/output.log" | sed -n '/^# kmig bench/,$p'
} | tee "$BUILD/bench.md"
grep -q "^# bench: exit 0" "$out/output.log"
