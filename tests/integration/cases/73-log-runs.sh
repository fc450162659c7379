#!/usr/bin/env bash
# Background retries log a change of state, not every try: a crts/att
# refresh that keeps failing logs one line when the run starts and one
# with the count when it works again (debug lines aside); a down upstream
# server logs "marked down" once and "back up ... after N failed tries"
# once, however many health checks failed in between.
. "$(dirname "$0")/../lib.sh"

# lines at info level or above of the daemon log that match PATTERN
loud() {
	grep -E ' estcoapd (error|warning|info): ' "$T/daemon.log" |
	    grep -c -- "$1" || true
}

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "cache_ttl_s": 2, "cache_max_stale_s": 600 }'
start_daemon
wait_for "$T/daemon.log" 10 "cache: att refreshed" || fail "att not cached"

# every refresh fails from now on: 1, 2, 4 ... s apart
upstream_mode up "status=500"
n0=$(upstream_count up csrattrs)
for _ in $(seq 1 300); do
	[ "$(upstream_count up csrattrs)" -ge $((n0 + 4)) ] && break
	sleep 0.1
done
[ "$(upstream_count up csrattrs)" -ge $((n0 + 4)) ] ||
    fail "att refresh was not retried 4 times"
probe -m get -u /.well-known/est/att
expect_pcode 2.05 "att served stale while refreshing fails"
probe -m get -u /.well-known/est/att
expect_pcode 2.05 "att served stale again"
[ "$(loud 'cache: att refresh failed')" -eq 1 ] ||
    fail "att refresh failures logged $(loud 'cache: att refresh failed') times at info or above, want 1"
[ "$(loud 'cache: crts refresh failed')" -eq 1 ] ||
    fail "crts refresh failures logged $(loud 'cache: crts refresh failed') times, want 1"
grep -q ' estcoapd warning: cache: att refresh failed: 5.00 upstream-status (upstream 500).*logged again when it works' \
    "$T/daemon.log" || fail "the first failure is not a warning saying what failed"
grep -q ' estcoapd debug: cache: att refresh failed again' "$T/daemon.log" ||
    fail "the retries are not at debug level"
[ "$(loud 'cache: att served stale')" -eq 1 ] ||
    fail "stale att logged $(loud 'cache: att served stale') times, want 1"
[ "$(grep -c 'op=att .*reason=stale' "$T/daemon.log")" -ge 2 ] ||
    fail "request lines do not say stale"
ok "a failing refresh: one warning for the whole run, retries at debug"

upstream_mode up
wait_for "$T/daemon.log" 70 "cache: att refresh works again" ||
    fail "no line when att refreshing works again"
line=$(grep 'cache: att refresh works again' "$T/daemon.log")
n=$(echo "$line" | sed -n 's/.* after \([0-9]*\) failed tries in [0-9]* s$/\1/p')
[ -n "$n" ] && [ "$n" -ge 4 ] || fail "recovery line without a count of 4 or more: $line"
echo "$line" | grep -q ' estcoapd info: ' || fail "recovery not at info: $line"
[ "$(loud 'cache: att refresh works again')" -eq 1 ] || fail "recovery logged twice"
ok "the run ends with one line and its count ($n failed tries)"
stop_daemon

# a down server: one line down, one line up with the number of failures
dead=$(free_port tcp)
A=https://localhost:$dead
write_config "$A" ',
	"est": { "cache_ttl_s": 0 }'
sed -i "s|\"url\": \"$A\"|\"servers\": [ \"$A\", \"https://localhost:$UP_PORT_up\" ], \"down_time_s\": 600, \"health_interval_s\": 1|" \
    "$T/estcoapd.json"
NOWARM=1 start_daemon
probe -m get -u /.well-known/est/crts -w 20
expect_pcode 2.05 "crts from the second server"
wait_more "$T/daemon.log" 30 "health check of $A failed" 2 ||
    fail "fewer than 3 health checks failed"
start_upstream a -p "$dead"
wait_for "$T/daemon.log" 15 "upstream: server $A back up" ||
    fail "the server did not come back"
line=$(grep "upstream: server $A back up" "$T/daemon.log")
n=$(echo "$line" | sed -n 's/.*back up (health check) after \([0-9]*\) failed tries in [0-9]* s$/\1/p')
[ -n "$n" ] && [ "$n" -ge 4 ] ||
    fail "back-up line without a count of 4 or more (1 request + 3 checks): $line"
[ "$(loud "server $A")" -eq 2 ] ||
    fail "$(loud "server $A") lines about the server at info or above, want 2 (down, up)"
ok "a down server: one line down, one line back up after $n failed tries"
done_case
