#!/usr/bin/env bash
# One address's half-open handshakes fill dtls.max_handshakes; they answer
# the cookie (the address is real) and then stall, far younger than
# dtls.handshake_evict_s (off), dtls.handshake_timeout_s (600 s) and twice
# dtls.handshake_stall_ms (60 s). Near the limit that address gets no more
# handshakes, being over its share (dtls.handshakes_per_address); at the
# limit a device from another address takes the place of one of its
# handshakes at once; with the share off the device is refused.
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp) || fail "no free TCP port"
DTLS_EXTRA=', "max_handshakes": 8, "handshake_timeout_s": 600,
    "handshake_evict_s": 0, "handshake_stall_ms": 30000,
    "handshakes_per_address": 2'
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "service": { "metrics_port": '"$MPORT"' }'
start_daemon

# slow ADDR N SECONDS HALF: slowloris from ADDR, N sockets that each answer
# the cookie and stop; then at least HALF handshakes are half-open
slow() {
	slowloris "$1" "$2" "$3"
	wait_metric estcoapd_dtls_sessions_in_handshake -ge "$4" 10 ||
	    fail "the half-open handshakes did not reach $4"
}
# 127.0.0.4, over its share (2), is refused once fewer than an eighth of 8 are free
slow 127.0.0.4 8 120 7
wait_metric 'estcoapd_limit_refusals_total{limit="max_handshakes"}' -ge 1 10 ||
    fail "the address over its share was not refused near the limit"
[ "$(metric estcoapd_dtls_sessions_in_handshake)" = 7 ] ||
    fail "the address over its share got $(metric estcoapd_dtls_sessions_in_handshake) handshakes, want 7"
ok "an address over its share gets no more handshakes near the limit (7 of 8)"
SLOW4=$SLOW_PID
# another address fills the rest: the table is at its limit
slow 127.0.0.5 1 120 8
ok "a second address fills dtls.max_handshakes (8)"

# the grace is a quarter of dtls.handshake_stall_ms (7.5 s) from their hello
sleep 8
WAIT=20 coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
expect_code 2.xx "a device of another address enrolls in the place of one"
grep -q "coap=2.04" "$T/daemon.log" || fail "the enrollment was not answered 2.04"
kill -0 "$SLOW4" 2>/dev/null || fail "slowloris ended before the device"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')" -ge 1 ] ||
    fail "no handshake of the heavy address gave way"
grep -q "handshake dropped for room.*handshakes_per_address\|dropped to keep room.*handshakes_per_address" \
    "$T/daemon.log" || fail "the dropped handshake was not logged with its reason"
ok "a handshake of the address over its share gave way: counted and logged"
kill "$SLOW4" "$SLOW_PID" 2>/dev/null || true
wait "$SLOW4" "$SLOW_PID" 2>/dev/null || true

# the share off: the table stays full, the device's hello is refused
sed -i 's/"handshakes_per_address": 2/"handshakes_per_address": 0/' "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" || fail "reload"
slow 127.0.0.6 8 40 8
sleep 8
n0=$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')
r0=$(metric 'estcoapd_limit_refusals_total{limit="max_handshakes"}')
WAIT=3 coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen || true
[ "$(metric 'estcoapd_limit_refusals_total{limit="max_handshakes"}')" -gt "$r0" ] ||
    fail "the device's ClientHello was not refused at the limit"
[ "$(metric 'estcoapd_limit_refusals_total{limit="handshake_evicted"}')" = "$n0" ] ||
    fail "dtls.handshakes_per_address 0 still let a handshake go"
ok "dtls.handshakes_per_address 0: the device is refused, nothing evicted"
kill "$SLOW_PID" 2>/dev/null || true
wait "$SLOW_PID" 2>/dev/null || true
kill -0 "$DAEMON_PID" || fail "daemon died"
done_case
