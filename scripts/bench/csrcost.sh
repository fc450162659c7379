#!/bin/sh
# Instructions per enrollment of the CSR and audit work (callgrind), from
# build/estcoap-csrcost (tests/bench/csrcost.c): its total with 21
# iterations less its total with 1, over 20. Needs valgrind and the test
# PKI (scripts/mkpki.sh build/test-pki).
#   scripts/bench/csrcost.sh [build [pki]]
set -eu
B=${1:-build}
P=${2:-$B/test-pki}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
command -v valgrind >/dev/null || { echo "csrcost: no valgrind" >&2; exit 1; }
# the CA's certificate goes in too: the audit picks by the CSR key
openssl x509 -req -in "$P/csr-device.der" -inform DER -CA "$P/est-ca.crt" \
    -CAkey "$P/est-ca.key" -CAserial "$T/srl" -CAcreateserial -days 30 \
    -out "$T/issued.pem" 2>/dev/null
openssl crl2pkcs7 -nocrl -certfile "$T/issued.pem" -certfile \
    "$P/est-ca.crt" -outform DER -out "$T/issued.p7"
ir() {
	valgrind --tool=callgrind --callgrind-out-file="$T/cg.$1" \
	    "$B/estcoap-csrcost" "$P/csr-device.der" "$P/device.crt" \
	    "$T/issued.p7" "$1" "$T/audit.log" 2>&1 >/dev/null |
	    sed -n 's/.*Collected : *//p'
}
one=$(ir 1)
many=$(ir 21)
echo "csrcost: $(( (many - one) / 20 )) instructions per enrollment" \
    "(CSR checks, held-answer key, CSR subject, 2 serials, 1 issued record)"
