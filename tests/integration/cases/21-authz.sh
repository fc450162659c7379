#!/usr/bin/env bash
# Who may do what: the sren identity rule of RFC 7030
# 4.2.2 and ChangeSubjectName (cases 23-25), the CSR key policy, and the
# route's trust anchors, CRL, expiry rule and allow-list (cases 80-83).
# Every refusal is a 4.0x without an upstream call, logged with the
# device identity and audited; handshake refusals never reach CoAP.
. "$(dirname "$0")/../lib.sh"

LDEV_SUBJ="/O=estcoapd test/CN=ldev-0001"
LDEV_SAN="DNS:ldev-0001.devices.example"
CSN_SUBJ="/O=estcoapd test/CN=ldev-0001-renamed"
mkcsr() {
	"$TOOLS/estcoap-mkcsr" -k "$PKI/ldev.key" "$@" ||
	    fail "estcoap-mkcsr $*"
}
mkcsr -s "$LDEV_SUBJ" -a "$LDEV_SAN" -n "$CSN_SUBJ" -o "$T/csn-same.der"
mkcsr -s "/O=estcoapd test/CN=ldev-9999" -a "$LDEV_SAN" -n "$CSN_SUBJ" \
    -o "$T/csn-other.der"

# expect_posts N WHAT: the upstream has seen exactly N POSTs (the crts/att
# cache refreshes are GETs and may come at any time)
expect_posts() {
	local n
	n=$(upstream_count up "^POST")
	[ "$n" -eq "$1" ] || fail "$2: upstream saw $n POSTs, want $1"
	ok "$2"
}

# sren as the LDevID from our EST CA
sren() {
	DEV_CERT=$PKI/ldev.crt DEV_KEY=$PKI/ldev.key \
	    probe -m post -u /.well-known/est/sren -t 286 -f "$1"
}

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"service": { "audit_file": "'"$T"'/audit.log" }'
start_daemon

# 23: Subject and SAN equal to the client certificate -> forwarded
n=$(upstream_count up simplereenroll)
sren "$PKI/csr-ldev.der"
expect_pcode 2.04 "case 23: sren with Subject and SAN of the client certificate"
[ "$(upstream_count up simplereenroll)" -eq $((n + 1)) ] ||
    fail "case 23: upstream did not see /simplereenroll"
ok "case 23: sren reached /simplereenroll"

# 24: Subject differs, no ChangeSubjectName -> 4.03, no upstream
base=$(upstream_count up "^POST")
sren "$PKI/csr-ldev-othercn.der"
expect_pcode 4.03 "case 24: sren with another Subject"
grep -q "Subject differs" "$T/probe.out" ||
    fail "case 24: no diagnostic ($(cat "$T/probe.out"))"
ok "case 24: diagnostic names the Subject"
sren "$PKI/csr-ldev-othersan.der"
expect_pcode 4.03 "case 24: sren with another SubjectAltName"
sren "$PKI/csr-ldev-nosan.der"
expect_pcode 4.03 "case 24: sren without the certificate's SubjectAltName"
expect_posts "$base" "case 24: nothing went upstream"
grep -q 'authz: denied peer=.* dev="/O=estcoapd test/CN=ldev-0001" .*op=sren .*code=4.03' \
    "$T/daemon.log" || fail "case 24: denial not logged with the device"
ok "case 24: denial logged with the device identity"
grep -q '"event":"denied".*"op":"sren".*"code":"4.03"' "$T/audit.log" ||
    fail "case 24: denial not audited"
ok "case 24: denial audited"

# 25: ChangeSubjectName while the route does not allow it -> 4.03
sren "$T/csn-other.der"
expect_pcode 4.03 "case 25: Subject differs, ChangeSubjectName present"
sren "$T/csn-same.der"
expect_pcode 4.03 "case 25: ChangeSubjectName on a route that does not allow it"
grep -q "ChangeSubjectName not allowed" "$T/probe.out" ||
    fail "case 25: no diagnostic ($(cat "$T/probe.out"))"
expect_posts "$base" "case 25: nothing went upstream"

# CSR key policy (default P-256, P-384, RSA 2048..8192), sen: 4.00
for f in csr-p384 csr-rsa3072; do
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/$f.der"
	expect_pcode 2.04 "key policy: $f accepted by default"
