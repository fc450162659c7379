#!/usr/bin/env bash
# Discovery (RFC 9148 4.1, 5; RFC 6690; doc/conformance.md cases 1-3):
# GET /.well-known/core lists every served EST resource with its rt and ct,
# per CA label, and honours ?name=value[*] filters. The optional plain-CoAP
# listener (discovery.listen) answers only discovery, with absolute coaps
# links; every EST operation on it is 4.01 without an upstream call.
. "$(dirname "$0")/../lib.sh"

# links FILE: the link-format document, one link per line
links() {
	tr ',' '\n' <"$1"
	echo
}

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_daemon
base=$(upstream_count up)

# 1: the whole document over DTLS
probe -m get -u /.well-known/core -o "$T/core"
expect_pcode 2.05 "case 1: GET /.well-known/core -> 2.05"
[ "$(probe_field cf)" = 40 ] || fail "discovery cf $(probe_field cf), want 40"
ok "case 1: discovery answer has CF 40 (link-format)"
for op in crts sen sren; do
	grep -qx "</.well-known/est/$op>;rt=\"ace.est.$op\";ct=\"281 287\"" \
	    <(links "$T/core") || fail "discovery lacks $op: $(cat "$T/core")"
done
ok "case 1: crts, sen, sren listed with rt=\"ace.est.*\" and ct=\"281 287\""
grep -qx '</.well-known/est/att>;rt="ace.est.att";ct=285' <(links "$T/core") ||
    fail "discovery lacks att with ct=285"
ok "att listed with ct=285"

# 2: the rt prefix filter; att is served, skg and skc are not enabled
probe -m get -u "/.well-known/core?rt=ace.est*" -o "$T/est"
expect_pcode 2.05 "case 2: GET /.well-known/core?rt=ace.est* -> 2.05"
[ "$(links "$T/est" | grep -vc 'rt="ace\.est\.')" -eq 0 ] ||
    fail "non-EST link in the rt=ace.est* answer: $(cat "$T/est")"
[ "$(links "$T/est" | sed 's/>.*//; s/.*\///' | sort | tr '\n' ' ')" = \
    "att crts sen sren " ] || fail "rt=ace.est* listed $(cat "$T/est")"
ok "case 2: rt=ace.est* lists only EST links: crts, sen, sren, att (skg, skc disabled)"
probe -m get -u "/.well-known/core?rt=ace.est.sen" -o "$T/sen"
[ "$(links "$T/sen" | wc -l)" -eq 1 ] && grep -q '/sen>' "$T/sen" ||
    fail "rt=ace.est.sen: $(cat "$T/sen")"
ok "an exact rt filter lists the one resource"
probe -m get -u "/.well-known/core?ct=285" -o "$T/ct"
[ "$(cat "$T/ct")" = '</.well-known/est/att>;rt="ace.est.att";ct=285' ] ||
    fail "ct=285: $(cat "$T/ct")"
probe -m get -u "/.well-known/core?ct=287" -o "$T/ct"
[ "$(links "$T/ct" | wc -l)" -eq 3 ] || fail "ct=287: $(cat "$T/ct")"
probe -m get -u "/.well-known/core?href=/.well-known/est/cr*" -o "$T/href"
[ "$(cat "$T/href")" = '</.well-known/est/crts>;rt="ace.est.crts";ct="281 287"' ] ||
    fail "href=/.well-known/est/cr*: $(cat "$T/href")"
ok "ct (one value of a list) and href prefix filters"

# 3: a filter that matches nothing: 2.05 with an empty document
probe -m get -u "/.well-known/core?rt=ace.est.skg"
expect_pcode 2.05 "case 3: rt=ace.est.skg with skg disabled -> 2.05"
[ "$(probe_field len)" = 0 ] || fail "rt=ace.est.skg: payload $(probe_field len) bytes"
ok "case 3: rt=ace.est.skg with skg disabled -> empty payload"
coap -m get "/.well-known/core?rt=ace.est*"
expect_code 2.xx "discovery with coap-client-openssl"
cmp -s "$T/out" "$T/est" || fail "coap-client got another document"
coap -m post -t 40 -f "$T/core" /.well-known/core
expect_code 4.05 "POST /.well-known/core -> 4.05"
expect_upstream up "$base" "discovery made no upstream call"
grep -q 'op=core label=- method=1 .*coap=2.05 .*reason=discovery' \
    "$T/daemon.log" || fail "discovery request line not logged"
ok "discovery logged with its request line"
stop_daemon

# labels and keygen: one link per label and operation, skg/skc listed
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "labels": [ "lab1", "lab-2" ], "server_keygen": true }'
start_daemon
probe -m get -u "/.well-known/core?rt=ace.est*" -o "$T/all"
[ "$(links "$T/all" | wc -l)" -eq 18 ] || fail "want 3 x 6 links: $(cat "$T/all")"
for l in "" lab1/ lab-2/; do
	for op in crts sen sren att skg skc; do
		grep -q "^</.well-known/est/$l$op>;rt=\"ace.est.$op\";ct=" \
		    <(links "$T/all") || fail "no link for $l$op"
	done
