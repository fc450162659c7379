/*
 * The failover rules of the upstream (README "Several upstream servers"):
 * which server of a route an exchange tries next, how much of its time
 * budget one attempt gets, when a failed attempt may move on, and how a
 * server is marked down and brought back. Pure: no curl, no clock (the
 * caller passes mono_ms), no logging; upstream.c applies the decisions.
 */
#ifndef ESTCOAPD_UPFAIL_H
#define ESTCOAPD_UPFAIL_H

#include <stddef.h>
#include <stdint.h>

#include "streak.h"

/* A failover attempt needs at least this much of the budget left (ms). */
#define UPFAIL_MIN_ATTEMPT_MS	200

/* What failover knows of one server of one route. */
struct upfail_server {
	int		 down;		/* failed, not good since */
	uint64_t	 down_until;	/* mono_ms: skipped until then */
	uint64_t	 check_at;	/* mono_ms: next health check */
	struct streak	 fails;		/* failed tries while down */
};

/* Usable unless marked down and still within its down time (NULL: yes). */
int		upfail_usable(const struct upfail_server *, uint64_t now);

/*
 * The next of the n servers srv (in the route's order; an entry may be
 * NULL for a server no longer known, which counts as usable) for an
 * exchange that tried the servers of bit set tried: the first untried
 * usable one; when only down ones are left, the first untried of those
 * (better a try than a certain failure). -1 when every one was tried.
 */
int		upfail_pick(const struct upfail_server *const *srv, size_t n,
		    uint32_t tried, uint64_t now);

/*
 * The time one attempt may take out of left (ms). An exchange that may
 * still move on after any failure (shared: a GET that is no health check)
 * gets an equal share per untried usable server, so that a hanging server
 * leaves time for the next; anything else gets all of it.
 */
uint64_t	upfail_share(const struct upfail_server *const *srv, size_t n,
		    uint32_t tried, uint64_t now, uint64_t left, int shared);

/*
 * After a transport failure: may the exchange move on to server next
 * (-1: none left)? Not a response over the size limit, not a POST whose
 * request was sent (no double issuance), and only with
 * UPFAIL_MIN_ATTEMPT_MS of the budget left before deadline.
 */
int		upfail_may_move_on(int next, int oversize, int is_post,
		    int sent, uint64_t now, uint64_t deadline);

/*
 * A transport failure: the server is skipped for down_time_s; the first
 * failure marks it down and schedules its health check health_interval_s
 * from now. 1 when it was up until now (say so), else 0.
 */
int		upfail_mark_down(struct upfail_server *, uint64_t now,
		    unsigned down_time_s, unsigned health_interval_s);

/*
 * An HTTP answer: a down server is back. 1 when it was down (say so, with
 * the failed tries in *fails and the time since the first in *ms).
 */
int		upfail_mark_up(struct upfail_server *, uint64_t now,
		    unsigned *fails, uint64_t *ms);

/* A health check failed: still down, kept away for down_time_s more. */
void		upfail_still_down(struct upfail_server *, uint64_t now,
		    unsigned down_time_s);

/* Is a health check answer good: HTTP arrived with a status 200..499? */
int		upfail_health_good(int transport_ok, long status);

/*
 * Is a health check of this server due (down, and its check time come)?
 * If so the next one is scheduled health_interval_s later. A route with
 * health_interval_s 0 has none.
 */
int		upfail_check_due(struct upfail_server *, uint64_t now,
		    unsigned health_interval_s);

#endif
