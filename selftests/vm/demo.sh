#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the test VM on Debian's generic 6.1 kernel and live-migrate
# a running KVM guest between two hosts inside it (selftests/vm/demo-guest.sh).
set -u
. "$(dirname "$0")/lib.sh"

kver=$(kernel_release generic) || exit 1
echo "demo: building kmig for $kver"
make -s -C "$TOP" selftests >/dev/null || exit 1
ko=$(build_module "$kver") || exit 1
vmroot=$(stage_vm_root) || exit 1
out=$BUILD/vm/demo
mkdir -p "$out"
"$TOP"/selftests/vm/mkinitrd.sh "$kver" "$ko" "$BUILD/selftests" "$KSFT" \
	"$out/initrd.gz" "$vmroot" || exit 1
echo "demo: booting $kver under QEMU (TCG, nested SVM for KVM)"
"$TOP"/selftests/vm/boot.sh "$kver" "$out/initrd.gz" "$out" demo 600 || exit 1
grep -q "=== demo: OK" "$out/output.log"
