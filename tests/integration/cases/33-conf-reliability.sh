#!/usr/bin/env bash
# Message-layer conformance (RFC 7252 4.2, 4.3, 5.2; doc/conformance.md
# cases 49-51), with estcoap-probe: a separate answer that is never
# acknowledged is retransmitted at most 4 times with doubling waits and
# then given up; one the device resets (RST) is not retransmitted; a NON
# request gets a NON (or CON) answer with its token and no empty ACK.
# dtls.ack_timeout_ms = 1000 (libcoap's least; 2000 by default) keeps the
# whole retransmission span of case 49 under 50 s; it runs in the
# background while cases 50 and 51 run.
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
python3 - "$T/estcoapd.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["dtls"]["ack_timeout_ms"] = 1000
# separate answers are what is tested here: no waiting to piggyback
doc["coap"] = {"ack_hold_ms": 0}
# every enrollment here must go upstream: no answers from memory
doc["limits"] = {"exchange_entries": 0}
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
start_daemon
upstream_mode up op=simpleenroll delay_ms=300

# 49: never acknowledged. ACK_TIMEOUT 1 s, random factor 1.5: the answer
# goes out once and is retransmitted after 1-1.5, 2-3, 4-6 and 8-12 s
# (at most 22.5 s in all); libcoap gives up 16-24 s after the last one
probe_bg "$T/p49.out" -m post -u /.well-known/est/sen -t 286 \
    -f "$PKI/csr-p256.der" -n -w 26
p49=$PROBE_PID

# 50: the device resets the separate answer: no retransmission follows
n=$(grep -c "reset by the device" "$T/daemon.log" || true)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -K -w 4
expect_pcode 2.04 "case 50: separate 2.04 sent"
[ "$(probe_field copies)" -eq 1 ] ||
    fail "after the RST the answer came $(probe_field copies) times"
ok "case 50: RST by the client: no retransmission"
wait_more "$T/daemon.log" 5 "reset by the device, given up" "$n" ||
    fail "the RST was not seen by the daemon"
ok "case 50: RST stops the exchange, state freed (logged)"

# 46: the device acknowledges the separate answer: no retransmission
# (with ACK_TIMEOUT 1 s one would come within 1.5 s; we listen 4 s)
probe -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" -q -w 6
expect_pcode 2.04 "case 46: separate 2.04, acknowledged by the client"
[ "$(probe_field empty_ack)" = 1 ] || fail "no empty ACK before the answer"
[ "$(probe_field copies)" -eq 1 ] ||
    fail "an acknowledged answer came $(probe_field copies) times"
ok "case 46: the client's ACK stops retransmission of the separate answer"

# 51: NON GET crts -> a NON (or CON) answer with the same token, no
# empty ACK; NON sen (upstream-bound) too
probe -N -m get -u /.well-known/est/crts -o "$T/crts"
expect_pcode 2.05 "case 51: NON GET crts -> 2.05"
case "$(probe_field type)" in NON|CON) ;;
*) fail "NON request answered with $(probe_field type)" ;; esac
[ -z "$(probe_field empty_ack)" ] || fail "NON request got an empty ACK"
p7_certs "$T/crts" | grep -q 'BEGIN CERT' || fail "NON crts: no certificates"
ok "case 51: NON crts answered $(probe_field type) with the same token, no empty ACK"
probe -N -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256-2.der" \
    -o "$T/non.p7" -w 10
expect_pcode 2.04 "case 51: NON POST sen -> 2.04"
case "$(probe_field type)" in NON|CON) ;;
*) fail "NON sen answered with $(probe_field type)" ;; esac
p7_certs "$T/non.p7" | grep -q 'BEGIN CERT' || fail "NON sen: no certificate"
ok "case 51: NON sen answered $(probe_field type) after the upstream call"

wait "$p49" || true
cp "$T/p49.out" "$T/probe.out"
PCODE=$(probe_field code)
expect_pcode 2.04 "case 49: separate 2.04 sent"
copies=$(probe_field copies)
[ "$copies" -eq 5 ] ||
    fail "never-ACKed answer sent $copies times, want 1 + 4 retransmissions"
ok "case 49: never-ACKed answer: exactly 4 retransmissions"
IFS=, read -r g1 g2 g3 g4 <<<"$(probe_field gaps_ms)"
# each wait doubles the last (1-1.5 s first): later gaps are the longer
[ "$g2" -gt "$g1" ] && [ "$g3" -gt "$g2" ] && [ "$g4" -gt "$g3" ] &&
    [ "$g1" -ge 900 ] ||
    fail "retransmission gaps $g1,$g2,$g3,$g4 ms do not grow from ACK_TIMEOUT"
ok "case 49: exponential back-off between retransmissions ($g1,$g2,$g3,$g4 ms)"
wait_for "$T/daemon.log" 30 "not acknowledged after 4 retransmissions, given up" ||
    fail "giving up not logged"
ok "case 49: libcoap gave up and freed the exchange (logged)"
done_case
