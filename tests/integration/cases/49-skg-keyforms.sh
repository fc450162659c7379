#!/usr/bin/env bash
# Server-generated keys as the content format says (RFC 9148 4.8): CF 284
# is PKCS#8 whatever form the EST server used for its key part (PKCS#8,
# libest's PKCS#1 RSAPrivateKey, SEC1 ECPrivateKey, PEM); a CMS-protected
# key (280) passes unchanged; a key part that is no key is 5.02, never a
# mislabelled key, and no key bytes reach the log.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true },
	"log": { "level": "debug" }'
start_daemon

# keyform FORM OP CERTCF: skg/skc with the upstream's key in FORM; the
# device gets [284, PKCS#8 of the generated key, CERTCF, ...]
keyform() {
	upstream_mode up op=serverkeygen "skg_form=$1"
	probe -m post -u "/.well-known/est/$2" -t 286 -f "$PKI/csr-p256.der" \
	    -o "$T/$1.cbor"
	expect_pcode 2.04 "$2 with the key as $1"
	"$TOOLS/cbor-split" "$T/$1.cbor" "$T/item" >"$T/items" ||
	    fail "$1: answer is not valid multipart-core"
	[ "$(awk '{print $2}' "$T/items" | tr '\n' ' ')" = "284 $3 " ] ||
	    fail "$1: content formats $(awk '{print $2}' "$T/items" | tr '\n' ' ')"
	openssl pkcs8 -topk8 -nocrypt -in "$T/up.req.lastkey.pem" \
	    -outform DER -out "$T/key8.der" 2>/dev/null
	cmp -s "$T/item.0.bin" "$T/key8.der" ||
	    fail "$1: key item is not the PKCS#8 of the generated key"
	openssl asn1parse -inform DER -in "$T/item.0.bin" >"$T/asn1" ||
	    fail "$1: key item is not DER"
	ok "$2: key sent as $1 reaches the device as PKCS#8 (284)"
	# base64 of the key's DER never in the log
	key64=$(base64 -w0 <"$T/item.0.bin" | cut -c40-80)
	if grep -qF -- "$key64" "$T/daemon.log"; then
		fail "$1: key bytes in the daemon log"
	fi
}

keyform pkcs8 skg 281
keyform pkcs1 skg 281
openssl pkey -inform DER -in "$T/item.0.bin" -noout -text 2>/dev/null |
    grep -q "Private-Key: (2048 bit" || fail "pkcs1: not the RSA key"
ok "libest's PKCS#1 RSAPrivateKey becomes PKCS#8 rsaEncryption"
keyform sec1 skg 281
keyform pem skg 281
keyform pkcs1 skc 287

# a CMS-protected key (280) passes unchanged, even if it looks like a key
upstream_mode up op=serverkeygen skg_key=encrypted skg_form=sec1
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/cms.cbor"
expect_pcode 2.04 "skg with a protected key"
"$TOOLS/cbor-split" "$T/cms.cbor" "$T/item" >"$T/items"
openssl ec -in "$T/up.req.lastkey.pem" -outform DER -out "$T/sec1.der" \
    2>/dev/null
[ "$(awk 'NR == 1 {print $2}' "$T/items")" = 280 ] &&
    cmp -s "$T/item.0.bin" "$T/sec1.der" ||
    fail "protected key part was changed or relabelled"
ok "CMS-protected key part (280) passed on byte for byte"

# no key in the key part: 5.02 with a diagnostic and a log line
upstream_mode up op=serverkeygen skg_form=junk
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der"
expect_pcode 5.02 "a key part that is no key -> 5.02"
[ "$(probe_field cf)" = none ] || fail "junk key: answer carries a CF"
probe_field payload_text | grep -q "^upstream malformed multipart answer: key " ||
    fail "junk key: diagnostic '$(probe_field payload_text)'"
grep -q "upstream https://localhost:$UP_PORT_up: serverkeygen answer refused: malformed multipart answer: key " \
    "$T/daemon.log" || fail "junk key: no log line naming the server"
ok "junk key part: diagnostic and one log line naming the server"
done_case
