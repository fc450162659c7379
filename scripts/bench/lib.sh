# shellcheck shell=bash
# Library of `make bench` (scripts/bench.sh sources it, then one
# scripts/bench/bN.sh per scenario).  It starts the processes of a
# scenario on loopback, pinned with taskset, runs build/estcoap-bench
# against them and records target rows.  Every process it starts is
# stopped by bench_stop_all (also on exit); every wait is bounded.
#
# Scenario scripts define bench_bN (N = 0..7) and use:
#   bench_upstream NAME [args]   est-testserver; sets UP_PORT, UP_PID
#   bench_upstream_mode "k=v"..  its mode file (delay_ms=..., status=...)
#   bench_registrar [json]       estcoapd on $BENCH_PORT; sets REG_PID
#   bench_coap_server            coap-server-openssl; sets CS_PORT, CS_PID
#   bench_gen OUT.json [args]    the generator, pinned; output to raw/
#   jv FILE EXPR                 one value of a JSON file (jq)
#   calc EXPR                    floating-point arithmetic (awk)
#   bench_target ...             one row of the results table
#   bench_value KEY VALUE        a figure later scenarios can read (bval)

BENCH_TOP=${BENCH_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B=$BENCH_TOP/build
OUT=${BENCH_OUT:-$B/bench}
RAW=$OUT/raw
RUN=$OUT/run			# configs, logs, pid files of this run
PKI=$OUT/pki
DEVS=$OUT/devs-p256
DEVS_RSA=$OUT/devs-rsa3072
GEN=$B/estcoap-bench
BENCH_PIDS=""

# Pinning: system under test and upstream on one core, generator on
# another, when there are >= 2.
NCPU=$(nproc 2>/dev/null || echo 1)
if [ "$NCPU" -ge 4 ]; then
	SUT_CPUS=0 UP_CPUS=1 GEN_CPUS=2-$((NCPU - 1))
elif [ "$NCPU" -ge 2 ]; then
	SUT_CPUS=0 UP_CPUS=0 GEN_CPUS=1
else
	SUT_CPUS="" UP_CPUS="" GEN_CPUS=""
fi

say() { echo "bench: $*" >&2; }

# PIN_SUT, PIN_UP, PIN_GEN: command prefixes (arrays) that pin to those
# cores; empty on one core.  Used as "${PIN_SUT[@]}" cmd & so that $! is
# the pid of cmd itself (taskset execs it).
PIN_SUT=() PIN_UP=() PIN_GEN=()
if [ -n "$SUT_CPUS" ] && command -v taskset >/dev/null; then
	PIN_SUT=(taskset -c "$SUT_CPUS")
	PIN_UP=(taskset -c "$UP_CPUS")
	PIN_GEN=(taskset -c "$GEN_CPUS")
fi

# Wait (up to $2 seconds) until a file contains a pattern.
bench_wait_for() {
	local file=$1 secs=$2 pat=$3
	for _ in $(seq 1 $((secs * 10))); do
		[ -f "$file" ] && grep -q -- "$pat" "$file" && return 0
		sleep 0.1
	done
	return 1
}

# A free UDP or TCP port on loopback.
bench_free_port() {
	local proto=$1 p
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 20000) + 30000 ))
		if ! ss -Hln"${proto:0:1}" "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

jv() { jq -r "$2" "$1"; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }

# bench_value KEY VALUE: remember a figure (B0 baselines) for later ones.
bench_value() {
	printf '%s=%s\n' "$1" "$2" >>"$OUT/values"
}
# bval KEY: a remembered figure (empty when missing).
bval() {
	sed -n "s/^$1=//p" "$OUT/values" 2>/dev/null | tail -n1
}

# bench_target ID WHAT VALUE UNIT BASELINE OP GOAL NOTE
#   ratio = VALUE / BASELINE (BASELINE "-" for an absolute goal);
#   met when ratio (or value) OP GOAL, OP one of <= >=.
bench_target() {
	local id=$1 what=$2 value=$3 unit=$4 base=$5 op=$6 goal=$7 note=${8:-}
	python3 - "$OUT/targets.jsonl" "$id" "$what" "$value" "$unit" "$base" \
	    "$op" "$goal" "$note" <<'PY'
import json, sys
out, tid, what, value, unit, base, op, goal, note = sys.argv[1:]
def num(s):
    try:
        return float(s)
    except ValueError:
        return None
v, b, g = num(value), num(base), num(goal)
ratio = v / b if v is not None and b not in (None, 0.0) else None
x = ratio if base != "-" else v
met = None
if x is not None and g is not None:
    met = x <= g if op == "<=" else x >= g
row = {"id": tid, "scenario": tid.split(".")[0], "what": what,
       "value": v, "unit": unit, "baseline": b, "ratio": ratio,
       "goal": ("ratio " if base != "-" else "") + op + " " + goal,
       "met": met, "note": note}
with open(out, "a") as f:
    f.write(json.dumps(row) + "\n")
print("bench: %-10s %-48s value=%s ratio=%s goal=%s met=%s" % (
    tid, what[:48], value, "%.3f" % ratio if ratio is not None else "-",
    row["goal"], met), file=sys.stderr)
PY
}

