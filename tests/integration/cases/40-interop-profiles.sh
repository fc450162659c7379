#!/usr/bin/env bash
# Interoperability: the core flows against every
# server profile of the test upstream (est-testserver --profile: rfc8951,
# libest, globalsign, openxpki; README "Interoperability"), with Debian's
# coap-client-openssl AND coap-client-gnutls where they can do the case and
# estcoap-probe where exact codes and options matter: crts, sen, sren
# (enroll, then renew with the new certificate and a new key), att, skg
# (the key under CF 284 is PKCS#8 whatever the CA sent), 202 -> 5.03 +
# Max-Age -> retry, a CA label, and an error case.
. "$(dirname "$0")/../lib.sh"

command -v coap-client-gnutls >/dev/null ||
    skip "coap-client-gnutls (libcoap3-bin) not installed"
PROFILES="rfc8951 libest globalsign openxpki"
cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$T/up-trust.pem"

# the device's Subject: what auth.csr_identity lets its CSRs ask for
DEV_SUBJ=$(openssl x509 -in "$PKI/device.crt" -noout -subject \
    -nameopt compat | sed 's/^subject=//')

# csr_new NAME [SUBJECT]: a fresh P-256 key and DER CSR for the device's
# Subject (or SUBJECT), $T/NAME.{key,der}
csr_new() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -subj "${2:-$DEV_SUBJ}" -outform DER \
	    -out "$T/$1.der" 2>/dev/null || fail "openssl req $1"
}

# up CURL-ARGS... PATH: one request straight to the current upstream as
# the registrar; headers and body to $T/up.out
up() {
	local path=${*: -1} args=("${@:1:$#-1}")
	curl -s --cacert "$T/up-trust.pem" --cert "$PKI/ra.crt" \
	    --key "$PKI/ra.key" -D "$T/up.hdr" -o "$T/up.out" "${args[@]}" \
	    "https://localhost:$UPORT/.well-known/est/$path" ||
	    fail "curl to the $PROF upstream failed"
	UPCODE=$(head -n1 "$T/up.hdr" | cut -d' ' -f2)
}

# expect_up WANT PATTERN WHAT: the direct upstream answer's status and body
expect_up() {
	[ "$UPCODE" = "$1" ] && grep -q -- "$2" "$T/up.out" ||
	    fail "$PROF: $3: upstream $UPCODE $(tr -d '\0' <"$T/up.out" |
	    head -c 200)"
	ok "$PROF: $3"
}

# route_json LABEL UPSTREAM-EXTRA [ROUTE-EXTRA]: a label route to the
# current upstream, with more members for its upstream and for the route
route_json() {
	printf '"%s": { "upstream": { "url": "https://localhost:%s",
	    "client_cert": "%s", "client_key": "%s", "ca": "%s"%s }%s }' \
	    "$1" "$UPORT" "$PKI/ra.crt" "$PKI/ra.key" "$PKI/root-ca.crt" "$2" \
	    "${3:-}"
}

# profile_daemon [ROUTES]: the daemon in front of the current profile's
# upstream; label "strict" sends one-line base64 without CTE, ROUTES
# (JSON members, with a leading comma) adds routes.  CSRs carry the
# device's Subject (auth.csr_identity "subject", the default).
profile_daemon() {
	local routes
	routes=$(route_json strict ', "base64_line_length": 0,
	    "send_cte": false')
	# globalsign's mock CA acts on fixed CSR names under this label
	[ "$PROF" != globalsign ] || routes="$routes, $(route_json \
	    triggererrors '' ', "auth": { "csr_identity": "any" }')"
	write_config "https://localhost:$UPORT" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true, "labels": [ "field-2" ] },
	"labels": { '"$routes${1:-}"' }'
	start_daemon
}

