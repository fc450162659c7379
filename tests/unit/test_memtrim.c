/*
 * When freed heap goes back to the system: once the live sessions fell
 * by a quarter of their peak and by at least MEMTRIM_MIN_DROP, and
 * stopped falling; once per such fall; never on growth or small churn.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "memtrim.h"

/* Growth and a steady count never trim. */
static void
test_growth_never(void **state)
{
	struct memtrim mt = { 0 };

	(void)state;
	for (unsigned n = 0; n <= 20000; n += 500)
		assert_int_equal(memtrim_due(&mt, n), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(memtrim_due(&mt, 20000), 0);
}

/*
 * A large reclaim trims once, on the first tick after the fall ended;
 * the peak restarts from what is left.
 */
static void
test_reclaim_once(void **state)
{
	struct memtrim mt = { 0 };

	(void)state;
	assert_int_equal(memtrim_due(&mt, 1000), 0);
	assert_int_equal(memtrim_due(&mt, 400), 0);	/* still falling */
	assert_int_equal(memtrim_due(&mt, 0), 0);
	assert_int_equal(memtrim_due(&mt, 0), 1);	/* the fall ended */
	assert_int_equal(memtrim_due(&mt, 0), 0);
	/* the next cycle of the same size trims again */
	assert_int_equal(memtrim_due(&mt, 1000), 0);
	assert_int_equal(memtrim_due(&mt, 0), 0);
	assert_int_equal(memtrim_due(&mt, 3), 1);	/* new ones: ended too */
}

/* Fewer than MEMTRIM_MIN_DROP sessions gone never trims. */
static void
test_small_drop(void **state)
{
	struct memtrim mt = { 0 };

	(void)state;
	assert_int_equal(memtrim_due(&mt, MEMTRIM_MIN_DROP - 1), 0);
	assert_int_equal(memtrim_due(&mt, 0), 0);
	assert_int_equal(memtrim_due(&mt, 0), 0);
	assert_int_equal(memtrim_due(&mt, MEMTRIM_MIN_DROP), 0);
	assert_int_equal(memtrim_due(&mt, 0), 0);
	assert_int_equal(memtrim_due(&mt, 0), 1);
}

/* Churn of less than a quarter of a large peak never trims. */
static void
test_churn_below_quarter(void **state)
{
	struct memtrim mt = { 0 };

	(void)state;
	assert_int_equal(memtrim_due(&mt, 10000), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(memtrim_due(&mt, 8000), 0);
		assert_int_equal(memtrim_due(&mt, 8000), 0);
		assert_int_equal(memtrim_due(&mt, 10000), 0);
	}
	/* a fall step by step adds up against the peak */
	assert_int_equal(memtrim_due(&mt, 9000), 0);
	assert_int_equal(memtrim_due(&mt, 7500), 0);
	assert_int_equal(memtrim_due(&mt, 7500), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_never),
		cmocka_unit_test(test_reclaim_once),
		cmocka_unit_test(test_small_drop),
		cmocka_unit_test(test_churn_below_quarter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
