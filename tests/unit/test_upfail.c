/*
 * Unit tests for upfail: the upstream's failover rules as
 * tests/integration/cases/20-failover.sh shows them end to end. Servers
 * are tried in order, a down one is skipped while its down time lasts
 * (tried last rather than not at all), a GET's budget is shared among the
 * servers it may still try, a POST moves on only if its request was not
 * sent, a failure marks a server down and schedules its health check, an
 * HTTP answer below 500 brings it back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "upfail.h"

#define NOW	100000ULL

/* Three servers, all up; st[] points at them as upstream.c does. */
struct route3 {
	struct upfail_server		 s[3];
	const struct upfail_server	*st[3];
};

static void
route3_init(struct route3 *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < 3; i++)
		r->st[i] = &r->s[i];
}

/* Servers are tried in the route's order, each once. */
static void
test_pick_in_order(void **state)
{
	struct route3	 r;

	(void)state;
	route3_init(&r);
	assert_int_equal(upfail_pick(r.st, 3, 0x0, NOW), 0);
	assert_int_equal(upfail_pick(r.st, 3, 0x1, NOW), 1);
	assert_int_equal(upfail_pick(r.st, 3, 0x3, NOW), 2);
	assert_int_equal(upfail_pick(r.st, 3, 0x5, NOW), 1);
	assert_int_equal(upfail_pick(r.st, 3, 0x7, NOW), -1);
	assert_int_equal(upfail_pick(r.st, 0, 0x0, NOW), -1);
	/* a server the generation no longer knows counts as usable */
	r.st[0] = NULL;
	assert_int_equal(upfail_pick(r.st, 3, 0x0, NOW), 0);
}

/* A down server is skipped while down, tried last, usable after. */
static void
test_pick_skips_down(void **state)
{
	struct route3	 r;

	(void)state;
	route3_init(&r);
	assert_int_equal(upfail_mark_down(&r.s[0], NOW, 600, 1), 1);
	assert_false(upfail_usable(&r.s[0], NOW));
	assert_false(upfail_usable(&r.s[0], NOW + 599999));
	assert_true(upfail_usable(&r.s[0], NOW + 600000));
	assert_true(upfail_usable(&r.s[1], NOW));
	assert_true(upfail_usable(NULL, NOW));
	/* the next request goes straight to the second server */
	assert_int_equal(upfail_pick(r.st, 3, 0x0, NOW), 1);
	(void)upfail_mark_down(&r.s[1], NOW, 600, 1);
	assert_int_equal(upfail_pick(r.st, 3, 0x0, NOW), 2);
	/* only down ones left: better a try than a certain failure */
	assert_int_equal(upfail_pick(r.st, 3, 0x4, NOW), 0);
	assert_int_equal(upfail_pick(r.st, 3, 0x5, NOW), 1);
	/* its down time over, a down server is used again, in order */
	assert_int_equal(upfail_pick(r.st, 3, 0x0, NOW + 600000), 0);
}

/* A GET shares the budget among the usable servers it has not tried. */
static void
test_share(void **state)
{
	struct route3	 r;

	(void)state;
	route3_init(&r);
	assert_int_equal(upfail_share(r.st, 3, 0x0, NOW, 9000, 1), 3000);
	assert_int_equal(upfail_share(r.st, 3, 0x1, NOW, 9000, 1), 4500);
	assert_int_equal(upfail_share(r.st, 3, 0x3, NOW, 9000, 1), 9000);
	/* a POST (or a health check) gets all of it */
	assert_int_equal(upfail_share(r.st, 3, 0x0, NOW, 9000, 0), 9000);
	/* down servers take no share */
	(void)upfail_mark_down(&r.s[2], NOW, 10, 1);
	assert_int_equal(upfail_share(r.st, 3, 0x0, NOW, 9000, 1), 4500);
	(void)upfail_mark_down(&r.s[1], NOW, 10, 1);
	assert_int_equal(upfail_share(r.st, 3, 0x0, NOW, 9000, 1), 9000);
	assert_int_equal(upfail_share(r.st, 3, 0x0, NOW + 10000, 9000, 1),
	    3000);
}

