#!/usr/bin/env bash
# DTLS details and what crosses to the CA: the RFC 7925
# suite alone (case 84), DTLS 1.0 refused (85), proof-of-possession linking
# with the tls-unique of a full (86) and a resumed (87) handshake, and the
# registrar's cmcRA identity with opt-in RFC 9440 Client-Cert fields (88).
. "$(dirname "$0")/../lib.sh"

# sen_pop LINK [probe args]: sen with a CSR made in the session, whose
# challengePassword is the session's tls-unique (LINK tls-unique), a wrong
# one (wrong) or absent (none)
sen_pop() {
	local link=$1
	shift
	if [ "$link" = none ]; then
		probe -m post -u /.well-known/est/sen -t 286 \
		    -Y "$PKI/csr-p256.key" -s "$DEV_SUBJ" "$@"
	else
		probe -m post -u /.well-known/est/sen -t 286 \
		    -Y "$PKI/csr-p256.key" -s "$DEV_SUBJ" -L "$link" "$@"
	fi
}
posts() { upstream_count up "^POST"; }

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "pop": "required", "forward_client_cert": true },
	"limits": { "exchange_entries": 0 }'
start_daemon

# 84: a client that offers only TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 on P-256
probe -m get -u /.well-known/est/crts -Z ECDHE-ECDSA-AES128-CCM8
expect_pcode 2.05 "case 84: crts with only ECDHE-ECDSA-AES128-CCM8 offered"
[ "$(probe_field cipher)" = ECDHE-ECDSA-AES128-CCM8 ] &&
    [ "$(probe_field version)" = DTLSv1.2 ] ||
    fail "case 84: negotiated $(probe_field version) $(probe_field cipher)"
ok "case 84: DTLS 1.2 with ECDHE-ECDSA-AES128-CCM8 negotiated"
sen_pop tls-unique -Z ECDHE-ECDSA-AES128-CCM8
expect_pcode 2.04 "case 84: sen over the CCM8 session"

# 85: a DTLS 1.0 ClientHello (openssl s_client at security level 0, which
# still speaks DTLS 1.0) never completes a handshake
up_before=$(grep -c "dtls: session up" "$T/daemon.log" || true)
set +e
timeout 10 openssl s_client -dtls1 -cipher 'DEFAULT:@SECLEVEL=0' \
    -connect "127.0.0.1:$PORT" -cert "$PKI/device.crt" -key "$PKI/device.key" \
    -CAfile "$PKI/root-ca.crt" </dev/null >"$T/dtls1.out" 2>&1
set -e
grep -q "ClientHello\|CONNECTED" "$T/dtls1.out" ||
    skip "case 85: openssl s_client cannot send DTLS 1.0 here: $(head -c 300 "$T/dtls1.out")"
grep -q "Protocol  *: DTLSv1$\|Cipher is [A-Z]" "$T/dtls1.out" &&
    ! grep -q "Cipher is (NONE)" "$T/dtls1.out" &&
    fail "case 85: a DTLS 1.0 handshake completed: $(head -c 600 "$T/dtls1.out")"
ok "case 85: the DTLS 1.0 client got no session"
grep -qi "alert protocol version\|unsupported protocol\|wrong version" \
    "$T/dtls1.out" || fail "case 85: no protocol_version refusal: \
$(tr '\n' ' ' <"$T/dtls1.out" | head -c 600)"
ok "case 85: refused with a protocol version alert"
[ "$(grep -c "dtls: session up" "$T/daemon.log" || true)" -eq "$up_before" ] ||
    fail "case 85: the daemon logged a session for the DTLS 1.0 client"
ok "case 85: the daemon never completed the DTLS 1.0 handshake"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "case 85: DTLS 1.2 still served afterwards"

# 86: pop required: the linked CSR goes upstream, a wrong or absent
# challengePassword is 4.01 without an upstream call
n=$(posts)
sen_pop tls-unique
expect_pcode 2.04 "case 86: challengePassword = base64(tls-unique) forwarded"
[ "$(probe_field resumed)" = 0 ] || fail "case 86: expected a full handshake"
[ "$(posts)" -eq $((n + 1)) ] || fail "case 86: the linked CSR did not go upstream"
ok "case 86: the linked CSR reached the CA"
grep "^POST /.well-known/est/simpleenroll" "$T/up.req" | tail -n1 |
    grep -q "cmcra=1 cc=device-0001 ccc=1 cn=estcoapd-ra$" ||
    fail "case 88: full handshake: Client-Cert fields missing"
