#!/bin/sh
# publish.sh: put the latest `make bench` results into the README.
#
# usage: scripts/bench/publish.sh [OUTDIR]     (default build/bench)
#
# Copies OUTDIR/results.md and the PNG plots to doc/bench/ and replaces
# the README's Performance table (between the bench-results markers)
# with results.md, plots linked from doc/bench/.  Review, then commit.
set -eu
cd "$(dirname "$0")/../.."
OUTDIR=${1:-build/bench}
[ -s "$OUTDIR/results.md" ] || { echo "publish: no $OUTDIR/results.md; run make bench" >&2; exit 1; }
mkdir -p doc/bench
cp "$OUTDIR/results.md" doc/bench/results.md
for p in latency.png memory.png; do
	[ -s "$OUTDIR/$p" ] && cp "$OUTDIR/$p" "doc/bench/$p"
done
[ -s "$OUTDIR/results.json" ] && cp "$OUTDIR/results.json" doc/bench/results.json
sed 's|^!\[\([a-z]*\.png\)\](\([a-z]*\.png\))$|![\1](doc/bench/\2)|' \
    "$OUTDIR/results.md" >"$OUTDIR/readme-table.md"
awk -v table="$OUTDIR/readme-table.md" '
	/^<!-- bench-results/ { print; while ((getline l < table) > 0) print l; skip = 1; next }
	/^<!-- \/bench-results -->/ { skip = 0 }
	!skip { print }
' README.md >README.md.new
mv README.md.new README.md
echo "publish: README.md and doc/bench/ updated from $OUTDIR"
