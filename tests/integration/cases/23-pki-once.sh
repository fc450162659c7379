#!/usr/bin/env bash
# PKI once (doc/bench/results.md, B2): libcoap 4.3.1 decodes its PEM certificate and key
# again on every ClientHello; estcoapd replaces that callback after the
# first handshake and installs the key pair parsed at load time. Several
# new sessions, a SIGHUP rotation and more sessions: libcoap's own set-up
# ran exactly once, and new handshakes present the rotated certificate.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
cp "$T/estcoapd.json" "$T/good.json"
start_daemon

served_cn() {
	echo | timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$PORT" \
	    -cert "$PKI/device.crt" -key "$PKI/device.key" \
	    -CAfile "$PKI/root-ca.crt" >"$T/sclient.out" 2>&1 || true
	sed -n 's/^ *0 s:.*CN *= *\([^,/]*\).*/\1/p' "$T/sclient.out" | head -n1
}
libcoap_setups() {
	grep -c "libcoap's per-handshake certificate set-up ran" "$T/daemon.log" ||
	    true
}

for i in 1 2 3 4 5; do
	probe -m get -u /.well-known/est/crts
	expect_pcode 2.05 "new session $i: crts"
done
cn1=$(served_cn)
[ -n "$cn1" ] || fail "no server certificate seen: $(head -c 300 "$T/sclient.out")"
[ "$(libcoap_setups)" -eq 1 ] ||
    fail "libcoap's set-up ran $(libcoap_setups) times for 6 handshakes, want 1"
grep -q "dtls: certificate and key parsed once" "$T/daemon.log" ||
    fail "the hook was not installed"
ok "6 handshakes, libcoap's PEM set-up ran once (CN $cn1)"

probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "enrollment over a hooked handshake"

# rotation: a new key and certificate, same names, same CA
mint_dtls_cert dtls2 "DNS:localhost,IP:127.0.0.1"
sed -e "s|$PKI/dtls.crt|$T/dtls2.crt|" -e "s|$PKI/dtls.key|$T/dtls2.key|" \
    "$T/good.json" >"$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "rotation reload did not take"

for i in 1 2 3; do
	probe -m get -u /.well-known/est/crts
	expect_pcode 2.05 "after rotation, new session $i: crts"
done
[ "$(served_cn)" = rotated ] ||
    fail "new handshakes do not present the rotated certificate"
ok "new handshakes present the rotated certificate"
[ "$(libcoap_setups)" -eq 1 ] ||
    fail "libcoap's set-up ran $(libcoap_setups) times, want still 1"
ok "the rotated pair was installed without libcoap's PEM set-up"

# a key pair that does not match is refused and the rotated one stays
sed -e "s|$PKI/dtls.crt|$T/dtls2.crt|" "$T/good.json" >"$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload failed: generation 2 stays" ||
    fail "a mismatched key pair was not refused"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "after the refused reload: crts"
[ "$(served_cn)" = rotated ] || fail "the refused reload changed the identity"
ok "a mismatched pair is refused; the rotated identity stays"
done_case
