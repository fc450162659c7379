/*
 * libcurl multi on libevent (doc/design.md, "Upstream"): curl tells us
 * which sockets to watch and when to wake it; we never call a blocking
 * curl function.
 *
 * Failover: each route has an ordered list of servers. A server whose
 * exchange fails in transport (refused, DNS, TLS, timeout, cut off) is
 * marked down for upstream.down_time_s and skipped; the exchange moves on
 * to the next server within the one upstream.timeout_ms budget. A POST
 * moves on only if curl never sent the request (the PREREQ callback had
 * not run: the connection or its TLS handshake failed), so an enrollment
 * is never issued twice. Down servers get a GET cacerts every
 * upstream.health_interval_s; an HTTP answer below 500 brings them back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/queue.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "config.h"
#include "estcoapd.h"
#include "est_map.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "pki.h"
#include "transcode.h"
#include "up_tls.h"
#include "upfail.h"
#include "upstream.h"
#include "util.h"

#define UPJOB_MAGIC	0x55504a42u	/* "UPJB" */

/* How often down servers are looked at for a health check (ms). */
#define UPSTREAM_TICK_MS	1000

/* What we know of one server of one route; kept across reloads. */
struct upstream_server {
	char			 label[CONFIG_LABEL_MAX + 1];	/* its route */
	char			 url[CONFIG_URL_MAX];	/* "": slot unused */
	struct upfail_server	 st;		/* down or not, since when */
	struct upstream_job	*health;	/* health check in flight */
};

struct upstream {
	struct event_base	*base;
	struct config		*cf;		/* referenced */
	CURLM			*multi;
	CURLSH			*share;		/* TLS sessions and DNS */
	struct up_tls		*tls;		/* cf's identities, parsed */
	struct event		*timer;		/* curl's one timeout */
	struct event		*tick;		/* health checks */
	TAILQ_HEAD(, upstream_job) jobs;	/* running exchanges */
	unsigned		 njobs;
	/* [route][server] of cf: the failover state */
	struct upstream_server	 srv[CONFIG_MAX_ROUTES][CONFIG_MAX_SERVERS];
};

struct upstream_job {
	uint32_t		 magic;
	TAILQ_ENTRY(upstream_job) entry;
	struct upstream		*up;
	struct config		*cf;		/* referenced: the blobs live here */
	struct up_tls		*tls;		/* referenced: cf's, parsed */
	size_t			 route;		/* index of cf->routes */
	size_t			 server;	/* index of its servers, in use */
	uint32_t		 tried;		/* bit per server tried */
	int			 sent;		/* this attempt's request went out */
	int			 health;	/* a health check: no failover */
	char			 path[256];	/* "/.well-known/est/..." */
	char			 errbuf[CURL_ERROR_SIZE];	/* curl's detail */
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;		/* request body, owned; NULL: GET */
	size_t			 len;
	struct buf		 resp;		/* capped response body */
	int			 oversize;
	int			 retry_seen;	/* a usable Retry-After came */
	uint64_t		 t0;		/* mono_ms at submit */
	uint64_t		 t_attempt;	/* mono_ms at this attempt */
	uint64_t		 deadline;	/* t0 + upstream.timeout_ms */
	upstream_done_fn	 done;
	void			*arg;
};

/* The libevent event of one curl socket. */
struct upstream_sock {
	struct event		*ev;
	struct upstream		*up;
};

static void	upstream_drain(struct upstream *);
static void	upstream_health_start(struct upstream *);
static void	upstream_tls_update(struct upstream *);

/* libevent saw activity on a curl socket: tell curl, then reap. */
static void
upstream_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*up = arg;
	int		 flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(up->multi, fd, flags, &running);
	upstream_drain(up);
}

/* curl's timer fired. */
static void
upstream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upstream	*up = arg;
	int		 running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	upstream_drain(up);
}

