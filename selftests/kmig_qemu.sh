#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Stock QEMU (Debian's qemu-system-x86 7.2) migrates a running Linux guest
# between two hosts (network namespaces joined by veth) while kmig carries
# its RAM: each QEMU keeps guest RAM on a file of its host's kmig file
# system, "kmigctl qemu send/receive" are the agents (Documentation/qemu.rst).
# The guest (Debian's 6.1 kernel, busybox, selftests/vm/guest-load.c) keeps
# rewriting a buffer and checks it before each pass.
# TAP output, one case per scenario.

ksft_skip=4
cd "$(dirname "$0")"
# The installed, dynamically linked kmigctl (with json-c), as operators run it.
KMIGCTL=${KMIGCTL:-/usr/sbin/kmigctl}
. ./kmig_hosts.sh
. ./kmig_qemu_lib.sh

skip() {
	echo "1..0 # SKIP $1"
	exit $ksft_skip
}
[ -x "$QEMU" ] && [ -f $GUEST/vmlinuz ] || skip "no QEMU or guest kernel in this root (selftests/vm/qemu-root.sh)"
grep -qw kmig /proc/filesystems || skip "the kmig file system is not registered"
hosts_up || skip "cannot build two hosts (veth, unshare)"

echo "# QEMU guests run under $accel_how"

mkdir -p /tmp/kfs-a /tmp/kfs-b
# host a's files in 64 KiB folios, host b's in single pages: both kinds,
# and a migration between them
mount -t kmig -o mode=0700,large none /tmp/kfs-a && mount -t kmig none /tmp/kfs-b ||
	skip "cannot mount the kmig file system"
cleanup() {
	for p in $(cat /tmp/kq.pids /tmp/qemu_*.pid 2>/dev/null); do
		kill -9 "$p" 2>/dev/null
	done
	sleep 1
	umount /tmp/kfs-a /tmp/kfs-b
	hosts_down
}
trap cleanup EXIT
: > /tmp/kq.pids

n=0
fail=0
uptime() { cut -d. -f1 /proc/uptime; }
t0=$(uptime)
result() { # name status
	echo "# $1: $(($(uptime) - t0)) s"
	t0=$(uptime)
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		fail=1
	fi
}
show() { [ -f "$1" ] && sed 's/^/# /' "$1"; }
bad() { echo "# $1: $2"; ok=1; }

RAM_BYTES=$((128 << 20))

# qemu HOST NAME LOAD MIB [ARGS...]: QEMU with its RAM on this host's kmig
# file system, /tmp/kfs-HOST/NAME (kmig_qemu_lib.sh)
qemu() {
	qh=$1 qn=$2 ql=$3 qm=$4
	shift 4
	qemu_start $qh $qn $ql $qm /tmp/kfs-$qh "$@"
	echo $! >> /tmp/kq.pids
}

# wait_passes NAME HOST ABOVE N: until the guest printed N passes above
# ABOVE, or failed, or 180 s. Progress every 20 s.
wait_passes() {
	for i in $(seq 1 180); do
		grep -q FAILED /tmp/$1.$2.serial 2>/dev/null && return 1
		[ "$(last_pass $1 $2)" -ge $(($3 + $4)) ] && return 0
		[ $((i % 20)) = 0 ] && echo "# $1: waiting for the guest on $2 ($(last_pass $1 $2) passes)"
		sleep 1
	done
	return 1
}

