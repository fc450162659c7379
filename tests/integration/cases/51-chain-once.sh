#!/usr/bin/env bash
# With one device policy for every route, a full DTLS handshake already
# verified the device chain against exactly that policy's anchors and
# CRLs, so the first request does not verify it again (make bench B8).
# That shortcut holds only for the trust the handshake used: a session
# opened before a reload that drops the device's CA is verified again,
# and refused (RFC 9148 3: the registrar authorises every request).
. "$(dirname "$0")/../lib.sh"

start_upstream up
write_config "https://localhost:$UP_PORT_up"
python3 - "$T/estcoapd.json" "$PKI" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); pki = sys.argv[2]
doc["auth"] = {"trust": [pki + "/device-ca.crt", pki + "/root-ca.crt",
                         pki + "/est-ca.crt"]}
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
start_daemon

# one policy: served, on a fresh session and a resumed one
probe -m get -u /.well-known/est/crts
expect_pcode 2.05 "one policy: device served after its handshake"
probe -r -m post -u /.well-known/est/sen -t 286 -f "$PKI/csr-p256.der" -w 20
expect_pcode 2.04 "one policy: enrollment on a resumed session"
[ "$(probe_field resumed)" = 1 ] || fail "the second session did not resume"
ok "one policy: full and resumed sessions served"

# a session held open across a reload that drops the device's CA
probe_bg "$T/held.out" -g /.well-known/est/crts -P 4000 -m get \
    -u /.well-known/est/crts -w 20
held=$PROBE_PID
wait_for "$T/held.out" 10 "pre_code=2.05" || fail "held session not up"
python3 - "$T/estcoapd.json" "$PKI" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1])); pki = sys.argv[2]
doc["auth"] = {"trust": [pki + "/est-ca.crt"]}
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
kill -HUP "$DAEMON_PID"
wait_for "$T/daemon.log" 10 "reload: generation 2 in use" ||
    fail "reload without the device CA did not take"
wait "$held" || true
grep -q "^code=4.03" "$T/held.out" ||
    fail "a session from before the reload was served without its chain being verified again: $(tr '\n' ' ' <"$T/held.out")"
grep -q "payload_text=.*not accepted" "$T/held.out" ||
    fail "diagnostic: $(tr '\n' ' ' <"$T/held.out")"
ok "a session verified under other anchors is verified again, and refused"
done_case
