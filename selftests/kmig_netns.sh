#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Two "hosts": network namespaces joined by a veth pair. The source host
# streams memory to the destination host over TCP with each protocol version;
# the destination's memory must hash like the source's after the final round.
# TAP output, one case per protocol and capability set.

ksft_skip=4
cd "$(dirname "$0")"

. ./kmig_hosts.sh
if ! hosts_up; then
	echo "1..0 # SKIP cannot build two hosts (veth, unshare)"
	exit $ksft_skip
fi
trap hosts_down EXIT

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
	on b timeout 120 ./kmig_xfer recv "$port" 2048 \
		"$proto" "$caps" >/tmp/kmig-dst.$n 2>&1 &
	recv=$!
	on a timeout 120 ./kmig_xfer send 10.77.0.2 \
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
