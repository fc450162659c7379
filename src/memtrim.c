/*
 * Giving freed heap back after a large reclaim (memtrim.h).
 */
#include <stdlib.h>		/* defines __GLIBC__ under glibc */
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"
#include "memtrim.h"

/* See memtrim.h. */
int
memtrim_due(struct memtrim *mt, unsigned sessions)
{
	unsigned	drop, prev = mt->prev;

	mt->prev = sessions;
	if (sessions > mt->peak)
		mt->peak = sessions;
	drop = mt->peak - sessions;
	if (drop < MEMTRIM_MIN_DROP || drop < mt->peak / 4 || sessions < prev)
		return 0;
	mt->peak = sessions;
	return 1;
}

/* See memtrim.h. */
void
memtrim_tick(struct memtrim *mt, unsigned sessions)
{
	if (!memtrim_due(mt, sessions))
		return;
#ifdef __GLIBC__
	int trimmed = malloc_trim(0);

	log_debug("memtrim: %u sessions left, memory returned: %s", sessions,
	    trimmed ? "yes" : "no");
#endif
}