done
base=$(upstream_count up "^POST")
for f in csr-p521:secp521r1 csr-rsa1024:"RSA key of 1024 bits" \
    csr-ed25519:ED25519; do
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/${f%%:*}.der"
	expect_pcode 4.00 "key policy: ${f%%:*} refused by default"
	grep -q "payload_text=.*${f#*:}" "$T/probe.out" ||
	    fail "key policy: ${f%%:*}: diagnostic ($(cat "$T/probe.out"))"
done
expect_posts "$base" "key policy: refused CSRs never went upstream"
stop_daemon

# 25 (second half): the route allows ChangeSubjectName; with Subject and
# SAN equal the CSR goes upstream unchanged, with another Subject still not
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "sren_allow_change_subject": true,
		  "csr_key_types": [ "P-256", "P-521", "Ed25519" ] }'
start_daemon
base=$(upstream_count up "^POST")
sren "$T/csn-same.der"
expect_pcode 2.04 "case 25: Subject/SAN equal + ChangeSubjectName forwarded"
b64len=$(( ($(stat -c %s "$T/csn-same.der") + 2) / 3 * 4 ))
b64len=$(( b64len + (b64len + 63) / 64 ))	# 64-column lines, each + LF
tail -n1 "$T/up.req" | grep -q "simplereenroll .*len=$b64len " ||
    fail "case 25: upstream body is not the CSR unchanged ($(tail -n1 "$T/up.req"))"
ok "case 25: the CSR went upstream unchanged"
sren "$T/csn-other.der"
expect_pcode 4.03 "case 25: Subject differs + ChangeSubjectName, allowed route"
expect_posts $((base + 1)) "case 25: only the equal one went upstream"
for f in csr-p521 csr-ed25519; do
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/$f.der"
	expect_pcode 2.04 "key policy: $f accepted when listed"
done
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-rsa3072.der"
expect_pcode 4.00 "key policy: RSA refused when not listed"

# as_dev NAME [probe args]: one request as device certificate NAME
as_dev() {
	local name=$1
	shift
	DEV_CERT=$PKI/$name.crt DEV_KEY=$PKI/$name.key probe "$@"
}
expect_refused() {
	[ "$(probe_field handshake)" = failed ] ||
	    fail "$1: handshake did not fail ($(tr '\n' ' ' <"$T/probe.out"))"
	ok "$1"
}

# -t names what is wrong with an auth section
bad_auth() {
	write_config "https://localhost:$UP_PORT_up" ",
	\"auth\": $1"
	"$BUILD/estcoapd" -t -c "$T/estcoapd.json" >"$T/t.out" 2>&1 &&
	    fail "-t accepted auth $1"
	grep -q -- "$2" "$T/t.out" || fail "-t for $1: $(cat "$T/t.out")"
	ok "-t refuses auth $1"
}
bad_auth '{ "trust": [ "'"$T"'/nowhere.pem" ] }' "auth.trust: .*nowhere.pem"
bad_auth '{ "crl": [ "'"$PKI"'/device-ca.crl" ], "trust": [ "'"$PKI"'/root-ca.crt" ] }' \
    "auth.crl: .*not signed by a trust anchor"
bad_auth '{ "rules": [ { "issuer": "x", "operations": [ "enroll" ] } ] }' \
    'auth.rules\[0\].operations: "enroll"'
bad_auth '{ "pop": "yes" }' "auth.pop: must be"
bad_auth '{ "colour": 1 }' "auth.colour: unknown key"
bad_auth '{ "csr_key_types": [ "DSA" ] }' 'auth.csr_key_types: "DSA"'

# 80, 81, 82, 83 with the trust given as a directory plus files, and a CRL
mkdir "$T/anchors"
cp "$PKI/device-ca.crt" "$T/anchors/manufacturer.pem"
cp "$PKI/device-ca2.crt" "$T/anchors/second.crt"
echo "not a certificate" >"$T/anchors/README"
TRUST='"trust": [ "'"$T"'/anchors", "'"$PKI"'/root-ca.crt", "'"$PKI"'/est-ca.crt" ]'
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { '"$TRUST"', "crl": [ "'"$PKI"'/device-ca.crl" ] },
	"service": { "audit_file": "'"$T"'/audit.log" }'
start_daemon
base=$(upstream_count up "^POST")
set +e
"$COAP_CLIENT" -B 5 -R "$PKI/root-ca.crt" -m post -t 286 -f "$PKI/csr-p256.der" \
    "coaps://127.0.0.1:$PORT/.well-known/est/sen" \
    >"$T/nocert.out" 2>&1
