#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo: boot the test VM on Debian's generic 6.1 kernel and live-migrate
# a running KVM guest between two hosts inside it (selftests/vm/demo-guest.sh).
set -u
. "$(dirname "$0")/lib.sh"

echo "demo: building kmig and the test VM"
out=$BUILD/vm/demo
mkdir -p "$out"
vm_prepare generic "$out" 2>"$out/build.log" || { cat "$out/build.log"; exit 1; }
echo "demo: booting $KVER under QEMU (TCG, nested SVM for KVM)"
"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$out" demo 600 || exit 1
grep -q "=== demo: OK" "$out/output.log"
