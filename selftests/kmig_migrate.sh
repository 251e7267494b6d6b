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
# The source's demo guest has, rarely, died on its first instructions with
# an unexpected KVM exit, before any migration step (nested KVM under TCG,
# Documentation/testing.rst): that attempt, and only that, is made again.
migrate() {
	name=$1 src_opts=$2 dst_opts=$3
	for attempt in 1 2; do
		migrate_once
		grep -q "unexpected exit" /tmp/$name.src.err &&
			! grep -q "handshake" /tmp/$name.src || break
		echo "# $name: the demo guest crashed before migrating; once more"
	done
}

migrate_once() {
	on b timeout 120 "$VMM" incoming --listen 7000 --run-for 2 \
		--accept-timeout 30000 $dst_opts \
		>/tmp/$name.dst 2>/tmp/$name.dst.err &
	dst=$!
	on a timeout 120 "$VMM" run --mem 16 --after 1 --run-for 2 \
		--migrate-to 10.77.0.2:7000 $src_opts >/tmp/$name.src \
		2>/tmp/$name.src.err
	src_rc=$?
	# a source that died before it connected leaves the destination
	# waiting until --accept-timeout
	wait $dst
	dst_rc=$?
	show /tmp/$name.src /tmp/$name.src.err /tmp/$name.dst /tmp/$name.dst.err
}

echo "TAP version 13"
echo "1..17"

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

# The switch-over's commit protocol (Documentation/handshake.rst,
# "Switch-over"): READY, GO, ACK. KMIG_TEST_SWITCHOVER makes one side lose
# a message (a lost message, or a partition from that step on) or resume
# late. A side whose outcome is unknown keeps its guest paused and waits for
# the operator: SIGUSR2 resumes it there, SIGTERM discards it.

# await FILE PATTERN PID: until FILE has PATTERN or PID is gone (bounded)
await() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null && kill -0 "$3" 2>/dev/null &&
	      [ $i -lt 600 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	grep -q "$2" "$1" 2>/dev/null
}

# switchover NAME SRC_FAULT DST_FAULT: start both VMMs with the faults and a
# 1.5 s confirmation timeout; their pids are $src_pid and $dst_pid.
switchover() {
	name=$1
	spawn b /tmp/$name.dst.pid /tmp/$name.dst env KMIG_TEST_SWITCHOVER="$3" \
		timeout 120 "$VMM" incoming --listen 7000 --run-for 2 \
		--confirm-timeout 1500 --json
	dst_pid=$(cat /tmp/$name.dst.pid)
	spawn a /tmp/$name.src.pid /tmp/$name.src env KMIG_TEST_SWITCHOVER="$2" \
		timeout 120 "$VMM" run --mem 16 --rate 2000 --after 1 --run-for 2 \
		--confirm-timeout 1500 --migrate-to 10.77.0.2:7000 --json
	src_pid=$(cat /tmp/$name.src.pid)
}

# finish NAME: wait for both (killed or done), show their output
finish() {
	while kill -0 "$src_pid" 2>/dev/null || kill -0 "$dst_pid" 2>/dev/null; do
		sleep 0.2
	done
	show /tmp/$1.src /tmp/$1.dst
}

counters_after() { # FILE PATTERN: counter events after the line with PATTERN
	sed -n "/$2/,\$p" "$1" | grep -c '"event":"counter"'
}

# The destination resumes later than the source waits for its ACK: the
# source must not resume (both guests would run): outcome unknown, paused.
# The operator finds the guest running on the destination and stops the
# source.
switchover late_resume "" "delay-resume=4000"
await /tmp/late_resume.src "outcome unknown" $src_pid
unknown=$?
await /tmp/late_resume.dst '"event":"counter"' $dst_pid
runs=$?
kill -TERM $src_pid 2>/dev/null
finish late_resume
[ $unknown = 0 ] && [ $runs = 0 ] &&
	! grep -q "keeps running here\|resumed here" /tmp/late_resume.src &&
	[ "$(counters_after /tmp/late_resume.src 'outcome unknown')" = 0 ]
result late_resume_no_split_brain $?

# READY lost: the source never sent GO, so it aborts and resumes; the
# destination, READY sent and no GO, keeps its guest paused (unknown).
switchover lost_ready "" drop-ready
await /tmp/lost_ready.dst "outcome unknown" $dst_pid
unknown=$?
await /tmp/lost_ready.src "keeps running here" $src_pid
resumed=$?
kill -TERM $dst_pid 2>/dev/null
finish lost_ready
[ $unknown = 0 ] && [ $resumed = 0 ] &&
	grep -q "did not say it is ready" /tmp/lost_ready.src &&
	! grep -q '"event":"counter"' /tmp/lost_ready.dst
