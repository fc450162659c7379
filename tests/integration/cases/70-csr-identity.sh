#!/usr/bin/env bash
# The CSR identity policy (auth.csr_identity): a trusted device may ask
# only for the names its own certificate holds. The default "subject"
# refuses another Subject, a subjectAltName the device certificate lacks
# and any wildcard it does not hold, for sen, skg and skc alike, with a
# 4.03 and diagnostic, an authz: denied line naming the reason, an audit
# record and estcoapd_csr_identity_denied_total{reason}; nothing reaches
# the CA. A label can choose "attribute", "template" or "any".
. "$(dirname "$0")/../lib.sh"

mkcsr() {
	"$TOOLS/estcoap-mkcsr" "$@" || fail "estcoap-mkcsr $*"
}
# the issue's reproductions, signed with a key of the device's choosing
mkcsr -k "$PKI/csr-p256-2.key" -s "/O=estcoapd test/CN=ldev-0001" \
    -a "DNS:ldev-0001.devices.example" -o "$T/victim.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "/CN=registrar.example" \
    -a "DNS:est.example.net,DNS:*.devices.example" -o "$T/registrar.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "$DEV_SUBJ" -a "DNS:*.devices.example" \
    -o "$T/wild.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "$DEV_SUBJ" -a "IP:192.0.2.1" \
    -o "$T/ip.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "/O=Anyone/CN=ldev-0001/serialNumber=SN-0001" \
    -o "$T/sn.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "/O=Anyone/serialNumber=SN-0002" \
    -o "$T/sn2.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "/O=Example Operator/CN=device-0001" \
    -a "DNS:device-0001.ops.example" -o "$T/tpl.der"
mkcsr -k "$PKI/csr-p256-2.key" -s "/O=Example Operator/CN=device-0001" \
    -a "DNS:device-0002.ops.example" -o "$T/tpl-bad.der"

expect_posts() {
	local n
	n=$(upstream_count up "^POST")
	[ "$n" -eq "$1" ] || fail "$2: upstream saw $n POSTs, want $1"
	ok "$2"
}
# denied OP REASON WHAT: 4.03 whose diagnostic and log line name REASON
denied() {
	expect_pcode 4.03 "$3"
	grep -q "csr identity $2" "$T/probe.out" ||
	    fail "$3: diagnostic without the reason: $(cat "$T/probe.out")"
	grep -q "authz: denied .*op=$1 .*code=4.03: csr identity $2" \
	    "$T/daemon.log" || fail "$3: no authz: denied line with the reason"
	ok "$3: 4.03 with the reason in diagnostic and log"
}

MPORT=$(free_port tcp)
start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"service": { "audit_file": "'"$T"'/audit.log",
		"metrics_address": "127.0.0.1", "metrics_port": '"$MPORT"' },
	"est": { "server_keygen": true, "labels": [ "shared" ] },
	"labels": {
		"loose": { "auth": { "csr_identity": "any" } },
		"sn": { "auth": { "csr_identity": "attribute",
			"csr_identity_attributes": [ "serialNumber" ] } },
		"tpl": { "auth": { "csr_identity": "template",
			"csr_identity_template": {
				"subject": "/O=Example Operator/CN=${subject.CN}",
				"san": [ "DNS:${subject.CN}.ops.example" ] } } }
	}'
start_daemon
base=$(upstream_count up "^POST")

# the device certificate CN=device-0001 asks for the LDevID's identity
probe -m post -u /.well-known/est/sen -t 286 -f "$T/victim.der"
denied sen subject "sen: another device's Subject and SAN"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/registrar.der"
denied sen subject "sen: the registrar's name and a wildcard"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/wild.der"
denied sen wildcard "sen: own Subject, wildcard SAN"
probe -m post -u /.well-known/est/sen -t 286 -f "$T/ip.der"
denied sen san "sen: own Subject, an IP the certificate lacks"
probe -m post -u /.well-known/est/skg -t 286 -f "$T/victim.der"
denied skg subject "skg: another Subject"
probe -m post -u /.well-known/est/skc -t 286 -f "$T/registrar.der"
denied skc subject "skc: another Subject"
# a label without its own auth has the top-level policy
probe -m post -u /.well-known/est/shared/sen -t 286 -f "$T/victim.der"
denied sen subject "label without auth: the default policy"

