#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, inside the test VM: one part of the benchmark per boot
# (selftests/vm/bench.sh picks it with KMIG_BENCH_PART):
#
#   parts (default)         kmig_bench's tables (KMIG_BENCH_ARGS), then a
#                           real KVM guest under kmig's tracking, KVM's dirty
#                           log and soft-dirty (kmig-vmm bench-track)
#   track                   only the real KVM guest of parts (bench-track)
#   qemu:RATE               stock QEMU's Linux guest writing RATE pages/s
#                           of a 32 MiB buffer: QEMU's own migration (plain,
#                           multifd with 4 channels) against QEMU + kmig
#                           (kmigctl qemu), 2 passes each, interleaved
#   whole:MIB:BW:RATE       whole migrations of a MIB MiB KVM guest writing
#                           RATE pages/s, capped at BW bytes/s (0: uncapped):
#                           kmig against the two baseline migrators
#                           (kmig-vmm --baseline=kvm|softdirty), 3 passes
#                           each, interleaved; prints the table's rows
#
# The last line is "# bench: exit N"; N is 0 only if every run worked.
cd /kselftest/kmig && . ./kmig_hosts.sh
echo "# bench: begin"
rc=0
# two hosts (namespaces and veth) for the veth stream and the migrations
hosts_up && netns="-n /proc/$HOST_A/ns/net:/proc/$HOST_B/ns/net"

parts() {
	echo "# kmig bench: kernel $(uname -r), $(nproc) cpus under QEMU TCG"
	echo "# command: kmig_bench $netns ${KMIG_BENCH_ARGS:--r 9 -m 64}"
	./kmig_bench ${netns:-} ${KMIG_BENCH_ARGS:--r 9 -m 64} || rc=1
	# With KMIG_BENCH_ARGS (make bench BENCH_ARGS=...), only kmig_bench.
	[ -n "${KMIG_BENCH_ARGS:-}" ] && return
	track
}

track() {
	if [ -c /dev/kvm ]; then
		kmig-vmm bench-track --mem 16 --run-for 2 || rc=1
	else
		echo "# no /dev/kvm: the KVM comparison is skipped"
	fi
}

field() { # NAME FILE: a number from the JSON summary
	sed -n "s/.*\"event\":\"summary\",\"role\":\"source\".*\"$1\":\([0-9.]*\).*/\1/p" "$2"
}
median() { # COLUMN FILE: of three
	cut -d' ' -f"$1" "$2" | sort -n | sed -n 2p
}
spread() { # COLUMN FILE: "min | max"
	cut -d' ' -f"$1" "$2" | sort -n | sed -n '1h;$!d;x;G;s/\n/ | /p'
}
ratio() { # A B: A / B, or - without a B
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'
}

# run_one WHO MIB BW RATE: one migration; its summary line goes to
# /tmp/bench.WHO, and 0 means it worked.
run_one() {
	opt=
	[ "$1" != kmig ] && opt=--baseline=$1
	lim="--downtime 50 --max-rounds 10 --policy force"
	[ "$3" != 0 ] && lim="$lim --bw $3"
	# the destination's guest exists before the migration
	on b timeout 120 kmig-vmm incoming --listen 7000 \
		--mem "$2" --run-for 1 $opt >/tmp/bench.dst 2>&1 &
	dst=$!
	sleep 2
	on a timeout 120 kmig-vmm run --mem "$2" --rate "$4" \
		--after 1 --run-for 1 --json $lim $opt \
		--migrate-to 10.77.0.2:7000 >/tmp/bench.one 2>&1
	ok=$?
	wait $dst || ok=1
	[ $ok = 0 ] || return 1
	grep '"summary"' /tmp/bench.one | sed "s/^/# $1 $4: /"
	echo "$(field total_ms /tmp/bench.one) $(field downtime_ms /tmp/bench.one) $(field rounds /tmp/bench.one)" >> /tmp/bench.$1
}

# whole MIB BW RATE: same guest, same cap, same limits for every migrator,
# three passes each, interleaved. A run that fails is run again (up to
# twice more) and counted: under nested SVM in TCG the baseline's KVM guest
# sometimes crashes at high dirty rates (see Documentation/performance.rst).
whole() {
	for who in kmig kvm softdirty; do
		: > /tmp/bench.$who
		: > /tmp/bench.$who.failed
	done
	for i in 1 2 3; do
		for who in kmig kvm softdirty; do
			n=0
			until run_one $who "$1" "$2" "$3"; do
				why=$(grep -h -m1 -E 'unexpected exit|FAILED|failed|incomplete|differs' \
					/tmp/bench.one /tmp/bench.dst | head -n 1)
				echo "# failed: $who $3 pass $i: ${why:-no summary}"
				echo x >> /tmp/bench.$who.failed
				n=$((n + 1))
				[ $n -lt 3 ] || { rc=1; break; }
			done
		done
	done
	kt=$(median 1 /tmp/bench.kmig)
	for who in kmig kvm softdirty; do
		t=$(median 1 /tmp/bench.$who)
		name=$who
		[ $who = kvm ] && name="baseline, KVM dirty log"
		[ $who = softdirty ] && name="baseline, soft-dirty"
		set -- "$1" "$2" "$3" $(spread 1 /tmp/bench.$who | tr -d '|')
		echo "| $3 | $name | $4 | $t | $5 | $(median 2 /tmp/bench.$who) | $(median 3 /tmp/bench.$who) | $(ratio "$kt" "$t") | $(wc -l < /tmp/bench.$who.failed) |"
	done
}

