#!/usr/bin/env bash
# Configuration checking (-t) and the command line: every error names the
# file and the key, JSON syntax errors their line and column, and nothing
# starts half-configured.
. "$(dirname "$0")/../lib.sh"

D=$BUILD/estcoapd
write_config "https://localhost:1"
"$D" -t -c "$T/estcoapd.json" >"$T/t.out" 2>&1 || fail "-t on a good config"
grep -q "configuration OK" "$T/t.out" || fail "-t did not print OK"
ok "-t accepts a good config"

# expect_bad WHAT PATTERN: -t must exit 1 and print PATTERN
expect_bad() {
	set +e
	"$D" -t -c "$T/bad.json" >"$T/t.out" 2>&1
	rc=$?
	set -e
	[ "$rc" -eq 1 ] || fail "$1: -t exit $rc, want 1"
	grep -q -- "$2" "$T/t.out" || fail "$1: want '$2', got: $(cat "$T/t.out")"
	ok "$1"
}
good=$T/estcoapd.json

sed 's/"timeout_ms": 8000/"timeout_ms": 8000,\n\t\t"timeout_sec": 5/' "$good" |
    sed 's/\\n\\t\\t/\n\t\t/' >"$T/bad.json"
expect_bad "unknown key" "bad.json: upstream.timeout_sec: unknown key"
sed 's/"timeout_ms": 8000/"timeout_ms": "8000"/' "$good" >"$T/bad.json"
expect_bad "wrong type" "bad.json: upstream.timeout_ms: must be an integer"
sed "s|$PKI/ra.key|$T/missing.key|" "$good" >"$T/bad.json"
expect_bad "missing key file" "upstream.client_key: $T/missing.key: No such file"
sed "s|$PKI/ra.key|$PKI/device.key|" "$good" >"$T/bad.json"
expect_bad "key does not match cert" "upstream.client_key: .* does not match"
# a certificate where the key should be (a private copy: a world-readable
# key file is refused before it is read)
cp "$PKI/dtls.crt" "$T/notakey.pem"
sed "s|\"key\": \"$PKI/dtls.key\"|\"key\": \"$T/notakey.pem\"|" "$good" >"$T/bad.json"
expect_bad "unreadable key" "dtls.key: .*not a readable unencrypted private key"
sed 's|"url": "https://localhost:1"|"url": "http://localhost:1"|' "$good" >"$T/bad.json"
expect_bad "plain http upstream" "upstream.url: must be https"
grep -v '"client_ca"' "$good" | sed 's|"chain": \(.*\),|"chain": \1|' >"$T/bad.json"
expect_bad "missing required key" "dtls.client_ca: required key is missing"
sed 's/"timeout_ms": 8000/"timeout_ms": 8000,,/' "$good" >"$T/bad.json"
expect_bad "JSON syntax error" "bad.json:15:[0-9]*: JSON syntax error"
{ sed 's/"timeout_ms": 8000/"timeout_ms": "x"/' "$good" |
    sed "s|$PKI/ra.key|$T/missing.key|"; } >"$T/bad.json"
expect_bad "several errors at once" "2 error(s)"
set +e
"$D" -t -c "$T/nonexistent.json" >"$T/t.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "nonexistent.json: No such file" "$T/t.out" ||
    fail "missing config file"
ok "missing config file"

# a bad config never starts the daemon
sed 's/"timeout_ms": 8000/"timeout_ms": 1/' "$good" >"$T/bad.json"
set +e
timeout 10 "$D" -f -c "$T/bad.json" >"$T/start.out" 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "daemon started on a bad config (exit $rc)"
ok "daemon refuses to start on a bad config"

# the samples in conf/ are valid JSON with only known keys: point their
# files at the test PKI and check them
for f in "$TOP"/conf/*.json; do
	sed -e "s|/etc/estcoapd/dtls.crt|$PKI/dtls.crt|" \
	    -e "s|/etc/estcoapd/dtls.key|$PKI/dtls.key|" \
	    -e "s|/etc/estcoapd/dtls-chain.pem|$PKI/dtls-chain.pem|" \
	    -e "s|/etc/estcoapd/device-ca.pem|$PKI/device-ca.crt|" \
	    -e "s|/etc/estcoapd/ra.crt|$PKI/ra.crt|" \
	    -e "s|/etc/estcoapd/ra.key|$PKI/ra.key|" \
	    -e "s|/etc/estcoapd/upstream-ca.pem|$PKI/root-ca.crt|" \
	    -e "s|/etc/estcoapd/ra-other.crt|$PKI/ra2.crt|" \
	    -e "s|/etc/estcoapd/ra-other.key|$PKI/ra2.key|" \
	    -e "s|/etc/estcoapd/other-ca.pem|$PKI/ca2-root.crt|" \
	    -e "s|/var/log/estcoapd/audit.log|$T/audit.log|" \
	    -e "s|\"user\": \"estcoapd\"|\"user\": \"$(id -un)\"|" \
	    -e "s|\"group\": \"estcoapd\"|\"group\": \"$(id -gn)\"|" \
	    "$f" >"$T/sample.json"
	"$D" -t -c "$T/sample.json" >"$T/t.out" 2>&1 ||
	    fail "sample $(basename "$f"): $(cat "$T/t.out")"
	ok "sample $(basename "$f") passes -t"
done

# a port already in use: exit 2 with a clear message
write_config "https://localhost:1"
nc_port=$PORT
"$D" -f -c "$T/estcoapd.json" >"$T/first.log" 2>&1 &
first=$!
wait_for "$T/first.log" 10 " ready: " || fail "first daemon did not start"
set +e
timeout 10 "$D" -f -c "$T/estcoapd.json" >"$T/second.log" 2>&1
rc=$?
set -e
kill -TERM "$first"
wait "$first" || fail "first daemon did not exit cleanly"
[ "$rc" -eq 2 ] || fail "second daemon on port $nc_port: exit $rc, want 2"
grep -q "cannot bind DTLS on 127.0.0.1 port $nc_port" "$T/second.log" ||
    fail "bind failure not explained"
ok "port in use: exit 2 with a clear message"

# without -f the parent exits when the daemon listens (0) or failed (2)
write_config "https://localhost:1"
set +e
timeout 10 "$D" -c "$T/estcoapd.json"
rc1=$?
timeout 10 "$D" -c "$T/estcoapd.json"
rc2=$?
set -e
bgpid=$(pgrep -f "estcoapd -c $T/estcoapd.json" || true)
[ -n "$bgpid" ] && kill -TERM $bgpid
[ "$rc1" -eq 0 ] && [ -n "$bgpid" ] || fail "background start: exit $rc1"
[ "$rc2" -eq 2 ] || fail "background start on a taken port: exit $rc2, want 2"
ok "background start reports bind failures in its exit code"

"$D" -V >"$T/v.out"
for lib in estcoapd libcoap OpenSSL libcurl libevent; do
	grep -q "^$lib " "$T/v.out" || fail "-V lacks $lib"
done
ok "-V prints our and the libraries' versions"
"$D" -h >"$T/h.out" || fail "-h"
grep -q "usage: estcoapd" "$T/h.out" || fail "-h prints no usage"
ok "-h prints usage"
set +e
"$D" -Z >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad flag: exit $rc, want 1"
ok "bad flag exits 1"
done_case
