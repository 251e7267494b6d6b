#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Boot one test VM and judge it. The VM's ttyS1 is streamed to stdout and to
# OUTDIR/output.log; the kernel console goes to OUTDIR/console.log.
#
# usage: boot.sh INITRD OUTDIR MODE TIMEOUT_SECONDS
#   The environment gives the kernel: KVER, KIMAGE and KQEMU (lib.sh's
#   kernel_setup).
# Exit status 0 only if the VM printed its verdict, the kernel stayed
# untainted (out-of-tree flags aside), the console shows no splat and
# kmemleak, where the kernel has it, found no leak.
set -u

initrd=$1 outdir=$2 mode=$3 limit=$4
kver=${KVER:?}
mkdir -p "$outdir"
log=$outdir/output.log
console=$outdir/console.log
silence=${KMIG_VM_SILENCE:-300}
timed=$outdir/output.timed
rm -f "$log" "$timed" "$console" "$outdir/qemu.pid" "$outdir/qemu.rc" \
	"$outdir/silent" "$outdir/quiet-max"

# QEMU_EXTRA may add devices (two-VM network tests); KMIG_APPEND adds to
# the kernel command line, e.g. KMIG_ONLY=kmig_stream to run one suite.
# QEMU's exit status (124/137 from timeout) goes to OUTDIR/qemu.rc.
# OUTDIR/output.timed has each output line behind the seconds since the
# start, for selftests/vm/slowest.sh.
{ timeout -k 10 "$limit" qemu-system-x86_64 \
	-accel tcg,thread=multi -smp 2 -cpu EPYC,+svm,+npt -m 1024 ${KQEMU:-} \
	-nodefaults -display none -no-reboot -monitor none \
	-pidfile "$outdir/qemu.pid" \
	-kernel "${KIMAGE:-/boot/vmlinuz-$kver}" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 loglevel=7 KMIG_MODE=$mode ${KAPPEND:-} ${KMIG_APPEND:-}" \
	-serial "file:$console" -serial stdio ${QEMU_EXTRA:-} \
	</dev/null 2>"$outdir/qemu.err"; echo $? > "$outdir/qemu.rc"; } |
	perl -e '$| = 1; $t0 = time; open(my $l, ">", $ARGV[0]) or die;
		open(my $t, ">", $ARGV[1]) or die;
		$l->autoflush(1); $t->autoflush(1);
		while (<STDIN>) { print; print $l $_; print $t time - $t0, " $_" }' \
		"$log" "$timed" &
vm=$!

# A VM that prints nothing on either serial line for KMIG_VM_SILENCE
# seconds has wedged (under TCG with nested SVM, QEMU's vCPU threads can
# end up spinning on its big lock, see Documentation/testing.rst): stop it
# then, rather than at the time limit, and say so in OUTDIR/silent.
# The longest silence of the run goes to OUTDIR/quiet-max.
quiet=0 last=-1 most=0
while kill -0 "$vm" 2>/dev/null; do
	sleep 2
	size=$(cat "$log" "$console" 2>/dev/null | wc -c)
	if [ "$size" -eq "$last" ]; then
		quiet=$((quiet + 2))
	else
		quiet=0 last=$size
	fi
	[ "$quiet" -le "$most" ] || { most=$quiet; echo "$most" > "$outdir/quiet-max"; }
	if [ "$quiet" -ge "$silence" ]; then
		echo "$quiet" > "$outdir/silent"
		kill "$(cat "$outdir/qemu.pid" 2>/dev/null)" 2>/dev/null
		break
	fi
done
wait "$vm"
rc=$(cat "$outdir/qemu.rc" 2>/dev/null || echo 1)

fail() {
	echo "kmig-vm: FAIL ($kver): $*"
	exit 1
}

if grep -q "KMIG-RESULT: DONE" "$log"; then
	:
elif [ -f "$outdir/silent" ]; then
	fail "the VM printed nothing for $(cat "$outdir/silent")s (wedged); see $console"
elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	fail "timed out after ${limit}s"
else
	fail "the VM stopped without a verdict (crash or panic); see $console"
fi

# Real splat markers only: every boot with -cpu EPYC prints harmless
# mitigation "...: WARNING: See ..." lines. Lockdep's reports start with
# "WARNING:" right after the timestamp; KFENCE and KASAN name themselves.
splat='cut here|WARNING: CPU:|\] WARNING: |BUG:|Oops|KASAN:|KFENCE:|UBSAN:|possible circular locking|unreferenced object|Call Trace:|general protection fault|Kernel panic|blocked for more than'
if grep -Eq "$splat" "$console"; then
	grep -En -B2 -A25 "$splat" "$console" | head -80
	fail "kernel splat in $console"
fi
taint=$(sed -n 's/^KMIG-TAINT: //p' "$log" | tr -d '\r')
[ "$taint" = 0 ] || fail "kernel tainted ($taint)"
leaks=$(sed -n 's/^KMIG-KMEMLEAK: //p' "$log" | tr -d '\r')
[ -z "$leaks" ] || [ "$leaks" = 0 ] || fail "kmemleak reports $leaks leaks"
exit 0
