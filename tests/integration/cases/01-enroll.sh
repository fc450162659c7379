#!/usr/bin/env bash
# A device enrolls end to end: crts, sen (P-256 and RSA-3072, also in 64-byte
# Block1 blocks), att, then sren with the certificate it just got; the
# issued certificates chain to the CA certs crts returned (doc/conformance.md
# cases 11, 16, 20, 21, 26).
. "$(dirname "$0")/../lib.sh"

start_upstream up
# every request must reach the CA here: no answering repeats from memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 }'
start_daemon

# 11: crts from the warm cache, DER PKCS#7 with the upstream's 3 certs
coap -m get /.well-known/est/crts
expect_code 2.xx "crts"
p7_certs "$T/out" >"$T/cacerts.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/cacerts.pem")" -eq 3 ] ||
    fail "crts: want 3 certificates"
openssl pkcs7 -print_certs -in "$PKI/cacerts.pem" >/dev/null 2>&1 || true
ok "case 11: crts holds 3 certificates"
cmp -s <(openssl x509 -in "$PKI/root-ca.crt" -outform DER) \
    <(openssl x509 -in "$T/cacerts.pem" -outform DER) ||
    fail "crts: first certificate is not the root"
ok "case 11: crts payload is the upstream bundle (DER PKCS#7)"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts answers 2.05"
[ "$(probe_field cf)" = 281 ] || fail "crts: cf $(probe_field cf), want 281"
ok "case 11: crts without Accept has CF 281"
probe -m get -u /.well-known/est/crts -A 281 -o "$T/crts281.der"
expect_pcode 2.05 "case 12: crts with Accept 281 -> 2.05"
[ "$(probe_field cf)" = 281 ] || fail "crts Accept 281: cf $(probe_field cf)"
cmp -s "$T/crts281.der" "$T/out" || fail "crts Accept 281: payload differs"
ok "case 12: crts with Accept 281 is the same CF 281 DER PKCS#7"

# 20/21: sen with a P-256 CSR, no Accept -> 2.04 CF 281 with our cert
n0=$(upstream_count up simpleenroll)
probe -m post -u /.well-known/est/sen -t 286 -A 281 -f "$PKI/csr-p256.der" \
    -o "$T/sen.p7"
expect_pcode 2.04 "case 20: sen P-256 with Accept 281 -> 2.04"
[ "$(probe_field cf)" = 281 ] || fail "sen: cf $(probe_field cf)"
# a quick upstream: the answer goes piggybacked (coap.ack_hold_ms)
[ "$(probe_field type)" = ACK ] && [ -z "$(probe_field empty_ack)" ] ||
    fail "sen: the answer was not piggybacked"
ok "case 20: sen answered piggybacked (the upstream answered within the hold)"
grep -q "POST /.well-known/est/simpleenroll ctype=application/pkcs10" \
    "$T/up.req" || fail "upstream did not see a pkcs10 POST"
ok "case 20: upstream saw POST /simpleenroll with application/pkcs10"

coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 2.xx "case 21: sen P-256 without Accept (coap-client)"
p7_certs "$T/out" >"$T/dev.pem"
openssl verify -CAfile "$T/cacerts.pem" "$T/dev.pem" >/dev/null ||
    fail "issued P-256 certificate does not chain to the crts CA certs"
ok "issued certificate verifies against crts"
cmp -s <(openssl x509 -in "$T/dev.pem" -noout -pubkey) \
    <(openssl pkey -in "$PKI/csr-p256.key" -pubout) ||
    fail "issued certificate does not carry the CSR key"
ok "case 20: issued certificate carries the CSR key (body was the CSR)"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 2)) ] ||
    fail "want exactly one upstream POST per enrollment"
ok "one upstream POST per enrollment"

# sen RSA-3072 (coap-client sends it with Block1 by itself) and with -b 64
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    coap -m post -t 286 -f "$PKI/csr-rsadev.der" /.well-known/est/sen
expect_code 2.xx "sen RSA-3072"
p7_certs "$T/out" >"$T/rsa.pem"
openssl verify -CAfile "$T/cacerts.pem" "$T/rsa.pem" >/dev/null ||
    fail "RSA certificate does not verify"
ok "RSA-3072 certificate verifies"
for b in 64 256 1024; do
	coap -m post -b "$b" -t 286 -f "$PKI/csr-p256-2.der" \
	    /.well-known/est/sen
	expect_code 2.xx "sen P-256 in $b-byte blocks"
	p7_certs "$T/out" | openssl verify -CAfile "$T/cacerts.pem" \
	    >/dev/null || fail "block $b: certificate does not verify"
