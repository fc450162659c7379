#!/usr/bin/env bash
# SIGTERM drains: no new devices, pending enrollments finish, then exit 0;
# past the drain timeout what is left gets 5.03 + Max-Age (and a log line);
# a second SIGTERM exits at once.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_daemon
upstream_mode up op=simpleenroll delay_ms=2500

# a pending enrollment finishes after SIGTERM
probe_bg "$T/pending.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 20
pp=$PROBE_PID
wait_for "$T/daemon.log" 10 "queued upstream" || fail "request not queued"
# a device with a session from before the drain asks again during it
probe_bg "$T/existing.out" -g /.well-known/est/crts -P 1500 -m get \
    -u /.well-known/est/att -w 10
pe=$PROBE_PID
wait_for "$T/existing.out" 5 "pre_code=2.05" || fail "no session before drain"
kill -TERM "$DAEMON_PID"
wait_for "$T/daemon.log" 5 "draining: no new devices" || fail "no drain"
probe -m get -u /.well-known/est/crts -w 5
[ "$(probe_field handshake)" = failed ] ||
    fail "a new device got in while draining ($(tr '\n' ' ' <"$T/probe.out"))"
ok "no new handshakes while draining"
wait "$pe" || true
grep -q '^code=5.03' "$T/existing.out" && grep -q '^maxage=' "$T/existing.out" ||
    fail "request on an existing session while draining: $(tr '\n' ' ' <"$T/existing.out")"
ok "existing session while draining: 5.03 + Max-Age"
wait "$pp" || true
grep -q '^code=2.04' "$T/pending.out" ||
    fail "pending enrollment did not finish: $(tr '\n' ' ' <"$T/pending.out")"
ok "pending enrollment finished during the drain"
wait_for "$T/daemon.log" 10 "drain: nothing pending, exiting" ||
    fail "daemon did not leave once idle"
stop_daemon || fail "drained daemon did not exit 0"
ok "drained daemon exited 0"

# the drain timeout cuts off what is still waiting: 5.03 + Max-Age
write_config "https://localhost:$UP_PORT_up" ',
	"service": { "drain_timeout_s": 1 }'
start_daemon
upstream_mode up op=simpleenroll delay_ms=8000
probe_bg "$T/cut.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 20
pp=$PROBE_PID
wait_for "$T/daemon.log" 10 "queued upstream" || fail "request not queued"
kill -TERM "$DAEMON_PID"
wait "$pp" || true
grep -q '^code=5.03' "$T/cut.out" ||
    fail "cut-off request: $(tr '\n' ' ' <"$T/cut.out")"
grep -q '^maxage=' "$T/cut.out" || fail "5.03 without Max-Age"
ok "drain timeout: 5.03 + Max-Age"
wait_for "$T/daemon.log" 10 "cut off by the drain timeout" ||
    fail "cut-off not logged per request"
ok "cut-off logged"
stop_daemon || fail "daemon did not exit 0 after the drain timeout"

# a second SIGTERM exits at once
write_config "https://localhost:$UP_PORT_up"
start_daemon
probe_bg /dev/null -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 5
pp=$PROBE_PID
wait_for "$T/daemon.log" 10 "queued upstream" || fail "request not queued"
kill -TERM "$DAEMON_PID"
sleep 0.3
kill -TERM "$DAEMON_PID"
wait_for "$T/daemon.log" 5 "second stop signal: exiting now" ||
    fail "second SIGTERM ignored"
stop_daemon || fail "daemon did not exit 0 on the second SIGTERM"
grep -q "cancelled: shutting down" "$T/daemon.old.log" "$T/daemon.log" ||
    fail "cancelled request not logged"
ok "second SIGTERM exits at once, cancellation logged"
wait "$pp" || true
done_case
