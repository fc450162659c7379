/*
 * libcurl multi on libevent (design.md 8.1): curl tells us which sockets to
 * watch and when to wake it; we never call a blocking curl function.
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
#include "log.h"
#include "pki.h"
#include "upstream.h"
#include "util.h"

#define UPJOB_MAGIC	0x55504a42u	/* "UPJB" */

struct upstream {
	struct event_base	*base;
	struct config		*cf;		/* referenced */
	CURLM			*multi;
	CURLSH			*share;		/* TLS sessions and DNS */
	struct event		*timer;		/* curl's one timeout */
	TAILQ_HEAD(, upstream_job) jobs;	/* running exchanges */
	unsigned		 njobs;
};

struct upstream_job {
	uint32_t		 magic;
	TAILQ_ENTRY(upstream_job) entry;
	struct upstream		*up;
	struct config		*cf;		/* referenced: the blobs live here */
	size_t			 route;		/* index of cf->routes */
	const char		*server;	/* base URL in use (in cf) */
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;		/* request body, owned */
	struct buf		 resp;		/* capped response body */
	int			 oversize;
	long			 retry_after;	/* -1: none seen */
	uint64_t		 t0;		/* mono_ms at submit */
	upstream_done_fn	 done;
	void			*arg;
};

/* The libevent event of one curl socket. */
struct upstream_sock {
	struct event		*ev;
	struct upstream		*up;
};

