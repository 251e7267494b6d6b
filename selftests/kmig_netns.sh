#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Two "hosts": network namespaces joined by a veth pair. The source host
# streams memory to the destination host over TCP with each protocol version;
# the destination's memory must hash like the source's after the final round.
# TAP output, one case per protocol and capability set.

ksft_skip=4
cd "$(dirname "$0")"

if ! modprobe veth 2>/dev/null || ! command -v unshare >/dev/null; then
	echo "1..0 # SKIP veth or unshare unavailable"
	exit $ksft_skip
fi

cleanup() {
	[ -n "$src_ns" ] && kill "$src_ns" 2>/dev/null
	[ -n "$dst_ns" ] && kill "$dst_ns" 2>/dev/null
	ip link del kmig-a 2>/dev/null
}
trap cleanup EXIT

# Each host is a namespace kept alive by a sleeping process.
unshare -n sleep 1000 & src_ns=$!
unshare -n sleep 1000 & dst_ns=$!
sleep 1
# busybox ip names the peer veth0 whatever it is told; iproute2 obeys.
ip link add kmig-a type veth peer name kmig-b
ip link show kmig-b >/dev/null 2>&1 || ip link set veth0 name kmig-b
ip link set kmig-a netns "$src_ns"
ip link set kmig-b netns "$dst_ns"
nsenter -t "$src_ns" -n sh -c 'ip link set lo up; ip addr add 10.77.0.1/24 dev kmig-a; ip link set kmig-a up'
nsenter -t "$dst_ns" -n sh -c 'ip link set lo up; ip addr add 10.77.0.2/24 dev kmig-b; ip link set kmig-b up'

cases="1:0 1:7 2:0 2:5 2:7"
echo "TAP version 13"
echo "1..$(echo $cases | wc -w)"
n=0
fail=0
for c in $cases; do
	n=$((n + 1))
	proto=${c%%:*}
	caps=${c#*:}
	port=$((7100 + n))
	nsenter -t "$dst_ns" -n timeout 120 ./kmig_xfer recv "$port" 2048 \
		"$proto" "$caps" >/tmp/kmig-dst.$n 2>&1 &
	recv=$!
	nsenter -t "$src_ns" -n timeout 120 ./kmig_xfer send 10.77.0.2 \
		"$port" 2048 "$proto" "$caps" >/tmp/kmig-src.$n 2>&1
	src_rc=$?
	wait "$recv"
	dst_rc=$?
	src_hash=$(sed -n 's/^hash //p' /tmp/kmig-src.$n)
	dst_hash=$(sed -n 's/^hash //p' /tmp/kmig-dst.$n)
	name="netns_veth_proto${proto}_caps${caps}"
	if [ "$src_rc" = 0 ] && [ "$dst_rc" = 0 ] && [ -n "$src_hash" ] &&
	   [ "$src_hash" = "$dst_hash" ]; then
		echo "ok $n $name"
	else
		echo "# source: rc $src_rc, $(cat /tmp/kmig-src.$n)"
		echo "# destination: rc $dst_rc, $(cat /tmp/kmig-dst.$n)"
		echo "not ok $n $name"
		fail=1
	fi
done
exit $fail
