#!/usr/bin/env bash
# Make the seed corpora of the fuzz targets answer and csr with openssl(1)
# from a test PKI (scripts/mkpki.sh DIR): realistic upstream answers and
# CSRs. The seeds are committed; run this again only when the input
# layout of fuzz_answer.c or fuzz_csr.c changes, then commit the result.
#
# usage: tests/fuzz/mkseeds.sh PKI-DIR
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1/est-ca.key" ] || {
	echo "usage: ${0##*/} PKI-DIR (made by scripts/mkpki.sh)" >&2
	exit 2
}
pki=$(cd "$1" && pwd)
cd "$(dirname "$0")"
ans=corpus/answer
csr=corpus/csr
mkdir -p "$ans" "$csr"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The CSR public key of fuzz_answer.c (fz_csr_pub).
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/{s/^ *"//;s/\\n"[;]*$//;p}' \
    fuzz_answer.c >"$tmp/csr.pub"

# --- answer: 5 header bytes, Content-Type line, body (see fuzz_answer.c)

# hdr OP ACCEPT FLAGS STATUS: the 5 header bytes
hdr() {
	printf "\\x$(printf %02x "$1")\\x$(printf %02x "$2")"
	printf "\\x$(printf %02x "$3")\\x$(printf %02x $(($4 >> 8)))"
	printf "\\x$(printf %02x $(($4 & 255)))"
}
# seed NAME OP ACCEPT FLAGS STATUS CTYPE BODY-FILE
seed() {
	{ hdr "$2" "$3" "$4" "$5"; printf '%s\n' "$6"; cat "$7"; } \
	    >"$ans/$1"
}
p7() {	# PKCS#7 certs-only DER of the PEM files given
	local a=()
	for f in "$@"; do a+=(-certfile "$f"); done
	openssl crl2pkcs7 -nocrl "${a[@]}" -outform DER
}
b64w() { base64 -w 64; }		# wrapped, LF
b64u() { base64 -w 0; echo; }		# one line
b64crlf() { base64 -w 76 | sed 's/$/\r/'; }

# the issued certificate for the CSR key, and one for another key
openssl x509 -new -subj "/O=estcoapd test/CN=device-0001" \
    -force_pubkey "$tmp/csr.pub" -CA "$pki/est-ca.crt" \
    -CAkey "$pki/est-ca.key" -days 365 -out "$tmp/issued.pem" 2>/dev/null
p7 "$pki/cacerts.pem" >"$tmp/cacerts.p7"
p7 "$pki/root-ca.crt" >"$tmp/root.p7"
p7 "$tmp/issued.pem" "$pki/est-ca.crt" >"$tmp/issued.p7"
p7 "$tmp/issued.pem" >"$tmp/issued1.p7"
p7 "$pki/ldev.crt" >"$tmp/other.p7"
: >"$tmp/empty"
P7='application/pkcs7-mime; smime-type=certs-only'

b64w <"$tmp/cacerts.p7" >"$tmp/b"; seed crts-281 0 0 0 200 "$P7" "$tmp/b"
b64u <"$tmp/root.p7" >"$tmp/b"; seed crts-287-one 0 2 0 200 \
    'application/pkcs7-mime' "$tmp/b"
b64crlf <"$tmp/cacerts.p7" >"$tmp/b"; seed crts-287-several 0 2 0 200 \
    "$P7" "$tmp/b"
b64w <"$tmp/issued.p7" >"$tmp/b"; seed sen-281 1 1 8 200 "$P7" "$tmp/b"
seed sen-287-keyed 1 2 8 200 "$P7" "$tmp/b"
b64u <"$tmp/issued1.p7" >"$tmp/b"; seed sen-287-one 1 2 0 200 "$P7" "$tmp/b"
b64w <"$tmp/other.p7" >"$tmp/b"; seed sren-287-nomatch 2 2 8 200 "$P7" \
    "$tmp/b"
seed sen-202-retry 1 0 16 202 '' "$tmp/empty"
seed sen-503 1 0 0 503 'text/plain' "$tmp/empty"
printf 'CSR rejected: subject not allowed\r\nsecond line\r\n' >"$tmp/b"
seed sen-400-text 1 0 0 400 'text/plain; charset=utf-8' "$tmp/b"
printf '<html>forbidden</html>' >"$tmp/b"
seed sren-403-html 2 0 0 403 'text/html' "$tmp/b"
seed sen-401 1 0 0 401 '' "$tmp/empty"
seed sen-429 1 0 16 429 '' "$tmp/empty"
seed sen-timeout 1 0 1 0 '' "$tmp/empty"
seed sen-failed 1 0 2 0 '' "$tmp/empty"
b64w <"$tmp/issued.p7" >"$tmp/b"; seed sen-wrong-type 1 0 0 200 \
    'application/pkcs10' "$tmp/b"
# CsrAttrs: as DER base64, NUL-terminated (some servers), CRLF-wrapped
{ b64u <corpus/der/csrattrs.der; printf '\0'; } >"$tmp/b"
seed att-nul 3 0 0 200 'application/csrattrs' "$tmp/b"
b64crlf <corpus/der/csrattrs.der >"$tmp/b"; seed att-crlf 3 1 0 200 \
    'application/csrattrs' "$tmp/b"
seed att-204-empty 3 0 4 204 '' "$tmp/empty"
seed att-204 3 0 0 204 '' "$tmp/empty"
seed att-404 3 0 0 404 'text/plain' "$tmp/empty"

# serverkeygen: multipart/mixed with a key part and a certs-only part
# mp FILE BOUNDARY EOL KEY-CTYPE KEY-FILE [reverse]: the body
mp() {
	local out=$1 bd=$2 e=$3 kct=$4 kf=$5 rev=${6:-}
	{
		printf 'preamble, ignored%s' "$e"
		if [ -n "$rev" ]; then
			printf -- '--%s%sContent-Type: %s%s%s' "$bd" "$e" \
			    "$P7" "$e" "$e"
			b64w <"$tmp/issued1.p7" | sed "s/\$/${e%$'\n'}/"
		fi
		printf -- '--%s%sContent-Type: %s%s' "$bd" "$e" "$kct" "$e"
		printf 'Content-Transfer-Encoding: base64%s%s' "$e" "$e"
		sed "s/\$/${e%$'\n'}/" "$kf"
		if [ -z "$rev" ]; then
			printf -- '--%s%sContent-Type: %s%s%s' "$bd" "$e" \
			    "$P7" "$e" "$e"
			b64w <"$tmp/issued1.p7" | sed "s/\$/${e%$'\n'}/"
		fi
		printf -- '--%s--%sepilogue%s' "$bd" "$e" "$e"
	} >"$out"
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/ec.pem" 2>/dev/null
openssl pkey -in "$tmp/ec.pem" -outform DER | b64w >"$tmp/k-p8"
openssl ec -in "$tmp/ec.pem" -outform DER 2>/dev/null | b64w >"$tmp/k-sec1"
openssl ec -in "$tmp/ec.pem" 2>/dev/null >"$tmp/k-sec1pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 \
    -out "$tmp/rsa.pem" 2>/dev/null
openssl rsa -in "$tmp/rsa.pem" -traditional -outform DER 2>/dev/null |
    b64u >"$tmp/k-pkcs1"
openssl genpkey -algorithm ED25519 -outform DER 2>/dev/null | b64w \
    >"$tmp/k-ed"
# a CMS-protected key (280): EnvelopedData to the issued certificate
openssl cms -encrypt -in "$tmp/ec.pem" -outform DER -aes128 \
    "$tmp/issued.pem" 2>/dev/null | b64w >"$tmp/k-cms"
KP8=application/pkcs8
SGK='application/pkcs7-mime; smime-type=server-generated-key'
MPQ='multipart/mixed; boundary="est-boundary"'
mp "$tmp/b" est-boundary $'\r\n' "$KP8" "$tmp/k-p8"
seed skg-pkcs8-crlf 4 0 0 200 "$MPQ" "$tmp/b"
seed skc-pkcs8-crlf 5 1 0 200 "$MPQ" "$tmp/b"
mp "$tmp/b" b0 $'\n' "$KP8" "$tmp/k-sec1"
seed skg-sec1-lf 4 0 0 200 'multipart/mixed;boundary=b0' "$tmp/b"
mp "$tmp/b" 'x y:z' $'\r\n' "$KP8" "$tmp/k-sec1pem" reverse
seed skc-sec1pem-reverse 5 0 0 200 'Multipart/Mixed; charset=x; boundary="x y:z"' "$tmp/b"
mp "$tmp/b" est $'\n' "$KP8" "$tmp/k-pkcs1"
seed skg-pkcs1-unwrapped 4 0 0 200 'multipart/mixed; boundary=est' "$tmp/b"
mp "$tmp/b" est $'\r\n' "$KP8" "$tmp/k-ed"
seed skc-ed25519 5 0 64 200 'multipart/mixed; boundary=est' "$tmp/b"
mp "$tmp/b" est $'\r\n' "$SGK" "$tmp/k-cms"
seed skg-cms-280 4 0 0 200 'multipart/mixed; boundary=est' "$tmp/b"
seed skg-wrong-type 4 0 0 200 "$P7" "$tmp/b"
seed skg-503 4 0 16 503 '' "$tmp/empty"

# --- csr: 3 header bytes (device, policy, op|keycheck|tls-unique), DER

DEV='/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001'
ALLSAN='DNS:device-0001.devices.example,DNS:*.wild.example,IP:192.0.2.7,IP:2001:db8::7,URI:urn:dev:sn:SN-0001,email:Dev@Devices.Example,otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0001'
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/p256" 2>/dev/null
# mkcsr OUT SUBJECT SAN PASSWORD CSN [KEY]: a DER CSR ("" for none)
mkcsr() {
	local k=${6:-$tmp/p256}
	{
		echo "oid_section = oids"
		echo "[oids]"
		echo "changeSubjectName = 1.3.6.1.5.5.7.7.36"
		echo "[req]"
		echo "prompt = no"
		echo "distinguished_name = dn"
		echo "attributes = attrs"
		echo "[dn]"
		# "/A=b/C=d+E=f": one line per attribute, "+" joins the RDN
		printf '%s\n' "${2#/}" | tr '/' '\n' | sed 's/+/\n+/g; s/=/ = /'
		echo "[attrs]"
		[ -z "$4" ] || echo "challengePassword = $4"
		[ -z "$5" ] || echo "changeSubjectName = $5"
	} >"$tmp/req.cnf"
	local a=()
	[ -z "$3" ] || a+=(-addext "subjectAltName=$3")
	# (not -subj: with it openssl req leaves the attributes out)
	openssl req -new -config "$tmp/req.cnf" -key "$k" -utf8 \
	    "${a[@]}" -outform DER -out "$1" 2>/dev/null
}
# cseed NAME DEV POL OPBYTE CSR-FILE; OPBYTE: op | 8 keycheck | 16*tlsu
cseed() {
	{ printf "\\x$(printf %02x "$2")\\x$(printf %02x "$3")"
	  printf "\\x$(printf %02x "$4")"; cat "$5"; } >"$csr/$1"
}
SEN=1 SREN=2 SKG=4 SKC=5 KC=8 TLSU=16
mkcsr "$tmp/c" "$DEV" "" "" ""
cseed sen-same-subject 0 0 $((SEN | KC)) "$tmp/c"
cseed sren-no-san 1 0 $((SREN | KC)) "$tmp/c"
mkcsr "$tmp/c" "$DEV" "$ALLSAN" "" ""
cseed sen-all-sans 0 0 $((SEN | KC)) "$tmp/c"
cseed skg-all-sans-none 0 1 $SKG "$tmp/c"
cseed sren-all-sans 0 0 $((SREN | KC)) "$tmp/c"
mkcsr "$tmp/c" "$DEV" "DNS:*.wild.example,email:Dev@devices.example" "" ""
cseed skc-wildcard-own 0 0 $SKC "$tmp/c"
mkcsr "$tmp/c" "$DEV" "DNS:*.devices.example" "" ""
cseed sen-wildcard-other 0 0 $SEN "$tmp/c"
mkcsr "$tmp/c" "$DEV" "email:dev@Devices.Example,URI:urn:dev:sn:SN-0002" \
    "" ""
cseed sen-email-local-case 0 0 $SEN "$tmp/c"
mkcsr "$tmp/c" "$DEV" "otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0002,IP:2001:db8::8" "" ""
cseed sen-othername-ip6 0 3 $SEN "$tmp/c"
mkcsr "$tmp/c" '/O=estcoapd test/CN=ldev-0001' \
    'DNS:ldev-0001.devices.example' "" ""
cseed sen-other-subject 0 0 $((SEN | KC)) "$tmp/c"
cseed sren-ldev 2 0 $((SREN | KC)) "$tmp/c"
cseed sen-any 0 7 $SEN "$tmp/c"
mkcsr "$tmp/c" '/CN=registrar.example' \
    'DNS:est.example.net,DNS:*.devices.example' "" ""
cseed sen-registrar 0 0 $SEN "$tmp/c"
mkcsr "$tmp/c" '/O=estcoapd test/CN=device-0001' \
    'DNS:device-0001.devices.example,IP:192.0.2.7,URI:urn:dev:sn:SN-0001,email:device-0001@devices.example' "" ""
cseed skg-template 0 5 $SKG "$tmp/c"
mkcsr "$tmp/c" '/serialNumber=SN-0001/CN=anything' "DNS:*.wild.example" "" ""
cseed sen-attribute 0 3 $SEN "$tmp/c"
mkcsr "$tmp/c" '/O=Example Manufacturer/CN=device-0002+serialNumber=SN-0002' \
    'IP:198.51.100.2' "" ""
cseed sen-multirdn 3 0 $SEN "$tmp/c"
mkcsr "$tmp/c" "$DEV" "" ZXN0Y29hcGQtZnoh ""
cseed sen-pop 0 8 $((SEN | KC | TLSU)) "$tmp/c"
cseed sen-pop-other-session 0 8 $((SEN | 2 * TLSU)) "$tmp/c"
cseed sen-pop-ifpresent 1 9 $((SEN | TLSU)) "$tmp/c"
mkcsr "$tmp/c" "$DEV" "" AAAAAAAAAAAAAAAA ""
cseed sen-pop-wrong 0 8 $((SEN | TLSU)) "$tmp/c"
mkcsr "$tmp/c" '/O=estcoapd test/CN=ldev-0001' \
    'DNS:ldev-0001.devices.example' ZXN0Y29hcGQtZnoh other
cseed sren-csn 2 9 $((SREN | TLSU)) "$tmp/c"
cseed sen-csn 2 0 $SEN "$tmp/c"
cseed sen-nodevice 4 0 $SEN "$tmp/c"
for k in csr-rsa1024 csr-p384 csr-p521 csr-ed25519 csr-rsa3072; do
	cseed "key-${k#csr-}" 0 10 $((SEN | KC)) "$pki/$k.der"
	cseed "key-${k#csr-}-default" 0 0 $((SEN | KC)) "$pki/$k.der"
done
# the same checks on CSRs made inside the target from names (bit 6)
# nseed NAME DEV POL OPBYTE LINES: LINES as printf %b reads them
nseed() {
	{ printf "\\x$(printf %02x "$2")\\x$(printf %02x "$3")"
	  printf "\\x$(printf %02x $(($4 | 64)))"; printf '%b' "$5"; } \
	    >"$csr/$1"
}
NDEV='SO=Example Manufacturer\nSserialNumber=SN-0001\nSCN=device-0001\n'
nseed names-all-sans 0 0 $((SEN | KC)) "${NDEV}Ddevice-0001.devices.example\nD*.wild.example\nI\\xc0\\x00\\x02\\x07\nUurn:dev:sn:SN-0001\nEDev@Devices.Example\nOhwsn-0001\n"
nseed names-case 0 0 $SKG "${NDEV}D*.WILD.Example\nEDev@devices.EXAMPLE\n"
nseed names-wild-other 0 0 $SKC "${NDEV}D*.devices.example\n"
nseed names-nul 0 0 $SEN "${NDEV}Ddevice-0001.devices.example\\x00.evil\n"
nseed names-two-sans 0 0 $SEN "${NDEV}Ddevice-0001.devices.example\nX\nD*.wild.example\n"
nseed names-ip-5 0 0 $SEN "${NDEV}I\\xc0\\x00\\x02\\x07\\x00\n"
nseed names-template 0 5 $SKG "SO=estcoapd test\nSCN=device-0001\nDDEVICE-0001.devices.example\nEdevice-0001@Devices.Example\nUurn:dev:sn:SN-0001\nI\\xc0\\x00\\x02\\x07\n"
nseed names-attribute 0 3 $SEN "SCN=other\nSserialNumber=SN-0001\nSserialNumber=SN-0001\n"
nseed names-multirdn 3 0 $SEN "SO=Example Manufacturer\nSCN=device-0002\nMserialNumber=SN-0002\nI\\xc6\\x33\\x64\\x02\n"
nseed names-pop 0 8 $((SEN | KC | TLSU)) "${NDEV}PZXN0Y29hcGQtZnoh\n"
nseed names-csn 2 9 $((SREN | TLSU)) "SO=estcoapd test\nSCN=ldev-0001\nDldev-0001.devices.example\nCother\nPZXN0Y29hcGQtZnoh\n"
echo "seeds: $(ls "$ans" | wc -l) answer, $(ls "$csr" | wc -l) csr"