# the LDevID whose sren is refused ("SAN differs") gets no further via sen
DEV_CERT=$PKI/ldev.crt DEV_KEY=$PKI/ldev.key \
    probe -m post -u /.well-known/est/sren -t 286 \
    -f "$PKI/csr-ldev-othersan.der"
expect_pcode 4.03 "sren: other SAN refused (RFC 7030 4.2.2)"
DEV_CERT=$PKI/ldev.crt DEV_KEY=$PKI/ldev.key \
    probe -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-ldev-othersan.der"
denied sen san "sen: the CSR sren refused"
DEV_CERT=$PKI/ldev.crt DEV_KEY=$PKI/ldev.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-ldev-othercn.der"
denied sen subject "sen: the LDevID asks for another CN"
expect_posts "$base" "nothing refused went upstream"

# audit records and the metric carry the decision
[ "$(grep -c '"event":"denied".*csr identity' "$T/audit.log")" -ge 9 ] ||
    fail "audit: $(grep -c denied "$T/audit.log") denied records"
grep -q '"event":"denied".*"op":"sen".*"reason":"csr identity wildcard' \
    "$T/audit.log" || fail "audit record without the reason"
ok "every refusal audited with its reason"
[ "$(metric 'estcoapd_csr_identity_denied_total{reason="subject"}')" -eq 6 ] &&
    [ "$(metric 'estcoapd_csr_identity_denied_total{reason="wildcard"}')" -eq 1 ] &&
    [ "$(metric 'estcoapd_csr_identity_denied_total{reason="san"}')" -eq 2 ] ||
    fail "metric: $(curl -s "http://127.0.0.1:$MPORT/metrics" | grep csr_identity)"
ok "estcoapd_csr_identity_denied_total counts each reason"

# what the device's own names allow still goes through
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" \
    -o "$T/own.p7"
expect_pcode 2.04 "sen: the device certificate's own Subject"
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "skg: the device certificate's own Subject"
DEV_CERT=$PKI/ldev.crt DEV_KEY=$PKI/ldev.key \
    probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-ldev.der"
expect_pcode 2.04 "sen: the LDevID's own Subject and SAN"

# per label: "attribute" (serialNumber), "template", and "any"
probe -m post -u /.well-known/est/sn/sen -t 286 -f "$T/sn.der"
expect_pcode 2.04 "attribute: same serialNumber, other RDNs free"
probe -m post -u /.well-known/est/sn/sen -t 286 -f "$T/sn2.der"
denied sen attribute "attribute: another serialNumber"
probe -m post -u /.well-known/est/sn/sen -t 286 -f "$T/wild.der"
denied sen wildcard "attribute: SANs still a subset"
probe -m post -u /.well-known/est/tpl/sen -t 286 -f "$T/tpl.der"
expect_pcode 2.04 "template: names built from the device certificate"
probe -m post -u /.well-known/est/tpl/sen -t 286 -f "$T/tpl-bad.der"
denied sen template "template: a SAN the template does not give"
probe -m post -u /.well-known/est/tpl/sen -t 286 -f "$PKI/csr-p256.der"
denied sen template "template: the IDevID Subject is not the template's"
probe -m post -u /.well-known/est/loose/sen -t 286 -f "$T/registrar.der"
expect_pcode 2.04 "any: the operator leaves identity to the CA"
stop_daemon

# bad policies are configuration errors naming the key
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "csr_identity": "cn" }'
"$BUILD/estcoapd" -t -c "$T/estcoapd.json" >"$T/t.out" 2>&1 &&
    fail "csr_identity cn accepted"
grep -q 'auth.csr_identity: must be "subject", "attribute", "template" or "any"' \
    "$T/t.out" || fail "no error naming the key: $(cat "$T/t.out")"
ok "a bad csr_identity is a configuration error"
done_case
