#!/usr/bin/env bash
# Backpressure (doc/bench/results.md, B4): one pooled upstream connection, a CA that
# takes 1 s per enrollment, a 3 s upstream budget, six devices at once.
# estcoapd mirrors curl's connection queue: those it can still serve in
# time get their certificate, the others 5.03 + Max-Age straight away; no
# device is left to time out (no 5.04, nothing unanswered), the refused
# never reach the CA, and each refusal is counted as a limit refusal.
# The DTLS socket gets dtls.receive_buffer, so such a burst is not dropped.
. "$(dirname "$0")/../lib.sh"

N=6
start_upstream up
MPORT=$(free_port tcp)
UP_TIMEOUT_MS=3000 UP_CONNECT_MS=1000 UP_EXTRA=', "max_connections": 1' \
    write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "busy_max_age_s": 2, "exchange_entries": 0 },
	"service": { "metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' }'
start_daemon
upstream_mode up op=simpleenroll delay_ms=1000
# a crowd's burst must fit the DTLS socket's receive buffer (4 MiB default)
grep -q 'listen: DTLS receive buffer [0-9]* bytes' "$T/daemon.log" ||
    fail "the DTLS receive buffer was not sized"
ok "DTLS socket receive buffer sized: $(grep -o 'receive buffer [0-9]* bytes' "$T/daemon.log")"

for i in $(seq 0 $N); do
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/k$i.pem" 2>/dev/null
	openssl req -new -key "$T/k$i.pem" -subj "$DEV_SUBJ" -outform DER \
	    -out "$T/csr$i.der" 2>/dev/null || fail "cannot make CSR $i"
done

# one enrollment at the CA's pace teaches the service time (about 1 s)
probe -m post -u /.well-known/est/sen -t 286 -f "$T/csr0.der" -w 20
expect_pcode 2.04 "priming enrollment"

pids=""
for i in $(seq 1 $N); do
	probe_bg "$T/p$i.out" -m post -u /.well-known/est/sen -t 286 \
	    -f "$T/csr$i.der" -w 20
	pids="$pids $PROBE_PID"
done
for p in $pids; do wait "$p" || true; done

ok_n=0 busy_n=0
for i in $(seq 1 $N); do
	code=$(sed -n 's/^code=//p' "$T/p$i.out" | tail -n1)
	case "$code" in
	2.04)	ok_n=$((ok_n + 1)) ;;
	5.03)	busy_n=$((busy_n + 1))
		age=$(sed -n 's/^maxage=//p' "$T/p$i.out" | tail -n1)
		[ -n "$age" ] && [ "$age" -ge 2 ] && [ "$age" -le 3600 ] ||
		    fail "device $i: 5.03 with Max-Age '$age', want 2..3600" ;;
	*)	fail "device $i got '${code:-nothing}': $(tr '\n' ' ' <"$T/p$i.out")" ;;
	esac
done
[ "$ok_n" -ge 1 ] || fail "no device of the crowd got its certificate"
[ "$busy_n" -ge 1 ] || fail "every device was queued: nobody refused"
ok "$ok_n devices enrolled, $busy_n refused with 5.03 + Max-Age, none timed out"

n=$(upstream_count up simpleenroll)
[ "$n" -eq $((1 + ok_n)) ] ||
    fail "the CA saw $n enrollments, want $((1 + ok_n)): the refused reached it"
ok "the refused never reached the CA"
n=$(grep -c 'op=sen .*coap=5.03 .*reason=backlog' "$T/daemon.log" || true)
[ "$n" -eq "$busy_n" ] || fail "$n backlog refusals logged, want $busy_n"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt" ||
    fail "GET /metrics"
grep -q "^estcoapd_limit_refusals_total{limit=\"upstream_backlog\"} $busy_n\$" \
    "$T/metrics.txt" || fail "refusals not counted: $(grep limit_refusals "$T/metrics.txt")"
grep -q '^estcoapd_upstream_queued 0$' "$T/metrics.txt" ||
    fail "queue gauge not back to 0"
grep -q '^estcoapd_upstream_running 0$' "$T/metrics.txt" ||
    fail "running gauge not back to 0"
ok "refusals logged and counted as limit=upstream_backlog; pool gauges at 0"

# with shedding off the same crowd queues, and the late ones time out
sed 's/"busy_max_age_s": 2,/"busy_max_age_s": 2, "backlog_shed": false,/' \
    "$T/estcoapd.json" >"$T/off.json"
cp "$T/off.json" "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload with backlog_shed false did not take"
pids=""
for i in 1 2 3 4; do
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/q$i.pem" 2>/dev/null
	openssl req -new -key "$T/q$i.pem" -subj "$DEV_SUBJ" -outform DER \
	    -out "$T/qcsr$i.der" 2>/dev/null
	probe_bg "$T/q$i.out" -m post -u /.well-known/est/sen -t 286 \
	    -f "$T/qcsr$i.der" -w 20
	pids="$pids $PROBE_PID"
done
for p in $pids; do wait "$p" || true; done
late=$(cat "$T"/q?.out | grep -c '^code=5.04' || true)
[ "$late" -ge 1 ] || fail "without shedding no device timed out: $(cat "$T"/q?.out | grep '^code=' | tr '\n' ' ')"
ok "with limits.backlog_shed false, $late of 4 queued devices got 5.04"
done_case
