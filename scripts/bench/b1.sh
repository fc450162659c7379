# shellcheck shell=bash
# B1 established-session forwarding (doc/bench/results.md): one DTLS session repeats
# GET /crts, one outstanding; variant "cached" answers from the crts cache,
# variant "forwarded" turns the cache off so every GET crosses the pooled
# HTTPS upstream.  Registrar CPU per request against L_est (B0).

bench_b1() {
	local n lest rest
	lest=$(bval L_est) rest=$(bval R_est)
	n=$(scaled 20000)
	bench_upstream up || return 1
	bench_registrar || return 1
	bench_gen B1-cached -p "$BENCH_PORT" -D "$DEVS" -n 1 -d 1 -s crts \
	    -S reuse -P -c 1 -N "$n" -t 60 -W "$REG_PID" || return 1
	bench_stop_all
	bench_upstream up || return 1
	bench_registrar ', "est": { "cache_ttl_s": 0 }' || return 1
	n=$(scaled 5000)
	bench_gen B1-fwd -p "$BENCH_PORT" -D "$DEVS" -n 1 -d 1 -s crts \
	    -S reuse -P -c 1 -N "$n" -t 60 -W "$REG_PID" -W "$UP_PID" || return 1
	bench_target B1.cached "registrar CPU per cached GET /crts" \
	    "$(cpu_per_op B1-cached)" µs "$lest" "<=" 2 \
	    "vs L_est (coap-server-openssl established GET, one request PDU); a GET /crts takes $(calc "$(jv "$RAW/B1-cached.json" .pdus_sent) / $(jv "$RAW/B1-cached.json" .ok)") request PDUs (Block2); $(gen_bound B1-cached)"
	bench_target B1.fwd "registrar CPU per forwarded GET /crts" \
	    "$(cpu_per_op B1-fwd)" µs "$lest" "<=" 4 \
	    "vs L_est; upstream $(cpu_per_op B1-fwd 1) µs/request; $(gen_bound B1-fwd)"
	bench_target B1.rate "cached GET /crts rate, one session" \
	    "$(jv "$RAW/B1-cached.json" .ok_per_s)" /s "$rest" ">=" 0.3 \
	    "vs the floor's established-GET rate; p99 $(jv "$RAW/B1-cached.json" .step.crts.latency.p99_ms) ms"
}
