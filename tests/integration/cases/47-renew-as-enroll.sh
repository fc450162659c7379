#!/usr/bin/env bash
# Renewal through a CA that binds simplereenroll to the TLS client
# certificate (globalsign/est compares the renewal CSR's Subject and SAN
# with it; behind a registrar that is the RA's certificate, so every
# renewal fails): upstream.renew_as_enroll, per route, forwards sren to
# /simpleenroll, after estcoapd has enforced the renewal rules itself
# (RFC 7030 4.2.2 identity; PoP where configured). It is still logged and
# audited as sren, and the RFC 9440 Client-Cert fields still go along.
. "$(dirname "$0")/../lib.sh"

posts() { upstream_count up "^POST"; }
last_post() { grep "^POST" "$T/up.req" | tail -n1; }
# sren_as DEV PATH CSR: sren as the device with certificate $PKI/DEV.crt
sren_as() {
	DEV_CERT=$PKI/$1.crt DEV_KEY=$PKI/$1.key \
	    probe -m post -u "$2" -t 286 -f "$3"
}

start_upstream up
# the CA refuses every reenroll: the RA's certificate is not the device's
refuse="Subject and SubjectAltName fields in CSR must be identical to certificate being renewed"
upstream_mode up op=simplereenroll status=403 "body_text=$refuse"
write_config "https://localhost:$UP_PORT_up" ',
	"service": { "audit_file": "'"$T"'/audit.log" },
	"limits": { "exchange_entries": 0 },
	"auth": { "forward_client_cert": true },
	"labels": { "ra": { "upstream": {
		"url": "https://localhost:'"$UP_PORT_up"'",
		"renew_as_enroll": true } } }'
start_daemon

# the default route keeps /simplereenroll: the CA's refusal reaches the device
sren_as ldev /.well-known/est/sren "$PKI/csr-ldev.der"
expect_pcode 4.03 "renew_as_enroll off: sren refused by the CA"
last_post | grep -q "^POST /.well-known/est/simplereenroll " ||
    fail "off: upstream saw $(last_post)"
probe_field payload_text | grep -q "must be identical" ||
    fail "off: diagnostic $(probe_field payload_text)"
ok "renew_as_enroll off (default): forwarded to /simplereenroll"

# the label with the key: the same renewal goes to /simpleenroll
n=$(posts)
sren_as ldev /.well-known/est/ra/sren "$PKI/csr-ldev.der"
expect_pcode 2.04 "renew_as_enroll on: sren -> 2.04"
[ "$(posts)" -eq $((n + 1)) ] || fail "on: $(($(posts) - n)) POSTs upstream"
last_post | grep -q "^POST /.well-known/est/ra/simpleenroll .* cc=ldev-0001 ccc=1 cn=estcoapd-ra$" ||
    fail "on: upstream saw $(last_post)"
ok "renew_as_enroll on: forwarded to /ra/simpleenroll with Client-Cert"
grep -q 'op=sren label=ra .*up=200 .*coap=2.04' "$T/daemon.log" ||
    fail "on: request not logged as sren"
grep -q '"event":"issued".*"op":"sren"' "$T/audit.log" ||
    fail "on: not audited as sren: $(tail -n1 "$T/audit.log")"
ok "logged and audited as a renewal (op sren)"

# the renewal rules still hold, and a refused CSR never goes upstream
n=$(posts)
for csr in othercn othersan nosan; do
	sren_as ldev /.well-known/est/ra/sren "$PKI/csr-ldev-$csr.der"
	expect_pcode 4.03 "renew_as_enroll on: sren CSR $csr -> 4.03"
done
[ "$(posts)" -eq "$n" ] || fail "a refused renewal went upstream"
ok "renew_as_enroll on: Subject/SAN checks run, no upstream call"
grep -q '"event":"denied".*"op":"sren".*"code":"4.03"' "$T/audit.log" ||
    fail "refusal not audited as sren"

# PoP required and the key at the top level: linked CSR only
stop_daemon
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"auth": { "pop": "required" }'
sed -i 's/"timeout_ms": \([0-9]*\)/"timeout_ms": \1, "renew_as_enroll": true/' \
    "$T/estcoapd.json"
grep -q '"renew_as_enroll": true' "$T/estcoapd.json" || fail "config edit"
start_daemon
n=$(posts)
for link in wrong none; do
	args=(-L "$link")
	[ "$link" = none ] && args=()
	probe -m post -u /.well-known/est/sren -t 286 -Y "$PKI/csr-p256.key" \
	    -s "$DEV_SUBJ" "${args[@]}"
	expect_pcode 4.01 "PoP required: sren with challengePassword $link -> 4.01"
done
[ "$(posts)" -eq "$n" ] || fail "an unlinked renewal went upstream"
probe -m post -u /.well-known/est/sren -t 286 -Y "$PKI/csr-p256.key" \
    -s "$DEV_SUBJ" -L tls-unique
expect_pcode 2.04 "PoP required: linked sren -> 2.04"
last_post | grep -q "^POST /.well-known/est/simpleenroll " ||
    fail "PoP: upstream saw $(last_post)"
ok "PoP checked before a renewal goes to /simpleenroll"
done_case
