#!/usr/bin/env bash
# Half-open handshakes from real addresses (slowloris) fill
# dtls.max_handshakes: libcoap then drops every new ClientHello, so
# without eviction a real device is locked out until
# dtls.handshake_timeout_s (here 600 s). With dtls.handshake_evict_s the
# oldest of them go once that old, room opens, and a device enrolls with
# coap-client-openssl while the flooder still holds its sockets.
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp) || fail "no free TCP port"
# (dtls.handshake_stall_ms off: only age makes room here, case 68)
DTLS_EXTRA=', "max_handshakes": 4, "handshake_timeout_s": 600,
    "handshake_evict_s": 1, "handshake_stall_ms": 0'
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "service": { "metrics_port": '"$MPORT"' }'
start_daemon

# one more half handshake than dtls.max_handshakes: the last one is
# refused, and then no new ClientHello gets in
slowloris 127.0.0.4 5 120
held=$(slowloris_held 127.0.0.4)
[ "$held" = 5 ] || fail "slowloris: $(cat "$T/slow-127.0.0.4.out")"
ok "slowloris holds $held half-open handshakes (dtls.max_handshakes 4)"

# once older than dtls.handshake_evict_s the oldest go, oldest first
wait_metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}' \
    -ge 1 20 || fail "no half-open handshake evicted"
wait_for "$T/daemon.log" 10 "dropped to keep room.*older than dtls.handshake_evict_s" ||
    fail "eviction not logged"
ok "stale half-open handshakes evicted, counted and logged"

# a real device gets in while the flooder still holds its sockets
WAIT=20 coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 2.xx "a device enrolls while slowloris holds its handshakes"
grep -q "coap=2.04" "$T/daemon.log" || fail "the enrollment was not answered 2.04"
kill -0 "$SLOW_PID" 2>/dev/null || fail "slowloris ended before the device"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_timeout"}')" = 0 ] ||
    fail "the handshakes timed out instead of being evicted"
ok "room came from eviction, not from dtls.handshake_timeout_s"
kill "$SLOW_PID" 2>/dev/null || true
wait "$SLOW_PID" 2>/dev/null || true

# dtls.handshake_evict_s 0 turns it off: reload and hold the limit again
sed -i 's/"handshake_evict_s": 1/"handshake_evict_s": 0/' "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" || fail "reload"
n0=$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')
slowloris 127.0.0.6 2 30
sleep 3
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')" = "$n0" ] ||
    fail "dtls.handshake_evict_s 0 still evicted"
ok "dtls.handshake_evict_s 0: nothing evicted"
kill "$SLOW_PID" 2>/dev/null || true
wait "$SLOW_PID" 2>/dev/null || true
kill -0 "$DAEMON_PID" || fail "daemon died"
done_case
