/*
 * Unit tests for block1: Block1 reassembly with its caps, expiry and
 * per-owner cleanup. Most tests are a script of blocks and what each one
 * must yield.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "block1.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define MAX_BODY	1024
#define BUDGET		4096
#define ENTRIES		4
#define EXPIRY		247000

/* The body blocks are cut from: byte i is a function of i. */
static uint8_t	 src[4096];

/* One step of a script: a block and the result it must give. */
struct step {
	int		 owner;		/* index into owners[] */
	uintptr_t	 key;
	uint32_t	 num;
	int		 m;
	unsigned	 szx;
	size_t		 off;		/* data = src + off */
	size_t		 len;
	uint64_t	 now;
	enum blk_result	 want;
	size_t		 bodylen;	/* BLK_COMPLETE: src[0..) */
	size_t		 count;		/* blk_count() after */
};

static char	 owners[3];

/* Fill src so that any misplaced block shows up. */
static int
setup(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 31 + i / 256);
	return 0;
}

/* Run a script against a fresh table; steps say what each must yield. */
static void
run(const struct step *s, size_t n, size_t max_body, size_t budget,
    size_t entries)
{
	struct blk_table	*t;
	enum blk_result		 r;
	uint8_t			*body;
	size_t			 i, bodylen;

	assert_non_null(t = blk_table_new(max_body, budget, entries,
	    EXPIRY));
	for (i = 0; i < n; i++) {
		r = blk_add(t, &owners[s[i].owner], s[i].key, s[i].num,
		    s[i].m, s[i].szx, src + s[i].off, s[i].len, s[i].now,
		    &body, &bodylen);
		if (r != s[i].want)
			fail_msg("step %zu: result %d, want %d", i, r,
			    s[i].want);
		if (r == BLK_COMPLETE) {
			assert_non_null(body);
			assert_int_equal(bodylen, s[i].bodylen);
			if (bodylen > 0)
				assert_memory_equal(body, src, bodylen);
			free(body);
		} else {
			assert_null(body);
			assert_int_equal(bodylen, 0);
		}
		if (blk_count(t) != s[i].count)
			fail_msg("step %zu: count %zu, want %zu", i,
			    blk_count(t), s[i].count);
		assert_true(blk_bytes(t) <= budget);
	}
	blk_table_free(t);
}

#define RUN(s, mb, bu, en)	run((s), NELEM(s), (mb), (bu), (en))

