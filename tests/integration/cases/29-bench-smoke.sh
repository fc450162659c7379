#!/usr/bin/env bash
# Smoke test of the load generator build/estcoap-bench (make bench's tool):
# it counts what it did correctly against the real daemon and upstream.
# New DTLS sessions with crts + sen, kept sessions with 64-byte Block1 and
# Block2, sren and skg, the direct HTTPS mode, the ClientHello flood mode
# and a -P/-H hold.  Counts only, never times.
# run.sh: alone (needs the whole machine; run after the others)
. "$(dirname "$0")/../lib.sh"

GEN=$TOOLS/estcoap-bench
[ -x "$GEN" ] || fail "no $GEN"
"$TOP/scripts/bench/mkdevs.sh" "$T/devs" 4 p256 || fail "mkdevs failed"
[ -s "$T/devs/dev-00003.crt" ] && [ -s "$T/devs/csr-00003.der" ] ||
    fail "mkdevs did not make 4 devices"
ok "mkdevs minted 4 devices with CSRs"

start_upstream up
write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 },
	"est": { "server_keygen": true }'
# the daemon trusts the bench devices too
cat "$T/devs/dev-ca.crt" >>"$T/client-ca.pem"
start_daemon
cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$T/trust.pem"

# gen NAME ARGS...: run the generator, result in $T/NAME.json
gen() {
	local name=$1
	shift
	timeout 120 "$GEN" -q -R "$T/trust.pem" -D "$T/devs" -o "$T/$name.json" \
	    "$@" 2>"$T/$name.err" || fail "$name: estcoap-bench failed: $(tail -n3 "$T/$name.err")"
}
# field NAME JQ: one value of a result
field() { jq -r "$2" "$T/$1.json"; }

n0=$(upstream_count up simpleenroll)
gen new -p "$PORT" -s crts,sen -S new -c 4 -N 20 -t 60
[ "$(field new .ok)" = 20 ] && [ "$(field new .failed)" = 0 ] ||
    fail "new sessions: $(cat "$T/new.json")"
ok "20 new-session enrollments succeed"
[ "$(field new .handshake.n)" = 20 ] || fail "want 20 handshakes"
[ "$(field new '.step.sen.codes."2.04"')" = 20 ] ||
    fail "sen codes: $(field new .step.sen.codes)"
[ "$(field new '.step.crts.codes."2.05"')" = 20 ] ||
    fail "crts codes: $(field new .step.crts.codes)"
ok "20 handshakes, 20 crts 2.05, 20 sen 2.04"
# a quick upstream answers within coap.ack_hold_ms: piggybacked, no
# empty ACK; every separate answer came after its empty ACK
[ "$(field new .step.sen.separate)" = "$(field new .step.sen.empty_ack.n)" ] ||
    fail "sen: $(field new .step.sen.separate) separate answers, \
$(field new .step.sen.empty_ack.n) empty ACKs"
ok "every sen answered piggybacked or, after its empty ACK, separately"
[ "$(upstream_count up simpleenroll)" -eq $((n0 + 20)) ] ||
    fail "upstream saw $(( $(upstream_count up simpleenroll) - n0 )) enrollments, want 20"
ok "upstream saw exactly 20 enrollments"

# kept sessions, 64-byte blocks: sen in Block1, crts in Block2
gen reuse -p "$PORT" -n 2 -d 2 -s crts,sen -S reuse -P -c 2 -N 6 -b 2 -t 60
[ "$(field reuse .ok)" = 6 ] && [ "$(field reuse .prepared)" = 2 ] ||
    fail "reuse: $(cat "$T/reuse.json")"
[ "$(field reuse .handshake.n)" = 2 ] || fail "reuse: want 2 handshakes"
ok "6 enrollments on 2 kept sessions"
[ "$(field reuse .step.sen.pdus)" -gt 12 ] &&
    [ "$(field reuse .step.crts.pdus)" -gt 12 ] ||
    fail "reuse: 64-byte blocks not used: $(field reuse .step)"
ok "Block1 and Block2 in 64-byte blocks"

gen sren -p "$PORT" -n 1 -d 1 -s sren,skg -S new -N 2 -t 60
[ "$(field sren .ok)" = 2 ] || fail "sren/skg: $(cat "$T/sren.json")"
[ "$(field sren '.step.skg.codes."2.04"')" = 2 ] || fail "skg codes"
ok "sren and skg"

# -g: a fresh key per device, the CSR with its device's Subject, which
# auth.csr_identity "subject" (the default) accepts
gen keygen -p "$PORT" -n 2 -d 2 -s sen -S new -g p256 -N 2 -t 60
[ "$(field keygen '.step.sen.codes."2.04"')" = 2 ] ||
    fail "-g: $(field keygen .step.sen.codes)"
ok "-g: generated CSRs carry the device's Subject and enroll"

# an unknown path counts as a failure with its code, not as success
gen bad -p "$PORT" -n 1 -d 1 -s get -u /nothing -N 3 -t 60
[ "$(field bad .ok)" = 0 ] && [ "$(field bad .failed)" = 3 ] &&
    [ "$(field bad '.errors."get_4.04"')" = 3 ] ||
    fail "4.04 not counted: $(cat "$T/bad.json")"
ok "error answers are counted by code"

# the direct HTTPS mode, against an upstream that trusts the devices
cat "$T/devs/dev-ca.crt" "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$T/dtrust.pem"
start_upstream direct -C "$T/dtrust.pem"
gen https -m https -U "https://localhost:$UP_PORT_direct" -s crts,sen \
    -c 2 -N 6 -t 60
[ "$(field https .ok)" = 6 ] && [ "$(field https '.step.sen.codes."200"')" = 6 ] ||
    fail "https: $(cat "$T/https.json")"
[ "$(upstream_count direct simpleenroll)" -eq 6 ] ||
    fail "direct upstream saw $(upstream_count direct simpleenroll)"
ok "6 direct HTTPS enrollments"

# flood: half-open handshakes from new ports; the daemon still serves
gen flood -m flood -p "$PORT" -r 50 -N 10 -t 30
[ "$(field flood .started)" = 10 ] && [ "$(field flood .ok)" -ge 1 ] ||
    fail "flood: $(cat "$T/flood.json")"
ok "flood sent 10 ClientHellos, the server answered"
gen after -p "$PORT" -s sen -N 2 -t 60
[ "$(field after .ok)" = 2 ] || fail "after flood: $(cat "$T/after.json")"
ok "enrollments still succeed after the flood"

# -P -H: sessions held idle, the watched daemon sampled
gen hold -p "$PORT" -n 4 -d 4 -s crts -S reuse -P -c 4 -N 4 -H 1 \
    -W "$DAEMON_PID" -k 2 -t 60
[ "$(field hold .prepared)" = 4 ] && [ "$(field hold .ok)" = 4 ] &&
    [ "$(field hold '.watch[0].rss_hold_kb')" -gt 0 ] ||
    fail "hold: $(cat "$T/hold.json")"
ok "4 sessions held, daemon RSS sampled"
[ "$(field hold .contexts)" = 2 ] && [ "$(field hold .gen_cpu_s)" != null ] ||
    fail "hold: not 2 contexts, or no generator CPU: $(cat "$T/hold.json")"
ok "devices spread over 2 libcoap contexts; the generator's CPU recorded"

done_case