# --- stock QEMU (Documentation/qemu.rst) -------------------------------
qmp() { # HOST NAME COMMAND [ARGS]: one QMP command, its return on stdout
	qh=$1 qn=$2
	shift 2
	kmigctl qemu qmp --qmp /tmp/$qn.$qh.qmp "$@"
}
jnum() { # KEY: the first number of that key in the JSON on stdin
	sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" | head -n 1
}
# CPU time (ms) of QEMU outside its vCPU threads: its migration threads,
# main loop and I/O (clock ticks of 10 ms).
qemu_cpu() { # HOST NAME
	qp=$(cat /tmp/$2.$1.pid)
	all=$(awk '{ print $14 + $15 }' /proc/$qp/stat)
	vcpu=0
	for t in /proc/$qp/task/*; do
		case "$(cat $t/comm)" in
		CPU*) vcpu=$((vcpu + $(awk '{ print $14 + $15 }' $t/stat))) ;;
		esac
	done
	echo $(((all - vcpu) * 10))
}
wait_guest() { # HOST NAME: the guest printed its first passes
	for i in $(seq 1 120); do
		[ "$(last_pass $2 $1)" -ge 5 ] && return 0
		sleep 1
	done
	return 1
}

# qemu_run WHO RATE: one migration of a fresh guest; prints
# "total_ms downtime_ms bytes cpu_ms rounds" or returns 1 (did not
# complete). Rounds are QEMU's dirty-sync-count or kmig's rounds.
qemu_run() {
	n=bq
	rm -f /tmp/$n.*	# the results are in /tmp/bqr.*
	if [ $1 = kmig ]; then
		qemu_start a $n $2 32 /tmp/kfs-a
		qemu_start b $n $2 32 /tmp/kfs-b -incoming defer
	else
		qemu_start a $n $2 32 ""
		qemu_start b $n $2 32 "" -incoming defer
	fi
	wait_guest a $n || { qemu_kill a $n; qemu_kill b $n; return 1; }
	sleep 1
	# Downtime, for every migrator alike: QEMU's STOP event on the source
	# to its RESUME event on the destination (one clock in this VM).
	kmigctl qemu qmp --qmp /tmp/$n.a.ev --wait-event STOP >/tmp/$n.stop 2>&1 &
	w1=$!
	kmigctl qemu qmp --qmp /tmp/$n.b.ev --wait-event RESUME >/tmp/$n.resume 2>&1 &
	w2=$!
	sleep 0.5
	cpu0=$(qemu_cpu a $n)
	ok=0
	if [ $1 = kmig ]; then
		on b timeout 200 kmigctl qemu receive --qmp /tmp/$n.b.qmp --vm-id bq \
			--listen 7300 --qemu-incoming tcp:0.0.0.0:4444 --json \
			--accept-timeout 30000 >/tmp/$n.dst 2>&1 &
		dst=$!
		sleep 1
		on a timeout 200 kmigctl qemu send --qmp /tmp/$n.a.qmp --vm-id bq \
			--to 10.77.0.2:7300 --qemu-uri tcp:10.77.0.2:4444 --json \
			--max-time 60000 --max-rounds 1000 >/tmp/$n.src 2>&1 || ok=1
		wait $dst || ok=1
		sum=$(grep '"summary"' /tmp/$n.src)
		total=$(echo "$sum" | jnum total_ms)
		rounds=$(echo "$sum" | jnum rounds)
		echo "# kmig's switch-over, ms: $(echo "$sum" | sed -n 's/.*"parked_ms":\([0-9.]*\),"final_ms":\([0-9.]*\),"device_ms":\([0-9.]*\),"commit_ms":\([0-9.]*\).*/parked \1, final round to READY \2, device state \3, GO to ACK \4/p')" >&2
		bytes=$(($(echo "$sum" | jnum bytes) + $(echo "$sum" | jnum qemu_bytes)))
		cpu=$(awk -v a="$(echo "$sum" | jnum cpu_ms)" -v q=$(($(qemu_cpu a $n) - cpu0)) \
			'BEGIN { printf "%d", a + q }')
	else
		caps='{"capabilities":[{"capability":"events","state":true}]}'
		[ $1 = multifd ] &&
			caps='{"capabilities":[{"capability":"events","state":true},{"capability":"multifd","state":true}]}'
		# same limits as kmig's defaults: 300 ms downtime, no bandwidth cap
		prm='{"downtime-limit":300,"max-bandwidth":10000000000,"multifd-channels":4}'
		for h in a b; do
			qmp $h $n migrate-set-capabilities "$caps" >/dev/null &&
			qmp $h $n migrate-set-parameters "$prm" >/dev/null || ok=1
		done
		qmp b $n migrate-incoming '{"uri":"tcp:0.0.0.0:4444"}' >/dev/null || ok=1
		qmp a $n migrate '{"uri":"tcp:10.77.0.2:4444"}' >/dev/null || ok=1
		st=
		for i in $(seq 1 300); do
			qmp a $n query-migrate > /tmp/$n.q
			st=$(sed -n 's/.*"status":"\([a-z-]*\)".*/\1/p' /tmp/$n.q)
			case $st in completed|failed|cancelled) break ;; esac
			[ $i = 300 ] && qmp a $n migrate_cancel >/dev/null
			sleep 0.2
		done
		[ "$st" = completed ] || ok=1
		# QEMU 7.2 can say "completed" before it has filled in the times
		sleep 0.3
		qmp a $n query-migrate > /tmp/$n.q
		total=$(jnum total-time < /tmp/$n.q)
		rounds=$(sed 's/.*"ram":{//' /tmp/$n.q | jnum dirty-sync-count)
		bytes=$(sed 's/.*"ram":{//' /tmp/$n.q | jnum transferred)
		# QEMU has reported a total-time of 0 for a completed migration:
		# such a run has no figure, it counts as not completed
		[ "${total:-0}" != 0 ] ||
			{ echo "# $1: no total-time in $(cut -c1-300 /tmp/$n.q)" >&2; ok=1; }
		cpu=$(($(qemu_cpu a $n) - cpu0))
	fi
	# the guest goes on at the destination, its self-check passing
	last=$(last_pass $n a)
	for i in $(seq 1 60); do
		[ "$(last_pass $n b)" -gt "$last" ] && break
		sleep 1
	done
	[ "$(last_pass $n b)" -gt "$last" ] && ! grep -q FAILED /tmp/$n.b.serial || ok=1
	wait $w1 $w2
	down=$(awk -v a="$(cat /tmp/$n.stop)" -v b="$(cat /tmp/$n.resume)" \
		'BEGIN { if (a > 0 && b > a) printf "%.1f", (b - a) / 1000; else print "-" }')
	qemu_kill a $n
	qemu_kill b $n
	sleep 1
	[ $ok = 0 ] || return 1
	echo "$total $down $bytes $cpu $rounds"
}

