# shellcheck shell=bash
# Integration test library: sourced by every tests/integration/cases/*.sh.
# Each case gets a temp dir, a real mutual-TLS EST upstream
# (build/est-testserver), the real daemon, and talks to it with Debian's
# coap-client-openssl (or build/estcoap-probe). Loopback only. A failing
# case dumps the logs; exit 77 means skipped.
set -eu
# keys made by a case are private, as estcoapd requires (world-readable
# private keys are refused)
umask 077

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}		# build/ or build/asan/
TOOLS=${TOOLS:-$TOP/build}		# est-testserver, estcoap-probe
PKI=${PKI:-$TOP/build/test-pki}
COAP_CLIENT=${COAP_CLIENT:-coap-client-openssl}
# the Subject of the default device ($PKI/device.crt): a CSR it sends must
# carry it (auth.csr_identity "subject", the default)
DEV_SUBJ="/O=Example Manufacturer/serialNumber=SN-0001/CN=device-0001"
T=$(mktemp -d "${TMPDIR:-/tmp}/estcoapd-case.XXXXXX")
CASE=$(basename "$0" .sh)
DAEMON_PID=""
UPSTREAM_PIDS=""
# seconds the daemon may take to start and to stop; a tool is slower
START_SECS=${START_SECS:-$([ -n "${DAEMON_WRAP:-}" ] && echo 60 || echo 10)}
NCHECK=0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Print the logs of a failed case.
dump_logs() {
	for f in "$T"/daemon.log "$T"/up*.stderr "$T"/up*.req "$T"/extra-*.log; do
		[ -f "$f" ] || continue
		echo "---- $f (last 60 lines)"
		tail -n 60 "$f"
	done
}

