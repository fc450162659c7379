# shellcheck shell=bash
# B3 direct vs via the registrar (doc/bench/results.md): the same pre-made CSRs to the
# same upstream; direct = one fresh mutual-TLS HTTPS connection per device
# (estcoap-bench -m https), via = one new DTLS session per device through
# estcoapd (pooled keep-alive TLS upstream).  Saturated closed loop for the
# throughput and upstream CPU ratios, then an open-loop sweep of both paths
# at 25/50/75/100 % of the via saturation rate for latency vs load (the plot)
# and the added p50 at 50 % load.

bench_b3() {
	local n c=8 via direct rate pct r p50v p50d dat=$OUT/latency.dat secs
	n=$(scaled 2000)
	secs=$(awk -v s="$SCALE" 'BEGIN { v = 8 * s; print v < 3 ? 3 : v }')
	bench_upstream up || return 1
	bench_registrar || return 1
	bench_gen B3-via -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -c "$c" \
	    -N "$n" -t 90 -W "$REG_PID" -W "$UP_PID" || return 1
	bench_gen B3-direct -m https -U "https://localhost:$UP_PORT" -D "$DEVS" \
	    -s sen -c "$c" -N "$n" -t 90 -W "$UP_PID" || return 1
	via=$(jv "$RAW/B3-via.json" .ok_per_s)
	direct=$(jv "$RAW/B3-direct.json" .ok_per_s)
	bench_target B3.rate "via/direct enrollment throughput, $c in flight" \
	    "$via" /s "$direct" ">=" 0.5 \
	    "direct $direct/s; via failed $(jv "$RAW/B3-via.json" .failed), direct failed $(jv "$RAW/B3-direct.json" .failed); $(gen_bound B3-via)"
	bench_target B3.upcpu "upstream CPU per enrollment, via vs direct" \
	    "$(cpu_per_op B3-via 1)" µs "$(cpu_per_op B3-direct 0)" "<=" 0.5 \
	    "registrar CPU $(cpu_per_op B3-via 0) µs per enrollment via"
	bench_value B3_via_rate "$via"
	bench_value B3_direct_rate "$direct"

	# latency vs offered load, open loop; index 0 via, index 1 direct
	: >"$dat"
	for path in via direct; do
		echo "# $path: pct offered/s p50_ms p99_ms ok failed" >>"$dat"
		for pct in 25 50 75 100; do
			r=$(calc "$via * $pct / 100")
			[ "$(calc "$r < 1")" = 1 ] && r=1
			if [ "$path" = via ]; then
				bench_gen "B3-via-$pct" -p "$BENCH_PORT" -D "$DEVS" \
				    -s sen -S new -r "$r" -c 64 -t "$secs" || return 1
			else
				bench_gen "B3-direct-$pct" -m https \
				    -U "https://localhost:$UP_PORT" -D "$DEVS" -s sen \
				    -r "$r" -c 64 -t "$secs" || return 1
			fi
			f=$RAW/B3-$path-$pct.json
			# the via path's latency is the whole iteration (handshake + sen)
			echo "$pct $r $(jv "$f" .iteration.p50_ms) $(jv "$f" .iteration.p99_ms) $(jv "$f" .ok) $(jv "$f" .failed)" >>"$dat"
		done
		printf '\n\n' >>"$dat"
	done
	p50v=$(jv "$RAW/B3-via-50.json" .iteration.p50_ms)
	p50d=$(jv "$RAW/B3-direct-50.json" .iteration.p50_ms)
	bench_target B3.p50 "added p50 latency via, at 50 % load" \
	    "$(calc "$p50v - $p50d")" ms - "<=" 3 \
	    "p50 via $p50v ms (DTLS handshake + sen), direct $p50d ms (TLS handshake + POST) at $(calc "$via / 2")/s offered"
}
