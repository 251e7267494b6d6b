#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo-qemu, inside the test VM: two hosts (network namespaces joined
# by veth), stock QEMU on each with guest RAM on a kmig file system; a
# running Linux guest moves from host a to host b with "kmigctl qemu".
cd /kselftest/kmig
. ./kmig_hosts.sh
. ./kmig_qemu_lib.sh

echo
echo "=== two hosts: host-a 10.77.0.1 and host-b 10.77.0.2 (namespaces, veth)"
hosts_up || { echo "demo: cannot create the hosts"; exit 1; }
for h in a b; do
	mkdir -p /run/kmig-$h
	mount -t kmig -o large none /run/kmig-$h || { echo "demo: no kmig file system"; exit 1; }
done
echo "=== both hosts: mount -t kmig -o large none /run/kmig-a (and -b)"

echo "=== host-a: QEMU $(qemu-system-x86_64 --version | head -1 | sed 's/.*version //'), $accel_how, boots Linux $(uname -r)"
echo "    with its 128 MiB of RAM on /run/kmig-a/demo; the guest rewrites 32 MiB"
echo "    again and again and checks it before each pass"
qemu_start a demo busy 32 /run/kmig-a
for i in $(seq 1 120); do
	grep -q "pass" /tmp/demo.a.serial 2>/dev/null && break
	sleep 1
done
sleep 3
grep guest- /tmp/demo.a.serial | tail -2 | sed 's/^/    host-a guest: /'
echo "=== host-b: the same QEMU command line, with -incoming defer"
qemu_start b demo busy 32 /run/kmig-b -incoming defer
on b kmigctl qemu receive --qmp /tmp/demo.b.qmp --vm-id vm1 --listen 7300 \
	--qemu-incoming tcp:0.0.0.0:4444 --accept-timeout 60000 > /tmp/demo.b 2>&1 &
dst=$!
sleep 1
echo "=== host-a: kmigctl qemu send --qmp /tmp/demo.a.qmp --vm-id vm1 --to 10.77.0.2:7300 --qemu-uri tcp:10.77.0.2:4444"
on a kmigctl qemu send --qmp /tmp/demo.a.qmp --vm-id vm1 --to 10.77.0.2:7300 \
	--qemu-uri tcp:10.77.0.2:4444 --downtime 1000 --policy force
src_rc=$?
wait $dst
dst_rc=$?
echo
echo "=== host-b: the destination agent"
cat /tmp/demo.b
last_a=$(last_pass demo a)
sleep 5
echo
echo "=== the guest's console on host-a (it stopped there):"
tail -2 /tmp/demo.a.serial | sed 's/^/    /'
echo "=== the guest's console on host-b (it goes on here):"
tail -3 /tmp/demo.b.serial 2>/dev/null | sed 's/^/    /'
last_b=$(last_pass demo b)
qemu_kill a demo
qemu_kill b demo
sleep 1
umount /run/kmig-a /run/kmig-b
hosts_down
echo
if [ $src_rc = 0 ] && [ $dst_rc = 0 ] && [ "${last_b:-0}" -gt "${last_a:-0}" ] &&
   ! grep -q FAILED /tmp/demo.b.serial; then
	echo "=== demo: OK: stock QEMU's guest moved to host-b and runs on there (pass $last_a -> $last_b)"
else
	echo "=== demo: FAILED (source $src_rc, destination $dst_rc, guest pass ${last_a:-?} -> ${last_b:-?})"
	exit 1
fi
