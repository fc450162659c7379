#!/bin/bash
# mkdevs.sh: mint the simulated devices of `make bench` with openssl(1).
#
# usage: scripts/bench/mkdevs.sh DIR COUNT [p256|rsa2048|rsa3072]
#
# DIR gets a manufacturer CA (dev-ca.crt/.key) and COUNT devices: an
# IDevID dev-NNNNN.crt/.key (P-256, clientAuth, signed by dev-ca) and a
# pre-made CSR csr-NNNNN.der (its own key of the given type, default
# p256; the IDevID's Subject, so that sren passes the RFC 7030 4.2.2
# identity check) for each, NNNNN from 00000.  estcoap-bench -D
# reads this layout.  A DIR that already holds COUNT devices of that type
# is left as it is (the stamp file says what it holds), so the set is
# minted once and cached under build/bench/.
set -eu

[ $# -ge 2 ] || { echo "usage: ${0##*/} DIR COUNT [p256|rsa2048|rsa3072]" >&2; exit 2; }
DIR=$1 COUNT=$2 TYPE=${3:-p256}
case $TYPE in
p256)	CSRKEY="-newkey ec -pkeyopt ec_paramgen_curve:P-256" ;;
rsa2048) CSRKEY="-newkey rsa:2048" ;;
rsa3072) CSRKEY="-newkey rsa:3072" ;;
*)	echo "mkdevs: unknown key type $TYPE" >&2; exit 2 ;;
esac
case $COUNT in ''|*[!0-9]*) echo "mkdevs: COUNT must be a number" >&2; exit 2 ;; esac
[ "$COUNT" -le 99999 ] || { echo "mkdevs: at most 99999 devices" >&2; exit 2; }
STAMP=$DIR/.mkdevs-stamp
want="2 $COUNT $TYPE"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
    [ -s "$DIR/csr-$(printf %05d $((COUNT - 1))).der" ]; then
	exit 0
fi
mkdir -p "$DIR"
rm -f "$STAMP" "$DIR"/dev-[0-9]* "$DIR"/csr-[0-9]*
cat >"$DIR/dev.cnf" <<'CNF'
[ req ]
distinguished_name	= req_dn
prompt			= no
[ req_dn ]
CN			= unused
[ v3_root ]
basicConstraints	= critical, CA:true
keyUsage		= critical, keyCertSign, cRLSign
subjectKeyIdentifier	= hash
[ v3_device ]
basicConstraints	= critical, CA:false
keyUsage		= critical, digitalSignature
extendedKeyUsage	= clientAuth
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid
CNF
(umask 077; openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -nodes -keyout "$DIR/dev-ca.key" -config "$DIR/dev.cnf" -extensions v3_root \
    -subj "/O=estcoapd bench/CN=bench manufacturer CA" -days 365 \
    -out "$DIR/dev-ca.crt" 2>/dev/null)

# one device: IDevID key + cert, then the CSR with its own key
mint() {
	local n f
	n=$(printf %05d "$1")
	f=$DIR/dev-$n
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$f.key" -config "$DIR/dev.cnf" \
	    -subj "/O=estcoapd bench/serialNumber=SN-$n/CN=bench-dev-$n" \
	    -out "$f.csr.pem" 2>/dev/null
	openssl x509 -req -in "$f.csr.pem" -CA "$DIR/dev-ca.crt" \
	    -CAkey "$DIR/dev-ca.key" -set_serial "$((10#$n + 1000))" -days 365 \
	    -sha256 -extfile "$DIR/dev.cnf" -extensions v3_device \
	    -out "$f.crt" 2>/dev/null
	rm -f "$f.csr.pem"
	# shellcheck disable=SC2086
	openssl req -new $CSRKEY -nodes -keyout "$DIR/csr-$n.key" \
	    -config "$DIR/dev.cnf" \
	    -subj "/O=estcoapd bench/serialNumber=SN-$n/CN=bench-dev-$n" -sha256 \
	    -outform DER -out "$DIR/csr-$n.der" 2>/dev/null
	[ -s "$f.crt" ] && [ -s "$DIR/csr-$n.der" ] ||
	    { echo "mkdevs: device $n failed" >&2; return 1; }
}
export -f mint
export DIR CSRKEY
umask 077
seq 0 $((COUNT - 1)) | xargs -P "$(nproc 2>/dev/null || echo 2)" -n 1 \
    bash -c 'mint "$0"'
chmod 600 "$DIR"/*.key
openssl verify -CAfile "$DIR/dev-ca.crt" "$DIR/dev-00000.crt" >/dev/null
echo "$want" >"$STAMP"
