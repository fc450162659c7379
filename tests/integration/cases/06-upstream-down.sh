#!/usr/bin/env bash
# An upstream that is down, black-holed, untrusted, or refuses our client
# certificate (doc/conformance.md cases 68-71).
. "$(dirname "$0")/../lib.sh"

# 68: nothing listens on the upstream port -> 5.02
dead=$(free_port tcp)
write_config "https://localhost:$dead"
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "case 68: upstream port closed -> 5.02"
# a refused connection fails at once: within coap.ack_hold_ms, piggybacked
ok "5.02 $([ "$(probe_field empty_ack)" = 1 ] && echo "after an empty ACK" ||
    echo piggybacked)"
stop_daemon

# 69: the upstream accepts but never answers -> 5.04 after the timeout
start_upstream slow
upstream_mode slow delay_ms=60000
UP_CONNECT_MS=1000 UP_TIMEOUT_MS=1500 write_config "https://localhost:$UP_PORT_slow"
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.04 "case 69: black-holed upstream -> 5.04 after the timeout"
stop_daemon

# 70: upstream certificate from an unknown CA -> 5.02, CSR never sent
start_upstream rogue -c "$PKI/upstream-rogue.crt" -k "$PKI/upstream-rogue.key"
write_config "https://localhost:$UP_PORT_rogue"
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "untrusted upstream certificate"
expect_upstream rogue 0 "case 70: untrusted upstream CA: 5.02, no request reached it"
stop_daemon

# 70b: right CA, wrong host name (the cert names only wrong.example)
cat "$PKI/upstream-wronghost.crt" "$PKI/est-ca.crt" >"$T/wronghost-chain.pem"
start_upstream host -c "$T/wronghost-chain.pem" -k "$PKI/upstream-wronghost.key"
write_config "https://localhost:$UP_PORT_host"
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "upstream host name mismatch"
expect_upstream host 0 "case 70: wrong upstream host name: 5.02, no request reached it"
stop_daemon

# 71: the upstream does not trust our client certificate -> 5.02
start_upstream picky -C "$PKI/rogue-ca.crt"
write_config "https://localhost:$UP_PORT_picky"
NOWARM=1 start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.02 "case 71: upstream rejects our client certificate -> 5.02"
done_case