# skg_parts FILE WHAT: FILE is [284, PKCS#8 key, 281, PKCS#7] and the
# certificate carries the key the upstream generated
skg_parts() {
	"$TOOLS/cbor-split" "$1" "$T/item" >"$T/items" ||
	    fail "$PROF: $2: not multipart-core"
	[ "$(awk '{print $2}' "$T/items" | tr '\n' ' ')" = "284 281 " ] ||
	    fail "$PROF: $2: content formats $(awk '{print $2}' "$T/items" |
	    tr '\n' ' ')"
	openssl pkcs8 -inform DER -nocrypt -in "$T/item.0.bin" -out "$T/k.pem" \
	    2>/dev/null || fail "$PROF: $2: CF 284 item is not PKCS#8"
	cmp -s <(openssl pkey -in "$T/k.pem" -pubout) \
	    <(openssl pkey -in "$T/$PROF.req.lastkey.pem" -pubout) ||
	    fail "$PROF: $2: not the key the CA generated"
	cmp -s <(openssl pkey -in "$T/k.pem" -pubout) \
	    <(p7_certs "$T/item.1.bin" | openssl x509 -noout -pubkey) ||
	    fail "$PROF: $2: the certificate does not carry the key"
	ok "$PROF: $2: PKCS#8 key under CF 284 and its certificate"
}

# with_client CLIENT ARGS...: coap() with coap-client-openssl or -gnutls
with_client() {
	local c=$1
	shift
	COAP_CLIENT=coap-client-$c coap "$@"
}

# flow_crts: crts by both clients, the upstream's three certificates
flow_crts() {
	for c in openssl gnutls; do
		with_client "$c" -m get /.well-known/est/crts
		expect_code 2.xx "$PROF: crts by coap-client-$c"
		[ "$(p7_certs "$T/out" | grep -c 'BEGIN CERTIFICATE')" -eq 3 ] ||
		    fail "$PROF: crts ($c): want 3 certificates"
	done
	ok "$PROF: crts holds the upstream's 3 certificates"
}

# flow_enroll CLIENT: sen, then sren with the new certificate and a new
# key (same names); SREN_WANT is the sren code expected on the default
# route
flow_enroll() {
	local c=$1
	csr_new "$PROF-$c-a"
	with_client "$c" -m post -t 286 -f "$T/$PROF-$c-a.der" \
	    /.well-known/est/sen
	expect_code 2.xx "$PROF: sen by coap-client-$c"
	p7_certs "$T/out" >"$T/$PROF-$c.pem"
	cmp -s <(openssl x509 -in "$T/$PROF-$c.pem" -noout -pubkey) \
	    <(openssl pkey -in "$T/$PROF-$c-a.key" -pubout) ||
	    fail "$PROF: sen ($c): certificate lacks the CSR key"
	openssl verify -CAfile "$T/up-trust.pem" "$T/$PROF-$c.pem" \
	    >/dev/null || fail "$PROF: sen ($c): certificate does not verify"
	csr_new "$PROF-$c-b"
	DEV_CERT=$T/$PROF-$c.pem DEV_KEY=$T/$PROF-$c-a.key with_client "$c" \
	    -m post -t 286 -f "$T/$PROF-$c-b.der" /.well-known/est/sren
	expect_code "$SREN_WANT" "$PROF: sren by coap-client-$c with the new certificate"
	[ "$SREN_WANT" != 2.xx ] || cmp -s <(p7_certs "$T/out" |
	    openssl x509 -noout -pubkey) <(openssl pkey -in \
	    "$T/$PROF-$c-b.key" -pubout) ||
	    fail "$PROF: sren ($c): renewed certificate lacks the new key"
}

# flow_renew_route: sren on a route with upstream.renew_as_enroll
flow_renew_route() {
	local n
	profile_daemon ", $(route_json renew ', "renew_as_enroll": true')"
	n=$(upstream_count "$PROF" "POST /.well-known/est/renew/simpleenroll ")
	DEV_CERT=$T/$PROF-openssl.pem DEV_KEY=$T/$PROF-openssl-a.key \
	    coap -m post -t 286 -f "$T/$PROF-openssl-b.der" \
	    /.well-known/est/renew/sren
	expect_code 2.xx "$PROF: sren under upstream.renew_as_enroll"
	[ "$(upstream_count "$PROF" \
	    "POST /.well-known/est/renew/simpleenroll ")" -eq $((n + 1)) ] ||
	    fail "$PROF: renew_as_enroll did not send /simpleenroll"
	ok "$PROF: renewal forwarded as /simpleenroll"
}

