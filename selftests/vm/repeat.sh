#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Stability check: boot one kernel N times in a row and run the whole suite
# each time, keeping every run's logs. One summary line per run, then
# "N passed, N failed" over the runs (a run passes when boot.sh's verdict
# does and no test case failed).
#
# usage: repeat.sh generic|cloud|debug N [OUTDIR]
#   OUTDIR (default build/vm/repeat-KERNEL) gets run-I.output.log,
#   run-I.output.timed and run-I.console.log for each run I, and summary.
set -u
. "$(dirname "$0")/lib.sh"

flavour=$1 n=$2
out=${3:-$BUILD/vm/repeat-$flavour}
vm_prepare "$flavour" "$out" || exit 1
good=0 bad=0
: > "$out/summary"
i=1
while [ "$i" -le "$n" ]; do
	t0=$(date +%s)
	"$TOP"/selftests/vm/boot.sh "$out/initrd.gz" "$out" test \
		"${KMIG_VM_TIMEOUT:-2400}" > "$out/run-$i.boot.log" 2>&1
	rc=$?
	t1=$(date +%s)
	set -- $("$TOP"/selftests/vm/tap-count.sh "$out/output.log")
	for f in output.log output.timed console.log; do
		cp "$out/$f" "$out/run-$i.$f"
	done
	line="run $i: verdict $rc, $1 passed, $2 failed, $3 skipped, $((t1 - t0)) s, longest silence $(cat "$out/quiet-max" 2>/dev/null || echo 0) s"
	echo "$line" | tee -a "$out/summary"
	if [ "$rc" -eq 0 ] && [ "$2" -eq 0 ]; then
		good=$((good + 1))
	else
		bad=$((bad + 1))
	fi
	i=$((i + 1))
done
echo "$good passed, $bad failed" | tee -a "$out/summary"
[ "$bad" -eq 0 ]
