#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Development helper: boot one kernel and run one kselftest suite.
# usage: run-one.sh generic|cloud SUITE
set -u
. "$(dirname "$0")/lib.sh"

kver=$(kernel_release "$1") || exit 1
make -s -C "$TOP" selftests || exit 1
ko=$(build_module "$kver") || exit 1
vmroot=$(stage_vm_root) || exit 1
out=$BUILD/vm/one
mkdir -p "$out"
"$TOP"/selftests/vm/mkinitrd.sh "$kver" "$ko" "$BUILD/selftests" "$KSFT" \
	"$out/initrd.gz" "$vmroot" || exit 1
KMIG_APPEND="KMIG_ONLY=$2" \
	"$TOP"/selftests/vm/boot.sh "$kver" "$out/initrd.gz" "$out" test \
	"${KMIG_VM_TIMEOUT:-900}"
