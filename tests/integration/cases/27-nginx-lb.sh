#!/usr/bin/env bash
# Scale-out across hosts behind a real UDP load balancer: nginx's stream
# module, run from conf/nginx-estcoapd.conf (hash $remote_addr$remote_port
# consistent), in front of two estcoapd instances on loopback. Devices,
# each a process with its own source port and CSR, enroll through it and
# are spread over both instances. Then instance B is killed while
# enrollments are pending: its devices get no answer, retry with a new
# DTLS session (the device policy scripted below), are moved by nginx to
# instance A and finish; no enrollment on A fails.
# run.sh: alone (needs the whole machine; run after the others)
. "$(dirname "$0")/../lib.sh"

MOD=/usr/lib/nginx/modules/ngx_stream_module.so
command -v nginx >/dev/null 2>&1 ||
    skip "nginx not installed (apt-get install nginx-light libnginx-mod-stream)"
[ -f "$MOD" ] || skip "no $MOD (apt-get install libnginx-mod-stream)"

NDEV=16

# sen_ok LOG: enrollments an instance answered 2.04.
sen_ok() {
	grep -c "req=.*op=sen.*coap=2.04" "$1" || true
}

mk_csrs $((2 * NDEV))
start_upstream up
# the simulated devices share one certificate: no per-device cap
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "max_pending_per_device": 1024 }'
PA=$PORT
start_daemon
PB=$(free_port udp) || fail "no free UDP port"
sed "s/\"port\": $PA/\"port\": $PB/" "$T/estcoapd.json" >"$T/b.json"
"$BUILD/estcoapd" -f -d -c "$T/b.json" >"$T/extra-b.log" 2>&1 &
BPID=$!
UPSTREAM_PIDS="$UPSTREAM_PIDS $BPID"
wait_for "$T/extra-b.log" 10 "cache: crts refreshed" ||
    fail "instance B did not start"

# nginx from the shipped example, moved to our ports and our directory
LB=$(free_port udp) || fail "no free UDP port"
mkdir -p "$T/nginx"
sed -e "s/127\.0\.0\.1:5684 udp/127.0.0.1:$LB udp/" \
    -e "s/127\.0\.0\.1:5701/127.0.0.1:$PA/" \
    -e "s/127\.0\.0\.1:5702/127.0.0.1:$PB/" \
    "$TOP/conf/nginx-estcoapd.conf" >"$T/nginx.conf"
grep -q "127.0.0.1:$PB max_fails" "$T/nginx.conf" ||
    fail "conf/nginx-estcoapd.conf no longer has the servers the test moves"
nginx -t -q -c "$T/nginx.conf" -p "$T/nginx/" -e "$T/nginx/error.log" \
    2>"$T/extra-nginx-t.log" ||
    fail "nginx -t rejects conf/nginx-estcoapd.conf: $(cat "$T/extra-nginx-t.log")"
nginx -c "$T/nginx.conf" -p "$T/nginx/" -e "$T/nginx/error.log" \
    -g 'daemon off;' 2>>"$T/extra-nginx.log" &
NGINX_PID=$!
UPSTREAM_PIDS="$UPSTREAM_PIDS $NGINX_PID"
for _ in $(seq 1 50); do
	ss -Hlnu "sport = :$LB" 2>/dev/null | grep -q . && break
	sleep 0.1
done
ss -Hlnu "sport = :$LB" | grep -q . ||
    fail "nginx does not listen on $LB: $(cat "$T/nginx/error.log")"
ok "nginx stream (UDP) from conf/nginx-estcoapd.conf on $LB -> $PA, $PB"

# --- devices enroll through the balancer, spread over both -------------

for n in $(seq 1 $NDEV); do
	enroll_retry "$LB" "$n" >/dev/null ||
	    fail "device $n did not enroll: $(cat "$T/dev$n.out" "$T/dev$n.err")"
done
a=$(sen_ok "$T/daemon.log")
b=$(sen_ok "$T/extra-b.log")
[ $((a + b)) -eq "$NDEV" ] || fail "want $NDEV enrollments, got $a + $b"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "nginx sent all to one: $a / $b"
ok "$NDEV devices enrolled through nginx: $a on A, $b on B"

# --- B dies while its enrollments wait for a slow CA ---------------------

upstream_mode up op=simpleenroll delay_ms=2000
qa=$(grep -c "queued upstream" "$T/daemon.log" || true)
qb=$(grep -c "queued upstream" "$T/extra-b.log" || true)
DEVPIDS=""
for n in $(seq $((NDEV + 1)) $((2 * NDEV))); do
	WAIT_S=5 enroll_retry "$LB" "$n" >"$T/att$n" &
	DEVPIDS="$DEVPIDS $!"
done
wait_more "$T/extra-b.log" 20 "queued upstream" "$qb" ||
    fail "no device reached B"
wait_more "$T/daemon.log" 20 "queued upstream" "$qa" ||
    fail "no device reached A"
kill -KILL "$BPID"
wait "$BPID" 2>/dev/null || true
UPSTREAM_PIDS=${UPSTREAM_PIDS/ $BPID/}
for p in $DEVPIDS; do
	wait "$p" || true
done
retried=0
for n in $(seq $((NDEV + 1)) $((2 * NDEV))); do
	att=$(cat "$T/att$n")
	[ -n "$att" ] || fail "device $n never enrolled after B died: \
$(cat "$T/dev$n.out" "$T/dev$n.err")"
	[ "$att" -eq 1 ] || retried=$((retried + 1))
done
[ "$retried" -gt 0 ] || fail "no device had to retry: the kill hit nobody"
ok "B killed mid-enrollment: all $NDEV devices enrolled, $retried after \
a retry with a new DTLS session"
a2=$(sen_ok "$T/daemon.log")
[ $((a2 - a)) -ge "$retried" ] ||
    fail "A finished $((a2 - a)) enrollments, fewer than the $retried retries"
ok "B's devices re-handshook through nginx and finished on A"
if grep -q "req=.*coap=[45]\.[0-9]" "$T/daemon.log"; then
	fail "an enrollment on A failed: $(grep 'req=.*coap=[45]\.' \
"$T/daemon.log" | head -n1)"
fi
ok "no enrollment on the surviving instance failed"
grep -q "upstream server temporarily disabled\|Connection refused" \
    "$T/nginx/error.log" || fail "nginx never noticed B was gone"
ok "nginx marked B failed ($(grep -c 'Connection refused' \
"$T/nginx/error.log") refused datagrams)"

stop_daemon || fail "instance A did not stop cleanly"
kill -QUIT "$NGINX_PID" 2>/dev/null || true
done_case
