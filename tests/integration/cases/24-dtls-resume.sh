#!/usr/bin/env bash
# dtls.session_resumption: a device that closed its session and comes back
# (a retry after 5.03 + Max-Age) offering its last session resumes it with
# "cache" (the default) and "tickets", makes a full handshake with "off",
# and enrolls either way. A reload that changes the device trust ends
# resumption of the sessions made before it (one that keeps the trust
# keeps them: case 71). Counts only (the generator tells resumed
# handshakes apart).
. "$(dirname "$0")/../lib.sh"

GEN=$TOOLS/estcoap-bench
[ -x "$GEN" ] || fail "no $GEN"
"$TOP/scripts/bench/mkdevs.sh" "$T/devs" 3 p256 || fail "mkdevs failed"
cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$T/trust.pem"
start_upstream up

# start MODE: the daemon with that mode ("" for the default), devices
# trusted; every request reaches the CA
start() {
	DTLS_EXTRA=${1:+',
		"session_resumption": "'"$1"'"'} \
	    write_config "https://localhost:$UP_PORT_up" ',
	"limits": { "exchange_entries": 0 }'
	cat "$T/devs/dev-ca.crt" >>"$T/client-ca.pem"
	start_daemon
}

# retry NAME [ARGS]: 3 devices each make a full handshake, then 3 times
# one of them closes its session and enrolls on a new one that offers
# its last
retry() {
	local name=$1
	shift
	timeout 120 "$GEN" -q -R "$T/trust.pem" -D "$T/devs" -p "$PORT" \
	    -n 3 -d 3 -s sen -S resume -P -C 1 -c 1 -N 3 -t 60 -T 10000 \
	    -o "$T/$name.json" "$@" 2>"$T/$name.err" ||
	    fail "$name: estcoap-bench failed: $(tail -n3 "$T/$name.err")"
	[ "$(jq -r .ok "$T/$name.json")" = 3 ] ||
	    fail "$name: enrollments failed: $(cat "$T/$name.json")"
}
resumed() { jq -r .resumed "$T/$1.json"; }

start ""
retry default
[ "$(resumed default)" = 3 ] ||
    fail "default: $(resumed default) of 3 retries resumed"
ok "default (cache): 3 retries resumed their sessions and enrolled"

start tickets
retry tickets
[ "$(resumed tickets)" = 3 ] ||
    fail "tickets: $(resumed tickets) of 3 retries resumed"
ok "tickets: 3 retries resumed their sessions and enrolled"

start off
retry off
[ "$(resumed off)" = 0 ] ||
    fail "off: $(resumed off) of 3 retries resumed"
ok "off: 3 retries made full handshakes and enrolled"

# sessions made before a reload that adds an anchor are not resumed after it
start cache
rm -f "$T/ready" "$T/go"
# (3 at once: each device offers its own session of generation 1)
retry reload -c 3 -F "$T/ready" -G "$T/go" &
gp=$!
wait_for "$T/ready" 60 "^start" || fail "the devices did not get their sessions"
cat "$PKI/device-ca2.crt" >>"$T/client-ca.pem"
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "the reload did not take"
touch "$T/go"
wait "$gp" || fail "retries after the reload failed"
[ "$(resumed reload)" = 0 ] ||
    fail "reload: $(resumed reload) of 3 sessions of generation 1 resumed"
ok "after a reload that changed the trust: full handshakes, 3 enrolled"

done_case
