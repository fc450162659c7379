#!/usr/bin/env bash
# Block-wise conformance (RFC 7959; RFC 9148 4.6, App. B; doc/conformance.md
# cases 19, 38-43, 45), all with estcoap-probe, which builds every
# block itself: Size2 and one ETag on every block of a 3 KB chain, 2.31
# with the Block1 echo per block, gaps, a restart at NUM 0, SZX 7 in
# Block2, an upload idle past limits.block1_lifetime_s, Block2 asked for
# in the first Block1 request of an enrollment, and a block past the end.
. "$(dirname "$0")/../lib.sh"

start_upstream up
# a ~3 KB CA bundle: the usual three plus three more CA certificates
cat "$PKI/cacerts.pem" "$PKI/device-ca.crt" "$PKI/rogue-ca.crt" \
    "$PKI/root-next.crt" >"$T/big-cacerts.pem"
upstream_mode up "cacerts=$T/big-cacerts.pem"
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "block1_lifetime_s": 2 }'
start_daemon

# 19: Size2 = 0 asks for the total; every block carries the same ETag
probe -m get -u /.well-known/est/crts -O 28, -2 2 -o "$T/crts"
expect_pcode 2.05 "case 19: crts with Size2=0 in 64-byte blocks -> 2.05"
total=$(stat -c %s "$T/crts")
[ "$total" -gt 2800 ] || fail "the bundle is only $total bytes"
[ "$(probe_field size2)" = "$total" ] ||
    fail "Size2 '$(probe_field size2)', want $total"
ok "case 19: first block carries Size2 = $total (the whole chain)"
case "$(probe_field block2)" in 0/1/2) ;;
*) fail "first block is Block2 $(probe_field block2), want 0/1/2" ;; esac
[ -n "$(probe_field etag)" ] || fail "no ETag on the first block"
! grep -q '^etag_mismatch=1' "$T/probe.out" || fail "ETag changed between blocks"
grep -q "^block2 blocks=$(( (total + 63) / 64 )) szx=2" "$T/probe.out" ||
    fail "block count: $(grep '^block2' "$T/probe.out")"
[ "$(p7_certs "$T/crts" | grep -c 'BEGIN CERT')" -eq 6 ] ||
    fail "the reassembled chain does not hold 6 certificates"
ok "case 19: Block2(0/1/2), the same ETag on all $(( (total + 63) / 64 )) blocks, byte-exact"

# 45: a Block2 NUM past the end -> 4.00
probe -m get -u /.well-known/est/crts -O 23,0c82
expect_pcode 4.00 "case 45: crts Block2 NUM 200 past the end -> 4.00"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "case 45: daemon fine after a block past the end"

# 41: SZX 7 in Block2 is reserved too
probe -m get -u /.well-known/est/crts -2 7
expect_pcode 4.00 "case 41: Block2 with SZX 7 -> 4.00"

# 38: 64-byte Block1 blocks: 2.31 with the Block1 echo per non-final block,
# then the empty ACK and the separate 2.04 (the upstream slower than
# coap.ack_hold_ms, 1 s: a quicker answer would go piggybacked)
upstream_mode up op=simpleenroll delay_ms=1500
base=$(upstream_count up simpleenroll)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -b 2 \
    -o "$T/sen.p7" -w 20
expect_pcode 2.04 "case 38: sen in 64-byte Block1 blocks -> 2.04"
nb=$(( ($(stat -c %s "$PKI/csr-p256.der") + 63) / 64 ))
for n in $(seq 0 $((nb - 2))); do
	grep -q "^block1 num=$n code=2.31 echo=$n/1/2$" "$T/probe.out" ||
	    fail "block $n: $(grep "^block1 num=$n " "$T/probe.out")"
done
ok "case 38: each of the $((nb - 1)) non-final blocks got 2.31 with its Block1 echo"
[ "$(probe_field empty_ack)" = 1 ] && [ "$(probe_field separate)" = 1 ] ||
    fail "last block: no empty ACK and separate answer"
ok "case 38: last block: empty ACK, then the separate 2.04"
p7_certs "$T/sen.p7" | grep -q 'BEGIN CERT' || fail "no certificate"
[ "$(upstream_count up simpleenroll)" -eq $((base + 1)) ] ||
    fail "the upload made $(( $(upstream_count up simpleenroll) - base )) upstream calls"

# 39: NUM 0, then NUM 2 -> 4.08, nothing upstream
base=$(upstream_count up)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -b 2 -G 1
expect_pcode 4.08 "case 39: Block1 NUM 0 then NUM 2 -> 4.08"
expect_upstream up "$base" "case 39: no upstream call for the broken upload"

# 40: restarted at NUM 0 with another CSR after 2 blocks: the old transfer
# is dropped, the new one completes; the certificate is for the new key
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -b 2 \
    -R "1:$PKI/csr-p256-2.der" -o "$T/restart.p7" -w 20
expect_pcode 2.04 "case 40: Block1 restarted at NUM 0 mid-transfer -> 2.04"
grep -q '^restarted after=1' "$T/probe.out" || fail "the probe did not restart"
cmp -s <(p7_certs "$T/restart.p7" | openssl x509 -noout -pubkey) \
    <(openssl req -inform DER -in "$PKI/csr-p256-2.der" -noout -pubkey) ||
    fail "the certificate is not for the restarted CSR"
ok "case 40: old transfer dropped, the restarted CSR was enrolled"

# 42: an upload idle longer than limits.block1_lifetime_s (2 s here;
# 247 s, EXCHANGE_LIFETIME, by default) -> 4.08 on the next block
base=$(upstream_count up)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -b 2 \
    -S 1:3500 -w 20
expect_pcode 4.08 "case 42: Block1 continued after block1_lifetime_s -> 4.08"
grep -q '^paused_ms=3500' "$T/probe.out" || fail "the probe did not pause"
expect_upstream up "$base" "case 42: no upstream call for the expired upload"

# 43: Block2(0/0/2) in the first Block1 request: the separate answer uses
# 64-byte blocks; the rest comes from POSTs with Block2 NUM 1.., no
# payload, no Block1, served from libcoap's copy: no extra upstream call
base=$(upstream_count up simpleenroll)
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsadev.der" \
    -b 4 -2 2 -o "$T/early.p7" -w 20
expect_pcode 2.04 "case 43: Block2 early negotiation in the first Block1 request -> 2.04"
case "$(probe_field block2)" in 0/1/[0-2]) ;;
*) fail "separate answer Block2 $(probe_field block2), want SZX <= 2" ;; esac
grep -q '^block2 blocks=[0-9]* szx=[0-2]$' "$T/probe.out" ||
    fail "follow-ups: $(grep '^block2' "$T/probe.out")"
! grep -q '^block2_incomplete=1' "$T/probe.out" ||
    fail "Block2 follow-ups failed: $(grep '^block2_error' "$T/probe.out")"
ok "case 43: separate answer in $(sed -n 's/^block2 blocks=\([0-9]*\).*/\1/p' "$T/probe.out") blocks of <= 64 bytes"
p7_certs "$T/early.p7" | openssl x509 -noout >/dev/null 2>&1 ||
    fail "reassembled answer is not a PKCS#7"
[ "$(upstream_count up simpleenroll)" -eq $((base + 1)) ] ||
    fail "Block2 follow-ups made $(( $(upstream_count up simpleenroll) - base - 1 )) extra upstream calls"
ok "case 43: follow-ups served from the cached answer, no extra upstream call"
done_case
