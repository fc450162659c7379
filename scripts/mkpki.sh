#!/bin/bash
# mkpki.sh: mint the demo/test PKI for estcoapd with openssl(1) only.
#
# usage: scripts/mkpki.sh [-v] DIR
#
# Creates DIR and fills it with CAs, server and client certificates, device
# identities and CSRs (see the list at the end of this comment).  Re-running
# into a DIR that holds a complete set (the stamp file is present) does
# nothing.  Silent on success unless -v is given.  Keys are EC P-256 unless
# RSA is named; every .key is mode 0600.
#
#   root-ca.crt/.key        EST CA root, self-signed
#   est-ca.crt/.key         intermediate, signed by root-ca; issues certificates
#   root-next.crt/.key      a rollover root, self-signed
#   cacerts.pem             root-ca + est-ca + root-next (the /cacerts bundle)
#   upstream.crt/.key       TLS server cert of the test EST server (by est-ca)
#   upstream-chain.pem      upstream.crt + est-ca.crt
#   ra.crt/.key             registrar's upstream client cert (clientAuth, cmcRA)
#   dtls.crt/.key           registrar's DTLS server cert (by est-ca)
#   dtls-chain.pem          est-ca.crt (intermediates the registrar sends)
#   device-ca.crt/.key      manufacturer CA, self-signed
#   device.crt/.key         device IDevID (P-256) by device-ca
#   device-rsa.crt/.key     device IDevID (RSA-2048) by device-ca
#   rogue-ca.crt/.key       unrelated self-signed CA
#   device-rogue.crt/.key   device cert by rogue-ca (untrusted)
#   upstream-rogue.crt/.key upstream server cert by rogue-ca (untrusted)
#   upstream-wronghost.crt/.key  by est-ca, but only for DNS:wrong.example
#   ca2-root.crt/.key       a second CA operator's root (routes to a 2nd CA)
#   upstream2.crt/.key      TLS server cert of that second EST server (by ca2-root)
#   ra2.crt/.key            registrar's client cert towards it (by ca2-root)
#   csr-p256.der/.key       CSR with device.crt's Subject
#   csr-rsa3072.der/.key    CSR (RSA-3072), device.crt's Subject
#   csr-p256-2.der/.key     CSR, device.crt's Subject, another key
#   csr-rsadev.der/.key     CSR (RSA-3072) with device-rsa.crt's Subject
#   device-expired.crt/.key IDevID by device-ca, expired in 2021
#   device-revoked.crt/.key IDevID by device-ca, revoked in device-ca.crl
#   device-ca.crl           PEM CRL of device-ca listing device-revoked
#   device-ca2.crt/.key     a second manufacturer CA, self-signed
#   device2.crt/.key        device IDevID by device-ca2
#   ldev.crt/.key           LDevID by est-ca, SAN DNS:ldev-0001.devices.example
#   csr-ldev*.der           CSRs (ldev.key) for sren: same names, other CN,
#                           other SAN, no SAN
#   csr-device.der          CSR (device.key) with device.crt's Subject
#   csr-p384.der, csr-p521.der, csr-rsa1024.der, csr-ed25519.der (+ .key)
#                           CSRs for the key policy (device.crt's Subject)
#   pki.cnf                 the openssl config (extension profiles) used

set -eu

# Bump when the set of files or their profiles change, so old DIRs are redone.
STAMP_VERSION=6
DAYS=365
VERBOSE=0

usage() {
	echo "usage: ${0##*/} [-v] DIR" >&2
	exit 2
}

while getopts v opt; do
	case $opt in
	v)	VERBOSE=1 ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || usage
DIR=$1
STAMP=$DIR/.mkpki-stamp

# Every file a complete DIR must hold; the stamp alone is not trusted.
FILES="root-ca.crt root-ca.key est-ca.crt est-ca.key root-next.crt
root-next.key cacerts.pem upstream.crt upstream.key upstream-chain.pem
ra.crt ra.key dtls.crt dtls.key dtls-chain.pem device-ca.crt device-ca.key
device.crt device.key device-rsa.crt device-rsa.key rogue-ca.crt rogue-ca.key
device-rogue.crt device-rogue.key upstream-rogue.crt upstream-rogue.key
upstream-wronghost.crt upstream-wronghost.key
ca2-root.crt ca2-root.key upstream2.crt upstream2.key ra2.crt ra2.key
csr-p256.der csr-p256.key csr-rsa3072.der csr-rsa3072.key csr-p256-2.der
csr-p256-2.key device-expired.crt device-expired.key device-revoked.crt
device-revoked.key device-ca.crl device-ca2.crt device-ca2.key device2.crt
device2.key ldev.crt ldev.key csr-ldev.der csr-ldev-othercn.der
csr-ldev-othersan.der csr-ldev-nosan.der csr-device.der csr-p384.der
csr-p521.der csr-rsa1024.der csr-ed25519.der csr-rsadev.der"

