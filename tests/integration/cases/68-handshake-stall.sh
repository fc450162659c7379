#!/usr/bin/env bash
# Half-open handshakes from real addresses fill dtls.max_handshakes, far
# younger than dtls.handshake_evict_s (here off) and dtls.handshake_timeout_s
# (600 s). A device's ClientHello that answered the cookie takes the place
# of the oldest one whose peer has sent nothing for
# dtls.handshake_stall_ms, so the device enrolls while the flooder still
# holds its sockets; with dtls.handshake_stall_ms 0 nothing gives way.
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp) || fail "no free TCP port"
DTLS_EXTRA=', "max_handshakes": 4, "handshake_timeout_s": 600,
    "handshake_evict_s": 0, "handshake_stall_ms": 300'
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "service": { "metrics_port": '"$MPORT"' }'
start_daemon

# more than the limit: every one of them answers the cookie, then stops
slowloris 127.0.0.4 5 120
[ "$(slowloris_held 127.0.0.4)" = 5 ] ||
    fail "slowloris: $(cat "$T/slow-127.0.0.4.out")"
wait_metric estcoapd_dtls_sessions_in_handshake -ge 4 10 ||
    fail "the half-open handshakes did not fill dtls.max_handshakes"
ok "slowloris fills dtls.max_handshakes (4) with half-open handshakes"

# the device's handshake takes a stalled one's place
WAIT=20 coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 2.xx "a device enrolls while the table is full of stalled handshakes"
grep -q "coap=2.04" "$T/daemon.log" || fail "the enrollment was not answered 2.04"
kill -0 "$SLOW_PID" 2>/dev/null || fail "slowloris ended before the device"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')" -ge 1 ] ||
    fail "no stalled handshake gave way"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_timeout"}')" = 0 ] ||
    fail "the handshakes timed out instead of giving way"
wait_for "$T/daemon.log" 10 "dropped to keep room.*dtls.handshake_stall_ms" ||
    fail "the dropped handshake was not logged"
ok "a stalled half-open handshake gave way: counted and logged"
kill "$SLOW_PID" 2>/dev/null || true
wait "$SLOW_PID" 2>/dev/null || true

# dtls.handshake_stall_ms 0: the table stays full, nothing gives way
sed -i 's/"handshake_stall_ms": 300/"handshake_stall_ms": 0/' "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" || fail "reload"
slowloris 127.0.0.6 5 30
wait_metric estcoapd_dtls_sessions_in_handshake -ge 4 10 ||
    fail "the table did not fill again"
n0=$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')
wait_metric 'estcoapd_limit_refusals_total{limit="max_handshakes"}' -ge 1 20 ||
    fail "a ClientHello past the cookie was not refused at the limit"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')" = "$n0" ] ||
    fail "dtls.handshake_stall_ms 0 still let a handshake go"
ok "dtls.handshake_stall_ms 0: the next ClientHello is refused, nothing evicted"
kill "$SLOW_PID" 2>/dev/null || true
wait "$SLOW_PID" 2>/dev/null || true
kill -0 "$DAEMON_PID" || fail "daemon died"
done_case
