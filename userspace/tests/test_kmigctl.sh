#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of kmigctl (no kmig module needed): command line, and the
# handshake between two kmigctl processes over loopback TCP using the
# --offer-* overrides. Also checks the symbols exported by libkmig.so.
#
# usage: test_kmigctl.sh PATH/TO/kmigctl PATH/TO/libkmig.so
# Output: TAP, one line per test case.

K=${1:?usage: $0 kmigctl libkmig.so}
SO=${2:?usage: $0 kmigctl libkmig.so}
MAP=$(dirname "$0")/../lib/libkmig.map
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT

n=0 nfail=0
DPID= PORT= DRC= SRC_RC=

diag_outputs() {
	local f
	for f in "$T"/*.out "$T"/*.err; do
		[ -s "$f" ] && sed "s|^|# ${f##*/}: |" "$f"
	done
}

run_test() {
	local fn=$1 name=${1#t_}
	rm -f "$T"/*.out "$T"/*.err
	SKIP=
	if "$fn"; then
		n=$((n + 1))
		if [ -n "$SKIP" ]; then
			echo "ok $n $name # SKIP $SKIP"
		else
			echo "ok $n $name"
		fi
	else
		n=$((n + 1)) nfail=$((nfail + 1))
		diag_outputs
		echo "not ok $n $name"
	fi
}

fail() {
	echo "# $*"
	return 1
}

has() {	# file, text
	grep -qF -- "$2" "$1" || fail "${1##*/} lacks: $2"
}

# Start a destination (or any --listen side) in the background.
start_listener() {
	: > "$T/d.err"	# exists before the background job opens it
	"$K" handshake --listen 127.0.0.1:0 --accept-timeout 5000 "$@" \
		>"$T/d.out" 2>"$T/d.err" &
	DPID=$!
	PORT=
	for _ in $(seq 200); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$T/d.err" 2>/dev/null)
		[ -n "$PORT" ] && return 0
		kill -0 $DPID 2>/dev/null || break
		sleep 0.05
	done
	fail "listener did not start"
}

wait_listener() {
	wait $DPID
	DRC=$?
}

run_connector() {
	"$K" handshake --connect "127.0.0.1:$PORT" "$@" >"$T/s.out" 2>"$T/s.err"
	SRC_RC=$?
}

pair() {	# "dst args" "src args"
	start_listener $1 || return 1
	run_connector $2
	wait_listener
	return 0
}

t_kmigctl_help() {
	"$K" --help >"$T/h.out" 2>&1 || fail "exit $?" || return 1
	has "$T/h.out" "handshake" && has "$T/h.out" "info" &&
	"$K" handshake --help >"$T/h2.out" 2>&1 && has "$T/h2.out" "--offer-min"
}

t_kmigctl_version() {
	"$K" --version >"$T/v.out" 2>&1 || fail "exit $?" || return 1
	has "$T/v.out" "kmigctl 0.1.0" && has "$T/v.out" "handshake format 1"
}

t_kmigctl_unknown_command() {
	"$K" frobnicate >"$T/u.out" 2>"$T/u.err"
	local rc=$?
	[ $rc -eq 2 ] || fail "exit $rc, expected 2" || return 1
	has "$T/u.err" "unknown command 'frobnicate'" && has "$T/u.err" "usage:"
}

t_kmigctl_no_arguments() {
	"$K" >"$T/u.out" 2>"$T/u.err"
	local rc=$?
	[ $rc -eq 2 ] || fail "exit $rc, expected 2" || return 1
	has "$T/u.err" "usage:"
}

