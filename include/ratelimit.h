/*
 * Per-source request rate: a token bucket per source address in a table
 * of bounded size (the least recently seen address makes room for a new
 * one). Pure: no I/O; the caller passes the time.
 */
#ifndef ESTCOAPD_RATELIMIT_H
#define ESTCOAPD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct rl_table;

/*
 * rate: requests per second each address may make on average; burst:
 * requests it may make at once (the bucket size); max_entries: addresses
 * remembered at once. NULL on ENOMEM.
 */
struct rl_table	*rl_table_new(uint32_t rate, uint32_t burst,
		    size_t max_entries);
void		 rl_table_free(struct rl_table *);

/* New rate and burst for a reload; buckets in use keep their level. */
void		 rl_table_set_limits(struct rl_table *, uint32_t rate,
		    uint32_t burst);

/*
 * Take one token for the address (addr, len <= 16 bytes: an in_addr or
 * in6_addr). 0 when allowed; otherwise the milliseconds until the next
 * token (>= 1).
 */
uint64_t	 rl_take(struct rl_table *, const void *addr, size_t len,
		    uint64_t now_ms);

size_t		 rl_count(const struct rl_table *);	/* addresses now */

/*
 * The hash bucket an address falls in (tests): it depends on a seed each
 * table draws from the RNG, so peers cannot pick colliding addresses.
 */
size_t		 rl_bucket_of(const struct rl_table *, const void *addr,
		    size_t len);

#endif
