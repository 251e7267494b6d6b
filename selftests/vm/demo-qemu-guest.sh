#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make demo-qemu, inside the test VM: two hosts (network namespaces joined
# by veth), stock QEMU on each with guest RAM on a kmig file system; a
# running Linux guest moves from host a to host b with "kmigctl qemu".
cd /kselftest/kmig
. ./kmig_hosts.sh
GUEST=/qemu-guest

if [ -c /dev/kvm ]; then
	accel="-accel kvm -cpu host"
	how="KVM (nested in this VM)"
else
	accel="-accel tcg"
	how="TCG (no /dev/kvm)"
fi

echo
echo "=== two hosts: host-a 10.77.0.1 and host-b 10.77.0.2 (namespaces, veth)"
hosts_up || { echo "demo: cannot create the hosts"; exit 1; }
for h in a b; do
	mkdir -p /run/kmig-$h
	mount -t kmig none /run/kmig-$h || { echo "demo: no kmig file system"; exit 1; }
done
echo "=== both hosts: mount -t kmig none /run/kmig-a (and -b)"

qemu() { # HOST [ARGS]
	h=$1
	shift
	on $h qemu-system-x86_64 $accel -m 128M -smp 1 -nodefaults -no-user-config \
		-display none \
		-object memory-backend-file,id=ram0,size=128M,mem-path=/run/kmig-$h/vm1,share=on \
		-machine pc,memory-backend=ram0 \
		-kernel $GUEST/vmlinuz -initrd $GUEST/initrd.gz \
		-append "console=ttyS0 quiet kmig.load=busy kmig.mib=32" \
		-serial file:/tmp/demo-$h.console -qmp unix:/tmp/demo-$h.qmp,server=on,wait=off \
		-pidfile /tmp/demo-$h.pid "$@" 2>/tmp/demo-$h.err &
}

echo "=== host-a: QEMU $(qemu-system-x86_64 --version | head -1 | sed 's/.*version //'), $how, boots Linux $(uname -r)"
echo "    with its 128 MiB of RAM on /run/kmig-a/vm1; the guest rewrites 32 MiB"
echo "    again and again and checks it before each pass"
qemu a
for i in $(seq 1 120); do
	grep -q "pass" /tmp/demo-a.console 2>/dev/null && break
	sleep 1
done
sleep 3
grep guest- /tmp/demo-a.console | tail -2 | sed 's/^/    host-a guest: /'
echo "=== host-b: the same QEMU command line, with -incoming defer"
qemu b -incoming defer
on b kmigctl qemu receive --qmp /tmp/demo-b.qmp --vm-id vm1 --listen 7300 \
	--qemu-incoming tcp:0.0.0.0:4444 --accept-timeout 60000 > /tmp/demo.b 2>&1 &
dst=$!
sleep 1
echo "=== host-a: kmigctl qemu send --qmp /tmp/demo-a.qmp --vm-id vm1 --to 10.77.0.2:7300 --qemu-uri tcp:10.77.0.2:4444"
on a kmigctl qemu send --qmp /tmp/demo-a.qmp --vm-id vm1 --to 10.77.0.2:7300 \
	--qemu-uri tcp:10.77.0.2:4444 --downtime 1000 --policy force
src_rc=$?
wait $dst
dst_rc=$?
echo
echo "=== host-b: the destination agent"
cat /tmp/demo.b
last_a=$(sed -n 's/^guest-load: pass \([0-9]*\) ok.*/\1/p' /tmp/demo-a.console | tail -1)
sleep 5
echo
echo "=== the guest's console on host-a (it stopped there):"
tail -2 /tmp/demo-a.console | sed 's/^/    /'
echo "=== the guest's console on host-b (it goes on here):"
tail -3 /tmp/demo-b.console 2>/dev/null | sed 's/^/    /'
last_b=$(sed -n 's/^guest-load: pass \([0-9]*\) ok.*/\1/p' /tmp/demo-b.console 2>/dev/null | tail -1)
kill "$(cat /tmp/demo-a.pid)" "$(cat /tmp/demo-b.pid)" 2>/dev/null
sleep 1
umount /run/kmig-a /run/kmig-b
hosts_down
echo
if [ $src_rc = 0 ] && [ $dst_rc = 0 ] && [ "${last_b:-0}" -gt "${last_a:-0}" ] &&
   ! grep -q FAILED /tmp/demo-b.console; then
	echo "=== demo: OK: stock QEMU's guest moved to host-b and runs on there (pass $last_a -> $last_b)"
else
	echo "=== demo: FAILED (source $src_rc, destination $dst_rc, guest pass ${last_a:-?} -> ${last_b:-?})"
	exit 1
fi