/* curl asks to watch (or stop watching) one socket. */
static int
upstream_socket_fn(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct upstream		*up = userp;
	struct upstream_sock	*us = socketp;
	short			 ev;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (us != NULL) {
			if (us->ev != NULL)
				event_free(us->ev);
			free(us);
			curl_multi_assign(up->multi, s, NULL);
		}
		return 0;
	}
	ev = EV_PERSIST;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= EV_WRITE;
	if (us == NULL) {
		if ((us = calloc(1, sizeof(*us))) == NULL)
			return -1;
		us->up = up;
		curl_multi_assign(up->multi, s, us);
	} else if (us->ev != NULL) {
		event_free(us->ev);
		us->ev = NULL;
	}
	/*
	 * Out of memory: leave the socket unwatched, so this exchange fails
	 * at its deadline. -1 would make curl mark the whole multi handle
	 * dead, every exchange with it.
	 */
	if ((us->ev = event_new(up->base, s, ev, upstream_sock_cb, up)) ==
	    NULL || event_add(us->ev, NULL) == -1) {
		log_warnx("upstream: cannot watch a socket");
		if (us->ev != NULL)
			event_free(us->ev);
		us->ev = NULL;
	}
	return 0;
}

/* curl asks to be woken after timeout_ms (-1: never). */
static int
upstream_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct upstream	*up = userp;
	struct timeval	 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(up->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(up->timer, &tv);
	return 0;
}

/* Connection caps of the multi handle, from cf. */
static void
upstream_limits(struct upstream *up)
{
	long n = (long)up->cf->routes[0].up.max_connections;

	curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
	curl_multi_setopt(up->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, n);
}

/* The state of a server of the generation in use, or NULL (reloaded away). */
static struct upstream_server *
upstream_server_find(struct upstream *up, const char *label, const char *url)
{
	for (size_t r = 0; r < CONFIG_MAX_ROUTES; r++)
		for (size_t i = 0; i < CONFIG_MAX_SERVERS; i++) {
			struct upstream_server *us = &up->srv[r][i];

			if (us->url[0] != '\0' && strcmp(us->url, url) == 0 &&
			    strcmp(us->label, label) == 0)
				return us;
		}
	return NULL;
}

/* The state of the server a job is using, or NULL. */
static struct upstream_server *
upstream_job_server(struct upstream *up, const struct upstream_job *job)
{
	const struct config_route *rt = &job->cf->routes[job->route];

	return upstream_server_find(up, rt->label,
	    rt->up.servers[job->server]);
}

/*
 * Publish which servers (distinct base URLs) are up: one in several routes
 * is up unless a route has it marked down.
 */
static void
upstream_gauges(struct upstream *up)
{
	int64_t n = 0;

	metrics_servers_reset();
	for (size_t r = 0; r < up->cf->nroutes; r++)
		for (size_t i = 0; i < up->cf->routes[r].up.nservers; i++) {
			const char	*url = up->srv[r][i].url;
			int		 ok = 1, seen = 0;

			for (size_t r2 = 0; r2 < up->cf->nroutes; r2++)
				for (size_t j = 0; j < CONFIG_MAX_SERVERS;
				    j++) {
					if (strcmp(up->srv[r2][j].url, url) !=
					    0)
						continue;
					if (up->srv[r2][j].st.down)
						ok = 0;
					/* counted at its first slot */
					if (r2 < r || (r2 == r && j < i))
						seen = 1;
				}
			if (seen)
				continue;
			metrics_server_up(url, ok);
			n += ok;
		}
	metrics_gauge_set(METRICS_G_UPSTREAMS_UP, n);
}

/*
 * Lay out the server table for cf, keeping what we knew of servers that
 * stay (same label, same URL). Health checks in flight are dropped; the
 * next tick starts them again.
 */
