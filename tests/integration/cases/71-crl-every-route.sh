#!/usr/bin/env bash
# A device one CRL lists is refused on every route (README, "Attacks and what stops them"):
# a label with its own trust anchors and no CRL does not serve a device
# that the default route's CRL revokes, not on a session opened before the
# reload that brought the CRL, and not on a session resumed from before
# it: a reload that changes the anchors or CRLs empties the DTLS session
# cache and replaces the ticket keys, and a session resumed anyway is
# still checked against every CRL on each request. A route check a new
# session of the device skips (passed before in the same generation)
# counts no more after the reload.
. "$(dirname "$0")/../lib.sh"

command -v openssl >/dev/null || skip "no openssl(1)"
REV="-cert $PKI/device-revoked.crt -key $PKI/device-revoked.key"
# s_client NAME ARGS: one DTLS handshake with openssl(1), output in $T/NAME
s_client() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$PORT" \
	    -CAfile "$PKI/root-ca.crt" $REV "$@" </dev/null >"$T/$name" 2>&1 ||
	    true
}
as_rev() {
	DEV_CERT=$PKI/device-revoked.crt DEV_KEY=$PKI/device-revoked.key \
	    probe "$@"
}

start_upstream up
AUTH_TRUST='"trust": [ "'"$PKI"'/device-ca.crt", "'"$PKI"'/root-ca.crt", "'"$PKI"'/est-ca.crt" ]'
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { '"$AUTH_TRUST"' },
	"labels": { "own": { "auth": {
		"trust": [ "'"$PKI"'/device-ca.crt" ] } } }'
start_daemon

# before the CRL: the device is served, and its session resumes
as_rev -m get -u /.well-known/est/own/crts
expect_pcode 2.05 "before the CRL: device served on the label"
s_client full -sess_out "$T/sess.pem"
grep -q "^New, TLSv1.2" "$T/full" || fail "s_client: no handshake: $(cat "$T/full")"
s_client resumed -sess_in "$T/sess.pem"
grep -q "^Reused, TLSv1.2" "$T/resumed" ||
    fail "s_client: the session did not resume: $(grep -E '^(New|Reused)' "$T/resumed")"
ok "before the CRL: the saved session resumes"

# a session held open across the reload
DEV_CERT=$PKI/device-revoked.crt DEV_KEY=$PKI/device-revoked.key \
    probe_bg "$T/held.out" -g /.well-known/est/own/crts -P 4000 -m get \
    -u /.well-known/est/own/crts -w 20
held=$PROBE_PID
wait_for "$T/held.out" 10 "pre_code=2.05" || fail "held session not up"
# its route check was remembered from the first session (same device,
# route and generation) ...
grep -q "authz: peer=.* passed this route's check before" "$T/daemon.log" ||
    fail "the second session checked the device chain again"
ok "a new session of the device skips the route check it passed before"

# the CRL comes to the default route only
sed -i 's|"auth": { "trust"|"auth": { "crl": [ "'"$PKI"'/device-ca.crl" ], "trust"|' \
    "$T/estcoapd.json"
grep -q device-ca.crl "$T/estcoapd.json" || fail "config not changed"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload with the CRL did not take"
grep -q "reload: device trust anchors or CRLs changed: DTLS session cache emptied, session-ticket keys replaced" \
    "$T/daemon.log" || fail "no line about the session cache"
ok "the reload that brought the CRL emptied the session cache"

wait "$held" || true
grep -q "^code=4.03" "$T/held.out" ||
    fail "session from before the reload still served on the label: $(tr '\n' ' ' <"$T/held.out")"
grep -q "payload_text=.*revoked" "$T/held.out" ||
    fail "diagnostic: $(tr '\n' ' ' <"$T/held.out")"
# ... and the reload, a new generation, made it count no more
ok "a session opened before the reload is refused on a label without a CRL"
grep -q 'authz: denied .*CN=device-revoked-0001.*label=own code=4.03: .*revoked' \
    "$T/daemon.log" || fail "refusal not logged"
ok "refusal logged with the device"

s_client after -sess_in "$T/sess.pem"
grep -q "^Reused" "$T/after" &&
    fail "the session from before the CRL resumed: $(cat "$T/after")"
ok "the saved session no longer resumes"
as_rev -m get -u /.well-known/est/own/crts -w 5
[ "$(probe_field handshake)" = failed ] ||
    fail "full handshake of the revoked device: $(tr '\n' ' ' <"$T/probe.out")"
ok "a full handshake of the revoked device fails"

# other devices still resume and are served on the label
probe -r -m get -u /.well-known/est/own/crts
expect_pcode 2.05 "after the reload: another device on the label"
[ "$(probe_field resumed)" = 1 ] || fail "resumption no longer works"
ok "other devices still resume"

# a reload that changes no anchor or CRL keeps the sessions: one saved
# before it still resumes after it
REV="-cert $PKI/device.crt -key $PKI/device.key" s_client good \
    -sess_out "$T/good.pem"
grep -q "^New, TLSv1.2" "$T/good" || fail "s_client: no handshake: $(cat "$T/good")"
n=$(grep -c "session cache emptied" "$T/daemon.log")
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 3 in use" || fail "reload 3"
[ "$(grep -c "session cache emptied" "$T/daemon.log")" -eq "$n" ] ||
    fail "an unchanged trust emptied the session cache"
REV="-cert $PKI/device.crt -key $PKI/device.key" s_client again \
    -sess_in "$T/good.pem"
grep -q "^Reused, TLSv1.2" "$T/again" ||
    fail "a session from before a reload that kept the trust did not resume: $(grep -E '^(New|Reused)' "$T/again")"
ok "a reload with the same anchors and CRLs keeps the sessions"
done_case
