/*
 * A run of failures of something retried in the background (a cache
 * refresh, a down upstream server's health check): the log says when a
 * run starts and when it ends, with how many tries failed and for how
 * long, not every retry. Pure: the caller passes the time (mono_ms).
 */
#ifndef ESTCOAPD_STREAK_H
#define ESTCOAPD_STREAK_H

#include <stdint.h>

struct streak {
	unsigned	 fails;		/* failures since the last success */
	uint64_t	 since_ms;	/* time of the first of them */
};

/* A failure: 1 when it starts a run (say so), 0 when one goes on. */
int	streak_fail(struct streak *, uint64_t now_ms);

/*
 * A success: 1 when it ends a run, with the number of failures in *fails
 * and the time since the first in *ms (say so); 0 when none was running.
 * The run is over either way.
 */
int	streak_ok(struct streak *, uint64_t now_ms, unsigned *fails,
	    uint64_t *ms);

/* Is a run going on? */
int	streak_failing(const struct streak *);

#endif