# Stop every process this run started, by its pid.
bench_stop_all() {
	local p
	for p in $BENCH_PIDS; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in $BENCH_PIDS; do
		for _ in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	BENCH_PIDS=""
}

# bench_upstream NAME [est-testserver args]: sets UP_PORT, UP_PID.  It
# trusts the registrar's RA certificate and the bench devices (direct).
bench_upstream() {
	local name=$1
	shift
	cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" "$DEVS/dev-ca.crt" \
	    "$DEVS_RSA/dev-ca.crt" >"$RUN/up-trust.pem" 2>/dev/null || true
	rm -f "$RUN/$name.port"
	: >"$RUN/$name.mode"
	"${PIN_UP[@]}" "$B/est-testserver" -p 0 -c "$PKI/upstream-chain.pem" \
	    -k "$PKI/upstream.key" -C "$RUN/up-trust.pem" \
	    -a "$PKI/est-ca.crt" -A "$PKI/est-ca.key" -b "$PKI/cacerts.pem" \
	    -P "$RUN/$name.port" -m "$RUN/$name.mode" "$@" \
	    2>"$RUN/$name.stderr" &
	UP_PID=$!
	UP_NAME=$name
	BENCH_PIDS="$BENCH_PIDS $UP_PID"
	bench_wait_for "$RUN/$name.port" 10 . || { say "upstream did not start"; return 1; }
	UP_PORT=$(cat "$RUN/$name.port")
}

# bench_upstream_mode "key=value"...: how the upstream answers from now.
bench_upstream_mode() {
	printf '%s\n' "$@" >"$RUN/$UP_NAME.mode"
}

# bench_registrar [extra top-level JSON members, with a leading comma]:
# estcoapd on $UP_PORT's upstream; sets BENCH_PORT, REG_PID.  Knobs:
# REG_UPCONN (upstream.max_connections), REG_IDLE (dtls.idle_timeout_s),
# REG_MAXSESS (dtls.max_sessions; the rate limit is off for the bench),
# REG_HS (dtls.max_handshakes), REG_LOG (log.level), REG_TIMEOUT_MS,
# REG_EXCH (limits.exchange_entries; default 0: devices repeat their CSRs
# across iterations, and every enrollment must reach the CA), REG_WRAP (a
# command prefix such as valgrind; REG_TRIES start-up probes 0.2 s apart),
# REG_RESUME (dtls.session_resumption; unset: the daemon's default),
# REG_SHED (limits.backlog_shed, default true).  BENCH_SUT: another
# estcoapd binary to measure (e.g. an older build, with this generator).
bench_registrar() {
	local extra=${1:-}
	local resume=""
	BENCH_PORT=$(bench_free_port udp)
	[ -z "${REG_RESUME:-}" ] ||
	    resume=$(printf ',\n\t\t"session_resumption": "%s"' "$REG_RESUME")
	cat "$DEVS/dev-ca.crt" "$DEVS_RSA/dev-ca.crt" "$PKI/root-ca.crt" \
	    "$PKI/est-ca.crt" >"$RUN/client-ca.pem" 2>/dev/null || true
	cat >"$RUN/estcoapd.json" <<JSON
{
	"listen": [ { "address": "127.0.0.1", "port": $BENCH_PORT } ],
	"dtls": {
		"cert": "$PKI/dtls.crt",
		"key": "$PKI/dtls.key",
		"chain": "$PKI/dtls-chain.pem",
		"client_ca": "$RUN/client-ca.pem",
		"idle_timeout_s": ${REG_IDLE:-60},
		"max_handshakes": ${REG_HS:-5000},
		"max_idle_sessions": ${REG_MAXIDLE:-100000},
		"max_sessions": ${REG_MAXSESS:-100000},
		"receive_buffer": ${REG_RCVBUF:-4194304}$resume
	},
	"upstream": {
		"url": "https://localhost:$UP_PORT",
		"client_cert": "$PKI/ra.crt",
		"client_key": "$PKI/ra.key",
		"ca": "$PKI/root-ca.crt",
		"max_connections": ${REG_UPCONN:-32},
		"timeout_ms": ${REG_TIMEOUT_MS:-30000}
	},
	"limits": {
		"max_pending": ${REG_PENDING:-20000},
		"max_pending_per_session": 4,
		"max_pending_per_device": 1024,
		"rate_per_source": 0,
		"backlog_shed": ${REG_SHED:-true},
		"exchange_entries": ${REG_EXCH:-0}
	},
	"log": { "level": "${REG_LOG:-warning}" }${extra}
}
JSON
	: >"$RUN/estcoapd.log"
	# shellcheck disable=SC2086
	"${PIN_SUT[@]}" ${REG_WRAP:-} "${BENCH_SUT:-$B/estcoapd}" -f \
	    -c "$RUN/estcoapd.json" \
	    >>"$RUN/estcoapd.log" 2>&1 &
	REG_PID=$!
	BENCH_PIDS="$BENCH_PIDS $REG_PID"
	# ready and the crts cache warm: a GET /crts answers 2.05
	for _ in $(seq 1 "${REG_TRIES:-50}"); do
		if "$GEN" -q -a 127.0.0.1 -p "$BENCH_PORT" -D "$DEVS" -n 1 \
		    -R "$OUT/server-trust.pem" -s crts -N 1 -T 2000 \
		    2>/dev/null | jq -e '.ok == 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$REG_PID" 2>/dev/null || break
		sleep 0.2
	done
	say "estcoapd did not answer crts; log:"
	tail -n 20 "$RUN/estcoapd.log" >&2
	return 1
}

