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

case "${KMIG_BENCH_PART:-parts}" in
parts)
	parts
	;;
track)
	track
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
