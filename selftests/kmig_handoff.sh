#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The handshake's offer comes from the local module: a host whose module
# parameters narrow its protocol window offers less, so two hosts negotiate
# down (source old to destination new, and the reverse), or are refused when
# the windows are disjoint. Each side's offer is read from the module when
# kmigctl starts; the parameters change between the two starts.

ksft_skip=4
KMIGCTL=${KMIGCTL:-/usr/bin/kmigctl}
P=/sys/module/kmig/parameters
[ -x "$KMIGCTL" ] || { echo "1..0 # SKIP kmigctl is not installed"; exit $ksft_skip; }

set_window() { # min max
	echo 1 > $P/proto_min
	echo "$2" > $P/proto_max
	echo "$1" > $P/proto_min
}
trap 'set_window 1 2' EXIT

# handshake NAME DST_WINDOW SRC_WINDOW: destination first, then source.
handshake() {
	set_window $2
	rm -f /tmp/$1.dst
	"$KMIGCTL" handshake --listen 127.0.0.1:7300 --accept-timeout 20000 \
		--json >/tmp/$1.dst 2>/tmp/$1.dst.err &
	dst=$!
	while ! grep -q listening /tmp/$1.dst.err 2>/dev/null; do sleep 0.1; done
	set_window $3
	"$KMIGCTL" handshake --connect 127.0.0.1:7300 --json >/tmp/$1.src 2>&1
	src_rc=$?
	wait $dst
	dst_rc=$?
	sed 's/^/# /' /tmp/$1.src /tmp/$1.dst
}

echo "TAP version 13"
echo "1..3"
fail=0

handshake forward "1 2" "1 1"
if [ $src_rc = 0 ] && [ $dst_rc = 0 ] && grep -q '"version":1' /tmp/forward.src &&
   grep -q '"version":1' /tmp/forward.dst; then
	echo "ok 1 old_source_module_new_destination_module_negotiate_1"
else
	echo "not ok 1 old_source_module_new_destination_module_negotiate_1"; fail=1
fi

handshake backward "1 1" "1 2"
if [ $src_rc = 0 ] && [ $dst_rc = 0 ] && grep -q '"version":1' /tmp/backward.src; then
	echo "ok 2 new_source_module_old_destination_module_negotiate_1"
else
	echo "not ok 2 new_source_module_old_destination_module_negotiate_1"; fail=1
fi

handshake disjoint "1 1" "2 2"
if [ $src_rc != 0 ] && [ $dst_rc != 0 ] &&
   grep -q "destination supports protocol 1..1, source offers 2..2" /tmp/disjoint.src &&
   grep -q "destination supports protocol 1..1, source offers 2..2" /tmp/disjoint.dst; then
	echo "ok 3 disjoint_module_windows_refused_on_both_sides"
else
	echo "not ok 3 disjoint_module_windows_refused_on_both_sides"; fail=1
fi
exit $fail
