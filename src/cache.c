/*
 * The crts/att answer cache (cache.h): fresh and stale answers, their
 * ETags, and the background refresh with its backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "answer.h"
#include "backlog.h"
#include "cache.h"
#include "config.h"
#include "estcoapd.h"
#include "est_map.h"
#include "log.h"
#include "reply.h"
#include "route.h"
#include "streak.h"
#include "upstream.h"
#include "util.h"

/* Longest pause between failed background refreshes of crts / att. */
#define CACHE_BACKOFF_MAX_MS	60000

/* Room for "label/op", the name of a cache in the log. */
#define CACHE_NAME		(CONFIG_LABEL_MAX + 8)

/* Formats one cached answer goes out in whose ETag is remembered. */
#define CACHE_TAGS		4

/* One GET route's answer, kept while fresh so it goes out piggybacked. */
struct est_cache {
	const struct route	*rt;		/* whose answer */
	uint8_t			*der;		/* validated upstream DER */
	size_t			 len;
	uint64_t		 expires;	/* now(): stale from then */
	struct upstream_job	*refresh;	/* a refresh in flight */
	struct backlog_ent	 bl;		/* its place in the pool */
	uint64_t		 retry_at;	/* now(): no refresh before */
	uint32_t		 backoff_ms;	/* after failures, doubling */
	struct streak		 fails;		/* failed refreshes in a row */
	int			 stale_logged;	/* once per run of failures */
	/* ETag per representation of der, computed once per fill */
	struct {
		unsigned	 cf;
		size_t		 len;
		uint64_t	 etag;
	}			 tags[CACHE_TAGS];
	unsigned		 ntags;
};

static struct cache_mod {
	struct cache_env	 env;
	const struct config	*cf;
	struct est_cache	 caches[ROUTE_MAX];
	size_t			 n;
} cm;

/* A GET of path: upstream_submit_hdrs without a body. */
static struct upstream_job *
cache_submit_get(struct upstream *up, size_t cfroute, const char *path,
    upstream_done_fn done, void *arg)
{
	return upstream_submit_hdrs(up, cfroute, path, NULL, 0, NULL, NULL,
	    done, arg);
}

/* See cache.h. */
void
cache_init(const struct cache_env *env, const struct config *cf)
{
	memset(&cm, 0, sizeof(cm));
	cm.env = *env;
	if (cm.env.submit == NULL)
		cm.env.submit = cache_submit_get;
	if (cm.env.cancel == NULL)
		cm.env.cancel = upstream_cancel;
	if (cm.env.now == NULL)
		cm.env.now = mono_ms;
	cm.cf = cf;
}

/* See cache.h. */
struct est_cache *
cache_add(const struct route *rt)
{
	struct est_cache	*c;

	if (cm.n >= ROUTE_MAX)
		return NULL;
	c = &cm.caches[cm.n++];
	memset(c, 0, sizeof(*c));
	c->rt = rt;
	return c;
}

/* The pool changed: let the front publish it. */
static void
cache_pool_changed(void)
{
	if (cm.env.pool_changed != NULL)
		cm.env.pool_changed();
}

/* The name of the cache c in log lines: "crts", "label/att". */
static const char *
cache_name(const struct est_cache *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->rt->label, c->rt->label[0] ? "/" : "",
	    c->rt->op->name);
	return buf;
}

/* Stop c's refresh in flight, if any, and give its pool place back. */
static void
cache_cancel(struct est_cache *c)
{
	if (c->refresh != NULL) {
		cm.env.cancel(c->refresh);
		c->refresh = NULL;
	}
	if (cm.env.pool != NULL)
		backlog_leave(cm.env.pool, &c->bl, 0, cm.env.now());
}

/*
 * A validated answer from the CA (taken over): fresh for est.cache_ttl_s,
 * and the CA answers again, so no failure backoff; a run of failed
 * refreshes is over (one line for the whole run).
 */
static void
cache_store(struct est_cache *c, uint8_t *der, size_t len)
{
	unsigned	n;
	uint64_t	ms, now = cm.env.now();
	char		name[CACHE_NAME];

	free(c->der);
	c->der = der;
	c->len = len;
	c->ntags = 0;		/* new representations, new tags */
	c->expires = now + cm.cf->cache_ttl_s * 1000ULL;
	c->backoff_ms = 0;
	c->stale_logged = 0;
	if (streak_ok(&c->fails, now, &n, &ms))
		log_info("cache: %s refresh works again after %u failed "
		    "tr%s in %llu s", cache_name(c, name, sizeof(name)),
		    n, n == 1 ? "y" : "ies", (unsigned long long)(ms / 1000));
}

