# shellcheck shell=bash
# B5 block-wise (doc/bench/results.md): a device on a kept DTLS session fetches crts
# (three certificates, Block2 from the cache) and enrolls with an RSA-3072
# CSR (~870 bytes: Block1) whose answer comes back separately (Block2), at
# block sizes 1024, 256 and 64 (SZX 6, 4, 2).  Rate at 64 against 1024,
# and the registrar CPU of each extra block exchange against L_est.

bench_b5() {
	local n szx lest r64 r1024 c64 c1024 p64 p1024
	lest=$(bval L_est)
	n=$(scaled 600)
	bench_upstream up || return 1
	bench_registrar || return 1
	for szx in 6 4 2; do
		bench_gen "B5-$szx" -p "$BENCH_PORT" -D "$DEVS_RSA" -n 64 -d 64 \
		    -s crts,sen -S reuse -P -C 16 -c 4 -N "$n" -b "$szx" -t 120 \
		    -W "$REG_PID" || return 1
	done
	r64=$(jv "$RAW/B5-2.json" .ok_per_s) r1024=$(jv "$RAW/B5-6.json" .ok_per_s)
	c64=$(cpu_per_op B5-2) c1024=$(cpu_per_op B5-6)
	p64=$(calc "$(jv "$RAW/B5-2.json" .pdus_sent) / $(jv "$RAW/B5-2.json" .ok)")
	p1024=$(calc "$(jv "$RAW/B5-6.json" .pdus_sent) / $(jv "$RAW/B5-6.json" .ok)")
	bench_target B5.rate "enrollment rate at 64-byte vs 1024-byte blocks" \
	    "$r64" /s "$r1024" ">=" 0.3 \
	    "crts + RSA-3072 sen on kept sessions; 256 B: $(jv "$RAW/B5-4.json" .ok_per_s)/s; PDUs per enrollment $p64 at 64 B, $p1024 at 1024 B; failed $(jv "$RAW/B5-2.json" .failed)"
	bench_target B5.block "registrar CPU per extra block exchange" \
	    "$(calc "($c64 - $c1024) / ($p64 - $p1024)")" µs "$lest" "<=" 2 \
	    "CPU per enrollment $c64 µs at 64 B, $c1024 µs at 1024 B; vs L_est"
}
