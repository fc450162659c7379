# shellcheck shell=bash
# B8 instructions per operation (callgrind): a deterministic figure next
# to the CPU times of B0-B2, which move by +-20 % on a shared machine.
# Each server runs under valgrind's callgrind; counting starts after the
# generator's set-up (and the server's warm-up: first handshake, crts
# cache, a pooled upstream connection) and covers N sequential operations:
#   I_new    coap-server-openssl: new DTLS session + GET (the floor of B0)
#   instr    estcoapd: new DTLS session + GET /crts + POST /sen (as B2)
#   full_M   estcoapd, dtls.session_resumption M: new session + sen
#   retry_M  the same device again on a new session offering its last one
#            (a retry after 5.03 + Max-Age by a device that closed its
#            session): resumed with cache or tickets, full with off
#   upconn   estcoapd, a sen on a kept DTLS session, when the upstream
#            closes its connection after every answer, less the same with
#            a pooled connection: one new upstream TLS connection
#   hello    estcoapd, a ClientHello from a new source port that never
#            returns the cookie (a spoofed source address cannot): what
#            each hello of a flood costs before any address is proven
#   stall    estcoapd, a ClientHello that returns the cookie and then
#            leaves once the server's flight arrives (B6's flood): the
#            handshake set-up, the flight and its retransmissions within
#            the counted run
# Devices retransmit on their own DTLS timers; a server slowed down by
# callgrind may see some, so each note counts them.

# b8_run NAME PID GEN-ARGS...: instructions of PID per operation of the
# generator, counted from the end of its set-up (-P) to its end.
b8_run() {
	local name=$1 pid=$2 gp n total
	shift 2
	rm -f "$RUN/$name.ready" "$RUN/$name.go"
	bench_gen "$name" -F "$RUN/$name.ready" -G "$RUN/$name.go" "$@" &
	gp=$!
	bench_wait_for "$RUN/$name.ready" 900 start || { wait "$gp"; return 1; }
	cg_zero "$pid" || return 1
	touch "$RUN/$name.go"
	wait "$gp" || return 1
	total=$(cg_count "$pid") || return 1
	n=$(jv "$RAW/$name.json" .ok)
	[ -n "$total" ] && [ "${n:-0}" -gt 0 ] || return 1
	calc "$total / $n"
}

# b8_flood NAME PID KIND N: instructions of PID per ClientHello of the
# generator's flood mode (-S KIND), N hellos at 20/s from new source ports;
# per hello sent, as the registrar works on every one that arrives.
b8_flood() {
	local name=$1 pid=$2 kind=$3 n=$4 gp total
	rm -f "$RUN/$name.ready" "$RUN/$name.go"
	"${PIN_GEN[@]}" timeout 600 "$GEN" -m flood -S "$kind" -L "$name" \
	    -p "$BENCH_PORT" -c 2000 -r 20 -N "$n" -t 300 \
	    -F "$RUN/$name.ready" -G "$RUN/$name.go" \
	    -o "$RAW/$name.json" 2>"$RUN/$name.log" &
	gp=$!
	bench_wait_for "$RUN/$name.ready" 60 start || { wait "$gp"; return 1; }
	cg_zero "$pid" || return 1
	touch "$RUN/$name.go"
	wait "$gp" || return 1
	# the last hellos' answers (and, stalled, a first retransmission)
	sleep 3
	total=$(cg_count "$pid") || return 1
	[ -n "$total" ] || return 1
	calc "$total / $(jv "$RAW/$name.json" .started)"
}

# b8_hello: the B8 rows of a ClientHello flood (B6), per hello.
b8_hello() {
	local n i
	n=$(scaled 400)
	[ "$n" -ge 100 ] || n=100
	bench_upstream up || return 1
	REG_WRAP=$CALLGRIND REG_TRIES=150 bench_registrar || return 1
	bench_gen B8-warm-hello -p "$BENCH_PORT" -D "$DEVS" -s crts -S new -c 1 \
	    -N 2 -t 120 -T 20000 || return 1
	i=$(b8_flood B8-hello "$REG_PID" nocookie "$n") || return 1
	bench_target B8.hello "registrar instructions per cookie-less ClientHello" \
	    "$(calc "$i / 1e3")" K - "<=" "" \
	    "callgrind; $n hellos at 20/s from new source ports that never return the cookie; $(jv "$RAW/B8-hello.json" .ok) HelloVerifyRequests came back"
	i=$(b8_flood B8-stall "$REG_PID" stall "$(( n / 4 ))") || return 1
	bench_stop_all
	bench_target B8.stall "registrar instructions per ClientHello that returns the cookie, then stalls" \
	    "$(calc "$i / 1e3")" K - "<=" "" \
	    "callgrind; $(( n / 4 )) at 20/s, each leaving at the server's flight; the count includes the flights' retransmissions until 3 s after the last; $(jv "$RAW/B8-stall.json" .ok) ServerHellos came back"
}

