#!/usr/bin/env bash
# Multicast discovery (RFC 9148 4.1, RFC 7252 8, RFC 6690 4.1) in a network
# namespace of its own: a veth pair d0 (the registrar's side) and c0 (the
# device's side), IPv6 and IPv4. The registrar joins ff02::fd and
# 224.0.1.187 (All-CoAP-Nodes) on d0; a multicast GET /.well-known/core
# gets the EST links (absolute coaps links with our address towards the
# device); an empty filter result, an EST operation and an unknown path
# sent to the group get no answer at all (RFC 7252 8.2: no errors, no
# empty results to multicast), and nothing goes upstream.
if [ -z "${ESTCOAPD_NETNS:-}" ]; then
	if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null ||
	    ! unshare -n true 2>/dev/null; then
		echo "SKIP [31-conf-multicast]: no network namespaces here (needs root, unshare and ip)" >&2
		exit 77
	fi
	ESTCOAPD_NETNS=1 exec unshare -n bash "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"

# the namespace's links: lo for the upstream, the veth pair for multicast
ip link set lo up
ip link add d0 type veth peer name c0 2>/dev/null ||
    skip "cannot create a veth pair in the namespace"
ip link set d0 up
ip link set c0 up
ip -6 addr add fd00:db8::1/64 dev d0 nodad
ip -6 addr add fd00:db8::2/64 dev c0 nodad
ip addr add 192.0.2.1/24 dev d0
ip addr add 192.0.2.2/24 dev c0
ip route add 224.0.0.0/4 dev c0
# both ends are ours: let d0 take IPv4 packets from a local source
sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.d0.accept_local=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.d0.rp_filter=0

start_upstream up
DPORT=$(free_port udp)
write_config "https://localhost:$UP_PORT_up" ',
	"discovery": { "listen": [ { "address": "::", "port": '"$DPORT"' } ],
		"multicast": [ "ff02::fd", "224.0.1.187" ], "interface": "d0" }'
# DTLS on every address, so that the advertised links are served
sed -i "s/\"address\": \"127.0.0.1\", \"port\": $PORT/\"address\": \"::\", \"port\": $PORT/" \
    "$T/estcoapd.json"
start_daemon
grep -q "joined multicast group ff02::fd on d0" "$T/daemon.log" &&
    grep -q "joined multicast group 224.0.1.187 on d0" "$T/daemon.log" ||
    fail "multicast groups not joined"
ok "joined ff02::fd and 224.0.1.187 on d0"
base=$(upstream_count up)

# mc NAME ARGS...: one NON multicast request in the background; the
# client prints every PDU it gets (-v 6) and gives up after 6 s (libcoap
# delays multicast answers by up to DEFAULT_LEISURE, 5 s)
pids=""
mc() {
	local name=$1
	shift
	"$COAP_CLIENT" -v 6 -N -B 6 "$@" >"$T/mc.$name" 2>&1 &
	pids="$pids $!"
}
mc v6 -m get "coap://[ff02::fd%c0]:$DPORT/.well-known/core"
mc v4 -m get "coap://224.0.1.187:$DPORT/.well-known/core"
mc v4skg -m get "coap://224.0.1.187:$DPORT/.well-known/core?rt=ace.est.skg"
mc v6skg -m get "coap://[ff02::fd%c0]:$DPORT/.well-known/core?rt=ace.est.skg"
mc v6crts -m get "coap://[ff02::fd%c0]:$DPORT/.well-known/est/crts"
mc v4sen -m post -t 286 -f "$PKI/csr-p256.der" \
    "coap://224.0.1.187:$DPORT/.well-known/est/sen"
mc v4foo -m get "coap://224.0.1.187:$DPORT/nothing/here"
# shellcheck disable=SC2086
wait $pids || true

answered() {
	grep -q '^v:1 t:NON c:[245]\.' "$T/mc.$1"
}
# the answer is at most 3x the request (no amplifier for spoofed sources):
# the first Block2 block of the document, the rest fetched block by block
answered v6 && grep -q "Block2:0/M/.*<coaps://\[fd00:db8::2\]:$PORT/" \
    "$T/mc.v6" || fail "IPv6 multicast discovery: $(cat "$T/mc.v6")"
ok "IPv6 multicast GET /.well-known/core -> first block of the absolute coaps links"
answered v4 && grep -q "Block2:0/M/.*<coaps://192.0.2.2:$PORT/" \
    "$T/mc.v4" || fail "IPv4 multicast discovery: $(cat "$T/mc.v4")"
ok "IPv4 multicast GET /.well-known/core -> first block of the absolute coaps links"
"$COAP_CLIENT" -B 5 -m get -o "$T/uc.core" \
    "coap://[fd00:db8::1]:$DPORT/.well-known/core" >/dev/null 2>&1 || true
grep -q "/.well-known/est/crts>;rt=\"ace.est.crts\";ct=\"281 287\"" "$T/uc.core" &&
    grep -q "/.well-known/est/sen>;rt=\"ace.est.sen\"" "$T/uc.core" ||
    fail "the whole document block by block: $(cat "$T/uc.core")"
ok "the rest of the document comes block by block"
for n in v4skg v6skg; do
	! answered $n || fail "multicast filter without match answered: $(cat "$T/mc.$n")"
done
ok "multicast discovery with no match: no answer (RFC 6690 4.1)"
for n in v6crts v4sen v4foo; do
	! answered $n || fail "multicast $n answered: $(cat "$T/mc.$n")"
done
ok "multicast EST operation or unknown path: no error answer (RFC 7252 8.2)"
expect_upstream up "$base" "nothing from the multicast requests went upstream"
grep -q 'op=crts .*reason=plain-coap-multicast' "$T/daemon.log" &&
    grep -q 'op=sen .*reason=plain-coap-multicast' "$T/daemon.log" &&
    grep -q 'op=core .*reason=discovery-multicast-empty' "$T/daemon.log" ||
    fail "silent multicast refusals not logged"
ok "the unanswered multicast requests are logged"

# the same empty filter sent unicast: 2.05 with an empty document
"$COAP_CLIENT" -v 6 -B 5 -m get \
    "coap://[fd00:db8::1]:$DPORT/.well-known/core?rt=ace.est.skg" \
    >"$T/uc" 2>&1 || true
grep -q '^v:1 t:ACK c:2.05' "$T/uc" || fail "unicast empty discovery: $(cat "$T/uc")"
ok "unicast discovery with no match: 2.05, empty"

# the link learnt by discovery (its first block by multicast, the rest by
# unicast from the answering address) leads to the EST server
"$COAP_CLIENT" -B 5 -m get -o "$T/uc4.core" \
    "coap://192.0.2.1:$DPORT/.well-known/core" >/dev/null 2>&1 || true
href=$(tr ',' '\n' <"$T/uc4.core" | sed -n 's/.*<\(coaps:[^>]*\/crts\)>.*/\1/p' |
    head -n1)
"$COAP_CLIENT" -B 10 -c "$PKI/device.crt" -j "$PKI/device.key" \
    -R "$PKI/root-ca.crt" -o "$T/crts" -m get "$href" >/dev/null 2>&1 ||
    fail "GET $href failed"
p7_certs "$T/crts" | grep -q 'BEGIN CERTIFICATE' || fail "no crts via $href"
ok "the link learnt by multicast serves crts over DTLS"
done_case
