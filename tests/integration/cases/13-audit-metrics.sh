#!/usr/bin/env bash
# What an operator watches: the audit log (one JSON line per issued
# certificate and per denied request) and the loopback HTTP listener
# (/metrics in Prometheus text format, /healthz, /readyz).
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp)
# every request must reach the CA here: no answering repeats from memory
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"service": { "audit_file": "'"$T"'/audit.log",
		"metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' }'
start_daemon
M=http://127.0.0.1:$MPORT

# an issued certificate
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/p7.der"
expect_pcode 2.04 "sen"
serial=$(openssl pkcs7 -inform DER -in "$T/p7.der" -print_certs |
    openssl x509 -noout -serial | sed 's/serial=//')
line=$(grep '"event":"issued"' "$T/audit.log" | tail -n1)
for want in '"op":"sen"' '"peer":"127.0.0.1:' \
    '"subject":"/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001"' \
    '"csr_subject":"/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001"' "\"serial\":\"$serial\"" \
    '"issuer":"/O=estcoapd test/CN=estcoapd test EST CA"' '"not_after":"' \
    "\"upstream\":\"https://localhost:$UP_PORT_up\""; do
	case "$line" in *"$want"*) ;; *) fail "audit line lacks $want: $line" ;; esac
done
ok "issued certificate audited with device, CSR and certificate details"

# a request the CA refuses, and a device the DTLS layer refuses
upstream_mode up op=simpleenroll status=403 "body_text=not allowed"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 4.03 "upstream 403"
grep -q '"event":"denied".*"op":"sen".*"code":"4.03","reason":"not allowed"' \
    "$T/audit.log" || fail "denied request not audited: $(tail -n1 "$T/audit.log")"
ok "upstream refusal audited"
DEV_CERT=$PKI/device-rogue.crt DEV_KEY=$PKI/device-rogue.key \
    probe -m get -u /.well-known/est/crts -w 5
grep -q '"event":"denied".*device-rogue-0001.*"code":"dtls","reason":"unknown_ca"' \
    "$T/audit.log" || fail "DTLS refusal not audited"
ok "DTLS refusal audited"
n=$(wc -l <"$T/audit.log")
[ "$(grep -c '^{.*}$' "$T/audit.log")" -eq "$n" ] ||
    fail "audit log holds a line that is not one JSON object"
ok "every audit line is one JSON object"
upstream_mode up

# metrics
curl -sf "$M/metrics" >"$T/metrics.txt" || fail "GET /metrics"
sh "$TOP/tests/integration/promcheck.sh" "$T/metrics.txt" ||
    fail "/metrics is not valid Prometheus text format"
ok "/metrics passes the strict format check"
grep -q '^estcoapd_requests_total{op="sen",label="",code="2.04"} 1$' \
    "$T/metrics.txt" || fail "sen 2.04 not counted"
grep -q '^estcoapd_requests_total{op="sen",label="",code="4.03"} 1$' \
    "$T/metrics.txt" || fail "sen 4.03 not counted"
grep -q '^estcoapd_certificates_issued_total 1$' "$T/metrics.txt" ||
    fail "issued certificate not counted"
grep -q '^estcoapd_dtls_handshakes_total{result="failed",reason="unknown_ca"} 1$' \
    "$T/metrics.txt" || fail "refused handshake not counted"
grep -q '^estcoapd_dtls_handshakes_total{result="ok",reason="ok"} [1-9]' \
    "$T/metrics.txt" || fail "handshakes not counted"
grep -q '^estcoapd_upstream_requests_total{server="https://localhost:'"$UP_PORT_up"'",status="200"} [1-9]' \
    "$T/metrics.txt" || fail "upstream exchanges not counted"
grep -q '^estcoapd_upstream_latency_seconds_count{server=' "$T/metrics.txt" ||
    fail "no upstream latency histogram"
grep -q '^estcoapd_build_info{.*} 1$' "$T/metrics.txt" || fail "no build_info"
ok "requests, certificates, handshakes, upstream and build info counted"
[ "$(curl -s "$M/healthz")" = ok ] || fail "/healthz"
ok "/healthz ok"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/readyz")" = 200 ] ||
    fail "/readyz not 200 while serving"
ok "/readyz 200 while serving"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$M/nope")" = 404 ] ||
    fail "unknown metrics path not 404"
ok "unknown path 404"

# draining: /readyz says so while a pending enrollment finishes
upstream_mode up op=simpleenroll delay_ms=2000
nq=$(grep -c "queued upstream" "$T/daemon.log" || true)
probe_bg /dev/null -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 20
pp=$PROBE_PID
wait_more "$T/daemon.log" 10 "queued upstream" "$nq" ||
    fail "request not queued"
kill -TERM "$DAEMON_PID"
wait_for "$T/daemon.log" 5 "draining:" || fail "no drain"
code=$(curl -s -o "$T/ready.txt" -w '%{http_code}' "$M/readyz")
[ "$code" = 503 ] && grep -q draining "$T/ready.txt" ||
    fail "/readyz while draining: $code $(cat "$T/ready.txt")"
ok "/readyz 503 draining while a request finishes"
wait "$pp" || true
done_case
