#!/usr/bin/env bash
# Run every integration case (or those named) against the daemon in $BUILD.
# Prints PASS/FAIL/SKIP per case and a closing "N passed, N failed" line.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0 failn=0 skipn=0 failed=""
if [ $# -gt 0 ]; then cases=("$@"); else cases=("$HERE"/cases/*.sh); fi
for c in "${cases[@]}"; do
	name=$(basename "$c" .sh)
	start=$(date +%s)
	out=$(timeout 300 bash "$c" 2>&1)
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0)	pass=$((pass + 1)); echo "PASS $name (${secs}s) $(echo "$out" | grep -o '[0-9]* checks' | tail -n1)" ;;
	77)	skipn=$((skipn + 1)); echo "SKIP $name: $(echo "$out" | tail -n1)" ;;
	*)	failn=$((failn + 1)); failed="$failed $name"
		echo "FAIL $name (rc=$rc, ${secs}s)"; echo "$out" | sed 's/^/    /' ;;
	esac
done
echo "integration-${LABEL:-plain}: $pass passed, $failn failed, $skipn skipped"
[ -z "$failed" ] || echo "failed cases:$failed"
[ "$failn" -eq 0 ]