# bench_coap_server: coap-server-openssl with mutual-auth PKI (the same
# certificate, key and device trust as estcoapd), DTLS on CS_PORT; it
# serves a static text at "/".  Sets CS_PID.  CS_WRAP, CS_TRIES: as
# REG_WRAP and REG_TRIES of bench_registrar.
bench_coap_server() {
	local p
	p=$(bench_free_port udp)
	CS_PORT=$((p + 1))
	# shellcheck disable=SC2086
	"${PIN_SUT[@]}" ${CS_WRAP:-} coap-server-openssl -A 127.0.0.1 -p "$p" \
	    -c "$PKI/dtls.crt" -j "$PKI/dtls.key" -R "$RUN/client-ca.pem" \
	    -v 0 >"$RUN/coap-server.log" 2>&1 &
	CS_PID=$!
	BENCH_PIDS="$BENCH_PIDS $CS_PID"
	for _ in $(seq 1 "${CS_TRIES:-50}"); do
		if "$GEN" -q -a 127.0.0.1 -p "$CS_PORT" -D "$DEVS" -n 1 \
		    -R "$OUT/server-trust.pem" -s get -u / -N 1 -T 2000 \
		    2>/dev/null | jq -e '.ok == 1' >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$CS_PID" 2>/dev/null || break
		sleep 0.2
	done
	say "coap-server-openssl did not answer"
	return 1
}

# bench_gen NAME [estcoap-bench args]: run the generator pinned, result in
# raw/NAME.json, stderr in run/NAME.log.  Fails when it fails.
bench_gen() {
	local name=$1
	shift
	say "run $name: estcoap-bench $*"
	"${PIN_GEN[@]}" timeout "${GEN_TIMEOUT:-900}" "$GEN" -L "$name" \
	    -R "$OUT/server-trust.pem" -o "$RAW/$name.json" "$@" \
	    2>"$RUN/$name.log" || {
		say "$name: generator failed; last lines:"
		tail -n 5 "$RUN/$name.log" >&2
		return 1
	}
	[ "$(jv "$RAW/$name.json" '.gen_cpu_pct')" != null ] || return 1
	say "$name: ok=$(jv "$RAW/$name.json" .ok)" \
	    "failed=$(jv "$RAW/$name.json" .failed)" \
	    "rate=$(jv "$RAW/$name.json" .ok_per_s)/s" \
	    "gen_cpu=$(jv "$RAW/$name.json" .gen_cpu_pct)%"
}

# gen_cpu NAME: the generator's own CPU over its timed phase, for a note
# (a generator near 100 % of its core measures itself, not the server).
gen_cpu() {
	echo "generator $(jv "$RAW/$1.json" .gen_cpu_pct) % CPU ($(jv "$RAW/$1.json" .contexts) contexts)"
}

# CALLGRIND: the prefix that runs a server under callgrind with its
# counting started and stopped by cg_zero and cg_count (deterministic
# instruction counts, unlike CPU time on a shared machine).
CALLGRIND="valgrind --tool=callgrind --callgrind-out-file=$RUN/callgrind.%p"

# cg_zero PID: start counting from here.
cg_zero() {
	callgrind_control -z "$1" >/dev/null
}

# cg_count PID: instructions since cg_zero (dumps a profile to run/).
cg_count() {
	local f
	rm -f "$RUN/callgrind.$1".*
	callgrind_control -d "$1" >/dev/null || return 1
	f=$(ls "$RUN/callgrind.$1".* 2>/dev/null | head -n1)
	[ -n "$f" ] && sed -n 's/^summary: //p' "$f"
}

# gen_bound NAME: a note when the generator used > 90 % of its core.
gen_bound() {
	local pct
	pct=$(jv "$RAW/$1.json" .gen_cpu_pct)
	awk -v p="$pct" 'BEGIN { exit !(p > 90) }' &&
	    echo "generator-bound ($pct % CPU)" || true
}

# cpu_per_op NAME [watch index] [ok|started]: watched CPU per op, in µs.
cpu_per_op() {
	local f=$RAW/$1.json i=${2:-0} what=${3:-ok}
	calc "$(jv "$f" ".watch[$i].cpu_s") * 1e6 / $(jv "$f" ".$what")"
}
