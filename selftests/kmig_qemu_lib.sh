# SPDX-License-Identifier: GPL-2.0
#
# Stock QEMU with a Linux guest inside the test VM, for kmig_qemu.sh, make
# demo-qemu and make bench (selftests/vm/qemu-root.sh puts QEMU and the
# guest there). Source kmig_hosts.sh first. Sets:
#   QEMU, GUEST      the binary and the guest's kernel and initramfs
#   accel, accel_how QEMU's accelerator options, and which one in words
# and defines:
#   qemu_start HOST NAME LOAD MIB RAMDIR [QEMU ARGS...]
#       start QEMU on HOST (a or b) with 128 MiB of guest RAM on RAMDIR/NAME
#       (a kmig file system), or anonymous RAM if RAMDIR is "";
#       LOAD and MIB are the guest's workload (guest-load.c). QMP on
#       /tmp/NAME.HOST.qmp, the guest's console in /tmp/NAME.HOST.serial,
#       a second QMP socket for an event watcher on /tmp/NAME.HOST.ev,
#       QEMU's pid in /tmp/NAME.HOST.pid, its stderr in /tmp/NAME.HOST.err;
#       the pid of the background job in qemu_HOST.
#   qemu_kill HOST NAME [SIGNAL]
#   last_pass NAME HOST   highest pass the guest printed, 0 if none

QEMU=${KMIG_QEMU:-/usr/bin/qemu-system-x86_64}
GUEST=/qemu-guest
QEMU_RAM=128M

if [ -c /dev/kvm ]; then
	accel="-accel kvm -cpu host"
	accel_how="KVM (nested in this VM)"
else
	accel="-accel tcg"
	accel_how="TCG: /dev/kvm is absent"
fi

qemu_start() {
	q_h=$1 q_n=$2 q_load=$3 q_mib=$4 q_dir=$5
	shift 5
	if [ -n "$q_dir" ]; then
		rm -f "$q_dir/$q_n"
		q_ram="-object memory-backend-file,id=ram0,size=$QEMU_RAM,mem-path=$q_dir/$q_n,share=on -machine pc,memory-backend=ram0"
	else
		q_ram="-machine pc"
	fi
	rm -f /tmp/$q_n.$q_h.qmp /tmp/$q_n.$q_h.ev /tmp/$q_n.$q_h.serial \
		/tmp/$q_n.$q_h.pid
	on $q_h $QEMU $accel -m $QEMU_RAM -smp 1 -nodefaults -no-user-config \
		-display none $q_ram \
		-kernel $GUEST/vmlinuz -initrd $GUEST/initrd.gz \
		-append "console=ttyS0 quiet panic=-1 kmig.load=$q_load kmig.mib=$q_mib" \
		-serial file:/tmp/$q_n.$q_h.serial \
		-qmp unix:/tmp/$q_n.$q_h.qmp,server=on,wait=off \
		-qmp unix:/tmp/$q_n.$q_h.ev,server=on,wait=off \
		-pidfile /tmp/$q_n.$q_h.pid "$@" \
		2>/tmp/$q_n.$q_h.err &
	eval "qemu_$q_h=$!"
}

qemu_kill() {
	[ -f /tmp/$2.$1.pid ] && kill -${3:-TERM} "$(cat /tmp/$2.$1.pid)" 2>/dev/null
}

last_pass() {
	sed -n 's/^guest-load: pass \([0-9]*\) ok.*/\1/p' /tmp/$1.$2.serial 2>/dev/null |
		tail -1 | grep . || echo 0
}
