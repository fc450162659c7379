/*
 * Unit tests for backlog: the mirror of curl's connection queue, its
 * service-time estimate and the wait it predicts for a new exchange.
 * The numbers of scenario B4 of doc/bench/results.md (512 connections, a 5 s upstream, 10,000 devices, a 27 s
 * budget) serve as one scenario; a random run is checked against a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backlog.h"

/* Entries run while slots are free, then queue; leaving starts the oldest. */
static void
test_backlog_fifo(void **state)
{
	struct backlog		b;
	struct backlog_ent	e[5];

	(void)state;
	memset(e, 0, sizeof(e));
	backlog_init(&b, 2);
	for (int i = 0; i < 5; i++)
		backlog_enter(&b, &e[i], &e[i], 100 + (uint64_t)i);
	assert_int_equal(b.nrunning, 2);
	assert_int_equal(b.nqueued, 3);
	assert_true(e[0].t_start == 100 && e[1].t_start == 101);
	assert_true(e[2].t_start == 0 && e[4].t_start == 0);
	/* a queued one cancelled: nobody starts, the count drops */
	backlog_leave(&b, &e[3], 0, 200);
	assert_int_equal(b.nqueued, 2);
	assert_int_equal(b.nrunning, 2);
	assert_int_equal(b.nsamples, 0);
	/* a running one ends: the oldest queued (e[2]) takes its slot */
	backlog_leave(&b, &e[1], 1, 1101);
	assert_int_equal(b.nrunning, 2);
	assert_int_equal(b.nqueued, 1);
	assert_true(e[2].t_start == 1101);
	assert_true(e[4].t_start == 0);
	assert_true(b.ewma_ms == 1000);
	/* leaving twice is harmless */
	backlog_leave(&b, &e[1], 1, 1200);
	assert_int_equal(b.nrunning, 2);
	assert_int_equal(b.nsamples, 1);
	/* a larger cap starts the rest at once */
	backlog_set_cap(&b, 3, 1300);
	assert_int_equal(b.nrunning, 3);
	assert_int_equal(b.nqueued, 0);
	assert_true(e[4].t_start == 1300);
}

/* Longer samples count at once, shorter ones by an eighth. */
static void
test_backlog_ewma(void **state)
{
	struct backlog		b;
	struct backlog_ent	e;

	(void)state;
	memset(&e, 0, sizeof(e));
	backlog_init(&b, 1);
	assert_true(backlog_service_ms(&b, 0) == 0);
	assert_true(backlog_wait_ms(&b, 0, 0) == 0);
	backlog_enter(&b, &e, NULL, 1000);
	backlog_leave(&b, &e, 1, 1010);
	assert_true(b.ewma_ms == 10);
	backlog_enter(&b, &e, NULL, 2000);
	backlog_leave(&b, &e, 1, 4000);
	assert_true(b.ewma_ms == 2000);
	backlog_enter(&b, &e, NULL, 5000);
	backlog_leave(&b, &e, 1, 5400);
	assert_true(b.ewma_ms == 2000 - 1600 / 8);
	/* a cancelled one is no sample */
	backlog_enter(&b, &e, NULL, 6000);
	backlog_leave(&b, &e, 0, 9000);
	assert_true(b.ewma_ms == 1800);
	/* one running longer than the average raises the estimate */
	backlog_enter(&b, &e, NULL, 10000);
	assert_true(backlog_service_ms(&b, 11000) == 1800);
	assert_true(backlog_service_ms(&b, 13000) == 3000);
	backlog_leave(&b, &e, 0, 13000);
}

/* The waits of B4: 512 slots, 5 s each, all started together. */
static void
test_backlog_b4(void **state)
{
	struct backlog		 b;
	struct backlog_ent	*e;
	const unsigned		 cap = 512, n = 10000;
	unsigned		 admitted = 0;

	(void)state;
	e = calloc(n + 1, sizeof(*e));
	assert_non_null(e);
	backlog_init(&b, cap);
	/* what the cache warm-up taught: one exchange takes 5 s */
	backlog_enter(&b, &e[n], NULL, 1);
	backlog_leave(&b, &e[n], 1, 5001);
	for (unsigned i = 0; i < n; i++) {
		uint64_t now = 10000, w = backlog_wait_ms(&b, b.nqueued, now);

		if (i < cap)
			assert_true(w == 5000);
		if (w > 27000)
			continue;	/* the front answers 5.03 */
		backlog_enter(&b, &e[i], &e[i], now);
		admitted++;
	}
	/* 512 now, then 4 more rounds of 512 within 5 x 5 s = 25 s */
	assert_int_equal(admitted, 5 * cap);
	assert_int_equal(b.nrunning, cap);
	assert_int_equal(b.nqueued, 4 * cap);
	/* the next one would finish after 6 rounds: 30 s */
	assert_true(backlog_wait_ms(&b, b.nqueued, 10000) == 30000);
	/* halfway through the first round the slots free 2.5 s earlier */
	assert_true(backlog_wait_ms(&b, b.nqueued, 12500) == 27500);
	free(e);
}

