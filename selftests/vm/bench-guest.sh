#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, inside the test VM: kmig_bench's tables (KMIG_BENCH_ARGS).
echo "# kmig bench: kernel $(uname -r), $(nproc) cpus under QEMU TCG"
echo "# command: kmig_bench ${KMIG_BENCH_ARGS:--r 5}"
/kselftest/kmig/kmig_bench ${KMIG_BENCH_ARGS:--r 5}
rc=$?
# Tracking a real KVM guest: kmig against KVM's own dirty log.
if [ -c /dev/kvm ]; then
	kmig-vmm bench-track --mem 16 --run-for 2 || rc=1
else
	echo "# no /dev/kvm: the KVM comparison is skipped"
fi
echo "# bench: exit $rc"