static void
upstream_servers_layout(struct upstream *up, const struct config *cf)
{
	static struct upstream_server old[CONFIG_MAX_ROUTES][CONFIG_MAX_SERVERS];

	for (size_t r = 0; r < CONFIG_MAX_ROUTES; r++)
		for (size_t i = 0; i < CONFIG_MAX_SERVERS; i++)
			if (up->srv[r][i].health != NULL) {
				struct upstream_job *h = up->srv[r][i].health;

				up->srv[r][i].health = NULL;
				upstream_cancel(h);
			}
	memcpy(old, up->srv, sizeof(old));
	memset(up->srv, 0, sizeof(up->srv));
	for (size_t r = 0; r < cf->nroutes; r++)
		for (size_t i = 0; i < cf->routes[r].up.nservers; i++) {
			struct upstream_server *us = &up->srv[r][i];

			snprintf(us->label, sizeof(us->label), "%s",
			    cf->routes[r].label);
			snprintf(us->url, sizeof(us->url), "%s",
			    cf->routes[r].up.servers[i]);
			for (size_t r2 = 0; r2 < CONFIG_MAX_ROUTES; r2++)
				for (size_t j = 0; j < CONFIG_MAX_SERVERS; j++)
					if (old[r2][j].url[0] != '\0' &&
					    strcmp(old[r2][j].url, us->url) ==
					    0 && strcmp(old[r2][j].label,
					    us->label) == 0) {
						*us = old[r2][j];
						us->health = NULL;
					}
		}
}

/* See upstream.h. */
void
upstream_set_config(struct upstream *up, struct config *cf)
{
	gen_ref(cf);
	gen_unref(up->cf);
	up->cf = cf;
	upstream_tls_update(up);
	upstream_limits(up);
	upstream_servers_layout(up, cf);
	upstream_gauges(up);
}

/* The identities of up->cf, parsed once for every exchange it starts. */
static void
upstream_tls_update(struct upstream *up)
{
	up_tls_unref(up->tls);
	up->tls = up_tls_new(up->cf->pki, up->cf->nroutes);
}

/* Once a second: health checks of down servers. */
static void
upstream_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	upstream_health_start(arg);
}

/* Create the multi handle, bound to the loop, for config cf. */
struct upstream *
upstream_new(struct event_base *base, struct config *cf)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->base = base;
	up->cf = gen_ref(cf);
	TAILQ_INIT(&up->jobs);
	if ((up->multi = curl_multi_init()) == NULL ||
	    (up->share = curl_share_init()) == NULL ||
	    (up->timer = evtimer_new(base, upstream_timer_cb, up)) == NULL ||
	    (up->tick = event_new(base, -1, EV_PERSIST, upstream_tick_cb,
	    up)) == NULL) {
		upstream_free(up);
		return NULL;
	}
	{
		struct timeval tv = { UPSTREAM_TICK_MS / 1000,
		    (UPSTREAM_TICK_MS % 1000) * 1000 };

		if (event_add(up->tick, &tv) == -1) {
			upstream_free(up);
			return NULL;
		}
	}
	upstream_servers_layout(up, cf);
	upstream_tls_update(up);
	curl_share_setopt(up->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(up->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION,
	    upstream_socket_fn);
	curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION,
	    upstream_timer_fn);
	curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
	upstream_limits(up);
	upstream_gauges(up);
	return up;
}

/* Remove and free one job without calling its callback. */
static void
upstream_job_free(struct upstream_job *job)
{
	struct upstream *up = job->up;

	if (job->easy != NULL) {
		curl_multi_remove_handle(up->multi, job->easy);
		curl_easy_cleanup(job->easy);
	}
	if (job->health) {
		struct upstream_server *us = upstream_job_server(up, job);

		if (us != NULL && us->health == job)
			us->health = NULL;
	}
	curl_slist_free_all(job->hdrs);
	free(job->body);
	buf_wipe(&job->resp);	/* a serverkeygen answer holds a key */
	gen_unref(job->cf);
	up_tls_unref(job->tls);
	TAILQ_REMOVE(&up->jobs, job, entry);
	up->njobs--;
	job->magic = 0;
	free(job);
}

