#!/usr/bin/env bash
# The documentation tells what the code does: the generated sections of
# both man pages (the key reference, the resource table, the log reasons,
# the audit events, the metric families) and conf/estcoapd-defaults.json
# are what `make docs` writes from the daemon's tables today; both man
# pages pass mandoc -Tlint; and every sample config in conf/ passes
# `estcoapd -t` once the files it names exist.
. "$(dirname "$0")/../lib.sh"

out=$(DOCGEN="$BUILD/estcoapd-docgen" DOCS_OUT="$T/docs" \
    "$TOP/scripts/docs.sh" --check 2>&1) ||
    fail "generated documentation is out of date (run make docs):
$out"
ok "generated sections and estcoapd-defaults.json match the code"

if command -v mandoc >/dev/null 2>&1; then
	# STYLE notes (e.g. cross references to pages not installed) are fine
	out=$(mandoc -Tlint -W warning "$TOP"/man/*.[0-9] 2>&1 | grep -v "mandoc.db" || true)
	[ -z "$out" ] || fail "mandoc -Tlint: $out"
	ok "mandoc -Tlint clean"
else
	ok "mandoc not installed, lint skipped"
fi

# the files the samples name, under the names they use
mkdir -p "$T/etc" "$T/log"
for f in dtls.crt dtls.key dtls-chain.pem ra.crt ra.key; do
	cp "$PKI/$f" "$T/etc/$f"
done
cp "$PKI/device-ca.crt" "$T/etc/device-ca.pem"
cp "$PKI/root-ca.crt" "$T/etc/upstream-ca.pem"
for f in estcoapd.json estcoapd-defaults.json estcoapd-minimal.json; do
	sed -e "s|/etc/estcoapd/|$T/etc/|g" -e "s|/var/log/estcoapd/|$T/log/|g" \
	    "$TOP/conf/$f" >"$T/$f"
	out=$("$BUILD/estcoapd" -t -c "$T/$f" 2>&1) ||
	    fail "conf/$f does not pass estcoapd -t: $out"
done
ok "conf/estcoapd.json, estcoapd-defaults.json, estcoapd-minimal.json pass -t"

# the example says it is one, the defaults file holds no comment
head -1 "$TOP/conf/estcoapd.json" | grep -q "EXAMPLE" ||
    fail "conf/estcoapd.json does not say it is an example"
jq -e . "$TOP/conf/estcoapd-defaults.json" >/dev/null ||
    fail "conf/estcoapd-defaults.json is not plain JSON"
ok "the example is marked, the defaults file is plain JSON"
done_case
