/*
 * A mirror of curl's connection queue, to estimate upstream waits
 * (backlog.h). curl 7.88 starts its pending transfers first come, first
 * served, one whenever a connection frees (multi.c); this file assumes
 * the same order.
 */
#include <stddef.h>
#include <stdint.h>

#include "backlog.h"

/* Weight of a shorter sample in the moving average: 1/8. */
#define BACKLOG_EWMA_SHIFT	3

/* Start the oldest queued entries while slots are free. */
static void
backlog_promote(struct backlog *b, uint64_t now)
{
	struct backlog_ent *e;

	while (b->nrunning < b->cap && (e = TAILQ_FIRST(&b->queued)) != NULL) {
		TAILQ_REMOVE(&b->queued, e, entry);
		b->nqueued--;
		e->t_start = now > 0 ? now : 1;
		TAILQ_INSERT_TAIL(&b->running, e, entry);
		b->nrunning++;
	}
}

/* See backlog.h. */
void
backlog_init(struct backlog *b, unsigned cap)
{
	TAILQ_INIT(&b->queued);
	TAILQ_INIT(&b->running);
	b->nqueued = b->nrunning = 0;
	b->cap = cap > 0 ? cap : 1;
	b->ewma_ms = 0;
	b->nsamples = 0;
}

/* See backlog.h. */
void
backlog_set_cap(struct backlog *b, unsigned cap, uint64_t now)
{
	b->cap = cap > 0 ? cap : 1;
	backlog_promote(b, now);
}

/* See backlog.h. */
void
backlog_enter(struct backlog *b, struct backlog_ent *e, void *owner,
    uint64_t now)
{
	e->owner = owner;
	e->active = 1;
	e->t_enter = now;
	e->t_start = 0;
	TAILQ_INSERT_TAIL(&b->queued, e, entry);
	b->nqueued++;
	backlog_promote(b, now);
}

/* See backlog.h. */
void
backlog_leave(struct backlog *b, struct backlog_ent *e, int sample,
    uint64_t now)
{
	if (!e->active)
		return;
	e->active = 0;
	if (e->t_start == 0) {
		TAILQ_REMOVE(&b->queued, e, entry);
		b->nqueued--;
		return;
	}
	TAILQ_REMOVE(&b->running, e, entry);
	b->nrunning--;
	if (sample) {
		uint64_t ms = now > e->t_start ? now - e->t_start : 1;

		/* up at once, down slowly: better refuse than let time out */
		b->nsamples++;
		if (ms >= b->ewma_ms)
			b->ewma_ms = ms;
		else
			b->ewma_ms -= (b->ewma_ms - ms) >> BACKLOG_EWMA_SHIFT;
		if (b->ewma_ms == 0)
			b->ewma_ms = 1;
	}
	e->t_start = 0;
	backlog_promote(b, now);
}

/* See backlog.h. */
void
backlog_move(struct backlog *b, struct backlog_ent *from,
    struct backlog_ent *to, void *owner)
{
	struct backlog_list *l = from->t_start == 0 ? &b->queued : &b->running;

	if (!from->active)
		return;
	*to = *from;
	to->owner = owner;
	TAILQ_INSERT_AFTER(l, from, to, entry);
	TAILQ_REMOVE(l, from, entry);
	from->active = 0;
}

/* See backlog.h. */
uint64_t
backlog_service_ms(const struct backlog *b, uint64_t now)
{
	const struct backlog_ent	*e = TAILQ_FIRST(&b->running);
	uint64_t			 ms = b->ewma_ms;

	if (e != NULL && now > e->t_start && now - e->t_start > ms)
		ms = now - e->t_start;
	return ms;
}

/* The wait of the queued one at index i whose slot frees with r. */
static uint64_t
backlog_slot_wait(const struct backlog *b, const struct backlog_ent *r,
    unsigned i, uint64_t svc, uint64_t now)
{
	uint64_t	free_at = r->t_start + svc;
	uint64_t	rounds = (uint64_t)i / b->cap;

	return (free_at > now ? free_at - now : 0) + (rounds + 1) * svc;
}

/* See backlog.h. */
uint64_t
backlog_wait_ms(const struct backlog *b, unsigned ahead, uint64_t now)
{
	uint64_t			 svc = backlog_service_ms(b, now);
	const struct backlog_ent	*r;
	unsigned			 k;

	if (svc == 0)
		return 0;
	if (b->nrunning < b->cap && ahead == 0)
		return svc;
	r = TAILQ_FIRST(&b->running);
	for (k = 0; r != NULL && k < ahead % b->cap; k++)
		r = TAILQ_NEXT(r, entry);
	if (r == NULL)		/* fewer running than cap: a slot is free */
		return ((uint64_t)ahead / b->cap + 1) * svc;
	return backlog_slot_wait(b, r, ahead, svc, now);
}

/* See backlog.h. */
void
backlog_scan(struct backlog *b, uint64_t now, backlog_visit_fn visit,
    void *arg)
{
	uint64_t		 svc = backlog_service_ms(b, now);
	struct backlog_ent	*e, *next, *r;
	unsigned		 i = 0;

	if (svc == 0)
		return;
	r = TAILQ_FIRST(&b->running);
	for (e = TAILQ_FIRST(&b->queued); e != NULL; e = next) {
		uint64_t wait;

		next = TAILQ_NEXT(e, entry);
		if (r == NULL)
			wait = ((uint64_t)i / b->cap + 1) * svc;
		else
			wait = backlog_slot_wait(b, r, i, svc, now);
		if (visit(e, wait, arg))
			continue;	/* gone: the next one takes its place */
		i++;
		/* the next index frees with the next running one, cyclically */
		if (r != NULL && (r = TAILQ_NEXT(r, entry)) == NULL)
			r = TAILQ_FIRST(&b->running);
		if (r != NULL && i % b->cap == 0)
			r = TAILQ_FIRST(&b->running);
	}
}
