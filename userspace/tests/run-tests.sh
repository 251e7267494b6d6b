#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run TAP test programs and merge their output into one TAP stream with
# global numbering. Each argument is one command (word-split). A program that
# crashes, hangs (TEST_TIMEOUT seconds, default 300) or exits non-zero
# without reporting a failure counts as one more failed test.
#
# Output: one "ok N name" / "not ok N name" line per test case, "# ..."
# diagnostics, the plan "1..N", "# N skipped", and as the very last line
# "N passed, N failed" (skipped tests are "ok" and count as passed). The
# summary line is also written to build/check-summary.txt.
# Exit status: 0 if nothing failed, 1 otherwise.

timeout_s=${TEST_TIMEOUT:-300}
total=0 passed=0 failed=0 skipped=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for cmd in "$@"; do
	name=${cmd%% *}
	echo "# ${name}"
	timeout -k 5 "$timeout_s" $cmd > "$out" 2>&1
	rc=$?
	nres=0 nfail=0 plan=
	while IFS= read -r line; do
		case "$line" in
		"ok "*|"not ok "*)
			total=$((total + 1))
			nres=$((nres + 1))
			if [[ "$line" == "not ok "* ]]; then
				rest=${line#not ok }
				failed=$((failed + 1))
				nfail=$((nfail + 1))
				echo "not ok ${total} ${rest#* }"
			else
				rest=${line#ok }
				passed=$((passed + 1))
				[[ "$line" == *"# SKIP"* ]] && skipped=$((skipped + 1))
				echo "ok ${total} ${rest#* }"
			fi
			;;
		1..[0-9]*)
			plan=${line#1..}
			;;
		"#"*)
			echo "$line"
			;;
		*)
			echo "# $line"
			;;
		esac
	done < "$out"
	if [[ $rc -ne 0 && $nfail -eq 0 ]] || [[ -z "$plan" || "$plan" != "$nres" ]]; then
		total=$((total + 1))
		failed=$((failed + 1))
		echo "not ok ${total} ${name} (exit status ${rc}, ${nres} results, plan ${plan:-missing})"
	fi
done

mkdir -p build
summary="${passed} passed, ${failed} failed"
echo "${summary}" > build/check-summary.txt
echo "1..${total}"
echo "# ${skipped} skipped"
echo "${summary}"
[[ $failed -eq 0 ]]
