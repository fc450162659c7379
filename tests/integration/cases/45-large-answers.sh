#!/usr/bin/env bash
# Answers larger than one block reach Debian's coap-client-openssl and
# coap-client-gnutls (libcoap 4.3.1), with no special flags. Such a client
# asks for block 1 of a piggybacked answer, or of a separate one to a
# request that had Block1, but not of a separate answer to a request
# without Block1 (libcoap 4.3.4 and older). So:
# - a fast upstream: the answer goes piggybacked within coap.ack_hold_ms
#   (skg with RSA-3072 and RSA-4096 keys, sen with a chain, with a P-256
#   CSR in one block and an RSA-4096 CSR in Block1);
# - a slow upstream: without Block1, 5.03 + Max-Age 1 and the answer is
#   held; the device's repeat gets it piggybacked (one upstream call);
#   with Block1 the separate answer in blocks is fetched;
# - coap.ack_hold_ms past the device's ACK_TIMEOUT: its retransmissions
#   are absorbed (no second upstream call) and the late answer still
#   goes piggybacked;
# - coap.large_separate "block2": the separate answer in blocks, for
#   stacks that fetch it (estcoap-probe does).
. "$(dirname "$0")/../lib.sh"

for c in coap-client-openssl coap-client-gnutls; do
	command -v "$c" >/dev/null || skip "$c not installed"
done

# keys the CA hands out for skg, and an RSA-4096 CSR (two 1024-byte blocks)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 \
    -out "$T/k3072.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 \
    -out "$T/k4096.pem" 2>/dev/null
openssl req -new -newkey rsa:4096 -nodes -keyout "$T/csr4096.key" \
    -subj "$DEV_SUBJ" \
    -outform DER -out "$T/csr4096.der" 2>/dev/null
[ "$(stat -c %s "$T/csr4096.der")" -gt 1024 ] || fail "RSA-4096 CSR too small"

start_upstream up
# every request must reach the CA: no answers from the repeat memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true }'
start_daemon

# check_p7 FILE WHAT: a PKCS#7 with the issued cert and the 3 CA certs
check_p7() {
	[ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt 1024 ] ||
	    fail "$2: answer of $(stat -c %s "$1" 2>/dev/null) bytes"
	[ "$(p7_certs "$1" | grep -c 'BEGIN CERT')" -eq 4 ] ||
	    fail "$2: not the PKCS#7 with the chain"
}

# check_skg FILE KEY WHAT: multipart-core whose key is KEY (PKCS#8)
check_skg() {
	"$TOOLS/cbor-split" "$1" "$T/item" >"$T/items" ||
	    fail "$3: answer is not multipart-core"
	openssl pkcs8 -topk8 -nocrypt -in "$2" -outform DER -out "$T/k8.der"
	cmp -s "$T/item.0.bin" "$T/k8.der" || fail "$3: not the CA's key"
}

posts() { upstream_count up "^POST"; }

