#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Live migration of a running KVM guest between two hosts (network
# namespaces joined by veth), with kmig-vmm, the example VMM on libkmig's
# migration driver. The destination checks the guest's memory against the
# source's checksum and that the guest's counter moves on after resume.
# TAP output, one case per scenario.

ksft_skip=4
cd "$(dirname "$0")"
VMM=${KMIG_VMM:-/usr/bin/kmig-vmm}
. ./kmig_hosts.sh

if [ ! -c /dev/kvm ]; then
	echo "1..0 # SKIP /dev/kvm is absent: no KVM guest to migrate"
	exit $ksft_skip
fi
if [ ! -x "$VMM" ] || ! hosts_up; then
	echo "1..0 # SKIP kmig-vmm or the two hosts are unavailable"
	exit $ksft_skip
fi
trap hosts_down EXIT

n=0
fail=0
result() { # name status
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		fail=1
	fi
}

show() { sed 's/^/# /' "$@"; }

# migrate NAME SRC_OPTS DST_OPTS: run one migration, outputs in /tmp/NAME.*
migrate() {
	name=$1 src_opts=$2 dst_opts=$3
	on b timeout 120 "$VMM" incoming --listen 7000 --run-for 2 $dst_opts \
		>/tmp/$name.dst 2>/tmp/$name.dst.err &
	dst=$!
	on a timeout 120 "$VMM" run --mem 16 --after 1 --run-for 2 \
		--migrate-to 10.77.0.2:7000 $src_opts >/tmp/$name.src \
		2>/tmp/$name.src.err
	src_rc=$?
	wait $dst
	dst_rc=$?
	show /tmp/$name.src /tmp/$name.src.err /tmp/$name.dst /tmp/$name.dst.err
}

echo "TAP version 13"
echo "1..9"

# The demo: it moves, the memory matches, the counter continues.
migrate live "--rate 5000" ""
grep -q "matches the source" /tmp/live.dst &&
	grep -q "migration complete" /tmp/live.src
result live_migration_moves_running_guest $((src_rc + dst_rc + $?))

# --json: every line on stdout is one JSON object, with progress events,
# the summary, and the destination's checks.
json_lines() { # FILE: only {...} lines, and a summary among them
	! grep -qv '^{.*}$' "$1" && grep -q '^{"event":"summary",' "$1"
}
migrate json "--rate 2000 --json" "--json"
json_lines /tmp/json.src && json_lines /tmp/json.dst &&
	grep -q '^{"event":"progress","round":1,' /tmp/json.src &&
	grep -q '"event":"summary","role":"source","status":0,.*"version":2,' /tmp/json.src &&
	grep -q '"downtime_ms":[0-9]' /tmp/json.src &&
	grep -q '"event":"loaded",.*"checksum_match":true' /tmp/json.dst &&
	grep -q '"event":"summary","role":"destination","status":0,' /tmp/json.dst &&
	grep -q '^{"event":"counter","value":[0-9]' /tmp/json.dst
result json_progress_and_summary $((src_rc + dst_rc + $?))

# Forward (old source) and backward (old destination): the oldest wins.
migrate forward "--proto-max 1" ""
grep -q "protocol version:  1" /tmp/forward.src
result forward_migration_old_to_new $((src_rc + dst_rc + $?))
migrate backward "" "--proto-max 1"
grep -q "protocol version:  1" /tmp/backward.src
result backward_migration_new_to_old $((src_rc + dst_rc + $?))

# Disjoint windows: refused with the reason on both sides; the source
# guest keeps running.
migrate disjoint "--proto-max 1" "--proto-min 2"
[ $src_rc != 0 ] && [ $dst_rc != 0 ] &&
	grep -q "protocol" /tmp/disjoint.src && grep -q "protocol" /tmp/disjoint.dst &&
	grep -q "keeps running" /tmp/disjoint.src
result disjoint_windows_refused_source_runs_on $?

# A guest dirtying faster than the cap: bounded, then fail or force.
migrate nofit_fail "--rate 0 --bw 4000000 --max-rounds 3 --downtime 1" ""
[ $src_rc != 0 ] && grep -q "did not converge" /tmp/nofit_fail.src &&
	grep -q "keeps running" /tmp/nofit_fail.src
result not_converging_policy_fail $?
migrate nofit_force "--rate 0 --bw 4000000 --max-rounds 3 --downtime 1 --policy force" ""
grep -q "switched over without converging" /tmp/nofit_force.src &&
	grep -q "matches the source" /tmp/nofit_force.dst
result not_converging_policy_force $((src_rc + dst_rc + $?))

# spawn HOST PIDFILE LOG CMD...: run CMD on HOST in the background; its pid
# (timeout and nsenter exec, so it is the VMM's) goes to PIDFILE.
spawn() {
	host=$1 pidfile=$2 log=$3
	shift 3
	rm -f "$pidfile"
	on "$host" sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" \
		>"$log" 2>&1 &
	while [ ! -s "$pidfile" ]; do sleep 0.1; done
}

# The destination dies mid-migration: the source runs on, a retry works.
on b timeout 60 "$VMM" incoming --listen 7000 --crash-after-round 1 \
	>/tmp/kill_dst.dst1 2>&1 &
dst=$!
on a timeout 120 "$VMM" run --mem 16 --rate 2000 --after 1 --run-for 1 \
	--retry 3 --migrate-to 10.77.0.2:7000 >/tmp/kill_dst.src 2>&1 &
src=$!
wait $dst
on b timeout 60 "$VMM" incoming --listen 7000 --run-for 1 \
	>/tmp/kill_dst.dst2 2>&1
dst_rc=$?
wait $src
src_rc=$?
show /tmp/kill_dst.dst1 /tmp/kill_dst.src /tmp/kill_dst.dst2
grep -q "crashing on purpose" /tmp/kill_dst.dst1 &&
	grep -q "keeps running" /tmp/kill_dst.src &&
	grep -q "matches the source" /tmp/kill_dst.dst2
result destination_killed_source_runs_on_retry_succeeds $((src_rc + dst_rc + $?))

# The source dies mid-migration: the destination discards and reports.
on b timeout 60 "$VMM" incoming --listen 7000 >/tmp/kill_src.dst 2>&1 &
dst=$!
on a timeout 60 "$VMM" run --mem 16 --rate 0 --after 1 --bw 4000000 \
	--crash-after-round 1 --migrate-to 10.77.0.2:7000 \
	>/tmp/kill_src.src 2>&1
wait $dst
dst_rc=$?
show /tmp/kill_src.src /tmp/kill_src.dst
[ $dst_rc != 0 ] && grep -q "crashing on purpose" /tmp/kill_src.src &&
	grep -q "incomplete stream, the guest is discarded" /tmp/kill_src.dst &&
	! grep -q "guest counter" /tmp/kill_src.dst
result source_killed_destination_discards $?

exit $fail
