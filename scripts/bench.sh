#!/usr/bin/env bash
# make bench: run the benchmark scenarios B0..B9 (doc/bench/results.md) on loopback
# and write build/bench/results.json, results.md and the plots.
#
# usage: scripts/bench.sh [B0 B1 ...]      (default: every scenario found)
#
# Each scenario is scripts/bench/bN.sh defining bench_bN; B0 measures the
# baselines of this run that the other scenarios' ratios divide by.
# Environment knobs (all optional):
#   BENCH_SCALE=0.5     multiply counts and durations (quick look: 0.2)
#   BENCH_B4_DEVICES    B4 crowd size (default 10000 * scale)
#   BENCH_B6_SESSIONS   B6 session counts (default "1000 5000 20000",
#                       scaled; limited by the descriptor limit)
#   BENCH_DEVICES       distinct device identities minted (default 1000)
#   BENCH_B8_RESUME     B8 dtls.session_resumption modes (default
#                       "cache tickets off")
#   BENCH_B9_SIZES      B9 idle sessions / pending requests (default
#                       "100 1000 5000", scaled); BENCH_B9_LOAD its load
#                       (kept sessions, one request each, default 64)
#   BENCH_SUT           another estcoapd binary to measure (before/after
#                       with the same generator)
#   BENCH_KEEP=1        with scenarios named: re-run only those into the
#                       previous results (the others' rows are kept)
# Nothing here asserts a time; the results say met / not met per target.
set -uo pipefail
cd "$(dirname "$0")/.."
BENCH_TOP=$(pwd)
. scripts/bench/lib.sh

SCALE=${BENCH_SCALE:-1}
export SCALE
# scaled N: an integer count times BENCH_SCALE, at least 1
scaled() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); print v < 1 ? 1 : v }'; }

start=$(date +%s)
mkdir -p "$OUT" "$RAW" "$RUN"
# BENCH_KEEP=1 re-runs the named scenarios into the previous results
if [ "${BENCH_KEEP:-0}" = 1 ] && [ $# -gt 0 ] && [ -f "$OUT/targets.jsonl" ]; then
	for s in "$@"; do
		grep -v "\"scenario\": \"$s\"" "$OUT/targets.jsonl" >"$OUT/targets.new" || true
		mv "$OUT/targets.new" "$OUT/targets.jsonl"
		rm -f "$RAW/$s"-*.json "$RAW/$s".json
	done
	sed -i '/^load_end=/d; /^seconds=/d' "$OUT/machine"
	keep=1
else
	rm -f "$RAW"/*.json "$OUT/targets.jsonl" "$OUT/values" "$OUT"/*.dat
	keep=0
fi
trap 'bench_stop_all' EXIT
trap 'bench_stop_all; exit 130' INT TERM

say "build"
make -s -j"$(( NCPU < 2 ? 1 : 2 ))" all >/dev/null || { say "build failed"; exit 1; }
say "PKI and $(scaled 1000) devices (cached under $OUT)"
scripts/mkpki.sh "$PKI" || exit 1
scripts/bench/mkdevs.sh "$DEVS" "${BENCH_DEVICES:-1000}" p256 || exit 1
scripts/bench/mkdevs.sh "$DEVS_RSA" 64 rsa3072 || exit 1
# what devices trust: the registrar's chain (and coap-server's bare leaf)
cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$OUT/server-trust.pem"
cat "$DEVS/dev-ca.crt" "$DEVS_RSA/dev-ca.crt" "$PKI/root-ca.crt" \
    "$PKI/est-ca.crt" >"$RUN/client-ca.pem"

# the machine, recorded with the results
[ "$keep" = 1 ] || {
	echo "nproc=$NCPU"
	echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
	echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "pinning=sut:${SUT_CPUS:-none} upstream:${UP_CPUS:-none} generator:${GEN_CPUS:-none}"
	echo "scale=$SCALE"
	echo "openssl=$(openssl version | cut -d' ' -f2)"
	echo "libcoap=$(dpkg-query -W -f='${Version}' libcoap3 2>/dev/null || echo unknown)"
	echo "b4_devices=${BENCH_B4_DEVICES:-$(scaled 10000)}"
	echo "b6_sessions=${BENCH_B6_SESSIONS:-$(scaled 1000) $(scaled 5000) $(scaled 20000)}"
} >"$OUT/machine"
[ "$keep" = 0 ] || echo "rerun=$* at $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)${BENCH_B6_SESSIONS:+, B6 sessions $BENCH_B6_SESSIONS}" >>"$OUT/machine"

if [ $# -gt 0 ]; then
	scen="$*"
else
	scen=$(ls scripts/bench/b[0-9].sh | sed 's|.*/b\([0-9]\)\.sh|B\1|' | tr '\n' ' ')
fi
for s in $scen; do
	n=$(echo "$s" | tr -dc 0-9)
	f=scripts/bench/b$n.sh
	[ -f "$f" ] || { say "$s: no $f"; continue; }
	say "== $s"
	t0=$(date +%s)
	# shellcheck disable=SC1090
	. "$f"
	if ! "bench_b$n"; then
		say "$s: scenario failed"
		bench_target "$s.run" "scenario $s ran to the end" 0 "" - ">=" 1 \
		    "failed: see build/bench/run/*.log"
	fi
	bench_stop_all
	say "$s took $(( $(date +%s) - t0 )) s"
done

echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine"
echo "seconds=$(( $(date +%s) - start ))" >>"$OUT/machine"
python3 scripts/bench/report.py "$OUT" || exit 1
say "results: $OUT/results.md ($(( $(date +%s) - start )) s)"
