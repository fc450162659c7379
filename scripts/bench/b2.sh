# shellcheck shell=bash
# B2 new-session enrollment (doc/bench/results.md): a new DTLS session per device,
# then GET /crts and POST /sen with its pre-made P-256 CSR (a separate
# response), closed loop.  Registrar CPU per enrollment against L_new and
# the rate against the floor's new-session GET rate at equal concurrency.

bench_b2() {
	local n lnew rnew4 cpu
	lnew=$(bval L_new) rnew4=$(bval R_new4)
	n=$(scaled 2000)
	bench_upstream up || return 1
	bench_registrar || return 1
	bench_gen B2 -p "$BENCH_PORT" -D "$DEVS" -s crts,sen -S new -c 4 \
	    -N "$n" -t 90 -W "$REG_PID" -W "$UP_PID" || return 1
	cpu=$(cpu_per_op B2)
	bench_target B2.cpu "registrar CPU per new-session enrollment" \
	    "$cpu" µs "$lnew" "<=" 0.5 \
	    "vs L_new (coap-server-openssl new-session GET; the goal is half of it); $(gen_cpu B2); $(gen_bound B2)"
	bench_target B2.cpu_abs "registrar CPU per enrollment (absolute)" \
	    "$cpu" µs - "<=" 1000 \
	    "goal 1.0 ms on the reference VM; absolute, machine-dependent"
	bench_target B2.rate "new-session enrollments/s, 4 in flight" \
	    "$(jv "$RAW/B2.json" .ok_per_s)" /s "$rnew4" ">=" 0.7 \
	    "vs the floor's new-session GET rate at 4 in flight; failed $(jv "$RAW/B2.json" .failed)"
	bench_value B2_rate "$(jv "$RAW/B2.json" .ok_per_s)"
	bench_value B2_cpu "$cpu"
}
