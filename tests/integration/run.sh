#!/usr/bin/env bash
# Run every integration case (or those named) against the daemon in $BUILD.
# Prints PASS/FAIL/SKIP per case, in the order of the case files, and a
# closing "N passed, N failed" line. A full run (no cases named) ends with
# the conformance gate: every numbered case of doc/conformance.md must be
# named by a passing check (coverage.sh); it counts as one more passed or
# failed entry.
#
# Cases run JOBS (default 2) at a time, each in its own temp dir with its
# own range of ports (CASE_SLOT, see free_port in lib.sh); a case whose
# file has a line "# run.sh: alone" (it needs the whole machine: systemd,
# nginx, network namespaces, many processes, a package install) runs by
# itself after the others. JOBS=1 runs every case one after the other.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
JOBS=${JOBS:-2}
pass=0 failn=0 skipn=0 failed=""
gate=0
if [ $# -gt 0 ]; then cases=("$@"); else cases=("$HERE"/cases/*.sh); gate=1; fi
# the test PKI, minted again when scripts/mkpki.sh changed what it holds
# (a no-op when complete)
"$HERE/../../scripts/mkpki.sh" "${PKI:-$HERE/../../build/test-pki}" ||
    { echo "integration: scripts/mkpki.sh failed"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/estcoapd-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
: >"$work/passed"

# run_case INDEX SLOT: one case in the background; its output, exit code,
# seconds and tags ("case N" of each check) go to $work/INDEX.*
run_case() {
	local i=$1 slot=$2 c=${cases[$1]} start rc
	start=$(date +%s)
	: >"$work/$i.tags"
	CASE_TAGS=$work/$i.tags CASE_SLOT=$slot \
	    timeout 300 bash "$c" >"$work/$i.out" 2>&1
	rc=$?
	echo "$(( $(date +%s) - start ))" >"$work/$i.secs"
	echo "$rc" >"$work/$i.rc"
}

# report INDEX: the case's line (and its output when it failed)
report() {
	local i=$1 name rc secs out
	name=$(basename "${cases[$i]}" .sh)
	rc=$(cat "$work/$i.rc")
	secs=$(cat "$work/$i.secs")
	out=$(cat "$work/$i.out")
	[ "$rc" -ne 0 ] || cat "$work/$i.tags" >>"$work/passed"
	case $rc in
	0)	pass=$((pass + 1)); echo "PASS $name (${secs}s) $(echo "$out" | grep -o '[0-9]* checks' | tail -n1)" ;;
	77)	skipn=$((skipn + 1)); echo "SKIP $name: $(echo "$out" | tail -n1)" ;;
	*)	failn=$((failn + 1)); failed="$failed $name"
		echo "FAIL $name (rc=$rc, ${secs}s)"; echo "$out" | sed 's/^/    /' ;;
	esac
}

# the cases that share the machine, then those that need it alone
shared=() alone=()
for i in "${!cases[@]}"; do
	if [ "$JOBS" -gt 1 ] && grep -q '^# run.sh: alone' "${cases[$i]}"; then
		alone+=("$i")
	else
		shared+=("$i")
	fi
done

# at most JOBS at once; slot k is free when slotpid[k] is empty. Each
# finished case is reported as soon as every case before it in the list
# is (printed in order, whatever order they end in).
declare -A slotpid=() pidslot=()
next=0		# index into order[] of the next case to report
order=("${shared[@]}" "${alone[@]}")
flush() {
	while [ "$next" -lt "${#order[@]}" ] &&
	    [ -f "$work/${order[$next]}.rc" ]; do
		report "${order[$next]}"
		next=$((next + 1))
	done
}
for i in "${shared[@]}"; do
	slot=""
	while [ -z "$slot" ]; do
		for ((k = 0; k < JOBS; k++)); do
			[ -n "${slotpid[$k]:-}" ] || { slot=$k; break; }
		done
		if [ -z "$slot" ]; then
			wait -n -p done_pid
			k=${pidslot[$done_pid]}
			slotpid[$k]=""
			unset "pidslot[$done_pid]"
			flush
		fi
	done
	run_case "$i" "$slot" &
	slotpid[$slot]=$!
	pidslot[$!]=$slot
done
wait
flush
for i in "${alone[@]}"; do
	run_case "$i" 0
	flush
done

if [ "$gate" -eq 1 ]; then
	# every case file has a number of its own
	dup=$(for c in "${cases[@]}"; do basename "$c"; done | cut -d- -f1 |
	    sort | uniq -d | tr '\n' ' ')
	if [ -z "$dup" ]; then
		pass=$((pass + 1)); echo "PASS numbering"
	else
		failn=$((failn + 1)); failed="$failed numbering"
		echo "FAIL numbering: case files share the numbers $dup"
	fi
	if out=$("$HERE/coverage.sh" "$work/passed"); then
		pass=$((pass + 1)); echo "PASS coverage"
	else
		failn=$((failn + 1)); failed="$failed coverage"; echo "FAIL coverage"
	fi
	echo "$out" | sed 's/^/    /'
fi
echo "integration-${LABEL:-plain}: $pass passed, $failn failed, $skipn skipped"
[ -z "$failed" ] || echo "failed cases:$failed"
[ "$failn" -eq 0 ]
