#!/usr/bin/env bash
# Several upstream servers per route (doc/conformance.md cases 68-70 with a
# second server). A server that refuses, fails TLS or times out is marked
# down and the next one answers; a POST moves on only when its request was
# certainly not sent (no double issuance); a down server is skipped until
# a health check (GET cacerts) brings it back.
. "$(dirname "$0")/../lib.sh"

# metrics: estcoapd_upstream_server_up{server=URL} VALUE
server_up() {
	curl -s "http://127.0.0.1:$MPORT/metrics" |
	    sed -n "s|^estcoapd_upstream_server_up{server=\"$1\"} ||p"
}

# last_req OP: the request line of the last request of that op
last_req() {
	grep " op=$1 " "$T/daemon.log" | tail -n1
}

start_upstream b
B=https://localhost:$UP_PORT_b
dead=$(free_port tcp)
A=https://localhost:$dead
MPORT=$(free_port tcp)
# no cache: every crts goes upstream, so each GET shows where it went
write_config "$A" ',
	"est": { "cache_ttl_s": 0 },
	"service": { "metrics_port": '"$MPORT"',
		     "audit_file": "'"$T"'/audit.log" }'
sed -i "s|\"url\": \"$A\"|\"servers\": [ \"$A\", \"$B\" ], \"down_time_s\": 600, \"health_interval_s\": 1|" \
    "$T/estcoapd.json"
NOWARM=1 start_daemon

# case 68 with a second server: refused -> the POST moves on (not sent)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "case 68: sen answered by the second server when the first refuses"
[ "$(upstream_count b 'POST /.well-known/est/simpleenroll')" -eq 1 ] ||
    fail "the second server did not get the CSR once"
grep -q "upstream: server $A marked down for 600 s: .*(request not sent)" \
    "$T/daemon.log" || fail "no 'marked down' line for the refusing server"
grep -q "upstream: POST /.well-known/est/simpleenroll on $A failed .*trying $B" \
    "$T/daemon.log" || fail "no failover line"
ok "case 68: one line marks the server down, one says where the POST went"
grep -q '"event":"issued".*"upstream":"'"$B"'"' "$T/audit.log" ||
    fail "audit does not name the server used: $(tail -n1 "$T/audit.log")"
ok "the audit line names the server that issued"
[ "$(server_up "$A")" = 0 ] && [ "$(server_up "$B")" = 1 ] ||
    fail "per-server gauges: A=$(server_up "$A") B=$(server_up "$B")"
curl -s "http://127.0.0.1:$MPORT/metrics" | grep -q '^estcoapd_upstreams_up 1$' ||
    fail "estcoapd_upstreams_up is not 1"
ok "metrics: the refusing server 0, the other 1, one server up"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/readyz")" = 200 ] ||
    fail "/readyz not 200 while one server is up"
ok "/readyz stays 200 while one server of the route is up"

# down-marking: the next request goes straight to the second server
n=$(grep -c "trying $B" "$T/daemon.log")
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts while the first server is down"
[ "$(grep -c "trying $B" "$T/daemon.log")" -eq "$n" ] ||
    fail "the down server was tried again"
ok "a down server is skipped: the next request goes straight to the next"

# the health check brings the first server back once it listens again
start_upstream a -p "$dead"
wait_for "$T/daemon.log" 15 "upstream: server $A back up (health check)" ||
    fail "the health check did not bring the server back"
ok "a health check (GET cacerts) brings the server back"
grep -q "^GET /.well-known/est/cacerts " "$T/a.req" ||
    fail "the health check was not a GET cacerts"
[ "$(server_up "$A")" = 1 ] || fail "gauge of the server back up: $(server_up "$A")"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" -w 20
expect_pcode 2.04 "sen after the first server came back"
[ "$(upstream_count a POST)" -eq 1 ] || fail "the first server did not get the POST"
ok "the first server is used again, in order"
stop_daemon

# case 70 with a second server: an untrusted first server (TLS fails) and,
# for label "stall", one that never finishes the TLS handshake: the POST
# moves on, the CSR never reaches the first
start_upstream rogue -c "$PKI/upstream-rogue.crt" -k "$PKI/upstream-rogue.key"
perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
	    LocalPort => 0, Listen => 4) or die "listen: $!";
	open(my $f, ">", "$ARGV[0].tmp") or die; print $f $s->sockport, "\n";
	close($f); rename("$ARGV[0].tmp", $ARGV[0]);
	sleep 120;' "$T/stall.port" &
UPSTREAM_PIDS="$UPSTREAM_PIDS $!"
wait_for "$T/stall.port" 10 . || fail "no stalling listener"
STALL=https://localhost:$(cat "$T/stall.port")
R=https://localhost:$UP_PORT_rogue
UP_CONNECT_MS=700 write_config "$R" ',
	"est": { "cache_ttl_s": 0 },
	"labels": { "stall": { "upstream": {
		"servers": [ "'"$STALL"'", "'"$B"'" ] } } }'
sed -i "s|\"url\": \"$R\"|\"servers\": [ \"$R\", \"$B\" ]|" "$T/estcoapd.json"
nb=$(upstream_count b POST)
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "case 70: sen moves on from an untrusted server"
expect_upstream rogue 0 "case 70: the untrusted server never saw a request"
probe -m post -u /.well-known/est/stall/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "sen moves on from a TLS handshake that times out"
[ "$(upstream_count b 'POST /.well-known/est/stall/simpleenroll')" -eq 1 ] ||
    fail "the labelled sen did not reach the second server"