set -e
grep -q "^2\.\|^4\.\|^5\." "$T/nocert.out" &&
    fail "case 80: a device without certificate got a CoAP answer"
ok "case 80: no client certificate, no CoAP answer"
as_dev device-rogue -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 5
expect_refused "case 81: device of an untrusted CA refused at the handshake"
csr_for device-expired
as_dev device-expired -m post -u /.well-known/est/sen -t 286 \
    -f "$T/csr-device-expired.der" -w 5
expect_refused "case 82: expired device certificate refused"
grep -q 'device certificate refused: .*CN=device-expired-0001.*expired' \
    "$T/daemon.log" || fail "case 82: refusal not logged"
ok "case 82: refusal logged"
as_dev device-revoked -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -w 5
expect_refused "case 83: revoked device certificate refused (CRL)"
grep -q 'device certificate refused: .*CN=device-revoked-0001.*revoked' \
    "$T/daemon.log" || fail "case 83: refusal not logged as revoked"
ok "case 83: refusal logged as revoked"
grep -q '"reason":"revoked"' "$T/audit.log" || fail "case 83: not audited"
ok "case 83: refusal audited"
grep -q 'op=.*dev="/O=\(Rogue\|Example Manufacturer/serialNumber=SN-\(EXP\|REV\)\)' \
    "$T/daemon.log" && fail "cases 81-83: a refused device reached CoAP"
expect_posts "$base" "cases 80-83: nothing went upstream"
as_dev device -m get -u /.well-known/est/crts
expect_pcode 2.05 "case 83: a device the CRL does not list is served"
csr_for device2
as_dev device2 -m post -u /.well-known/est/sen -t 286 -f "$T/csr-device2.der"
expect_pcode 2.04 "trust directory: second manufacturer's device enrolls"
stop_daemon

# without the CRL the revoked device gets in: the CRL made the difference;
# 82 with auth.allow_expired: the expired IDevID is accepted
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { '"$TRUST"', "allow_expired": true }'
start_daemon
as_dev device-revoked -m get -u /.well-known/est/crts
expect_pcode 2.05 "case 83: without auth.crl the same device is served"
csr_for device-expired
as_dev device-expired -m post -u /.well-known/est/sen -t 286 \
    -f "$T/csr-device-expired.der"
expect_pcode 2.04 "case 82: expired IDevID enrolls with auth.allow_expired"
as_dev device-rogue -m get -u /.well-known/est/crts -w 5
expect_refused "case 81: allow_expired does not let an unknown CA in"

# 83 after a reload that adds the CRL: new handshakes of the revoked
# device fail, and a session it opened before the reload is refused on its
# next request (every request is checked against the new generation)
DEV_CERT=$PKI/device-revoked.crt DEV_KEY=$PKI/device-revoked.key \
    probe_bg "$T/held.out" -g /.well-known/est/crts -P 4000 -m post \
    -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
held=$PROBE_PID
wait_for "$T/held.out" 10 "pre_code=2.05" || fail "case 83: held session not up"
sed -i 's|"allow_expired": true|"allow_expired": true, "crl": [ "'"$PKI"'/device-ca.crl" ]|' \
    "$T/estcoapd.json"
grep -q device-ca.crl "$T/estcoapd.json" || fail "case 83: config not changed"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "case 83: reload with the CRL did not take"
wait "$held" || true
grep -q "^code=4.03" "$T/held.out" ||
    fail "case 83: a session from before the CRL still enrolls: $(tr '\n' ' ' <"$T/held.out")"
grep -q "payload_text=client certificate not accepted here: certificate revoked" \
    "$T/held.out" || fail "case 83: diagnostic ($(tr '\n' ' ' <"$T/held.out"))"
ok "case 83: a session opened before the CRL is refused after the reload"
as_dev device-revoked -m get -u /.well-known/est/crts -w 5
expect_refused "case 83: after the reload the revoked device fails the handshake"
stop_daemon

# the allow-list: manufacturer IDevIDs may crts + sen, our LDevIDs crts +
# sren, one device by subject only crts, the second manufacturer nothing
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { '"$TRUST"', "rules": [
		{ "subject": "*/CN=device-rsa-*", "operations": [ "crts" ] },
		{ "issuer": "/O=Example Manufacturer/CN=*IDevID CA",
		  "operations": [ "crts", "sen" ] },
		{ "issuer": "*/CN=estcoapd test EST CA",
		  "san": "DNS:*.devices.example", "operations": [ "crts", "sren" ] } ] },
	"service": { "audit_file": "'"$T"'/audit.log" }'
