#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, inside the test VM: kmig_bench's tables (KMIG_BENCH_ARGS).
echo "# kmig bench: kernel $(uname -r), $(nproc) cpus under QEMU TCG"
echo "# command: kmig_bench ${KMIG_BENCH_ARGS:--r 5}"
/kselftest/kmig/kmig_bench ${KMIG_BENCH_ARGS:--r 5}
echo "# bench: exit $?"
