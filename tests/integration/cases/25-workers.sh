#!/usr/bin/env bash
# service.workers = 2: a master forks two worker processes, worker i on
# the listen port + i and the metrics port + i. Both enroll devices; a
# worker killed with SIGKILL is restarted and serves again; a SIGHUP is
# checked by the master and reaches both (generation 2 in each worker's
# metrics), a broken file reaches neither; -W prints the nftables spreader
# for the config; a stopped worker is killed after the watchdog interval
# and restarted; SIGTERM drains both and the master exits 0; a SIGHUP
# during start-up waits for the workers' handlers. The master
# speaks sd_notify: READY=1 only after both workers are ready, WATCHDOG=1.
# run.sh: alone (needs the whole machine; run after the others)
. "$(dirname "$0")/../lib.sh"

[ -x "$TOOLS/notify-listen" ] || fail "no $TOOLS/notify-listen (make all)"

# Two free consecutive ports of a protocol ("udp" or "tcp").
free_pair() {
	local p
	for _ in $(seq 1 50); do
		p=$(free_port "$1") || return 1
		if ! ss -Hln"${1:0:1}" "sport = :$((p + 1))" 2>/dev/null |
		    grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# worker_pids: the master's children, one per line.
worker_pids() {
	pgrep -P "$DAEMON_PID" | sort -n
}

# metric PORT NAME: a sample of one worker's /metrics.
metric() {
	curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

# enroll PORT WHAT: one sen with the P-256 CSR must be answered 2.04.
enroll() {
	PORT=$1 probe -m post -u /.well-known/est/sen -t 286 \
	    -f "$PKI/csr-p256.der" -w 20
	expect_pcode 2.04 "$2"
}

start_upstream up
MP=$(free_pair tcp) || fail "no two free TCP ports"
write_config "https://localhost:$UP_PORT_up" ",
	\"service\": { \"workers\": 2, \"metrics_port\": $MP }"
P0=$(free_pair udp) || fail "no two free UDP ports"
sed -i "s/\"port\": $PORT/\"port\": $P0/" "$T/estcoapd.json"
PORT=$P0
"$BUILD/estcoapd" -t -c "$T/estcoapd.json" >/dev/null ||
    fail "the workers config does not pass -t"

# --- the nftables rule of -W --------------------------------------------

"$BUILD/estcoapd" -W -c "$T/estcoapd.json" >"$T/workers.nft" ||
    fail "estcoapd -W failed"
grep -q "ip daddr 127.0.0.1 udp dport $P0 dnat ip to jhash ip saddr . udp \
sport mod 2 map { 0 : 127.0.0.1 . $P0, 1 : 127.0.0.1 . $((P0 + 1)) }" \
    "$T/workers.nft" || fail "-W: no jhash rule for port $P0: \
$(cat "$T/workers.nft")"
[ "$(grep -c 'type nat hook' "$T/workers.nft")" -eq 2 ] ||
    fail "-W: want a prerouting and an output chain"
if command -v nft >/dev/null 2>&1; then
	nft -c -f "$T/workers.nft" 2>"$T/nft.err" ||
	    fail "nft -c rejects the -W output: $(cat "$T/nft.err")"
	ok "-W output passes nft -c"
fi
ok "-W prints a jhash DNAT over both worker ports"

# --- start: two workers, READY=1 from the master after both ---------------

"$TOOLS/notify-listen" "$T/notify.sock" "$T/notify.log" 120 \
    2>>"$T/notify.stderr" &
LISTEN_PID=$!
UPSTREAM_PIDS="$UPSTREAM_PIDS $LISTEN_PID"
wait_for "$T/notify.sock" 5 "" 2>/dev/null || sleep 0.5

# WATCHDOG_USEC 6 s: the master pings every 3 s and kills a worker that
# has been silent for 6 s (its tick reports once a second).
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=6000000 "$BUILD/estcoapd" -f \
    -c "$T/estcoapd.json" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_workers 2
mapfile -t PIDS < <(worker_pids)
[ "${#PIDS[@]}" -eq 2 ] || fail "want 2 worker processes, have ${#PIDS[@]}"
ok "two worker processes (${PIDS[*]}) under master $DAEMON_PID"
wait_for "$T/notify.log" 5 "READY=1" || fail "no READY=1 from the master"
r=$(grep -n -m1 'READY=1' "$T/notify.log" | cut -d: -f1)
w1=$(grep -n -m1 'worker 1 (pid [0-9]*) ready' "$T/daemon.log" | cut -d: -f1)
[ -n "$w1" ] || fail "no ready line of worker 1"
grep -q "STATUS=serving; 2 of 2 workers" "$T/notify.log" ||
    fail "READY=1 without the workers in STATUS=: $(cat "$T/notify.log")"
ok "READY=1 (notification $r) once both workers serve"

# --- both serve -------------------------------------------------------

enroll "$P0" "worker 0 enrolls on port $P0"
enroll "$((P0 + 1))" "worker 1 enrolls on port $((P0 + 1))"
grep -q "worker 0: req=.*op=sen.*2.04" "$T/daemon.log" ||
    fail "no request line of worker 0"
grep -q "worker 1: req=.*op=sen.*2.04" "$T/daemon.log" ||
    fail "no request line of worker 1"
ok "each worker logs its own request lines"
[ "$(metric "$MP" estcoapd_certificates_issued_total)" = 1 ] ||
    fail "worker 0 metrics: $(metric "$MP" estcoapd_certificates_issued_total)"
[ "$(metric "$((MP + 1))" estcoapd_certificates_issued_total)" = 1 ] ||
    fail "worker 1 metrics on port $((MP + 1))"
ok "per-worker metrics on ports $MP and $((MP + 1)), one issue each"

# --- kill -9 one worker: restarted, serves again ------------------------

# which pid is worker 1: its ready line names it
W1=$(sed -n 's/.*worker 1 (pid \([0-9]*\)) ready.*/\1/p' "$T/daemon.log" |
    tail -n1)
kill -KILL "$W1"
wait_for "$T/daemon.log" 10 "worker 1 (pid $W1) killed by signal 9" ||
    fail "the master did not notice the death of worker 1"
wait_more "$T/daemon.log" 20 "worker 1 (pid [0-9]*) ready" 1 ||
    fail "worker 1 was not restarted"
grep -q "restarting it in [0-9]* ms (restart 1)" "$T/daemon.log" ||
    fail "no restart line with the back-off"
NEW=$(sed -n 's/.*worker 1 (pid \([0-9]*\)) ready.*/\1/p' "$T/daemon.log" |
    tail -n1)
[ "$NEW" != "$W1" ] || fail "worker 1 still has pid $W1"
kill -0 "$NEW" || fail "the new worker 1 ($NEW) is not running"
ok "SIGKILLed worker 1 ($W1) restarted as $NEW"
enroll "$((P0 + 1))" "the restarted worker 1 enrolls again"
enroll "$P0" "worker 0 kept serving"

# --- SIGHUP: checked by the master, then in every worker --------------

kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 20 "reload: generation 2 in use on 2 worker" ||
    fail "the reload did not complete on both workers"
for i in 0 1; do
	grep -q "worker $i: reload: generation 2 in use" "$T/daemon.log" ||
	    fail "worker $i did not reload"
done
[ "$(metric "$MP" estcoapd_config_generation)" = 2 ] ||
    fail "worker 0 generation: $(metric "$MP" estcoapd_config_generation)"
[ "$(metric "$((MP + 1))" estcoapd_config_generation)" = 2 ] ||
    fail "worker 1 generation: $(metric "$((MP + 1))" estcoapd_config_generation)"
ok "SIGHUP reached both workers: generation 2 in each one's metrics"
grep -q "RELOADING=1" "$T/notify.log" || fail "no RELOADING=1"
wait_more "$T/notify.log" 5 "READY=1" 1 || fail "no READY=1 after the reload"
ok "RELOADING=1 ... READY=1 from the master"

cp "$T/estcoapd.json" "$T/good.json"
echo '{ "broken": ' >"$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "workers were not signalled" ||
    fail "the master passed a broken config on"
grep -q "reload: .*estcoapd.json:[0-9]*:[0-9]*: JSON syntax error" \
    "$T/daemon.log" || fail "the master did not say what is wrong"
[ "$(grep -c 'worker .: reload: reading' "$T/daemon.log")" -eq 2 ] ||
    fail "a worker was signalled for a broken config"
cp "$T/good.json" "$T/estcoapd.json"
sed -i 's/"workers": 2/"workers": 3/' "$T/estcoapd.json"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "service.workers: cannot change while running" ||
    fail "a change of service.workers was not refused"
cp "$T/good.json" "$T/estcoapd.json"
[ "$(metric "$MP" estcoapd_config_generation)" = 2 ] ||
    fail "a refused reload changed the generation"
ok "a broken file or a new worker count stays with the master"
enroll "$P0" "worker 0 serves after the refused reloads"

# --- a stuck worker: killed after the watchdog interval, restarted -------

grep -q "WATCHDOG=1" "$T/notify.log" || fail "no WATCHDOG=1 from the master"
ok "the master sends WATCHDOG=1"
W0=$(sed -n 's/.*worker 0 (pid \([0-9]*\)) ready.*/\1/p' "$T/daemon.log" |
    tail -n1)
kill -STOP "$W0"
wait_for "$T/daemon.log" 20 "worker 0 (pid $W0) silent for [0-9]* ms: killing it" ||
    fail "a stopped worker 0 was not noticed"
wait_more "$T/daemon.log" 20 "worker 0 (pid [0-9]*) ready" 1 ||
    fail "worker 0 was not restarted after the stall"
ok "a stopped worker 0 ($W0) was killed and restarted"
enroll "$P0" "the restarted worker 0 enrolls"

# --- SIGTERM: both drain, the master exits 0 ------------------------------

mapfile -t PIDS < <(worker_pids)
stop_daemon || fail "the master did not exit 0 on SIGTERM"
for p in "${PIDS[@]}"; do
	kill -0 "$p" 2>/dev/null && fail "worker $p still runs"
done
grep -q "worker 0: draining" "$T/daemon.log" || fail "worker 0 did not drain"
grep -q "worker 1: draining" "$T/daemon.log" || fail "worker 1 did not drain"
grep -q "every worker has left (exit status 0)" "$T/daemon.log" ||
    fail "no clean exit line of the master"
grep -q "STOPPING=1" "$T/notify.log" || fail "no STOPPING=1"
ok "SIGTERM drained both workers; master exit status 0"

# --- SIGHUP while the workers start: held, then a reload in each ---------

cat "$T/daemon.log" >>"$T/daemon.old.log"
: >"$T/daemon.log"
"$BUILD/estcoapd" -f -c "$T/estcoapd.json" >>"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_for "$T/daemon.log" 10 "worker 1 (pid [0-9]*) started" ||
    fail "the master did not fork worker 1"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 20 "ready: 2 workers serving" ||
    fail "a SIGHUP during start-up kept the workers from getting ready"
wait_for "$T/daemon.log" 20 "reload: generation 2 in use on 2 worker" ||
    fail "a SIGHUP during start-up did not reach both workers"
! grep -q "killed by signal" "$T/daemon.log" ||
    fail "a worker died of the early SIGHUP: $(grep 'killed by' "$T/daemon.log")"
ok "a SIGHUP while the workers start waits for them, then reloads both"
stop_daemon || fail "the master did not exit 0 after the early reload"

# --- a worker that cannot start fails the start ---------------------------

# worker 1's UDP port is taken: the master stops worker 0 and exits 2
coap-server-openssl -A 127.0.0.1 -p "$((P0 + 1))" >/dev/null 2>&1 &
BLOCK_PID=$!
UPSTREAM_PIDS="$UPSTREAM_PIDS $BLOCK_PID"
for _ in $(seq 1 50); do
	ss -Hlnu "sport = :$((P0 + 1))" | grep -q . && break
	sleep 0.1
done
set +e
timeout 60 "$BUILD/estcoapd" -f -c "$T/estcoapd.json" >"$T/fail.log" 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a worker that cannot bind: exit $rc, want 2 \
$(tail -n 5 "$T/fail.log")"
grep -q "worker 1 (pid [0-9]*) exited with status 2 before it was ready" \
    "$T/fail.log" || fail "no line says why: $(tail -n 5 "$T/fail.log")"
! grep -q "workers serving" "$T/fail.log" ||
    fail "the master claimed to be ready"
grep -q "worker 0 (pid [0-9]*) exited with status 0" "$T/fail.log" ||
    fail "worker 0 did not leave cleanly: $(tail -n 8 "$T/fail.log")"
ok "a worker that cannot bind fails the start with exit 2"
done_case
