#!/usr/bin/env bash
# Server-side key generation (RFC 9148 4.8; doc/conformance.md cases 73-79):
# skg and skc go to the upstream's /serverkeygen; its multipart/mixed
# answer becomes CBOR multipart-core [key CF, key, cert CF, cert], in
# whatever order the parts came; malformed answers are 5.02.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true }'
start_daemon

coap -m get /.well-known/core
grep -q '</.well-known/est/skg>;[^,]*rt="ace.est.skg"' "$T/out" &&
    grep -q '</.well-known/est/skc>;[^,]*rt="ace.est.skc"' "$T/out" ||
    fail "skg/skc not listed: $(cat "$T/out")"
ok "discovery lists skg and skc when enabled"

# skg_check FILE KEYCF CERTCF: split the CBOR, check the parts
skg_check() {
	"$TOOLS/cbor-split" "$1" "$T/item" >"$T/items" ||
	    fail "answer is not valid multipart-core"
	[ "$(awk '{print $2}' "$T/items" | tr '\n' ' ')" = "$2 $3 " ] ||
	    fail "content formats: $(awk '{print $2}' "$T/items" | tr '\n' ' '), want $2 $3"
	openssl pkey -in "$T/up.req.lastkey.pem" -outform DER -out "$T/key.der" \
	    2>/dev/null
	openssl pkcs8 -topk8 -nocrypt -in "$T/up.req.lastkey.pem" -outform DER \
	    -out "$T/key8.der" 2>/dev/null
	cmp -s "$T/item.0.bin" "$T/key8.der" ||
	    fail "key item is not the PKCS#8 the CA generated"
	if [ "$3" = 281 ]; then
		openssl pkcs7 -inform DER -in "$T/item.1.bin" -print_certs \
		    >"$T/cert.pem" 2>/dev/null || fail "cert item is not PKCS#7"
	else
		openssl x509 -inform DER -in "$T/item.1.bin" >"$T/cert.pem" \
		    2>/dev/null || fail "cert item is not one DER certificate"
	fi
	cmp -s <(openssl x509 -in "$T/cert.pem" -noout -pubkey) \
	    <(openssl pkey -in "$T/up.req.lastkey.pem" -pubout) ||
	    fail "certificate does not carry the generated key"
}

# 73: skg, Accept 62 -> [284, key, 281, PKCS#7]
probe -m post -u /.well-known/est/skg -t 286 -A 62 -f "$PKI/csr-p256.der" \
    -o "$T/skg.cbor"
expect_pcode 2.04 "skg"
[ "$(probe_field cf)" = 62 ] || fail "skg: cf $(probe_field cf)"
[ "$(head -c 4 "$T/skg.cbor" | od -An -tx1 | tr -d ' \n')" = 8419011c ] ||
    fail "skg payload does not start 84 19 01 1C"
skg_check "$T/skg.cbor" 284 281
grep -q "POST /.well-known/est/serverkeygen ctype=application/pkcs10" \
    "$T/up.req" || fail "upstream did not see /serverkeygen"
ok "case 73: skg: [284, PKCS#8 key, 281, PKCS#7] with the generated key"

# 74: parts in reverse order, quoted boundary, LF line ends
upstream_mode up op=serverkeygen skg_order=reverse skg_boundary=quoted skg_lf=1
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/rev.cbor"
expect_pcode 2.04 "skg, parts reversed"
skg_check "$T/rev.cbor" 284 281
ok "case 74: reverse order, quoted boundary and LF handled"

# 75: CMS-protected key part -> CF 280, bytes copied as they are
upstream_mode up op=serverkeygen skg_key=encrypted
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/enc.cbor"
expect_pcode 2.04 "skg with a CMS-protected key"
skg_check "$T/enc.cbor" 280 281
ok "case 75: protected key part passed on as CF 280"
upstream_mode up

# 76: skc -> [284, key, 287, DER X.509]
probe -m post -u /.well-known/est/skc -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/skc.cbor"
expect_pcode 2.04 "skc"
skg_check "$T/skc.cbor" 284 287
ok "case 76: skc: [284, key, 287, DER certificate]"

# 77: skg with Accept 281 -> 4.06, no upstream
n=$(upstream_count up serverkeygen)
probe -m post -u /.well-known/est/skg -t 286 -A 281 -f "$PKI/csr-p256.der"
expect_pcode 4.06 "case 77: skg Accept 281 -> 4.06"
[ "$(upstream_count up serverkeygen)" -eq "$n" ] || fail "4.06 went upstream"

# 78: a CSR with a bad signature is forwarded for skg (not for sen)
cp "$PKI/csr-p256.der" "$T/badsig"
sz=$(stat -c %s "$T/badsig")
b=$(od -An -tu1 -j $((sz - 4)) -N1 "$T/badsig" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 1 )))" |
    dd of="$T/badsig" bs=1 seek=$((sz - 4)) conv=notrunc 2>/dev/null
probe -m post -u /.well-known/est/sen -t 286 -f "$T/badsig"
expect_pcode 4.00 "sen with a bad signature"
probe -m post -u /.well-known/est/skg -t 286 -f "$T/badsig" -o "$T/bs.cbor"
expect_pcode 2.04 "case 78: skg with a bad CSR signature is forwarded -> 2.04"

# 79: broken multipart answers -> 5.02
for k in missing noboundary truncated; do
	upstream_mode up op=serverkeygen "skg_broken=$k"
	probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der"
	expect_pcode 5.02 "case 79: multipart $k -> 5.02"
done
upstream_mode up op=serverkeygen body=garbage
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der"
expect_pcode 5.02 "serverkeygen garbage"
upstream_mode up

# the key is never logged
keyhex=$(od -An -tx1 "$T/key8.der" | tr -d ' \n' | cut -c1-40)
! grep -qi "$keyhex" "$T/daemon.log" || fail "key bytes in the log"
ok "key material never logged"
done_case
