#!/usr/bin/env bash
# DTLS client authentication: no certificate or an untrusted one and the
# handshake fails before any CoAP is processed; the refusal is logged.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_daemon
base=$(upstream_count up)

# no client certificate
set +e
"$COAP_CLIENT" -B 5 -R "$PKI/root-ca.crt" -m post -t 286 \
    -f "$PKI/csr-p256.der" "coaps://127.0.0.1:$PORT/.well-known/est/sen" \
    >"$T/nocert.out" 2>&1
set -e
grep -q "^2\.\|^4\.\|^5\." "$T/nocert.out" &&
    fail "a device without certificate got a CoAP answer"
ok "case 80: no client certificate: no CoAP answer"

# certificate from an untrusted CA
DEV_CERT=$PKI/device-rogue.crt DEV_KEY=$PKI/device-rogue.key \
    probe -m get -u /.well-known/est/crts -w 5
[ "$(probe_field handshake)" = failed ] ||
    fail "untrusted device: handshake did not fail ($(cat "$T/probe.out"))"
ok "case 81: untrusted device certificate: handshake fails"
grep -q "device certificate refused" "$T/daemon.log" ||
    fail "refused device certificate not logged"
ok "refusal logged"
grep -q 'op=.*dev="/CN=device-rogue' "$T/daemon.log" &&
    fail "a request from the untrusted device was processed"
expect_upstream up "$base" "nothing went upstream"

# the trusted device still works on the same daemon
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "trusted device after the refusals"
done_case
