#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The slowest test cases and test programs of one VM run, from the
# OUTDIR/output.timed that boot.sh writes (each line behind the seconds
# since the VM started).
# usage: slowest.sh OUTDIR/output.timed [N]   -> "seconds name", slowest first
timed=$1 n=${2:-15}
awk '
{ sub(/\r$/, "") }
# the harness: "# #  RUN           fixture.variant.test ..."
$3 == "#" && $4 == "RUN" { start[$5] = $1; next }
# its verdict: "# ok N fixture.variant.test" or "# not ok N ..."
$2 == "#" && ($3 == "ok" || ($3 == "not" && $4 == "ok")) {
	name = ($3 == "ok") ? $5 : $6
	if (name in start) { printf "%6d  case %s\n", $1 - start[name], name; delete start[name] }
	next
}
# the runner: "# selftests: kmig: prog" ... "ok N selftests: kmig: prog"
$2 == "#" && $3 == "selftests:" { prog[$5] = $1; next }
($2 == "ok" || $2 == "not") && / selftests: kmig: / {
	p = $NF; if ($NF == "SKIP" || $(NF-1) == "#") p = $(NF-2)
	for (q in prog) if (index($0, "selftests: kmig: " q)) {
		printf "%6d  program %s\n", $1 - prog[q], q; delete prog[q]
	}
}
' "$timed" | sort -rn | head -n "$n"