/* Cancel every job and free the multi handle, the share and the timer. */
void
upstream_free(struct upstream *up)
{
	struct upstream_job *job;

	if (up == NULL)
		return;
	while ((job = TAILQ_FIRST(&up->jobs)) != NULL)
		upstream_job_free(job);
	if (up->multi != NULL)
		curl_multi_cleanup(up->multi);
	if (up->share != NULL)
		curl_share_cleanup(up->share);
	if (up->timer != NULL)
		event_free(up->timer);
	if (up->tick != NULL)
		event_free(up->tick);
	gen_unref(up->cf);
	up_tls_unref(up->tls);
	free(up);
}

/* Append response bytes; stop the transfer past the cap. */
static size_t
upstream_body_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct upstream_job *job = arg;

	if (n != 0 && sz > SIZE_MAX / n)
		return 0;
	if (buf_append(&job->resp, p, sz * n) == -1) {
		job->oversize = 1;
		return 0;		/* curl aborts the transfer */
	}
	return sz * n;
}

/*
 * Whether the answer carries a Retry-After curl can read (delay-seconds or
 * an HTTP-date, RFC 9110 §10.2.3): CURLINFO_RETRY_AFTER gives its value,
 * but 0 also when there is none or it does not parse, and a value that
 * does not parse must leave the configured default in place.
 */
static size_t
upstream_header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct upstream_job	*job = arg;
	size_t			 len = sz * n;
	char			 line[256];
	const char		*v;

	if (len < 13 || len >= sizeof(line) ||
	    strncasecmp(p, "Retry-After:", 12) != 0)
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	for (v = line + 12; *v == ' ' || *v == '\t'; v++)
		;
	job->retry_seen = (*v != '\0' && strspn(v, "0123456789") ==
	    strlen(v)) || curl_getdate(v, NULL) != -1;
	return len;
}

/*
 * The Retry-After of a finished answer in seconds: curl's (a date becomes
 * the seconds until then), never negative and at most INT32_MAX; -1 when
 * there is none.
 */
static long
upstream_retry_after(const struct upstream_job *job, CURL *easy)
{
	curl_off_t s = 0;

	if (!job->retry_seen ||
	    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &s) != CURLE_OK)
		return -1;
	return s < 0 ? 0 : s > 0x7fffffff ? 0x7fffffffL : (long)s;
}

/* curl connected (or reused a connection) and is about to send. */
static int
upstream_prereq_cb(void *arg, char *ip, char *lip, int port, int lport)
{
	struct upstream_job *job = arg;

	(void)ip;
	(void)lip;
	(void)port;
	(void)lport;
	job->sent = 1;
	return CURL_PREREQFUNC_OK;
}

/*
 * Set what every exchange shares: TLS identity, trust, and the deadlines
 * of this attempt (connect_ms, total_ms).
 */
static int
upstream_easy_setup(struct upstream *up, struct upstream_job *job,
    const char *url, long connect_ms, long total_ms)
{
	const struct pki_up	*pu = &job->cf->pki->up[job->route];
	struct curl_blob	 cert = { pu->cert_pem, pu->cert_len - 1,
				    CURL_BLOB_NOCOPY };
	struct curl_blob	 key = { pu->key_pem, pu->key_len - 1,
				    CURL_BLOB_NOCOPY };
	struct curl_blob	 ca = { pu->ca_pem, pu->ca_len - 1,
				    CURL_BLOB_NOCOPY };
	CURL			*e = job->easy;
	CURLcode		 rc = CURLE_OK;

#define SET(opt, val)	do { if (rc == CURLE_OK) \
	rc = curl_easy_setopt(e, opt, val); } while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PRIVATE, job);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_SHARE, up->share);
	if (rc == CURLE_OK && up_tls_setopt(job->tls, job->route, e) == -1) {
		/* not parsed ahead: libcurl decodes the files' PEM itself */
		SET(CURLOPT_SSLCERT_BLOB, &cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
		SET(CURLOPT_CAINFO_BLOB, &ca);
		SET(CURLOPT_CAPATH, NULL);
	}
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TIMEOUT_MS, total_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* HTTP/2 where the CA offers it: many enrollments, one connection */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_PIPEWAIT, 1L);
	SET(CURLOPT_WRITEFUNCTION, upstream_body_cb);
	SET(CURLOPT_WRITEDATA, job);
	SET(CURLOPT_HEADERFUNCTION, upstream_header_cb);
	SET(CURLOPT_HEADERDATA, job);
	/* before it the request certainly did not leave: failover is safe */
	SET(CURLOPT_PREREQFUNCTION, upstream_prereq_cb);
	SET(CURLOPT_PREREQDATA, job);
	SET(CURLOPT_USERAGENT, "estcoapd/" ESTCOAPD_VERSION);
	SET(CURLOPT_ERRORBUFFER, job->errbuf);
	SET(CURLOPT_HTTPHEADER, job->hdrs);
	if (job->body != NULL) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDS, job->body);
		SET(CURLOPT_POSTFIELDSIZE, (long)job->len);
	}
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/*
 * The failover state of each server of job's route, in the route's order;
 * NULL for one the generation in use no longer has. Returns how many.
 */
