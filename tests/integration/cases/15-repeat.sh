#!/usr/bin/env bash
# Finished enrollments are remembered for EXCHANGE_LIFETIME (RFC 7252
# 4.5, doc/conformance.md case 48): a retransmission that arrives after the separate answer
# went out, or the same CSR sent again, gets the same certificate at once
# and the CA is not asked to issue twice. Per device certificate; only
# 2.xx answers; off with limits.exchange_entries = 0.
. "$(dirname "$0")/../lib.sh"

start_upstream up
# csr_identity any: one CSR from two devices (the repeat memory is per
# device); case 70 covers the identity policy
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "csr_identity": "any" }'
start_daemon
n0=$(upstream_count up simpleenroll)

# retransmissions while pending (47) and the first answer
upstream_mode up op=simpleenroll delay_ms=1000
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" -D 2 \
    -w 20 -o "$T/first.p7"
expect_pcode 2.04 "first enrollment"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 1)) ] ||
    fail "a retransmission reached the upstream"

# the same request after completion
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" \
    -w 20 -o "$T/again.p7"
expect_pcode 2.04 "repeated request after completion"
[ "$(probe_field empty_ack)" != 1 ] || fail "repeat went upstream (empty ACK)"
cmp -s "$T/first.p7" "$T/again.p7" || fail "repeat got another certificate"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 1)) ] ||
    fail "a repeat after completion reached the upstream"
grep -q "op=sen .*coap=2.04 .*reason=repeat" "$T/daemon.log" ||
    fail "repeat not logged as such"
ok "case 48: repeat after completion: same certificate, no upstream call"

# the same over Block1: answered on the last block, byte-identical
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" \
    -b 2 -o "$T/blocks.p7"
expect_pcode 2.04 "repeat sent in Block1 blocks"
cmp -s "$T/first.p7" "$T/blocks.p7" || fail "Block1 repeat differs"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 1)) ] ||
    fail "Block1 repeat reached the upstream"
ok "Block1 repeat answered from memory"

# another device with the same CSR is a new request
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" \
    -w 20
expect_pcode 2.04 "same CSR from another device"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 2)) ] ||
    fail "another device's request was answered from memory"
ok "repeats are per device certificate"

# identical requests pending at the same time share one upstream call
newcsr() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/$1.key" \
	    2>/dev/null
	openssl req -new -key "$T/$1.key" -subj "/CN=$1" -outform DER \
	    -out "$T/$1.der" 2>/dev/null
}
newcsr twin
upstream_mode up op=simpleenroll delay_ms=1500
n1=$(upstream_count up simpleenroll)
probe_bg "$T/a.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin.der" -w 20 -o "$T/a.p7"
pa=$PROBE_PID
wait_more "$T/daemon.log" 10 "queued upstream" "$(grep -c "queued upstream" "$T/daemon.log")" || true
probe_bg "$T/b.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin.der" -w 20 -o "$T/b.p7"
pb=$PROBE_PID
wait "$pa" || true
wait "$pb" || true
grep -q '^code=2.04' "$T/a.out" && grep -q '^code=2.04' "$T/b.out" ||
    fail "twins: $(tr '\n' ' ' <"$T/a.out") / $(tr '\n' ' ' <"$T/b.out")"
cmp -s "$T/a.p7" "$T/b.p7" || fail "twins got different certificates"
[ "$(upstream_count up simpleenroll)" -eq $((n1 + 1)) ] ||
    fail "identical pending requests made $(( $(upstream_count up simpleenroll) - n1 )) upstream calls"
grep -q "waits for the identical req=" "$T/daemon.log" ||
    fail "coalescing not logged"
ok "identical pending requests: one upstream call, one certificate"

# the first one leaves; its upstream exchange runs on (a POST sent is
# never cancelled) and the second gets the answer
newcsr twin2
n1=$(upstream_count up simpleenroll)
probe_bg "$T/c.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin2.der" -x 800
pc=$PROBE_PID
wait_more "$T/daemon.log" 10 "queued upstream" "$(grep -c "queued upstream" "$T/daemon.log")" || true
probe_bg "$T/d.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin2.der" -w 20
pd=$PROBE_PID
wait "$pc" || true
wait "$pd" || true
grep -q '^code=2.04' "$T/d.out" ||
    fail "follower after the leader left: $(tr '\n' ' ' <"$T/d.out")"
[ "$(upstream_count up simpleenroll)" -eq $((n1 + 1)) ] ||
    fail "the follower started a second upstream call"
grep -q "device left (DTLS session closed); the upstream exchange runs to completion" \
    "$T/daemon.log" || fail "the leader's exchange did not run on"
ok "leader left: the follower still got its certificate from the one call"
upstream_mode up

# a 5.03 is not remembered: the device's retry goes upstream
upstream_mode up op=simpleenroll status=503 retry_after=1
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 5.03 "upstream busy"
upstream_mode up
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "retry after 5.03 goes upstream and gets the certificate"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 6)) ] ||
    fail "retry after 5.03 was not forwarded"
ok "case 54: resend after 5.03 forwarded again -> 2.04 once the upstream issues"
done_case
