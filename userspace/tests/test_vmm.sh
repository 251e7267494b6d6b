#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of kmig-vmm's command line (no kmig module, no KVM guest): the
# usage text and the incoming listener's options, which are checked, and
# the address bound, before the module is opened. Migrations themselves are
# tested in the VMs (selftests/kmig_migrate.sh).
#
# usage: test_vmm.sh PATH/TO/kmig-vmm
# Output: TAP, one line per test case.

V=${1:?usage: $0 kmig-vmm}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

n=0 nfail=0

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
		for f in "$T"/*.out "$T"/*.err; do
			[ -s "$f" ] && sed "s|^|# ${f##*/}: |" "$f"
		done
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

# vmm EXPECTED_RC ARGS...: run kmig-vmm, output in $T/v.out and $T/v.err
vmm() {
	local want=$1 rc
	shift
	timeout 10 "$V" "$@" >"$T/v.out" 2>"$T/v.err"
	rc=$?
	[ $rc -eq "$want" ] || fail "kmig-vmm $*: exit $rc, expected $want"
}

t_vmm_usage() {
	vmm 2 || return 1
	has "$T/v.err" "usage: kmig-vmm run" &&
	has "$T/v.err" "kmig-vmm incoming --listen [ADDR:]PORT" &&
	has "$T/v.err" "[--accept-timeout MS] [--max-rejects N]" || return 1
	# incoming needs --listen
	vmm 2 incoming && has "$T/v.err" "usage: kmig-vmm run"
}

t_vmm_listen_malformed_address() {
	local a
	for a in localhost:7000 1.2.3.4: 300.1.1.1:7000 '[::1:7000' ::1:7000 \
		 127.0.0.1:99999 :7000 7000x; do
		vmm 2 incoming --listen "$a" || return 1
		has "$T/v.err" "kmig-vmm: --listen: expected [ADDR:]PORT" &&
		has "$T/v.err" "got '$a'" || return 1
	done
}

t_vmm_listen_binds_the_address() {
	# Parsed and bound: then the module (absent here) or, with the module,
	# the accept timeout ends it.
	vmm 1 incoming --listen 127.0.0.1:0 --accept-timeout 100 || return 1
	if [ -e /dev/kmig ]; then
		has "$T/v.out" "no connection on 127.0.0.1:"
	else
		has "$T/v.err" "/dev/kmig"
	fi || return 1
	# An address of another host cannot be bound: it is not ignored.
	vmm 1 incoming --listen 192.0.2.1:0 || return 1
	has "$T/v.err" "kmig-vmm: 192.0.2.1:0: Cannot assign requested address"
}

t_vmm_listener_bounds_validated() {
	vmm 2 incoming --listen 127.0.0.1:0 --max-rejects 0 || return 1
	has "$T/v.err" "--max-rejects: expected a number from 1, got '0'" || return 1
	vmm 2 incoming --listen 127.0.0.1:0 --max-rejects few || return 1
	vmm 2 incoming --listen 127.0.0.1:0 --max-rejects -3 || return 1
	vmm 2 incoming --listen 127.0.0.1:0 --accept-timeout soon || return 1
	has "$T/v.err" "--accept-timeout: expected milliseconds, got 'soon'"
}

for t in t_vmm_usage t_vmm_listen_malformed_address t_vmm_listen_binds_the_address \
	 t_vmm_listener_bounds_validated; do
	run_test "$t"
done
echo "1..$n"
[ $nfail -eq 0 ]
