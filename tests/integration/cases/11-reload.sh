#!/usr/bin/env bash
# SIGHUP reload while devices enroll without pause: a DTLS server
# certificate rotation, a broken config (kept out), a listen change
# (refused, key named), an audit log rotated away; not one enrollment
# fails, and new handshakes see the new certificate.
. "$(dirname "$0")/../lib.sh"

start_upstream up
# every request must reach the CA here: no answering repeats from memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"service": { "audit_file": "'"$T"'/audit.log" }'
cp "$T/estcoapd.json" "$T/good.json"
start_daemon

# a second DTLS identity, same names, signed by the same CA
mint_dtls_cert dtls2
sed -e "s|$PKI/dtls.crt|$T/dtls2.crt|" -e "s|$PKI/dtls.key|$T/dtls2.key|" \
    "$T/good.json" >"$T/rotated.json"

# enroll continuously in the background, one line per result
(
	for i in $(seq 1 40); do
		"$TOOLS/estcoap-probe" -a 127.0.0.1 -p "$PORT" \
		    -c "$PKI/device.crt" -k "$PKI/device.key" \
		    -C "$PKI/root-ca.crt" -m post -u /.well-known/est/sen \
		    -t 286 -f "$PKI/csr-p256.der" -w 20 2>/dev/null |
		    sed -n 's/^code=//p' | tail -n1 | sed 's/^$/none/'
	done >"$T/codes"
) &
loop=$!

# and one enrollment that waits for the CA across the first reload
upstream_mode up op=simplereenroll delay_ms=1500
probe_bg "$T/sren.out" -m post -u /.well-known/est/sren -t 286 \
    -f "$PKI/csr-device.der" -w 20
ps=$PROBE_PID
wait_for "$T/daemon.log" 10 "op=sren queued upstream" ||
    fail "sren not queued"
cp "$T/rotated.json" "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "rotation reload did not take"
ok "reload with a rotated DTLS certificate: generation 2"

sleep 0.3
printf '{ "dtls": ' >"$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload failed: generation 2 stays" ||
    fail "broken config was not refused"
grep -q "reload: .*estcoapd.json:1:[0-9]*: JSON syntax error" \
    "$T/daemon.log" || fail "the reason of the failed reload is not logged"
ok "broken config refused with its reason; generation 2 stays"

sleep 0.3
sed "s|\"port\": $PORT|\"port\": $((PORT + 1))|" "$T/rotated.json" \
    >"$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "listen: cannot change while running" ||
    fail "listen change was not refused"
ok "listen change refused, key named"

sleep 0.3
mv "$T/audit.log" "$T/audit.log.1"
cp "$T/rotated.json" "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 3 in use" ||
    fail "third reload did not take"
ok "audit log rotated away, reload 3"

wait "$ps" || true
grep -q '^code=2.04' "$T/sren.out" ||
    fail "enrollment pending across a reload: $(tr '\n' ' ' <"$T/sren.out")"
ok "an enrollment pending across the reload finished"
wait "$loop"
n=$(wc -l <"$T/codes")
bad=$(grep -vc '^2\.04$' "$T/codes" || true)
[ "$n" -eq 40 ] || fail "enrollment loop produced $n results"
[ "$bad" -eq 0 ] || fail "$bad of 40 enrollments failed during reloads: $(sort "$T/codes" | uniq -c | tr '\n' ' ')"
ok "40 enrollments across 4 reloads, none failed"

# new handshakes present the rotated certificate
echo | timeout 10 openssl s_client -dtls1_2 -connect "127.0.0.1:$PORT" \
    -cert "$PKI/device.crt" -key "$PKI/device.key" \
    -CAfile "$PKI/root-ca.crt" >"$T/sclient.out" 2>&1 || true
grep -q "CN *= *rotated" "$T/sclient.out" ||
    fail "handshake does not present the rotated certificate"
ok "new handshakes present the rotated certificate"

[ -s "$T/audit.log" ] || fail "audit log not reopened after rotation"
[ -s "$T/audit.log.1" ] || fail "audit log empty before rotation"
ok "audit log reopened on SIGHUP"
done_case