# qemu_part RATE: two passes of each, interleaved; one row per migrator
# with the medians (of two: the mean) and the runs that did not complete.
qemu_part() {
	mkdir -p /tmp/kfs-a /tmp/kfs-b
	mount -t kmig -o large none /tmp/kfs-a &&
		mount -t kmig -o large none /tmp/kfs-b || { rc=1; return; }
	echo "# QEMU's guests run under $accel_how"
	for who in qemu multifd kmig; do
		: > /tmp/bqr.res.$who
		: > /tmp/bqr.fail.$who
	done
	for i in 1 2; do
		for who in qemu multifd kmig; do
			if r=$(qemu_run $who "$1"); then
				echo "# $who $1 pass $i: $r"
				echo "$r" >> /tmp/bqr.res.$who
			else
				echo "# $who $1 pass $i: did not complete"
				echo x >> /tmp/bqr.fail.$who
			fi
		done
	done
	kt=$(awk '{ s += $1 } END { if (NR) printf "%d", s / NR }' /tmp/bqr.res.kmig)
	for who in qemu multifd kmig; do
		name=$who
		[ $who = qemu ] && name="QEMU, plain"
		[ $who = multifd ] && name="QEMU, multifd x4"
		[ $who = kmig ] && name="QEMU + kmig"
		awk -v rate="$1" -v name="$name" -v kt="$kt" -v failed="$(wc -l < /tmp/bqr.fail.$who)" '
			{ t += $1; d += $2; b += $3; c += $4 }
			END {
				if (!NR) { printf "| %s | %s | - | - | - | - | - | %d |\n", rate, name, failed; exit }
				printf "| %s | %s | %d | %.0f | %.1f | %d | %.2f | %d |\n", rate, name,
					t / NR, d / NR, b / NR / 1e6, c / NR, kt / (t / NR), failed
			}' /tmp/bqr.res.$who
	done
	umount /tmp/kfs-a /tmp/kfs-b
}

case "${KMIG_BENCH_PART:-parts}" in
parts)
	parts
	;;
track)
	track
	;;
qemu:*)
	if [ -n "${netns:-}" ] && [ -f /qemu-guest/vmlinuz ]; then
		. ./kmig_qemu_lib.sh
		qemu_part "${KMIG_BENCH_PART#qemu:}"
	else
		echo "# the QEMU part needs two hosts and the VM's QEMU"
		rc=1
	fi
	;;
whole:*)
	if [ -c /dev/kvm ] && [ -n "${netns:-}" ]; then
		IFS=: read -r _ mib bw rate <<-EOT
		$KMIG_BENCH_PART
		EOT
		whole "$mib" "$bw" "$rate"
	else
		echo "# whole migration needs /dev/kvm and two hosts"
		rc=1
	fi
	;;
*)
	echo "# unknown KMIG_BENCH_PART=$KMIG_BENCH_PART"
	rc=1
	;;
esac
hosts_down
echo "# bench: exit $rc"