# Stop what we started; a daemon that does not exit cleanly fails the case.
cleanup() {
	rc=$?
	if [ -n "$DAEMON_PID" ]; then
		stop_daemon || rc=1
	fi
	for p in $UPSTREAM_PIDS; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		dump_logs
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT

fail() {
	echo "FAIL [$CASE]: $*" >&2
	exit 1
}

skip() {
	echo "SKIP [$CASE]: $*" >&2
	exit 77
}

# A count of passed assertions for the summary line. A check that
# implements a case of doc/conformance.md names it ("case 27: ..."); with
# CASE_TAGS set (run.sh sets it) each "case N" goes to that file as
# "N <case file>" for the coverage gate (tests/integration/coverage.sh).
ok() {
	local s=$*
	NCHECK=$((NCHECK + 1))
	[ -z "${VERBOSE:-}" ] || echo "ok [$CASE]: $*"
	[ -n "${CASE_TAGS:-}" ] || return 0
	while [[ $s =~ (^|[^[:alnum:]])case\ ([0-9]+)(.*)$ ]]; do
		echo "${BASH_REMATCH[2]} $CASE" >>"$CASE_TAGS"
		s=${BASH_REMATCH[3]}
	done
}

# A free UDP or TCP port on loopback (checked against what is bound now).
# Below Linux's ephemeral range (32768-60999): a client socket of another
# test (a load generator opens thousands) can never take it meanwhile.
# Each call gives the port 10 after the one before (from a random start),
# so one case never gets a port twice and PORT + 1 .. PORT + 9 (a second
# listener, the ports of workers) are nobody else's; cases that run.sh
# runs side by side (CASE_SLOT 0, 1, ...) draw from disjoint ranges of
# 4000 ports.
free_port() {
	local proto=$1 lo=12000 n=20000 off p
	if [ -n "${CASE_SLOT:-}" ]; then
		lo=$((12000 + (CASE_SLOT % 5) * 4000))
		n=4000
	fi
	# a file: $(free_port) runs in a subshell
	off=$(cat "$T/.port" 2>/dev/null || echo $((RANDOM % (n - 100))))
	for _ in $(seq 1 50); do
		off=$(( (off + 10) % (n - 100) ))
		p=$((lo + off))
		if ! ss -Han"${proto:0:1}" "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$off" >"$T/.port"
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Wait (up to $2 seconds) until a file contains a pattern.
wait_for() {
	local file=$1 secs=$2 pat=$3 i
	for i in $(seq 1 $((secs * 10))); do
		if [ -f "$file" ] && grep -q -- "$pat" "$file"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# wait_more FILE SECS PATTERN N: until PATTERN occurs more than N times.
wait_more() {
	local file=$1 secs=$2 pat=$3 n=$4
	for _ in $(seq 1 $((secs * 10))); do
		[ "$(grep -c -- "$pat" "$file" 2>/dev/null || true)" -gt "$n" ] &&
		    return 0
		sleep 0.1
	done
	return 1
}

# start_upstream NAME [extra est-testserver args]: sets UP_PORT_<NAME>.
start_upstream() {
	local name=$1
	shift
	cat "$PKI/est-ca.crt" "$PKI/root-ca.crt" >"$T/ra-trust.pem"
	"$TOOLS/est-testserver" -p 0 -c "$PKI/upstream-chain.pem" \
	    -k "$PKI/upstream.key" -C "$T/ra-trust.pem" \
	    -a "$PKI/est-ca.crt" -A "$PKI/est-ca.key" -b "$PKI/cacerts.pem" \
	    -P "$T/$name.port" -l "$T/$name.req" -m "$T/$name.mode" "$@" \
	    2>"$T/$name.stderr" &
	UPSTREAM_PIDS="$UPSTREAM_PIDS $!"
	wait_for "$T/$name.port" 10 . || fail "upstream $name did not start"
	eval "UP_PORT_$name=$(cat "$T/$name.port")"
	: >>"$T/$name.req"
}

# upstream_mode NAME "key=value" ...: behaviour of the next requests.
upstream_mode() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$T/$name.mode"
}

# upstream_count NAME [pattern]: requests the upstream has seen.
upstream_count() {
	grep -c -- "${2:-.}" "$T/$1.req" || true
}

# write_config URL [extra JSON members for the top level, with a comma]
write_config() {
	local url=$1 extra=${2:-}
	PORT=$(free_port udp) || fail "no free UDP port"
	# devices: IDevIDs from the manufacturer CA, LDevIDs from our EST CA
	cat "$PKI/device-ca.crt" "$PKI/root-ca.crt" "$PKI/est-ca.crt" \
	    >"$T/client-ca.pem"
	cat >"$T/estcoapd.json" <<JSON
{
	"listen": [ { "address": "127.0.0.1", "port": $PORT } ],
	"dtls": {
		"cert": "$PKI/dtls.crt",
		"key": "$PKI/dtls.key",
		"chain": "$PKI/dtls-chain.pem",
		"client_ca": "$T/client-ca.pem"${DTLS_EXTRA:-}
	},
	"upstream": {
		"url": "$url",
		"client_cert": "$PKI/ra.crt",
		"client_key": "$PKI/ra.key",
		"ca": "$PKI/root-ca.crt",
		"connect_timeout_ms": ${UP_CONNECT_MS:-2000},
		"timeout_ms": ${UP_TIMEOUT_MS:-8000}${UP_EXTRA:-}
	}${extra}
}
JSON
}

# start_daemon: run estcoapd on $T/estcoapd.json; wait until it is ready
# and, unless NOWARM is set, until its crts cache is warm.
start_daemon() {
	# one daemon per case: a second start would orphan the first
	if [ -n "$DAEMON_PID" ]; then
		stop_daemon || fail "the previous daemon did not stop cleanly"
	fi
	if [ -f "$T/daemon.log" ]; then
		cat "$T/daemon.log" >>"$T/daemon.old.log"
		: >"$T/daemon.log"
	fi
	# DAEMON_WRAP (e.g. valgrind ...) runs the daemon under a tool
	# shellcheck disable=SC2086
	${DAEMON_WRAP:-} "$BUILD/estcoapd" -f -d -c "$T/estcoapd.json" \
	    >>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	wait_for "$T/daemon.log" "$START_SECS" " ready: " ||
	    fail "daemon did not become ready"
	if [ -z "${NOWARM:-}" ]; then
		wait_for "$T/daemon.log" "$START_SECS" "cache: crts refreshed" ||
		    fail "crts cache did not warm up"
	fi
}

# stop_daemon: SIGTERM, wait, require exit 0 (ASan leaks make it non-zero).
stop_daemon() {
	local pid=$DAEMON_PID rc=0
	DAEMON_PID=""
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((START_SECS * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		echo "FAIL [$CASE]: daemon did not stop on SIGTERM" >&2
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "FAIL [$CASE]: daemon exited with $rc" >&2
		return 1
	fi
	if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer\|ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|indirectly lost: [1-9]" \
	    "$T/daemon.log"; then
		echo "FAIL [$CASE]: sanitizer or valgrind report in the daemon log" >&2
		return 1
	fi
	return 0
}

# slowloris ADDR N SECONDS: estcoap-hostile from ADDR opens N handshakes
# that answer the cookie and then stop, held for SECONDS; its output goes
# to $T/slow-ADDR.out (held=N once all are open). Sets SLOW_PID, which the
# cleanup kills too; waits up to 30 s for the held= line.
slowloris() {
	"$TOOLS/estcoap-hostile" -s "$1" -a 127.0.0.1 -p "$PORT" \
	    -c "$PKI/device.crt" -k "$PKI/device.key" slowloris "$2" "$3" \
	    >"$T/slow-$1.out" 2>&1 &
	SLOW_PID=$!
	UPSTREAM_PIDS="$UPSTREAM_PIDS $SLOW_PID"
	wait_for "$T/slow-$1.out" 30 "^held=" ||
	    fail "slowloris from $1 did not start"
}

# slowloris_held ADDR: the held= count of the slowloris from ADDR.
slowloris_held() {
	sed -n 's/^held=//p' "$T/slow-$1.out"
}

# coap [coap-client args] PATH: one request as the P-256 device. Prints
# coap-client's output; the payload goes to $T/out. Sets CODE.
coap() {
	local path=${*: -1} args=("${@:1:$#-1}")
	rm -f "$T/out"
	set +e
	"$COAP_CLIENT" -B "${WAIT:-20}" -c "${DEV_CERT:-$PKI/device.crt}" \
	    -j "${DEV_KEY:-$PKI/device.key}" -R "$PKI/root-ca.crt" \
	    -o "$T/out" "${args[@]}" \
	    "coaps://127.0.0.1:$PORT$path" >"$T/coap.stdout" 2>"$T/coap.stderr"
	COAP_RC=$?
	set -e
	CODE=$(grep -Eo '^[245]\.[0-9][0-9]' "$T/coap.stderr" "$T/coap.stdout" \
	    2>/dev/null | head -n1 | sed 's/.*://') || true
	if [ -z "$CODE" ] && [ "$COAP_RC" -eq 0 ] && [ -f "$T/out" ]; then
		CODE=2.xx
	fi
}

# probe [estcoap-probe args]: one scripted request; output in $T/probe.out.
probe() {
	set +e
	"$TOOLS/estcoap-probe" -a 127.0.0.1 -p "$PORT" \
	    -c "${DEV_CERT:-$PKI/device.crt}" -k "${DEV_KEY:-$PKI/device.key}" \
	    -C "$PKI/root-ca.crt" "$@" >"$T/probe.out" 2>"$T/probe.stderr"
	PROBE_RC=$?
	set -e
	PCODE=$(sed -n 's/^code=//p' "$T/probe.out" | tail -n1)
}

# probe_bg OUTFILE [estcoap-probe args]: the same in the background; sets
# PROBE_PID. For requests that must be pending while the test acts.
probe_bg() {
	local out=$1
	shift
	"$TOOLS/estcoap-probe" -a 127.0.0.1 -p "$PORT" \
	    -c "${DEV_CERT:-$PKI/device.crt}" -k "${DEV_KEY:-$PKI/device.key}" \
	    -C "$PKI/root-ca.crt" "$@" >"$out" 2>&1 &
	PROBE_PID=$!
}

# probe_field KEY: a key=value line of the last probe.
probe_field() {
	sed -n "s/^$1=//p" "$T/probe.out" | tail -n1
}

# expect_code WANT WHAT: compare the last coap-client CODE.
expect_code() {
	[ "${CODE:-}" = "$1" ] || fail "$2: got '${CODE:-none}', want $1 \
(coap-client: $(tr '\n' ' ' <"$T/coap.stderr" | cut -c1-300))"
	ok "$2"
}

# expect_pcode WANT WHAT: compare the last probe code.
expect_pcode() {
	[ "${PCODE:-}" = "$1" ] || fail "$2: got '${PCODE:-none}', want $1 \
(probe: $(tr '\n' ' ' <"$T/probe.out" | cut -c1-300) \
$(tr '\n' ' ' <"$T/probe.stderr" | cut -c1-200))"
	ok "$2"
}

# expect_upstream NAME N WHAT: the upstream has seen exactly N requests.
expect_upstream() {
	local n
	n=$(upstream_count "$1")
	[ "$n" -eq "$2" ] || fail "$3: upstream saw $n requests, want $2"
	ok "$3"
}

# der_to_pem_certs FILE: the certificates of a DER PKCS#7, as PEM.
p7_certs() {
	openssl pkcs7 -inform DER -in "$1" -print_certs 2>/dev/null
}

# mk_csrs N: N fresh P-256 CSRs, $T/csr/1.der .. N.der, for enrollments
# that must not be answered as repeats of each other; each carries the
# Subject of the default device (device.crt), as auth.csr_identity wants.
mk_csrs() {
	mkdir -p "$T/csr"
	for k in $(seq 1 "$1"); do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		    -nodes -keyout "$T/csr/$k.key" \
		    -subj "$DEV_SUBJ" \
		    -outform DER -out "$T/csr/$k.der" 2>/dev/null ||
		    fail "openssl req: CSR $k"
	done
}

# csr_for NAME [OUT]: a fresh P-256 CSR (default $T/csr-NAME.der) with the
# Subject of $PKI/NAME.crt, for a device other than the default one.
csr_for() {
	local out=${2:-$T/csr-$1.der} subj
	subj=$(openssl x509 -in "$PKI/$1.crt" -noout -subject -nameopt compat) ||
	    fail "csr_for: cannot read $PKI/$1.crt"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$out.key" -subj "${subj#subject=}" -outform DER \
	    -out "$out" 2>/dev/null || fail "csr_for: openssl req for $1"
}

# mint_dtls_cert NAME [SAN]: a rotated DTLS server identity: a new P-256
# key $T/NAME.key and certificate $T/NAME.crt (CN "rotated", the names of
# $PKI/dtls.crt unless SAN is given) signed by the CA of $PKI/dtls.crt.
mint_dtls_cert() {
	local name=$1 san=${2:-DNS:localhost,IP:127.0.0.1,IP:::1}
	openssl ecparam -name prime256v1 -genkey -noout -out "$T/$name.key" \
	    2>/dev/null &&
	openssl req -new -key "$T/$name.key" -subj "/O=estcoapd test/CN=rotated" \
	    -out "$T/$name.csr" 2>/dev/null &&
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" \
	    >"$T/$name.ext" &&
	openssl x509 -req -in "$T/$name.csr" -CA "$PKI/est-ca.crt" \
	    -CAkey "$PKI/est-ca.key" -CAcreateserial -CAserial "$T/$name.srl" \
	    -days 30 -extfile "$T/$name.ext" -out "$T/$name.crt" 2>/dev/null ||
	    fail "mint_dtls_cert: cannot make $T/$name.crt"
}

# enroll_retry PORT N [PROBE ARGS]: device N ($T/csr/N.der, mk_csrs) enrolls
# (sen) at 127.0.0.1:PORT, after the extra probe requests given; a failure
# (no 2.04 within WAIT_S, default 10 s: a worker or instance gone) is
# retried by a new process, i.e. a new source port and a new DTLS
# session, up to 8 times. Prints how many attempts it took; the last
# attempt's output is in $T/devN.out and $T/devN.err.
enroll_retry() {
	local port=$1 n=$2 a
	shift 2
	for a in $(seq 1 8); do
		"$TOOLS/estcoap-probe" -a 127.0.0.1 -p "$port" \
		    -c "$PKI/device.crt" -k "$PKI/device.key" \
		    -C "$PKI/root-ca.crt" "$@" -m post -u /.well-known/est/sen \
		    -t 286 -f "$T/csr/$n.der" -w "${WAIT_S:-10}" \
		    >"$T/dev$n.out" 2>"$T/dev$n.err" || true
		if grep -q '^code=2.04$' "$T/dev$n.out"; then
			echo "$a"
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# wait_workers N: the master of service.workers N says all serve, and each
# worker has filled its crts cache.
wait_workers() {
	local i
	wait_for "$T/daemon.log" 20 "ready: $1 workers serving" ||
	    fail "the master did not report all $1 workers ready"
	for i in $(seq 0 $(($1 - 1))); do
		wait_for "$T/daemon.log" 10 "worker $i: cache: crts refreshed" ||
		    fail "worker $i did not warm its crts cache"
	done
}

# need_nobody WHAT: the rest of the case runs a daemon as nobody:nogroup;
# unless this is root and both exist, count WHAT as not tested and end the
# case here (passed).
need_nobody() {
	if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 ||
	    ! getent group nogroup >/dev/null 2>&1; then
		ok "not root or no nobody/nogroup: $1 not tested"
		done_case
		exit 0
	fi
}

# A case ends with done_case: prints how many checks passed.
done_case() {
	echo "PASS [$CASE]: $NCHECK checks"
}

# metric 'NAME{labels}': its value on the daemon's /metrics, 0 when absent.
# Needs MPORT (service.metrics_port in the config).
metric() {
	curl -sf "http://127.0.0.1:$MPORT/metrics" |
	    awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# wait_metric 'NAME' OP VALUE SECS: until the metric compares true (test's
# -eq, -ge, -le ...), polling; 1 when SECS pass first.
wait_metric() {
	local v
	for _ in $(seq 1 $(($4 * 10))); do
		v=$(metric "$1")
		[ "$v" "$2" "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# hostile MODE ARGS...: estcoap-hostile as the P-256 device; output in
# $T/hostile.out, exit status in HOSTILE_RC.
hostile() {
	set +e
	"$TOOLS/estcoap-hostile" -a 127.0.0.1 -p "$PORT" \
	    -c "${DEV_CERT:-$PKI/device.crt}" -k "${DEV_KEY:-$PKI/device.key}" \
	    -C "$PKI/root-ca.crt" "$@" >"$T/hostile.out" 2>"$T/hostile.stderr"
	HOSTILE_RC=$?
	set -e
}

# hostile_field KEY: a key=value line of the last hostile run.
hostile_field() {
	sed -n "s/^$1=//p" "$T/hostile.out" | tail -n1
}

# rss_kb: the daemon's resident set now, in KiB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"
}
