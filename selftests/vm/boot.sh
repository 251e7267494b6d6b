#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot one test VM and judge it. The VM's ttyS1 is streamed to stdout and to
# OUTDIR/output.log; the kernel console goes to OUTDIR/console.log.
#
# usage: boot.sh KVER INITRD OUTDIR MODE TIMEOUT_SECONDS
# Exit status 0 only if the VM printed its verdict, the kernel stayed
# untainted (out-of-tree flags aside) and the console shows no splat.
set -u

kver=$1 initrd=$2 outdir=$3 mode=$4 limit=$5
mkdir -p "$outdir"
log=$outdir/output.log
console=$outdir/console.log
rm -f "$log" "$console"

# QEMU_EXTRA may add devices (two-VM network tests); KMIG_APPEND adds to
# the kernel command line, e.g. KMIG_ONLY=kmig_stream to run one suite.
timeout -k 10 "$limit" qemu-system-x86_64 \
	-accel tcg,thread=multi -smp 2 -cpu EPYC,+svm,+npt -m 1024 \
	-nodefaults -display none -no-reboot -monitor none \
	-kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=7 KMIG_MODE=$mode ${KMIG_APPEND:-}" \
	-serial "file:$console" -serial stdio ${QEMU_EXTRA:-} \
	</dev/null 2>"$outdir/qemu.err" | tee "$log"
rc=$?

fail() {
	echo "kmig-vm: FAIL ($kver): $*"
	exit 1
}

if grep -q "KMIG-RESULT: DONE" "$log"; then
	:
elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "timed out after ${limit}s"
else
	fail "the VM stopped without a verdict (crash or panic); see $console"
fi

# Real splat markers only: every boot with -cpu EPYC prints harmless
# mitigation "WARNING:" lines.
splat='cut here|WARNING: CPU:|BUG:|Oops|KASAN:|UBSAN:|possible circular locking|unreferenced object|Call Trace:|general protection fault|Kernel panic|blocked for more than'
if grep -Eq "$splat" "$console"; then
	grep -En -B2 -A25 "$splat" "$console" | head -80
	fail "kernel splat in $console"
fi
taint=$(sed -n 's/^KMIG-TAINT: //p' "$log" | tr -d '\r')
[ "$taint" = 0 ] || fail "kernel tainted ($taint)"
exit 0
