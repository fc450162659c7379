#!/usr/bin/env bash
# Files the daemon trusts (README, "Who is trusted"): a key, certificate, trust
# anchor, CRL or the configuration itself that its group or every user may
# write, that lies in a directory others may write, or that another
# non-root user owns, is refused by -t, at start and on a reload, naming
# the file and the chmod or chown that fixes it. Files owned by root, by
# the user running the daemon or by service.user are fine.
. "$(dirname "$0")/../lib.sh"

D=$BUILD/estcoapd
start_upstream up
mkdir "$T/f"
for f in dtls.crt ra.crt device-ca.crl root-ca.crt device-ca.crt est-ca.crt; do
	cp "$PKI/$f" "$T/f/$f"
	chmod 644 "$T/f/$f"
done
mkdir "$T/f/anchors"
cp "$PKI/device-ca.crt" "$PKI/root-ca.crt" "$PKI/est-ca.crt" "$T/f/anchors/"
chmod 755 "$T/f" "$T/f/anchors"
write_config "https://127.0.0.1:$UP_PORT_up" ',
	"auth": { "trust": [ "'"$T/f/anchors"'", "'"$T/f/root-ca.crt"'" ],
		  "crl": [ "'"$T/f/device-ca.crl"'" ] }'
sed -i -e "s|\"cert\": \"$PKI/dtls.crt\"|\"cert\": \"$T/f/dtls.crt\"|" \
    -e "s|\"client_cert\": \"$PKI/ra.crt\"|\"client_cert\": \"$T/f/ra.crt\"|" \
    "$T/estcoapd.json"
good=$T/estcoapd.json
"$D" -t -c "$good" >"$T/t.out" 2>&1 || fail "good config refused: $(cat "$T/t.out")"
ok "-t accepts the files as they are (0644, root or our user)"

# expect_refused WHAT PATTERN [config]: -t exits 1 printing PATTERN
expect_refused() {
	set +e
	"$D" -t -c "${3:-$good}" >"$T/t.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "$1: -t exit $rc, want 1 ($(cat "$T/t.out"))"
	grep -qF -- "$2" "$T/t.out" || fail "$1: want '$2', got: $(cat "$T/t.out")"
	ok "$1"
}

chmod 666 "$T/f/dtls.crt"
expect_refused "world-writable dtls.cert refused" \
    "dtls.cert: $T/f/dtls.crt: it is writable by every user (mode 0666); run \"chmod go-w $T/f/dtls.crt\""
chmod 644 "$T/f/dtls.crt"
chmod 664 "$T/f/ra.crt"
expect_refused "group-writable upstream.client_cert refused" \
    "upstream.client_cert: $T/f/ra.crt: it is writable by its group (mode 0664)"
chmod 644 "$T/f/ra.crt"
chmod 646 "$T/f/root-ca.crt"
expect_refused "world-writable trust anchor file refused" \
    "auth.trust: $T/f/root-ca.crt: it is writable by every user (mode 0646); run \"chmod go-w $T/f/root-ca.crt\""
chmod 644 "$T/f/root-ca.crt"
chmod 664 "$T/f/anchors/est-ca.crt"
expect_refused "group-writable file in a trust directory refused" \
    "auth.trust: $T/f/anchors/est-ca.crt: it is writable by its group"
chmod 644 "$T/f/anchors/est-ca.crt"
chmod 775 "$T/f/anchors"
expect_refused "group-writable trust directory refused" \
    "auth.trust: $T/f/anchors: the directory is writable by its group (mode 0775); run \"chmod go-w $T/f/anchors\""
chmod 755 "$T/f/anchors"
chmod 666 "$T/f/device-ca.crl"
expect_refused "world-writable CRL refused" \
    "auth.crl: $T/f/device-ca.crl: it is writable by every user (mode 0666)"
chmod 644 "$T/f/device-ca.crl"
chmod 777 "$T/f"
expect_refused "a directory every user may write refused" \
    "its directory $T/f is writable by every user (mode 0777), who could replace it; run \"chmod go-w $T/f\""
chmod 1777 "$T/f"
"$D" -t -c "$good" >"$T/t.out" 2>&1 ||
    fail "a sticky directory (like /tmp) was refused: $(cat "$T/t.out")"
ok "a sticky directory (like /tmp) is fine"
chmod 755 "$T/f"
chmod 666 "$good"
expect_refused "world-writable configuration refused" \
    "$good: it is writable by every user (mode 0666); run \"chmod go-w $good\""
chmod 600 "$good"

# a reload refuses them too, and the old generation stays
start_daemon
chmod 666 "$T/f/device-ca.crl"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload failed" || fail "the reload was not refused"
grep -qF "reload: $good: auth.crl: $T/f/device-ca.crl: it is writable by every user" \
    "$T/daemon.log" || fail "the reload did not name the file"
ok "a reload refuses a world-writable CRL and names it"
chmod 644 "$T/f/device-ca.crl"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "the old generation still serves"
stop_daemon

# owners: another non-root user is refused, service.user is fine
need_nobody "owners"
chown nobody "$T/f/device-ca.crl"
expect_refused "a CRL owned by another user refused" \
    "auth.crl: $T/f/device-ca.crl: it is owned by uid $(id -u nobody) (nobody), neither root nor the daemon's user; run \"chown root $T/f/device-ca.crl\""
chown nobody "$T/f/dtls.crt"
expect_refused "a certificate owned by another user refused" \
    "dtls.cert: $T/f/dtls.crt: it is owned by uid $(id -u nobody) (nobody)"
# ... unless that user is the daemon's own service.user
sed 's|^}$|, "service": { "user": "nobody", "group": "nogroup" } }|' "$good" \
    >"$T/svc.json"
grep -q '"user": "nobody"' "$T/svc.json" || fail "no service.user in the test config"
"$D" -t -c "$T/svc.json" >"$T/t.out" 2>&1 ||
    fail "files owned by service.user refused: $(cat "$T/t.out")"
ok "files owned by service.user are accepted"
done_case
