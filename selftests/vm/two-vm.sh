#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Cross-version migration between two kernels: two QEMU VMs, each booting
# its own kernel with its own kmig module, joined by a QEMU socket netdev.
# VM a runs Debian's generic kernel with kmig's full window (1..2); VM b the
# cloud kernel with kmig loaded as kmig.proto_max=1, an older peer. The
# cases run inside the VMs (selftests/vm/xvm-guest.sh); each VM is judged as
# in boot.sh (verdict, splats, taint). Output: both VMs' TAP lines.
#
# usage: two-vm.sh [TIMEOUT_SECONDS]    (KMIG_XVM_KERNELS="generic cloud")
set -u
. "$(dirname "$0")/lib.sh"

limit=${1:-600}
set -- ${KMIG_XVM_KERNELS:-generic cloud}
ka=$1 kb=$2
outa=$BUILD/vm/xvm-a outb=$BUILD/vm/xvm-b

vm_prepare "$ka" "$outa" || exit 1
A="KVER=$KVER KIMAGE=$KIMAGE KAPPEND=$KAPPEND"
A_QEMU=$KQEMU
vm_prepare "$kb" "$outb" || exit 1
B="KVER=$KVER KIMAGE=$KIMAGE KAPPEND=$KAPPEND"
B_QEMU=$KQEMU

port=$((20000 + $$ % 20000))
net="-device virtio-net-pci,netdev=n0,romfile="
env $A KQEMU="$A_QEMU" \
	QEMU_EXTRA="-netdev socket,id=n0,listen=127.0.0.1:$port $net,mac=52:54:00:88:00:01" \
	KMIG_APPEND="KMIG_XVM=a" \
	"$TOP"/selftests/vm/boot.sh "$outa/initrd.gz" "$outa" xvm "$limit" \
	>"$outa/boot.out" 2>&1 &
pa=$!
# b connects to a's listening socket: give QEMU a moment to open it.
sleep 2
env $B KQEMU="$B_QEMU" \
	QEMU_EXTRA="-netdev socket,id=n0,connect=127.0.0.1:$port $net,mac=52:54:00:88:00:02" \
	KMIG_APPEND="KMIG_XVM=b kmig.proto_max=1" \
	"$TOP"/selftests/vm/boot.sh "$outb/initrd.gz" "$outb" xvm "$limit" \
	>"$outb/boot.out" 2>&1 &
pb=$!
wait $pa
rca=$?
wait $pb
rcb=$?
for side in a b; do
	eval out=\$out$side
	grep -E '^(not )?ok |^# |^xvm-' "$out/boot.out"
done
[ $rca = 0 ] || echo "not ok 1 selftests: kmig-vm: xvm-a: the VM ($ka) failed; see $outa"
[ $rcb = 0 ] || echo "not ok 1 selftests: kmig-vm: xvm-b: the VM ($kb) failed; see $outb"
[ $rca = 0 ] && [ $rcb = 0 ]