# b8_note NAME: the count and the retransmissions of a run.
b8_note() {
	echo "callgrind, $(jv "$RAW/$1.json" .ok) sequential; $(jv "$RAW/$1.json" .resumed) resumed; $(jv "$RAW/$1.json" .retransmits) retransmissions"
}

bench_b8() {
	local n nm ics ireg full retry m
	command -v callgrind_control >/dev/null || {
		say "B8: no valgrind (callgrind_control); skipped"
		return 1
	}
	n=$(scaled 100)
	[ "$n" -ge 20 ] || n=20
	nm=$(scaled 40)
	[ "$nm" -ge 10 ] || nm=10

	CS_WRAP=$CALLGRIND CS_TRIES=150 bench_coap_server || return 1
	ics=$(b8_run B8-cs "$CS_PID" -p "$CS_PORT" -D "$DEVS" -s get -u / \
	    -S new -c 1 -N "$n" -t 600 -T 20000) || return 1
	bench_stop_all
	bench_value I_new "$ics"
	bench_target B8.I_new "coap-server-openssl instructions per new-session GET" \
	    "$(calc "$ics / 1e6")" M - "<=" "" "$(b8_note B8-cs)"

	bench_upstream up || return 1
	REG_WRAP=$CALLGRIND REG_TRIES=150 bench_registrar || return 1
	# the upstream connection is pooled before counting starts
	bench_gen B8-warm -p "$BENCH_PORT" -D "$DEVS" -s crts,sen -S new -c 1 \
	    -N 4 -t 120 -T 20000 || return 1
	ireg=$(b8_run B8-reg "$REG_PID" -p "$BENCH_PORT" -D "$DEVS" \
	    -s crts,sen -S new -c 1 -N "$n" -t 900 -T 20000) || return 1
	bench_stop_all
	bench_value I_enroll "$ireg"
	bench_target B8.instr "registrar instructions per new-session enrollment" \
	    "$(calc "$ireg / 1e6")" M - "<=" 6 \
	    "crts + sen; $(calc "$ireg / $ics") x coap-server-openssl's new-session GET; $(b8_note B8-reg)"

	bench_upstream up || return 1
	REG_WRAP=$CALLGRIND REG_TRIES=150 bench_registrar || return 1
	bench_gen B8-warm-up -p "$BENCH_PORT" -D "$DEVS" -s sen -S new -c 1 \
	    -N 4 -t 120 -T 20000 || return 1
	full=$(b8_run B8-up-pooled "$REG_PID" -p "$BENCH_PORT" -D "$DEVS" \
	    -n 1 -d 1 -s sen -S reuse -P -c 1 -N "$nm" -t 900 -T 20000) ||
	    return 1
	bench_upstream_mode "close=1"
	retry=$(b8_run B8-up-fresh "$REG_PID" -p "$BENCH_PORT" -D "$DEVS" \
	    -n 1 -d 1 -s sen -S reuse -P -c 1 -N "$nm" -t 900 -T 20000) ||
	    return 1
	bench_stop_all
	bench_target B8.upconn "registrar instructions per new upstream TLS connection" \
	    "$(calc "($retry - $full) / 1e6")" M - "<=" "" \
	    "sen on a kept DTLS session: $(calc "$retry / 1e6") M with a new connection each (the upstream closes it; libcurl resumes its TLS session), $(calc "$full / 1e6") M pooled; $(b8_note B8-up-fresh)"

	for m in ${BENCH_B8_RESUME-cache tickets off}; do
		bench_upstream up || return 1
		REG_RESUME=$m REG_WRAP=$CALLGRIND REG_TRIES=150 bench_registrar ||
		    return 1
		bench_gen "B8-warm-$m" -p "$BENCH_PORT" -D "$DEVS" -s sen -S new \
		    -c 1 -N 4 -t 120 -T 20000 || return 1
		full=$(b8_run "B8-full-$m" "$REG_PID" -p "$BENCH_PORT" -D "$DEVS" \
		    -s sen -S new -c 1 -N "$nm" -t 900 -T 20000) || return 1
		# each device: a full handshake in the set-up, then one retry
		retry=$(b8_run "B8-retry-$m" "$REG_PID" -p "$BENCH_PORT" \
		    -D "$DEVS" -n "$nm" -d "$nm" -s sen -S resume -P -C 1 -c 1 \
		    -N "$nm" -t 900 -T 20000) || return 1
		bench_stop_all
		bench_target "B8.full_$m" "registrar instructions, new session + sen, resumption $m" \
		    "$(calc "$full / 1e6")" M - "<=" "" "$(b8_note "B8-full-$m")"
		bench_target "B8.retry_$m" "registrar instructions, retry on a new session + sen, resumption $m" \
		    "$(calc "$retry / 1e6")" M - "<=" "" \
		    "$(calc "$retry / $full") x the full one; $(b8_note "B8-retry-$m")"
	done
	b8_hello
}
