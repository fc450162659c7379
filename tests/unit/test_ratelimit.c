/*
 * Unit tests for ratelimit: token buckets per source address, refill by
 * time, the burst, the bounded table and reloads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratelimit.h"

static const uint8_t a1[4] = { 127, 0, 0, 1 };
static const uint8_t a2[4] = { 127, 0, 0, 2 };

/* A burst is allowed at once, the next request waits for a token. */
static void
test_burst_then_wait(void **state)
{
	struct rl_table	*t = rl_table_new(10, 5, 16);

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 5; i++)
		assert_int_equal(rl_take(t, a1, 4, 1000), 0);
	/* 10 per second: one token every 100 ms */
	assert_int_equal(rl_take(t, a1, 4, 1000), 100);
	assert_int_equal(rl_take(t, a1, 4, 1040), 60);
	assert_int_equal(rl_take(t, a1, 4, 1100), 0);
	assert_int_equal(rl_take(t, a1, 4, 1100), 100);
	/* another address has its own bucket */
	assert_int_equal(rl_take(t, a2, 4, 1100), 0);
	assert_int_equal(rl_count(t), 2);
	rl_table_free(t);
}

/* A long pause refills the bucket up to the burst, not beyond. */
static void
test_refill_capped(void **state)
{
	struct rl_table	*t = rl_table_new(1000, 3, 16);
	int		 ok = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(rl_take(t, a1, 4, 0), 0);
	assert_int_not_equal(rl_take(t, a1, 4, 0), 0);
	for (int i = 0; i < 10; i++)
		if (rl_take(t, a1, 4, 3600000) == 0)
			ok++;
	assert_int_equal(ok, 3);
	rl_table_free(t);
}

/* The table never holds more than max_entries addresses. */
static void
test_bounded_table(void **state)
{
	struct rl_table	*t = rl_table_new(1, 1, 8);
	uint8_t		 a[16];

	(void)state;
	for (uint32_t i = 0; i < 1000; i++) {
		memset(a, 0, sizeof(a));
		memcpy(a, &i, sizeof(i));
		assert_int_equal(rl_take(t, a, 16, 5), 0);
		assert_true(rl_count(t) <= 8);
	}
	assert_int_equal(rl_count(t), 8);
	/* the most recent address is still remembered (and empty) */
	assert_int_not_equal(rl_take(t, a, 16, 5), 0);
	rl_table_free(t);
}

/* Recently seen addresses survive a stream of new ones. */
static void
test_lru_keeps_active(void **state)
{
	struct rl_table	*t = rl_table_new(1, 2, 4);
	uint8_t		 a[4] = { 10, 0, 0, 0 };

	(void)state;
	assert_int_equal(rl_take(t, a1, 4, 0), 0);
	assert_int_equal(rl_take(t, a1, 4, 0), 0);
	for (uint8_t i = 1; i < 20; i++) {
		a[3] = i;
		(void)rl_take(t, a, 4, 0);
		/* a1 stays the most recent but one */
		assert_int_not_equal(rl_take(t, a1, 4, 0), 0);
	}
	rl_table_free(t);
}

/* A reload to a smaller burst caps buckets in use. */
static void
test_reload(void **state)
{
	struct rl_table	*t = rl_table_new(1, 100, 4);
	int		 ok = 0;

	(void)state;
	assert_int_equal(rl_take(t, a1, 4, 0), 0);
	rl_table_set_limits(t, 1, 2);
	for (int i = 0; i < 10; i++)
		if (rl_take(t, a1, 4, 0) == 0)
			ok++;
	assert_int_equal(ok, 2);
	rl_table_free(t);
}

/* Unseeded FNV-1a, the hash a peer could aim at before tables had a seed. */
static uint64_t
fnv1a(const uint8_t *a, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= a[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Addresses picked to share a bucket under a public hash do not share
 * one in the table: its hash is keyed by a seed from the RNG, different
 * for each table.
 */
static void
test_seeded_hash(void **state)
{
	struct rl_table	*t = rl_table_new(10, 5, 16), *u = rl_table_new(10, 5,
			    16);
	uint8_t		 aim[64][4];
	size_t		 n = 0, same_t = 0, same_u = 0, b0t, b0u;

	(void)state;
	assert_non_null(t);
	assert_non_null(u);
	/* 64 addresses of 10.0.0.0/16 in FNV-1a's bucket 0 of 16 */
	for (unsigned i = 0; i < 65536 && n < 64; i++) {
		uint8_t a[4] = { 10, 0, (uint8_t)(i >> 8), (uint8_t)i };

		if ((fnv1a(a, 4) & 15) == 0)
			memcpy(aim[n++], a, 4);
	}
	assert_int_equal(n, 64);
	b0t = rl_bucket_of(t, aim[0], 4);
	b0u = rl_bucket_of(u, aim[0], 4);
	for (size_t i = 0; i < n; i++) {
		assert_true(rl_bucket_of(t, aim[i], 4) < 16);
		same_t += rl_bucket_of(t, aim[i], 4) == b0t;
		same_u += rl_bucket_of(u, aim[i], 4) == b0u;
	}
	/* spread like random: 64 in one bucket of 16 is (1/16)^63 */
	assert_true(same_t < 32);
	assert_true(same_u < 32);
	rl_table_free(t);
	rl_table_free(u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_wait),
		cmocka_unit_test(test_refill_capped),
		cmocka_unit_test(test_bounded_table),
		cmocka_unit_test(test_lru_keeps_active),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_seeded_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
