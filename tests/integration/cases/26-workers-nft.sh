#!/usr/bin/env bash
# Two workers behind the nftables spreader of `estcoapd -W`, in a network
# namespace of our own (unshare -n, lo up): devices, each a new process
# with its own source port, enroll through the one public port (worker 0's);
# jhash spreads them over both workers, and every device's session (a GET
# and then a sen) stays on one worker. A killed worker's devices fail, retry
# with a new DTLS session and finish once it is back.
# run.sh: alone (needs the whole machine; run after the others)
if [ -z "${ESTCOAPD_NETNS:-}" ]; then
	if ! command -v nft >/dev/null 2>&1; then
		echo "SKIP [26-workers-nft]: nft not installed (apt-get install \
nftables)" >&2
		exit 77
	fi
	if ! unshare -n true 2>/dev/null; then
		echo "SKIP [26-workers-nft]: cannot make a network namespace \
(unshare -n needs root or user namespaces)" >&2
		exit 77
	fi
	ESTCOAPD_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo up
. "$(dirname "$0")/../lib.sh"

NDEV=24

mk_csrs $((2 * NDEV))
start_upstream up
# the simulated devices share one certificate: no per-device cap
write_config "https://localhost:$UP_PORT_up" ",
	\"limits\": { \"max_pending_per_device\": 1024 },
	\"service\": { \"workers\": 2 }"
"$BUILD/estcoapd" -W -c "$T/estcoapd.json" >"$T/workers.nft"
nft -f "$T/workers.nft" 2>"$T/nft.err" ||
    fail "nft -f rejects the -W output: $(cat "$T/nft.err")"
ok "the -W ruleset loads in the namespace"

"$BUILD/estcoapd" -f -d -c "$T/estcoapd.json" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_workers 2

for n in $(seq 1 $NDEV); do
	enroll_retry "$PORT" "$n" -g /.well-known/est/crts >/dev/null ||
	    fail "device $n did not enroll: $(cat "$T/dev$n.out" "$T/dev$n.err")"
done
ok "$NDEV devices enrolled through port $PORT"
c0=$(grep -c "worker 0: req=.*op=sen.*coap=2.04" "$T/daemon.log" || true)
c1=$(grep -c "worker 1: req=.*op=sen.*coap=2.04" "$T/daemon.log" || true)
[ $((c0 + c1)) -eq "$NDEV" ] || fail "want $NDEV enrollments, workers \
logged $c0 + $c1"
[ "$c0" -gt 0 ] && [ "$c1" -gt 0 ] ||
    fail "jhash sent everyone to one worker: $c0 / $c1"
ok "jhash spread the devices: $c0 on worker 0, $c1 on worker 1"

# Each device's GET and sen came over one session, so one worker logged
# both for its peer address and port.
for w in 0 1; do
	grep "worker $w: req=.*op=sen" "$T/daemon.log" |
	    grep -o 'peer=[^ ]*' | sort >"$T/sen$w"
	grep "worker $w: req=.*op=crts" "$T/daemon.log" |
	    grep -o 'peer=[^ ]*' | sort >"$T/crts$w"
done
[ -z "$(comm -12 "$T/sen0" "$T/crts1")" ] &&
    [ -z "$(comm -12 "$T/sen1" "$T/crts0")" ] ||
    fail "a device's requests reached two workers"
[ "$(comm -12 "$T/sen0" "$T/crts0" | wc -l)" -eq "$c0" ] ||
    fail "worker 0 saw a sen without the GET of its session"
ok "each device stayed on one worker for its whole session"

# Worker 1 dies while its devices wait for a slow upstream: they get no
# answer, retry with a new session, and finish once the master has
# restarted it. Worker 0's devices are not disturbed.
upstream_mode up op=simpleenroll delay_ms=2000
W1=$(sed -n 's/.*worker 1 (pid \([0-9]*\)) ready.*/\1/p' "$T/daemon.log" |
    tail -n1)
q0=$(grep -c "worker 1: .*queued upstream" "$T/daemon.log" || true)
DEVPIDS=""
for n in $(seq $((NDEV + 1)) $((2 * NDEV))); do
	WAIT_S=5 enroll_retry "$PORT" "$n" -g /.well-known/est/crts >"$T/att$n" &
	DEVPIDS="$DEVPIDS $!"
done
wait_more "$T/daemon.log" 20 "worker 1: .*queued upstream" "$q0" ||
    fail "no device got to worker 1"
kill -KILL "$W1"
for p in $DEVPIDS; do
	wait "$p" || true
done
wait_for "$T/daemon.log" 5 "worker 1 (pid $W1) killed by signal 9" ||
    fail "the master did not see worker 1 die"
[ "$(grep -c 'worker 1 (pid [0-9]*) ready' "$T/daemon.log")" -ge 2 ] ||
    fail "worker 1 was not restarted"
retried=0
for n in $(seq $((NDEV + 1)) $((2 * NDEV))); do
	a=$(cat "$T/att$n")
	[ -n "$a" ] || fail "device $n did not enroll after the kill: \
$(cat "$T/dev$n.out")"
	[ "$a" -eq 1 ] || retried=$((retried + 1))
done
[ "$retried" -gt 0 ] || fail "no device had to retry: the kill hit nobody"
ok "SIGKILL of worker 1 mid-enrollment: all $NDEV devices enrolled, \
$retried of them after a retry with a new session"
grep -q "worker 0: req=.*coap=[45]" "$T/daemon.log" &&
    fail "worker 0 failed a request: $(grep 'worker 0: req=.*coap=[45]' \
"$T/daemon.log" | head -n1)"
ok "no enrollment failed on worker 0"

stop_daemon || fail "the master did not exit 0"
nft delete table inet estcoapd
done_case