complete() {
	local f

	[ -f "$STAMP" ] || return 1
	[ "$(cat "$STAMP")" = "$STAMP_VERSION" ] || return 1
	for f in $FILES; do
		[ -s "$DIR/$f" ] || return 1
	done
	return 0
}

if complete; then
	[ "$VERBOSE" -eq 1 ] && echo "mkpki: $DIR is complete, nothing to do"
	exit 0
fi

mkdir -p "$DIR"
rm -f "$STAMP"
LOG=$DIR/.mkpki.log
: >"$LOG"

say() {
	if [ "$VERBOSE" -eq 1 ]; then
		echo "mkpki: $*"
	fi
	return 0
}

# Run openssl quietly; on failure show what it said and stop.
ossl() {
	if [ "$VERBOSE" -eq 1 ]; then
		echo "+ openssl $*" >&2
	fi
	if ! openssl "$@" >>"$LOG" 2>&1; then
		echo "mkpki: openssl $1 failed:" >&2
		cat "$LOG" >&2
		exit 1
	fi
}

# The extension profiles.  [req] only serves `openssl req`; -subj gives the
# names, so the dn section stays empty.
cat >"$DIR/pki.cnf" <<'EOF'
[ req ]
distinguished_name	= req_dn
prompt			= no
string_mask		= utf8only
utf8			= yes

[ req_dn ]
CN			= unused

[ v3_root ]
basicConstraints	= critical, CA:true
keyUsage		= critical, keyCertSign, cRLSign
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid:always

[ v3_intermediate ]
basicConstraints	= critical, CA:true, pathlen:0
keyUsage		= critical, keyCertSign, cRLSign
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid:always