static void	upstream_drain(struct upstream *);

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
	} else {
		event_free(us->ev);
		us->ev = NULL;
	}
	if ((us->ev = event_new(up->base, s, ev, upstream_sock_cb, up)) ==
	    NULL || event_add(us->ev, NULL) == -1) {
		log_warnx("upstream: cannot watch a socket");
		return -1;
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

/* See upstream.h. */
void
upstream_set_config(struct upstream *up, struct config *cf)
{
	config_ref(cf);
	config_unref(up->cf);
	up->cf = cf;
	upstream_limits(up);
}

/* Create the multi handle, bound to the loop, for config cf. */
struct upstream *
upstream_new(struct event_base *base, struct config *cf)
{
	struct upstream *up;

	if ((up = calloc(1, sizeof(*up))) == NULL)
		return NULL;
	up->base = base;
	up->cf = config_ref(cf);
	TAILQ_INIT(&up->jobs);
	if ((up->multi = curl_multi_init()) == NULL ||
	    (up->share = curl_share_init()) == NULL ||
	    (up->timer = evtimer_new(base, upstream_timer_cb, up)) == NULL) {
		upstream_free(up);
		return NULL;
	}
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
	curl_slist_free_all(job->hdrs);
	free(job->body);
	buf_reset(&job->resp);
	config_unref(job->cf);
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
	config_unref(up->cf);
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

/* Parse a Retry-After header value: delta seconds or an HTTP-date. */
static size_t
upstream_header_cb(char *p, size_t sz, size_t n, void *arg)
{
	struct upstream_job	*job = arg;
	size_t			 len = sz * n;
	char			 line[256];
	const char		*v;
	time_t			 when;

	if (len < 13 || len >= sizeof(line) ||
	    strncasecmp(p, "Retry-After:", 12) != 0)
		return len;
	memcpy(line, p, len);
	line[len] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	for (v = line + 12; *v == ' ' || *v == '\t'; v++)
		;
	if (*v >= '0' && *v <= '9') {
		char		*end;
		unsigned long	 s = strtoul(v, &end, 10);

		if (*end == '\0')
			job->retry_after = s > 0x7fffffffUL ? 0x7fffffffL :
			    (long)s;
	} else if ((when = curl_getdate(v, NULL)) != -1) {
		time_t now = time(NULL);

		/* RFC 9148 4.7 via 7252: a delta, never negative */
		job->retry_after = when > now ? (long)(when - now) : 0;
	}
	return len;
}

/* Set what every exchange shares: TLS identity, trust, timeouts. */
static int
upstream_easy_setup(struct upstream *up, struct upstream_job *job,
    const char *url)
{
	const struct config_upstream *cu = &job->cf->routes[job->route].up;
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
	SET(CURLOPT_SSLCERT_BLOB, &cert);
	SET(CURLOPT_SSLCERTTYPE, "PEM");
	SET(CURLOPT_SSLKEY_BLOB, &key);
	SET(CURLOPT_SSLKEYTYPE, "PEM");
	SET(CURLOPT_CAINFO_BLOB, &ca);
	SET(CURLOPT_CAPATH, NULL);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cu->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)cu->timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* HTTP/2 where the CA offers it: many enrollments, one connection */
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_PIPEWAIT, 1L);
	SET(CURLOPT_WRITEFUNCTION, upstream_body_cb);
	SET(CURLOPT_WRITEDATA, job);
	SET(CURLOPT_HEADERFUNCTION, upstream_header_cb);
	SET(CURLOPT_HEADERDATA, job);
	SET(CURLOPT_USERAGENT, "estcoapd/" ESTCOAPD_VERSION);
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* Start one exchange; see upstream.h. */
struct upstream_job *
upstream_submit(struct upstream *up, size_t route, const char *path,
    const char *body, size_t len, const char *ctype, upstream_done_fn done,
    void *arg)
{
	struct upstream_job	*job;
	const char		*base;
	char			 url[1024], hdr[128];
	int			 n;

	if (route >= up->cf->nroutes)
		return NULL;
	base = up->cf->routes[route].up.servers[0];
	n = snprintf(url, sizeof(url), "%s%s", base, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return NULL;
	/* a trailing "/" on the base would double the slash */
	if (base[strlen(base) - 1] == '/')
		snprintf(url, sizeof(url), "%.*s%s", (int)strlen(base) - 1,
		    base, path);
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->magic = UPJOB_MAGIC;
	job->up = up;
	job->cf = config_ref(up->cf);
	job->route = route;
	job->server = base;
	job->done = done;
	job->arg = arg;
	job->retry_after = -1;
	job->t0 = mono_ms();
	buf_init(&job->resp, up->cf->max_response_body);
	TAILQ_INSERT_TAIL(&up->jobs, job, entry);
	up->njobs++;
	if ((job->easy = curl_easy_init()) == NULL ||
	    upstream_easy_setup(up, job, url) == -1)
		goto fail;
	/* no 100-continue round trip: the body is small */
	if ((job->hdrs = curl_slist_append(NULL, "Expect:")) == NULL)
		goto fail;
	if (body != NULL) {
		struct curl_slist *l;

		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		if ((l = curl_slist_append(job->hdrs, hdr)) == NULL)
			goto fail;
		job->hdrs = l;
		if (up->cf->routes[route].up.send_cte) {
			if ((l = curl_slist_append(job->hdrs,
			    "Content-Transfer-Encoding: base64")) == NULL)
				goto fail;
			job->hdrs = l;
		}
		if ((job->body = malloc(len + 1)) == NULL)
			goto fail;
		memcpy(job->body, body, len);
		job->body[len] = '\0';
		curl_easy_setopt(job->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(job->easy, CURLOPT_POSTFIELDS, job->body);
		curl_easy_setopt(job->easy, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(job->easy, CURLOPT_HTTPHEADER, job->hdrs);
	if (curl_multi_add_handle(up->multi, job->easy) != CURLM_OK)
		goto fail;
	log_debug("upstream: %s %s", body != NULL ? "POST" : "GET", url);
	return job;
fail:
	upstream_job_free(job);
	return NULL;
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
void
upstream_set_arg(struct upstream_job *job, void *arg)
{
	if (job->magic != UPJOB_MAGIC)
		fatalx("%s: not a job (%p)", __func__, (void *)job);
	job->arg = arg;
}

unsigned
upstream_active(const struct upstream *up)
{
	return up->njobs;
}

/* Hand every finished exchange to its owner. */
static void
upstream_drain(struct upstream *up)
{
	CURLMsg			*msg;
	int			 left;

	while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		struct upstream_job	*job = NULL;
		struct upstream_result	 r;
		CURLcode		 rc;
		char			*ct = NULL, ctbuf[256];
		long			 status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&job);
		if (job == NULL || job->magic != UPJOB_MAGIC)
			fatalx("upstream: finished transfer without a job");
		curl_easy_getinfo(job->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(job->easy, CURLINFO_CONTENT_TYPE, &ct);
		memset(&r, 0, sizeof(r));
		ctbuf[0] = '\0';
		if (ct != NULL)
			snprintf(ctbuf, sizeof(ctbuf), "%s", ct);
		r.ctype = ct != NULL ? ctbuf : NULL;
		r.retry_after = job->retry_after;
		r.ms = mono_ms() - job->t0;
		r.server = job->server;
		if (rc == CURLE_OK) {
			r.end = UPSTREAM_OK;
			r.status = status;
			r.body = job->resp.data;
			r.body_len = job->resp.len;
		} else if (job->oversize) {
			r.end = UPSTREAM_FAILED;
			r.error = "response body over limits.max_response_body";
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			r.end = UPSTREAM_TIMEOUT;
			r.error = curl_easy_strerror(rc);
		} else {
			r.end = UPSTREAM_FAILED;
			r.error = curl_easy_strerror(rc);
		}
		/* the callback may cancel other jobs, never this one */
		curl_multi_remove_handle(up->multi, job->easy);
		curl_easy_cleanup(job->easy);
		job->easy = NULL;
		job->done(job->arg, &r);
		upstream_job_free(job);
	}
}
