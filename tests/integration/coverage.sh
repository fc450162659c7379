#!/usr/bin/env bash
# The conformance gate: every numbered case of doc/conformance.md must be
# named ("case N: ...") by at least one passing check of the integration
# suite. Reads the "N <case file>" lines lib.sh's ok() wrote to the file
# given as $1; prints the missing numbers and exits 1 when any is missing.
set -u
tags=${1:?usage: coverage.sh TAGFILE}
HERE=$(cd "$(dirname "$0")" && pwd)
DOC=${CONFORMANCE_DOC:-$HERE/../../doc/conformance.md}

# the case numbers: lines of the form "N. text" in the document
nums=$(sed -n 's/^\([0-9][0-9]*\)\. .*/\1/p' "$DOC")
[ -n "$nums" ] || { echo "coverage: no numbered cases in $DOC"; exit 1; }
dups=$(echo "$nums" | sort -n | uniq -d | tr '\n' ' ')
[ -z "$dups" ] || { echo "coverage: case numbers used twice in $DOC: $dups"; exit 1; }

missing="" have=0 total=0
for n in $nums; do
	total=$((total + 1))
	if [ -f "$tags" ] && grep -q "^$n " "$tags"; then
		have=$((have + 1))
	else
		missing="$missing $n"
	fi
done
if [ -n "$missing" ]; then
	echo "coverage: $have of $total cases of doc/conformance.md covered; missing:$missing"
	exit 1
fi
echo "coverage: $have of $total cases of doc/conformance.md covered by passing checks"
exit 0
