#!/usr/bin/env bash
# Every enrollment answer handed out again from memory has an audit record
# ("repeated") that names the exchange it repeats: the req and time of its
# "issued" (or "issued-undelivered") record, with the certificate's serial
# and whether a key went out again: a repeat of a finished sen and of a
# finished skg (key material), an identical request pending at the same
# time, and the retry of a device that left before its answer.
. "$(dirname "$0")/../lib.sh"

# rec EVENT: the last audit record of that event, one line
rec() {
	jq -c "select(.event == \"$1\")" "$T/audit.log" | tail -n1
}
# field JSON PATH: one value of a record
field() {
	printf '%s' "$1" | jq -r "$2"
}
# last_req OP REASON: the req= of the last request line with both
last_req() {
	grep -E " op=$1 .* reason=$2\$" "$T/daemon.log" | tail -n1 |
	    sed -n 's/.* req=\([0-9]*\) peer=.*/\1/p'
}
# check_repeat REC HOW ORIGIN KEY: a repeated record against its origin
check_repeat() {
	local r=$1 how=$2 o=$3 key=$4
	[ -n "$r" ] || fail "no repeated record: $(cat "$T/audit.log")"
	[ "$(field "$r" .how)" = "$how" ] || fail "how: $r"
	[ "$(field "$r" .repeats.req)" = "$(field "$o" .req)" ] &&
	    [ "$(field "$r" .repeats.time)" = "$(field "$o" .time)" ] ||
	    fail "repeats does not name the origin
repeated: $r
origin:   $o"
	[ "$(field "$r" .cert.serial)" = "$(field "$o" .cert.serial)" ] ||
	    fail "serial of the repeated certificate: $r"
	[ "$(field "$r" .key)" = "$key" ] || fail "key: $r"
	[ "$(field "$r" .device.subject)" = "$DEV_SUBJ" ] ||
	    fail "device of the repeated record: $r"
}
newcsr() {
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/$1.key" \
	    2>/dev/null
	openssl req -new -key "$T/$1.key" -subj "$DEV_SUBJ" -outform DER \
	    -out "$T/$1.der" 2>/dev/null
}

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"est": { "server_keygen": true },
	"service": { "audit_file": "'"$T"'/audit.log" }'
start_daemon

# a finished sen, then the same request: answered from memory
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "sen"
issued=$(rec issued)
[ "$(field "$issued" .op)" = sen ] && [ "$(field "$issued" .req)" = "$(last_req sen ok)" ] ||
    fail "the issued record does not carry the req of its request line: $issued"
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "the same sen again"
r=$(rec repeated)
check_repeat "$r" repeat "$issued" false
[ "$(field "$r" .req)" = "$(last_req sen repeat)" ] ||
    fail "the repeated record does not carry the req of its request line: $r"
ok "a repeated sen: audited with the req, time and serial of its issued record"

# skg: the key goes out again
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256-2.der" -w 20
expect_pcode 2.04 "skg"
issued=$(rec issued)
[ "$(field "$issued" .op)" = skg ] || fail "no issued record for skg"
probe -m post -u /.well-known/est/skg -t 286 -f "$PKI/csr-p256-2.der" -w 20
expect_pcode 2.04 "the same skg again"
check_repeat "$(rec repeated)" repeat "$issued" true
ok "a repeated skg: audited as handing out a key again"

# identical requests pending at the same time: one call, two records
newcsr twin
upstream_mode up op=simpleenroll delay_ms=1500
probe_bg "$T/a.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin.der" -w 20
pa=$PROBE_PID
wait_more "$T/daemon.log" 10 "queued upstream" "$(grep -c "queued upstream" "$T/daemon.log")" || true
probe_bg "$T/b.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$T/twin.der" -w 20
pb=$PROBE_PID
wait "$pa" || true
wait "$pb" || true
grep -q '^code=2.04' "$T/a.out" && grep -q '^code=2.04' "$T/b.out" ||
    fail "twins: $(tr '\n' ' ' <"$T/a.out") / $(tr '\n' ' ' <"$T/b.out")"
grep -q "waits for the identical req=" "$T/daemon.log" ||
    fail "the twins were not coalesced"
check_repeat "$(rec repeated)" identical "$(rec issued)" false
ok "an identical pending request: audited as repeating the one that went upstream"

# the device leaves before its answer; its retry gets the held answer
newcsr gone
upstream_mode up op=simpleenroll delay_ms=2500
probe -m post -u /.well-known/est/sen -t 286 -f "$T/gone.der" -x 1500
[ "$(probe_field departed)" = 1 ] || fail "the probe did not leave"
wait_for "$T/daemon.log" 10 "op=sen .*reason=undelivered" ||
    fail "the departed device's POST did not complete"
undelivered=$(rec issued-undelivered)
[ -n "$undelivered" ] || fail "no issued-undelivered record"
upstream_mode up
probe -m post -u /.well-known/est/sen -t 286 -f "$T/gone.der" -w 20
expect_pcode 2.04 "the retry after leaving"
r=$(rec repeated)
case "$(field "$r" .how)" in repeat|held) ;; *) fail "how: $r" ;; esac
check_repeat "$r" "$(field "$r" .how)" "$undelivered" false
ok "the retry of a device that left: audited as repeating the undelivered one"

[ "$(jq -c 'select(.event == "repeated")' "$T/audit.log" | wc -l)" -eq 4 ] ||
    fail "not one repeated record per answer from memory: $(cat "$T/audit.log")"
ok "one repeated record per answer given again"
done_case
