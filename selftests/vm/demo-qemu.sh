#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo-qemu: boot the test VM on Debian's generic 6.1 kernel; inside it,
# stock QEMU moves a running Linux guest between two hosts while kmig carries
# its RAM (selftests/vm/demo-qemu-guest.sh, Documentation/qemu.rst).
set -u
. "$(dirname "$0")/lib.sh"

echo "demo-qemu: building kmig and the test VM"
out=$BUILD/vm/demo-qemu
mkdir -p "$out"
vm_prepare generic "$out" 2>"$out/build.log" || { cat "$out/build.log"; exit 1; }
echo "demo-qemu: booting $KVER under QEMU (TCG, nested SVM for KVM)"
"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$out" \
	demo-qemu 900 || exit 1
grep -q "=== demo: OK" "$out/output.log"
