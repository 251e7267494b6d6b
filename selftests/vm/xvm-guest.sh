#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# One side of the two-VM cross-version test (selftests/vm/two-vm.sh), run by
# /init in each VM. KMIG_XVM says which: "a" is the new kernel with kmig's
# full window, "b" the other kernel, whose kmig was loaded with
# kmig.proto_max=1 on the kernel command line. The VMs are joined by a QEMU
# socket netdev: a is 10.88.0.1, b is 10.88.0.2.
#
# Cases, in order, each side judging its own part (TAP lines):
#   forward   b (old) runs the guest and migrates it to a (new): version 1
#   backward  a (new) migrates it to b (old): version 1
#   disjoint  a raises its minimum to 2, then migrates to b: refused on both
#             sides with the reason; a's guest keeps running
# Before each case the destination opens a rendezvous port once it
# listens, and the source waits for it.
me=${KMIG_XVM:?}
VMM=/usr/bin/kmig-vmm
if [ "$me" = a ]; then ip=10.88.0.1 peer=10.88.0.2; else ip=10.88.0.2 peer=10.88.0.1; fi
param=/sys/module/kmig/parameters

modprobe virtio_pci 2>/dev/null
modprobe virtio_net 2>/dev/null
ip link set eth0 up && ip addr add $ip/24 dev eth0
echo "xvm-$me: $(uname -r), kmig window $(cat $param/proto_min)..$(cat $param/proto_max)"

n=0
result() { # name status
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n selftests: kmig-vm: xvm-$me: $1"
	else
		echo "not ok $n selftests: kmig-vm: xvm-$me: $1"
	fi
}

t=0
until ping -c 1 -W 1 $peer >/dev/null 2>&1; do
	t=$((t + 1))
	[ $t -lt 90 ] || { result "peer $peer reachable" 1; exit 0; }
done

# dest CASE PORT [OPTS]: receive one migration; output in /tmp/CASE.dst
dest() {
	timeout 120 $VMM incoming --listen "$2" --run-for 2 --json $3 \
		>/tmp/$1.dst 2>&1 &
	pid=$!
	sleep 1
	echo ready | timeout 60 nc -l -p $(($2 + 100)) >/dev/null
	wait $pid
	rc=$?
	sed "s/^/# $1 dst: /" /tmp/$1.dst
	return $rc
}

# source CASE PORT: run a guest and migrate it; output in /tmp/CASE.src
source_side() {
	t=0
	until [ "$(timeout 5 nc $peer $(($2 + 100)) </dev/null 2>/dev/null)" = ready ]; do
		t=$((t + 1))
		[ $t -lt 60 ] || { echo "# $1: no rendezvous"; return 1; }
		sleep 1
	done
	timeout 120 $VMM run --mem 8 --rate 2000 --after 1 --run-for 2 --json \
		--migrate-to $peer:$2 >/tmp/$1.src 2>&1
	rc=$?
	sed "s/^/# $1 src: /" /tmp/$1.src
	return $rc
}

moved() { # FILE ROLE VERSION: a completed migration at VERSION
	grep -q "\"event\":\"summary\",\"role\":\"$2\",\"status\":0,.*\"version\":$3," "$1"
}

# forward: b -> a
if [ "$me" = a ]; then
	dest forward 7001
	rc=$?
	moved /tmp/forward.dst destination 1 &&
		grep -q '"checksum_match":true' /tmp/forward.dst
	result "forward: old to new, destination at version 1" $((rc + $?))
else
	source_side forward 7001
	rc=$?
	moved /tmp/forward.src source 1
	result "forward: old to new, source at version 1" $((rc + $?))
fi

# backward: a -> b
if [ "$me" = a ]; then
	source_side backward 7002
	rc=$?
	moved /tmp/backward.src source 1
	result "backward: new to old, source at version 1" $((rc + $?))
else
	dest backward 7002
	rc=$?
	moved /tmp/backward.dst destination 1 &&
		grep -q '"checksum_match":true' /tmp/backward.dst
	result "backward: new to old, destination at version 1" $((rc + $?))
fi

# disjoint: a (2..2) -> b (1..1)
if [ "$me" = a ]; then
	echo 2 > $param/proto_min
	source_side disjoint 7003
	rc=$?
	# refused with the handshake's reason; the guest kept running here
	# (its counter moved after the refusal)
	[ $rc != 0 ] && grep -q 'handshake refused: .*protocol' /tmp/disjoint.src &&
		grep -q 'the guest keeps running here' /tmp/disjoint.src &&
		sed -n '/keeps running/,$p' /tmp/disjoint.src | grep -q '"event":"counter"'
	result "disjoint: refused, the source guest runs on" $?
	echo 1 > $param/proto_min
else
	dest disjoint 7003
	rc=$?
	[ $rc != 0 ] && grep -q 'handshake refused: .*protocol' /tmp/disjoint.dst
	result "disjoint: refused at the destination with the reason" $?
fi
