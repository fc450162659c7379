#!/usr/bin/env bash
# Accept and Retry-After conformance (RFC 7252 5.10.4, RFC 9110
# 10.2.3; doc/conformance.md cases 15, 55): crts refuses Accept values it does not offer with 4.06 and no
# upstream call; an upstream 202 with an HTTP-date Retry-After becomes
# 5.03 with Max-Age = the seconds until that date, 0 for a date past.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 }'
start_daemon
base=$(upstream_count up)

# 15: text/plain (0), application/json (50), multipart-core (62: only
# with cBRSKI, which we do not implement)
for a in 0 50 62; do
	probe -m get -u /.well-known/est/crts -A "$a"
	expect_pcode 4.06 "case 15: crts with Accept $a -> 4.06"
done
coap -m get -A 50 /.well-known/est/crts
expect_code 4.06 "case 15: crts with Accept 50 via coap-client -> 4.06"
expect_upstream up "$base" "case 15: no upstream call for an Accept refused"

# 55: 202 with an HTTP-date Retry-After
when=$(date -u -d '+600 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
upstream_mode up op=simpleenroll status=202 "retry_after=$when"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.03 "case 55: upstream 202 with Retry-After: $when -> 5.03"
age=$(probe_field maxage)
# the date has one-second resolution and the exchange takes a moment
[ -n "$age" ] && [ "$age" -ge 580 ] && [ "$age" -le 600 ] ||
    fail "HTTP-date 600 s ahead gave Max-Age '$age'"
ok "case 55: HTTP-date Retry-After -> Max-Age $age (the delta seconds)"
past=$(date -u -d '-3600 seconds' '+%a, %d %b %Y %H:%M:%S GMT')
upstream_mode up op=simpleenroll status=202 "retry_after=$past"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.03 "case 55: upstream 202 with a past HTTP-date -> 5.03"
[ "$(probe_field maxage)" = 0 ] ||
    fail "past HTTP-date gave Max-Age '$(probe_field maxage)', want 0"
ok "case 55: a past HTTP-date is clamped to Max-Age 0"
upstream_mode up op=simpleenroll status=503 "retry_after=$when"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.03 "upstream 503 with an HTTP-date -> 5.03"
age=$(probe_field maxage)
[ -n "$age" ] && [ "$age" -ge 580 ] && [ "$age" -le 600 ] ||
    fail "503 HTTP-date gave Max-Age '$age'"
ok "503 with an HTTP-date Retry-After -> Max-Age $age"
# libcurl reads Retry-After (CURLINFO_RETRY_AFTER) and says 0 for a value
# it cannot parse as well as for 0: the first keeps est.retry_max_age_s
upstream_mode up op=simpleenroll status=503 "retry_after=0"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.03 "upstream 503 with Retry-After: 0 -> 5.03"
[ "$(probe_field maxage)" = 0 ] ||
    fail "Retry-After: 0 gave Max-Age '$(probe_field maxage)', want 0"
ok "Retry-After: 0 -> Max-Age 0"
upstream_mode up op=simpleenroll status=503 "retry_after=soon"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 5.03 "upstream 503 with Retry-After: soon -> 5.03"
[ "$(probe_field maxage)" = 60 ] ||
    fail "Retry-After: soon gave Max-Age '$(probe_field maxage)', want the default 60"
ok "an unreadable Retry-After -> the default Max-Age (est.retry_max_age_s)"
done_case
