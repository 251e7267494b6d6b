#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, inside the test VM: kmig_bench's tables (KMIG_BENCH_ARGS).
echo "# kmig bench: kernel $(uname -r), $(nproc) cpus under QEMU TCG"
cd /kselftest/kmig && . ./kmig_hosts.sh
# two hosts (namespaces and veth) for the veth stream and the migrations
hosts_up && netns="-n /proc/$HOST_A/ns/net:/proc/$HOST_B/ns/net"
echo "# command: kmig_bench $netns ${KMIG_BENCH_ARGS:--r 5}"
./kmig_bench ${netns:-} ${KMIG_BENCH_ARGS:--r 5}
rc=$?
# With KMIG_BENCH_ARGS (make bench BENCH_ARGS=...), only kmig_bench runs.
[ -n "${KMIG_BENCH_ARGS:-}" ] && { echo "# bench: exit $rc"; exit 0; }

# Tracking a real KVM guest: kmig against KVM's own dirty log.
if [ -c /dev/kvm ]; then
	kmig-vmm bench-track --mem 16 --run-for 2 || rc=1
else
	echo "# no /dev/kvm: the KVM comparison is skipped"
fi

# Whole migrations between two hosts (namespaces and veth): kmig against
# the baseline migrator (kmig-vmm --baseline: KVM dirty log and send()),
# same guest, same cap, same limits, at three dirty rates.
field() { # NAME FILE: a number from the JSON summary
	sed -n "s/.*\"event\":\"summary\",\"role\":\"source\".*\"$1\":\([0-9.]*\).*/\1/p" "$2"
}
if [ -c /dev/kvm ] && [ -n "$netns" ]; then
	lim="--downtime 50 --max-rounds 10 --policy force --bw 20000000"
	echo
	echo "## whole migration: 16 MiB guest, cap 20 MB/s, downtime limit 50 ms, at most 10 rounds then forced; medians of 3"
	echo
	echo "| writes/s | migrator | total ms | downtime ms | rounds | kmig total / this |"
	echo "|---|---|---|---|---|---|"
	for rate in 1000 10000 100000; do
		for who in kmig baseline; do
			opt=
			[ $who = baseline ] && opt=--baseline
			: > /tmp/bench.$who
			for i in 1 2 3; do
				on b timeout 60 kmig-vmm incoming --listen 7000 \
					--run-for 1 $opt >/tmp/bench.dst 2>&1 &
				dst=$!
				sleep 2
				on a timeout 60 kmig-vmm run --mem 16 --rate $rate \
					--after 1 --run-for 1 --json $lim $opt \
					--migrate-to 10.77.0.2:7000 >/tmp/bench.one 2>&1 || rc=1
				wait $dst
				grep '"summary"' /tmp/bench.one | sed "s/^/# $who $rate: /"
				echo "$(field total_ms /tmp/bench.one) $(field downtime_ms /tmp/bench.one) $(field rounds /tmp/bench.one)" >> /tmp/bench.$who
			done
		done
		kt=$(cut -d' ' -f1 /tmp/bench.kmig | sort -n | sed -n 2p)
		for who in kmig baseline; do
			t=$(cut -d' ' -f1 /tmp/bench.$who | sort -n | sed -n 2p)
			d=$(cut -d' ' -f2 /tmp/bench.$who | sort -n | sed -n 2p)
			r=$(cut -d' ' -f3 /tmp/bench.$who | sort -n | sed -n 2p)
			echo "| $rate | $who | $t | $d | $r | $(awk "BEGIN { if ($t > 0) printf \"%.2f\", $kt / $t }") |"
		done
	done
	hosts_down
fi
echo "# bench: exit $rc"