[ "$(upstream_count b POST)" -eq $((nb + 2)) ] || fail "extra POSTs on b"
ok "connect failures (TLS, connect timeout) move POSTs on"
stop_daemon

# case 69 with a second server: a server that takes the request and then
# hangs or cuts its answer off. The POST is NOT moved on (the CA may have
# issued): 5.04 / 5.02, and only the first server saw the CSR. A GET is.
start_upstream hang
upstream_mode hang delay_ms=60000
start_upstream cut
upstream_mode cut body=closemid
H=https://localhost:$UP_PORT_hang
C=https://localhost:$UP_PORT_cut
# (the probe fetches a separate answer in blocks: no 5.03 to repeat the
# request for the late 1.5 KB crts, coap.large_separate)
UP_CONNECT_MS=500 UP_TIMEOUT_MS=2000 write_config "$H" ',
	"est": { "cache_ttl_s": 0 },
	"coap": { "large_separate": "block2" },
	"labels": {
		"cut": { "upstream": { "servers": [ "'"$C"'", "'"$B"'" ] } },
		"get": { "upstream": { "servers": [ "'"$H"'", "'"$B"'" ] } }
	}'
sed -i "s|\"url\": \"$H\"|\"servers\": [ \"$H\", \"$B\" ]|" "$T/estcoapd.json"
nb=$(upstream_count b)
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.04 "case 69: a sent POST that times out is 5.04, not moved on"
last_req sen | grep -q "reason=upstream-timeout" ||
    fail "the 5.04 did not come from the upstream timeout: $(last_req sen)"
ok "case 69: curl's timeout comes before the device-side deadline"
probe -m post -u /.well-known/est/cut/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "a sent POST whose answer is cut off is 5.02, not moved on"
[ "$(upstream_count hang POST)" -eq 1 ] && [ "$(upstream_count cut POST)" -eq 1 ] ||
    fail "the first servers did not see the CSR exactly once"
expect_upstream b "$nb" "no double issuance: the second server never saw either CSR"
grep -q "not retried on another server, it may have been acted on" \
    "$T/daemon.log" || fail "no log line for the POST kept from failover"
ok "the log says why the POST was not moved on"
# a GET times out on the hanging server within its share of the budget
# and the next server answers, within the one budget
probe -m get -u /.well-known/est/get/crts -w 20
expect_pcode 2.05 "a GET moves on from a hanging server"
grep -q "GET /.well-known/est/get/cacerts" "$T/b.req" ||
    fail "the GET did not reach the second server"
grep -q "upstream: server $H of label get marked down" "$T/daemon.log" ||
    fail "the hanging server of label get not marked down"
ok "a timed-out server is marked down per route"
stop_daemon

# case 68 with every server closed: 5.02 after trying each, and /readyz
# says no upstream is reachable
d1=$(free_port tcp)
d2=$(free_port tcp)
[ "$d1" != "$d2" ] || d2=$((d1 + 1))
MPORT=$(free_port tcp)
write_config "https://localhost:$d1" ',
	"est": { "cache_ttl_s": 0 },
	"service": { "metrics_port": '"$MPORT"' }'
sed -i "s|\"url\": \"https://localhost:$d1\"|\"servers\": [ \"https://localhost:$d1\", \"https://localhost:$d2\" ]|" \
    "$T/estcoapd.json"
"$TOOLS/notify-listen" "$T/notify.sock" "$T/notify.log" 60 \
    2>>"$T/notify.stderr" &
UPSTREAM_PIDS="$UPSTREAM_PIDS $!"
for _ in $(seq 1 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
export NOTIFY_SOCKET=$T/notify.sock
NOWARM=1 start_daemon
unset NOTIFY_SOCKET
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "case 68: every server of the route closed"
# STATUS= is refreshed every 5 s
wait_for "$T/notify.log" 12 "STATUS=serving;.*upstream 0/2 servers up, none for the default route" ||
    fail "STATUS= does not say no server is up: $(tail -n 3 "$T/notify.log")"
ok "the systemd STATUS= line says which route has no server up"
grep -q "trying https://localhost:$d2" "$T/daemon.log" ||
    fail "the second closed server was not tried"
code=$(curl -s -o "$T/ready.txt" -w '%{http_code}' "http://127.0.0.1:$MPORT/readyz")
[ "$code" = 503 ] && grep -q "no upstream reachable" "$T/ready.txt" ||
    fail "/readyz with every server down: $code $(cat "$T/ready.txt")"
ok "/readyz 503 'no upstream reachable' when no route has a server up"
stop_daemon

# health checks off: a down server comes back by answering a request once
# its down time is over
start_upstream lazy
L=https://localhost:$UP_PORT_lazy
write_config "https://localhost:$d1" ',
	"est": { "cache_ttl_s": 0 }'
sed -i "s|\"url\": \"https://localhost:$d1\"|\"servers\": [ \"https://localhost:$d1\", \"$L\" ], \"down_time_s\": 1, \"health_interval_s\": 0|" \
    "$T/estcoapd.json"
NOWARM=1 start_daemon
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts from the second server"
start_upstream back -p "$d1"
for _ in $(seq 1 20); do
	grep -q "server https://localhost:$d1 back up (answered a request)" \
	    "$T/daemon.log" && break
	sleep 0.3
	probe -m get -u /.well-known/est/crts
done
grep -q "server https://localhost:$d1 back up (answered a request)" \
    "$T/daemon.log" || fail "the server did not come back by traffic"
grep -q "health check" "$T/daemon.log" && fail "a health check ran with health_interval_s 0"
ok "without health checks a server returns by answering after its down time"
done_case
