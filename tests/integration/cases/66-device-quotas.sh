#!/usr/bin/env bash
# One device cannot hold what all devices share (README, "Attacks and what stops them"):
# - six DTLS sessions of one device holding partial Block1 uploads, with
#   the upload table full, no longer keep another device's RSA-3072
#   enrollment out: the device holding the most gives way;
# - limits.max_pending_per_device bounds a device's pending requests over
#   all its sessions, where limits.max_pending_per_session cannot.
. "$(dirname "$0")/../lib.sh"

start_upstream up
mk_csrs 2
MPORT=$(free_port tcp)
# max_pending 1: room for 4 unfinished uploads in all
write_config "https://127.0.0.1:$UP_PORT_up" ',
	"limits": { "max_pending": 1, "max_pending_per_session": 1 },
	"service": { "metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' }'
start_daemon

# device-rsa opens six sessions, each stops after its first 64-byte block
csr_for device-rsa
pids=""
for i in 1 2 3 4 5 6; do
	DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
	    probe_bg "$T/hold$i.out" -m post -u /.well-known/est/sen -t 286 \
	    -f "$T/csr-device-rsa.der" -b 2 -S 0:20000 -w 30
	pids="$pids $PROBE_PID"
	wait_for "$T/hold$i.out" 10 "^block1 num=0 code=" ||
	    fail "session $i: no answer to block 0: $(cat "$T/hold$i.out")"
done
[ "$(cat "$T"/hold*.out | grep -c '^block1 num=0 code=2.31')" -ge 4 ] ||
    fail "fewer than 4 uploads taken: $(cat "$T"/hold*.out)"
ok "six sessions of one device hold partial uploads (the table is full)"
wait_metric estcoapd_block1_bytes -ge 256 5 ||
    fail "the uploads are not held: $(metric estcoapd_block1_bytes) bytes"

# another device's RSA-3072 CSR in 64-byte blocks still gets through
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsa3072.der" \
    -b 2 -o "$T/rsa.p7" -w 20
expect_pcode 2.04 "RSA-3072 upload of another device while six sessions hold uploads -> 2.04"
p7_certs "$T/rsa.p7" | grep -q 'BEGIN CERT' || fail "no certificate"
[ "$(metric 'estcoapd_limit_refusals_total{limit="block1_budget"}')" -eq 0 ] ||
    fail "uploads were refused for the budget"
[ "$(metric 'estcoapd_limit_refusals_total{limit="block1_evicted"}')" -ge 1 ] ||
    fail "no upload counted as dropped to make room"
ok "no upload refused; the device holding the most gave way (counted)"
for p in $pids; do
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
done

# pending requests per device, over its sessions
stop_daemon
write_config "https://127.0.0.1:$UP_PORT_up" ',
	"limits": { "max_pending_per_session": 4, "max_pending_per_device": 1 },
	"service": { "metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' }'
start_daemon
upstream_mode up op=simpleenroll delay_ms=4000
probe_bg "$T/slow.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/csr/1.der" -w 20
wait_metric estcoapd_pending_requests -ge 1 10 || fail "first request not pending"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/csr/2.der"
expect_pcode 5.03 "a second session of the same device with one pending -> 5.03"
[ "$(metric 'estcoapd_limit_refusals_total{limit="max_pending_per_device"}')" -ge 1 ] ||
    fail "not counted as limit=max_pending_per_device"
ok "counted as limit=max_pending_per_device"
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$T/csr-device-rsa.der" -w 20
expect_pcode 2.04 "another device is not held back -> 2.04"
wait "$PROBE_PID" || true
grep -q '^code=2.04' "$T/slow.out" || fail "the first request: $(cat "$T/slow.out")"
ok "the device's first request finished"
done_case
