#!/usr/bin/env bash
# crts/att from the cache: Max-Age is the rest of the TTL, an ETag names
# the representation and a request carrying it gets 2.03 Valid (case 19's
# ETag part); while the upstream is down an expired answer is still served
# (stale) up to est.cache_max_stale_s, then the device gets the 5.02.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "cache_ttl_s": 60 }'
start_daemon

probe -m get -u /.well-known/est/crts -o "$T/crts.der"
expect_pcode 2.05 "crts from the cache"
etag=$(probe_field etag)
age=$(probe_field maxage)
[ -n "$etag" ] || fail "cached crts without ETag"
[ -n "$age" ] && [ "$age" -gt 0 ] && [ "$age" -le 60 ] ||
    fail "cached crts Max-Age '$age', want 1..60"
ok "cached crts carries ETag $etag and Max-Age $age"
probe -m get -u /.well-known/est/crts -O "4,$etag"
expect_pcode 2.03 "crts with the current ETag"
[ "$(probe_field len)" = 0 ] || fail "2.03 carried a payload"
[ "$(probe_field etag)" = "$etag" ] || fail "2.03 without the ETag"
ok "2.03 Valid: no payload, same ETag"
probe -m get -u /.well-known/est/crts -O 4,0102030405060708 -o "$T/again.der"
expect_pcode 2.05 "crts with another ETag"
cmp -s "$T/crts.der" "$T/again.der" || fail "representation changed"
probe -m get -u /.well-known/est/att
expect_pcode 2.05 "att from the cache"
[ -n "$(probe_field etag)" ] && [ "$(probe_field etag)" != "$etag" ] ||
    fail "att ETag missing or equal to crts'"
ok "att has its own ETag"
stop_daemon

# stale while the upstream is down
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "cache_ttl_s": 2, "cache_max_stale_s": 60 }'
start_daemon
for p in $UPSTREAM_PIDS; do kill "$p"; wait "$p" 2>/dev/null || true; done
UPSTREAM_PIDS=""
wait_for "$T/daemon.log" 10 "cache: crts refresh failed" ||
    fail "refresh did not fail with the upstream gone"
sleep 2.5
probe -m get -u /.well-known/est/crts -o "$T/stale.der"
expect_pcode 2.05 "expired crts while the upstream is down"
[ "$(probe_field maxage)" = 0 ] || fail "stale answer Max-Age $(probe_field maxage)"
cmp -s "$T/crts.der" "$T/stale.der" || fail "stale answer differs"
grep -q "cache: crts served stale" "$T/daemon.log" || fail "stale not logged"
grep -q "op=crts .*coap=2.05 .*reason=stale" "$T/daemon.log" ||
    fail "request line does not say stale"
ok "stale crts served with Max-Age 0 and logged"
stop_daemon

# no staleness allowed: the device learns the upstream is down
write_config "https://localhost:1" ',
	"est": { "cache_ttl_s": 2, "cache_max_stale_s": 0 }'
NOWARM=1 start_daemon
probe -m get -u /.well-known/est/crts -w 10
expect_pcode 5.02 "no cache, upstream down"
done_case
