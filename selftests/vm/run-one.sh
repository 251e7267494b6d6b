#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Development helper: boot one kernel and run some kselftest suites.
# usage: run-one.sh generic|cloud|debug SUITE[,SUITE...]
set -u
. "$(dirname "$0")/lib.sh"

out=$BUILD/vm/one
vm_prepare "$1" "$out" || exit 1
KMIG_APPEND="KMIG_ONLY=$2 ${KMIG_APPEND:-}" \
	"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$out" test \
	"${KMIG_VM_TIMEOUT:-900}"
