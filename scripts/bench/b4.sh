# shellcheck shell=bash
# B4 slow upstream and a crowd (doc/bench/results.md): the upstream answers after
# 5 s; a tenth of BENCH_B4_DEVICES (row B4-1k, first reply p99 <= 100 ms),
# then BENCH_B4_DEVICES devices (default 10,000 x scale, row B4, first
# reply p99 <= 1 s) first open their DTLS sessions, then all send sen at
# once (each its own CSR, made in process); the registrar's upstream pool
# is capped at 512 connections.
# Every device must get its first reply (empty ACK, or a piggybacked 5.03)
# fast and then its certificate or a 5.03 + Max-Age - none may time out.
# Variant: upstream 202 + Retry-After: 10 must become 5.03 + Max-Age 10.
# CPU (row .cpu): before each crowd, on the same registrar, devices send
# sen one at a time on open sessions with the upstream answering at once
# (no crowd); the registrar's CPU per device in the burst must stay within
# 2x that CPU per sen.  Most of the big crowd gets 5.03 + Max-Age, which
# is cheaper than a certificate: the note also gives the burst's CPU per
# certificate-bearing answer.
# Note: 10,000 datagrams at once overflow a default UDP receive buffer
# (net.core.rmem_default, 208 KB: a few hundred records); the drops show
# as CoAP retransmissions and late first replies (nstat UdpRcvbufErrors).

