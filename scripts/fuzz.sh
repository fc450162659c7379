#!/usr/bin/env bash
# Build the libFuzzer targets (make FUZZ=1) and run each for FUZZ_SECONDS
# (default 60) on a copy of its seed corpus, one after the other, niced.
# FUZZ_TARGETS="coap b64" picks some. The committed seeds are only read;
# what libFuzzer finds goes to build/fuzz/corpus/<name>. A crash input is
# left in build/fuzz/crash/<name>/ and makes the script fail: commit it to
# tests/fuzz/corpus/<name>/ as a regression once it is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_\(.*\)\.c|\1|')}
make -s -j2 FUZZ=1 fuzzers
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
rc=0
for t in $targets; do
	seeds=tests/fuzz/corpus/$t
	work=build/fuzz/corpus/$t
	crash=build/fuzz/crash/$t
	mkdir -p "$work" "$crash"
	dict=()
	[ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
	echo "== fuzz $t for ${secs}s"
	if ! nice -n 19 "build/fuzz/fuzz/fuzz_$t" -max_total_time="$secs" \
	    -max_len=8192 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix="$crash/" "${dict[@]}" "$work" "$seeds" \
	    >"build/fuzz/$t.log" 2>&1; then
		echo "fuzz $t: FAILED (see build/fuzz/$t.log, input in $crash)"
		tail -n 30 "build/fuzz/$t.log"
		rc=1
	else
		grep -E '^stat::number_of_executed_units' "build/fuzz/$t.log" |
		    sed "s/^/fuzz $t: /"
	fi
done
exit $rc