start_daemon
base=$(upstream_count up "^POST")
as_dev device -m post -u /.well-known/est/sren -t 286 -f "$PKI/csr-device.der"
expect_pcode 4.03 "allow-list: IDevID may not sren"
grep -q "payload_text=sren not allowed for this device" "$T/probe.out" ||
    fail "allow-list: diagnostic ($(cat "$T/probe.out"))"
ok "allow-list: diagnostic says which operation"
as_dev ldev -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-ldev.der"
expect_pcode 4.03 "allow-list: LDevID may not sen"
as_dev device-rsa -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-rsa3072.der"
expect_pcode 4.03 "allow-list: subject rule keeps device-rsa to crts"
as_dev device2 -m get -u /.well-known/est/crts
expect_pcode 4.03 "allow-list: trusted but unlisted manufacturer refused"
grep -q "payload_text=device not on the allow-list" "$T/probe.out" ||
    fail "allow-list: diagnostic ($(cat "$T/probe.out"))"
expect_posts "$base" "allow-list: refusals never went upstream"
grep -q 'authz: denied .*dev="/O=Second Manufacturer/serialNumber=SN2-0001/CN=device2-0001" issuer="/O=Second Manufacturer/CN=Second Manufacturer IDevID CA" serial=[0-9A-F]* op=crts' \
    "$T/daemon.log" || fail "allow-list: denial not logged with issuer and serial"
ok "allow-list: denial logged with subject, issuer and serial"
[ "$(grep -c '"event":"denied".*"code":"4.03"' "$T/audit.log")" -ge 4 ] ||
    fail "allow-list: denials not audited"
ok "allow-list: denials audited"
as_dev device -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "allow-list: IDevID may sen"
as_dev ldev -m post -u /.well-known/est/sren -t 286 -f "$PKI/csr-ldev.der"
expect_pcode 2.04 "allow-list: LDevID of our CA with its SAN may sren"
as_dev device-rsa -m get -u /.well-known/est/crts
expect_pcode 2.05 "allow-list: device-rsa may crts"
stop_daemon

# per-route trust: the handshake trusts both routes' anchors, each request
# only its own route's; est.labels names inherit the top-level auth
write_config "https://localhost:$UP_PORT_up" ',
	"auth": { "trust": [ "'"$PKI"'/device-ca.crt", "'"$PKI"'/root-ca.crt",
		"'"$PKI"'/est-ca.crt" ] },
	"est": { "labels": [ "same" ] },
	"labels": { "second": { "auth": {
		"trust": [ "'"$PKI"'/device-ca2.crt" ],
		"rules": [ { "operations": [ "crts", "sen" ] } ] } } }'
start_daemon
base=$(upstream_count up simpleenroll)
as_dev device2 -m get -u /.well-known/est/second/crts
expect_pcode 2.05 "per-route trust: second manufacturer on its own label"
as_dev device2 -m get -u /.well-known/est/crts
expect_pcode 4.03 "per-route trust: second manufacturer refused on the default route"
grep -q "payload_text=client certificate not accepted here" "$T/probe.out" ||
    fail "per-route trust: diagnostic ($(cat "$T/probe.out"))"
ok "per-route trust: diagnostic says the certificate is not accepted here"
as_dev device2 -m post -u /.well-known/est/same/sen -t 286 \
    -f "$PKI/csr-p256.der"
expect_pcode 4.03 "per-route trust: an est.labels label uses the top-level auth"
as_dev device -m get -u /.well-known/est/second/crts
expect_pcode 4.03 "per-route trust: first manufacturer refused on the second label"
as_dev device -m post -u /.well-known/est/same/sen -t 286 \
    -f "$PKI/csr-p256.der"
expect_pcode 2.04 "per-route trust: first manufacturer enrolls on an inheriting label"
as_dev device2 -m post -u /.well-known/est/second/sren -t 286 \
    -f "$PKI/csr-p256.der"
expect_pcode 4.03 "per-route trust: the label's own rules apply"
[ "$(upstream_count up simpleenroll)" -eq $((base + 1)) ] ||
    fail "per-route trust: $(( $(upstream_count up simpleenroll) - base )) enrollments went upstream, want 1"
ok "per-route trust: only the allowed sen went upstream"
stop_daemon

done_case
