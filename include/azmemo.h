/*
 * Route checks remembered per device certificate: that a device whose
 * certificate has SHA-256 fingerprint fp passed a route's policy check
 * (chain against the route's anchors and CRLs, no CRL of any route
 * listing it) under configuration generation gen, until a time. A new
 * DTLS session of the same device then skips the chain verification.
 * Keyed by (fp, policy, generation): a reload (new CRLs, anchors, rules)
 * makes every remembered check miss. A fixed number of slots, each
 * holding one check; a newer check takes the slot of an older one. Only
 * passed checks are kept. Pure: the caller passes the time.
 */
#ifndef ESTCOAPD_AZMEMO_H
#define ESTCOAPD_AZMEMO_H

#include <stddef.h>
#include <stdint.h>

#define AZMEMO_FP_LEN	32

struct azmemo;

/* A table of slots checks (at least 1); NULL when out of memory. */
struct azmemo	*azmemo_new(size_t slots);
void		 azmemo_free(struct azmemo *);

/* Did (fp, policy, gen) pass, with the check still good at now? */
int		 azmemo_passed(const struct azmemo *, const uint8_t *fp,
		    const void *policy, unsigned gen, uint64_t now);

/* Remember that (fp, policy, gen) passed, good until until. */
void		 azmemo_put(struct azmemo *, const uint8_t *fp,
		    const void *policy, unsigned gen, uint64_t until);

#endif
