# shellcheck shell=bash
# B9 per-datagram cost against open sessions and pending requests: the
# registrar's CPU per received datagram of a steady load (BENCH_B9_LOAD
# kept sessions, default 64, each asking GET /crts from the cache, two
# Block2 exchanges, with one request in flight) while
#   idle:    S other DTLS sessions are open and idle (held by generators),
#   pending: S other devices each wait for a sen the upstream answers only
#            after 60 s (their requests pending in the registrar),
# for S in BENCH_B9_SIZES (default 100 1000 5000, x scale).  libcoap 4.3.1
# walks every session and pending async per pass; the cost at the largest
# S must stay within 2x the cost at the smallest.

# b9_measure NAME: the light load for a few seconds; prints µs per
# datagram received by the registrar (its CPU / request PDUs sent).
b9_measure() {
	local secs
	secs=$(awk -v s="$SCALE" 'BEGIN { v = 6 * s; print v < 2 ? 2 : v }')
	bench_gen "$1" -p "$BENCH_PORT" -D "$DEVS" -n "$B9_LOAD" -d "$B9_LOAD" \
	    -s crts -S reuse -P -c "$B9_LOAD" -t "$secs" -T 20000 \
	    -W "$REG_PID" >/dev/null || return 1
	calc "$(jv "$RAW/$1.json" '.watch[0].cpu_s') * 1e6 / $(jv "$RAW/$1.json" .pdus_sent)"
}

# b9_waitfor FILE COUNT PIDS: until FILE has COUNT "hold" lines (or one
# of PIDS died, or 10 minutes passed).
b9_waitfor() {
	local file=$1 want=$2 pids=$3 p
	for _ in $(seq 1 6000); do
		[ "$(grep -c '^hold' "$file" 2>/dev/null)" -ge "$want" ] && return 0
		for p in $pids; do kill -0 "$p" 2>/dev/null || return 1; done
		sleep 0.1
	done
	return 1
}

# b9_gauge NAME: one gauge of the registrar's /metrics.
b9_gauge() {
	curl -s --max-time 5 "http://127.0.0.1:$B9_MP/metrics" |
	    awk -v n="$1" '$1 == n { print $2 }'
}

bench_b9() {
	local sizes s have=0 add pids="" ngen=0 us first="" last p v note
	sizes=${BENCH_B9_SIZES:-"$(scaled 100) $(scaled 1000) $(scaled 5000)"}
	B9_LOAD=${BENCH_B9_LOAD:-64}
	sizes=$(echo "$sizes" | tr ' ' '\n' | sort -n | tr '\n' ' ')
	last=$(echo "$sizes" | awk '{ print $NF }')
	B9_MP=$(bench_free_port tcp)

	# idle sessions, added step by step on one registrar
	bench_upstream up || return 1
	REG_MAXIDLE=$((last + 1000)) REG_MAXSESS=$((last + 1000)) REG_IDLE=3600 \
	    bench_registrar ", \"service\": { \"metrics_port\": $B9_MP }" || return 1
	rm -f "$RUN/B9-hold"
	for s in $sizes; do
		add=$((s - have))
		if [ "$add" -gt 0 ]; then
			ngen=$((ngen + 1))
			"${PIN_GEN[@]}" timeout 1200 "$GEN" -q -L "B9-hold-$ngen" \
			    -R "$OUT/server-trust.pem" -o "$RAW/B9-hold-$ngen.json" \
			    -p "$BENCH_PORT" -D "$DEVS" -d "$add" -s crts -S reuse -P \
			    -C 32 -c 64 -N "$add" -H 1100 -F "$RUN/B9-hold" -t 600 \
			    -T 60000 2>"$RUN/B9-hold-$ngen.log" &
			pids="$pids $!"
			BENCH_PIDS="$BENCH_PIDS $!"
			b9_waitfor "$RUN/B9-hold" "$ngen" "$pids" || {
				say "B9: a holding generator died"
				return 1
			}
			have=$s
		fi
		sleep 1
		v=$(b9_gauge estcoapd_dtls_sessions)
		us=$(b9_measure "B9-idle-$s") || return 1
		[ -n "$first" ] || first=$us
		note="$v DTLS sessions open (the gauge), $(jv "$RAW/B9-idle-$s.json" .pdus_sent) request datagrams; $(gen_cpu "B9-idle-$s")"
		if [ "$s" = "$last" ]; then
			bench_target "B9.idle$s" "registrar CPU per datagram, $s idle sessions" \
			    "$us" µs "$first" "<=" 2 "$note; vs the first size"
		else
			bench_target "B9.idle$s" "registrar CPU per datagram, $s idle sessions" \
			    "$us" µs - "<=" "" "$note"
		fi
	done
	bench_stop_all

	# pending requests: a fresh pair per size, the upstream turned slow
	# once the crts cache is warm; the waiting devices close their
	# sessions when stopped, which cancels their requests
	first=""
	for s in $sizes; do
		bench_upstream up || return 1
		REG_UPCONN=32 REG_PENDING=$((last * 2)) REG_TIMEOUT_MS=60000 REG_SHED=false \
		    REG_IDLE=3600 REG_MAXIDLE=$((last + 1000)) REG_MAXSESS=$((last + 1000)) \
		    bench_registrar ", \"service\": { \"metrics_port\": $B9_MP }" || return 1
		bench_upstream_mode "delay_ms=60000"
		rm -f "$RUN/B9-wait"
		"${PIN_GEN[@]}" timeout 600 "$GEN" -q -L "B9-wait-$s" \
		    -R "$OUT/server-trust.pem" -o "$RAW/B9-wait-$s.json" \
		    -p "$BENCH_PORT" -D "$DEVS" -d "$s" -s sen -S reuse -P -C 32 \
		    -c "$s" -N "$s" -t 300 -T 120000 -F "$RUN/B9-wait" \
		    2>"$RUN/B9-wait-$s.log" &
		p=$!
		BENCH_PIDS="$BENCH_PIDS $p"
		v=0
		for _ in $(seq 1 400); do
			v=$(b9_gauge estcoapd_pending_requests)
			[ "${v:-0}" -ge "$s" ] && break
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		us=$(b9_measure "B9-pend-$s") || return 1
		v="$v..$(b9_gauge estcoapd_pending_requests)"
		[ -n "$first" ] || first=$us
		note="pending requests (the gauge, before..after) $v, $(jv "$RAW/B9-pend-$s.json" .pdus_sent) request datagrams; $(gen_cpu "B9-pend-$s")"
		if [ "$s" = "$last" ]; then
			bench_target "B9.pend$s" "registrar CPU per datagram, $s pending requests" \
			    "$us" µs "$first" "<=" 2 "$note; vs the first size"
		else
			bench_target "B9.pend$s" "registrar CPU per datagram, $s pending requests" \
			    "$us" µs - "<=" "" "$note"
		fi
		bench_stop_all
	done
}