# flow_att: att answers the upstream's CsrAttrs as DER, CF 285
flow_att() {
	probe -m get -u /.well-known/est/att -o "$T/att.der"
	expect_pcode 2.05 "$PROF: att"
	[ "$(probe_field cf)" = 285 ] || fail "$PROF: att cf $(probe_field cf)"
	openssl asn1parse -inform DER -in "$T/att.der" >/dev/null ||
	    fail "$PROF: att payload is not DER"
	ok "$PROF: att is DER CsrAttrs with CF 285"
}

# flow_skg ALG: skg by the probe with the profile's own key type, and by
# both clients with a P-256 key (small enough for one block)
flow_skg() {
	csr_new "$PROF-skg"
	probe -m post -u /.well-known/est/skg -t 286 -A 62 \
	    -f "$T/$PROF-skg.der" -o "$T/skg.cbor" -w 30
	# a CA that makes an RSA-4096 key takes longer than coap.ack_hold_ms:
	# the answer is held and the device told to repeat (README, "Answers
	# larger than one block")
	if [ "$PCODE" = 5.03 ] && grep -q "repeat the request" "$T/probe.out"; then
		probe -m post -u /.well-known/est/skg -t 286 -A 62 \
		    -f "$T/$PROF-skg.der" -o "$T/skg.cbor" -w 30
	fi
	expect_pcode 2.04 "$PROF: skg ($1)"
	skg_parts "$T/skg.cbor" "skg $1 by the probe"
	upstream_mode "$PROF" op=serverkeygen skg_alg=p256
	for c in openssl gnutls; do
		with_client "$c" -m post -t 286 -A 62 -f "$T/$PROF-skg.der" \
		    /.well-known/est/skg
		expect_code 2.xx "$PROF: skg (P-256) by coap-client-$c"
		skg_parts "$T/out" "skg P-256 by coap-client-$c"
	done
	upstream_mode "$PROF"
}

# flow_label: crts and sen under a CA label reach /<label>/<op>
flow_label() {
	probe -m get -u /.well-known/est/field-2/crts
	expect_pcode 2.05 "$PROF: crts under a label"
	csr_new "$PROF-lab"
	probe -m post -u /.well-known/est/field-2/sen -t 286 \
	    -f "$T/$PROF-lab.der"
	expect_pcode 2.04 "$PROF: sen under a label"
	grep -q "POST /.well-known/est/field-2/simpleenroll " "$T/$PROF.req" ||
	    fail "$PROF: labelled sen did not reach /field-2/simpleenroll"
	ok "$PROF: label forwarded as /.well-known/est/<label>/<op>"
}

# flow_strict WANT: sen on the route with upstream.base64_line_length 0
# and send_cte false (one-line base64, no CTE) gets WANT from this CA
flow_strict() {
	csr_new "$PROF-strict"
	sen_probe "$T/$PROF-strict.der" /.well-known/est/strict/sen
	expect_pcode "$1" "$PROF: one line without CTE (base64_line_length 0, send_cte false) -> $1"
	tail -n1 "$T/$PROF.req" | grep -q "/strict/simpleenroll .* cte=- " ||
	    fail "$PROF: the strict route sent a Content-Transfer-Encoding"
	[ "$(sed 1d "$T/$PROF.req.lastbody" | wc -l)" -eq 0 ] ||
	    fail "$PROF: the strict route sent line breaks"
}

# sen_probe FILE [PATH]: sen by the probe (exact code and Max-Age)
sen_probe() {
	probe -m post -u "${2:-/.well-known/est/sen}" -t 286 -f "$1" -w 20
}

# flow_error: a body that is no CSR is 4.00 for both clients, upstream
# untouched
flow_error() {
	local n
	n=$(upstream_count "$PROF" "^POST")
	printf 'this is not a CSR' >"$T/garbage"
	for c in openssl gnutls; do
		with_client "$c" -m post -t 286 -f "$T/garbage" \
		    /.well-known/est/sen
		expect_code 4.00 "$PROF: garbage CSR by coap-client-$c"
	done
	[ "$(upstream_count "$PROF" "^POST")" -eq "$n" ] ||
	    fail "$PROF: a garbage CSR went upstream"
}