# json FILE EVENT KEY: a value from the agent's --json output
json() {
	grep "\"event\":\"$2\"" "$1" | tail -1 |
		sed -n "s/.*\"$3\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# migrate NAME LOAD MIB SRC_OPTS DST_OPTS [SRC_ENV]: boot the source guest,
# start the destination QEMU waiting, run both agents (finish waits for
# them and sets src_rc, dst_rc).
migrate() {
	name=$1 load=$2 mib=$3 src_opts=$4 dst_opts=$5 src_env=$6
	qemu a $name $load $mib
	qemu b $name $load $mib -incoming defer
	if ! wait_passes $name a 0 3; then
		echo "# $name: the source guest did not start"
		show /tmp/$name.a.serial
		show /tmp/$name.a.err
	fi
	timeout 300 nsenter -t "$HOST_B" -n $KMIGCTL qemu receive \
		--qmp /tmp/$name.b.qmp --listen 7300 --vm-id $name \
		--qemu-incoming tcp:0.0.0.0:4444 --accept-timeout 60000 --json \
		$dst_opts >/tmp/$name.dst 2>&1 &
	dst=$!
	echo $dst >> /tmp/kq.pids
	sleep 1
	env $src_env timeout 300 nsenter -t "$HOST_A" -n $KMIGCTL qemu send \
		--qmp /tmp/$name.a.qmp \
		--to 10.77.0.2:7300 --qemu-uri tcp:10.77.0.2:4444 --vm-id $name \
		--json $src_opts >/tmp/$name.src 2>&1 &
	src=$!
	echo $src >> /tmp/kq.pids
}

finish() {
	wait $src
	src_rc=$?
	wait $dst
	dst_rc=$?
}

# After a failed migration the destination agent may go on listening for
# another source (up to --accept-timeout): give it 5 s, then stop it.
finish_failed() {
	wait $src
	src_rc=$?
	for i in $(seq 1 10); do
		kill -0 $dst 2>/dev/null || break
		sleep 0.5
	done
	kill $dst 2>/dev/null
	wait $dst
	dst_rc=$?
}

stop_qemus() {
	qemu_kill a $1
	qemu_kill b $1
	for i in $(seq 1 20); do
		kill -0 $qemu_a 2>/dev/null || kill -0 $qemu_b 2>/dev/null || break
		sleep 0.5
	done
	qemu_kill a $1 KILL
	qemu_kill b $1 KILL
	wait $qemu_a $qemu_b 2>/dev/null
	rm -f /tmp/kfs-a/$1 /tmp/kfs-b/$1
}

details() {
	echo "# --- source agent"; show /tmp/$1.src
	echo "# --- destination agent"; show /tmp/$1.dst
	echo "# --- source guest (tail)"; tail -3 /tmp/$1.a.serial | sed 's/^/# /'
	echo "# --- destination guest (tail)"; tail -3 /tmp/$1.b.serial 2>/dev/null | sed 's/^/# /'
	show /tmp/$1.a.err
	show /tmp/$1.b.err
}

# A successful migration: QEMU moved under 1% of the RAM, the source ends
# in postmigrate, the guest goes on at the destination with its self-check
# passing. With "hold", also memory identical at the switch-over: the source
# agent holds after READY, before migrate-continue, so that both QEMUs are
# stopped and the destination's has not loaded device state (which patches
# guest code: kvmvapic); the downtime then includes the comparison.
good_migration() { # NAME LOAD MIB SRC_OPTS [hold]
	name=$1
	ok=0
	if [ "$5" = hold ]; then
		migrate $1 $2 $3 "$4" "" "KMIG_TEST_QEMU_HOLD=/tmp/$1.hold"
		for i in $(seq 1 300); do
			[ -f /tmp/$name.hold.held ] && break
			kill -0 $src 2>/dev/null || break
			sleep 1
		done
		if [ -f /tmp/$name.hold.held ]; then
			cmp /tmp/kfs-a/$name /tmp/kfs-b/$name >/tmp/$name.cmp 2>&1 ||
				bad $name "guest RAM differs at the switch-over: $(cat /tmp/$name.cmp)"
		else
			bad $name "the source never reached the switch-over"
		fi
		touch /tmp/$name.hold.go
	else
		migrate $1 $2 $3 "$4" ""
	fi
	finish
	src_last=$(last_pass $name a)
	[ $src_rc = 0 ] || bad $name "source agent exit $src_rc"
	[ $dst_rc = 0 ] || bad $name "destination agent exit $dst_rc"
	qb=$(json /tmp/$name.src summary qemu_bytes)
	[ -n "$qb" ] && [ "$qb" -lt $((RAM_BYTES / 100)) ] ||
		bad $name "QEMU moved ${qb:-?} bytes of RAM, not under 1% of $RAM_BYTES"
	st=$(json /tmp/$name.src summary qemu_status)
	[ "$st" = postmigrate ] || bad $name "the source QEMU is '$st', not postmigrate"
	wait_passes $name b "$src_last" 3 ||
		bad $name "the guest did not go on at the destination (source pass $src_last, destination $(last_pass $name b))"
	grep -q FAILED /tmp/$name.b.serial && bad $name "the guest's self-check failed"
	grep -i warning /tmp/$name.a.err /tmp/$name.b.err && bad $name "QEMU warned"
	echo "# $name: source pass $src_last, destination pass $(last_pass $name b), QEMU bytes $qb, downtime $(json /tmp/$name.src summary downtime_ms) ms, kmig rounds $(json /tmp/$name.src summary rounds)"
	[ $ok = 0 ] || details $name
	stop_qemus $name
	return $ok
}

# A failed migration: the source agent fails with a reason, and the source
# guest keeps running with its self-check passing.
source_survives() { # NAME REASON_PATTERN
	name=$1
	ok=0
	[ $src_rc = 1 ] || bad $name "source agent exit $src_rc, expected 1"
	grep -q "$2" /tmp/$name.src || bad $name "no reason matching '$2'"
	wait_passes $name a "$(last_pass $name a)" 3 ||
		bad $name "the source guest did not keep running"
	grep -q FAILED /tmp/$name.a.serial && bad $name "the source guest's self-check failed"
	[ $ok = 0 ] || details $name
	stop_qemus $name
	return $ok
}

echo "TAP version 13"
echo "1..8"

good_migration qemu_idle idle 16 "" hold
result qemu_idle_guest $?

good_migration qemu_busy busy 32 "--downtime 1000 --max-rounds 20 --policy force" hold
result qemu_busy_guest $?

# An old source (protocol 1 only) to this destination; no hold: the
# downtime printed is the real one.
good_migration qemu_oldsrc busy 16 "--proto-max 1 --downtime 1000 --max-rounds 20 --policy force"
rc=$?
grep -q '"version":1' /tmp/qemu_oldsrc.src || { echo "# not protocol 1"; rc=1; }
result qemu_protocol_window_source_v1 $rc

# Not convergent: a busy guest (32 MiB rewritten again and again) behind an
# 8 MB/s cap fails cleanly after 3 rounds.
migrate qemu_slow busy 32 "--bw 8M --max-rounds 3 --policy fail" ""
finish_failed
source_survives qemu_slow "did not converge"
rc=$?
# ... and the destination agent quit its QEMU (--on-failure quit)
grep -q "the destination QEMU was quit" /tmp/qemu_slow.dst ||
	{ echo "# qemu_slow: the destination agent did not quit its QEMU"; rc=1; }
result qemu_no_convergence_fails_cleanly $rc

# No common protocol version: refused, with the reason.
migrate qemu_window busy 16 "--proto-max 1" "--proto-min 2"
finish_failed
source_survives qemu_window "no_common_version"
result qemu_protocol_windows_disjoint_refused $?

# kill_in_precopy NAME WHAT: start a migration that cannot converge (16
# MB/s against that busy guest), run WHAT once the first round is over,
# and check that the source guest runs on.
kill_in_precopy() {
	migrate $1 busy 32 "--bw 16M --max-rounds 50" ""
	for i in $(seq 1 120); do
		grep -q '"event":"progress"' /tmp/$1.src && break
		sleep 1
	done
	eval "$2"
	finish_failed
	source_survives $1 "failed"
}

# The destination QEMU dies during pre-copy.
kill_in_precopy qemu_dstdie "qemu_kill b qemu_dstdie KILL"
result qemu_destination_qemu_killed $?

# The destination agent dies during pre-copy.
kill_in_precopy qemu_agentdie 'kill -KILL $dst'
result qemu_destination_agent_killed $?


# The destination QEMU dies at the switch-over, after READY and before GO
# (the source agent holds there): QEMU's device state cannot go, no GO is
# sent, and the source guest runs on.
migrate qemu_lastdie busy 16 "" "" "KMIG_TEST_QEMU_HOLD=/tmp/qemu_lastdie.hold"
for i in $(seq 1 300); do
	[ -f /tmp/qemu_lastdie.hold.held ] && break
	kill -0 $src 2>/dev/null || break
	sleep 1
done
qemu_kill b qemu_lastdie KILL
sleep 1
touch /tmp/qemu_lastdie.hold.go
finish_failed
source_survives qemu_lastdie "the step before GO failed"
result qemu_destination_qemu_killed_before_go $?

exit $fail
