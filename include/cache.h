/*
 * The answers of the GET operations (crts, att), kept while fresh so that
 * they go out piggybacked: Max-Age is what is left of est.cache_ttl_s, the
 * ETag a digest of the representation (RFC 7252 5.10.6), a stale answer is
 * served while refreshing keeps failing (up to est.cache_max_stale_s), and
 * a background refresh goes upstream in the last fifth of the TTL, with a
 * doubling backoff after failures.
 *
 * Data flows one way: the front asks (cache_answer) and ticks; the cache
 * asks the upstream through the submit function it was given, whose
 * callback fills it. The time and the upstream are injectable (struct
 * cache_env), so that tests/unit/test_cache.c runs without either.
 */
#ifndef ESTCOAPD_CACHE_H
#define ESTCOAPD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "upstream.h"

struct backlog;
struct config;
struct est_answer;
struct est_cache;
struct est_op;
struct req_policy;
struct route;

/* Most ETag options of one request compared (RFC 7252 5.10.6.2). */
#define CACHE_ETAGS_MAX		8

/* The raw ETag option values of a request (1 to 8 bytes each). */
struct cache_etags {
	unsigned	 n;
	struct {
		uint8_t	 v[8];
		size_t	 len;
	}		 tag[CACHE_ETAGS_MAX];
};

/* Start a GET of path on route cfroute of the configuration in use. */
typedef struct upstream_job *(*cache_submit_fn)(struct upstream *,
		    size_t cfroute, const char *path, upstream_done_fn,
		    void *arg);

/* What the cache uses; NULL hooks take the defaults named. */
struct cache_env {
	struct upstream		*up;		/* where refreshes go */
	struct backlog		*pool;		/* curl's connections, mirrored */
	const struct req_policy	*pol;		/* the answer mapping's knobs */
	cache_submit_fn		 submit;	/* a GET by upstream_submit_hdrs */
	void			(*cancel)(struct upstream_job *);
						/* upstream_cancel */
	uint64_t		(*now)(void);	/* mono_ms */
	void			(*pool_changed)(void);	/* e.g. gauges */
	void			(*seen)(const struct upstream_result *);
						/* a refresh ended */
};

/*
 * Use env (copied) and cf. cf must stay alive until the next
 * cache_configure() or cache_shutdown().
 */
void	cache_init(const struct cache_env *env, const struct config *cf);

/*
 * A cache for the GET route rt, which must stay put until
 * cache_shutdown(); NULL when every slot (ROUTE_MAX) is taken.
 */
struct est_cache *cache_add(const struct route *rt);

/*
 * A new configuration generation: a route whose upstream servers changed
 * loses its cached answer and any refresh in flight (another CA).
 */
void	cache_configure(const struct config *cf);

/* Once a second: refresh what is empty or in the last fifth of its TTL. */
void	cache_tick(void);

/* Cancel refreshes in flight, free every answer, forget every route. */
void	cache_shutdown(void);

/*
 * A validated DER answer of c's operation from the CA (taken over; freed
 * when c is NULL or the cache is turned off): fresh for est.cache_ttl_s.
 */
void	cache_put(struct est_cache *c, uint8_t *der, size_t len);

/*
 * Answer a GET of op (c's) in resp_cf from the cache: fresh, or stale
 * while refreshing fails. A request ETag (etags, may be NULL) equal to
 * the representation's gets 2.03 Valid. 0: answered in a; -1: go
 * upstream.
 */
int	cache_answer(struct est_cache *c, const struct est_op *op,
	    unsigned resp_cf, const struct cache_etags *etags,
	    struct est_answer *a);

#endif