# --- the profiles themselves refuse what their real servers refuse ---
check_profile_rfc8951() {
	base64 -w0 "$PKI/csr-p256.der" >"$T/one.b64"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/one.b64" \
	    simpleenroll
	expect_up 200 . "profile accepts one-line base64 without CTE"
}

check_profile_libest() {
	base64 -w0 "$PKI/csr-p256.der" >"$T/one.b64"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/one.b64" \
	    simpleenroll
	expect_up 400 "Invalid or corrupted pkcs10 request" \
	    "profile refuses base64 without a line break (BIO_f_base64)"
	grep -qi "^Connection: close" "$T/up.hdr" ||
	    fail "libest: no Connection: close after a 400"
	base64 -w64 "$PKI/csr-p256.der" >"$T/w64.b64"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/w64.b64" \
	    simpleenroll
	expect_up 200 . "profile accepts 64-column base64"
	[ "$(awk 'NR == 1 { print length($0) }' "$T/up.out")" -eq 64 ] ||
	    fail "libest: answer lines are not 64 columns"
	up csrattrs
	[ "$(tail -c1 "$T/up.out" | od -An -tx1 | tr -d ' ')" = 00 ] ||
	    fail "libest: csrattrs does not end in a NUL"
	ok "libest: csrattrs ends in a NUL"
	if curl -s --tlsv1.3 --cacert "$T/up-trust.pem" --cert "$PKI/ra.crt" \
	    --key "$PKI/ra.key" -o /dev/null \
	    "https://localhost:$UPORT/.well-known/est/cacerts"; then
		fail "libest: TLS 1.3 accepted"
	fi
	ok "libest: TLS stops at 1.2"
}

check_profile_globalsign() {
	base64 -w64 "$PKI/csr-p256.der" >"$T/w64.b64"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/w64.b64" \
	    simpleenroll
	expect_up 415 "415 missing Content-Transfer-Encoding header" \
	    "profile refuses a POST without Content-Transfer-Encoding"
	up -H 'Content-Type: application/pkcs10' \
	    -H 'Content-Transfer-Encoding: base64' --data-binary @"$T/w64.b64" \
	    simplereenroll
	expect_up 403 "must be identical to certificate being renewed" \
	    "profile refuses a renewal whose names are not the TLS client's"
	up -H 'Content-Type: application/pkcs10' \
	    -H 'Content-Transfer-Encoding: base64' --data-binary @"$T/w64.b64" \
	    simpleenroll
	expect_up 200 . "profile enrolls with CTE"
	[ "$(awk 'NR == 1 { print length($0) }' "$T/up.out")" -eq 77 ] ||
	    fail "globalsign: answer lines are not 76 columns + CR"
	grep -q " h2=1 " "$T/globalsign.req" ||
	    fail "globalsign: curl did not offer h2"
	ok "globalsign: 76-column CRLF answers; h2 offered, http/1.1 picked"
}

check_profile_openxpki() {
	base64 -w64 "$PKI/csr-p256.der" >"$T/w64.b64"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/w64.b64" \
	    serverkeygen
	expect_up 501 "Operation not implemented" "profile has no serverkeygen"
	up -H 'Content-Type: application/pkcs10' --data-binary @"$T/w64.b64" \
	    simpleenroll
	expect_up 200 . "profile enrolls"
	[ "$(wc -l <"$T/up.out")" -eq 0 ] ||
	    fail "openxpki: answer is not one line without a line end"
	ok "openxpki: base64 answers without any whitespace"
}

# --- 202 -> 5.03 + Max-Age -> retry, as each server family does it ---
flow_pending_rfc8951() {
	csr_new p-rfc
	upstream_mode rfc8951 manual=2
	sen_probe "$T/p-rfc.der"
	expect_pcode 5.03 "rfc8951: 202 -> 5.03"
	[ "$(probe_field maxage)" = 2 ] ||
	    fail "rfc8951: Max-Age $(probe_field maxage), want 2"
	sen_probe "$T/p-rfc.der"
	expect_pcode 2.04 "rfc8951: the retry enrolls"
	upstream_mode rfc8951
}

