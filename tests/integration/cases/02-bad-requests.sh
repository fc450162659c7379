#!/usr/bin/env bash
# Requests that fail the registrar's own checks get their CoAP error at once
# and never reach the upstream (doc/conformance.md cases 1, 4, 5, 8, 9, 10,
# 27-36, 37).
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_daemon
base=$(upstream_count up)

# 4, 5: unknown paths
coap -m get /.well-known/est/foo
expect_code 4.04 "case 4: GET unknown est path -> 4.04"
coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/fullcmc
expect_code 4.04 "case 5: POST fullcmc -> 4.04"
grep -q 'op=/.well-known/est/foo label=- method=1 .*coap=4.04 .*reason=unknown-path' \
    "$T/daemon.log" || fail "unknown path not logged"
ok "unknown path logged with its request line"
coap -m get /.well-known/core
for op in crts sen sren att; do
	grep -q "</.well-known/est/$op>;[^,]*rt=\"ace.est.$op\"" "$T/out" ||
	    fail "discovery lacks $op"
done
ok "case 1: discovery lists crts, sen, sren, att with rt=ace.est.*"

# 8: wrong methods
coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/crts
expect_code 4.05 "case 8: POST crts -> 4.05"
coap -m get /.well-known/est/sen
expect_code 4.05 "case 8: GET sen -> 4.05"
coap -m put -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sren
expect_code 4.05 "case 8: PUT sren -> 4.05"
coap -m delete /.well-known/est/att
expect_code 4.05 "case 8: DELETE att -> 4.05"
coap -m fetch /.well-known/est/crts
expect_code 4.05 "case 8: FETCH crts -> 4.05"

# 9, 10: Proxy-Uri and an unknown critical option (libcoap answers these)
probe -m get -u /.well-known/est/crts -O 35,636f6170733a2f2f782f79
expect_pcode 5.05 "case 9: request with Proxy-Uri -> 5.05"
probe -m get -u /.well-known/est/crts -O 65001,01
expect_pcode 4.02 "case 10: unknown critical option 65001 on a CON -> 4.02"

# 27, 28: content format
coap -m post -t 0 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 4.15 "case 27: sen with CF 0 -> 4.15"
coap -m post -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 4.15 "case 28: sen without Content-Format -> 4.15"

# 29, 30: Accept
coap -m post -t 286 -A 285 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 4.06 "case 29: sen with Accept 285 -> 4.06"
coap -m get -A 286 /.well-known/est/crts
expect_code 4.06 "crts with Accept 286"
probe -m post -u /.well-known/est/sen -t 286 -A 281 -A 287 \
    -f "$PKI/csr-p256.der"
expect_pcode 4.02 "case 30: sen with two Accept options -> 4.02"

# 31-36: bodies that are not a valid DER PKCS#10
: >"$T/empty"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/empty"
expect_pcode 4.00 "case 31: sen with an empty payload -> 4.00"
head -c 300 /dev/urandom >"$T/random"
coap -m post -t 286 -f "$T/random" /.well-known/est/sen
expect_code 4.00 "case 32: sen with random bytes -> 4.00"
{ cat "$PKI/csr-p256.der"; printf 'x'; } >"$T/trailing"
coap -m post -t 286 -f "$T/trailing" /.well-known/est/sen
expect_code 4.00 "case 33: sen with one trailing byte -> 4.00"
openssl req -inform DER -in "$PKI/csr-p256.der" -outform PEM >"$T/csr.pem"
coap -m post -t 286 -f "$T/csr.pem" /.well-known/est/sen
expect_code 4.00 "case 34: sen with a PEM CSR -> 4.00"
# flip one bit near the end: inside the signature
cp "$PKI/csr-p256.der" "$T/badsig"
sz=$(stat -c %s "$T/badsig")
b=$(od -An -tu1 -j $((sz - 4)) -N1 "$T/badsig" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 1 )))" |
    dd of="$T/badsig" bs=1 seek=$((sz - 4)) conv=notrunc 2>/dev/null
coap -m post -t 286 -f "$T/badsig" /.well-known/est/sen
expect_code 4.00 "case 35: sen with a corrupted signature -> 4.00"
printf '\x30\x84\xff\xff\xff\xff\x02\x01\x00' >"$T/absurd"
coap -m post -t 286 -f "$T/absurd" /.well-known/est/sen
expect_code 4.00 "case 36: sen with an absurd DER length -> 4.00"
grep -q 'coap=4.00 .*reason=bad-csr' "$T/daemon.log" ||
    fail "bad CSR not logged with its reason"
ok "bad CSR logged"

# SZX 7 is reserved (RFC 7959 2.2)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
    -O 27,0f
expect_pcode 4.00 "case 41: Block1 with SZX 7 -> 4.00"

# one message over limits.max_request_body -> 4.13 with Size1
# stays under the DTLS MTU (1152): larger single datagrams are refused
# by libcoap before any handler runs, which is RFC 7252 4.6 behaviour
head -c 1060 /dev/urandom >"$T/big"
expect_upstream up "$base" "no upstream call for any rejected request (cases 4, 5, 8, 27-36)"
stop_daemon
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "max_request_body": 1024, "block1_budget": 65536 }'
start_daemon
base=$(upstream_count up)
probe -m post -u /.well-known/est/sen -t 286 -f "$T/big"
expect_pcode 4.13 "case 37: oversize single-message CSR -> 4.13"
[ "$(probe_field size1)" = 1024 ] || fail "4.13 without Size1=1024"
ok "case 37: 4.13 carries Size1 = limit"
head -c 4000 /dev/urandom >"$T/big"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/big" -b 2
expect_pcode 4.13 "case 37: oversize CSR in Block1 -> 4.13"

expect_upstream up "$base" "no upstream call for an oversize CSR"
done_case