/* See cache.h. */
void
cache_put(struct est_cache *c, uint8_t *der, size_t len)
{
	if (der == NULL)
		return;
	if (c == NULL || cm.cf->cache_ttl_s == 0) {
		free(der);
		return;
	}
	cache_store(c, der, len);
}

/* A refresh failed: retry after 1, 2, 4 ... 60 s, an outage is no storm. */
static void
cache_failed(struct est_cache *c, const struct est_answer *a,
    const struct upstream_result *r)
{
	uint64_t	 now = cm.env.now();
	char		 code[8], name[CACHE_NAME];

	c->backoff_ms = c->backoff_ms == 0 ? 1000 :
	    c->backoff_ms >= CACHE_BACKOFF_MAX_MS / 2 ?
	    CACHE_BACKOFF_MAX_MS : c->backoff_ms * 2;
	c->retry_at = now + c->backoff_ms;
	/* one line when a run of failures starts, one when it ends */
	log_emit(streak_fail(&c->fails, now) ? LOG_LVL_WARN : LOG_LVL_DEBUG,
	    "cache: %s refresh failed%s: %s %s (upstream %ld%s%s), next try "
	    "in %u s%s", cache_name(c, name, sizeof(name)),
	    c->fails.fails > 1 ? " again" : "", estmap_code_str(a->code, code),
	    a->reason != NULL ? a->reason : "-", r->status,
	    r->error != NULL ? ": " : "", r->error != NULL ? r->error : "",
	    c->backoff_ms / 1000, c->fails.fails > 1 ? "" :
	    "; retried after 1 to 60 s, logged again when it works");
}

/* A background refresh of c finished (upstream callback). */
static void
cache_done(void *arg, const struct upstream_result *r)
{
	struct est_cache	*c = arg;
	const struct est_op	*op = c->rt->op;
	struct est_answer	 a;
	uint8_t			*der = NULL;
	size_t			 derlen = 0;
	char			 name[CACHE_NAME];

	c->refresh = NULL;
	if (cm.env.pool != NULL)
		backlog_leave(cm.env.pool, &c->bl, r->end == UPSTREAM_OK,
		    cm.env.now());
	cache_pool_changed();
	if (cm.env.seen != NULL)
		cm.env.seen(r);
	memset(&a, 0, sizeof(a));
	answer_upstream(&a, op, (unsigned)op->def_cf, NULL, r, cm.env.pol,
	    &der, &derlen);
	if (der != NULL) {
		cache_store(c, der, derlen);
		log_info("cache: %s refreshed (%zu bytes, %u s)",
		    cache_name(c, name, sizeof(name)), derlen,
		    cm.cf->cache_ttl_s);
	} else
		cache_failed(c, &a, r);
	answer_clear(&a);
}

/* Start a background refresh of c, unless one runs or must wait. */
static void
cache_refresh(struct est_cache *c)
{
	char	 path[128];

	if (c->refresh != NULL || cm.cf->cache_ttl_s == 0 ||
	    cm.env.now() < c->retry_at ||
	    estmap_upstream_path(c->rt->op, c->rt->label, path,
	    sizeof(path)) == -1)
		return;
	c->refresh = cm.env.submit(cm.env.up, c->rt->cfroute, path,
	    cache_done, c);
	if (c->refresh != NULL && cm.env.pool != NULL) {
		backlog_enter(cm.env.pool, &c->bl, NULL, cm.env.now());
		cache_pool_changed();
	}
}

/* See cache.h. */
void
cache_tick(void)
{
	uint64_t	now = cm.env.now();
	uint64_t	ttl = cm.cf->cache_ttl_s * 1000ULL;

	if (ttl == 0)
		return;
	/* refresh crts/att in the last fifth of their life, or when empty */
	for (size_t i = 0; i < cm.n; i++) {
		struct est_cache *c = &cm.caches[i];

		if (c->der == NULL || now + ttl / 5 >= c->expires)
			cache_refresh(c);
	}
}

