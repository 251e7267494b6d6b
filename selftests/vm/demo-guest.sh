#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside the test VM: two hosts, a running KVM guest on host a,
# migrated live to host b, where it continues.
cd /kselftest/kmig
. ./kmig_hosts.sh

echo
echo "=== kmig demo: the module on this host"
kmigctl info
echo
echo "=== two hosts: host-a 10.77.0.1 and host-b 10.77.0.2 (namespaces, veth)"
hosts_up || { echo "demo: cannot create the hosts"; exit 1; }
on b kmig-vmm incoming --listen 7000 --run-for 3 > /tmp/demo.b 2>&1 &
dst=$!
echo "=== host-a: start a KVM guest on kmig memory, migrate it live after 3 s"
on a kmig-vmm run --mem 32 --rate 20000 --after 3 \
	--migrate-to 10.77.0.2:7000
src_rc=$?
wait $dst
dst_rc=$?
echo
echo "=== host-b: the destination's side"
cat /tmp/demo.b
hosts_down
echo
if [ $src_rc = 0 ] && [ $dst_rc = 0 ]; then
	echo "=== demo: OK: the guest moved to host-b and runs on there"
else
	echo "=== demo: FAILED (source $src_rc, destination $dst_rc)"
	exit 1
fi