result lost_ready_source_resumes_destination_waits $?

# GO lost: both sides report the outcome unknown, neither resumes. Both
# unknown means the destination never got GO: the operator resumes the
# source and discards the destination.
switchover lost_go drop-go ""
await /tmp/lost_go.src "outcome unknown" $src_pid
src_unknown=$?
await /tmp/lost_go.dst "outcome unknown" $dst_pid
dst_unknown=$?
paused=$(counters_after /tmp/lost_go.src 'outcome unknown')
kill -USR2 $src_pid 2>/dev/null
await /tmp/lost_go.src "resumed here by the operator" $src_pid
kill -TERM $dst_pid 2>/dev/null
finish lost_go
[ $src_unknown = 0 ] && [ $dst_unknown = 0 ] && [ "$paused" = 0 ] &&
	! grep -q '"event":"counter"' /tmp/lost_go.dst &&
	[ "$(counters_after /tmp/lost_go.src 'resumed here by the operator')" -gt 0 ]
result lost_go_both_unknown_operator_resumes_source $?

# ACK lost: the destination runs the guest; the source, GO sent and no ACK,
# stays paused (unknown). The operator stops the source.
switchover lost_ack "" drop-ack
await /tmp/lost_ack.src "outcome unknown" $src_pid
unknown=$?
await /tmp/lost_ack.dst '"event":"counter"' $dst_pid
runs=$?
kill -TERM $src_pid 2>/dev/null
finish lost_ack
[ $unknown = 0 ] && [ $runs = 0 ] &&
	[ "$(counters_after /tmp/lost_ack.src 'outcome unknown')" = 0 ]
result lost_ack_destination_runs_source_paused $?

# Stream timeouts (--io-timeout): a peer that stops reading, a peer that
# stops sending (SIGSTOP mid-stream). The stalled side's partner fails with
# a timeout within the limit: a source resumes its guest, a destination
# discards its own.
# stall NAME a|b: a migration with --io-timeout 2000 whose host a (the
# source) or b (the destination) is stopped once the handshake passed
stall() {
	spawn b /tmp/$1.dst.pid /tmp/$1.dst timeout 120 "$VMM" incoming \
		--listen 7000 --io-timeout 2000 --json
	dst_pid=$(cat /tmp/$1.dst.pid)
	spawn a /tmp/$1.src.pid /tmp/$1.src timeout 120 "$VMM" run --mem 16 \
		--rate 0 --bw 4000000 --after 1 --run-for 1 --io-timeout 2000 \
		--migrate-to 10.77.0.2:7000 --json
	src_pid=$(cat /tmp/$1.src.pid)
	await /tmp/$1.dst "passed the handshake" $dst_pid
	[ "$2" = a ] && stopped=$src_pid || stopped=$dst_pid
	kill -STOP $stopped
}

stall stall_rd b
await /tmp/stall_rd.src "keeps running here" $src_pid
resumed=$?
kill -CONT $stopped
kill -TERM $stopped
finish stall_rd
[ $resumed = 0 ] && grep -q "timed out" /tmp/stall_rd.src
result peer_stops_reading_source_times_out_and_runs_on $?

stall stall_wr a
await /tmp/stall_wr.dst "guest is discarded" $dst_pid
discarded=$?
kill -CONT $stopped
kill -TERM $stopped
finish stall_wr
[ $discarded = 0 ] && grep -q "timed out" /tmp/stall_wr.dst &&
	! grep -q '"event":"counter"' /tmp/stall_wr.dst
result peer_stops_sending_destination_times_out_and_discards $?

# Against a libkmig before the commit protocol (--legacy-confirm), either
# way round: the old confirmation, and the migration completes.
migrate legacy_dst "" "--legacy-confirm"
grep -q "matches the source" /tmp/legacy_dst.dst &&
	grep -q "migration complete" /tmp/legacy_dst.src &&
	grep -q "capabilities:.*blobs" /tmp/legacy_dst.src &&
	! grep -q "capabilities:.*commit" /tmp/legacy_dst.src
result commit_new_source_old_destination $((src_rc + dst_rc + $?))
migrate legacy_src "--legacy-confirm" ""
grep -q "matches the source" /tmp/legacy_src.dst &&
	grep -q "migration complete" /tmp/legacy_src.src
result commit_old_source_new_destination $((src_rc + dst_rc + $?))

exit $fail
