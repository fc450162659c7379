#!/usr/bin/env bash
# Listening on IPv6 and IPv4 at once, and a dual-stack "::" listener
# answering an IPv4 device.
. "$(dirname "$0")/../lib.sh"

ip -6 addr show dev lo 2>/dev/null | grep -q '::1' || skip "no ::1 on lo"
start_upstream up
write_config "https://localhost:$UP_PORT_up"
sed -i "s|\"listen\": \[ { \"address\": \"127.0.0.1\", \"port\": $PORT } \]|\"listen\": [ { \"address\": \"127.0.0.1\", \"port\": $PORT }, { \"address\": \"::1\", \"port\": $PORT } ]|" \
    "$T/estcoapd.json"
grep -q '"::1"' "$T/estcoapd.json" || fail "could not write the config"
start_daemon
probe -a ::1 -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "enroll over IPv6"
grep -q 'peer=\[::1\]:' "$T/daemon.log" || fail "IPv6 peer not logged"
ok "IPv6 peer logged as [::1]:port"
probe -a 127.0.0.1 -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts over IPv4 on the same daemon"
stop_daemon

write_config "https://localhost:$UP_PORT_up"
sed -i "s|\"address\": \"127.0.0.1\"|\"address\": \"::\"|" "$T/estcoapd.json"
start_daemon
probe -a 127.0.0.1 -m get -u /.well-known/est/crts
expect_pcode 2.05 "dual-stack :: listener answers IPv4"
done_case
