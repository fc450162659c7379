#!/usr/bin/env bash
# A device with a valid certificate that completes its handshake and then
# sends malformed CoAP (README, "Attacks and what stops them"): reserved option delta and length
# nibbles, token lengths 9-15, truncated options and extensions, a payload
# marker without payload, a device sending a response code, a long run of
# 16-byte Block1 blocks (case 37 past the cap, case 39 after it), and a
# per-source request rate (limits.rate_per_source). The daemon answers or
# drops each, keeps the session, frees what the uploads held and still
# serves a normal enrollment.
. "$(dirname "$0")/../lib.sh"

start_upstream up
MPORT=$(free_port tcp) || fail "no free TCP port"
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "limits": { "rate_per_source": 0 },
	"service": { "metrics_port": '"$MPORT"' }'
start_daemon

# enroll WHAT: a normal sen still gets its certificate.
enroll() {
	probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der"
	expect_pcode 2.04 "$1: normal enrollment still served"
}

# CON GET, token ab cd, message ID $1 (4 hex digits): the header of each.
h() { printf '42%s%sabcd' "${2:-01}" "$1"; }
long=$(printf '78%.0s' $(seq 1 255))

declare -A bad=(
	[delta15]="$(h 1001)f0"
	[length15]="$(h 1002)bf"
	[tkl9]="4901100301020304050607080900"
	[tkl15]="4f011004$(printf '0a%.0s' $(seq 1 15))"
	[truncated_option]="$(h 1005)b52e77"
	[delta13_cut]="$(h 1006)d0"
	[length14_cut]="$(h 1007)be01"
	[marker_no_payload]="$(h 1008)bb2e77656c6c2d6b6e6f776eff"
	[response_code]="$(h 1009 45)"
	[empty_with_token]="$(h 100a 00)"
	[version2]="8201100babcd"
	[long_options]="$(h 100c)bdf2${long}0df2${long}0df2${long}0df2${long}"
)
names=(delta15 length15 tkl9 tkl15 truncated_option delta13_cut length14_cut
    marker_no_payload response_code empty_with_token version2 long_options)
args=()
for n in "${names[@]}"; do args+=("${bad[$n]}"); done
hostile raw "${args[@]}"
[ "$(hostile_field handshake)" = ok ] || fail "raw: $(cat "$T/hostile.stderr")"
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	r=$(sed -n 's/^reply=//p' "$T/hostile.out" | sed -n "${i}p")
	case $r in
	2.*)	fail "malformed $n got a success answer ($r)" ;;
	"")	fail "malformed $n: no line ($(cat "$T/hostile.out"))" ;;
	esac
	# RFC 7252 3, 3.1: these are message format errors: RST or silence
	case $n in
	delta15|length15|tkl9|tkl15|marker_no_payload|truncated_option)
		case $r in rst|none) ;; *) fail "malformed $n answered $r" ;; esac ;;
	esac
done
ok "12 malformed messages: none got a 2.xx; format errors got RST or nothing"
[ "$(hostile_field final)" = 2.05 ] ||
    fail "the session did not survive the malformed messages ($(cat "$T/hostile.out"))"
ok "the same session still gets crts"
enroll "after malformed CoAP"

# 5000 16-byte Block1 blocks: 1024 fill limits.max_request_body (16384),
# block 1024 is 4.13 (case 37), every later one 4.08 (case 39: no transfer)
hostile block1 5000
[ "$(hostile_field c231)" = 1024 ] && [ "$(hostile_field c413)" = 1 ] &&
    [ "$(hostile_field c408)" = 3975 ] && [ "$(hostile_field other)" = 0 ] ||
    fail "block1 flood: $(tr '\n' ' ' <"$T/hostile.out")"
ok "5000 tiny Block1 blocks: 1024 x 2.31, one 4.13, then 4.08"
[ "$(hostile_field final)" = 2.05 ] || fail "session lost after the Block1 flood"
wait_metric estcoapd_block1_bytes -eq 0 10 ||
    fail "Block1 bytes stay at $(metric estcoapd_block1_bytes)"
[ "$(metric 'estcoapd_limit_refusals_total{limit="max_request_body"}')" -ge 1 ] ||
    fail "the 4.13 was not counted"
ok "Block1 bytes back to 0; the 4.13 counted"
# an upload left half way is freed when its session goes
hostile block1 100
[ "$(hostile_field c231)" = 100 ] || fail "block1 100: $(cat "$T/hostile.out")"
wait_metric estcoapd_block1_bytes -eq 0 10 ||
    fail "an abandoned upload still holds $(metric estcoapd_block1_bytes) bytes"
ok "an abandoned upload is freed with its session"
enroll "after the Block1 flood"
stop_daemon

# limits.rate_per_source: 1 per second, 3 at once, per source address
write_config "https://127.0.0.1:$UP_PORT_up" \
    ', "limits": { "rate_per_source": 1, "rate_burst": 3 },
	"service": { "metrics_port": '"$MPORT"' }'
start_daemon
hostile -s 127.0.0.6 raw crts crts crts crts crts crts crts crts crts crts
n205=$(grep -c '^reply=2.05' "$T/hostile.out" || true)
n503=$(grep -c '^reply=5.03 maxage=[1-9]' "$T/hostile.out" || true)
[ "$n205" -ge 3 ] && [ "$n503" -ge 5 ] && [ $((n205 + n503)) -eq 10 ] ||
    fail "rate: $n205 x 2.05, $n503 x 5.03+Max-Age ($(tr '\n' ' ' <"$T/hostile.out"))"
ok "past the burst: 5.03 with Max-Age ($n205 served, $n503 refused)"
# (the closing GET crts of estcoap-hostile may be refused as well)
[ "$(metric 'estcoapd_limit_refusals_total{limit="rate_per_source"}')" \
    -ge "$n503" ] || fail "rate refusals not counted"
ok "each rate refusal counted"
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "another source address is not limited by the first"
kill -0 "$DAEMON_PID" || fail "daemon died"
done_case