done
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    coap -m post -b 64 -t 286 -f "$PKI/csr-rsadev.der" /.well-known/est/sen
expect_code 2.xx "sen RSA-3072 in 64-byte blocks"
p7_certs "$T/out" | openssl verify -CAfile "$T/cacerts.pem" >/dev/null ||
    fail "RSA -b 64: certificate does not verify"
ok "RSA-3072 in 64-byte blocks verifies"

# 16: att -> DER CsrAttrs, CF 285
probe -m get -u /.well-known/est/att -o "$T/att.der"
expect_pcode 2.05 "case 16: att -> 2.05"
[ "$(probe_field cf)" = 285 ] || fail "att: cf $(probe_field cf)"
openssl asn1parse -inform DER -in "$T/att.der" | grep -q challengePassword ||
    fail "att: payload is not the upstream CsrAttrs"
ok "case 16: att payload is DER CsrAttrs with CF 285"

# sren with the LDevID just issued (DTLS client cert from our EST CA)
DEV_CERT=$T/dev.pem DEV_KEY=$PKI/csr-p256.key \
    probe -m post -u /.well-known/est/sren -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/sren.p7"
expect_pcode 2.04 "sren with the LDevID"
grep -q "POST /.well-known/est/simplereenroll" "$T/up.req" ||
    fail "sren did not reach /simplereenroll"
ok "sren mapped to /simplereenroll"
p7_certs "$T/sren.p7" | openssl verify -CAfile "$T/cacerts.pem" \
    >/dev/null || fail "re-enrolled certificate does not verify"
ok "re-enrolled certificate verifies"

# 13/14/22: Accept 287 (one X.509 certificate, RFC 9148 4.3)
probe -m get -u /.well-known/est/crts -A 287
expect_pcode 4.06 "case 14: crts Accept 287 with a 3-certificate bundle -> 4.06"
probe -m post -u /.well-known/est/sen -t 286 -A 287 -f "$PKI/csr-p256.der" \
    -o "$T/one.der"
expect_pcode 2.04 "sen Accept 287"
[ "$(probe_field cf)" = 287 ] || fail "sen Accept 287: cf $(probe_field cf)"
cmp -s <(openssl x509 -inform DER -in "$T/one.der" -noout -pubkey) \
    <(openssl pkey -in "$PKI/csr-p256.key" -pubout) ||
    fail "sen Accept 287: not a DER certificate with the CSR key"
ok "case 22: sen Accept 287 gives CF 287, the DER certificate with the CSR key"
openssl x509 -in "$PKI/root-ca.crt" >"$T/one-ca.pem"
upstream_mode up op=cacerts "cacerts=$T/one-ca.pem"
stop_daemon
start_daemon
probe -m get -u /.well-known/est/crts -A 287 -o "$T/ca.der"
expect_pcode 2.05 "crts Accept 287 with a one-certificate bundle"
[ "$(probe_field cf)" = 287 ] || fail "crts Accept 287: cf $(probe_field cf)"
cmp -s "$T/ca.der" <(openssl x509 -in "$PKI/root-ca.crt" -outform DER) ||
    fail "crts Accept 287: not the root certificate"
ok "case 13: crts Accept 287 with one CA certificate gives CF 287 DER X.509"
upstream_mode up

# 26: crts then sen on one DTLS session
n=$(grep -c "dtls: session up" "$T/daemon.log")
probe -g /.well-known/est/crts -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der"
[ "$(probe_field pre_code)" = 2.05 ] || fail "crts before sen: $(probe_field pre_code)"
expect_pcode 2.04 "crts then sen on one session"
[ "$(grep -c "dtls: session up" "$T/daemon.log")" -eq $((n + 1)) ] ||
    fail "crts and sen did not share one DTLS session"
ok "case 26: crts and sen shared one DTLS session, both succeeded"

# the request line an operator reads
grep -q 'op=sen label=- method=2 cf=286 .* up=200 .* coap=2.04 .* reason=ok' \
    "$T/daemon.log" || fail "no request line for sen in the log"
grep -q 'dtls: session up .*dev="/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001" issuer=' \
    "$T/daemon.log" || fail "device identity not logged"
ok "request line and device identity logged"
done_case
