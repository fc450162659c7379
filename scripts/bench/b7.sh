# shellcheck shell=bash
# B7 horizontal scale-out on one host (doc/bench/results.md): new-session
# enrollments (GET /crts + POST /sen, as B2) against one estcoapd process
# and against "service": { "workers": 2 }, both behind the nftables jhash
# spreader that `estcoapd -W` prints, inside a network namespace made for
# the run (unshare -n, lo up), so the host's ruleset is never touched.
# Registrar CPU per enrollment is the sum over the master and every
# worker (/proc, the generator's -W); throughput is aggregate, at equal
# concurrency. Then worker 1 is SIGKILLed mid-run: worker 0 must fail
# nothing (its /metrics), the exchanges lost with worker 1 are recorded,
# and so is the time until the master has it serving again.
#
# Form measured: nftables jhash DNAT (table inet estcoapd, output chain).
# Pinning: with >= 5 cores the workers get cores 0-1 of their own; with
# fewer they share the harness's SUT core, so throughput cannot scale
# (the >= 1.7x target needs >= 4 free cores) and only the CPU ratio says
# something.

# b7_ns CMD...: run CMD in the scenario's network namespace.
b7_ns() {
	nsenter -t "$B7_NS" -n "$@"
}

# b7_ready PORT: the worker on PORT answers GET /crts.
b7_ready() {
	local port=$1
	for _ in $(seq 1 50); do
		"$GEN" -q -a 127.0.0.1 -p "$port" -D "$DEVS" -n 1 \
		    -R "$OUT/server-trust.pem" -s crts -N 1 -T 2000 2>/dev/null |
		    jq -e '.ok == 1' >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# b7_spread: load the -W ruleset of the registrar's config in the namespace.
b7_spread() {
	"$B/estcoapd" -W -c "$RUN/estcoapd.json" >"$RUN/b7-workers.nft" &&
	    b7_ns nft -f "$RUN/b7-workers.nft"
}

# b7_cpu NAME FIRST LAST: registrar CPU per enrollment (µs) of one run,
# summed over the generator's watch entries FIRST..LAST.
b7_cpu() {
	local f=$RAW/$1.json
	calc "$(jq "[.watch[$2:$(($3 + 1))][].cpu_s] | add" "$f") * 1e6 / \
$(jv "$f" .ok)"
}

# b7_cpu_all PREFIX FIRST LAST: the same over rounds 1..3 pooled.
b7_cpu_all() {
	local cpu=0 ok=0 f
	for f in "$RAW/$1"-[123].json; do
		cpu=$(calc "$cpu + $(jq "[.watch[$2:$(($3 + 1))][].cpu_s] | add" \
"$f")")
		ok=$((ok + $(jv "$f" .ok)))
	done
	calc "$cpu * 1e6 / $ok"
}

# b7_w0_failed: requests worker 0 has answered with anything but 2.xx
# (its own /metrics, on B7_MP in the namespace).
b7_w0_failed() {
	b7_ns curl -s "http://127.0.0.1:$B7_MP/metrics" | awk '
	    /^estcoapd_requests_total\{/ && !/code="2\./ { s += $NF }
	    END { print s + 0 }'
}

bench_b7() {
	local n c rc=0 save_sut save_up save_gen save_gen_bin pids w0 w1
	local cpu1 cpu2 r1 r2 cores form note kfail kok restarted kpid round
	local f0 t0 back="" pairs rpairs cmed rmed
	form="nftables jhash DNAT (estcoapd -W) in a network namespace"
	if ! command -v nft >/dev/null 2>&1 || ! unshare -n true 2>/dev/null ||
	    ! command -v nsenter >/dev/null 2>&1; then
		bench_target B7.run "B7 needs nft, unshare -n and nsenter" "" "" \
		    - ">=" 1 "skipped: install nftables and run as root"
		return 0
	fi
	n=$(scaled 2000)
	c=8
	B7_MP=19684	# worker i: + i; the namespace is ours, nothing else binds
	unshare -n sleep 3600 &
	B7_NS=$!	# holds the namespace; not in BENCH_PIDS, killed below
	sleep 0.2
	if ! b7_ns ip link set lo up; then
		kill "$B7_NS"
		return 1
	fi

	# everything of this scenario runs in the namespace
	save_sut=("${PIN_SUT[@]}") save_up=("${PIN_UP[@]}")
	save_gen=("${PIN_GEN[@]}") save_gen_bin=$GEN
	if [ "$NCPU" -ge 5 ]; then
		PIN_SUT=(taskset -c 0-1) PIN_UP=(taskset -c 2)
		PIN_GEN=(taskset -c "3-$((NCPU - 1))")
		cores="workers on cores 0-1, upstream 2, generator 3-$((NCPU - 1))"
	else
		cores="$NCPU cores: registrar (every worker) and upstream on \
${SUT_CPUS:-any}, generator on ${GEN_CPUS:-any}"
	fi
	PIN_SUT=(nsenter -t "$B7_NS" -n "${PIN_SUT[@]}")
	PIN_UP=(nsenter -t "$B7_NS" -n "${PIN_UP[@]}")
	printf '#!/bin/sh\nexec nsenter -t %s -n %s "$@"\n' "$B7_NS" \
	    "$save_gen_bin" >"$RUN/b7-gen.sh"
	chmod +x "$RUN/b7-gen.sh"
	GEN=$RUN/b7-gen.sh

	# One process (workers = 1, behind the same kind of rule, mod 1) and
	# two workers (master + worker 0 + worker 1), alternated over three
	# rounds so that a drift in the machine's load hits both alike; the
	# CPU ratio is the median of the three side-by-side pairs.
	for round in 1 2 3; do
		[ "$rc" -eq 0 ] || break
		if bench_upstream up && bench_registrar && b7_spread &&
		    bench_gen "B7-w1-$round" -p "$BENCH_PORT" -D "$DEVS" \
		    -s crts,sen -S new -c "$c" -N "$n" -t 120 -W "$REG_PID" \
		    -W "$UP_PID"; then
			:
		else
			rc=1
		fi
		bench_stop_all
		b7_ns nft delete table inet estcoapd 2>/dev/null || true
		[ "$rc" -eq 0 ] || break
		w1=""
		if bench_upstream up &&
		    bench_registrar ", \"service\": { \"workers\": 2, \
\"metrics_port\": $B7_MP }" &&
		    b7_ready $((BENCH_PORT + 1)) && b7_spread; then
			pids=$(pgrep -P "$REG_PID" | sort -n | tr '\n' ' ')
			w0=$(echo "$pids" | cut -d' ' -f1)
			w1=$(echo "$pids" | cut -d' ' -f2)
		fi
		if [ -z "$w1" ] || ! bench_gen "B7-w2-$round" -p "$BENCH_PORT" \
		    -D "$DEVS" -s crts,sen -S new -c "$c" -N "$n" -t 120 \
		    -W "$REG_PID" -W "$w0" -W "$w1" -W "$UP_PID"; then
			rc=1
		fi
		[ "$round" -eq 3 ] && break	# keep the last one for the kill
		bench_stop_all
		b7_ns nft delete table inet estcoapd 2>/dev/null || true
	done
	if [ "$rc" -eq 0 ]; then
		cpu1=$(b7_cpu_all B7-w1 0 0)
		cpu2=$(b7_cpu_all B7-w2 0 2)
		pairs="" rpairs=""
		for round in 1 2 3; do
			pairs="$pairs $(calc "$(b7_cpu "B7-w2-$round" 0 2) / \
$(b7_cpu "B7-w1-$round" 0 0)")"
			rpairs="$rpairs $(calc "$(jv "$RAW/B7-w2-$round.json" \
.ok_per_s) / $(jv "$RAW/B7-w1-$round.json" .ok_per_s)")"
		done
		cmed=$(echo "$pairs" | tr ' ' '\n' | grep . | sort -g | sed -n 2p)
		rmed=$(echo "$rpairs" | tr ' ' '\n' | grep . | sort -g | sed -n 2p)
		r1=$(calc "($(jv "$RAW/B7-w1-1.json" .ok_per_s) + \
$(jv "$RAW/B7-w1-2.json" .ok_per_s) + $(jv "$RAW/B7-w1-3.json" .ok_per_s)) / 3")
		r2=$(calc "($(jv "$RAW/B7-w2-1.json" .ok_per_s) + \
$(jv "$RAW/B7-w2-2.json" .ok_per_s) + $(jv "$RAW/B7-w2-3.json" .ok_per_s)) / 3")
	fi

	# kill worker 1 mid-run: closed loop for ~8 s, the kill after 3 s
	if [ "$rc" -eq 0 ]; then
		bench_gen B7-kill -p "$BENCH_PORT" -D "$DEVS" -s crts,sen \
		    -S new -c "$c" -t 8 -T 3000 -W "$REG_PID" -W "$w0" &
		kpid=$!
		f0=$(b7_w0_failed)
		sleep 3
		t0=$(date +%s%N)
		kill -KILL "$w1" 2>/dev/null
		# worker 1's port answers again: the master has restarted it
		b7_ready $((BENCH_PORT + 1)) && back=$(( ($(date +%s%N) - t0) /
		    1000000 ))
		wait "$kpid" || rc=1
		f0=$(( $(b7_w0_failed) - f0 ))
		restarted=$(pgrep -P "$REG_PID" | wc -l)
	fi
	bench_stop_all
	b7_ns nft delete table inet estcoapd 2>/dev/null || true
	kill "$B7_NS" 2>/dev/null || true
	wait "$B7_NS" 2>/dev/null || true
	PIN_SUT=("${save_sut[@]}") PIN_UP=("${save_up[@]}")
	PIN_GEN=("${save_gen[@]}") GEN=$save_gen_bin
	[ "$rc" -eq 0 ] || return 1

	note="form: $form; $cores; $c in flight"
	bench_target B7.cpu "2 workers: registrar CPU per enrollment, ratio" \
	    "$cmed" × 1 "<=" 1.1 \
	    "median of 3 side-by-side pairs (${pairs# }) of $n enrollments; \
pooled $cpu2 µs (master + 2 workers) vs $cpu1 µs (1 process); $note; \
$(gen_bound B7-w2-3)"
	if [ "$NCPU" -ge 5 ]; then
		note="$note; $(gen_bound B7-w2-3)"
	else
		note="not measurable here: needs >= 4 free cores, this box has \
$NCPU and both workers share one; $note"
	fi
	bench_target B7.rate "2 workers: enrollments/s vs 1 process, ratio" \
	    "$rmed" × 1 ">=" 1.7 "median of 3 pairs (${rpairs# }); mean $r2/s \
vs $r1/s; $note"
	kfail=$(jv "$RAW/B7-kill.json" .failed)
	kok=$(jv "$RAW/B7-kill.json" .ok)
	bench_target B7.kill "worker 1 SIGKILLed mid-run: failed on worker 0" \
	    "$f0" "" - "<=" 0 \
	    "non-2.xx answers of the surviving worker during the 8 s run \
(its /metrics); $kok enrolled in the run"
	bench_target B7.kill_lost "enrollments lost to the kill (recorded)" \
	    "$kfail" "" - "<=" "" \
	    "those in flight on worker 1 ($c in flight in all) plus the new \
sessions hashed to it before it was back; each failed device gave up after \
3 s (-T) and its next session was re-hashed; $restarted workers running \
after"
	bench_target B7.recover "worker 1 serves again after SIGKILL" \
	    "${back:-}" ms - "<=" 93000 \
	    "restart back-off 100 ms + start-up, under load; goal: a device \
of the killed worker completes within MAX_TRANSMIT_WAIT (93 s) plus one \
handshake"
	bench_value B7_cpu_ratio "$cmed"
	bench_value B7_cpu1 "$cpu1"
	bench_value B7_cpu2 "$cpu2"
	bench_value B7_rate1 "$r1"
	bench_value B7_rate2 "$r2"
}
