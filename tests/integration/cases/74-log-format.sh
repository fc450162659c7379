#!/usr/bin/env bash
# The request line has one documented format (estcoapd(8) DIAGNOSTICS,
# written by make docs from src/reqline.c; README "Log lines" repeats
# it): the request lines of a real run, of every kind this case can
# provoke, must all match it, field for field, and name a documented
# reason. A device whose Subject holds a quote and a backslash must not
# break the line.
. "$(dirname "$0")/../lib.sh"

MAN=$TOP/man/estcoapd.8
README=$TOP/README.md

# the documented line: the literal line of the generated request-line block
fmt=$(sed -n '/^\.\\" BEGIN GENERATED request-line/,/^\.Ed/p' "$MAN" |
    sed -n '/^\.Bd -literal/{n;p;}')
[ -n "$fmt" ] || fail "no request-line format in estcoapd(8)"
grep -qxF "    $fmt" "$README" ||
    fail "README does not show the format of estcoapd(8): $fmt"
ok "estcoapd(8) and the README document the same format"
# the documented reasons: the items of the generated reasons list
reasons=$(sed -n '/^\.\\" BEGIN GENERATED reasons/,/^\.\\" END GENERATED reasons/p' \
    "$MAN" | sed -n 's/^\.It \([a-z0-9-]*\)$/\1/p' | paste -sd'|')
[ -n "$reasons" ] || fail "no reasons in estcoapd(8)"

# one extended regular expression for a placeholder of the format
value_re() {
	case $1 in
	N) echo '[0-9]+' ;;
	PEER) echo '(-|[0-9.]+:[0-9]+|\[[0-9a-fA-F:.]+\]:[0-9]+)' ;;
	'"SUBJECT"') echo '"([^"\\]|\\["\\])*"' ;;
	OP) echo '(crts|sen|sren|att|skg|skc|core|/[!-~]*)' ;;
	LABEL) echo '[A-Za-z0-9_.-]+' ;;
	CODE) echo '[0-9]\.[0-9][0-9]' ;;
	REASON) echo "($reasons)" ;;
	-) echo '-' ;;
	*) fail "the format names an unknown value syntax: $1" ;;
	esac
}

# the format as one anchored regular expression, field by field
re='^'
sep=''
for field in $fmt; do
	key=${field%%=*}
	alts=''
	IFS='|' read -ra vs <<<"${field#*=}"
	for v in "${vs[@]}"; do
		alts="$alts${alts:+|}$(value_re "$v")"
	done
	re="$re$sep$key=($alts)"
	sep=' '
done
re="$re\$"
# the foreground prefix: TIME estcoapd info: [worker I: ]
prefix='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z estcoapd info: (worker [0-9]+: )?'

# a device whose Subject has a quote, a backslash and " op=" in it
openssl ecparam -name prime256v1 -genkey -noout -out "$T/q.key" 2>/dev/null
openssl req -new -key "$T/q.key" -subj '/O=Quote"Corp\\Inc op=sen/CN=dev-q' \
    -out "$T/q.csr" 2>/dev/null
openssl x509 -req -in "$T/q.csr" -CA "$PKI/device-ca.crt" \
    -CAkey "$PKI/device-ca.key" -CAcreateserial -CAserial "$T/q.srl" \
    -days 2 -out "$T/q.crt" 2>/dev/null || fail "cannot make the odd device"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "labels": [ "factory" ] }'
start_daemon

probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts (cached)"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "sen"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "the same sen again (repeat)"
probe -m put -u /.well-known/est/crts
expect_pcode 4.05 "PUT crts"
probe -m get -u '/.well-known/est/no pe"x=1'
expect_pcode 4.04 "an unknown path with a space, a quote and ="
probe -m get -u /.well-known/est/factory/crts -w 20
expect_pcode 2.05 "crts of a label"
probe -m get -u /.well-known/core
expect_pcode 2.05 "discovery"
upstream_mode up "status=503"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" -w 20
expect_pcode 5.03 "sen while the CA answers 503"
upstream_mode up
DEV_CERT=$T/q.crt DEV_KEY=$T/q.key probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "crts by the device with the odd Subject"
stop_daemon

lines=$(grep -E "${prefix}req=[0-9]+ peer=" "$T/daemon.log" || true)
n=$(printf '%s\n' "$lines" | grep -c . || true)
[ "$n" -ge 9 ] || fail "only $n request lines in the log"
bad=$(printf '%s\n' "$lines" | sed -E "s/$prefix//" | grep -Ev "$re" || true)
[ -z "$bad" ] || fail "request lines not in the documented format:
$bad
format: $re"
ok "all $n request lines match the documented format"
for r in cached ok repeat bad-request unknown-path discovery upstream-status; do
	printf '%s\n' "$lines" | grep -q " reason=$r\$" ||
	    fail "no request line with reason=$r"
done
printf '%s\n' "$lines" | grep -qF 'dev="/O=Quote\"Corp\\Inc op=sen/CN=dev-q" op=crts ' ||
    fail "the odd Subject is not quoted as documented: $(grep dev-q "$T/daemon.log")"
ok "a quote and a backslash in a Subject are escaped inside its quotes"
done_case
