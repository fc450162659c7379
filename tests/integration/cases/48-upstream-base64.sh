#!/usr/bin/env bash
# base64 toward the upstream and from it (RFC 7030 4.2.1, RFC 2045 6.8,
# RFC 8951 3.1): requests go out in lines of upstream.base64_line_length
# (64 by default, per route, 0 = one line) with Content-Transfer-Encoding
# unless upstream.send_cte is false; answers decode wrapped with LF or
# CRLF, unpadded or with a NUL after the text (libest's csrattrs); other
# bodies are 5.02 with a log line naming the server.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true },
	"labels": { "wide": { "upstream": {
		"url": "https://localhost:'"$UP_PORT_up"'",
		"base64_line_length": 76 } } }'
start_daemon

# sent_lines WIDTH WHAT: the last upstream body is the CSR in lines of
# WIDTH (0: one line without LF), with the CTE header unless NOCTE is set
sent_lines() {
	local f=$T/up.req.lastbody w=$1 body
	[ -f "$f" ] || fail "$2: the upstream kept no request body"
	[ "$(head -n1 "$f")" = "cte=${NOCTE:-base64}" ] ||
	    fail "$2: upstream saw $(head -n1 "$f"), want cte=${NOCTE:-base64}"
	tail -n +2 "$f" >"$T/body.txt"
	if grep -q $'\r' "$T/body.txt"; then fail "$2: CR in the body"; fi
	if [ "$w" = 0 ]; then
		[ "$(wc -l <"$T/body.txt")" = 0 ] ||
		    fail "$2: line breaks in a one-line body"
	else
		[ "$(tail -c1 "$T/body.txt" | od -An -c | tr -d ' ')" = '\n' ] ||
		    fail "$2: no line break after the last line"
		body=$(head -n -1 "$T/body.txt" | awk -v w="$w" \
		    'length($0) != w { print NR ": " length($0) }')
		[ -z "$body" ] || fail "$2: lines not $w wide: $body"
		[ "$(tail -n1 "$T/body.txt" | awk '{ print length($0) }')" \
		    -le "$w" ] || fail "$2: last line longer than $w"
		[ "$(wc -l <"$T/body.txt")" -gt 1 ] ||
		    fail "$2: a CSR fits on one line?"
	fi
	base64 -d <"$T/body.txt" | cmp -s - "$3" ||
	    fail "$2: body does not decode to the CSR"
	ok "$2"
}

probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "sen with the defaults"
sent_lines 64 "CSR sent in 64-column lines ending in LF, with CTE" \
    "$PKI/csr-p256.der"
probe -m post -u /.well-known/est/wide/sen -t 286 -f "$PKI/csr-rsa3072.der"
expect_pcode 2.04 "labelled sen"
sent_lines 76 "labels.wide.upstream.base64_line_length 76: 76-column lines" \
    "$PKI/csr-rsa3072.der"

# what servers send back
for how in nopad lf nul; do
	upstream_mode up op=simpleenroll body=$how
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
	expect_pcode 2.04 "simpleenroll answer with body=$how -> 2.04"
done
# 23 bytes of csrattrs: one '=' of padding to drop
for how in nul nopad oneline; do
	upstream_mode up op=csrattrs body=$how
	probe -m get -u /.well-known/est/att
	expect_pcode 2.05 "csrattrs with body=$how -> 2.05"
done
for how in nopad lf; do
	upstream_mode up op=serverkeygen body=$how
	probe -m post -u /.well-known/est/skg -t 286 -A 62 \
	    -f "$PKI/csr-p256.der"
	expect_pcode 2.04 "serverkeygen parts with body=$how -> 2.04"
done

# anything else: 5.02, a diagnostic, one log line naming the server
upstream_mode up op=simpleenroll body=garbage
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 5.02 "invalid base64 -> 5.02"
probe_field payload_text | grep -q "not valid base64: invalid character" ||
    fail "diagnostic: $(probe_field payload_text)"
ok "the diagnostic says what is wrong with the body"
grep -q "upstream https://localhost:$UP_PORT_up: simpleenroll answer refused: body is not valid base64: invalid character in base64" \
    "$T/daemon.log" || fail "no log line naming the server"
ok "one log line names the server and the fault"

# 0 = one line, and send_cte false: no header
stop_daemon
UP_EXTRA=', "base64_line_length": 0, "send_cte": false'
write_config "https://localhost:$UP_PORT_up"
upstream_mode up
start_daemon
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
expect_pcode 2.04 "sen with base64_line_length 0"
NOCTE=- sent_lines 0 "base64_line_length 0: one line, no LF; send_cte false: no CTE" \
    "$PKI/csr-p256.der"
done_case
