#!/usr/bin/env bash
# Run every integration case (or those named) against the daemon in $BUILD.
# Prints PASS/FAIL/SKIP per case and a closing "N passed, N failed" line.
# A full run (no cases named) ends with the conformance gate: every
# numbered case of doc/conformance.md must be named by a passing check
# (coverage.sh); it counts as one more passed or failed entry.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0 failn=0 skipn=0 failed=""
gate=0
if [ $# -gt 0 ]; then cases=("$@"); else cases=("$HERE"/cases/*.sh); gate=1; fi
# the test PKI, minted again when scripts/mkpki.sh changed what it holds
# (a no-op when complete)
"$HERE/../../scripts/mkpki.sh" "${PKI:-$HERE/../../build/test-pki}" ||
    { echo "integration: scripts/mkpki.sh failed"; exit 1; }
tagdir=$(mktemp -d "${TMPDIR:-/tmp}/estcoapd-tags.XXXXXX")
# each case tags into its own file; only a passing case's tags count
export CASE_TAGS=$tagdir/current
: >"$tagdir/passed"
for c in "${cases[@]}"; do
	name=$(basename "$c" .sh)
	start=$(date +%s)
	: >"$CASE_TAGS"
	out=$(timeout 300 bash "$c" 2>&1)
	rc=$?
	[ "$rc" -ne 0 ] || cat "$CASE_TAGS" >>"$tagdir/passed"
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)	pass=$((pass + 1)); echo "PASS $name (${secs}s) $(echo "$out" | grep -o '[0-9]* checks' | tail -n1)" ;;
	77)	skipn=$((skipn + 1)); echo "SKIP $name: $(echo "$out" | tail -n1)" ;;
	*)	failn=$((failn + 1)); failed="$failed $name"
		echo "FAIL $name (rc=$rc, ${secs}s)"; echo "$out" | sed 's/^/    /' ;;
	esac
done
if [ "$gate" -eq 1 ]; then
	if out=$("$HERE/coverage.sh" "$tagdir/passed"); then
		pass=$((pass + 1)); echo "PASS coverage"
	else
		failn=$((failn + 1)); failed="$failed coverage"; echo "FAIL coverage"
	fi
	echo "$out" | sed 's/^/    /'
fi
rm -rf "$tagdir"
echo "integration-${LABEL:-plain}: $pass passed, $failn failed, $skipn skipped"
[ -z "$failed" ] || echo "failed cases:$failed"
[ "$failn" -eq 0 ]