/* 64-byte blocks in order, final short; single-block bodies. */
static void
test_blk_in_order(void **state)
{
	static const struct step s[] = {
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 2, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 3, 0, 2, 192, 10, 3, BLK_COMPLETE, 202, 0 },
		/* a final block of exactly the block size */
		{ 0, 1, 0, 1, 0, 0, 16, 4, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 0, 0, 16, 16, 5, BLK_COMPLETE, 32, 0 },
		/* a body in one block, no table entry */
		{ 0, 1, 0, 0, 6, 0, 1000, 6, BLK_COMPLETE, 1000, 0 },
		{ 0, 1, 0, 0, 2, 0, 0, 7, BLK_COMPLETE, 0, 0 },
		/* an empty final block */
		{ 0, 2, 0, 1, 0, 0, 16, 8, BLK_CONTINUE, 0, 1 },
		{ 0, 2, 1, 0, 0, 16, 0, 9, BLK_COMPLETE, 16, 0 },
		/* the client switches to smaller blocks at a match */
		{ 0, 3, 0, 1, 4, 0, 256, 10, BLK_CONTINUE, 0, 1 },
		{ 0, 3, 4, 1, 2, 256, 64, 11, BLK_CONTINUE, 0, 1 },
		{ 0, 3, 20, 0, 0, 320, 5, 12, BLK_COMPLETE, 325, 0 },
		/* ... and to larger ones when the offset allows */
		{ 0, 4, 0, 1, 2, 0, 64, 13, BLK_CONTINUE, 0, 1 },
		{ 0, 4, 1, 1, 2, 64, 64, 14, BLK_CONTINUE, 0, 1 },
		{ 0, 4, 1, 0, 3, 128, 100, 15, BLK_COMPLETE, 228, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/* Interleaved transfers of several owners and keys stay apart. */
static void
test_blk_interleaved(void **state)
{
	static const struct step s[] = {
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 1, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 2 },
		{ 0, 2, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 3 },
		{ 1, 1, 1, 0, 2, 64, 3, 0, BLK_COMPLETE, 67, 2 },
		{ 0, 2, 1, 1, 2, 64, 64, 0, BLK_CONTINUE, 0, 2 },
		{ 0, 1, 1, 0, 2, 64, 1, 0, BLK_COMPLETE, 65, 1 },
		{ 0, 2, 2, 0, 2, 128, 64, 0, BLK_COMPLETE, 192, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/*
 * Two uploads of one session to two routes (one operation under two CA
 * labels), or with two Request-Tags, get two keys and stay apart when
 * their blocks interleave.
 */
static void
test_blk_key_routes(void **state)
{
	static const int	 rt[2] = { 0, 0 };
	static const uint8_t	 tx[] = "x", ty[] = "y";
	uintptr_t		 k[5];
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 len, i, j;

	(void)state;
	k[0] = blk_key(&rt[0], NULL, 0);
	k[1] = blk_key(&rt[1], NULL, 0);
	k[2] = blk_key(&rt[0], tx, 1);
	k[3] = blk_key(&rt[0], ty, 1);
	k[4] = blk_key(&rt[0], tx, 0);
	for (i = 0; i < 5; i++)
		for (j = i + 1; j < 5; j++)
			if (k[i] == k[j])
				fail_msg("keys %zu and %zu collide", i, j);
	assert_int_equal(k[2], blk_key(&rt[0], tx, 1));
	assert_non_null(t = blk_table_new(MAX_BODY, BUDGET, ENTRIES, EXPIRY));
	/* route a's body is src[0..100), route b's src[0..70) */
	assert_int_equal(blk_add(t, &owners[0], k[0], 0, 1, 2, src, 64, 0,
	    &body, &len), BLK_CONTINUE);
	assert_int_equal(blk_add(t, &owners[0], k[1], 0, 1, 2, src, 64, 0,
	    &body, &len), BLK_CONTINUE);
	assert_int_equal(blk_add(t, &owners[0], k[1], 1, 0, 2, src + 64, 6,
	    0, &body, &len), BLK_COMPLETE);
	assert_int_equal(len, 70);
	assert_memory_equal(body, src, 70);
	free(body);
	assert_int_equal(blk_add(t, &owners[0], k[0], 1, 0, 2, src + 64, 36,
	    0, &body, &len), BLK_COMPLETE);
	assert_int_equal(len, 100);
	assert_memory_equal(body, src, 100);
	free(body);
	blk_table_free(t);
}

/* Retransmitted blocks are recognised and not appended twice. */
static void
test_blk_duplicate(void **state)
{
	static const struct step s[] = {
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 0, 1, 2, 0, 64, 1, BLK_DUPLICATE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 2, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 3, BLK_DUPLICATE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 4, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 5, BLK_DUPLICATE, 0, 1 },
		/* same place, other bytes: not ours */
		{ 0, 1, 1, 1, 2, 65, 64, 6, BLK_GAP, 0, 1 },
		/* a "final" block inside what we hold is inconsistent */
		{ 0, 1, 1, 0, 2, 64, 64, 7, BLK_GAP, 0, 1 },
		{ 0, 1, 3, 0, 2, 192, 8, 8, BLK_COMPLETE, 200, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/* Blocks out of order or without a transfer give BLK_GAP. */
static void
test_blk_gap(void **state)
{
	static const struct step s[] = {
		/* NUM 0 then 2 (conformance #39) */
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 1, BLK_GAP, 0, 1 },
		{ 0, 1, 2, 0, 2, 128, 5, 1, BLK_GAP, 0, 1 },
		/* the transfer survives a gap */
		{ 0, 1, 1, 0, 2, 64, 5, 2, BLK_COMPLETE, 69, 0 },
		/* no transfer at all */
		{ 0, 1, 1, 1, 2, 64, 64, 3, BLK_GAP, 0, 0 },
		{ 0, 1, 5, 0, 2, 320, 3, 3, BLK_GAP, 0, 0 },
		/* a larger block that overlaps the end of what we hold */
		{ 0, 1, 0, 1, 2, 0, 64, 4, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 5, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 6, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 3, 128, 128, 7, BLK_GAP, 0, 1 },
		{ 0, 1, 1, 0, 3, 128, 100, 7, BLK_GAP, 0, 1 },
		/* a huge NUM does not wrap the offset */
		{ 0, 1, UINT32_MAX, 0, 6, 0, 1, 8, BLK_GAP, 0, 1 },
		/* another owner's transfer is not ours */
		{ 1, 1, 1, 0, 2, 64, 1, 9, BLK_GAP, 0, 1 },
		{ 0, 9, 1, 0, 2, 64, 1, 9, BLK_GAP, 0, 1 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/* NUM 0 mid-transfer replaces the old transfer (conformance #40). */
static void
test_blk_restart(void **state)
{
	static const struct step s[] = {
		{ 0, 1, 0, 1, 2, 64, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 128, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 192, 64, 2, BLK_CONTINUE, 0, 1 },
		/* new sequence: other first block */
		{ 0, 1, 0, 1, 2, 0, 64, 3, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 4, BLK_CONTINUE, 0, 1 },
		/* new sequence with the same first block as the old one */
		{ 0, 1, 0, 1, 2, 0, 64, 5, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 6, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 0, 2, 128, 20, 7, BLK_COMPLETE, 148, 0 },
		/* restart with a one-block body */
		{ 0, 1, 0, 1, 2, 64, 64, 8, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 0, 0, 2, 0, 30, 9, BLK_COMPLETE, 30, 0 },
		/* restart with another block size */
		{ 0, 1, 0, 1, 2, 64, 64, 10, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 0, 1, 0, 0, 16, 11, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 0, 0, 16, 16, 12, BLK_COMPLETE, 32, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/* Bodies past max_body give BLK_TOO_LARGE and drop the transfer. */
static void
test_blk_too_large(void **state)
{
	static const struct step s[] = {
		/* max_body 256: four 64-byte blocks fit exactly */
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 3, 0, 2, 192, 64, 0, BLK_COMPLETE, 256, 0 },
		/* one byte more */
		{ 0, 1, 0, 1, 2, 0, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 2, 1, 2, 128, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 3, 1, 2, 192, 64, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 4, 0, 2, 256, 1, 1, BLK_TOO_LARGE, 0, 0 },
		/* dropped: the next block has nothing to join */
		{ 0, 1, 5, 0, 2, 320, 1, 1, BLK_GAP, 0, 0 },
		/* a first block already too large */
		{ 0, 1, 0, 1, 6, 0, 1024, 2, BLK_TOO_LARGE, 0, 0 },
		{ 0, 1, 0, 0, 5, 0, 257, 2, BLK_TOO_LARGE, 0, 0 },
		{ 0, 1, 0, 0, 5, 0, 256, 2, BLK_COMPLETE, 256, 0 },
		/* a too-large block 0 still replaces the old transfer */
		{ 0, 1, 0, 1, 2, 0, 64, 3, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 0, 1, 6, 0, 1024, 3, BLK_TOO_LARGE, 0, 0 },
	};

	(void)state;
	RUN(s, 256, BUDGET, ENTRIES);
}

/* The byte budget across transfers gives BLK_NOMEM. */
static void
test_blk_budget(void **state)
{
	static const struct step s[] = {
		/* budget 256 */
		{ 0, 1, 0, 1, 4, 0, 256, 0, BLK_CONTINUE, 0, 1 },
		{ 1, 1, 0, 1, 0, 0, 16, 0, BLK_NOMEM, 0, 1 },
		/* a one-block body is not held, so it still passes */
		{ 1, 1, 0, 0, 4, 0, 100, 0, BLK_COMPLETE, 100, 1 },
		/* and neither is a final block */
		{ 0, 1, 1, 0, 4, 256, 200, 0, BLK_COMPLETE, 456, 0 },
		/* the freed budget is usable again */
		{ 1, 1, 0, 1, 3, 0, 128, 1, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 0, 1, 3, 0, 128, 1, BLK_CONTINUE, 0, 2 },
		/* the transfer that hits the budget is dropped */
		{ 0, 1, 1, 1, 3, 128, 128, 1, BLK_NOMEM, 0, 1 },
		{ 0, 1, 2, 1, 3, 256, 128, 1, BLK_GAP, 0, 1 },
		{ 1, 1, 1, 0, 3, 128, 3, 1, BLK_COMPLETE, 131, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, 256, ENTRIES);
}

/* The entry cap gives BLK_NOMEM; a restart needs no new entry. */
static void
test_blk_entries(void **state)
{
	static const struct step s[] = {
		/* two entries */
		{ 0, 1, 0, 1, 0, 0, 16, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 2, 0, 1, 0, 0, 16, 0, BLK_CONTINUE, 0, 2 },
		{ 0, 3, 0, 1, 0, 0, 16, 0, BLK_NOMEM, 0, 2 },
		{ 1, 1, 0, 1, 0, 0, 16, 0, BLK_NOMEM, 0, 2 },
		/* single-block bodies need none */
		{ 1, 1, 0, 0, 0, 0, 16, 0, BLK_COMPLETE, 16, 2 },
		/* a restart reuses its slot */
		{ 0, 2, 0, 1, 1, 0, 32, 0, BLK_CONTINUE, 0, 2 },
		/* completing one frees a slot */
		{ 0, 1, 1, 0, 0, 16, 1, 0, BLK_COMPLETE, 17, 1 },
		{ 0, 3, 0, 1, 0, 0, 16, 0, BLK_CONTINUE, 0, 2 },
		/* a full table makes room by expiring idle transfers */
		{ 1, 1, 0, 1, 0, 0, 16, EXPIRY, BLK_NOMEM, 0, 2 },
		{ 1, 1, 0, 1, 0, 0, 16, EXPIRY + 1, BLK_CONTINUE, 0, 1 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, 2);
}

/* Bad SZX and a non-final block of the wrong size give BLK_BAD. */
static void
test_blk_bad(void **state)
{
	static const struct step s[] = {
		{ 0, 1, 0, 1, 7, 0, 16, 0, BLK_BAD, 0, 0 },
		{ 0, 1, 0, 0, 7, 0, 16, 0, BLK_BAD, 0, 0 },
		{ 0, 1, 0, 1, 99, 0, 16, 0, BLK_BAD, 0, 0 },
		/* non-final: exactly the block size */
		{ 0, 1, 0, 1, 2, 0, 63, 0, BLK_BAD, 0, 0 },
		{ 0, 1, 0, 1, 2, 0, 65, 0, BLK_BAD, 0, 0 },
		{ 0, 1, 0, 1, 2, 0, 0, 0, BLK_BAD, 0, 0 },
		/* final: at most the block size */
		{ 0, 1, 0, 0, 2, 0, 65, 0, BLK_BAD, 0, 0 },
		/* mid-transfer, and the transfer is kept */
		{ 0, 1, 0, 1, 2, 0, 64, 0, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 10, 0, BLK_BAD, 0, 1 },
		{ 0, 1, 1, 0, 7, 64, 10, 0, BLK_BAD, 0, 1 },
		{ 0, 1, 1, 0, 2, 64, 10, 0, BLK_COMPLETE, 74, 0 },
	};

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);
}

/* An idle transfer is gone after expiry_ms, whether reaped or not. */
static void
test_blk_expiry(void **state)
{
	static const struct step s[] = {
		/* just within the expiry: continues */
		{ 0, 1, 0, 1, 2, 0, 64, 1000, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 1, 2, 64, 64, 1000 + EXPIRY, BLK_CONTINUE, 0, 1 },
		/* a duplicate refreshes it too */
		{ 0, 1, 1, 1, 2, 64, 64, 1000 + 2 * EXPIRY, BLK_DUPLICATE, 0,
		  1 },
		/* just past it: 4.08 (conformance #42) */
		{ 0, 1, 2, 1, 2, 128, 64, 1001 + 3 * EXPIRY, BLK_GAP, 0, 0 },
		/* a clock that steps back does not expire anything */
		{ 0, 1, 0, 1, 2, 0, 64, 5000, BLK_CONTINUE, 0, 1 },
		{ 0, 1, 1, 0, 2, 64, 2, 10, BLK_COMPLETE, 66, 0 },
	};
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 bodylen;

	(void)state;
	RUN(s, MAX_BODY, BUDGET, ENTRIES);

	/* blk_expire reaps idle transfers and keeps the others. */
	assert_non_null(t = blk_table_new(MAX_BODY, BUDGET, ENTRIES, 100));
	assert_int_equal(blk_add(t, &owners[0], 1, 0, 1, 2, src, 64, 0,
	    &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_add(t, &owners[0], 2, 0, 1, 2, src, 64, 50,
	    &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), 128);
	blk_expire(t, 100);
	assert_int_equal(blk_count(t), 2);
	blk_expire(t, 101);
	assert_int_equal(blk_count(t), 1);
	assert_int_equal(blk_bytes(t), 64);
	assert_int_equal(blk_add(t, &owners[0], 1, 1, 1, 2, src + 64, 64, 101,
	    &body, &bodylen), BLK_GAP);
	assert_int_equal(blk_add(t, &owners[0], 2, 1, 0, 2, src + 64, 1, 101,
	    &body, &bodylen), BLK_COMPLETE);
	assert_int_equal(bodylen, 65);
	free(body);
	blk_expire(t, UINT64_MAX);
	assert_int_equal(blk_count(t), 0);
	assert_int_equal(blk_bytes(t), 0);
	blk_table_free(t);
}

/* blk_drop_owner drops all of one owner's transfers and nothing else. */
static void
test_blk_drop_owner(void **state)
{
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 bodylen;
	uintptr_t		 k;
	int			 o;

	(void)state;
	assert_non_null(t = blk_table_new(MAX_BODY, BUDGET, 16, EXPIRY));
	for (o = 0; o < 3; o++)
		for (k = 0; k < 3; k++)
			assert_int_equal(blk_add(t, &owners[o], k, 0, 1, 0,
			    src, 16, 0, &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_count(t), 9);
	assert_int_equal(blk_bytes(t), 144);
	blk_drop_owner(t, &owners[1]);
	assert_int_equal(blk_count(t), 6);
	assert_int_equal(blk_bytes(t), 96);
	blk_drop_owner(t, &owners[1]);
	assert_int_equal(blk_count(t), 6);
	assert_int_equal(blk_add(t, &owners[1], 0, 1, 0, 0, src + 16, 1, 0,
	    &body, &bodylen), BLK_GAP);
	assert_int_equal(blk_add(t, &owners[2], 2, 1, 0, 0, src + 16, 1, 0,
	    &body, &bodylen), BLK_COMPLETE);
	assert_int_equal(bodylen, 17);
	assert_memory_equal(body, src, 17);
	free(body);
	blk_drop_owner(t, &owners[0]);
	blk_drop_owner(t, &owners[2]);
	assert_int_equal(blk_count(t), 0);
	assert_int_equal(blk_bytes(t), 0);
	/* freeing a table with transfers in it leaks nothing (ASan) */
	assert_int_equal(blk_add(t, &owners[0], 0, 0, 1, 0, src, 16, 0,
	    &body, &bodylen), BLK_CONTINUE);
	blk_table_free(t);
	blk_table_free(NULL);
}

/* A body as large as max_body in 16-byte blocks comes back intact. */
static void
test_blk_many_blocks(void **state)
{
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 bodylen;
	uint32_t		 i;

	(void)state;
	assert_non_null(t = blk_table_new(sizeof(src), sizeof(src), 1,
	    EXPIRY));
	for (i = 0; i < sizeof(src) / 16 - 1; i++)
		assert_int_equal(blk_add(t, &owners[0], 7, i, 1, 0,
		    src + i * 16, 16, i, &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), sizeof(src) - 16);
	assert_int_equal(blk_add(t, &owners[0], 7, i, 0, 0, src + i * 16, 16,
	    i, &body, &bodylen), BLK_COMPLETE);
	assert_int_equal(bodylen, sizeof(src));
	assert_memory_equal(body, src, sizeof(src));
	free(body);
	assert_int_equal(blk_bytes(t), 0);
	blk_table_free(t);
}

/*
 * Limits lowered by a reload hold for transfers in progress: nothing may
 * wrap (max_body - len, budget - bytes) and let a body grow unbounded.
 */
static void
test_blk_lowered_limits(void **state)
{
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 bodylen;
	uint32_t		 i;

	(void)state;
	/* owner 0 holds 1024 bytes, owner 1 768, in 256-byte blocks */
	assert_non_null(t = blk_table_new(4096, 8192, 4, EXPIRY));
	for (i = 0; i < 4; i++)
		assert_int_equal(blk_add(t, &owners[0], 1, i, 1, 4,
		    src + i * 256, 256, 0, &body, &bodylen), BLK_CONTINUE);
	for (i = 0; i < 3; i++)
		assert_int_equal(blk_add(t, &owners[1], 1, i, 1, 4,
		    src + i * 256, 256, 0, &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), 1792);

	/* the budget drops below what is held: the largest goes first */
	blk_table_set_limits(t, 4096, 1024, 4);
	assert_int_equal(blk_count(t), 1);
	assert_int_equal(blk_bytes(t), 768);
	assert_int_equal(blk_add(t, &owners[0], 1, 4, 1, 4, src + 1024, 256,
	    0, &body, &bodylen), BLK_GAP);
	assert_int_equal(blk_add(t, &owners[1], 1, 3, 1, 4, src + 768, 256,
	    0, &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), 1024);
	assert_int_equal(blk_add(t, &owners[1], 1, 4, 1, 4, src + 1024, 256,
	    0, &body, &bodylen), BLK_NOMEM);
	assert_int_equal(blk_bytes(t), 0);

	/* max_body drops below a transfer's length: it is dropped now */
	blk_table_set_limits(t, 4096, 8192, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(blk_add(t, &owners[0], 2, i, 1, 4,
		    src + i * 256, 256, 0, &body, &bodylen), BLK_CONTINUE);
	blk_table_set_limits(t, 512, 8192, 4);
	assert_int_equal(blk_count(t), 0);
	assert_int_equal(blk_bytes(t), 0);
	for (i = 4; i < 16; i++)
		assert_int_not_equal(blk_add(t, &owners[0], 2, i, 1, 4,
		    src + i * 256, 256, 0, &body, &bodylen), BLK_CONTINUE);
	/* a new one is held to the new max_body */
	assert_int_equal(blk_add(t, &owners[0], 2, 0, 1, 4, src, 256, 0,
	    &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_add(t, &owners[0], 2, 1, 1, 4, src + 256, 256, 0,
	    &body, &bodylen), BLK_CONTINUE);
	assert_int_equal(blk_add(t, &owners[0], 2, 2, 1, 4, src + 512, 256, 0,
	    &body, &bodylen), BLK_TOO_LARGE);

	/* the entry cap drops below the transfers held */
	for (i = 0; i < 3; i++)
		assert_int_equal(blk_add(t, &owners[2], i, 0, 1, 0, src, 16, 0,
		    &body, &bodylen), BLK_CONTINUE);
	blk_table_set_limits(t, 512, 8192, 1);
	assert_int_equal(blk_count(t), 1);
	assert_int_equal(blk_bytes(t), 16);
	blk_table_free(t);
}

/* Block 0 (m = 1) of 256 bytes for (owner o, key k) from who. */
static enum blk_result
start256(struct blk_table *t, int o, uintptr_t k, const struct blk_who *who,
    uint64_t now)
{
	uint8_t	*body;
	size_t	 bodylen;

	return blk_add_from(t, &owners[o % 3], k, who, 0, 1, 4, src, 256, now,
	    &body, &bodylen);
}

/* Block num (m = 1) of 256 bytes of (owner o, key k) from who. */
static enum blk_result
next256(struct blk_table *t, int o, uintptr_t k, const struct blk_who *who,
    uint32_t num, uint64_t now)
{
	uint8_t	*body;
	size_t	 bodylen;

	return blk_add_from(t, &owners[o % 3], k, who, num, 1, 4,
	    src + num * 256, 256, now, &body, &bodylen);
}

static const uint8_t	 dev_a[32] = { 0xa }, dev_b[32] = { 0xb };
static const uint8_t	 addr1[4] = { 192, 0, 2, 1 };
static const uint8_t	 addr2[4] = { 192, 0, 2, 2 };

/*
 * One device's quota holds over all its sessions: past its entries or
 * bytes, its own least recently seen transfers go; others are untouched.
 */
static void
test_blk_device_quota(void **state)
{
	const struct blk_who	 a = { dev_a, 32, addr1, 4 };
	const struct blk_who	 b = { dev_b, 32, addr2, 4 };
	const struct blk_quota	 dq = { 512, 2 }, none = { SIZE_MAX, SIZE_MAX };
	struct blk_table	*t;

	(void)state;
	assert_non_null(t = blk_table_new(1024, 8192, 16, EXPIRY));
	blk_table_set_quotas(t, &dq, &none);
	/* keys tell sessions apart here: (owner 0, key k) is session k */
	assert_int_equal(start256(t, 0, 1, &b, 0), BLK_CONTINUE);
	assert_int_equal(start256(t, 0, 2, &a, 1), BLK_CONTINUE);
	assert_int_equal(start256(t, 0, 3, &a, 2), BLK_CONTINUE);
	/* a third upload of a: its oldest (key 2) goes */
	assert_int_equal(start256(t, 0, 4, &a, 3), BLK_CONTINUE);
	assert_int_equal(blk_count(t), 3);
	assert_int_equal(next256(t, 0, 2, &a, 1, 4), BLK_GAP);
	/* a's key 3 grows past 512 bytes: its other upload (key 4) goes */
	assert_int_equal(next256(t, 0, 3, &a, 1, 5), BLK_CONTINUE);
	assert_int_equal(next256(t, 0, 4, &a, 1, 6), BLK_GAP);
	assert_int_equal(blk_evicted(t), 2);
	/* alone and past its quota it cannot go on */
	assert_int_equal(next256(t, 0, 3, &a, 2, 7), BLK_NOMEM);
	/* b never lost anything */
	assert_int_equal(next256(t, 0, 1, &b, 1, 8), BLK_CONTINUE);
	assert_int_equal(blk_count(t), 1);
	assert_int_equal(blk_bytes(t), 512);
	blk_table_free(t);
}

/*
 * Per-device quotas: six sessions of one device hold partial uploads
 * that use up the budget and the entries; another device's upload still
 * goes through, taking room from the largest holder. The large holder
 * cannot take it back.
 */
static void
test_blk_largest_holder(void **state)
{
	const struct blk_who	 a = { dev_a, 32, addr1, 4 };
	const struct blk_who	 b = { dev_b, 32, addr2, 4 };
	struct blk_table	*t;
	uint8_t			*body;
	size_t			 bodylen;
	uint32_t		 i;

	(void)state;
	assert_non_null(t = blk_table_new(2048, 2048, 6, EXPIRY));
	for (i = 0; i < 6; i++)
		assert_int_equal(start256(t, 0, i, &a, i), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), 1536);
	assert_int_equal(blk_count(t), 6);
	/* b: the entries are used up, a holds more: a loses one */
	assert_int_equal(start256(t, 1, 9, &b, 10), BLK_CONTINUE);
	assert_int_equal(blk_count(t), 6);
	/* b's body grows to 1280 bytes, taking a's room when needed */
	for (i = 1; i < 5; i++)
		assert_int_equal(next256(t, 1, 9, &b, i, 11 + i), BLK_CONTINUE);
	assert_int_equal(blk_add_from(t, &owners[1], 9, &b, 5, 0, 4,
	    src + 5 * 256, 10, 20, &body, &bodylen), BLK_COMPLETE);
	assert_int_equal(bodylen, 5 * 256 + 10);
	assert_memory_equal(body, src, bodylen);
	free(body);
	assert_int_equal(blk_evicted(t), 3);
	assert_int_equal(blk_count(t), 3);

	/* b uploads again and holds 1280: a, with more open, cannot take it */
	assert_int_equal(start256(t, 1, 9, &b, 30), BLK_CONTINUE);
	for (i = 1; i < 5; i++)
		assert_int_equal(next256(t, 1, 9, &b, i, 30), BLK_CONTINUE);
	assert_int_equal(blk_bytes(t), 2048);
	assert_int_equal(start256(t, 0, 200, &a, 32), BLK_NOMEM);
	assert_int_equal(next256(t, 0, 0, &a, 1, 33), BLK_NOMEM);
	assert_int_equal(next256(t, 1, 9, &b, 5, 34), BLK_CONTINUE);
	blk_table_free(t);
}

/* A source address's quota covers every device behind it. */
static void
test_blk_source_quota(void **state)
{
	const struct blk_who	 a = { dev_a, 32, addr1, 4 };
	const struct blk_who	 b = { dev_b, 32, addr1, 4 };
	const struct blk_quota	 sq = { 4096, 3 }, one = { 4096, 1 };
	const struct blk_quota	 none = { SIZE_MAX, SIZE_MAX };
	struct blk_table	*t;

	(void)state;
	assert_non_null(t = blk_table_new(1024, 8192, 16, EXPIRY));
	blk_table_set_quotas(t, &none, &sq);
	assert_int_equal(start256(t, 0, 1, &a, 0), BLK_CONTINUE);
	assert_int_equal(start256(t, 0, 2, &b, 1), BLK_CONTINUE);
	assert_int_equal(start256(t, 0, 3, &a, 2), BLK_CONTINUE);
	assert_int_equal(start256(t, 0, 4, &b, 3), BLK_CONTINUE);
	assert_int_equal(blk_count(t), 3);
	assert_int_equal(next256(t, 0, 1, &a, 1, 4), BLK_GAP);

	/* quotas lowered by a reload apply now; the newest stay */
	blk_table_set_quotas(t, &none, &one);
	assert_int_equal(blk_count(t), 1);
	assert_int_equal(next256(t, 0, 4, &b, 1, 5), BLK_CONTINUE);
	blk_table_free(t);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blk_in_order),
		cmocka_unit_test(test_blk_interleaved),
		cmocka_unit_test(test_blk_key_routes),
		cmocka_unit_test(test_blk_duplicate),
		cmocka_unit_test(test_blk_gap),
		cmocka_unit_test(test_blk_restart),
		cmocka_unit_test(test_blk_too_large),
		cmocka_unit_test(test_blk_budget),
		cmocka_unit_test(test_blk_entries),
		cmocka_unit_test(test_blk_bad),
		cmocka_unit_test(test_blk_expiry),
		cmocka_unit_test(test_blk_drop_owner),
		cmocka_unit_test(test_blk_many_blocks),
		cmocka_unit_test(test_blk_lowered_limits),
		cmocka_unit_test(test_blk_device_quota),
		cmocka_unit_test(test_blk_largest_holder),
		cmocka_unit_test(test_blk_source_quota),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
