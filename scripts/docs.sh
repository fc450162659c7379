#!/bin/sh
# make docs: write the generated sections of the man pages and
# conf/estcoapd-defaults.json anew from the daemon's own tables (the
# config schema, the operation table, the log words, the metric families),
# with build/estcoapd-docgen (tools/docgen.c).
# scripts/docs.sh --check: change nothing; print the difference and fail
# when a checked-in file is not what the code generates now (make check,
# integration case 14-docs).
set -eu
cd "$(dirname "$0")/.."
gen=${DOCGEN:-build/estcoapd-docgen}
out=${DOCS_OUT:-build/docs}
check=0
[ "${1:-}" != --check ] || check=1
[ -x "$gen" ] || { echo "docs: $gen missing: run make" >&2; exit 2; }
mkdir -p "$out"

"$gen" splice man/estcoapd.8 "$out/estcoapd.8"
"$gen" splice man/estcoapd.json.5 "$out/estcoapd.json.5"
"$gen" defaults "$out/estcoapd-defaults.json"

stale=""
for f in man/estcoapd.8 man/estcoapd.json.5 conf/estcoapd-defaults.json; do
	new="$out/$(basename "$f")"
	if [ -f "$f" ] && cmp -s "$f" "$new"; then
		continue
	fi
	if [ "$check" -eq 1 ]; then
		diff -u "$f" "$new" || true
		stale="$stale $f"
	else
		cp "$new" "$f"
		echo "docs: wrote $f"
	fi
done
if [ -n "$stale" ]; then
	echo "docs: generated documentation out of date:$stale" >&2
	echo "docs: run make docs and commit the result" >&2
	exit 1
fi
[ "$check" -eq 1 ] && echo "docs: generated sections up to date" || true