flow_pending_libest() {
	csr_new p-libest
	upstream_mode libest manual=7
	sen_probe "$T/p-libest.der"
	expect_pcode 5.03 "libest (-m 7): 202 -> 5.03"
	[ "$(probe_field maxage)" = 7 ] ||
	    fail "libest: Max-Age $(probe_field maxage), want 7"
	sen_probe "$T/p-libest.der"
	expect_pcode 2.04 "libest: the retry with the same key enrolls"
	upstream_mode libest
}

flow_pending_globalsign() {
	csr_new p-gs "/CN=Trigger Error Deferred"
	sen_probe "$T/p-gs.der" /.well-known/est/triggererrors/sen
	expect_pcode 5.03 "globalsign (triggererrors): 202 -> 5.03"
	[ "$(probe_field maxage)" = 600 ] ||
	    fail "globalsign: Max-Age $(probe_field maxage), want 600"
	sen_probe "$T/p-gs.der" /.well-known/est/triggererrors/sen
	expect_pcode 5.03 "globalsign: the mock CA defers the retry too"
	csr_new p-gs-f "/CN=Trigger Error Forbidden"
	sen_probe "$T/p-gs-f.der" /.well-known/est/triggererrors/sen
	expect_pcode 4.03 "globalsign: a CA refusal (403) is 4.03"
	tail -n1 "$T/globalsign.req" | grep -q " h2=1 " ||
	    fail "globalsign: estcoapd did not offer h2"
	ok "globalsign: estcoapd offers h2 by ALPN; the profile answers in http/1.1"
}

flow_pending_openxpki() {
	csr_new p-ox
	upstream_mode openxpki approval=manual
	sen_probe "$T/p-ox.der"
	expect_pcode 5.03 "openxpki (manual approval): 202 -> 5.03"
	[ "$(probe_field maxage)" = 300 ] ||
	    fail "openxpki: Max-Age $(probe_field maxage), want 300"
	sen_probe "$T/p-ox.der"
	expect_pcode 5.03 "openxpki: retry before approval still 5.03"
	upstream_mode openxpki approval=manual approve=1
	probe -m post -u /.well-known/est/sen -t 286 -f "$T/p-ox.der" \
	    -o "$T/p-ox-1.p7"
	expect_pcode 2.04 "openxpki: the retry after approval enrolls"
	probe -m post -u /.well-known/est/sen -t 286 -f "$T/p-ox.der" \
	    -o "$T/p-ox-2.p7"
	expect_pcode 2.04 "openxpki: the same CSR again"
	cmp -s "$T/p-ox-1.p7" "$T/p-ox-2.p7" ||
	    fail "openxpki: the same CSR did not pick up the same certificate"
	ok "openxpki: the same CSR picks up the certificate already issued"
	upstream_mode openxpki
}

for PROF in $PROFILES; do
	start_upstream "$PROF" --profile "$PROF"
done
for PROF in $PROFILES; do
	UPORT=$(eval echo "\$UP_PORT_$PROF")
	"check_profile_$PROF"
	profile_daemon
	SREN_WANT=2.xx
	[ "$PROF" != globalsign ] || SREN_WANT=4.03
	flow_crts
	flow_enroll openssl
	flow_enroll gnutls
	flow_att
	case $PROF in
	openxpki)
		probe -m post -u /.well-known/est/skg -t 286 \
		    -f "$PKI/csr-p256.der"
		expect_pcode 5.01 "openxpki: skg (upstream 501) -> 5.01" ;;
	libest)	flow_skg "RSA-4096 PKCS#1 from the CA" ;;
	globalsign) flow_skg "RSA-2048 PKCS#8 from the CA" ;;
	*)	flow_skg "P-256 PKCS#8 from the CA" ;;
	esac
	flow_label
	case $PROF in
	libest)	flow_strict 4.00 ;;	# BIO_f_base64 reads no CSR: 400
	globalsign) flow_strict 5.02 ;;	# 415 without CTE
	*)	flow_strict 2.04 ;;
	esac
	"flow_pending_$PROF"
	flow_error
	[ "$PROF" != globalsign ] || flow_renew_route
done
done_case
