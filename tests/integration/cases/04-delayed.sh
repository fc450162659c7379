#!/usr/bin/env bash
# Delayed (separate) responses: empty ACK first, answer later in a CON with
# the same token (46); a retransmitted request while pending makes no
# second upstream call (47); a device that leaves while the upstream works
# is cleaned up (52); two devices enrolling at once get their own
# certificates (53).
. "$(dirname "$0")/../lib.sh"

start_upstream up
# every request must reach the CA here: no answering repeats from memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 }'
start_daemon

# 46: upstream takes 3 s
upstream_mode up op=simpleenroll delay_ms=3000
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "slow upstream still enrolls"
[ "$(probe_field empty_ack)" = 1 ] || fail "no empty ACK before the answer"
ok "case 46: slow upstream: empty ACK, then the separate answer"

# 47: the same CON (same MID and token) three times while pending
n0=$(upstream_count up simpleenroll)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -D 2 \
    -w 20
expect_pcode 2.04 "retransmitted request answered once"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 1)) ] ||
    fail "a retransmission reached the upstream"
ok "case 47: retransmissions of a pending MID made no second upstream call"

# 52: the device leaves while the upstream works: the POST already sent
# runs to completion, its answer is held for the device, the record freed
upstream_mode up op=simpleenroll delay_ms=2000
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -X
[ "$(probe_field departed)" = 1 ] || fail "probe did not depart"
wait_for "$T/daemon.log" 10 "reason=undelivered" ||
    fail "pending request of a departed device did not end"
ok "case 52: departed device: the request ran to its end and was freed"
sleep 2.5
kill -0 "$DAEMON_PID" || fail "daemon died"
ok "case 52: daemon alive after the upstream finished for a departed device"

# 53: two devices at once, each gets its own certificate
upstream_mode up op=simpleenroll delay_ms=1000
coap -m get /.well-known/est/crts
p7_certs "$T/out" >"$T/cacerts.pem"
WAIT=20 "$COAP_CLIENT" -B 20 -c "$PKI/device.crt" -j "$PKI/device.key" \
    -R "$PKI/root-ca.crt" -m post -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/a.p7" "coaps://127.0.0.1:$PORT/.well-known/est/sen" \
    >/dev/null 2>&1 &
pa=$!
"$COAP_CLIENT" -B 20 -c "$PKI/device-rsa.crt" -j "$PKI/device-rsa.key" \
    -R "$PKI/root-ca.crt" -m post -t 286 -f "$PKI/csr-rsadev.der" \
    -o "$T/b.p7" "coaps://127.0.0.1:$PORT/.well-known/est/sen" \
    >/dev/null 2>&1 &
pb=$!
wait "$pa" || fail "first device failed"
wait "$pb" || fail "second device failed"
sa=$(p7_certs "$T/a.p7" | openssl x509 -noout -subject)
sb=$(p7_certs "$T/b.p7" | openssl x509 -noout -subject)
case "$sa" in *device-0001*) ;; *) fail "first device got '$sa'" ;; esac
case "$sb" in *device-rsa-0001*) ;; *) fail "second device got '$sb'" ;; esac
ok "case 53: concurrent devices got their own certificates"
done_case
