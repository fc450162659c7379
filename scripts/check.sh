#!/usr/bin/env bash
# make check: build plain and with ASan/UBSan, compare the generated
# documentation with the code's tables, run the cmocka unit tests in
# both builds, mint the test PKI, then run the integration cases against the
# plain daemon and against the sanitizer daemon, a few under valgrind, and
# each libFuzzer target for FUZZ_SMOKE (10) seconds. Ends with one summary
# line.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)

# early and cheap: no include circle among the modules of src/
echo "== include graph"
scripts/includes.sh || { echo "make check: an include circle"; exit 1; }

echo "== build (plain and ASan/UBSan)"
make -s -j"$jobs" all
make -s -j"$jobs" SAN=1 all
make -s -j"$jobs" build/tests/test_util $(ls tests/unit/test_*.c |
    sed 's|tests/unit/\(.*\)\.c|build/tests/\1|')
make -s -j"$jobs" SAN=1 $(ls tests/unit/test_*.c |
    sed 's|tests/unit/\(.*\)\.c|build/asan/tests/\1|')

# early and cheap: the generated parts of the man pages and the defaults
# file must be what the code's tables give now
echo "== generated documentation"
scripts/docs.sh --check || { echo "make check: run make docs"; exit 1; }

echo "== unit tests"
export ASAN_OPTIONS=detect_leaks=1
upass=0 ufail=0
for t in build/tests/test_* build/asan/tests/test_*; do
	echo "-- $t"
	if "$t"; then upass=$((upass + 1)); else ufail=$((ufail + 1)); fi
done
echo "unit: $upass passed, $ufail failed"
[ "$ufail" -eq 0 ] || { echo "make check: unit tests failed"; exit 1; }

echo "== test PKI"
scripts/mkpki.sh build/test-pki

rc=0
echo "== integration tests, plain build"
# (|| rc=1: with pipefail a failed suite must not end the script here)
LABEL=plain BUILD=build tests/integration/run.sh | tee build/itest-plain.log ||
    rc=1
echo "== integration tests, ASan/UBSan build"
LABEL=asan BUILD=build/asan tests/integration/run.sh | tee build/itest-asan.log ||
    rc=1

echo "== integration tests under valgrind (a few enrollments)"
# memcheck on the plain daemon: any error or leak fails the case
DAEMON_WRAP="valgrind -q --error-exitcode=99 --leak-check=full \
--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect" \
    LABEL=valgrind BUILD=build tests/integration/run.sh \
    tests/integration/cases/01-enroll.sh \
    tests/integration/cases/62-hostile-upstream.sh |
    tee build/itest-valgrind.log || rc=1

echo "== fuzz smoke (${FUZZ_SMOKE:-10} s per target; make fuzz runs longer)"
fp=0 ff=0
if FUZZ_SECONDS=${FUZZ_SMOKE:-10} scripts/fuzz.sh | tee build/fuzz-smoke.log; then
	:
else
	rc=1
fi
fp=$(grep -c '^fuzz [a-z0-9]*: stat::number_of_executed_units' \
    build/fuzz-smoke.log || true)
ff=$(grep -c '^fuzz [a-z0-9]*: FAILED' build/fuzz-smoke.log || true)

echo "== make check took $(( $(date +%s) - start )) s"
# one closing line: unit binaries, integration cases of every run, fuzz
# targets
ip=$(sed -n 's/^integration-[a-z]*: \([0-9]*\) passed.*/\1/p' \
    build/itest-*.log | awk '{ s += $1 } END { print s + 0 }')
if_=$(sed -n 's/^integration-[a-z]*: [0-9]* passed, \([0-9]*\) failed.*/\1/p' \
    build/itest-*.log | awk '{ s += $1 } END { print s + 0 }')
[ "$rc" -eq 0 ] || [ $((if_ + ff)) -gt 0 ] || if_=1
echo "check: $((upass + ip + fp)) passed, $((ufail + if_ + ff)) failed"
exit $rc