t_kmigctl_usage_errors() {
	local rc
	"$K" handshake --listen 1 --connect 127.0.0.1:1 2>"$T/e1.err"; rc=$?
	[ $rc -eq 2 ] || fail "listen+connect: exit $rc" || return 1
	"$K" handshake 2>"$T/e2.err"; rc=$?
	[ $rc -eq 2 ] || fail "no endpoint: exit $rc" || return 1
	"$K" handshake --connect 127.0.0.1:1 --timeout soon 2>"$T/e3.err"; rc=$?
	[ $rc -eq 2 ] || fail "bad timeout: exit $rc" || return 1
	has "$T/e3.err" "invalid value 'soon' for --timeout" || return 1
	"$K" handshake --connect 127.0.0.1:1 --role sideways 2>"$T/e4.err"; rc=$?
	[ $rc -eq 2 ] || fail "bad role: exit $rc" || return 1
	"$K" handshake --connect 127.0.0.1:1 --offer-min 1 --caps warp 2>"$T/e5.err"; rc=$?
	[ $rc -eq 2 ] || fail "bad caps: exit $rc" || return 1
	"$K" info --bogus 2>"$T/e6.err"; rc=$?
	[ $rc -eq 2 ] || fail "info --bogus: exit $rc" || return 1
	"$K" handshake --listen 127.0.0.1:0 --offer-min 1 --max-rejects 0 2>"$T/e7.err"; rc=$?
	[ $rc -eq 2 ] || fail "--max-rejects 0: exit $rc" || return 1
	has "$T/e7.err" "invalid value '0' for --max-rejects" || return 1
	"$K" handshake --listen 127.0.0.1:0 --offer-min 1 --max-rejects many 2>"$T/e8.err"; rc=$?
	[ $rc -eq 2 ] || fail "--max-rejects many: exit $rc" || return 1
}

t_kmigctl_info_without_module() {
	if [ -e /dev/kmig ]; then
		SKIP="/dev/kmig exists (covered by the VM tests)"
		return 0
	fi
	"$K" info >"$T/i.out" 2>"$T/i.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/i.err" "kmig module not loaded? modprobe kmig"
}

t_kmigctl_handshake_without_module() {
	if [ -e /dev/kmig ]; then
		SKIP="/dev/kmig exists"
		return 0
	fi
	"$K" handshake --connect 127.0.0.1:1 >"$T/i.out" 2>"$T/i.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/i.err" "modprobe kmig" && has "$T/i.err" "--offer-min"
}

t_kmigctl_handshake_success() {
	pair "--offer-min 1 --offer-max 2 --offer-caps zero_pages,checksum --host-id dst-host --vm-id vm7" \
	     "--offer-min 1 --offer-max 3 --offer-caps checksum,blobs --layout 0:1G,1:64M --host-id src-host --vm-id vm7" || return 1
	[ "$SRC_RC" -eq 0 ] || fail "source exit $SRC_RC" || return 1
	[ "$DRC" -eq 0 ] || fail "destination exit $DRC" || return 1
	has "$T/s.out" "handshake ok: protocol 2, capabilities checksum (0x2)" &&
	has "$T/d.out" "handshake ok: protocol 2, capabilities checksum (0x2)" &&
	has "$T/d.out" "2 regions, 1140850688 bytes" &&
	has "$T/d.out" 'host "src-host" vm "vm7"' &&
	has "$T/s.out" 'host "dst-host" vm "vm7"'
}

t_kmigctl_handshake_disjoint_refused() {
	local text="no common protocol version: destination supports protocol 1..1, source offers 2..3: upgrade the destination or allow protocol 1 on the source"
	pair "--offer-min 1 --offer-max 1" "--offer-min 2 --offer-max 3" || return 1
	[ "$SRC_RC" -eq 1 ] || fail "source exit $SRC_RC, expected 1" || return 1
	[ "$DRC" -eq 1 ] || fail "destination exit $DRC, expected 1" || return 1
	has "$T/s.err" "$text" && has "$T/d.err" "$text" &&
	has "$T/s.err" "decided by the destination"
}

t_kmigctl_handshake_json() {
	pair "--offer-min 1 --offer-max 2 --offer-caps 0x7 --json" \
	     "--offer-min 2 --offer-max 2 --offer-caps 0x3 --layout 5:8K --json" || return 1
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	[ "$(wc -l < "$T/s.out")" -eq 1 ] || fail "not one line" || return 1
	has "$T/s.out" '"result":"ok"' && has "$T/s.out" '"version":2' &&
	has "$T/s.out" '"caps":["zero_pages","checksum"]' &&
	has "$T/d.out" '"regions":[{"id":5,"size":8192}]' || return 1
	if command -v python3 >/dev/null; then
		python3 -c 'import json,sys; [json.loads(open(f).read()) for f in sys.argv[1:]]' \
			"$T/s.out" "$T/d.out" || fail "invalid JSON"
	fi
}

