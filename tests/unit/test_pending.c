/*
 * Unit tests for pending: the intrusive request hash. Keys of a pointer
 * and a token; entries found, not found, removed, sharing a key, and a
 * large table checked against a model after growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pending.h"

#define MANY	5000

/* A record as a caller would have one. */
struct rec {
	int		id;
	struct pend_ent	pe;
};

#define REC(e)	((struct rec *)((char *)(e) - offsetof(struct rec, pe)))

static void
key_of(struct pend_ent *e, const void *sess, uint32_t tok)
{
	uint8_t	t[4] = { tok >> 24, tok >> 16, tok >> 8, tok };

	/* tokens below 256 are one byte long, like a short CoAP token */
	assert_int_equal(tok < 256 ? pend_key(e, sess, t + 3, 1) :
	    pend_key(e, sess, t, 4), 0);
}

/* Insert, find, remove: a second session with the same token is another. */
static void
test_basic(void **state)
{
	struct pend_table	*t = pend_table_new();
	struct rec		 a = { .id = 1 }, b = { .id = 2 };
	struct pend_ent		 probe;
	int			 s1 = 0, s2 = 0;

	(void)state;
	assert_non_null(t);
	key_of(&a.pe, &s1, 7);
	key_of(&b.pe, &s2, 7);
	pend_insert(t, &a.pe);
	pend_insert(t, &b.pe);
	assert_int_equal(pend_count(t), 2);
	key_of(&probe, &s1, 7);
	assert_ptr_equal(pend_find(t, &probe, NULL), &a.pe);
	key_of(&probe, &s2, 7);
	assert_int_equal(REC(pend_find(t, &probe, NULL))->id, 2);
	key_of(&probe, &s1, 8);
	assert_null(pend_find(t, &probe, NULL));
	/* a 1-byte token 7 is not the 4-byte token 0x00000007 */
	assert_int_equal(pend_key(&probe, &s1, (const uint8_t *)"\0\0\0\7", 4),
	    0);
	assert_null(pend_find(t, &probe, NULL));
	pend_remove(t, &a.pe);
	pend_remove(t, &a.pe);		/* twice: nothing */
	assert_int_equal(pend_count(t), 1);
	key_of(&probe, &s1, 7);
	assert_null(pend_find(t, &probe, NULL));
	pend_remove(t, &b.pe);
	assert_int_equal(pend_count(t), 0);
	pend_table_free(t);
}

/* Entries sharing a key: the newest first, then the others via skip. */
static void
test_shared_key(void **state)
{
	struct pend_table	*t = pend_table_new();
	struct rec		 r[3];
	struct pend_ent		 probe, *e;
	int			 s = 0, seen = 0;

	(void)state;
	for (int i = 0; i < 3; i++) {
		r[i].id = i;
		memset(&r[i].pe, 0, sizeof(r[i].pe));
		key_of(&r[i].pe, &s, 99);
		pend_insert(t, &r[i].pe);
	}
	key_of(&probe, &s, 99);
	e = pend_find(t, &probe, NULL);
	assert_int_equal(REC(e)->id, 2);
	for (; e != NULL; e = pend_find(t, &probe, e))
		seen |= 1 << REC(e)->id;
	assert_int_equal(seen, 7);
	for (int i = 0; i < 3; i++)
		pend_remove(t, &r[i].pe);
	pend_table_free(t);
}

/* A key longer than the table takes is refused; an empty token is fine. */
static void
test_key_bounds(void **state)
{
	struct pend_ent	e;
	uint8_t		big[PEND_KEY_MAX] = { 0 };
	int		s = 0;

	(void)state;
	assert_int_equal(pend_key(&e, &s, big, PEND_KEY_MAX - sizeof(void *)),
	    0);
	assert_int_equal(pend_key(&e, &s, big,
	    PEND_KEY_MAX - sizeof(void *) + 1), -1);
	assert_int_equal(pend_key(&e, &s, NULL, 0), 0);
	assert_int_equal(pend_key(&e, &s, NULL, 1), -1);
}

/* Thousands of entries, half removed: every lookup as the model says. */
static void
test_many(void **state)
{
	struct pend_table	*t = pend_table_new();
	struct rec		*r = calloc(MANY, sizeof(*r));
	struct pend_ent		 probe, *e;
	int			 sess[2] = { 0, 0 };

	(void)state;
	assert_non_null(r);
	for (int i = 0; i < MANY; i++) {
		r[i].id = i;
		key_of(&r[i].pe, &sess[i & 1], (uint32_t)i * 2654435761u);
		pend_insert(t, &r[i].pe);
	}
	for (int i = 0; i < MANY; i += 2)
		pend_remove(t, &r[i].pe);
	assert_int_equal(pend_count(t), MANY / 2);
	for (int i = 0; i < MANY; i++) {
		key_of(&probe, &sess[i & 1], (uint32_t)i * 2654435761u);
		e = pend_find(t, &probe, NULL);
		if (i % 2 == 0)
			assert_null(e);
		else
			assert_int_equal(REC(e)->id, i);
		/* the other session never has it */
		key_of(&probe, &sess[!(i & 1)], (uint32_t)i * 2654435761u);
		assert_null(pend_find(t, &probe, NULL));
	}
	for (int i = 1; i < MANY; i += 2)
		pend_remove(t, &r[i].pe);
	assert_int_equal(pend_count(t), 0);
	pend_table_free(t);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_shared_key),
		cmocka_unit_test(test_key_bounds),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