/* Visitor for test_backlog_scan: records, and drops every third. */
struct scan_log {
	struct backlog	*b;
	uint64_t	 wait[16];
	unsigned	 n;
	uint64_t	 now;
};

static int
scan_visit(struct backlog_ent *e, uint64_t wait, void *arg)
{
	struct scan_log *l = arg;

	l->wait[l->n++] = wait;
	if (l->n % 3 == 0) {
		backlog_leave(l->b, e, 0, l->now);
		return 1;
	}
	return 0;
}

/*
 * Scanning gives each queued entry the wait of its place; dropped ones
 * make room for those behind them.
 */
static void
test_backlog_scan(void **state)
{
	struct backlog		b;
	struct backlog_ent	e[8], s;
	struct scan_log		l;

	(void)state;
	memset(e, 0, sizeof(e));
	memset(&s, 0, sizeof(s));
	memset(&l, 0, sizeof(l));
	backlog_init(&b, 2);
	backlog_enter(&b, &s, NULL, 1);
	backlog_leave(&b, &s, 1, 1001);		/* 1 s per exchange */
	backlog_enter(&b, &e[0], NULL, 10000);	/* runs, frees at 11000 */
	backlog_enter(&b, &e[1], NULL, 10500);	/* runs, frees at 11500 */
	for (int i = 2; i < 8; i++)
		backlog_enter(&b, &e[i], NULL, 10600);
	l.b = &b;
	l.now = 10600;
	backlog_scan(&b, 10600, scan_visit, &l);
	assert_int_equal(l.n, 6);
	/* index 0: slot of e[0] (400 ms) + 1 s; index 1: e[1]'s (900) + 1 s */
	assert_true(l.wait[0] == 1400);
	assert_true(l.wait[1] == 1900);
	/* the third visit (index 2) is dropped: the fourth gets index 2 */
	assert_true(l.wait[2] == 2400);
	assert_true(l.wait[3] == 2400);
	assert_true(l.wait[4] == 2900);
	assert_int_equal(b.nqueued, 4);
	for (int i = 0; i < 8; i++)
		backlog_leave(&b, &e[i], 0, 11000);
	assert_int_equal(b.nqueued + b.nrunning, 0);
}

/* A moved entry keeps its place and start; the old one is inert. */
static void
test_backlog_move(void **state)
{
	struct backlog		b;
	struct backlog_ent	e[3], heir;
	int			o1, o2;

	(void)state;
	memset(e, 0, sizeof(e));
	memset(&heir, 0, sizeof(heir));
	backlog_init(&b, 1);
	backlog_enter(&b, &e[0], NULL, 1);
	backlog_enter(&b, &e[1], &o1, 2);
	backlog_enter(&b, &e[2], NULL, 3);
	backlog_move(&b, &e[1], &heir, &o2);
	assert_ptr_equal(heir.owner, &o2);
	assert_ptr_equal(TAILQ_FIRST(&b.queued), &heir);
	assert_int_equal(b.nqueued, 2);
	backlog_leave(&b, &e[1], 0, 4);		/* inert */
	assert_int_equal(b.nqueued, 2);
	backlog_leave(&b, &e[0], 1, 5);
	assert_true(heir.t_start == 5);
	backlog_leave(&b, &heir, 1, 6);
	assert_true(e[2].t_start == 6);
	backlog_leave(&b, &e[2], 1, 7);
	assert_int_equal(b.nqueued + b.nrunning, 0);
}

/* Random enters and leaves keep the counts of a simple model. */
static void
test_backlog_random(void **state)
{
	struct backlog		b;
	struct backlog_ent	e[64];
	unsigned		cap = 5, in = 0;
	uint64_t		now = 1;

	(void)state;
	memset(e, 0, sizeof(e));
	srandom(7);
	backlog_init(&b, cap);
	for (int step = 0; step < 20000; step++) {
		int i = (int)(random() % 64);

		now += (uint64_t)(random() % 50);
		if (!e[i].active) {
			backlog_enter(&b, &e[i], NULL, now);
			in++;
		} else {
			backlog_leave(&b, &e[i], (int)(random() % 2), now);
			in--;
		}
		if (step % 1000 == 999) {
			cap = 1 + (unsigned)(random() % 8);
			backlog_set_cap(&b, cap, now);
		}
		assert_int_equal(b.nrunning + b.nqueued, in);
		if (b.nqueued > 0)
			assert_true(b.nrunning >= cap);
		else
			assert_true(b.nrunning == in || b.nrunning >= cap);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backlog_fifo),
		cmocka_unit_test(test_backlog_ewma),
		cmocka_unit_test(test_backlog_b4),
		cmocka_unit_test(test_backlog_scan),
		cmocka_unit_test(test_backlog_move),
		cmocka_unit_test(test_backlog_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
