/*
 * The request hash (pending.h): chained buckets, doubled when there are
 * more entries than buckets, never shrunk. Keys are short byte strings;
 * the bucket hash mixes them with a secret seed so that a device cannot
 * choose tokens that all land in one chain.
 */
#include <stdlib.h>
#include <string.h>


#include "pending.h"
#include "util.h"

/* Buckets a new table starts with. */
#define PEND_BUCKETS_MIN	64

/* Seed used only if the RNG fails; collisions then become guessable. */
#define PEND_SEED_FALLBACK	0x2545f4914f6cdd1dULL

struct pend_table {
	struct pend_ent	**buckets;
	size_t		  nbuckets;	/* a power of two */
	size_t		  count;
	uint64_t	  seed;
};

/* The seeded hash of a key, 8 bytes at a time with its length mixed in. */
static uint64_t
pend_hash(uint64_t seed, const uint8_t *k, size_t len)
{
	uint64_t	h = mix64(seed ^ len), w;
	size_t		i, n;

	for (i = 0; i < len; i += 8) {
		n = len - i < 8 ? len - i : 8;
		w = 0;
		memcpy(&w, k + i, n);
		h = mix64(h ^ w) + i;
	}
	return mix64(h ^ seed);
}

/* See pending.h. */
struct pend_table *
pend_table_new(void)
{
	struct pend_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nbuckets = PEND_BUCKETS_MIN;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	t->seed = seed64(PEND_SEED_FALLBACK);
	return t;
}

/* See pending.h. */
void
pend_table_free(struct pend_table *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t);
}

/* See pending.h. */
int
pend_key(struct pend_ent *e, const void *ptr, const uint8_t *bytes,
    size_t len)
{
	if (len > PEND_KEY_MAX - sizeof(ptr) || (bytes == NULL && len > 0))
		return -1;
	memset(e->key, 0, sizeof(e->key));
	memcpy(e->key, &ptr, sizeof(ptr));
	if (len > 0)
		memcpy(e->key + sizeof(ptr), bytes, len);
	e->klen = sizeof(ptr) + len;
	return 0;
}

/*
 * Double the buckets once there are more entries than buckets. Out of
 * memory, the table keeps its buckets: chains get longer, nothing breaks.
 */
static void
pend_grow(struct pend_table *t)
{
	struct pend_ent	**nb, *e, *next;
	size_t		  n, i, slot;

	if (t->count <= t->nbuckets ||
	    t->nbuckets > SIZE_MAX / 2 / sizeof(*nb))
		return;
	n = t->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = next) {
			next = e->chain;
			slot = (size_t)e->hash & (n - 1);
			e->chain = nb[slot];
			nb[slot] = e;
		}
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
}

/* See pending.h. */
void
pend_insert(struct pend_table *t, struct pend_ent *e)
{
	size_t slot;

	if (e->linked)
		pend_remove(t, e);
	e->hash = pend_hash(t->seed, e->key, e->klen);
	slot = (size_t)e->hash & (t->nbuckets - 1);
	e->chain = t->buckets[slot];
	t->buckets[slot] = e;
	e->linked = 1;
	t->count++;
	pend_grow(t);
}

/* See pending.h. */
void
pend_remove(struct pend_table *t, struct pend_ent *e)
{
	struct pend_ent **pp;

	if (!e->linked)
		return;
	for (pp = &t->buckets[(size_t)e->hash & (t->nbuckets - 1)];
	    *pp != NULL; pp = &(*pp)->chain)
		if (*pp == e) {
			*pp = e->chain;
			e->chain = NULL;
			e->linked = 0;
			t->count--;
			return;
		}
}

/* See pending.h. */
struct pend_ent *
pend_find(const struct pend_table *t, const struct pend_ent *probe,
    const struct pend_ent *skip)
{
	uint64_t	 h = pend_hash(t->seed, probe->key, probe->klen);
	struct pend_ent	*e;

	e = skip != NULL ? skip->chain :
	    t->buckets[(size_t)h & (t->nbuckets - 1)];
	for (; e != NULL; e = e->chain)
		if (e->hash == h && e->klen == probe->klen &&
		    memcmp(e->key, probe->key, e->klen) == 0)
			return e;
	return NULL;
}

/* See pending.h. */
size_t
pend_count(const struct pend_table *t)
{
	return t->count;
}