/* See cache.h. */
void
cache_configure(const struct config *cf)
{
	for (size_t i = 0; i < cm.n; i++) {
		struct est_cache		*c = &cm.caches[i];
		const struct config_upstream	*o, *n;

		o = &cm.cf->routes[c->rt->cfroute].up;
		n = &cf->routes[c->rt->cfroute].up;
		if (o->nservers == n->nservers &&
		    memcmp(o->servers, n->servers, sizeof(o->servers)) == 0)
			continue;
		/* another CA: what we cached is not its answer */
		if (c->refresh != NULL)
			cache_cancel(c);
		free(c->der);
		c->der = NULL;
		c->backoff_ms = 0;
		c->retry_at = 0;
		streak_ok(&c->fails, cm.env.now(), NULL, NULL);
	}
	cm.cf = cf;
}

/* See cache.h. */
void
cache_shutdown(void)
{
	for (size_t i = 0; i < cm.n; i++) {
		cache_cancel(&cm.caches[i]);
		free(cm.caches[i].der);
	}
	memset(&cm, 0, sizeof(cm));
}

/*
 * The ETag of a representation of c's answer: the first 8 bytes of the
 * SHA-256 of the payload as it goes out (the DER in the format asked
 * for), hashed once per cache fill and format instead of per request.
 * 0 if it cannot be computed.
 */
static uint64_t
cache_etag(struct est_cache *c, const struct est_answer *a)
{
	uint64_t	etag;
	unsigned	i;

	for (i = 0; i < c->ntags; i++)
		if (c->tags[i].cf == (unsigned)a->cf &&
		    c->tags[i].len == a->len)
			return c->tags[i].etag;
	if ((etag = reply_etag(a->payload, a->len)) == 0)
		return 0;
	if (c->ntags < CACHE_TAGS) {
		c->tags[c->ntags].cf = (unsigned)a->cf;
		c->tags[c->ntags].len = a->len;
		c->tags[c->ntags].etag = etag;
		c->ntags++;
	}
	return etag;
}

/*
 * Does one of the request's ETags name etag? Byte for byte as the option
 * goes out (coap_encode_var_safe8: no leading zero bytes).
 */
static int
cache_etag_match(const struct cache_etags *etags, uint64_t etag)
{
	uint8_t	eb[8];
	size_t	n = coap_encode_var_safe8(eb, sizeof(eb), etag);

	for (unsigned i = 0; etags != NULL && i < etags->n; i++)
		if (etags->tag[i].len == n &&
		    memcmp(etags->tag[i].v, eb, n) == 0)
			return 1;
	return 0;
}

/* a becomes 2.03 Valid (RFC 7252 5.9.1.3): ETag and Max-Age, no body. */
static void
cache_valid(struct est_answer *a)
{
	uint64_t keep = a->etag;
	int	 age = a->max_age;

	answer_clear(a);
	a->code = EST_CODE(2, 3);
	a->etag = keep;
	a->max_age = age;
	a->reason = "valid";
}

/* See cache.h. */
int
cache_answer(struct est_cache *c, const struct est_op *op, unsigned resp_cf,
    const struct cache_etags *etags, struct est_answer *a)
{
	uint64_t	 now = cm.env.now(), stale_until;
	int		 stale = 0;
	char		 name[CACHE_NAME];

	if (c == NULL || c->der == NULL)
		return -1;
	stale_until = c->expires + cm.cf->cache_max_stale_s * 1000ULL;
	if (now >= c->expires) {
		/* serve stale only while refreshing keeps failing */
		if (c->backoff_ms == 0 || now >= stale_until)
			return -1;
		stale = 1;
	}
	answer_body(a, op, resp_cf, c->der, c->len);
	if (a->code >= EST_CODE(3, 0))
		return 0;		/* e.g. 4.06 for 287 on a bundle */
	a->max_age = stale ? 0 : (int)((c->expires - now + 999) / 1000);
	a->reason = stale ? "stale" : "cached";
	if (stale && !c->stale_logged) {
		/* once per run of failures; each request line says stale */
		c->stale_logged = 1;
		log_warnx("cache: %s served stale (%llu s past its TTL; "
		    "upstream failing)", cache_name(c, name, sizeof(name)),
		    (unsigned long long)((now - c->expires) / 1000));
	}
	if ((a->etag = cache_etag(c, a)) != 0 &&
	    cache_etag_match(etags, a->etag))
		cache_valid(a);
	return 0;
}
