/*
 * Per-source request rate (token buckets). The table is a hash of
 * addresses with an LRU list; it never holds more than max_entries
 * addresses, so a peer with many addresses costs a bounded amount of
 * memory. Evicting an address only gives that address a full bucket
 * again, and only once max_entries newer addresses have been seen.
 * Tokens are kept in thousandths so that rates below 1/ms stay exact.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include "ratelimit.h"
#include "util.h"

#define RL_ADDR_MAX	16
#define RL_MILLI	1000u
/* Hash seed used only if the RNG fails; collisions become guessable. */
#define RL_SEED_FALLBACK	0x9e3779b97f4a7c15ULL

/* One address and its bucket. */
struct rl_entry {
	TAILQ_ENTRY(rl_entry)	 lru;		/* head: most recently seen */
	struct rl_entry		*next;		/* hash chain */
	uint8_t			 addr[RL_ADDR_MAX];
	uint8_t			 len;
	uint64_t		 tokens;	/* thousandths of a request */
	uint64_t		 at_ms;		/* tokens were counted then */
};

struct rl_table {
	struct rl_entry		**bucket;
	size_t			  nbucket;	/* power of two */
	size_t			  count;
	size_t			  max_entries;
	uint32_t		  rate;		/* requests per second */
	uint32_t		  burst;	/* bucket size, requests */
	uint64_t		  seed;		/* keys rl_hash, secret */
	TAILQ_HEAD(rl_lru, rl_entry) lru;
};

/*
 * The hash of an address, keyed by the table's secret seed. Source
 * addresses are the peer's choice (spoofed, or a whole IPv6 prefix): with
 * a public hash it could aim many at one bucket and make every lookup walk
 * a long chain; with the seed it cannot know which addresses collide.
 */
static size_t
rl_hash(const struct rl_table *t, const uint8_t *a, size_t len)
{
	uint64_t	 h = t->seed ^ len, w;

	for (size_t i = 0; i < len; i += 8) {
		w = 0;
		for (size_t j = i; j < len && j < i + 8; j++)
			w = w << 8 | a[j];
		h = mix64(h ^ w);
	}
	return (size_t)mix64(h);
}

/* See ratelimit.h. */
struct rl_table *
rl_table_new(uint32_t rate, uint32_t burst, size_t max_entries)
{
	struct rl_table	*t;
	size_t		 n = 16;

	if (max_entries == 0 || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	while (n < max_entries && n < ((size_t)1 << 30))
		n <<= 1;
	if ((t->bucket = calloc(n, sizeof(*t->bucket))) == NULL) {
		free(t);
		return NULL;
	}
	t->nbucket = n;
	t->max_entries = max_entries;
	t->rate = rate;
	t->burst = burst > 0 ? burst : 1;
	t->seed = seed64(RL_SEED_FALLBACK);
	TAILQ_INIT(&t->lru);
	return t;
}

/* See ratelimit.h. */
void
rl_table_free(struct rl_table *t)
{
	struct rl_entry *e;

	if (t == NULL)
		return;
	while ((e = TAILQ_FIRST(&t->lru)) != NULL) {
		TAILQ_REMOVE(&t->lru, e, lru);
		free(e);
	}
	free(t->bucket);
	free(t);
}

/* See ratelimit.h. */
void
rl_table_set_limits(struct rl_table *t, uint32_t rate, uint32_t burst)
{
	t->rate = rate;
	t->burst = burst > 0 ? burst : 1;
}

/* Unlink e from its hash chain. */
static void
rl_unhash(struct rl_table *t, struct rl_entry *e)
{
	struct rl_entry **pp = &t->bucket[rl_hash(t, e->addr, e->len) &
	    (t->nbucket - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
}

/* The entry of an address, made (or recycled) with a full bucket. */
static struct rl_entry *
rl_lookup(struct rl_table *t, const uint8_t *a, size_t len, uint64_t now)
{
	size_t		 h = rl_hash(t, a, len) & (t->nbucket - 1);
	struct rl_entry	*e;

	for (e = t->bucket[h]; e != NULL; e = e->next)
		if (e->len == len && memcmp(e->addr, a, len) == 0) {
			TAILQ_REMOVE(&t->lru, e, lru);
			TAILQ_INSERT_HEAD(&t->lru, e, lru);
			return e;
		}
	if (t->count >= t->max_entries) {
		/* the least recently seen address makes room */
		e = TAILQ_LAST(&t->lru, rl_lru);
		TAILQ_REMOVE(&t->lru, e, lru);
		rl_unhash(t, e);
		t->count--;
	} else if ((e = malloc(sizeof(*e))) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	memcpy(e->addr, a, len);
	e->len = (uint8_t)len;
	e->tokens = (uint64_t)t->burst * RL_MILLI;
	e->at_ms = now;
	e->next = t->bucket[h];
	t->bucket[h] = e;
	TAILQ_INSERT_HEAD(&t->lru, e, lru);
	t->count++;
	return e;
}

/* See ratelimit.h. */
uint64_t
rl_take(struct rl_table *t, const void *addr, size_t len, uint64_t now_ms)
{
	struct rl_entry	*e;
	uint64_t	 cap = (uint64_t)t->burst * RL_MILLI, need;

	if (len > RL_ADDR_MAX)
		len = RL_ADDR_MAX;
	if ((e = rl_lookup(t, addr, len, now_ms)) == NULL)
		return 0;	/* out of memory: do not refuse for it */
	if (now_ms > e->at_ms) {
		/* rate per second = rate thousandths per millisecond */
		uint64_t add = (now_ms - e->at_ms) * t->rate;

		e->tokens = add >= cap || e->tokens + add >= cap ? cap :
		    e->tokens + add;
		e->at_ms = now_ms;
	}
	if (e->tokens > cap)
		e->tokens = cap;	/* the burst shrank on reload */
	if (e->tokens >= RL_MILLI) {
		e->tokens -= RL_MILLI;
		return 0;
	}
	if (t->rate == 0)
		return 1000;
	need = RL_MILLI - e->tokens;
	return (need + t->rate - 1) / t->rate;
}

/* See ratelimit.h. */
size_t
rl_count(const struct rl_table *t)
{
	return t->count;
}

/* See ratelimit.h. */
size_t
rl_bucket_of(const struct rl_table *t, const void *addr, size_t len)
{
	if (len > RL_ADDR_MAX)
		len = RL_ADDR_MAX;
	return rl_hash(t, addr, len) & (t->nbucket - 1);
}
