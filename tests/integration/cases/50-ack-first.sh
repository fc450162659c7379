#!/usr/bin/env bash
# Under load a POST is acknowledged before its CSR is looked at (RFC 7252
# 5.2.2: the empty ACK stops the device's retransmissions), and what the
# CSR checks find then goes in the separate response, with the same code
# and diagnostic as the piggybacked answer the unloaded registrar gives.
# coap.ack_hold_max_pending = 0 makes every POST take that path.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
python3 - "$T/estcoapd.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc.setdefault("coap", {})["ack_hold_max_pending"] = 0
doc.setdefault("limits", {})["exchange_entries"] = 0
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
start_daemon

# a good CSR: empty ACK, then the certificate (probe and both of Debian's
# clients)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "enrollment acknowledged first"
[ "$(probe_field empty_ack)" = 1 ] || fail "no empty ACK before the answer"
[ "$(probe_field separate)" = 1 ] || fail "the answer was not separate"
grep -Eq 'req=[0-9]+ checking' "$T/daemon.log" ||
    fail "the request did not pass through the checking state"
for c in openssl gnutls; do
	COAP_CLIENT=coap-client-$c coap -m post -t 286 \
	    -f "$PKI/csr-p256-2.der" /.well-known/est/sen
	expect_code 2.xx "coap-client-$c enrolls through the ACK-first path"
	p7_certs "$T/out" | openssl x509 -noout 2>/dev/null ||
	    fail "coap-client-$c got no certificate"
done
ok "case 94: under load: empty ACK first, certificate in the separate response"

# a corrupted CSR signature: 4.00 with the diagnostic, after the ACK
cp "$PKI/csr-p256.der" "$T/badsig"
sz=$(stat -c %s "$T/badsig")
b=$(od -An -tu1 -j $((sz - 4)) -N1 "$T/badsig" | tr -d ' ')
printf "$(printf '\\%03o' $(( b ^ 1 )))" |
    dd of="$T/badsig" bs=1 seek=$((sz - 4)) conv=notrunc 2>/dev/null
n0=$(upstream_count up simpleenroll)
probe -m post -u /.well-known/est/sen -t 286 -f "$T/badsig" -w 20
expect_pcode 4.00 "bad CSR refused after the ACK"
[ "$(probe_field empty_ack)" = 1 ] || fail "bad CSR: no empty ACK first"
probe_field payload_text | grep -q "bad CSR" ||
    fail "bad CSR: diagnostic lost ($(probe_field payload_text))"
[ "$(upstream_count up simpleenroll)" -eq "$n0" ] ||
    fail "a bad CSR reached the upstream"
grep -q 'coap=4.00 .*reason=bad-csr' "$T/daemon.log" ||
    fail "bad CSR after the ACK not logged with its reason"
for c in openssl gnutls; do
	COAP_CLIENT=coap-client-$c coap -m post -t 286 -f "$T/badsig" \
	    /.well-known/est/sen
	expect_code 4.00 "coap-client-$c gets the separate 4.00"
done
ok "case 94: under load a CSR refusal comes in the separate response"

# the unloaded default answers the same refusal piggybacked
python3 - "$T/estcoapd.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["coap"]["ack_hold_max_pending"] = 64
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload did not take"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/badsig" -w 20
expect_pcode 4.00 "bad CSR, not loaded"
[ "$(probe_field empty_ack)" != 1 ] || fail "not loaded: refusal was separate"
probe_field payload_text | grep -q "bad CSR" || fail "diagnostic differs"
ok "not loaded: the same refusal piggybacked"
done_case