t_kmigctl_handshake_json_refusal() {
	pair "--offer-min 1 --offer-max 1 --json" "--offer-min 2 --offer-max 2 --json" || return 1
	[ "$SRC_RC" -eq 1 ] && [ "$DRC" -eq 1 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.out" '"result":"refused"' && has "$T/d.out" '"result":"refused"' &&
	has "$T/s.out" '"reason":"no_common_version"' &&
	has "$T/s.out" '"refused_by":"destination"' &&
	has "$T/s.out" '"errno":"EPROTONOSUPPORT"'
}

t_kmigctl_handshake_auth() {
	head -c 32 /dev/urandom > "$T/key1"
	chmod 600 "$T/key1"
	pair "--offer-min 1 --offer-max 2 --key $T/key1" "--offer-min 1 --offer-max 2 --key $T/key1" || return 1
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.out" ", authenticated" && has "$T/d.out" ", authenticated"
}

t_kmigctl_handshake_auth_mismatch() {
	head -c 32 /dev/urandom > "$T/key1"
	head -c 32 /dev/urandom > "$T/key2"
	chmod 600 "$T/key1" "$T/key2"
	# One rejected connection ends the listener here (--max-rejects 1).
	pair "--offer-min 1 --offer-max 2 --key $T/key1 --max-rejects 1" "--offer-min 1 --offer-max 2 --key $T/key2" || return 1
	[ "$SRC_RC" -eq 1 ] && [ "$DRC" -eq 1 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.err" "authentication failed: key mismatch" &&
	has "$T/d.err" "authentication failed: key mismatch" || return 1
	# Key on one side only: refused on both.
	pair "--offer-min 1 --offer-max 2 --key $T/key1 --max-rejects 1" "--offer-min 1 --offer-max 2" || return 1
	[ "$SRC_RC" -eq 1 ] && [ "$DRC" -eq 1 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.err" "peer did not authenticate" && has "$T/d.err" "peer did not authenticate"
}

t_kmigctl_short_key_refused() {
	head -c 15 /dev/urandom > "$T/short"
	chmod 600 "$T/short"
	"$K" handshake --connect 127.0.0.1:1 --offer-min 1 --key "$T/short" 2>"$T/k.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/k.err" "shorter than 16 bytes"
}

t_kmigctl_key_mode_refused() {
	head -c 32 /dev/urandom > "$T/key1"
	chmod 644 "$T/key1"
	"$K" handshake --connect 127.0.0.1:1 --offer-min 1 --key "$T/key1" 2>"$T/k.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/k.err" "key file $T/key1: accessible by group or others (mode 0644), refused: chmod 600 $T/key1" || return 1
	# Group-writable is refused too; 0600 is fine (the connect then fails).
	chmod 620 "$T/key1"
	"$K" handshake --connect 127.0.0.1:1 --offer-min 1 --key "$T/key1" 2>"$T/k2.err"
	has "$T/k2.err" "(mode 0620)" || return 1
	chmod 600 "$T/key1"
	"$K" handshake --connect 127.0.0.1:1 --offer-min 1 --key "$T/key1" 2>"$T/k3.err"
	! grep -q "key file" "$T/k3.err" || fail "mode 0600 refused"
}

t_kmigctl_require_missing_capability() {
	pair "--offer-min 1 --offer-max 2 --offer-caps zero_pages" \
	     "--offer-min 1 --offer-max 2 --offer-caps zero_pages,checksum --require checksum" || return 1
	[ "$SRC_RC" -eq 1 ] && [ "$DRC" -eq 1 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.err" "required capability checksum (0x2) not available" &&
	has "$T/d.err" "required capability checksum (0x2) not available"
}

t_kmigctl_proto_max_narrows() {
	pair "--offer-min 1 --offer-max 3" "--offer-min 1 --offer-max 3 --proto-max 1 --role source" || return 1
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/s.out" "protocol 1," && has "$T/d.out" "protocol 1,"
}

t_kmigctl_roles_swapped() {
	# The source may listen and the destination connect.
	pair "--role source --offer-min 1 --offer-max 2 --layout 1:4K" \
	     "--role destination --offer-min 2 --offer-max 4" || return 1
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/d.out" "role:       source" && has "$T/s.out" "role:       destination" &&
	has "$T/s.out" "1 regions, 4096 bytes"
}

t_kmigctl_silent_peer_times_out() {
	# A silent connection is rejected after --timeout; the next one passes.
	# (--timeout also bounds the good connection's handshake: not too short.)
	start_listener --offer-min 1 --offer-max 2 --timeout 800 || return 1
	exec 7<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect" || return 1
	local t0=$SECONDS
	run_connector --offer-min 1 --offer-max 2
	wait_listener
	exec 7>&-
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	[ $((SECONDS - t0)) -le 4 ] || fail "took $((SECONDS - t0)) s" || return 1
	has "$T/d.err" "rejected connection from 127.0.0.1:" &&
	has "$T/d.err" "(timeout, decided by the destination): timed out after 800 ms waiting for HELLO" &&
	has "$T/d.out" "handshake ok"
}

t_kmigctl_other_protocol_refused() {
	# Garbage is answered, logged and closed; the next connection passes.
	start_listener --offer-min 1 --offer-max 2 || return 1
	exec 7<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect" || return 1
	printf 'GET / HTTP/1.0\r\n\r\n' >&7
	head -c 12 <&7 > "$T/reply.out"
	exec 7>&-
	run_connector --offer-min 1 --offer-max 2
	wait_listener
	[ "$SRC_RC" -eq 0 ] && [ "$DRC" -eq 0 ] || fail "exit $SRC_RC/$DRC" || return 1
	has "$T/reply.out" "KMHS" &&
	has "$T/d.err" "rejected connection from 127.0.0.1:" &&
	has "$T/d.err" "(bad_magic, decided by the destination)" &&
	has "$T/d.err" "does not speak the kmig handshake" &&
	has "$T/d.out" "handshake ok" && has "$T/s.out" "handshake ok"
}

t_kmigctl_listen_wrong_key_then_good() {
	head -c 32 /dev/urandom > "$T/key1"
	head -c 32 /dev/urandom > "$T/key2"
	chmod 600 "$T/key1" "$T/key2"
	start_listener --offer-min 1 --offer-max 2 --key "$T/key1" || return 1
	run_connector --offer-min 1 --offer-max 2 --key "$T/key2"
	[ "$SRC_RC" -eq 1 ] || fail "wrong key: exit $SRC_RC" || return 1
	has "$T/s.err" "authentication failed: key mismatch" || return 1
	run_connector --offer-min 1 --offer-max 2
	[ "$SRC_RC" -eq 1 ] || fail "no key: exit $SRC_RC" || return 1
	run_connector --offer-min 1 --offer-max 2 --key "$T/key1"
	[ "$SRC_RC" -eq 0 ] || fail "right key: exit $SRC_RC" || return 1
	wait_listener
	[ "$DRC" -eq 0 ] || fail "destination exit $DRC" || return 1
	[ "$(grep -c 'rejected connection from' "$T/d.err")" -eq 2 ] || fail "not 2 rejections" || return 1
	has "$T/d.err" "(auth_failed, decided by the destination)" &&
	has "$T/d.err" "(auth_required, decided by the destination)" &&
	has "$T/d.out" "handshake ok" && has "$T/d.out" ", authenticated"
}

t_kmigctl_listen_wrong_vm_then_good() {
	start_listener --offer-min 1 --offer-max 2 --vm-id vm7 || return 1
	run_connector --offer-min 1 --offer-max 2 --vm-id vm8
	[ "$SRC_RC" -eq 1 ] || fail "other VM: exit $SRC_RC" || return 1
	has "$T/s.err" 'the source sends VM "vm8", the destination expects VM "vm7"' || return 1
	# A source without a VM id is refused with the reason.
	run_connector --offer-min 1 --offer-max 2
	[ "$SRC_RC" -eq 1 ] || fail "no VM: exit $SRC_RC" || return 1
	has "$T/s.err" "handshake failed (vm_mismatch, decided by the destination): VM identity missing: the destination expects VM \"vm7\", the source names no VM" || return 1
	run_connector --offer-min 1 --offer-max 2 --vm-id vm7
	[ "$SRC_RC" -eq 0 ] || fail "right VM: exit $SRC_RC" || return 1
	wait_listener
	[ "$DRC" -eq 0 ] || fail "destination exit $DRC" || return 1
	[ "$(grep -c '(vm_mismatch, decided by the destination)' "$T/d.err")" -eq 2 ] ||
		fail "not 2 rejections" || return 1
	has "$T/d.out" 'vm "vm7"'
}

t_kmigctl_listen_reject_bound() {
	start_listener --offer-min 1 --offer-max 2 --max-rejects 2 --json || return 1
	local i
	for i in 1 2; do
		exec 7<>"/dev/tcp/127.0.0.1/$PORT" || fail "cannot connect" || return 1
		printf 'garbage %s\n' $i >&7
		head -c 12 <&7 > /dev/null
		exec 7>&-
	done
	wait_listener
	[ "$DRC" -eq 1 ] || fail "exit $DRC, expected 1" || return 1
	[ "$(grep -c 'rejected connection from' "$T/d.err")" -eq 2 ] || fail "not 2 rejections" || return 1
	has "$T/d.out" '"reason":"too_many_rejects"' &&
	has "$T/d.out" "gave up on 127.0.0.1:$PORT after 2 rejected connections; the last, from 127.0.0.1:" &&
	has "$T/d.out" "failed with bad_magic"
}

t_kmigctl_listen_address() {
	local rc a
	"$K" handshake --listen 127.0.0.1:0 --offer-min 1 --accept-timeout 100 \
		>"$T/a.out" 2>"$T/a.err"
	has "$T/a.err" "listening on 127.0.0.1:" || return 1
	for a in localhost:7000 1.2.3.4: 300.1.1.1:7000 '[::1:7000' ::1:7000 \
		 127.0.0.1:99999 :7000 127.0.0.1:7x; do
		"$K" handshake --listen "$a" --offer-min 1 >"$T/b.out" 2>"$T/b.err"; rc=$?
		[ $rc -eq 2 ] || fail "--listen $a: exit $rc, expected 2" || return 1
		has "$T/b.err" "--listen: expected [ADDR:]PORT" || return 1
		has "$T/b.err" "got '$a'" || return 1
	done
	# A well-formed address that is not this host's: bind fails.
	"$K" handshake --listen 192.0.2.1:0 --offer-min 1 >"$T/c.out" 2>"$T/c.err"; rc=$?
	[ $rc -eq 3 ] || fail "192.0.2.1: exit $rc, expected 3" || return 1
	has "$T/c.err" "listen on 192.0.2.1:0:"
}

t_kmigctl_accept_timeout() {
	"$K" handshake --listen 127.0.0.1:0 --offer-min 1 --accept-timeout 200 \
		>"$T/a.out" 2>"$T/a.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/a.err" "no connection on 127.0.0.1:"
}

t_kmigctl_connect_refused() {
	# A port that was just free: bind and release it.
	local port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)
	"$K" handshake --connect "127.0.0.1:$port" --offer-min 1 >"$T/c.out" 2>"$T/c.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/c.err" "is the peer listening?"
}

t_libkmig_so_exports() {
	command -v nm >/dev/null || { SKIP="no nm"; return 0; }
	nm -D --defined-only "$SO" | awk '{print $3}' | sed 's/@.*//' |
		grep -v '^LIBKMIG_' | sort > "$T/exported.out"
	sed -n 's/^[[:space:]]*\(kmig_[a-z0-9_]*\);$/\1/p' "$MAP" | sort > "$T/map.out"
	[ -s "$T/map.out" ] || fail "no symbols in $MAP" || return 1
	diff "$T/map.out" "$T/exported.out" >"$T/diff.out" || fail "exports differ from libkmig.map" || return 1
	nm -D --defined-only "$SO" | grep -q '@@LIBKMIG_0.1' || fail "no LIBKMIG_0.1 version" || return 1
	nm -D --defined-only "$SO" | grep -q 'kmig_listen_handshake@@LIBKMIG_0.3' ||
		fail "kmig_listen_handshake not in LIBKMIG_0.3"
}


# kmigctl qemu against a fake QMP server (fake_qmp.py): each unusable or
# malformed answer ends the agent with exit 3 and a reason, before it
# touches /dev/kmig.
FAKE_QMP=$(dirname "$0")/fake_qmp.py

qemu_agent() {	# SCENARIO MEM_PATH ROLE: runs the agent, sets QRC
	: > "$T/q.err"
	python3 "$FAKE_QMP" "$T/qmp.sock" "$1" "$2" 2>"$T/fake.err" &
	local fpid=$!
	for _ in $(seq 1 50); do [ -S "$T/qmp.sock" ] && break; sleep 0.1; done
	if [ "$3" = receive ]; then
		timeout 30 "$K" qemu receive --qmp "$T/qmp.sock" --listen 127.0.0.1:0 \
			--vm-id vm1 >"$T/q.out" 2>"$T/q.err"
	else
		timeout 30 "$K" qemu send --qmp "$T/qmp.sock" --to 127.0.0.1:1 \
			--qemu-uri tcp:127.0.0.1:2 --vm-id vm1 >"$T/q.out" 2>"$T/q.err"
	fi
	QRC=$?
	kill $fpid 2>/dev/null
	wait $fpid 2>/dev/null
	rm -f "$T/qmp.sock"
}

qemu_refused() {	# SCENARIO TEXT [ROLE]
	command -v python3 >/dev/null || { SKIP="no python3"; return 0; }
	qemu_agent "$1" "$T/ram" "${3:-send}"
	[ $QRC -eq 3 ] || fail "exit $QRC, expected 3" || return 1
	grep -qF -- "$2" "$T/q.out" "$T/q.err" || fail "no message: $2"
}

t_kmigctl_qemu_qmp_command() {
	command -v python3 >/dev/null || { SKIP="no python3"; return 0; }
	python3 "$FAKE_QMP" "$T/qmp.sock" file 2>"$T/fake.err" &
	local fpid=$! rc
	for _ in $(seq 1 50); do [ -S "$T/qmp.sock" ] && break; sleep 0.1; done
	"$K" qemu qmp --qmp "$T/qmp.sock" query-status >"$T/q.out" 2>"$T/q.err"
	rc=$?
	wait $fpid
	[ $rc -eq 0 ] || fail "exit $rc" || return 1
	has "$T/q.out" '"status":"running"'
	python3 "$FAKE_QMP" "$T/qmp.sock" file 2>"$T/fake.err" &
	fpid=$!
	for _ in $(seq 1 50); do [ -S "$T/qmp.sock" ] && break; sleep 0.1; done
	"$K" qemu qmp --qmp "$T/qmp.sock" no-such-command '{"x":1}' >"$T/q.out" 2>"$T/q.err"
	rc=$?
	wait $fpid
	[ $rc -eq 1 ] || fail "unknown command: exit $rc, expected 1" || return 1
	has "$T/q.err" "CommandNotFound"
	"$K" qemu qmp --qmp "$T/qmp.sock" query-status '[1]' >"$T/q.out" 2>"$T/q.err"
	rc=$?
	[ $rc -eq 2 ] || fail "arguments not an object: exit $rc, expected 2"
}

t_kmigctl_qemu_usage() {
	"$K" qemu >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "bare 'qemu': not a usage error" || return 1
	"$K" qemu send --qmp /x --to 1.2.3.4:5 >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "send without --qemu-uri/--vm-id: not a usage error" || return 1
	"$K" qemu receive --qmp /x --vm-id v >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "receive without --listen: not a usage error" || return 1
	"$K" qemu send --qmp /x --to h:1 --qemu-uri u --vm-id v --policy maybe >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "bad --policy: not a usage error" || return 1
	"$K" qemu receive --qmp /x --listen 1 --vm-id v --on-failure later >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "bad --on-failure: not a usage error" || return 1
	local bad
	for bad in "--downtime 0" "--downtime x" "--max-rounds 0" "--max-time -1" \
		   "--bw 12Q" "--proto-min 0" "--proto-max x" "--confirm-timeout 0" \
		   "--io-timeout -5"; do
		"$K" qemu send --qmp /x --to h:1 --qemu-uri u --vm-id v $bad >"$T/u.out" 2>"$T/u.err"
		[ $? -eq 2 ] || fail "send $bad: not a usage error" || return 1
	done
	for bad in "--accept-timeout x" "--max-rejects 0" "--proto-min 0"; do
		"$K" qemu receive --qmp /x --listen 1 --vm-id v $bad >"$T/u.out" 2>"$T/u.err"
		[ $? -eq 2 ] || fail "receive $bad: not a usage error" || return 1
	done
	"$K" qemu receive --qmp /x --listen 1.2.3:x --vm-id v >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "receive with a malformed --listen: not a usage error" || return 1
	"$K" qemu qmp --qmp /x --wait-event PAUSE >"$T/u.out" 2>"$T/u.err"
	[ $? -eq 2 ] || fail "qmp --wait-event of an unknown event: not a usage error" || return 1
	"$K" qemu send --help | grep -q "qemu send --qmp SOCKET" || fail "no help"
}

t_kmigctl_qemu_no_qmp_socket() {
	"$K" qemu send --qmp "$T/none.sock" --to 127.0.0.1:1 --qemu-uri tcp:x:1 \
		--vm-id v >"$T/q.out" 2>"$T/q.err"
	local rc=$?
	[ $rc -eq 3 ] || fail "exit $rc, expected 3" || return 1
	has "$T/q.err" "cannot connect to $T/none.sock"
}

t_kmigctl_qemu_qmp_closed() { qemu_refused close "closed its QMP socket"; }
t_kmigctl_qemu_qmp_closed_mid_command() { qemu_refused closemid "closed its QMP socket"; }
t_kmigctl_qemu_qmp_no_greeting() { qemu_refused nogreeting "does not greet like QMP"; }
t_kmigctl_qemu_qmp_garbage() { qemu_refused garbage "not a JSON object"; }
t_kmigctl_qemu_qmp_huge_line() { qemu_refused hugeline "sent a line over"; }
t_kmigctl_qemu_qmp_error_reply() { qemu_refused capserror "refused qmp_capabilities: GenericError: no capabilities for you"; }
t_kmigctl_qemu_ram_memfd() { qemu_refused memfd "is memory-backend-memfd, not memory-backend-file"; }
t_kmigctl_qemu_ram_not_shared() { qemu_refused noshare "needs share=on"; }
t_kmigctl_qemu_ram_no_backend() { qemu_refused nobackend "QEMU has no memory backend"; }
t_kmigctl_qemu_ram_not_kmigfs() {
	: > "$T/ram"
	qemu_refused file "is not on a kmig file system"
}
t_kmigctl_qemu_events_skipped() {
	# Events between answers are skipped: it gets as far as the RAM check.
	: > "$T/ram"
	qemu_refused events "is not on a kmig file system" receive
}

for t in t_kmigctl_help t_kmigctl_version t_kmigctl_unknown_command t_kmigctl_no_arguments t_kmigctl_usage_errors \
	 t_kmigctl_info_without_module t_kmigctl_handshake_without_module t_kmigctl_handshake_success \
	 t_kmigctl_handshake_disjoint_refused t_kmigctl_handshake_json t_kmigctl_handshake_json_refusal \
	 t_kmigctl_handshake_auth t_kmigctl_handshake_auth_mismatch t_kmigctl_short_key_refused \
	 t_kmigctl_key_mode_refused \
	 t_kmigctl_require_missing_capability t_kmigctl_proto_max_narrows t_kmigctl_roles_swapped \
	 t_kmigctl_silent_peer_times_out t_kmigctl_other_protocol_refused t_kmigctl_accept_timeout \
	 t_kmigctl_listen_wrong_key_then_good t_kmigctl_listen_wrong_vm_then_good \
	 t_kmigctl_listen_reject_bound t_kmigctl_listen_address \
	 t_kmigctl_connect_refused t_libkmig_so_exports \
	 t_kmigctl_qemu_usage t_kmigctl_qemu_qmp_command t_kmigctl_qemu_no_qmp_socket t_kmigctl_qemu_qmp_closed \
	 t_kmigctl_qemu_qmp_closed_mid_command t_kmigctl_qemu_qmp_no_greeting \
	 t_kmigctl_qemu_qmp_garbage t_kmigctl_qemu_qmp_huge_line t_kmigctl_qemu_qmp_error_reply \
	 t_kmigctl_qemu_ram_memfd t_kmigctl_qemu_ram_not_shared t_kmigctl_qemu_ram_no_backend \
	 t_kmigctl_qemu_ram_not_kmigfs t_kmigctl_qemu_events_skipped; do
	run_test "$t"
done
echo "1..$n"
[ $nfail -eq 0 ]
