# shellcheck shell=bash
# B0 calibration (doc/bench/results.md): openssl speed, the in-process DTLS handshake
# and the coap-server-openssl floor (new-session GET and established GET)
# with the same generator.  Its figures are the baselines of this run:
#   F_hs   server CPU of one in-process handshake (µs)
#   L_new  coap-server-openssl CPU per new-session GET (µs), R_new its rate
#   L_est  coap-server-openssl CPU per established-session GET (µs), R_est

bench_b0() {
	local secs n
	secs=$(awk -v s="$SCALE" 'BEGIN { v = 3 * s; print v < 1 ? 1 : v }')
	say "openssl speed (${secs}s per primitive)"
	"${PIN_SUT[@]}" openssl speed -seconds "$secs" ecdsap256 ecdhp256 rsa2048 \
	    >"$RUN/speed.txt" 2>/dev/null || true
	awk '/^ *256 bits ecdsa/ { printf "speed_ecdsa_sign_per_s=%s\nspeed_ecdsa_verify_per_s=%s\n", $(NF-1), $NF }
	    /^ *256 bits ecdh/ { printf "speed_ecdh_per_s=%s\n", $NF }
	    /^rsa 2048 bits/ { printf "speed_rsa2048_sign_per_s=%s\n", $(NF-1) }' \
	    "$RUN/speed.txt" >>"$OUT/values"

	cat "$PKI/dtls.crt" "$PKI/dtls-chain.pem" >"$RUN/dtls-full.pem"
	"${PIN_SUT[@]}" "$B/estcoap-hsbench" -c "$RUN/dtls-full.pem" \
	    -k "$PKI/dtls.key" -C "$DEVS/dev-ca.crt" \
	    -d "$DEVS/dev-00000.crt" -K "$DEVS/dev-00000.key" \
	    -R "$OUT/server-trust.pem" -n "$(scaled 2000)" -w 50 \
	    >"$RAW/B0-hs.json" || return 1
	bench_value F_hs "$(jv "$RAW/B0-hs.json" .server_us)"
	say "in-process handshake: $(cat "$RAW/B0-hs.json")"

	bench_coap_server || return 1
	n=$(scaled 2000)
	bench_gen B0-new -p "$CS_PORT" -D "$DEVS" -s get -u / -S new -c 1 \
	    -N "$n" -t 60 -W "$CS_PID" || return 1
	bench_value L_new "$(cpu_per_op B0-new)"
	bench_value R_new "$(jv "$RAW/B0-new.json" .ok_per_s)"
	bench_gen B0-new4 -p "$CS_PORT" -D "$DEVS" -s get -u / -S new -c 4 \
	    -N "$n" -t 60 -W "$CS_PID" || return 1
	bench_value L_new4 "$(cpu_per_op B0-new4)"
	bench_value R_new4 "$(jv "$RAW/B0-new4.json" .ok_per_s)"
	n=$(scaled 20000)
	bench_gen B0-est -p "$CS_PORT" -D "$DEVS" -n 1 -d 1 -s get -u / \
	    -S reuse -P -c 1 -N "$n" -t 60 -W "$CS_PID" || return 1
	bench_value L_est "$(cpu_per_op B0-est)"
	bench_value R_est "$(jv "$RAW/B0-est.json" .ok_per_s)"
	bench_target B0.F_hs "in-process DTLS 1.2 handshake, server CPU" \
	    "$(bval F_hs)" µs - ">=" 0 "calibration (reference VM: 644-725 µs)"
	bench_target B0.L_new "coap-server-openssl new-session GET, server CPU" \
	    "$(bval L_new)" µs - ">=" 0 \
	    "calibration; $(bval R_new)/s sequential (reference VM: 1.86 ms)"
	bench_target B0.L_est "coap-server-openssl established GET, server CPU" \
	    "$(bval L_est)" µs - ">=" 0 \
	    "calibration; $(bval R_est)/s, one outstanding (reference VM: 27.5 µs)"
}
