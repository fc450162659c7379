/*
 * Runs of failures: a run is reported when it starts and when it ends,
 * with its count and length, and never in between.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "streak.h"

/* The first failure starts a run; the next ones do not. */
static void
test_start_once(void **state)
{
	struct streak s = { 0 };

	(void)state;
	assert_false(streak_failing(&s));
	assert_int_equal(streak_fail(&s, 1000), 1);
	for (int i = 0; i < 40; i++)
		assert_int_equal(streak_fail(&s, 2000 + (uint64_t)i), 0);
	assert_true(streak_failing(&s));
}

/* A success after failures ends the run with its count and length. */
static void
test_end_with_count(void **state)
{
	struct streak	s = { 0 };
	unsigned	n = 0;
	uint64_t	ms = 0;

	(void)state;
	streak_fail(&s, 1000);
	streak_fail(&s, 3000);
	streak_fail(&s, 7000);
	assert_int_equal(streak_ok(&s, 15000, &n, &ms), 1);
	assert_int_equal(n, 3);
	assert_int_equal(ms, 14000);
	assert_false(streak_failing(&s));
	/* a second success ends nothing */
	assert_int_equal(streak_ok(&s, 16000, &n, &ms), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ms, 0);
	/* and the next failure starts a new run */
	assert_int_equal(streak_fail(&s, 17000), 1);
	assert_int_equal(streak_ok(&s, 17500, &n, &ms), 1);
	assert_int_equal(n, 1);
	assert_int_equal(ms, 500);
}

/* A clock that goes backwards gives a zero length, not a huge one. */
static void
test_clock_back(void **state)
{
	struct streak	s = { 0 };
	unsigned	n;
	uint64_t	ms = 1;

	(void)state;
	streak_fail(&s, 5000);
	assert_int_equal(streak_ok(&s, 4000, &n, &ms), 1);
	assert_int_equal(ms, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_once),
		cmocka_unit_test(test_end_with_count),
		cmocka_unit_test(test_clock_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
