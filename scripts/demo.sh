#!/usr/bin/env bash
# make demo: one real enrollment through estcoapd on loopback. Makes a demo
# PKI under build/demo/, starts the test EST upstream (mutual TLS) and the
# daemon, then enrolls a new device with coap-client-openssl over DTLS:
# GET crts, then POST sen with a freshly made key and CSR. Verifies the
# certificate against the CA certs crts returned and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$(pwd)
B=$TOP/build
D=$B/demo
mkdir -p "$D"
rm -f "$D"/device.key "$D"/device.crt "$D"/cacerts.pem \
    "$D"/upstream-requests.log

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# A free port on loopback.
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 20000) + 30000 ))
		ss -Hln"$1" "sport = :$p" | grep -q . || { echo "$p"; return; }
	done
	echo "demo: no free port" >&2
	exit 1
}

say "demo PKI (openssl): CA, upstream and registrar certificates, a device IDevID"
scripts/mkpki.sh "$D/pki"
ls "$D/pki" | tr '\n' ' ' | fold -w 76 | sed 's/^/    /'
echo

say "test EST upstream (RFC 7030 over HTTPS, mutual TLS) on 127.0.0.1"
cat "$D/pki/est-ca.crt" "$D/pki/root-ca.crt" >"$D/ra-trust.pem"
rm -f "$D/upstream.port"
"$B/est-testserver" -p 0 -c "$D/pki/upstream-chain.pem" \
    -k "$D/pki/upstream.key" -C "$D/ra-trust.pem" \
    -a "$D/pki/est-ca.crt" -A "$D/pki/est-ca.key" -b "$D/pki/cacerts.pem" \
    -P "$D/upstream.port" -l "$D/upstream-requests.log" \
    2>"$D/upstream.log" &
pids="$pids $!"
for _ in $(seq 1 50); do [ -s "$D/upstream.port" ] && break; sleep 0.1; done
UP=$(cat "$D/upstream.port")
echo "    https://localhost:$UP/.well-known/est/ (cacerts, simpleenroll, ...)"

say "estcoapd on coaps://127.0.0.1:PORT (DTLS 1.2, device certificates required)"
PORT=$(free_port u)
cat "$D/pki/device-ca.crt" "$D/pki/root-ca.crt" "$D/pki/est-ca.crt" \
    >"$D/client-ca.pem"
cat >"$D/estcoapd.json" <<JSON
{
	"listen": [ { "address": "127.0.0.1", "port": $PORT } ],
	"dtls": {
		"cert": "$D/pki/dtls.crt",
		"key": "$D/pki/dtls.key",
		"chain": "$D/pki/dtls-chain.pem",
		"client_ca": "$D/client-ca.pem"
	},
	"upstream": {
		"url": "https://localhost:$UP",
		"client_cert": "$D/pki/ra.crt",
		"client_key": "$D/pki/ra.key",
		"ca": "$D/pki/root-ca.crt"
	}
}
JSON
"$B/estcoapd" -t -c "$D/estcoapd.json" | sed 's/^/    /'
: >"$D/estcoapd.log"
"$B/estcoapd" -f -c "$D/estcoapd.json" 2>"$D/estcoapd.log" &
pids="$pids $!"
for _ in $(seq 1 100); do
	grep -q "cache: crts refreshed" "$D/estcoapd.log" && break
	sleep 0.1
done
grep -E "listening|ready|cache" "$D/estcoapd.log" | sed 's/^[^ ]* /    /'

CLIENT=(coap-client-openssl -B 30 -c "$D/pki/device.crt" -j "$D/pki/device.key"
    -R "$D/pki/root-ca.crt")
URI=coaps://127.0.0.1:$PORT/.well-known/est

say "device: GET $URI/crts  (CA certificates)"
"${CLIENT[@]}" -m get -o "$D/crts.p7" "$URI/crts"
grep "op=crts" "$D/estcoapd.log" | tail -n1 | sed 's/^.*req=/    estcoapd: req=/'
openssl pkcs7 -inform DER -in "$D/crts.p7" -print_certs >"$D/cacerts.pem"
echo "    $(stat -c %s "$D/crts.p7") bytes DER PKCS#7 (CF 281) with" \
    "$(grep -c 'BEGIN CERTIFICATE' "$D/cacerts.pem") CA certificates:"
openssl crl2pkcs7 -nocrl -certfile "$D/cacerts.pem" |
    openssl pkcs7 -print_certs -noout | grep subject | sed 's/^/      /'

# auth.csr_identity "subject" (the default): a device may ask only for the
# names of the certificate it presents, here its IDevID's Subject
subj=$(openssl x509 -in "$D/pki/device.crt" -noout -subject -nameopt compat)
subj=${subj#subject=}
say "device: new P-256 key and CSR ($subj, its IDevID's Subject)"
openssl ecparam -name prime256v1 -genkey -noout -out "$D/device.key"
chmod 600 "$D/device.key"
openssl req -new -key "$D/device.key" -subj "$subj" \
    -outform DER -out "$D/device.csr"
echo "    $(stat -c %s "$D/device.csr") bytes DER PKCS#10"

say "device: POST $URI/sen  (simple enroll, CF 286)"
"${CLIENT[@]}" -m post -t 286 -f "$D/device.csr" -o "$D/device.p7" "$URI/sen"
grep "op=sen" "$D/estcoapd.log" | tail -n1 | sed 's/^.*req=/    estcoapd: req=/'
grep "simpleenroll" "$D/upstream-requests.log" | tail -n1 |
    sed 's/^/    upstream saw: /'
openssl pkcs7 -inform DER -in "$D/device.p7" -print_certs |
    openssl x509 -out "$D/device.crt"
echo "    issued certificate:"
openssl x509 -in "$D/device.crt" -noout -subject -issuer -serial -dates |
    sed 's/^/      /'

say "verify the certificate against the CA certs from crts"
openssl verify -CAfile "$D/cacerts.pem" "$D/device.crt" | sed 's/^/    /'
cmp -s <(openssl x509 -in "$D/device.crt" -noout -pubkey) \
    <(openssl pkey -in "$D/device.key" -pubout) &&
    echo "    the certificate carries the device's new key"

say "done: build/demo/device.key, build/demo/device.crt, build/demo/cacerts.pem"
