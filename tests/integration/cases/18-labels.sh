#!/usr/bin/env bash
# CA labels (RFC 7030 3.2.2; doc/conformance.md cases 6, 7): a configured
# label is served under /.well-known/est/<label>/ and forwarded with the
# label in the upstream path; an unknown label is 4.04 without an upstream
# call; bad labels are configuration errors.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "labels": [ "arbitraryLabel1", "field-2" ] }'
start_daemon
wait_for "$T/daemon.log" 10 "cache: arbitraryLabel1/crts refreshed" ||
    fail "labelled crts cache did not warm"
ok "labelled caches warm at start"

# 6: a configured label
probe -m get -u /.well-known/est/arbitraryLabel1/crts
expect_pcode 2.05 "case 6: crts under a configured label -> 2.05"
grep -q "GET /.well-known/est/arbitraryLabel1/cacerts" "$T/up.req" ||
    fail "upstream did not see the label"
ok "case 6: label forwarded in the upstream path /.well-known/est/<label>/cacerts"
probe -m post -u /.well-known/est/field-2/sen -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/p7"
expect_pcode 2.04 "sen under a label"
grep -q "POST /.well-known/est/field-2/simpleenroll" "$T/up.req" ||
    fail "labelled sen did not reach /field-2/simpleenroll"
grep -q 'op=sen label=field-2 .*coap=2.04' "$T/daemon.log" ||
    fail "request line lacks the label"
ok "labelled sen forwarded and logged with its label"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "default root still served"

# 7: an unknown label
n=$(upstream_count up)
probe -m get -u /.well-known/est/nolabel/crts
expect_pcode 4.04 "case 7: unknown label -> 4.04"
expect_upstream up "$n" "case 7: no upstream call for an unknown label"

coap -m get /.well-known/core
grep -q '</.well-known/est/arbitraryLabel1/crts>;[^,]*rt="ace.est.crts"' \
    "$T/out" || fail "discovery lacks the labelled resources"
ok "discovery lists labelled resources"

# bad labels
D=$BUILD/estcoapd
for bad in '"sen"' '"a/b"' '""' '"x", "x"'; do
	write_config "https://localhost:1" ',
	"est": { "labels": [ '"$bad"' ] }'
	set +e
	"$D" -t -c "$T/estcoapd.json" >"$T/t.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 1 ] && grep -q "est.labels\[" "$T/t.out" ||
	    fail "label $bad accepted: $(cat "$T/t.out")"
done
ok "operation names, slashes, empty and duplicate labels refused"
done_case