static size_t
upstream_job_states(struct upstream *up, const struct upstream_job *job,
    const struct upfail_server *st[CONFIG_MAX_SERVERS])
{
	const struct config_route	*rt = &job->cf->routes[job->route];
	const struct upstream_server	*us;

	for (size_t i = 0; i < rt->up.nservers; i++) {
		us = upstream_server_find(up, rt->label, rt->up.servers[i]);
		st[i] = us != NULL ? &us->st : NULL;
	}
	return rt->up.nservers;
}

/* The next server for job (upfail_pick); -1 when every one was tried. */
static int
upstream_pick(struct upstream *up, const struct upstream_job *job)
{
	const struct upfail_server	*st[CONFIG_MAX_SERVERS];
	size_t				 n = upstream_job_states(up, job, st);

	return upfail_pick(st, n, job->tried, mono_ms());
}

/*
 * Start the attempt of job on server i of its route, within what is left
 * of the budget. A GET that may still move on gets an equal share of it
 * per usable server left, so that a hanging server leaves time for the
 * next one; a POST gets it all (it can move on only before it is sent).
 */
static int
upstream_attempt(struct upstream *up, struct upstream_job *job, size_t i)
{
	const struct config_upstream	*cu = &job->cf->routes[job->route].up;
	const struct upfail_server	*st[CONFIG_MAX_SERVERS];
	size_t				 nst = upstream_job_states(up, job, st);
	uint64_t			 now = mono_ms(), left;
	char				 url[1024];
	const char			*base = cu->servers[i];
	size_t				 bl = strlen(base);
	int				 n;

	/* a trailing "/" on the base would double the slash */
	if (bl > 0 && base[bl - 1] == '/')
		bl--;
	n = snprintf(url, sizeof(url), "%.*s%s", (int)bl, base, job->path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -1;
	left = upfail_share(st, nst, job->tried, now, job->deadline > now ?
	    job->deadline - now : 1, job->body == NULL && !job->health);
	job->server = i;
	job->tried |= 1u << i;
	job->sent = 0;
	job->oversize = 0;
	job->retry_seen = 0;
	job->t_attempt = now;
	job->errbuf[0] = '\0';
	buf_wipe(&job->resp);	/* a failed attempt may hold key bytes */
	buf_init(&job->resp, job->cf->max_response_body);
	if ((job->easy = curl_easy_init()) == NULL ||
	    upstream_easy_setup(up, job, url, (long)(left <
	    cu->connect_timeout_ms ? left : cu->connect_timeout_ms),
	    (long)left) == -1 ||
	    curl_multi_add_handle(up->multi, job->easy) != CURLM_OK) {
		if (job->easy != NULL)
			curl_easy_cleanup(job->easy);
		job->easy = NULL;
		return -1;
	}
	log_debug("upstream: %s %s (%llu ms left)", job->body != NULL ?
	    "POST" : "GET", url, (unsigned long long)left);
	return 0;
}

/* A new job for route (not started); NULL when out of memory. */
static struct upstream_job *
upstream_job_new(struct upstream *up, size_t route, const char *path,
    const char *body, size_t len, const char *ctype, const char *const *extra)
{
	const struct config_upstream	*cu = &up->cf->routes[route].up;
	struct upstream_job		*job;
	char				 hdr[128];
	struct curl_slist		*l;

	if (strlen(path) >= sizeof(job->path) ||
	    (job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->magic = UPJOB_MAGIC;
	job->up = up;
	job->cf = gen_ref(up->cf);
	job->tls = up_tls_ref(up->tls);
	job->route = route;
	job->retry_seen = 0;
	job->t0 = mono_ms();
	job->deadline = job->t0 + cu->timeout_ms;
	snprintf(job->path, sizeof(job->path), "%s", path);
	buf_init(&job->resp, up->cf->max_response_body);
	TAILQ_INSERT_TAIL(&up->jobs, job, entry);
	up->njobs++;
	/* no 100-continue round trip: the body is small */
	if ((job->hdrs = curl_slist_append(NULL, "Expect:")) == NULL)
		goto fail;
	if (body != NULL) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		if ((l = curl_slist_append(job->hdrs, hdr)) == NULL)
			goto fail;
		job->hdrs = l;
		if (cu->send_cte) {
			if ((l = curl_slist_append(job->hdrs,
			    "Content-Transfer-Encoding: base64")) == NULL)
				goto fail;
			job->hdrs = l;
		}
		/* RFC 7030 4.2.1: base64, laid out as the route's CA reads it */
		if ((job->body = tc_b64_wrap(body, len, cu->b64_line_length,
		    &job->len)) == NULL)
			goto fail;
	}
	for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
		if ((l = curl_slist_append(job->hdrs, extra[i])) == NULL)
			goto fail;
		job->hdrs = l;
	}
	return job;
fail:
	upstream_job_free(job);
	return NULL;
}

/* See upstream.h. */
struct upstream_job *
upstream_submit_hdrs(struct upstream *up, size_t route, const char *path,
    const char *body, size_t len, const char *ctype, const char *const *extra,
    upstream_done_fn done, void *arg)
{
	struct upstream_job	*job;
	int			 i;

	if (route >= up->cf->nroutes ||
	    (job = upstream_job_new(up, route, path, body, len, ctype,
	    extra)) == NULL)
		return NULL;
	job->done = done;
	job->arg = arg;
	if ((i = upstream_pick(up, job)) == -1 ||
	    upstream_attempt(up, job, (size_t)i) == -1) {
		upstream_job_free(job);
		return NULL;
	}
	return job;
}

/* Mark a route's server down (or keep it down) after a failure. */
static void
upstream_mark_down(struct upstream *up, const struct upstream_job *job,
    const char *why)
{
	const struct config_upstream	*cu = &job->cf->routes[job->route].up;
	struct upstream_server		*us = upstream_job_server(up, job);
	uint64_t			 now = mono_ms();

	if (us == NULL || !upfail_mark_down(&us->st, now, cu->down_time_s,
	    cu->health_interval_s))
		return;
	log_warnx("upstream: server %s%s%s marked down for %u s: %s",
	    us->url, us->label[0] != '\0' ? " of label " : "", us->label,
	    cu->down_time_s, why);
	upstream_gauges(up);
}

/* A server answered over HTTP: if it was down, it is back. */
static void
upstream_mark_up(struct upstream *up, const struct upstream_job *job,
    const char *how)
{
	struct upstream_server	*us = upstream_job_server(up, job);
	unsigned		 n;
	uint64_t		 ms;

	if (us == NULL || !upfail_mark_up(&us->st, mono_ms(), &n, &ms))
		return;
	log_info("upstream: server %s%s%s back up (%s) after %u failed "
	    "tr%s in %llu s", us->url, us->label[0] != '\0' ? " of label " :
	    "", us->label, how, n, n == 1 ? "y" : "ies",
	    (unsigned long long)(ms / 1000));
	upstream_gauges(up);
}

/* Probe every down server whose health check is due (GET cacerts). */
static void
upstream_health_start(struct upstream *up)
{
	const struct est_op	*crts = estmap_op_by_id(EST_OP_CRTS);
	uint64_t		 now = mono_ms();
	char			 path[128];

	for (size_t r = 0; r < up->cf->nroutes; r++) {
		const struct config_route *rt = &up->cf->routes[r];

		for (size_t i = 0; i < rt->up.nservers; i++) {
			struct upstream_server	*us = &up->srv[r][i];
			struct upstream_job	*job;

			if (us->health != NULL || !upfail_check_due(&us->st,
			    now, rt->up.health_interval_s))
				continue;
			if (estmap_upstream_path(crts, rt->label, path,
			    sizeof(path)) == -1 || (job = upstream_job_new(up,
			    r, path, NULL, 0, NULL, NULL)) == NULL)
				continue;
			job->health = 1;
			if (upstream_attempt(up, job, i) == -1) {
				upstream_job_free(job);
				continue;
			}
			us->health = job;
			log_debug("upstream: health check of %s", us->url);
		}
	}
}

/* Cancel a job: its callback will not run. */
void
upstream_cancel(struct upstream_job *job)
{
	if (job == NULL)
		return;
	if (job->magic != UPJOB_MAGIC)
		fatalx("%s: not a job (%p)", __func__, (void *)job);
	upstream_job_free(job);
}

/* See upstream.h. */
unsigned
upstream_route_up(const struct upstream *up, size_t route, unsigned *total)
{
	unsigned n = 0;

	*total = 0;
	if (route >= up->cf->nroutes)
		return 0;
	for (size_t i = 0; i < up->cf->routes[route].up.nservers; i++) {
		(*total)++;
		n += !up->srv[route][i].st.down;
	}
	return n;
}

/*
 * A transport failure of one attempt: should job move on to another
 * server? A GET may, on any failure; a POST only when its request never
 * left (no double issuance). Either needs a server left and time.
 */
static int
upstream_may_move_on(struct upstream *up, struct upstream_job *job, int *next)
{
	*next = job->health ? -1 : upstream_pick(up, job);
	return upfail_may_move_on(*next, job->oversize, job->body != NULL,
	    job->sent, mono_ms(), job->deadline);
}

/* A health check ended: an HTTP answer below 500 means the server is back. */
static void
upstream_health_done(struct upstream *up, struct upstream_job *job,
    CURLcode rc, long status)
{
	struct upstream_server *us = upstream_job_server(up, job);

	if (us != NULL && us->health == job)
		us->health = NULL;
	if (upfail_health_good(rc == CURLE_OK, status))
		upstream_mark_up(up, job, "health check");
	else if (us != NULL) {
		/* still down: keep real requests away from it */
		upfail_still_down(&us->st, mono_ms(),
		    job->cf->routes[job->route].up.down_time_s);
		log_debug("upstream: health check of %s failed (%u in a row): "
		    "%s", us->url, us->st.fails.fails, rc != CURLE_OK ?
		    job->errbuf : "HTTP 5xx");
	}
}

/* What one finished attempt left, read before its handle goes. */
struct upstream_fin {
	CURLcode	 rc;
	long		 status;	/* HTTP status, 0 if none */
	long		 retry_after;	/* seconds; -1 if absent */
	int		 has_ctype;
	char		 ctype[256];
	const char	*server;	/* base URL of this attempt */
};

/*
 * Read what the finished attempt of job left into f, then free its curl
 * handle (a next attempt gets a fresh one) and count it.
 */
static void
upstream_attempt_end(struct upstream *up, struct upstream_job *job,
    CURLcode rc, struct upstream_fin *f)
{
	char	*ct = NULL;

	memset(f, 0, sizeof(*f));
	f->rc = rc;
	curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_getinfo(job->easy, CURLINFO_CONTENT_TYPE, &ct);
	f->retry_after = upstream_retry_after(job, job->easy);
	f->server = job->cf->routes[job->route].up.servers[job->server];
	if ((f->has_ctype = ct != NULL))
		snprintf(f->ctype, sizeof(f->ctype), "%s", ct);
	curl_multi_remove_handle(up->multi, job->easy);
	curl_easy_cleanup(job->easy);
	job->easy = NULL;
	metrics_upstream(f->server, rc == CURLE_OK ? f->status : 0,
	    mono_ms() - job->t_attempt);
	if (job->errbuf[0] == '\0')
		snprintf(job->errbuf, sizeof(job->errbuf), "%s",
		    curl_easy_strerror(rc));
}

/*
 * A transport failure of one attempt (not an oversize answer): mark its
 * server down and move the job on if it may. 1 when the next attempt
 * runs, 0 when the job ends with this failure.
 */
static int
upstream_attempt_failed(struct upstream *up, struct upstream_job *job,
    const struct upstream_fin *f)
{
	char	 why[CURL_ERROR_SIZE + 32];
	int	 next;

	snprintf(why, sizeof(why), "%s%s", job->errbuf,
	    job->sent ? "" : " (request not sent)");
	upstream_mark_down(up, job, why);
	if (upstream_may_move_on(up, job, &next)) {
		log_info("upstream: %s %s%s on %s failed (%s), trying %s",
		    job->body != NULL ? "POST" : "GET", "", job->path,
		    f->server, why,
		    job->cf->routes[job->route].up.servers[next]);
		return upstream_attempt(up, job, (size_t)next) == 0;
	}
	if (next != -1 && job->body != NULL && job->sent)
		log_warnx("upstream: POST %s on %s failed after it was sent "
		    "(%s): not retried on another server, it may have been "
		    "acted on", job->path, f->server, job->errbuf);
	return 0;
}

/* The result handed to the job's owner. */
static void
upstream_result_fill(struct upstream_job *job, const struct upstream_fin *f,
    struct upstream_result *r)
{
	memset(r, 0, sizeof(*r));
	r->ctype = f->has_ctype ? f->ctype : NULL;
	r->retry_after = f->retry_after;
	r->ms = mono_ms() - job->t0;
	r->server = f->server;
	if (f->rc == CURLE_OK) {
		r->end = UPSTREAM_OK;
		r->status = f->status;
		r->body = job->resp.data;
		r->body_len = job->resp.len;
	} else if (job->oversize) {
		metrics_limit("max_response_body");
		r->end = UPSTREAM_FAILED;
		r->error = "response body over limits.max_response_body";
	} else if (f->rc == CURLE_OPERATION_TIMEDOUT) {
		r->end = UPSTREAM_TIMEOUT;
		r->error = job->errbuf;
	} else {
		r->end = UPSTREAM_FAILED;
		r->error = job->errbuf;
	}
}

/* One finished attempt: a health check's end, a failover, or the answer. */
static void
upstream_finished(struct upstream *up, struct upstream_job *job, CURLcode rc)
{
	struct upstream_fin	 f;
	struct upstream_result	 r;

	upstream_attempt_end(up, job, rc, &f);
	if (job->health) {
		upstream_health_done(up, job, rc, f.status);
		upstream_job_free(job);
		return;
	}
	if (rc == CURLE_OK)
		upstream_mark_up(up, job, "answered a request");
	else if (!job->oversize && upstream_attempt_failed(up, job, &f))
		return;
	upstream_result_fill(job, &f, &r);
	/* the callback may cancel other jobs, never this one */
	job->done(job->arg, &r);
	upstream_job_free(job);
}

/* Hand every finished exchange to its owner, or move it on to a server. */
static void
upstream_drain(struct upstream *up)
{
	struct upstream_job	*job;
	CURLMsg			*msg;
	int			 left;

	while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		job = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&job);
		if (job == NULL || job->magic != UPJOB_MAGIC)
			fatalx("upstream: finished transfer without a job");
		upstream_finished(up, job, msg->data.result);
	}
}
