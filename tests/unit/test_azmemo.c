/*
 * Unit tests for azmemo.c: a remembered route check counts only for the
 * same certificate, policy and configuration generation (a reload with
 * new CRLs is a new generation), only until its time, and a newer check
 * may take an older one's slot but never passes for the wrong key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "azmemo.h"

static const int pol_a = 1, pol_b = 2;

/* A fingerprint whose bytes are all b. */
static void
fp_of(uint8_t *fp, uint8_t b)
{
	memset(fp, b, AZMEMO_FP_LEN);
}

/* The key is the whole key: certificate, policy, generation. */
static void
test_key(void **state)
{
	struct azmemo	*m = azmemo_new(64);
	uint8_t		 fp[AZMEMO_FP_LEN], other[AZMEMO_FP_LEN];

	(void)state;
	assert_non_null(m);
	fp_of(fp, 7);
	fp_of(other, 7);
	other[AZMEMO_FP_LEN - 1] = 8;	/* differs in the last byte only */
	assert_false(azmemo_passed(m, fp, &pol_a, 1, 0));
	azmemo_put(m, fp, &pol_a, 1, 1000);
	assert_true(azmemo_passed(m, fp, &pol_a, 1, 0));
	assert_false(azmemo_passed(m, other, &pol_a, 1, 0));
	assert_false(azmemo_passed(m, fp, &pol_b, 1, 0));
	/* a reload (new CRLs) is another generation: checked again */
	assert_false(azmemo_passed(m, fp, &pol_a, 2, 0));
	azmemo_free(m);
}

/* A check is good until its time, not at it. */
static void
test_until(void **state)
{
	struct azmemo	*m = azmemo_new(8);
	uint8_t		 fp[AZMEMO_FP_LEN];

	(void)state;
	fp_of(fp, 1);
	azmemo_put(m, fp, &pol_a, 3, 500);
	assert_true(azmemo_passed(m, fp, &pol_a, 3, 499));
	assert_false(azmemo_passed(m, fp, &pol_a, 3, 500));
	/* until 0: not remembered at all */
	azmemo_put(m, fp, &pol_a, 3, 0);
	assert_false(azmemo_passed(m, fp, &pol_a, 3, 0));
	azmemo_free(m);
}

/* One slot: the newer check takes it, the older one is checked again. */
static void
test_one_slot(void **state)
{
	struct azmemo	*m = azmemo_new(0);
	uint8_t		 a[AZMEMO_FP_LEN], b[AZMEMO_FP_LEN];

	(void)state;
	assert_non_null(m);
	fp_of(a, 1);
	fp_of(b, 2);
	azmemo_put(m, a, &pol_a, 1, 100);
	azmemo_put(m, b, &pol_a, 1, 100);
	assert_true(azmemo_passed(m, b, &pol_a, 1, 0));
	assert_false(azmemo_passed(m, a, &pol_a, 1, 0));
	/* no table: nothing remembered, nothing passes */
	azmemo_put(NULL, a, &pol_a, 1, 100);
	assert_false(azmemo_passed(NULL, a, &pol_a, 1, 0));
	azmemo_free(m);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_until),
		cmocka_unit_test(test_one_slot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
