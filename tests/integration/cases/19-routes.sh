#!/usr/bin/env bash
# Routes (doc/conformance.md cases 6, 7): a CA label goes to the upstream
# configured for it, with its own client identity and trust anchors; a
# route serves only its enabled operations (the others are 4.04 without
# an upstream call and are not in discovery); a reload moves a label to
# another server.
. "$(dirname "$0")/../lib.sh"

start_upstream one
# the second CA operator: its own server certificate, and it trusts only
# the registrar identity it issued (ra2), not ra
start_upstream two -c "$PKI/upstream2.crt" -k "$PKI/upstream2.key" \
    -C "$PKI/ca2-root.crt"
MPORT=$(free_port tcp)
ROUTES=',
	"service": { "metrics_port": '"$MPORT"' },
	"est": { "labels": [ "plain" ],
		 "operations": [ "crts", "sen", "att" ] },
	"labels": {
		"two": { "upstream": {
			"url": "https://localhost:'"$UP_PORT_two"'",
			"client_cert": "'"$PKI/ra2.crt"'",
			"client_key": "'"$PKI/ra2.key"'",
			"ca": "'"$PKI/ca2-root.crt"'" } },
		"few": { "operations": [ "crts" ] }
	}'
write_config "https://localhost:$UP_PORT_one" "$ROUTES"
start_daemon
wait_for "$T/daemon.log" 10 "cache: two/crts refreshed" ||
    fail "the crts cache of label two did not warm from its upstream"
ok "case 6: label two warms its cache from its own upstream"
grep -q "config: label two: upstream=https://localhost:$UP_PORT_two " \
    "$T/daemon.log" || fail "no summary line for label two"
ok "the start-up summary names each label's upstream"

curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/m1"
grep -q '^estcoapd_upstreams_up 2$' "$T/m1" &&
    grep -q "^estcoapd_upstream_server_up{server=\"https://localhost:$UP_PORT_two\"} 1$" "$T/m1" ||
    fail "at start two servers (one URL per server, whatever the routes) are up: $(grep up "$T/m1")"
ok "metrics count distinct servers up from the start"

# case 6: the label's requests go to its server, with its identity
probe -m get -u /.well-known/est/two/crts -o "$T/two.p7"
expect_pcode 2.05 "case 6: crts under label two"
probe -m post -u /.well-known/est/two/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "case 6: sen under label two"
grep -q "^POST /.well-known/est/two/simpleenroll .*cn=estcoapd-ra2$" \
    "$T/two.req" || fail "label two's sen did not reach its upstream as ra2"
grep -q "/two/" "$T/one.req" && fail "the default upstream saw label two"
ok "case 6: label two forwarded to its own upstream with its own identity"
grep -q "GET /.well-known/est/two/cacerts .*cn=estcoapd-ra2$" "$T/two.req" ||
    fail "two's crts not fetched as ra2"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "default route sen"
probe -m post -u /.well-known/est/plain/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "case 6: est.labels label sen"
[ "$(upstream_count one 'POST .*simpleenroll .*cn=estcoapd-ra$')" -eq 2 ] ||
    fail "the default route and label plain did not use upstream one as ra"
[ "$(upstream_count two POST)" -eq 1 ] || fail "upstream two saw extra POSTs"
ok "default route and est.labels inherit the top-level upstream"

# disabled operations: 4.04, no upstream call, not in discovery
n1=$(upstream_count one)
n2=$(upstream_count two)
probe -m post -u /.well-known/est/few/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 4.04 "case 7: sen disabled on label few"
probe -m post -u /.well-known/est/sren -t 286 -f "$PKI/csr-p256.der"
expect_pcode 4.04 "case 7: sren disabled by est.operations"
probe -m get -u /.well-known/est/few/att
expect_pcode 4.04 "case 7: att disabled on label few"
probe -m get -u /.well-known/est/nolabel/crts
expect_pcode 4.04 "case 7: unknown label"
expect_upstream one "$n1" "no upstream call for a disabled operation"
expect_upstream two "$n2" "no upstream call on the other route either"
probe -m get -u /.well-known/est/few/crts
expect_pcode 2.05 "crts enabled on label few"

coap -m get /.well-known/core
grep -q '</.well-known/est/few/crts>' "$T/out" ||
    fail "discovery lacks few/crts: $(cat "$T/out")"
grep -q '</.well-known/est/two/sen>' "$T/out" ||
    fail "discovery lacks two/sen"
# est.operations is the default route's: labels keep the default set
grep -q '</.well-known/est/plain/sren>' "$T/out" ||
    fail "discovery lacks plain/sren"
for gone in few/sen few/att sren; do
	grep -q "</.well-known/est/$gone>" "$T/out" &&
	    fail "discovery lists the disabled $gone"
done
ok "case 7: discovery lists enabled operations only, per label"

# SIGHUP: label two moves to another server of the same CA operator
start_upstream three -c "$PKI/upstream2.crt" -k "$PKI/upstream2.key" \
    -C "$PKI/ca2-root.crt"
sed -i "s|https://localhost:$UP_PORT_two|https://localhost:$UP_PORT_three|" \
    "$T/estcoapd.json"
n2=$(upstream_count two)
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload with a new upstream for label two failed"
wait_for "$T/daemon.log" 10 "config: label two: upstream=https://localhost:$UP_PORT_three " ||
    fail "the reload summary does not name the new server"
# another CSR: the same one would be answered from the exchange table
probe -m post -u /.well-known/est/two/sen -t 286 -f "$PKI/csr-p256-2.der"
expect_pcode 2.04 "sen under label two after the reload"
grep -q "^POST /.well-known/est/two/simpleenroll .*cn=estcoapd-ra2$" \
    "$T/three.req" || fail "label two's sen did not go to the new server"
expect_upstream two "$n2" "the old server of label two is no longer used"
ok "SIGHUP moves a label to another upstream"
curl -s "http://127.0.0.1:$MPORT/metrics" >"$T/m2"
grep -q "^estcoapd_upstream_server_up{server=\"https://localhost:$UP_PORT_three\"} 1$" "$T/m2" ||
    fail "the new server has no up gauge"
grep -q "^estcoapd_upstream_server_up{server=\"https://localhost:$UP_PORT_two\"" "$T/m2" &&
    fail "the server reloaded away is still in the up gauge"
ok "the up gauge follows the reload"

# a label's operations are restart-only: the reload is refused, named
sed -i 's|"operations": \[ "crts" \]|"operations": [ "crts", "att" ]|' \
    "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "labels.few.operations: cannot change while running" ||
    fail "a changed label operation set was not refused by name"
probe -m get -u /.well-known/est/few/att
expect_pcode 4.04 "the old operations stay after the refused reload"
ok "changing a label's operations needs a restart"
done_case
