# shellcheck shell=bash
# B6 sessions, churn, floods (doc/bench/results.md).
#  memory:  BENCH_B6_SESSIONS idle DTLS sessions (default 1000 5000 20000,
#           x scale), each after one GET /crts, added step by step on one
#           registrar; RSS per session from /proc (the plot memory.png);
#  reclaim: 3 cycles of sessions left without close_notify, idle timeout
#           5 s; live sessions (the estcoapd_dtls_sessions gauge) must return
#           to 0 and RSS must not grow after the first cycle;
#  flood:   ClientHellos from new source ports (of 127.0.0.2) at 10x the legitimate
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
	local n rate secs unf fl okf p99u p99f hs lim k j pids p up last have add ngen dead
	sizes=${BENCH_B6_SESSIONS:-"$(scaled 1000) $(scaled 5000) $(scaled 20000)"}
	: >"$dat"
	echo "# sessions rss_kb kb_per_session" >>"$dat"
	bench_upstream up || return 1
	# Sizes grow on one registrar: each step adds the sessions it lacks
	# with new generators while the earlier ones keep holding theirs.  One
	# generator holds at most (descriptor limit - 1024) sessions.
	lim=$(( $(ulimit -Hn) - 1024 ))
	[ "$lim" -le 5000 ] || lim=5000	# long session lists cost libcoap O(n)
	last=$(echo "$sizes" | tr ' ' '\n' | sort -n | tail -n1)
	REG_MAXIDLE=$((last + 1000)) REG_MAXSESS=$((last + 1000)) REG_IDLE=3600 \
	    bench_registrar || return 1
	sleep 1
	r0=$(rss_kb "$REG_PID")
	rm -f "$RUN/B6-hold" "$RAW"/B6-mem-*.json
	pids="" have=0 ngen=0
	for s in $(echo "$sizes" | tr ' ' '\n' | sort -n); do
		add=$((s - have))
		[ "$add" -gt 0 ] || continue
		k=$(( (add + lim - 1) / lim ))
		for j in $(seq 1 "$k"); do
			ngen=$((ngen + 1))
			"${PIN_GEN[@]}" timeout 1200 "$GEN" -L "B6-mem-$ngen" \
			    -R "$OUT/server-trust.pem" -o "$RAW/B6-mem-$ngen.json" \
			    -p "$BENCH_PORT" -D "$DEVS" -d $((add / k)) -s crts \
			    -S reuse -P -C 32 -c 64 -N $((add / k)) -H 1100 \
			    -F "$RUN/B6-hold" -t 600 -T 60000 \
			    2>"$RUN/B6-mem-$ngen.log" &
			pids="$pids $!"
			BENCH_PIDS="$BENCH_PIDS $!"
		done
		have=$((have + (add / k) * k))
		# every generator so far holds its sessions: sample the registrar
		# (stop waiting when one of them has died)
		dead=0
		for _ in $(seq 1 9000); do
			[ "$(cat "$RUN/B6-hold" 2>/dev/null | grep -c '^hold')" -ge "$ngen" ] && break
			for p in $pids; do kill -0 "$p" 2>/dev/null || dead=1; done
			[ "$dead" -eq 0 ] || break
			sleep 0.1
		done
		if [ "$dead" -ne 0 ]; then
			bench_target "B6.mem$s" "RSS per idle DTLS session at $s" n/a KB - "<=" 80 \
			    "a generator died while opening sessions; see build/bench/run/B6-mem-*.log"
			break
		fi
		sleep 2
		r1=$(rss_kb "$REG_PID")
		per=$(calc "($r1 - $r0) / $have")
		echo "$have $r1 $per" >>"$dat"
		bench_target "B6.mem$s" "RSS per idle DTLS session at $s" "$per" KB - "<=" 80 \
		    "$have sessions held by $ngen generator(s); RSS $(calc "$r0 / 1024") -> $(calc "$r1 / 1024") MB"
	done
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do wait "$p"; done
	up=$(cat "$RAW"/B6-mem-*.json | jq -s 'map(.prepared) | add')
	say "B6: $up of $have sessions were up ($(cat "$RAW"/B6-mem-*.json | jq -s 'map(.prepare_failed) | add') failed)"
	[ "${up:-0}" -eq "$have" ] || bench_target B6.memup "sessions up / wanted in the memory steps" \
	    "$(calc "${up:-0} / $have")" "" - ">=" 1 "the RSS per session above divides by the sessions wanted"
	bench_stop_all
	bench_upstream up || return 1

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
	secs=$(awk -v s="$SCALE" 'BEGIN { v = int(15 * s); print v < 5 ? 5 : v }')
	# a count, not a time, bounds the legitimate runs: every one finishes
	n=$(awk -v r="$rate" -v s="$secs" 'BEGIN { v = int(r * s); print v < 10 ? 10 : v }')
	bench_gen B6-unflooded -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -r "$rate" \
	    -c 64 -N "$n" -t $((secs + 60)) -T 20000 -W "$REG_PID" || return 1
	# from an address of its own: on one host its source ports would
	# otherwise be the devices' too, and libcoap hands a device's
	# ClientHello to a stalled handshake on the same address and port
	"${PIN_GEN[@]}" timeout 300 "$GEN" -m flood -B 127.0.0.2 -p "$BENCH_PORT" -c 20000 \
	    -r "$(calc "$rate * 10")" -t "$((secs + 2))" -L B6-flood \
	    -o "$RAW/B6-flood.json" 2>"$RUN/B6-flood.log" &
	fl=$!
	sleep 1
	bench_gen B6-flooded -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -r "$rate" \
	    -c 64 -N "$n" -t $((secs + 60)) -T 20000 -W "$REG_PID" || return 1
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