done
ok "case 2: skg, skc listed when enabled; every label gets its 6 links"
grep -qx '</.well-known/est/lab1/skg>;rt="ace.est.skg";ct=62' <(links "$T/all") ||
    fail "skg link: $(links "$T/all" | grep lab1/skg)"
probe -m get -u "/.well-known/core?href=/.well-known/est/lab-2/*" -o "$T/l2"
[ "$(links "$T/l2" | wc -l)" -eq 6 ] || fail "href=lab-2/*: $(cat "$T/l2")"
ok "skg ct=62; href filter per label"
# a big document (18 links) still arrives whole in small Block2 blocks
probe -m get -u /.well-known/core -2 1 -o "$T/small"
cmp -s "$T/small" "$T/all" || fail "discovery in 32-byte blocks differs"
ok "discovery in 32-byte Block2 blocks is byte-exact"
stop_daemon

# est.operations: discovery lists what each route serves, nothing more
# (an est.labels label keeps the default set)
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "operations": [ "crts", "sen", "sren" ], "labels": [ "lab1" ] }'
NOWARM=1 start_daemon
probe -m get -u /.well-known/core -o "$T/ops"
[ "$(links "$T/ops" | sed 's/>.*//' | tr '\n' ' ')" = \
    "</.well-known/est/crts </.well-known/est/sen </.well-known/est/sren </.well-known/est/lab1/crts </.well-known/est/lab1/sen </.well-known/est/lab1/sren </.well-known/est/lab1/att " ] ||
    fail "with est.operations: $(cat "$T/ops")"
ok "case 2: att not listed for the default route when est.operations leaves it out"
stop_daemon

# the plain-CoAP listener: discovery only, absolute coaps links
DPORT=$(free_port udp)
write_config "https://localhost:$UP_PORT_up" ',
	"discovery": { "listen": [ { "address": "127.0.0.1", "port": '"$DPORT"' } ] }'
start_daemon
base=$(upstream_count up)
plain() {
	set +e
	"$COAP_CLIENT" -B 5 "$@" >"$T/plain.out" 2>&1
	set -e
}
plain -m get -o "$T/pcore" "coap://127.0.0.1:$DPORT/.well-known/core"
grep -qx "<coaps://127.0.0.1:$PORT/.well-known/est/crts>;rt=\"ace.est.crts\";ct=\"281 287\"" \
    <(links "$T/pcore") || fail "plain discovery: $(cat "$T/pcore" "$T/plain.out")"
[ "$(links "$T/pcore" | wc -l)" -eq 4 ] || fail "plain discovery: $(cat "$T/pcore")"
ok "plain CoAP discovery: absolute coaps:// links to the DTLS port"
# the advertised link works as it stands
href=$(links "$T/pcore" | sed -n 's/^<\(coaps:[^>]*\/crts\)>.*/\1/p')
"$COAP_CLIENT" -B 10 -c "$PKI/device.crt" -j "$PKI/device.key" \
    -R "$PKI/root-ca.crt" -o "$T/viacrts" -m get "$href" >/dev/null 2>&1 ||
    fail "GET $href failed"
p7_certs "$T/viacrts" | grep -q 'BEGIN CERTIFICATE' ||
    fail "the advertised crts link gave no certificates"
ok "the advertised coaps link serves crts"
plain -m get -o "$T/pf" "coap://127.0.0.1:$DPORT/.well-known/core?rt=ace.est.sen"
[ "$(cat "$T/pf")" = "<coaps://127.0.0.1:$PORT/.well-known/est/sen>;rt=\"ace.est.sen\";ct=\"281 287\"" ] ||
    fail "plain filtered discovery: $(cat "$T/pf")"
ok "plain discovery honours filters"
plain -m get "coap://127.0.0.1:$DPORT/.well-known/est/crts"
grep -q '^4\.01 EST needs coaps' "$T/plain.out" ||
    fail "plain GET crts: $(cat "$T/plain.out")"
ok "plain CoAP GET crts -> 4.01 with a diagnostic"
plain -m post -t 286 -f "$PKI/csr-p256.der" \
    "coap://127.0.0.1:$DPORT/.well-known/est/sen"
