#!/usr/bin/env bash
# What the upstream answers becomes the right CoAP code, and nothing
# unchecked reaches a device (doc/conformance.md cases 58-67, 72).
. "$(dirname "$0")/../lib.sh"

start_upstream up
# every request must reach the CA here: no answering repeats from memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "max_response_body": 65536, "exchange_entries": 0 }'
start_daemon

# sen_with MODE... : set the upstream mode, enroll once with the probe
sen_with() {
	upstream_mode up op=simpleenroll "$@"
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
	    -w 20
}

sen_with status=400 "body_text=bad csr"
expect_pcode 4.00 "upstream 400"
[ "$(probe_field payload_text)" = "bad csr" ] ||
    fail "400 diagnostic '$(probe_field payload_text)', want 'bad csr'"
[ "$(probe_field cf)" = none ] || fail "error answer carries a CF"
ok "case 58: upstream 400 -> 4.00, diagnostic relayed as text without CF"
sen_with status=401
expect_pcode 4.01 "case 59: upstream 401 -> 4.01"
sen_with status=403
expect_pcode 4.03 "case 59: upstream 403 -> 4.03"
sen_with status=404
expect_pcode 4.04 "case 59: upstream 404 -> 4.04"
sen_with status=500
expect_pcode 5.00 "case 60: upstream 500 -> 5.00"
sen_with status=501
expect_pcode 5.01 "case 60: upstream 501 -> 5.01"
sen_with status=502
expect_pcode 5.02 "case 60: upstream 502 -> 5.02"
sen_with status=504
expect_pcode 5.04 "case 60: upstream 504 -> 5.04"
sen_with status=202 retry_after=120
expect_pcode 5.03 "upstream 202"
[ "$(probe_field maxage)" = 120 ] || fail "202: Max-Age $(probe_field maxage)"
ok "case 54: upstream 202 Retry-After 120 -> 5.03 Max-Age 120"
sen_with status=202
expect_pcode 5.03 "case 56: upstream 202 without Retry-After -> 5.03"
[ "$(probe_field maxage)" = 60 ] ||
    fail "202 without Retry-After: Max-Age $(probe_field maxage), want 60"
ok "case 56: 202 without Retry-After -> Max-Age est.retry_max_age_s (60)"
sen_with status=503 retry_after=30
expect_pcode 5.03 "upstream 503"
[ "$(probe_field maxage)" = 30 ] || fail "503: Max-Age $(probe_field maxage)"
ok "case 57: upstream 503 Retry-After 30 -> 5.03 Max-Age 30"

sen_with body=garbage
expect_pcode 5.02 "case 61: 200 with invalid base64 -> 5.02"
sen_with body=spaces
expect_pcode 2.04 "case 62: 200 with CRLF, spaces and tabs in base64 -> 2.04"
# 63: each call issues a new certificate; compare what the device sees
for cte in 0 1; do
	upstream_mode up op=simpleenroll body=oneline cte=$cte
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
	    -w 20 -o "$T/cte$cte.p7"
	expect_pcode 2.04 "case 63: 200 with cte=$cte -> 2.04"
	{ echo "cf=$(probe_field cf)"; p7_certs "$T/cte$cte.p7" |
	    openssl x509 -noout -subject -issuer; } >"$T/cte$cte.sum"
done
cmp -s "$T/cte0.sum" "$T/cte1.sum" ||
    fail "with and without Content-Transfer-Encoding: different answers"
ok "case 63: with and without Content-Transfer-Encoding: same CF, subject and issuer"
sen_with body=notsigned
expect_pcode 5.02 "case 64: 200 with a non-SignedData PKCS#7 -> 5.02"
sen_with body=zerocerts
expect_pcode 5.02 "case 64: 200 with zero certificates -> 5.02"
sen_with ctype=text/html
expect_pcode 5.02 "case 65: 200 with text/html -> 5.02"
sen_with status=204
expect_pcode 5.02 "case 66: 204 to simpleenroll -> 5.02"
sen_with status=302
expect_pcode 5.02 "case 67: 302 not followed -> 5.02"
sen_with body=oversize
expect_pcode 5.02 "case 72: body over limits.max_response_body -> 5.02"
sen_with body=closemid
expect_pcode 5.02 "connection closed mid-body"
sen_with status=415
expect_pcode 5.02 "upstream 415"

# csrattrs 204 -> 4.04 (RFC 9148 4.5, the default), or the empty SEQUENCE
# with est.att_on_204 = empty (doc/conformance.md case 17); 404 -> 4.04; cache off
stop_daemon
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "cache_ttl_s": 0 }'
NOWARM=1 start_daemon
upstream_mode up op=csrattrs status=204
probe -m get -u /.well-known/est/att
expect_pcode 4.04 "case 17: csrattrs 204 -> 4.04 by default (RFC 9148 4.5)"
stop_daemon
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "cache_ttl_s": 0, "att_on_204": "empty" }'
NOWARM=1 start_daemon
probe -m get -u /.well-known/est/att -o "$T/att.der"
expect_pcode 2.05 "csrattrs 204 with att_on_204 empty"
[ "$(od -An -tx1 "$T/att.der" | tr -d ' \n')" = 3000 ] ||
    fail "csrattrs 204 payload is not 30 00"
ok "case 17: csrattrs 204 with att_on_204 empty -> 2.05 CF 285 30 00"
upstream_mode up op=csrattrs status=404
probe -m get -u /.well-known/est/att
expect_pcode 4.04 "case 18: csrattrs 404 -> 4.04"
upstream_mode up op=cacerts body=garbage
probe -m get -u /.well-known/est/crts
expect_pcode 5.02 "cacerts with invalid base64"
grep -q "coap=5.02 .*reason=upstream-bad-base64" "$T/daemon.log" ||
    fail "bad base64 not logged with its reason"
ok "upstream garbage logged"
done_case
