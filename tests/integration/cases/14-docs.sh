#!/usr/bin/env bash
# The documentation keeps up with the code: every configuration key the
# daemon knows (its own table, estcoapd -h -h) has an entry in
# estcoapd.json(5) and a line in the full sample config, and both man pages
# pass mandoc -Tlint.
. "$(dirname "$0")/../lib.sh"

keys=$("$BUILD/estcoapd" -h -h | awk '/^[a-z]/ && $2 != "object" { print $1 }')
[ -n "$keys" ] || fail "estcoapd -h -h listed no keys"
for k in $keys; do
	grep -q "^\.It Cm $k Pq" "$TOP/man/estcoapd.json.5" ||
	    fail "key $k is missing from man/estcoapd.json.5"
	leaf=${k##*.}
	grep -q "\"$leaf\"" "$TOP/conf/estcoapd.json" ||
	    fail "key $k is missing from conf/estcoapd.json"
done
ok "$(echo "$keys" | wc -l) keys documented in estcoapd.json(5) and the sample"

if command -v mandoc >/dev/null 2>&1; then
	# STYLE notes (e.g. cross references to pages not installed) are fine
	out=$(mandoc -Tlint -W warning "$TOP"/man/*.[0-9] 2>&1 | grep -v "mandoc.db" || true)
	[ -z "$out" ] || fail "mandoc -Tlint: $out"
	ok "mandoc -Tlint clean"
else
	ok "mandoc not installed, lint skipped"
fi
done_case