ok "case 88: Client-Cert and Client-Cert-Chain after a full handshake"
sen_pop wrong
expect_pcode 4.01 "case 86: challengePassword not the tls-unique"
grep -q "payload_text=challengePassword does not match" "$T/probe.out" ||
    fail "case 86: diagnostic ($(cat "$T/probe.out"))"
ok "case 86: diagnostic names the mismatch"
sen_pop none
expect_pcode 4.01 "case 86: challengePassword absent while required"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 4.01 "case 86: a CSR made before the session is not linked"
[ "$(posts)" -eq $((n + 1)) ] || fail "case 86: a refused CSR went upstream"
ok "case 86: refused CSRs never went upstream"
grep -q 'authz: denied .*dev="/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001".*code=4.01' \
    "$T/daemon.log" || fail "case 86: 4.01 not logged with the device"
ok "case 86: the refusal is logged with the device"

# 87: a resumed session: the tls-unique is then the server's Finished
sen_pop tls-unique -r
[ "$(probe_field resumed)" = 1 ] ||
    fail "case 87: the second session did not resume ($(tr '\n' ' ' <"$T/probe.out"))"
ok "case 87: the probe's second DTLS session resumed the first"
grep -q 'dtls: session up .*CN=device-0001" .*resumed=1$' "$T/daemon.log" ||
    fail "case 87: the daemon did not log a resumed session"
ok "case 87: the daemon logged the session as resumed"
expect_pcode 2.04 "case 87: PoP on a resumed session accepted"
sen_pop wrong -r
expect_pcode 4.01 "case 87: a wrong challengePassword on a resumed session"

# 88: the upstream saw the registrar's cmcRA certificate and, with
# auth.forward_client_cert, the device certificate and its chain (the
# last request came over the resumed session, which has no verified chain
# of its own: the registrar builds it again from the route's anchors)
line=$(grep "^POST /.well-known/est/simpleenroll" "$T/up.req" | tail -n1)
echo "$line" | grep -q "cmcra=1 .*cn=estcoapd-ra$" ||
    fail "case 88: upstream request not from the cmcRA registrar cert: $line"
ok "case 88: the upstream request used the registrar's cmcRA certificate"
echo "$line" | grep -q "cc=device-0001 ccc=1 " ||
    fail "case 88: Client-Cert fields missing: $line"
ok "case 88: Client-Cert names the device, Client-Cert-Chain one CA"
want=":$(openssl x509 -in "$PKI/device.crt" -outform DER | base64 -w0):"
[ "$(sed -n 1p "$T/up.req.clientcert")" = "$want" ] ||
    fail "case 88: Client-Cert is not :base64(device DER):"
ok "case 88: Client-Cert is the device certificate's DER as a byte sequence"
want=":$(openssl x509 -in "$PKI/device-ca.crt" -outform DER | base64 -w0):"
[ "$(sed -n 2p "$T/up.req.clientcert")" = "$want" ] ||
    fail "case 88: Client-Cert-Chain is not the manufacturer CA"
ok "case 88: Client-Cert-Chain carries the CA without the end entity"
grep "^GET " "$T/up.req" | grep -qv "cc=- ccc=-" &&
    fail "case 88: a cached GET carried a device certificate"
ok "case 88: cache refreshes carry no device certificate"
stop_daemon

# 88 off (the default), 86 with pop if-present
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "pop": "if-present" },
	"limits": { "exchange_entries": 0 }'
start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "case 86: if-present: a CSR without challengePassword passes"
line=$(grep "^POST /.well-known/est/simpleenroll" "$T/up.req" | tail -n1)
echo "$line" | grep -q "cmcra=1 cc=- ccc=- cn=estcoapd-ra$" ||
    fail "case 88: with the option off the fields must be absent: $line"
ok "case 88: forward_client_cert off: neither field"
sen_pop wrong
expect_pcode 4.01 "case 86: if-present: a wrong challengePassword is 4.01"
sen_pop tls-unique
expect_pcode 2.04 "case 86: if-present: the linked CSR passes"
stop_daemon
done_case
