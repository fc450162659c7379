#!/usr/bin/env bash
# Discovery and authorization (README, "Attacks and what stops them"): over DTLS,
# /.well-known/core lists only the links (labels, operations) the device
# may use under the routes' authorization; the plain-CoAP listener, whose
# requests may come from spoofed addresses, answers at most three times
# the request's size: a larger document goes out in small Block2 blocks
# that the device fetches one by one (RFC 7959 2.4, RFC 7252 11.3).
. "$(dirname "$0")/../lib.sh"

start_upstream up
DPORT=$(free_port udp)
write_config "https://localhost:$UP_PORT_up" ',
	"discovery": { "listen": [ { "address": "127.0.0.1", "port": '"$DPORT"' } ] },
	"auth": { "rules": [
		{ "issuer": "/O=Example Manufacturer/CN=*IDevID CA",
		  "operations": [ "crts", "sen" ] },
		{ "issuer": "*/CN=estcoapd test EST CA",
		  "operations": [ "crts", "att", "sren" ] } ] },
	"labels": { "second": { "auth": {
		"trust": [ "'"$PKI"'/device-ca2.crt" ],
		"rules": [ { "operations": [ "crts", "sen" ] } ] } } }'
start_daemon

# links DEVICE: the hrefs discovery shows that device, sorted, one a line
links() {
	DEV_CERT=$PKI/$1.crt DEV_KEY=$PKI/$1.key \
	    probe -m get -u /.well-known/core -o "$T/core.$1"
	expect_pcode 2.05 "discovery as $1"
	tr ',' '\n' <"$T/core.$1" | sed -n 's/^<\([^>]*\)>.*/\1/p' | sort |
	    tr '\n' ' '
}
got=$(links device)
[ "$got" = "/.well-known/est/crts /.well-known/est/sen " ] ||
    fail "IDevID of the first manufacturer sees: $got"
ok "an IDevID sees the default route's crts and sen, not sren, att or the label"
got=$(links ldev)
[ "$got" = "/.well-known/est/att /.well-known/est/crts /.well-known/est/sren " ] ||
    fail "LDevID sees: $got"
ok "an LDevID sees what its rule allows"
got=$(links device2)
[ "$got" = "/.well-known/est/second/crts /.well-known/est/second/sen " ] ||
    fail "second manufacturer's device sees: $got"
ok "a device trusted only by a label sees only that label's links"
grep -q 'op=core label=- method=1 .*coap=2.05 .*reason=discovery' \
    "$T/daemon.log" || fail "discovery request line not logged"

# plain CoAP: the issue's 21-byte GET /.well-known/core
# raw NAME HEX...: one datagram to the plain listener, the answer in $T/NAME
raw() {
	local name=$1 hex=$2
	exec 3<>"/dev/udp/127.0.0.1/$DPORT" || fail "cannot open UDP"
	printf '%b' "$hex" >&3
	timeout 2 cat <&3 >"$T/$name" || true
	exec 3<&-
	[ -s "$T/$name" ] || fail "$name: no answer"
}
REQ='\x40\x01\x12\x34\xbb.well-known\x04core'
raw plain "$REQ"
n=$(stat -c %s "$T/plain")
[ "$n" -le 63 ] || fail "21-byte request answered with $n bytes"
ok "plain discovery: 21 bytes in, $n out (at most 3x)"
# a Block2 request asking for 1024-byte blocks gets a smaller one
raw b2 "$REQ"'\xc1\x16'
n=$(stat -c %s "$T/b2")
[ "$n" -le 69 ] || fail "23-byte Block2 request answered with $n bytes"
ok "plain discovery with Block2 1/0/1024: $n bytes (at most 3x)"
# the whole document still arrives, block by block
"$COAP_CLIENT" -B 10 -m get -o "$T/pcore" \
    "coap://127.0.0.1:$DPORT/.well-known/core" >"$T/plain.out" 2>&1 ||
    fail "coap-client: $(cat "$T/plain.out")"
[ "$(tr ',' '\n' <"$T/pcore" | grep -c '^<coaps://')" -eq 8 ] ||
    fail "plain discovery document: $(cat "$T/pcore")"
ok "the whole plain document arrives block by block"
# a block past the end is 4.02
raw past "$REQ"'\xc2\x0f\xf6'
[ "$(od -An -tx1 -j1 -N1 "$T/past" | tr -d ' ')" = 82 ] ||
    fail "Block2 past the end: $(od -An -tx1 "$T/past" | head -n1)"
ok "a Block2 past the end of the document is 4.02"
done_case