# One crowd of $1 devices, its figures under the target names $2.*; $3:
# the goal of its first-reply p99 in ms.
b4_crowd() {
	local d=$1 tag=$2 first_goal=$3 f out solo nsolo burst
	bench_upstream up || return 1
	# a receive buffer for the whole burst (about 1.5 KB of kernel memory
	# per queued datagram): without it the kernel drops part of it
	REG_RCVBUF=$(( d * 2048 > 4194304 ? d * 2048 : 4194304 )) \
	REG_UPCONN=512 REG_PENDING=$((d + 1000)) REG_TIMEOUT_MS=30000 REG_IDLE=900 \
	    bench_registrar || return 1
	# no crowd: sen one at a time on open sessions, the upstream at once
	nsolo=$(scaled 1000)
	bench_gen "$tag-solo" -p "$BENCH_PORT" -D "$DEVS" -d 20 -g p256 \
	    -s sen -S reuse -P -c 1 -N "$nsolo" -t 120 -T 20000 \
	    -W "$REG_PID" || return 1
	solo=$(cpu_per_op "$tag-solo")
	bench_upstream_mode "delay_ms=5000"
	GEN_TIMEOUT=600 bench_gen "$tag" -p "$BENCH_PORT" -D "$DEVS" -d "$d" -g p256 \
	    -s sen -S reuse -P -C 64 -c "$d" -N "$d" -t 300 -T 60000 \
	    -W "$REG_PID" -W "$UP_PID" || return 1
	f=$RAW/$tag.json
	burst=$(calc "$(jv "$f" '.watch[0].cpu_s') * 1e6 / $d")
	out=$(python3 - "$f" "$d" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); d = int(sys.argv[2])
s = r["step"]["sen"]; c = s["codes"]
cert = c.get("2.04", 0); busy = c.get("5.03", 0)
answered = cert + busy
w = r["watch"][0]
growth = max(w["rss_max_kb"] - w["rss0_kb"], 0)
budget = 100 * d + 64 * 512
# CPU while everyone waits: the longest run of timeline seconds with
# requests in flight and no answer arriving
tl = r["timeline"]; best = (0, 0.0)
i = 0
while i < len(tl) - 1:
    j = i
    while j + 1 < len(tl) and tl[j + 1][1] + tl[j + 1][2] == tl[i][1] + tl[i][2] \
            and tl[j + 1][3] > 0:
        j += 1
    if j > i and tl[j][0] - tl[i][0] > best[0]:
        best = (tl[j][0] - tl[i][0], 100 * (tl[j][4] - tl[i][4]) / (tl[j][0] - tl[i][0]))
    i = j + 1 if j > i else i + 1
# a quiet window shorter than 2 s says nothing: n/a
print(cert, busy, answered / d if d else 0, growth, budget,
      growth / budget if budget else 0, "%.1f" % best[0],
      "%.2f" % best[1] if best[0] >= 2 else "n/a",
      r["retransmits"], r["pdus_sent"], s["first_reply"]["p99_ms"],
      s["empty_ack"]["p99_ms"], json.dumps(r["errors"]).replace(" ", ""),
      json.dumps(s["maxage_503"]).replace(" ", ""), r["prepared"])
PY
) || return 1
	set -- $out
	bench_target "$tag.answered" "devices answered (certificate or 5.03 + Max-Age)" \
	    "$3" "" - ">=" 1 \
	    "$d devices (${15} sessions prepared): $1 certificates, $2 x 5.03 (Max-Age $(echo "${14}" | tr -d '{}"')); errors ${13}"
	bench_target "$tag.first" "first reply p99 (empty ACK or 5.03)" "${11}" ms - "<=" "$first_goal" \
	    "empty ACK p99 ${12} ms; $(gen_cpu "$tag")"
	bench_target "$tag.retrans" "CoAP retransmissions / PDUs" \
	    "$(calc "$9 / ${10}")" "" - "<=" 0.01 "$9 retransmissions of ${10} PDUs"
	bench_target "$tag.rss" "registrar RSS growth / budget" "$6" "" - "<=" 1 \
	    "$(calc "$4 / 1024") MB growth; budget 100 KB x $d pending + 64 KB x 512 connections = $(calc "$5 / 1024") MB"
	bench_target "$tag.idlecpu" "registrar CPU while the crowd waits" "$8" "% of a core" - "<=" 5 \
	    "over the longest quiet window ($7 s) of the run"
	bench_target "$tag.cpu" "registrar CPU per device in the burst vs per sen, no crowd" \
	    "$burst" µs "$solo" "<=" 2 \
	    "no crowd: $solo µs per sen ($(jv "$RAW/$tag-solo.json" .ok) of $nsolo sequential sen on 20 open sessions, upstream at once); burst: $(jv "$f" '.watch[0].cpu_s') s for $d devices, $(calc "$(jv "$f" '.watch[0].cpu_s') * 1e6 / ($1 > 0 ? $1 : 1)") µs per certificate-bearing answer ($1 certificates, $2 x 5.03 + Max-Age)"
	bench_stop_all
}

bench_b4() {
	local d=${BENCH_B4_DEVICES:-$(scaled 10000)}

	# a tenth of the crowd first: where the registrar alone is the limit
	b4_crowd "$(( d / 10 < 1 ? 1 : d / 10 ))" B4-1k 100 || return 1
	b4_crowd "$d" B4 1000 || return 1

	# 202 + Retry-After 10 -> 5.03 + Max-Age 10, on a fresh pair (the
	# upstream turns to 202 once the registrar's crts cache is warm)
	bench_upstream up || return 1
	bench_registrar || return 1
	bench_upstream_mode "status=202" "retry_after=10"
	bench_gen B4-202 -p "$BENCH_PORT" -D "$DEVS" -d 20 -s sen -S new -c 4 \
	    -N 20 -t 60 || return 1
	bench_target B4.202 "upstream 202 + Retry-After 10 -> 5.03 + Max-Age 10" \
	    "$(jv "$RAW/B4-202.json" '(.step.sen.maxage_503."10" // 0) / 20')" "" - ">=" 1 \
	    "codes $(jv "$RAW/B4-202.json" .step.sen.codes | tr -d ' \n"'); Max-Age $(jv "$RAW/B4-202.json" .step.sen.maxage_503 | tr -d ' \n"')"
}
