#!/usr/bin/env bash
# Requests whose device goes away, and requests ended by the daemon:
# - a POST already sent upstream runs to completion when the device
#   leaves (DTLS close) after the empty ACK; the certificate is audited
#   as issued-undelivered and held under the device's identity, route,
#   operation and CSR key, so that its retry on a new session, with a
#   new PoP CSR, gets the same certificate without a second simpleenroll;
# - every request that ends without an answer still gets its request
#   line and its requests_total count: a GET cancelled by the DTLS close,
#   an orphaned POST cut off by the drain timeout (no answer is sent to
#   a session that is gone), requests cancelled by SIGINT.
. "$(dirname "$0")/../lib.sh"

# sen_pop [probe args]: sen with a CSR made in the session, linked to it
# by its tls-unique (RFC 7030 3.5): it differs on every session. KEY
# (default csr-p256.key) is its key.
sen_pop() {
	probe -m post -u /.well-known/est/sen -t 286 \
	    -Y "${KEY:-$PKI/csr-p256.key}" -s "$DEV_SUBJ" -L tls-unique "$@"
}

start_upstream up
MPORT=$(free_port tcp)
# no repeat memory and no cache: only the held answers can answer
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "pop": "required" },
	"limits": { "exchange_entries": 0 },
	"est": { "cache_ttl_s": 0 },
	"service": { "audit_file": "'"$T"'/audit.log", "drain_timeout_s": 1,
		"metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' }'
NOWARM=1 start_daemon
M=http://127.0.0.1:$MPORT

# the device leaves after the empty ACK (1 s hold), the CA takes 2.5 s
upstream_mode up op=simpleenroll delay_ms=2500
n=$(upstream_count up simpleenroll)
sen_pop -x 1500
[ "$(probe_field departed)" = 1 ] && [ "$(probe_field empty_ack)" = 1 ] ||
    fail "the probe did not leave after the empty ACK: $(tr '\n' ' ' <"$T/probe.out")"
wait_for "$T/daemon.log" 10 "op=sen .*coap=2.04 .*reason=undelivered" ||
    fail "the departed device's POST did not run to completion"
grep -q "device left (DTLS session closed); the upstream exchange runs to completion" \
    "$T/daemon.log" || fail "not logged: the exchange runs on"
ok "device left after the empty ACK: the POST ran to completion"
line=$(grep '"event":"issued-undelivered"' "$T/audit.log" | tail -n1)
[ -n "$line" ] || fail "no issued-undelivered audit record: $(cat "$T/audit.log")"
serial=$(printf '%s' "$line" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["cert"]["serial"])')
case "$line" in *'"op":"sen"'*'"reason":"device left before the answer"'*) ;;
*) fail "audit record: $line" ;; esac
ok "issued-undelivered audited (serial $serial)"

# its retry on a new session, with a new PoP CSR: the same certificate
upstream_mode up op=simpleenroll
sen_pop -o "$T/retry.p7"
expect_pcode 2.04 "retry after leaving"
[ "$(upstream_count up simpleenroll)" -eq $((n + 1)) ] ||
    fail "the retry made a second simpleenroll"
got=$(p7_certs "$T/retry.p7" | openssl x509 -noout -serial | sed 's/^serial=//')
[ "$(echo "$got" | sed 's/^0*//')" = "$(echo "$serial" | sed 's/^0*//')" ] ||
    fail "the retry got serial $got, the CA issued $serial"
grep -q 'op=sen .*coap=2.04 .*reason=held' "$T/daemon.log" ||
    fail "the retry was not answered from the held answer"
ok "case 92: the retry (new session, new PoP CSR) got the same certificate, one simpleenroll"

# a GET cancelled by the DTLS close: a request line and a count
upstream_mode up op=cacerts delay_ms=2500
probe -m get -u /.well-known/est/crts -x 1500
[ "$(probe_field departed)" = 1 ] || fail "the probe did not leave"
wait_for "$T/daemon.log" 10 "op=crts .*coap=- .*reason=cancelled-dtls-closed" ||
    fail "no request line for the cancelled GET"
curl -sf "$M/metrics" >"$T/metrics.txt" || fail "GET /metrics"
grep -q '^estcoapd_requests_total{op="crts",label="",code="0.00"} 1$' \
    "$T/metrics.txt" || fail "cancelled GET not counted: \
$(grep requests_total "$T/metrics.txt" | tr '\n' ' ')"
ok "case 93: a GET cancelled by the DTLS close: request line and requests_total"

# the drain timeout cuts off a POST whose device left: its line, no send
upstream_mode up op=simpleenroll delay_ms=6000
KEY=$PKI/csr-p256-2.key sen_pop -X
[ "$(probe_field departed)" = 1 ] || fail "the probe did not leave"
wait_for "$T/daemon.log" 10 "device left (DTLS session closed)" ||
    fail "no orphaned POST"
kill -TERM "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "cut off by the drain timeout" ||
    fail "the drain timeout did not cut it off"
wait_for "$T/daemon.log" 10 "op=sen .*coap=5.03 .*reason=drain-timeout" ||
    fail "no request line for the cut-off request"
grep -q "the device left: answer not sent" "$T/daemon.log" ||
    fail "an answer went to a session that is gone"
stop_daemon || fail "the daemon did not exit 0 after the cut-off"
ok "case 93: drain cut-off of an orphaned POST: request line, nothing sent"

# SIGINT with requests pending: each gets its request line
NOWARM=1 start_daemon
upstream_mode up op=simpleenroll delay_ms=6000
probe_bg "$T/int.out" -m post -u /.well-known/est/sen -t 286 \
    -Y "$PKI/csr-p384.key" -s "$DEV_SUBJ" -L tls-unique -w 10
pb=$PROBE_PID
wait_for "$T/daemon.log" 10 "queued upstream" || fail "nothing pending"
kill -INT "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
[ "$rc" -eq 0 ] || fail "SIGINT: exit $rc"
kill "$pb" 2>/dev/null || true
wait "$pb" 2>/dev/null || true
grep -q "op=sen .*coap=- .*reason=cancelled-shutdown" "$T/daemon.log" ||
    fail "no request line for the request cancelled by SIGINT"
! grep -q "AddressSanitizer\|runtime error:\|LeakSanitizer" "$T/daemon.log" ||
    fail "sanitizer report"
ok "case 93: SIGINT: the cancelled request got its request line"
done_case