for COAP_CLIENT in coap-client-openssl coap-client-gnutls; do
	cl=${COAP_CLIENT#coap-client-}
	n=$(posts)
	upstream_mode up chain=1
	coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
	expect_code 2.xx "$cl: sen, chain, fast upstream"
	check_p7 "$T/out" "$cl: sen"
	coap -m post -t 286 -f "$T/csr4096.der" /.well-known/est/sen
	expect_code 2.xx "$cl: sen, RSA-4096 CSR in Block1, chain, fast"
	check_p7 "$T/out" "$cl: sen RSA-4096"
	for k in 3072 4096; do
		upstream_mode up "skg_keyfile=$T/k$k.pem"
		coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/skg
		expect_code 2.xx "$cl: skg, RSA-$k key, fast upstream"
		check_skg "$T/out" "$T/k$k.pem" "$cl: skg RSA-$k"
		ok "$cl: skg with an RSA-$k key ($(stat -c %s "$T/out") bytes) fetched"
	done
	[ "$(posts)" -eq $((n + 4)) ] ||
	    fail "$cl: $(( $(posts) - n )) upstream calls for 4 requests"
	ok "case 89: $cl: every large answer fetched, one upstream call each"
done

# the probe sees how: block 0 in the ACK, no empty ACK first
upstream_mode up chain=1
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/p.p7"
expect_pcode 2.04 "probe: sen with chain"
[ "$(probe_field type)" = ACK ] && [ -z "$(probe_field empty_ack)" ] ||
    fail "fast answer not piggybacked: $(tr '\n' ' ' <"$T/probe.out")"
case "$(probe_field block2)" in 0/1/*) ;;
*) fail "piggybacked answer not in blocks: $(probe_field block2)" ;; esac
check_p7 "$T/p.p7" "probe: sen"
ok "fast upstream: block 0 piggybacked in the ACK, the rest fetched"

# slow upstream (after the 1 s hold), no Block1: 5.03 + Max-Age, held
upstream_mode up chain=1 delay_ms=2000
n=$(posts)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 5.03 "slow upstream, large answer, no Block1"
[ "$(probe_field empty_ack)" = 1 ] && [ "$(probe_field maxage)" = 1 ] ||
    fail "want an empty ACK, then 5.03 with Max-Age 1: \
$(tr '\n' ' ' <"$T/probe.out")"
grep -q '^payload_text=answer of [0-9]* bytes ready: repeat the request$' \
    "$T/probe.out" || fail "5.03 diagnostic: $(probe_field payload_text)"
ok "slow upstream: empty ACK, then 5.03 + Max-Age 1 with a diagnostic"
for COAP_CLIENT in coap-client-openssl coap-client-gnutls; do
	coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/sen
	expect_code 2.xx "${COAP_CLIENT#coap-client-}: repeat after the 5.03"
	check_p7 "$T/out" "repeat"
done
[ "$(posts)" -eq $((n + 1)) ] ||
    fail "the repeats made $(( $(posts) - n - 1 )) more upstream calls"
grep -q 'op=sen .*coap=2.04 .*reason=held' "$T/daemon.log" ||
    fail "repeat not answered from the held answer"
ok "case 90: both clients' repeat got the held answer piggybacked: one upstream call"

# the same for skg, with coap-client from the start (another CSR key for
# each: a held answer is the device's for that key)
for COAP_CLIENT in coap-client-openssl coap-client-gnutls; do
	csr=$PKI/csr-p256-2.der
	[ "$COAP_CLIENT" = coap-client-openssl ] || csr=$PKI/csr-p384.der
	upstream_mode up "skg_keyfile=$T/k4096.pem" delay_ms=2000
	n=$(posts)
	coap -m post -t 286 -f "$csr" /.well-known/est/skg
	expect_code 5.03 "${COAP_CLIENT#coap-client-}: slow skg -> 5.03"
	grep -q "repeat the request" "$T/coap.stderr" "$T/coap.stdout" ||
	    fail "no diagnostic: $(cat "$T/coap.stderr")"
	coap -m post -t 286 -f "$csr" /.well-known/est/skg
	expect_code 2.xx "${COAP_CLIENT#coap-client-}: skg repeat"
	check_skg "$T/out" "$T/k4096.pem" "skg repeat"
	[ "$(posts)" -eq $((n + 1)) ] || fail "skg repeat went upstream"
	ok "${COAP_CLIENT#coap-client-}: slow skg: 5.03, the repeat got the key"
done

# slow upstream, Block1 request: the separate answer in blocks is fetched
upstream_mode up chain=1 delay_ms=2000
for COAP_CLIENT in coap-client-openssl coap-client-gnutls; do
	coap -m post -t 286 -f "$T/csr4096.der" /.well-known/est/sen
	expect_code 2.xx "${COAP_CLIENT#coap-client-}: slow sen with Block1"
	check_p7 "$T/out" "slow sen with Block1"
done
ok "case 90: slow upstream, Block1 request: separate answer in blocks fetched"

# a hold past ACK_TIMEOUT (below the 11 s request deadline):
# retransmissions absorbed, the late answer piggybacked
stop_daemon
sed -i 's/"limits": {/"coap": { "ack_hold_ms": 10000 },\n\t"limits": {/' \
    "$T/estcoapd.json"
start_daemon
for COAP_CLIENT in coap-client-openssl coap-client-gnutls; do
	upstream_mode up "skg_keyfile=$T/k3072.pem" delay_ms=5000
	n=$(posts)
	r=$(grep -c "repeated request" "$T/daemon.log" || true)
	coap -m post -t 286 -f "$PKI/csr-p256.der" /.well-known/est/skg
	expect_code 2.xx "${COAP_CLIENT#coap-client-}: skg held 5 s"
	check_skg "$T/out" "$T/k3072.pem" "held skg"
	[ "$(posts)" -eq $((n + 1)) ] ||
	    fail "retransmissions made $(( $(posts) - n )) upstream calls"
	[ "$(grep -c "repeated request" "$T/daemon.log" || true)" -gt "$r" ] ||
	    fail "the client did not retransmit during the 5 s hold"
	ok "case 91: ${COAP_CLIENT#coap-client-}: retransmissions absorbed, the late answer piggybacked"
done

# coap.large_separate "block2": the slow answer in blocks, separate
stop_daemon
sed -i 's/"ack_hold_ms": 10000/"ack_hold_ms": 500, "large_separate": "block2"/' \
    "$T/estcoapd.json"
start_daemon
upstream_mode up chain=1 delay_ms=1500
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/b2.p7" -w 20
expect_pcode 2.04 "large_separate block2: separate answer in blocks"
[ "$(probe_field empty_ack)" = 1 ] && [ "$(probe_field separate)" = 1 ] ||
    fail "want empty ACK and separate: $(tr '\n' ' ' <"$T/probe.out")"
check_p7 "$T/b2.p7" "block2"
ok "large_separate block2: empty ACK, then the answer's blocks separately"
done_case
