# shellcheck shell=bash
# B6 sessions, churn, floods (bench.md 6).
#  memory:  BENCH_B6_SESSIONS idle DTLS sessions (default 1000 5000 20000,
#           x scale), each after one GET /crts, on a fresh registrar; RSS per
#           session from /proc (the plot memory.png);
#  reclaim: 3 cycles of sessions left without close_notify, idle timeout
#           5 s; live sessions (the estcoapd_dtls_sessions gauge) must return
#           to 0 and RSS must not grow after the first cycle;
#  flood:   ClientHellos from new source ports at 10x the legitimate
#           handshake rate during new-session enrollments, with the daemon's
#           default dtls.max_handshakes (1000); legitimate success and p99
#           against an unflooded run.

# rss_kb PID: VmRSS of a process.
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

# gauge PORT NAME: one metric of the registrar's /metrics.
gauge() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
	    awk -v n="$2" '$1 == n { print $2 }'
}

bench_b6() {
	local sizes s r0 r1 per dat=$OUT/memory.dat mp c live rss worst=0 rssv=""
	local rate secs unf fl okf p99u p99f hs lim k j pids p up
	sizes=${BENCH_B6_SESSIONS:-"$(scaled 1000) $(scaled 5000) $(scaled 20000)"}
	: >"$dat"
	echo "# sessions rss_kb kb_per_session" >>"$dat"
	bench_upstream up || return 1
	# one generator holds at most (descriptor limit - 1024) sessions; more
	# sessions are split over several generators running at once
	lim=$(( $(ulimit -Hn) - 1024 ))
	for s in $sizes; do
		REG_MAXIDLE=$((s + 1000)) REG_IDLE=3600 bench_registrar || return 1
		sleep 1
		r0=$(rss_kb "$REG_PID")
		k=$(( (s + lim - 1) / lim ))
		rm -f "$RUN/B6-hold"
		pids=""
		for j in $(seq 1 "$k"); do
			"${PIN_GEN[@]}" timeout 900 "$GEN" -L "B6-mem-$s-$j" \
			    -R "$OUT/server-trust.pem" -o "$RAW/B6-mem-$s-$j.json" \
			    -p "$BENCH_PORT" -D "$DEVS" -d $((s / k)) -s crts -S reuse \
			    -P -C 32 -c 64 -N $((s / k)) -H 600 -F "$RUN/B6-hold" \
			    -t 600 -T 60000 2>"$RUN/B6-mem-$s-$j.log" &
			pids="$pids $!"
		done
		# all generators hold their sessions: sample, then let them go
		for _ in $(seq 1 9000); do
			[ "$(grep -c '^hold' "$RUN/B6-hold" 2>/dev/null)" -ge "$k" ] && break
			sleep 0.1
		done
		sleep 2
		r1=$(rss_kb "$REG_PID")
		for p in $pids; do kill -TERM "$p" 2>/dev/null; done
		for p in $pids; do wait "$p"; done
		up=$(cat "$RAW"/B6-mem-"$s"-*.json | jq -s 'map(.prepared) | add')
		[ "${up:-0}" -gt 0 ] || { say "B6: no sessions at $s"; return 1; }
		per=$(calc "($r1 - $r0) / $up")
		echo "$s $r1 $per" >>"$dat"
		bench_target "B6.mem$s" "RSS per idle DTLS session at $s" "$per" KB - "<=" 80 \
		    "$up sessions up ($k generator(s)); RSS $(calc "$r0 / 1024") -> $(calc "$r1 / 1024") MB"
		kill -TERM "$REG_PID"; wait "$REG_PID" 2>/dev/null
	done

	# reclaim over 3 cycles
	mp=$(bench_free_port tcp)
	c=$(scaled 1000)
	REG_IDLE=5 bench_registrar ", \"service\": { \"metrics_port\": $mp }" || return 1
	for cyc in 1 2 3; do
		bench_gen "B6-cycle-$cyc" -p "$BENCH_PORT" -D "$DEVS" -d "$c" -s crts \
		    -S reuse -P -C 64 -c 64 -N "$c" -t 300 -Q -W "$REG_PID" || return 1
		sleep 11		# idle timeout 5 s + the timer pass
		live=$(gauge "$mp" estcoapd_dtls_sessions)
		rss=$(rss_kb "$REG_PID")
		rssv="$rssv $rss"
		say "B6 cycle $cyc: live sessions ${live:-?}, RSS $rss KB"
		[ "${live:-1}" -gt "$worst" ] && worst=${live:-1}
	done
	set -- $rssv
	bench_target B6.reclaim "live sessions after the idle timeout (worst of 3 cycles)" \
	    "$worst" "" - "<=" 0 "$c sessions per cycle left without close_notify; idle_timeout_s 5"
	# the allocator keeps pages: judge the plateau after the first cycle
	bench_target B6.growth "RSS after cycle 3 / after cycle 2" "$(calc "$3 / $2")" "" - "<=" 1.05 \
	    "RSS after each cycle: $1 $2 $3 KB"
	bench_stop_all

	# flood during new-session enrollments
	bench_upstream up || return 1
	REG_HS=1000 bench_registrar || return 1
	rate=$(bval B2_rate)
	rate=$(calc "${rate:-40} / 2")
	secs=$(awk -v s="$SCALE" 'BEGIN { v = 15 * s; print v < 5 ? 5 : v }')
	bench_gen B6-unflooded -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -r "$rate" \
	    -c 64 -t "$secs" -T 20000 -W "$REG_PID" || return 1
	"${PIN_GEN[@]}" timeout 300 "$GEN" -m flood -p "$BENCH_PORT" -c 20000 \
	    -r "$(calc "$rate * 10")" -t "$((secs + 2))" -L B6-flood \
	    -o "$RAW/B6-flood.json" 2>"$RUN/B6-flood.log" &
	fl=$!
	sleep 1
	bench_gen B6-flooded -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -r "$rate" \
	    -c 64 -t "$secs" -T 20000 -W "$REG_PID" || return 1
	wait "$fl"
	unf=$RAW/B6-unflooded.json fl=$RAW/B6-flooded.json
	okf=$(calc "$(jv "$fl" .ok) / $(jv "$fl" .started)")
	p99u=$(jv "$unf" .iteration.p99_ms) p99f=$(jv "$fl" .iteration.p99_ms)
	hs=$(jv "$RAW/B6-flood.json" .started)
	bench_target B6.flood_ok "legitimate enrollments that succeed under flood" \
	    "$okf" "" - ">=" 0.99 \
	    "$(jv "$fl" .ok) of $(jv "$fl" .started) at $rate/s; flood $(calc "$rate * 10")/s: $hs hellos, $(jv "$RAW/B6-flood.json" .ok) got a ServerHello; dtls.max_handshakes 1000 (flood/limit $(calc "$hs / 1000")); errors $(jv "$fl" .errors | tr -d ' \n"')"
	bench_target B6.flood_p99 "legitimate p99 under flood vs unflooded" \
	    "$p99f" ms "$p99u" "<=" 2 "new session + sen; registrar CPU $(jv "$fl" '.watch[0].cpu_s') s flooded vs $(jv "$unf" '.watch[0].cpu_s') s"
}
