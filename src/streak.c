/*
 * Runs of failures (streak.h): one log line when a run starts, one when
 * it ends.
 */
#include <stddef.h>

#include "streak.h"

/* See streak.h. */
int
streak_fail(struct streak *s, uint64_t now_ms)
{
	if (s->fails < UINT32_MAX)
		s->fails++;
	if (s->fails > 1)
		return 0;
	s->since_ms = now_ms;
	return 1;
}

/* See streak.h. */
int
streak_ok(struct streak *s, uint64_t now_ms, unsigned *fails, uint64_t *ms)
{
	int ended = s->fails > 0;

	if (fails != NULL)
		*fails = s->fails;
	if (ms != NULL)
		*ms = ended && now_ms > s->since_ms ? now_ms - s->since_ms : 0;
	s->fails = 0;
	s->since_ms = 0;
	return ended;
}

/* See streak.h. */
int
streak_failing(const struct streak *s)
{
	return s->fails > 0;
}
