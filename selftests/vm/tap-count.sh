#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Count test cases in kselftest output: the harness's own per-case lines
# ("# ok N name", "# not ok N name", prefixed by the runner) and bare TAP
# lines of programs without cases. A binary that fails with no failing case
# of its own (a crash) counts as one failure.
# usage: tap-count.sh LOG  -> prints "P F S"
awk '
function flush() {
	if (binfail && !casefail) failed++
	binfail = 0; casefail = 0
}
/^# (not )?ok [0-9]+ / || /^(not )?ok [0-9]+ / {
	line = $0; nested = sub(/^# /, "", line)
	if (!nested && line ~ /selftests: /) {
		# the runner: one line per binary, after its cases
		if (line ~ /^not ok/) binfail = 1
		if (line ~ /^ok/ && line ~ /# SKIP/ && !cases) skipped++
		if (line ~ /kmig-vm: /) { if (line ~ /^not ok/) failed++; else passed++ }
		else flush()
		cases = 0
		next
	}
	cases++
	if (line ~ /# SKIP/) skipped++
	else if (line ~ /^not ok/) { failed++; casefail = 1 }
	else passed++
}
END { flush(); print passed + 0, failed + 0, skipped + 0 }
' "$1"
