#!/usr/bin/env bash
# Block-wise transfers: the 3-certificate crts chain arrives byte-exact at
# every block size (case 44), Block1 uploads with a gap get 4.08, and
# Block1 plus a separate answer carries the Block1 echo.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
start_daemon

coap -m get /.well-known/est/crts
cp "$T/out" "$T/crts.ref"
[ "$(stat -c %s "$T/crts.ref")" -gt 1024 ] ||
    fail "crts chain is not larger than one block"
for b in 64 128 256 512 1024; do
	coap -m get -b "$b" /.well-known/est/crts
	expect_code 2.xx "crts at block size $b"
	cmp -s "$T/out" "$T/crts.ref" || fail "crts at $b bytes differs"
	ok "case 44: crts at $b bytes is byte-exact"
done
# 44: no Block2 asked; the answer comes in Block2 blocks of <= 1024
probe -m get -u /.well-known/est/crts -o "$T/p.der"
expect_pcode 2.05 "crts via probe"
cmp -s "$T/p.der" "$T/crts.ref" || fail "probe crts differs"
b2=$(grep '^block2 blocks=' "$T/probe.out" || true)
case "$b2" in "block2 blocks="[2-9]*" szx="[0-6]) ;;
*) fail "crts did not come in Block2 blocks ($b2)" ;; esac
ok "case 44: crts without Block2 asked came in Block2 blocks ($b2), byte-exact"

# Block1 with a missing block -> 4.08, nothing upstream
base=$(upstream_count up)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsa3072.der" \
    -b 2 -G 3
expect_pcode 4.08 "case 39: Block1 with block 3 missing -> 4.08"
expect_upstream up "$base" "no upstream call for a broken upload"

# a complete Block1 upload: separate answer echoes the last Block1
DEV_CERT=$PKI/device-rsa.crt DEV_KEY=$PKI/device-rsa.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsadev.der" \
    -b 4 -o "$T/rsa.p7"
expect_pcode 2.04 "RSA-3072 CSR in 256-byte blocks"
[ -n "$(probe_field block1)" ] || fail "final answer lacks the Block1 echo"
ok "final answer echoes Block1 $(probe_field block1)"
openssl pkcs7 -inform DER -in "$T/rsa.p7" -print_certs >/dev/null ||
    fail "answer is not a PKCS#7"
ok "answer after Block1 is a PKCS#7"
done_case
