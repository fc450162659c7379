/*
 * Unit tests for discovery.c: query filters (RFC 6690 4.1), the links,
 * and the bound on plain answers: never more than DISC_PLAIN_FACTOR times
 * the request, however the request asks (RFC 7252 11.3).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "discovery.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct disc_link sen = { "/.well-known/est/sen", "ace.est.sen",
    "286" };
static const struct disc_link crts = { "/.well-known/est/x/crts",
    "ace.est.crts", "287 281" };

/* q matches the link? */
static int
match(const char *q, const struct disc_link *l)
{
	struct disc_query dq;

	disc_query_parse(q, strlen(q), &dq);
	return disc_match(l, &dq);
}

/* Filters: href (with or without '/'), rt and ct tokens, prefixes. */
static void
test_filters(void **state)
{
	struct disc_query dq;

	(void)state;
	assert_true(match("", &sen));
	assert_true(match("rt=ace.est.sen", &sen));
	assert_false(match("rt=ace.est.sen", &crts));
	assert_true(match("rt=ace.est*", &crts));
	assert_true(match("ct=281", &crts));
	assert_true(match("ct=287", &crts));
	assert_false(match("ct=28", &crts));
	assert_true(match("ct=28*", &crts));
	assert_true(match("href=/.well-known/est/sen", &sen));
	assert_true(match("href=.well-known/est/sen", &sen));
	assert_true(match("href=/.well-known/est/x/*", &crts));
	assert_false(match("href=/.well-known/est/x/*", &sen));
	assert_false(match("if=core.b", &sen));	/* links have no if */
	assert_true(match("rt=ace.est.sen&ct=286", &sen));
	assert_false(match("rt=ace.est.sen&ct=281", &sen));
	assert_true(match("novalue&rt=ace.est.sen", &sen));
	disc_query_parse("a=1&b=2&c=3&d=4&e=5", 19, &dq);
	assert_int_equal(dq.n, DISC_MAX_FILTERS);
	disc_query_parse(NULL, 0, &dq);
	assert_int_equal(dq.n, 0);
}

/* Links: base, quoted ct list, commas, and nothing past cap. */
static void
test_append(void **state)
{
	char	out[256];
	size_t	len = 0;

	(void)state;
	assert_int_equal(disc_append(out, sizeof(out), &len, "", &sen), 0);
	assert_int_equal(disc_append(out, sizeof(out), &len, "coaps://h:5684",
	    &crts), 0);
	assert_string_equal(out, "</.well-known/est/sen>;rt=\"ace.est.sen\";"
	    "ct=286,<coaps://h:5684/.well-known/est/x/crts>;"
	    "rt=\"ace.est.crts\";ct=\"287 281\"");
	assert_int_equal(len, strlen(out));
	len = 0;
	assert_int_equal(disc_append(out, 20, &len, "", &sen), -1);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
}

/* Every answer of a block transfer stays within the factor. */
static void
walk(size_t doclen, size_t reqlen, size_t tkl, unsigned first_szx)
{
	struct disc_block	 b;
	size_t			 got = 0;
	long			 b2 = -1;

	for (int i = 0; i < 10000; i++) {
		assert_int_equal(disc_plain_block(doclen, reqlen, tkl, b2, &b),
		    0);
		/* the answer: payload and at most 14 + tkl bytes around it */
		assert_true(b.len + 14 + tkl <= DISC_PLAIN_FACTOR * reqlen ||
		    b.szx == 0);
		assert_int_equal(b.off, got);
		got += b.len;
		if (b.whole || !b.more)
			break;
		/* the device asks for the next block in the size it got */
		b2 = (long)(((b.num + 1) << 4) | b.szx);
		if (i == 0 && first_szx < b.szx)
			b2 = (long)((((got >> (first_szx + 4))) << 4) | first_szx);
	}
	assert_int_equal(got, doclen);
}

/* The plain bound: the 21-byte request and a 1038-byte document. */
static void
test_plain_block(void **state)
{
	struct disc_block b;

	(void)state;
	assert_int_equal(disc_plain_block(1038, 21, 0, -1, &b), 0);
	assert_false(b.whole);
	assert_int_equal(b.num, 0);
	assert_true(b.more);
	assert_true(b.len + 14 <= 3 * 21);
	assert_int_equal(b.len, 32);
	walk(1038, 21, 0, 6);
	walk(1038, 29, 8, 6);
	walk(1038, 200, 4, 6);
	walk(1038, 21, 0, 0);
	walk(5000, 1200, 8, 6);
	/* the device asks for 1024-byte blocks: it gets smaller ones */
	assert_int_equal(disc_plain_block(1038, 21, 0, (1 << 4) | 6, &b), 0);
	assert_int_equal(b.off, 1024);
	assert_int_equal(b.len, 14);
	assert_false(b.more);
	assert_int_equal(b.num, 1024 / 32);
	assert_int_equal(b.szx, 1);
	/* a short document fits whole; with Block2 asked, as block 0 */
	assert_int_equal(disc_plain_block(40, 21, 0, -1, &b), 0);
	assert_true(b.whole);
	assert_int_equal(b.len, 40);
	assert_int_equal(disc_plain_block(40, 21, 0, 2, &b), 0);
	assert_false(b.whole);
	assert_int_equal(b.len, 40);
	assert_false(b.more);
	assert_int_equal(disc_plain_block(0, 21, 0, -1, &b), 0);
	assert_true(b.whole);
	assert_int_equal(b.len, 0);
	/* past the end, and SZX 7 */
	assert_int_equal(disc_plain_block(1038, 21, 0, (2 << 4) | 6, &b), -1);
	assert_int_equal(disc_plain_block(1038, 21, 0, 7, &b), -1);
	/* a tiny request still gets 16-byte blocks */
	assert_int_equal(disc_plain_block(1038, 4, 0, -1, &b), 0);
	assert_int_equal(b.szx, 0);
	assert_int_equal(b.len, 16);
}

/*
 * The port of plain answers' coaps links: the first DTLS listen entry of
 * the family, "::" serving both, else the first entry's.
 */
static void
test_coaps_port(void **state)
{
	const struct config_listen v4v6[] = { { "127.0.0.1", 5684 },
	    { "::1", 5685 } }, dual[] = { { "::", 6000 }, { "10.0.0.1",
	    6001 } }, v4[] = { { "0.0.0.0", 7000 } };

	(void)state;
	assert_int_equal(disc_coaps_port(v4v6, NELEM(v4v6), 0), 5684);
	assert_int_equal(disc_coaps_port(v4v6, NELEM(v4v6), 1), 5685);
	assert_int_equal(disc_coaps_port(dual, NELEM(dual), 0), 6000);
	assert_int_equal(disc_coaps_port(dual, NELEM(dual), 1), 6000);
	/* no entry of the family: the first one's port */
	assert_int_equal(disc_coaps_port(v4, NELEM(v4), 1), 7000);
	assert_int_equal(disc_coaps_port(v4, 0, 0), 0);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_plain_block),
		cmocka_unit_test(test_coaps_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