/* Moving on: never twice for a sent POST, never out of time. */
static void
test_may_move_on(void **state)
{
	uint64_t	 dl = NOW + 5000;

	(void)state;
	/* a GET, sent or not */
	assert_true(upfail_may_move_on(1, 0, 0, 0, NOW, dl));
	assert_true(upfail_may_move_on(1, 0, 0, 1, NOW, dl));
	/* a POST only if its request never left */
	assert_true(upfail_may_move_on(1, 0, 1, 0, NOW, dl));
	assert_false(upfail_may_move_on(1, 0, 1, 1, NOW, dl));
	/* no server left, or an answer over the size limit */
	assert_false(upfail_may_move_on(-1, 0, 0, 0, NOW, dl));
	assert_false(upfail_may_move_on(1, 1, 0, 0, NOW, dl));
	/* the attempt needs UPFAIL_MIN_ATTEMPT_MS of the budget */
	assert_true(upfail_may_move_on(2, 0, 0, 0,
	    dl - UPFAIL_MIN_ATTEMPT_MS, dl));
	assert_false(upfail_may_move_on(2, 0, 0, 0,
	    dl - UPFAIL_MIN_ATTEMPT_MS + 1, dl));
}

/* Marked down once (one log line), kept down by later failures. */
static void
test_mark_down(void **state)
{
	struct upfail_server	 s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(upfail_mark_down(&s, NOW, 30, 5), 1);
	assert_true(s.down);
	assert_int_equal(s.down_until, NOW + 30000);
	assert_int_equal(s.check_at, NOW + 5000);
	assert_int_equal(s.fails.fails, 1);
	/* again: the down time restarts, the health check stays put */
	assert_int_equal(upfail_mark_down(&s, NOW + 1000, 30, 5), 0);
	assert_int_equal(s.down_until, NOW + 31000);
	assert_int_equal(s.check_at, NOW + 5000);
	assert_int_equal(s.fails.fails, 2);
}

/* An answer brings a down server back, with its run of failures. */
static void
test_mark_up(void **state)
{
	struct upfail_server	 s;
	unsigned		 n = 99;
	uint64_t		 ms = 99;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(upfail_mark_up(&s, NOW, &n, &ms), 0);
	assert_int_equal(n, 99);
	(void)upfail_mark_down(&s, NOW, 600, 1);
	(void)upfail_mark_down(&s, NOW + 2000, 600, 1);
	upfail_still_down(&s, NOW + 7000, 600);
	assert_int_equal(s.down_until, NOW + 607000);
	assert_int_equal(upfail_mark_up(&s, NOW + 9000, &n, &ms), 1);
	assert_false(s.down);
	assert_int_equal(s.down_until, 0);
	assert_int_equal(n, 3);
	assert_int_equal(ms, 9000);
	assert_true(upfail_usable(&s, NOW + 9000));
	assert_int_equal(upfail_mark_up(&s, NOW + 9500, &n, &ms), 0);
}

/* Health checks: only of down servers, every interval, never when 0. */
static void
test_health(void **state)
{
	struct upfail_server	 s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_false(upfail_check_due(&s, NOW, 1));
	(void)upfail_mark_down(&s, NOW, 600, 2);
	assert_false(upfail_check_due(&s, NOW + 1999, 2));
	assert_true(upfail_check_due(&s, NOW + 2000, 2));
	assert_int_equal(s.check_at, NOW + 4000);
	assert_false(upfail_check_due(&s, NOW + 2001, 2));
	assert_true(upfail_check_due(&s, NOW + 4000, 2));
	/* health_interval_s 0: none, a server returns by answering */
	assert_false(upfail_check_due(&s, NOW + 100000, 0));
	/* an HTTP answer below 500 is good, anything else is not */
	assert_true(upfail_health_good(1, 200));
	assert_true(upfail_health_good(1, 404));
	assert_true(upfail_health_good(1, 499));
	assert_false(upfail_health_good(1, 500));
	assert_false(upfail_health_good(1, 503));
	assert_false(upfail_health_good(1, 199));
	assert_false(upfail_health_good(0, 200));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_in_order),
		cmocka_unit_test(test_pick_skips_down),
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_may_move_on),
		cmocka_unit_test(test_mark_down),
		cmocka_unit_test(test_mark_up),
		cmocka_unit_test(test_health),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
