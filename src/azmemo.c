/*
 * Route checks remembered per device certificate (azmemo.h): one
 * direct-mapped slot per (fingerprint, policy, generation) hash.
 */
#include <stdlib.h>
#include <string.h>

#include "azmemo.h"
#include "util.h"

struct azmemo_ent {
	uint8_t		 fp[AZMEMO_FP_LEN];
	const void	*policy;
	unsigned	 gen;
	uint64_t	 until;		/* 0: empty */
};

struct azmemo {
	size_t			 n;
	struct azmemo_ent	 e[];
};

/* See azmemo.h. */
struct azmemo *
azmemo_new(size_t slots)
{
	struct azmemo *m;

	if (slots == 0)
		slots = 1;
	if ((m = calloc(1, sizeof(*m) + slots * sizeof(m->e[0]))) == NULL)
		return NULL;
	m->n = slots;
	return m;
}

/* See azmemo.h. */
void
azmemo_free(struct azmemo *m)
{
	free(m);
}

/*
 * The slot of a key. The fingerprint is a SHA-256 digest, so its first
 * bytes spread well; the policy and generation are mixed in.
 */
static struct azmemo_ent *
azmemo_slot(const struct azmemo *m, const uint8_t *fp, const void *policy,
    unsigned gen)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h));
	h = mix64(h ^ (uint64_t)(uintptr_t)policy ^ ((uint64_t)gen << 32));
	return (struct azmemo_ent *)&m->e[h % m->n];
}

/* See azmemo.h. */
int
azmemo_passed(const struct azmemo *m, const uint8_t *fp, const void *policy,
    unsigned gen, uint64_t now)
{
	const struct azmemo_ent *e;

	if (m == NULL)
		return 0;
	e = azmemo_slot(m, fp, policy, gen);
	return e->until > now && e->policy == policy && e->gen == gen &&
	    memcmp(e->fp, fp, AZMEMO_FP_LEN) == 0;
}

/* See azmemo.h. */
void
azmemo_put(struct azmemo *m, const uint8_t *fp, const void *policy,
    unsigned gen, uint64_t until)
{
	struct azmemo_ent *e;

	if (m == NULL)
		return;
	e = azmemo_slot(m, fp, policy, gen);
	memcpy(e->fp, fp, AZMEMO_FP_LEN);
	e->policy = policy;
	e->gen = gen;
	e->until = until;
}
