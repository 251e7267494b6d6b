#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the test VM (BENCH_KERNEL, default generic) once per part
# of the benchmark (selftests/vm/bench-guest.sh) and print one table. Every
# ratio compares figures measured in one boot; compare ratios, not absolute
# numbers (QEMU TCG). The table goes to stdout and to build/bench.md, with
# the date, the kernel and the command.
#
# A part whose VM fails (under TCG with nested SVM the VM can wedge during
# heavy KVM use, see Documentation/testing.rst) or whose runs fail is booted
# again, up to twice; the retry is announced in the table. BENCH_ARGS (kmig_bench's
# arguments) runs kmig_bench alone; BENCH_PART runs one part alone (parts,
# track: the KVM guest of bench-track, whole:MIB:BW:RATE or qemu:RATE), or
# BENCH_PART=qemu the stock QEMU table alone.
set -u
. "$(dirname "$0")/lib.sh"

flavour=${BENCH_KERNEL:-generic}
out=$BUILD/vm/bench
mkdir -p "$out"
vm_prepare "$flavour" "$out" 2>"$out/build.log" || { cat "$out/build.log"; exit 1; }

# part NAME KMIG_BENCH_PART [SECONDS]: boot once (up to three times) and
# print the part's lines; retries go to $notes, printed at the end. A wedged
# VM prints nothing more, so the limit is a few times what a part needs.
notes=$out/notes
: > "$notes"
part() {
	dir=$out/$1
	for attempt in 1 2 3; do
		KMIG_VM_SILENCE=${KMIG_VM_SILENCE:-${3:-900}} \
		KMIG_APPEND="KMIG_BENCH_PART=$2 KMIG_BENCH_ARGS=${BENCH_ARGS:+\"$BENCH_ARGS\"}" \
			"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$dir" bench "${3:-900}" \
			>/dev/null && grep -q "^# bench: exit 0" "$dir/output.log" && break
		if [ $attempt -lt 3 ]; then
			echo "# $1: the VM or a run failed (logs in $dir/*.failed$attempt); booted again" >> "$notes"
			for f in output console; do
				mv "$dir/$f.log" "$dir/$f.log.failed$attempt" 2>/dev/null
			done
		else
			echo "# $1: failed three times, see $dir" >> "$notes"
		fi
	done
	tr -d '\r' < "$dir/output.log" | sed -n '/^# bench: begin/,/^# bench: exit/p' |
		sed '1d;$d'
}

{
	echo "Measured $(date -u +%Y-%m-%d) on $(uname -n), $(nproc) host cpus; guest kernel $KVER"
	if [ -n "${BENCH_PART:-}" ] && [ "$BENCH_PART" != qemu ]; then
		part one "$BENCH_PART"
	elif [ -z "${BENCH_PART:-}" ]; then
		part parts parts
	fi
	if [ -z "${BENCH_ARGS:-}" ] && [ -z "${BENCH_PART:-}" ]; then
		# MIB:BW:RATES. Uncapped, 100,000 writes/s is left out: there
		# the baselines' KVM guests crash and take the VM's kernel with
		# them under nested SVM in TCG (Documentation/performance.rst).
		for cfg in 16:20000000:1000,10000,100000 64:0:1000,10000; do
			mib=${cfg%%:*} rest=${cfg#*:}
			bw=${rest%%:*} rates=$(echo "${rest#*:}" | tr , ' ')
			cap=uncapped
			[ "$bw" != 0 ] && cap="cap $((bw / 1000000)) MB/s"
			echo
			echo "## whole migration: $mib MiB KVM guest, $cap, downtime limit 50 ms, at most 10 pre-copy rounds then forced; medians of 3, one boot per dirty rate"
			echo
			echo "| writes/s | migrator | total ms min | median | max | downtime ms | rounds | kmig total / this (medians) | failed runs |"
			echo "|---|---|---|---|---|---|---|---|---|"
			for rate in $rates; do
				# the rows; each run's summary stays in the part's log
				part "whole-$mib-$bw-$rate" "whole:$mib:$bw:$rate" 400 |
					grep '^| '
			done
		done
	fi
	if [ -z "${BENCH_ARGS:-}" ] &&
	   { [ -z "${BENCH_PART:-}" ] || [ "$BENCH_PART" = qemu ]; }; then
		echo
		echo "## stock QEMU 7.2: a Linux guest (128 MiB, a 32 MiB buffer rewritten at RATE pages/s); QEMU's own migration against QEMU + kmig; means of 2, one boot per rate"
		echo
		echo "| pages/s | migrator | total ms | downtime ms | MB on the wire | source CPU ms | kmig total / this | did not complete |"
		echo "|---|---|---|---|---|---|---|---|"
		for rate in 1000 5000 20000; do
			part "qemu-$rate" "qemu:$rate" 900 | grep '^| '
		done
	fi
	[ -s "$notes" ] && { echo; cat "$notes"; }
} | tee "$BUILD/bench.md"
! grep -q "failed three times" "$BUILD/bench.md"