[ v3_tls_server ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= serverAuth
subjectAltName		= DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid

[ v3_tls_wronghost ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= serverAuth
subjectAltName		= DNS:wrong.example
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid

[ v3_ra ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
# 1.3.6.1.5.5.7.3.28 is id-kp-cmcRA (RFC 6402), which RFC 7030 3.7 uses
# to mark a registration authority.
extendedKeyUsage	= clientAuth, 1.3.6.1.5.5.7.3.28
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid

[ v3_dtls ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= serverAuth, clientAuth, 1.3.6.1.5.5.7.3.28
subjectAltName		= DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid

[ v3_device ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= clientAuth
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid

[ v3_ldev ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= clientAuth
subjectAltName		= DNS:ldev-0001.devices.example
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid
EOF
CNF=$DIR/pki.cnf

# newkey NAME [rsa BITS | ec CURVE | ed25519]: a fresh private key in
# NAME.key, mode 0600.
newkey() {
	local key=$DIR/$1.key

	rm -f "$key"
	if [ $# -ge 3 ] && [ "$2" = ec ]; then
		(umask 077; ossl genpkey -algorithm EC \
		    -pkeyopt "ec_paramgen_curve:$3" \
		    -pkeyopt ec_param_enc:named_curve -out "$key")
	elif [ $# -ge 2 ] && [ "$2" = ed25519 ]; then
		(umask 077; ossl genpkey -algorithm ED25519 -out "$key")
	elif [ $# -ge 3 ] && [ "$2" = rsa ]; then
		(umask 077; ossl genpkey -algorithm RSA \
		    -pkeyopt "rsa_keygen_bits:$3" -out "$key")
	else
		(umask 077; ossl genpkey -algorithm EC \
		    -pkeyopt ec_paramgen_curve:P-256 \
		    -pkeyopt ec_param_enc:named_curve -out "$key")
	fi
	chmod 600 "$key"
}

# selfsigned NAME SUBJECT: a self-signed root CA NAME.crt.
selfsigned() {
	say "$1: self-signed CA $2"
	newkey "$1"
	ossl req -new -x509 -config "$CNF" -extensions v3_root \
	    -key "$DIR/$1.key" -subj "$2" -days "$DAYS" -sha256 \
	    -out "$DIR/$1.crt"
}

# issue NAME SUBJECT ISSUER PROFILE [rsa BITS]: key, CSR and NAME.crt
# signed by ISSUER with the extensions of PROFILE.
issue() {
	local name=$1 subj=$2 ca=$3 profile=$4

	shift 4
	say "$name: $subj by $ca ($profile)"
	newkey "$name" "$@"
	ossl req -new -config "$CNF" -key "$DIR/$name.key" -subj "$subj" \
	    -out "$DIR/$name.csr.pem"
	ossl x509 -req -in "$DIR/$name.csr.pem" -sha256 -days "$DAYS" \
	    -CA "$DIR/$ca.crt" -CAkey "$DIR/$ca.key" \
	    -CAserial "$DIR/$ca.srl" -CAcreateserial \
	    -extfile "$CNF" -extensions "$profile" -out "$DIR/$name.crt"
	rm -f "$DIR/$name.csr.pem"
}

# csr NAME SUBJECT [rsa BITS | ec CURVE | ed25519]: a new key and a DER
# CSR in NAME.der.
csr() {
	local name=$1 subj=$2 md=-sha256

	shift 2
	say "$name: CSR $subj"
	newkey "$name" "$@"
	if [ "${1:-}" = ed25519 ]; then
		md=
	fi
	ossl req -new -config "$CNF" -key "$DIR/$name.key" -subj "$subj" \
	    $md -outform DER -out "$DIR/$name.der"
}

# csr_with KEYNAME OUT SUBJECT [req args]: a DER CSR for an existing key.
csr_with() {
	local key=$1 out=$2 subj=$3

	shift 3
	say "$out: CSR $subj ($key.key)"
	ossl req -new -config "$CNF" -key "$DIR/$key.key" -subj "$subj" \
	    -sha256 -outform DER -out "$DIR/$out.der" "$@"
}

# ca_issue NAME SUBJECT [openssl ca args]: a device cert by device-ca made
# with openssl ca (its database can revoke and set dates).
ca_issue() {
	local name=$1 subj=$2

	shift 2
	say "$name: $subj by device-ca (openssl ca $*)"
	newkey "$name"
	ossl req -new -config "$CNF" -key "$DIR/$name.key" -subj "$subj" \
	    -out "$DIR/$name.csr.pem"
	ossl ca -batch -config "$DIR/ca-dev.cnf" -name ca_dev -preserveDN \
	    -extfile "$CNF" -extensions v3_device -in "$DIR/$name.csr.pem" \
	    -out "$DIR/$name.crt" -notext "$@"
	rm -f "$DIR/$name.csr.pem"
}

# The EST CA hierarchy and its rollover root.
selfsigned root-ca "/O=estcoapd test/CN=estcoapd test root CA"
issue est-ca "/O=estcoapd test/CN=estcoapd test EST CA" root-ca v3_intermediate
selfsigned root-next "/O=estcoapd test/CN=estcoapd test root CA next"
cat "$DIR/root-ca.crt" "$DIR/est-ca.crt" "$DIR/root-next.crt" \
    >"$DIR/cacerts.pem"

# The test EST server and the registrar's two identities.
issue upstream "/O=estcoapd test/CN=localhost" est-ca v3_tls_server
cat "$DIR/upstream.crt" "$DIR/est-ca.crt" >"$DIR/upstream-chain.pem"
issue ra "/O=estcoapd test/CN=estcoapd-ra" est-ca v3_ra
issue dtls "/O=estcoapd test/CN=localhost" est-ca v3_dtls
cat "$DIR/est-ca.crt" >"$DIR/dtls-chain.pem"

# A second CA operator: its EST server and our identity towards it.
selfsigned ca2-root "/O=estcoapd test two/CN=estcoapd test second root CA"
issue upstream2 "/O=estcoapd test two/CN=localhost" ca2-root v3_tls_server
issue ra2 "/O=estcoapd test two/CN=estcoapd-ra2" ca2-root v3_ra

# The manufacturer and its devices.
selfsigned device-ca "/O=Example Manufacturer/CN=Example Manufacturer IDevID CA"
issue device "/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001" \
    device-ca v3_device
issue device-rsa \
    "/O=Example Manufacturer/serialNumber=SN-RSA-0001/CN=device-rsa-0001" \
    device-ca v3_device rsa 2048

# openssl ca for the manufacturer: an expired and a revoked IDevID, a CRL.
rm -rf "$DIR/device-ca.db"
mkdir -p "$DIR/device-ca.db"
: >"$DIR/device-ca.db/index.txt"
echo 1000 >"$DIR/device-ca.db/serial"
echo 01 >"$DIR/device-ca.db/crlnumber"
cat >"$DIR/ca-dev.cnf" <<CACNF
[ ca_dev ]
dir		= $DIR/device-ca.db
database	= \$dir/index.txt
new_certs_dir	= \$dir
serial		= \$dir/serial
crlnumber	= \$dir/crlnumber
certificate	= $DIR/device-ca.crt
private_key	= $DIR/device-ca.key
default_md	= sha256
default_days	= $DAYS
default_crl_days = $DAYS
policy		= policy_any
unique_subject	= no
copy_extensions	= none

[ policy_any ]
commonName	= supplied
CACNF
ca_issue device-expired \
    "/O=Example Manufacturer/serialNumber=SN-EXP-0001/CN=device-expired-0001" \
    -startdate 20200101000000Z -enddate 20210101000000Z
ca_issue device-revoked \
    "/O=Example Manufacturer/serialNumber=SN-REV-0001/CN=device-revoked-0001"
ossl ca -batch -config "$DIR/ca-dev.cnf" -name ca_dev \
    -revoke "$DIR/device-revoked.crt" -crl_reason keyCompromise
ossl ca -batch -config "$DIR/ca-dev.cnf" -name ca_dev -gencrl \
    -out "$DIR/device-ca.crl"

# A second manufacturer.
selfsigned device-ca2 "/O=Second Manufacturer/CN=Second Manufacturer IDevID CA"
issue device2 "/O=Second Manufacturer/serialNumber=SN2-0001/CN=device2-0001" \
    device-ca2 v3_device

# An LDevID from our EST CA, and re-enrollment CSRs for it.
issue ldev "/O=estcoapd test/CN=ldev-0001" est-ca v3_ldev
san="subjectAltName=DNS:ldev-0001.devices.example"
csr_with ldev csr-ldev "/O=estcoapd test/CN=ldev-0001" -addext "$san"
csr_with ldev csr-ldev-othercn "/O=estcoapd test/CN=ldev-9999" -addext "$san"
csr_with ldev csr-ldev-othersan "/O=estcoapd test/CN=ldev-0001" \
    -addext "subjectAltName=DNS:other.devices.example"
csr_with ldev csr-ldev-nosan "/O=estcoapd test/CN=ldev-0001"
csr_with device csr-device \
    "/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001"

# Things nobody should trust.
selfsigned rogue-ca "/O=Rogue/CN=Rogue CA"
issue device-rogue "/O=Rogue/serialNumber=SN-6666/CN=device-rogue-0001" \
    rogue-ca v3_device
issue upstream-rogue "/O=Rogue/CN=localhost" rogue-ca v3_tls_server
# trusted CA, but named for another host
issue upstream-wronghost "/O=estcoapd test/CN=wrong.example" est-ca \
    v3_tls_wronghost

# CSRs a device would send: device.crt's Subject, each with its own key
# (auth.csr_identity "subject", the default, accepts no other name).
DEV_SUBJ="/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001"
csr csr-p256 "$DEV_SUBJ"
csr csr-rsa3072 "$DEV_SUBJ" rsa 3072
csr csr-p256-2 "$DEV_SUBJ"
csr csr-p384 "$DEV_SUBJ" ec P-384
csr csr-p521 "$DEV_SUBJ" ec P-521
csr csr-rsa1024 "$DEV_SUBJ" rsa 1024
csr csr-ed25519 "$DEV_SUBJ" ed25519
# ... and one of device-rsa.crt
csr csr-rsadev "/O=Example Manufacturer/serialNumber=SN-RSA-0001/CN=device-rsa-0001" \
    rsa 3072

chmod 600 "$DIR"/*.key

# Self-check: the chains the tests depend on.
ossl verify -CAfile "$DIR/device-ca.crt" "$DIR/device.crt" "$DIR/device-rsa.crt"
ossl verify -CAfile "$DIR/root-ca.crt" -untrusted "$DIR/est-ca.crt" \
    "$DIR/dtls.crt" "$DIR/upstream.crt" "$DIR/ra.crt"
ossl verify -CAfile "$DIR/rogue-ca.crt" "$DIR/device-rogue.crt" \
    "$DIR/upstream-rogue.crt"
ossl req -verify -noout -inform DER -in "$DIR/csr-p256.der"
ossl verify -CAfile "$DIR/root-ca.crt" -untrusted "$DIR/est-ca.crt" \
    "$DIR/ldev.crt"
ossl verify -CAfile "$DIR/device-ca2.crt" "$DIR/device2.crt"
if openssl verify -crl_check -CAfile "$DIR/device-ca.crt" \
    -CRLfile "$DIR/device-ca.crl" "$DIR/device-revoked.crt" >>"$LOG" 2>&1; then
	echo "mkpki: self-check: device-revoked.crt is not revoked" >&2
	exit 1
fi
if openssl verify -CAfile "$DIR/device-ca.crt" "$DIR/device-rogue.crt" \
    >>"$LOG" 2>&1; then
	echo "mkpki: self-check: device-rogue.crt verifies against" \
	    "device-ca.crt" >&2
	exit 1
fi

rm -f "$LOG"
echo "$STAMP_VERSION" >"$STAMP"
say "done: $DIR"
