#!/usr/bin/env bash
# A hostile upstream (doc/conformance.md case 72): a body that
# never ends, a body over limits.max_response_body sent at once, and a TLS
# alert in the clear in the middle of a body. Each enrollment gets 5.02, the
# refusal of the endless body is counted, nothing stays pending, and the
# next normal enrollment works.
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp) || fail "no free TCP port"
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "service": { "metrics_port": '"$MPORT"' }'
start_daemon

# enroll WHAT: a normal sen gets its certificate.
enroll() {
	upstream_mode up
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
	expect_pcode 2.04 "$1: normal enrollment"
}

# hostile_body KNOB WHAT: sen against upstream body=KNOB gets 5.02.
hostile_body() {
	upstream_mode up "op=simpleenroll" "body=$1"
	# a CSR of its own each time: no remembered answer stands in
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der"
	expect_pcode 5.02 "$2: 5.02"
	wait_metric estcoapd_pending_requests -eq 0 10 ||
	    fail "$2: $(metric estcoapd_pending_requests) requests still pending"
	ok "$2: nothing left pending"
}

enroll "start"
hostile_body endless "case 72: endless chunked body"
[ "$(metric 'estcoapd_limit_refusals_total{limit="max_response_body"}')" \
    -ge 1 ] || fail "endless body: max_response_body refusal not counted"
ok "endless body cut at limits.max_response_body and counted"
enroll "after the endless body"
hostile_body oversize "case 72: 2 MiB body at once"
enroll "after the oversized body"
hostile_body alert "TLS alert mid-body"
enroll "after the TLS alert"
# and a new CSR really goes upstream again over a fresh connection
n=$(upstream_count up simpleenroll)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsa3072.der"
expect_pcode 2.04 "after the TLS alert: a new enrollment goes upstream"
[ "$(upstream_count up simpleenroll)" -gt "$n" ] ||
    fail "the new enrollment did not reach the upstream"
kill -0 "$DAEMON_PID" || fail "daemon died"
done_case
