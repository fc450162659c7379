/*
 * The upstream's failover rules (include/upfail.h): which server next,
 * how much time per attempt, when to move on, down and back up. Pure.
 */
#include "upfail.h"

/* See upfail.h. */
int
upfail_usable(const struct upfail_server *s, uint64_t now)
{
	return s == NULL || !s->down || now >= s->down_until;
}

/* See upfail.h. */
int
upfail_pick(const struct upfail_server *const *srv, size_t n, uint32_t tried,
    uint64_t now)
{
	for (size_t i = 0; i < n; i++)
		if (!(tried & (1u << i)) && upfail_usable(srv[i], now))
			return (int)i;
	for (size_t i = 0; i < n; i++)
		if (!(tried & (1u << i)))
			return (int)i;
	return -1;
}

/* See upfail.h. */
uint64_t
upfail_share(const struct upfail_server *const *srv, size_t n,
    uint32_t tried, uint64_t now, uint64_t left, int shared)
{
	uint64_t	 k = 0;

	if (!shared)
		return left;
	for (size_t j = 0; j < n; j++)
		if (!(tried & (1u << j)) && upfail_usable(srv[j], now))
			k++;
	return k > 1 ? left / k : left;
}

/* See upfail.h. */
int
upfail_may_move_on(int next, int oversize, int is_post, int sent,
    uint64_t now, uint64_t deadline)
{
	if (next == -1 || oversize || (is_post && sent))
		return 0;
	return now + UPFAIL_MIN_ATTEMPT_MS <= deadline;
}

/* See upfail.h. */
int
upfail_mark_down(struct upfail_server *s, uint64_t now, unsigned down_time_s,
    unsigned health_interval_s)
{
	s->down_until = now + down_time_s * 1000ULL;
	(void)streak_fail(&s->fails, now);
	if (s->down)
		return 0;
	s->down = 1;
	s->check_at = now + health_interval_s * 1000ULL;
	return 1;
}

/* See upfail.h. */
int
upfail_mark_up(struct upfail_server *s, uint64_t now, unsigned *fails,
    uint64_t *ms)
{
	if (!s->down)
		return 0;
	s->down = 0;
	s->down_until = 0;
	(void)streak_ok(&s->fails, now, fails, ms);
	return 1;
}

/* See upfail.h. */
void
upfail_still_down(struct upfail_server *s, uint64_t now, unsigned down_time_s)
{
	s->down_until = now + down_time_s * 1000ULL;
	(void)streak_fail(&s->fails, now);
}

/* See upfail.h. */
int
upfail_health_good(int transport_ok, long status)
{
	return transport_ok && status >= 200 && status < 500;
}

/* See upfail.h. */
int
upfail_check_due(struct upfail_server *s, uint64_t now,
    unsigned health_interval_s)
{
	if (health_interval_s == 0 || !s->down || now < s->check_at)
		return 0;
	s->check_at = now + health_interval_s * 1000ULL;
	return 1;
}