grep -q '^4\.01' "$T/plain.out" || fail "plain POST sen: $(cat "$T/plain.out")"
ok "plain CoAP POST sen -> 4.01"
plain -m get "coap://127.0.0.1:$DPORT/.well-known/est/foo"
grep -q '^4\.04' "$T/plain.out" || fail "plain unknown path: $(cat "$T/plain.out")"
ok "plain CoAP unknown path -> 4.04"
expect_upstream up "$base" "no EST operation over plain CoAP reached the upstream"
grep -q 'op=sen label=- method=2 .*coap=4.01 .*reason=plain-coap' \
    "$T/daemon.log" || fail "plain refusal not logged"
ok "plain refusal logged with its request line"
# DTLS keeps working on the same daemon and counts no plain handshakes
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "DTLS crts beside the plain listener"
# the discovery section needs a restart: a reload that changes it is refused
sed -i "s/\"port\": $DPORT/\"port\": $((DPORT + 1))/" "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "discovery: cannot change while running" ||
    fail "discovery change on reload not refused"
plain -m get -o "$T/again" "coap://127.0.0.1:$DPORT/.well-known/core"
cmp -s "$T/again" "$T/pcore" || fail "plain listener gone after the refused reload"
ok "a reload changing discovery is refused; the listener stays"
stop_daemon

# discovery.advertise names the coaps authority
write_config "https://localhost:$UP_PORT_up" ',
	"discovery": { "listen": [ { "address": "127.0.0.1", "port": '"$DPORT"' } ],
		"advertise": "registrar.example:61616" }'
start_daemon
plain -m get -o "$T/adv" "coap://127.0.0.1:$DPORT/.well-known/core?rt=ace.est.crts"
[ "$(cat "$T/adv")" = '<coaps://registrar.example:61616/.well-known/est/crts>;rt="ace.est.crts";ct="281 287"' ] ||
    fail "advertise: $(cat "$T/adv")"
ok "discovery.advertise used in the plain links"
stop_daemon

# limits.rate_per_source applies to plain CoAP too, silently: a forged
# source must not make us an amplifier (RFC 7252 11.3)
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "rate_per_source": 1, "rate_burst": 2 },
	"discovery": { "listen": [ { "address": "127.0.0.1", "port": '"$DPORT"' } ] }'
start_daemon
pids=""
for i in 1 2 3 4 5 6; do
	"$COAP_CLIENT" -v 6 -N -B 2 -m get \
	    "coap://127.0.0.1:$DPORT/.well-known/core?rt=ace.est.crts" \
	    >"$T/rl.$i" 2>&1 &
	pids="$pids $!"
done
# shellcheck disable=SC2086
wait $pids || true
n=$(cat "$T"/rl.[1-6] | grep -c '^v:1 t:NON c:2.05' || true)
# a burst of 2, then 1 a second: on a loaded box the six may spread out
[ "$n" -ge 2 ] && [ "$n" -le 4 ] ||
    fail "6 requests at once with a burst of 2: $n answered"
ok "plain CoAP past limits.rate_per_source: no answer ($n of 6 answered, burst 2)"
stop_daemon

# configuration errors
bad_disc() {
	write_config "https://localhost:1" ',
	"discovery": '"$1"
	sed -i "s/@PORT@/$PORT/" "$T/estcoapd.json"
	set +e
	"$BUILD/estcoapd" -t -c "$T/estcoapd.json" >"$T/t.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 1 ] && grep -q "$2" "$T/t.out" ||
	    fail "discovery $1 accepted or wrong message: $(cat "$T/t.out")"
}
bad_disc '{ "multicast": [ "ff02::fd" ] }' "discovery.multicast: needs a discovery.listen"
bad_disc '{ "listen": [ { "address": "127.0.0.1" } ], "multicast": [ "10.0.0.1" ] }' \
    "discovery.multicast\[0\]: must be a numeric IPv4 or IPv6 multicast"
bad_disc '{ "listen": [ { "address": "::" } ], "interface": "a-very-long-name0" }' \
    "discovery.interface: longer than an interface name"
bad_disc '{ "listen": [ { "address": "127.0.0.1", "port": @PORT@ } ] }' \
    "discovery.listen\[0\]: same address and port as listen\[0\]"
bad_disc '{ "listen": [ { "address": "nowhere" } ] }' \
    "discovery.listen\[0\].address: must be a numeric"
bad_disc '{ "listen": [ ], "advertise": "coaps://x/y" }' \
    "discovery.advertise: must be host:port"
ok "bad discovery settings refused with the key named"
done_case
