/*
 * The CoAP front. One libcoap context, driven by libevent
 * through its epoll fd. Every EST request goes through front_handler():
 * a retransmission of a pending request is recognised first (deliver.c);
 * then checks (all piggybacked, never an upstream call when one fails),
 * then the cache and the memory of finished exchanges, then the upstream
 * exchange. Its answer goes piggybacked when it comes within
 * coap.ack_hold_ms, else after an empty ACK in a separate response
 * (deliver.h).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "audit.h"
#include "authz.h"
#include "backlog.h"
#include "block1.h"
#include "cache.h"
#include "coap_opt.h"
#include "coap_front.h"
#include "config.h"
#include "csr.h"
#include "deliver.h"
#include "discovery.h"
#include "dtls_resume.h"
#include "estcoapd.h"
#include "est_map.h"
#include "answer.h"
#include "exchange.h"
#include "gen.h"
#include "iobatch.h"
#include "log.h"
#include "metrics.h"
#include "pending.h"
#include "pki.h"
#include "ratelimit.h"
#include "reply.h"
#include "reqline.h"
#include "route.h"
#include "streak.h"
#include "transcode.h"
#include "upstream.h"
#include "util.h"

#define REQ_MAGIC	0x45535452u	/* "ESTR" */
#define SESS_MAGIC	0x45535353u	/* "ESSS" */

/* RFC 7252 4.8.2: how long a peer may retransmit or resume a transfer. */
#define EXCHANGE_LIFETIME_MS	247000

/* Extra time the request deadline gives curl to report its own timeout. */
#define DEADLINE_SLACK_MS	3000

/*
 * Answers held for a device that could not take them (it left, or a
 * separate answer in blocks it cannot fetch), until it asks again: at
 * most this many, this many bytes, EXCHANGE_LIFETIME each.
 */
#define FRONT_HELD_ENTRIES	4096
#define FRONT_HELD_BYTES	(16u << 20)

/* Max-Age of the 5.03 that tells a device to ask again for a held answer. */
#define FRONT_HELD_MAX_AGE	1

/* Per DTLS session: who the device is and what it has pending. */
struct front_sess {
	uint32_t		 magic;
	LIST_ENTRY(front_sess)	 entry;
	coap_session_t		*session;
	struct pki_peer		 id;
	char			 peer[64];	/* [addr]:port */
	unsigned		 pending;
	int			 connected;	/* handshake done */
	uint64_t		 t0;		/* mono_ms: ClientHello passed */
	int			 timed_out;	/* handshake_timeout_s hit */
	const char		*refusal;	/* why the handshake failed */
	/* Block2 SZX asked for in a Block1 upload's first request, per op */
	int			 early_b2[EST_OP_COUNT];	/* -1: none */
	/* the last route policy the device chain was checked against */
	const struct authz	*az;
	unsigned		 az_gen;	/* config generation of az */
	int			 az_ok;		/* 1: chain verified there */
	char			 az_why[128];
	struct dlv_sess		 ds;		/* its requests' CoAP side */
	unsigned		 refs;		/* deferred calls holding it */
	int			 deleted;	/* libcoap freed the session */
};

/* Pending requests of one device (certificate), over all its sessions. */
struct front_dev {
	struct pend_ent		 pe;		/* in fr.devs, by fingerprint */
	unsigned		 n;
};

/*
 * One upstream-bound request, from its arrival to its answer. Its CoAP
 * side (ACK, answer message, retransmissions) is d; d is NULL once the
 * device's session went (an orphan: a POST the CA works on runs to
 * completion, and its answer is held for the device's next try).
 */
struct front_req {
	uint32_t		 magic;
	TAILQ_ENTRY(front_req)	 entry;
	uint64_t		 id;
	const struct est_op	*op;
	const struct route *route;
	struct dlv		*d;		/* NULL: session gone */
	struct front_sess	*sess;		/* referenced (refs) */
	struct upstream_job	*job;		/* NULL when not running */
	unsigned		 resp_cf;
	unsigned		 req_cf;	/* -1u when none */
	int			 has_block1;
	uint32_t		 block1;	/* raw Block1 value to echo */
	int			 b2_szx;	/* early Block2 SZX, -1: none */
	EVP_PKEY		*csr_key;	/* picks the cert for CF 287 */
	char			 csr_subject[160];	/* for the audit log */
	uint8_t			*p7;		/* issued PKCS#7, for the audit */
	size_t			 p7len;
	uint8_t			 xkey[XCH_KEY_LEN];	/* exchange key (POST) */
	uint8_t			 ikey[XCH_KEY_LEN];	/* held-answer key */
	uint64_t		 audit_ms;	/* time of its audit record */
	/* a follower: the leader's exchange, whose answer it gets */
	uint64_t		 orig_req;
	uint64_t		 orig_ms;	/* wall clock, audit_now_ms */
	char			 orig_serial[XCH_SERIAL_LEN];
	struct pend_ent		 lpe;		/* in fr.leaders while leading */
	struct front_req	*leader;	/* set: waits for its answer */
	LIST_HEAD(, front_req)	 followers;	/* wait for ours */
	LIST_ENTRY(front_req)	 fentry;	/* in leader->followers */
	struct front_dev	*dev;		/* its device's count */
	size_t			 req_len;
	int			 done;		/* ans is final */
	struct est_answer	 ans;
	long			 up_status;	/* 0: none */
	uint64_t		 up_ms;
	char			 up_server[CONFIG_URL_MAX]; /* last one used */
	uint64_t		 t0;		/* mono_ms on arrival */
	struct backlog_ent	 bl;		/* job's place in the pool */
};


static struct front {
	struct event_base	*base;
	struct config		*cf;
	struct upstream		*up;
	coap_context_t		*ctx;
	struct event		*ev;		/* libcoap's epoll fd */
	struct iob		*iob;		/* datagrams per pass, or NULL */
	struct blk_table	*blk;
	struct rl_table		*rl;		/* per-source rate, NULL: off */
	uint64_t		 refused_log_ms;/* last "refused" warning */
	unsigned		 refused;	/* handshakes refused since */
	struct xch_table	*xch;		/* finished enrollments */
	struct xch_table	*held;		/* undelivered answers */
	struct pend_table	*leaders;	/* POSTs upstream, by xkey */
	struct pend_table	*devs;		/* front_dev by fingerprint */
	/* every (label, op) pair served: (1 + labels) x EST_OP_COUNT */
	struct route	 routes[(1 + ROUTE_MAX_LABELS) * EST_OP_COUNT];
	size_t			 nroutes;
	TAILQ_HEAD(, front_req)	 reqs;
	LIST_HEAD(, front_sess)	 sessions;
	unsigned		 npending;
	unsigned		 nsessions;	/* with a record */
	unsigned		 nhandshakes;	/* records not yet connected */
	uint64_t		 next_id;
	struct req_policy	 pol;
	int			 draining;	/* SIGTERM: finish, take no more */
	int			 upstream_seen;	/* any exchange finished yet */
	struct backlog		 pool;		/* curl's connections, mirrored */
} fr;

/*
 * The DTLS SSL_CTX libcoap made, learnt from the first handshake; from
 * then on front_client_hello_cb replaces libcoap's ClientHello callback.
 */
static SSL_CTX	*front_dtls_ctx;

static void	front_upstream_seen(const struct upstream_result *);
static void	front_finish(struct front_req *);
static void	front_followers_done(struct front_req *);
static void	front_audit(struct front_req *);
static void	front_remember(struct front_req *);

/* Route libcoap's own log lines into ours. */
static void
front_coap_log(coap_log_t level, const char *msg)
{
	char	 line[512];
	size_t	 n;

	/* the drop reply_hold() causes on purpose */
	if (reply_hold_log(msg))
		return;
	snprintf(line, sizeof(line), "%s", msg);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (level <= LOG_ERR)
		log_warnx("libcoap: %s", line);
	else if (level <= LOG_NOTICE)
		log_info("libcoap: %s", line);
	else
		log_debug("libcoap: %s", line);
}

/* "[addr]:port" of a session's peer. */
static void
front_peer_str(coap_session_t *s, char *buf, size_t bufsz)
{
	const coap_address_t	*a = coap_session_get_addr_remote(s);
	char			 tmp[INET6_ADDRSTRLEN];

	snprintf(buf, bufsz, "-");
	if (a == NULL)
		return;
	if (a->addr.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->addr.sin6.sin6_addr, tmp, sizeof(tmp));
		snprintf(buf, bufsz, "[%s]:%u", tmp,
		    ntohs(a->addr.sin6.sin6_port));
	} else if (a->addr.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->addr.sin.sin_addr, tmp, sizeof(tmp));
		snprintf(buf, bufsz, "%s:%u", tmp, ntohs(a->addr.sin.sin_port));
	}
}

/* The OpenSSL object of a DTLS session, or NULL. */
static SSL *
front_ssl(coap_session_t *s)
{
	coap_tls_library_t	 lib;
	void			*tls = coap_session_get_tls(s, &lib);

	return lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL;
}

/* The device policy of a route. */
static const struct authz *
front_authz(const struct route *rt)
{
	return fr.cf->routes[rt->cfroute].auth;
}

/*
 * A request refused by the route's policy: the answer, a log
 * line with the device identity, the audit record and the counter.
 */
static void
front_deny(const struct front_sess *fs, const struct route *rt,
    unsigned code, const char *reason, const char *why, struct est_answer *a)
{
	char c[8];

	answer_error(a, code, reason, why);
	metrics_inc(METRICS_C_AUTHZ_DENIED);
	log_info("authz: denied peer=%s dev=\"%s\" issuer=\"%s\" serial=%s "
	    "op=%s label=%s code=%s: %s", fs != NULL ? fs->peer : "-",
	    fs != NULL ? fs->id.subject : "-", fs != NULL ? fs->id.issuer :
	    "-", fs != NULL ? fs->id.serial : "-", rt->op->name,
	    rt->label[0] != '\0' ? rt->label : "-", estmap_code_str(code, c),
	    why);
	audit_denied(fs != NULL ? fs->peer : "-", fs != NULL ? &fs->id : NULL,
	    rt->op->name, rt->label, c, why);
}

/*
 * The handshake trusted the union of all routes' anchors; this device
 * must also verify against the route's own anchors, CRLs and expiry rule,
 * and be on its allow-list for the operation. 0, or -1 with a set.
 */
static int
front_authorize(struct front_sess *fs, coap_session_t *s,
    const struct route *rt, struct est_answer *a)
{
	const struct authz	*az = front_authz(rt);
	SSL			*ssl = front_ssl(s);
	char			 why[160];

	if (fs == NULL) {
		front_deny(fs, rt, EST_CODE(4, 3), "forbidden",
		    "no device identity", a);
		return -1;
	}
	/* the chain is checked once per session, route and generation */
	if (fs->az != az || fs->az_gen != fr.cf->gen) {
		fs->az = az;
		fs->az_gen = fr.cf->gen;
		/* listed by any route's CRL: refused on every route */
		fs->az_ok = authz_verify_device(az, ssl, fs->az_why,
		    sizeof(fs->az_why)) == 0 && pki_revoked(fr.cf->pki, ssl,
		    fs->az_why, sizeof(fs->az_why)) == 0;
	}
	if (!fs->az_ok)
		snprintf(why, sizeof(why), "%s", fs->az_why);
	else if (authz_rules_allow(az, ssl, rt->op->name, why, sizeof(why)) ==
	    0)
		return 0;
	front_deny(fs, rt, EST_CODE(4, 3), "forbidden", why, a);
	return -1;
}

/* Publish the session gauges. */
static void
front_sess_gauges(void)
{
	metrics_gauge_set(METRICS_G_SESSIONS, fr.nsessions);
	metrics_gauge_set(METRICS_G_HANDSHAKES, fr.nhandshakes);
}

/* Publish what the pool mirror knows (backlog.h). */
static void
front_pool_gauges(void)
{
	metrics_gauge_set(METRICS_G_UPSTREAM_RUNNING, fr.pool.nrunning);
	metrics_gauge_set(METRICS_G_UPSTREAM_QUEUED, fr.pool.nqueued);
	metrics_gauge_set(METRICS_G_UPSTREAM_SERVICE_MS,
	    (int64_t)backlog_service_ms(&fr.pool, mono_ms()));
}

/*
 * How long an upstream-bound request of a route may take, queue included:
 * nine tenths of upstream.timeout_ms, so that the answer comes before
 * curl's own deadline (which counts the time in curl's queue too).
 */
static uint64_t
front_budget_ms(size_t cfroute)
{
	return (uint64_t)fr.cf->routes[cfroute].up.timeout_ms * 9 / 10;
}

/*
 * Max-Age for a request the pool cannot serve in time: the expected wait,
 * plus up to a quarter more at random so that the refused devices do not
 * all come back in the same second, within busy_max_age_s .. 3600 s.
 */
static int
front_backlog_max_age(uint64_t wait_ms)
{
	uint64_t s = (wait_ms + 999) / 1000;

	if (s / 4 > 0)
		s += arc4random_uniform((uint32_t)(s / 4) + 1);
	if (s < fr.cf->busy_max_age_s)
		s = fr.cf->busy_max_age_s;
	return s > 3600 ? 3600 : (int)s;
}

/* Read the device identity once the handshake is done. */
static void
front_sess_identify(struct front_sess *fs)
{
	void			*tls;
	coap_tls_library_t	 lib;

	if (fs->connected)
		return;
	tls = coap_session_get_tls(fs->session, &lib);
	if (pki_peer_identity(lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL,
	    &fs->id) == -1)
		return;
	fs->connected = 1;
	fr.nhandshakes--;
	front_sess_gauges();
}

/* The record of a session, created when libcoap announces it. */
static struct front_sess *
front_sess_get(coap_session_t *s)
{
	struct front_sess	*fs = coap_session_get_app_data(s);

	/* plain CoAP (the discovery listener) has no device behind it */
	if (coap_session_get_proto(s) != COAP_PROTO_DTLS)
		return NULL;
	if (fs != NULL) {
		if (fs->magic != SESS_MAGIC)
			fatalx("%s: bad session record", __func__);
		front_sess_identify(fs);
		return fs;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->magic = SESS_MAGIC;
	fs->session = s;
	fs->t0 = mono_ms();
	front_peer_str(s, fs->peer, sizeof(fs->peer));
	snprintf(fs->id.subject, sizeof(fs->id.subject), "-");
	snprintf(fs->id.issuer, sizeof(fs->id.issuer), "-");
	snprintf(fs->id.serial, sizeof(fs->id.serial), "-");
	for (size_t i = 0; i < EST_OP_COUNT; i++)
		fs->early_b2[i] = -1;
	LIST_INIT(&fs->ds.all);
	LIST_INSERT_HEAD(&fr.sessions, fs, entry);
	coap_session_set_app_data(s, fs);
	fr.nsessions++;
	fr.nhandshakes++;
	front_sess_gauges();
	return fs;
}

/* Drop one reference to a session record; the last one frees it. */
static void
front_sess_put(struct front_sess *fs)
{
	if (fs == NULL || --fs->refs > 0 || !fs->deleted)
		return;
	fs->magic = 0;
	free(fs);
}

/*
 * Forget a session record (the session is going away). Requests of it
 * that still run (orphans) keep the record, without its session, until
 * they end.
 */
static void
front_sess_free(struct front_sess *fs)
{
	if (fs == NULL)
		return;
	if (!fs->connected) {
		/* it never got past the handshake */
		fr.nhandshakes--;
		metrics_handshake(0, fs->refusal != NULL ? fs->refusal :
		    "handshake");
	}
	fr.nsessions--;
	front_sess_gauges();
	/* answered requests lingering for retransmissions go with it */
	dlv_sess_gone(&fs->ds);
	LIST_REMOVE(fs, entry);
	coap_session_set_app_data(fs->session, NULL);
	fs->session = NULL;
	fs->deleted = 1;
	fs->refs++;
	front_sess_put(fs);
}

/* The one line a request ends with, success or failure. */
static void
front_req_line(uint64_t id, const struct front_sess *fs, const char *peer,
    const char *opname, const char *label, int method, int req_cf,
    size_t req_len,
    long up_status, uint64_t up_ms, const struct est_answer *a, uint64_t t0)
{
	struct reqline	l = { id, fs != NULL ? fs->peer : peer, fs != NULL ?
			    fs->id.subject : NULL, opname, label, method,
			    req_cf, req_len, up_status, up_status != 0 ||
			    up_ms != 0, up_ms, a->code, a->len, mono_ms() - t0,
			    a->reason };

	reqline_emit(&l);
}

/* The count record of fs's device, or NULL; made (empty) with make. */
static struct front_dev *
front_dev_find(const struct front_sess *fs, int make)
{
	struct pend_ent		 probe, *e;
	struct front_dev	*d;

	if (pend_key(&probe, NULL, fs->id.fp, sizeof(fs->id.fp)) == -1)
		return NULL;
	if ((e = pend_find(fr.devs, &probe, NULL)) != NULL)
		return (struct front_dev *)((char *)e -
		    offsetof(struct front_dev, pe));
	if (!make || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->pe = probe;
	d->pe.linked = 0;
	pend_insert(fr.devs, &d->pe);
	return d;
}

/* Requests of fs's device (all its sessions) waiting for the upstream. */
static unsigned
front_dev_pending(const struct front_sess *fs)
{
	const struct front_dev *d = front_dev_find(fs, 0);

	return d != NULL ? d->n : 0;
}

/* One request less for its device; the record goes with the last. */
static void
front_dev_put(struct front_dev *d)
{
	if (d == NULL || --d->n > 0)
		return;
	pend_remove(fr.devs, &d->pe);
	free(d);
}

/*
 * Free a request record: answered, or ending unanswered. Followers of a
 * leader that ends unanswered (only at shutdown) are left on their own.
 */
static void
front_req_free(struct front_req *rq)
{
	struct front_req *f;

	while ((f = LIST_FIRST(&rq->followers)) != NULL) {
		LIST_REMOVE(f, fentry);
		f->leader = NULL;
	}
	if (rq->leader != NULL)
		LIST_REMOVE(rq, fentry);
	pend_remove(fr.leaders, &rq->lpe);
	if (rq->job != NULL)
		upstream_cancel(rq->job);
	backlog_leave(&fr.pool, &rq->bl, 0, mono_ms());
	front_pool_gauges();
	dlv_drop(rq->d);
	if (rq->sess->pending > 0)
		rq->sess->pending--;
	front_sess_put(rq->sess);
	front_dev_put(rq->dev);
	fr.npending--;
	metrics_gauge_set(METRICS_G_PENDING, fr.npending);
	TAILQ_REMOVE(&fr.reqs, rq, entry);
	EVP_PKEY_free(rq->csr_key);
	free(rq->p7);
	answer_clear(&rq->ans);
	rq->magic = 0;
	free(rq);
}

/* Check a void * that should be a request. */
static struct front_req *
front_req_from(void *arg)
{
	struct front_req *rq = arg;

	if (rq == NULL || rq->magic != REQ_MAGIC)
		fatalx("%s: not a request (%p)", __func__, arg);
	return rq;
}

/* The upstream finished: make the answer and send it. */
static void
front_upstream_done(void *arg, const struct upstream_result *r)
{
	struct front_req	*rq = front_req_from(arg);
	uint8_t			*der = NULL;
	size_t			 derlen = 0;
	struct est_cache	*c = rq->route->cache;

	rq->job = NULL;			/* upstream frees it after we return */
	/* only an HTTP answer tells how long the CA takes */
	backlog_leave(&fr.pool, &rq->bl, r->end == UPSTREAM_OK, mono_ms());
	front_pool_gauges();
	rq->up_status = r->end == UPSTREAM_OK ? r->status : 0;
	rq->up_ms = r->ms;
	if (r->server != NULL)
		snprintf(rq->up_server, sizeof(rq->up_server), "%s", r->server);
	front_upstream_seen(r);
	answer_upstream(&rq->ans, rq->op, rq->resp_cf, rq->csr_key, r,
	    &fr.pol, &der, &derlen);
	if (r->error != NULL)
		log_info("req=%llu upstream: %s", (unsigned long long)rq->id,
		    r->error);
	if (der != NULL && rq->op->method == EST_M_POST) {
		rq->p7 = der;		/* the issued PKCS#7, for the audit */
		rq->p7len = derlen;
	} else
		cache_put(c, der, derlen);	/* frees it when not cached */
	front_followers_done(rq);
	front_finish(rq);
}

/* The request line of a request record. */
static void
front_line(const struct front_req *rq)
{
	front_req_line(rq->id, rq->sess, "-", rq->op->name, rq->route->label,
	    rq->op->method, (int)rq->req_cf, rq->req_len, rq->up_status,
	    rq->up_ms, &rq->ans, rq->t0);
}

/* Server-side key generation: answers carry a private key. */
static int
front_keygen(const struct est_op *op)
{
	return op->id == EST_OP_SKG || op->id == EST_OP_SKC;
}

/* The time of rq's audit record (wall clock, ms), fixed at first use. */
static uint64_t
front_audit_ms(struct front_req *rq)
{
	if (rq->audit_ms == 0)
		rq->audit_ms = audit_now_ms();
	return rq->audit_ms;
}

/*
 * rq's answer as the exchange memory keeps it, with the exchange it came
 * from: rq's own, or for a follower its leader's.
 */
static void
front_xch_answer(struct front_req *rq, struct xch_answer *x)
{
	memset(x, 0, sizeof(*x));
	x->code = rq->ans.code;
	x->cf = rq->ans.cf;
	x->max_age = rq->ans.max_age;
	x->payload = rq->ans.payload;
	x->len = rq->ans.len;
	if (rq->orig_req != 0) {
		x->origin_req = rq->orig_req;
		x->origin_ms = rq->orig_ms;
		memcpy(x->origin_serial, rq->orig_serial,
		    sizeof(x->origin_serial));
		return;
	}
	x->origin_req = rq->id;
	x->origin_ms = front_audit_ms(rq);
	/* skg/skc: the CSR key is not the certified one */
	audit_cert_serial(rq->p7, rq->p7len, front_keygen(rq->op) ? NULL :
	    rq->csr_key, x->origin_serial, sizeof(x->origin_serial));
}

/*
 * Keep rq's answer for the device's next try (keyed by its identity,
 * route, operation, format and CSR key, so that a PoP CSR made on a new
 * session matches) and audit the certificate as issued but undelivered.
 */
static void
front_hold_answer(struct front_req *rq, const char *why)
{
	const struct front_sess	*fs = rq->sess;
	struct xch_answer	 x;

	front_xch_answer(rq, &x);
	if (xch_put(fr.held, rq->ikey, &x, front_keygen(rq->op), mono_ms()) ==
	    -1)
		log_warnx("req=%llu the %zu-byte answer could not be held",
		    (unsigned long long)rq->id, rq->ans.len);
	if (rq->p7 != NULL)
		audit_undelivered(rq->id, front_audit_ms(rq), fs->peer, &fs->id,
		    rq->op->name, rq->route->label, rq->csr_subject, rq->p7,
		    rq->p7len, front_keygen(rq->op) ? NULL : rq->csr_key,
		    rq->up_server, why);
}

/* A 2.xx answer with a body: what a device must not lose. */
static int
front_precious(const struct front_req *rq)
{
	return EST_CODE_CLASS(rq->ans.code) == 2 && rq->ans.payload != NULL;
}

/*
 * The device left before the answer (RFC 7252 gives it no other way to
 * get it): a certificate the CA issued is held for its next try.
 */
static void
front_undelivered(struct front_req *rq)
{
	if (front_precious(rq)) {
		front_hold_answer(rq, "device left before the answer");
		front_remember(rq);
		log_info("req=%llu op=%s the device left: answer held for "
		    "its next try", (unsigned long long)rq->id, rq->op->name);
		rq->ans.reason = "undelivered";
	} else
		log_info("req=%llu op=%s the device left: answer not sent",
		    (unsigned long long)rq->id, rq->op->name);
	front_line(rq);
	front_req_free(rq);
}

/*
 * coap.large_separate "retry": the separate answer would go in blocks to
 * a client that cannot ask for block 1 (libcoap 4.3.4 and older, for a
 * request without Block1). It is held, and the device told to repeat the
 * request: the repeat gets it piggybacked, which every client follows.
 */
static void
front_hold_large(struct front_req *rq)
{
	char	d[sizeof(rq->ans.diag)];
	size_t	len = rq->ans.len;

	front_hold_answer(rq, "separate answer larger than one block; held "
	    "for the device's repeat");
	front_remember(rq);
	log_info("req=%llu op=%s %zu-byte answer held: a separate answer in "
	    "blocks is not fetched by every client; 5.03, repeat",
	    (unsigned long long)rq->id, rq->op->name, len);
	metrics_limit("large_separate");
	snprintf(d, sizeof(d), "answer of %zu bytes ready: repeat the "
	    "request", len);
	answer_clear(&rq->ans);
	answer_error(&rq->ans, EST_CODE(5, 3), "held-large", d);
	rq->ans.max_age = FRONT_HELD_MAX_AGE;
}

/*
 * The answer of rq is final: send it (deliver.c: piggybacked when the
 * hold has not ended, else separate), hold it for the device when it
 * cannot take it now, and free the record.
 */
static void
front_finish(struct front_req *rq)
{
	rq->done = 1;
	if (rq->d != NULL && !dlv_alive(rq->d)) {
		dlv_drop(rq->d);
		rq->d = NULL;
	}
	if (rq->d == NULL) {
		front_undelivered(rq);
		return;
	}
	if (strcmp(fr.cf->large_separate, "retry") == 0 &&
	    front_precious(rq) && dlv_blocked(rq->d, rq->ans.len))
		front_hold_large(rq);
	else {
		front_audit(rq);
		front_remember(rq);
	}
	(void)dlv_answer(rq->d, &rq->ans);
	rq->d = NULL;			/* deliver.c's now */
	front_line(rq);
	front_req_free(rq);
}

/* Give the followers of leader (identical requests) its answer. */
static void
front_followers_done(struct front_req *leader)
{
	struct front_req	*f;
	char			 serial[XCH_SERIAL_LEN];
	uint64_t		 at = front_audit_ms(leader);

	/* skg/skc: the CSR key is not the certified one */
	audit_cert_serial(leader->p7, leader->p7len, front_keygen(leader->op) ?
	    NULL : leader->csr_key, serial, sizeof(serial));
	while ((f = LIST_FIRST(&leader->followers)) != NULL) {
		LIST_REMOVE(f, fentry);
		f->leader = NULL;
		f->up_status = leader->up_status;
		f->up_ms = leader->up_ms;
		memcpy(f->up_server, leader->up_server, sizeof(f->up_server));
		f->orig_req = leader->id;
		f->orig_ms = at;
		memcpy(f->orig_serial, serial, sizeof(f->orig_serial));
		answer_clear(&f->ans);
		f->ans = leader->ans;
		f->ans.payload = NULL;
		if (leader->ans.payload != NULL &&
		    (f->ans.payload = malloc(leader->ans.len > 0 ?
		    leader->ans.len : 1)) != NULL)
			memcpy(f->ans.payload, leader->ans.payload,
			    leader->ans.len);
		else if (leader->ans.payload != NULL)
			answer_error(&f->ans, EST_CODE(5, 3), "nomem",
			    "out of memory");
		front_finish(f);
	}
}

/*
 * An upstream exchange finished: /readyz stops saying "starting". Which
 * servers are up is the upstream module's (failover) business.
 */
static void
front_upstream_seen(const struct upstream_result *r)
{
	(void)r;
	fr.upstream_seen = 1;
}

/* Audit what a finished enrollment handed out or was refused. */
static void
front_audit(struct front_req *rq)
{
	const struct front_sess	*fs = rq->sess;
	char			 code[8];

	if (rq->ans.code == EST_CODE(2, 4) && rq->p7 != NULL) {
		metrics_inc(METRICS_C_CERTS_ISSUED);
		/* skg/skc: the CSR key is not the certified one */
		audit_issued(rq->id, front_audit_ms(rq), fs->peer, &fs->id,
		    rq->op->name, rq->route->label, rq->csr_subject, rq->p7, rq->p7len,
		    front_keygen(rq->op) ? NULL : rq->csr_key, rq->up_server);
	} else if (EST_CODE_CLASS(rq->ans.code) == 2 && rq->orig_req != 0) {
		struct audit_repeat ar = { rq->id, "identical", rq->orig_req,
		    rq->orig_ms, rq->orig_serial, front_keygen(rq->op) };

		/* a follower: the leader's certificate, handed out again */
		audit_repeated(fs->peer, &fs->id, rq->op->name,
		    rq->route->label, &ar);
	} else if (rq->ans.code == EST_CODE(4, 1) ||
	    rq->ans.code == EST_CODE(4, 3))
		audit_denied(fs->peer, &fs->id, rq->op->name, rq->route->label,
		    estmap_code_str(rq->ans.code, code), rq->ans.diag);
}

/*
 * Remember a finished enrollment's certificate answer: a retransmission
 * after it, or the same CSR again, then costs no second issuance. Only
 * 2.xx: after a 5.03 the device must be able to try again for real.
 */
static void
front_remember(struct front_req *rq)
{
	struct xch_answer x;

	if (fr.xch == NULL || rq->op->method != EST_M_POST ||
	    EST_CODE_CLASS(rq->ans.code) != 2)
		return;
	front_xch_answer(rq, &x);
	xch_put(fr.xch, rq->xkey, &x, front_keygen(rq->op), mono_ms());
}

/* deliver.c: the request's deadline passed before the upstream answered. */
static void
front_dlv_expired(void *owner)
{
	struct front_req *rq = front_req_from(owner);

	if (rq->job != NULL) {
		upstream_cancel(rq->job);
		rq->job = NULL;
		backlog_leave(&fr.pool, &rq->bl, 0, mono_ms());
	}
	answer_error(&rq->ans, EST_CODE(5, 4), "deadline",
	    "upstream EST server did not answer in time");
	front_followers_done(rq);
	front_finish(rq);
}

/*
 * deliver.c: the device's DTLS session went before the answer. A POST
 * the CA works on (or that waits for one that does) runs to completion:
 * the CA may issue, and the certificate is then held for the device. The
 * rest is cancelled.
 */
static void
front_dlv_gone(void *owner)
{
	struct front_req *rq = front_req_from(owner);

	dlv_drop(rq->d);		/* detached: nothing to send */
	rq->d = NULL;
	if (rq->op->method == EST_M_POST && !rq->done &&
	    (rq->job != NULL || rq->leader != NULL)) {
		log_info("req=%llu op=%s device left (DTLS session closed); "
		    "the upstream exchange runs to completion",
		    (unsigned long long)rq->id, rq->op->name);
		return;
	}
	log_info("req=%llu op=%s cancelled: DTLS session closed",
	    (unsigned long long)rq->id, rq->op->name);
	answer_clear(&rq->ans);
	rq->ans.reason = "cancelled-dtls-closed";
	front_line(rq);
	front_req_free(rq);
}

/* Answer a request at once (piggybacked) and log it. */
static void
front_answer_now(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp, struct front_sess *fs,
    const struct route *rt, int req_cf, size_t req_len,
    struct est_answer *a, int has_block1, uint32_t block1, uint64_t t0)
{
	struct reply_to	to = { .res = r, .req = req, .query = q,
			    .has_block1 = has_block1, .block1 = block1,
			    .b2_szx = -1 };
	char		peer[64];

	if (fs == NULL)
		front_peer_str(s, peer, sizeof(peer));
	reply_fill(s, &to, resp, a);
	front_req_line(++fr.next_id, fs, peer, rt->op->name, rt->label,
	    (int)coap_pdu_get_code(req), req_cf, req_len, 0, 0, a, t0);
}

/*
 * A pending request identical to rq (same device certificate, operation,
 * response format and CSR) whose upstream exchange is running, or NULL.
 * rq then waits for that answer instead of asking the CA again.
 */
static struct front_req *
front_find_leader(const struct front_req *rq)
{
	static const uint8_t	 zero[XCH_KEY_LEN];
	struct pend_ent		 probe, *e = NULL;
	struct front_req	*l;

	if (rq->op->method != EST_M_POST ||
	    memcmp(rq->xkey, zero, sizeof(zero)) == 0 ||
	    pend_key(&probe, rq->route, rq->xkey, sizeof(rq->xkey)) == -1)
		return NULL;
	while ((e = pend_find(fr.leaders, &probe, e)) != NULL) {
		l = (struct front_req *)((char *)e -
		    offsetof(struct front_req, lpe));
		if (l != rq && l->job != NULL && !l->done)
			return l;
	}
	return NULL;
}

/* The request's ETag options (RFC 7252 5.10.6), for cache_answer. */
static void
front_etags(const coap_pdu_t *req, struct cache_etags *et)
{
	coap_opt_iterator_t	 it;
	coap_opt_filter_t	 f;
	coap_opt_t		*o;

	et->n = 0;
	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_ETAG);
	coap_option_iterator_init(req, &it, &f);
	while (et->n < CACHE_ETAGS_MAX && (o = coap_option_next(&it)) != NULL) {
		/* longer than 8 bytes: names no tag of ours */
		if (coap_opt_length(o) > sizeof(et->tag[0].v))
			continue;
		et->tag[et->n].len = coap_opt_length(o);
		memcpy(et->tag[et->n].v, coap_opt_value(o), et->tag[et->n].len);
		et->n++;
	}
}

static int	front_rate_check(coap_session_t *);

/* The request came to a multicast group (plain CoAP discovery). */
static int
front_is_mcast(coap_session_t *s)
{
	return coap_is_mcast(coap_session_get_addr_local(s));
}

/*
 * Send nothing: a NON request (every multicast request is one, RFC 7252
 * 8.1) then gets no answer at all.
 */
static void
front_no_answer(coap_pdu_t *resp)
{
	coap_pdu_set_code(resp, COAP_EMPTY_CODE);
}

/*
 * Plain CoAP past limits.rate_per_source: no answer at all. A source
 * address there may be forged, and every answer is larger than the request
 * (RFC 7252 11.3: no amplifier for spoofed floods). 1 when dropped.
 */
static int
front_plain_rate(coap_session_t *s, coap_pdu_t *resp)
{
	char peer[64];

	if (front_rate_check(s) == 0)
		return 0;
	front_no_answer(resp);
	metrics_limit("rate_per_source");
	front_peer_str(s, peer, sizeof(peer));
	log_debug("plain coap: peer=%s over limits.rate_per_source, no answer",
	    peer);
	return 1;
}

/*
 * An EST operation over plain CoAP: RFC 9148 3 makes DTLS with a client
 * certificate mandatory, so the device is not authenticated: 4.01 (RFC
 * 7252 5.9.2.2), no upstream call. Multicast requests get no answer.
 */
static void
front_plain_refuse(coap_session_t *s, const coap_pdu_t *req,
    coap_pdu_t *resp, const char *opname, const char *label, uint64_t t0)
{
	struct est_answer	 a;
	char			 peer[64];
	size_t			 len = 0;
	const uint8_t		*data;
	int			 mcast = front_is_mcast(s);

	if (front_plain_rate(s, resp))
		return;
	memset(&a, 0, sizeof(a));
	answer_clear(&a);
	answer_error(&a, EST_CODE(4, 1), mcast ? "plain-coap-multicast" :
	    "plain-coap", "EST needs coaps: DTLS with a client certificate "
	    "(RFC 9148 3)");
	front_peer_str(s, peer, sizeof(peer));
	coap_get_data(req, &len, &data);
	if (mcast)
		front_no_answer(resp);
	else {
		coap_pdu_set_code(resp, (coap_pdu_code_t)a.code);
		coap_add_data(resp, strlen(a.diag), (const uint8_t *)a.diag);
	}
	front_req_line(++fr.next_id, NULL, peer, opname, label,
	    (int)coap_pdu_get_code(req), -1, len, 0, 0, &a, t0);
	answer_clear(&a);
}

/*
 * "coaps://host:port" for the links the plain listener returns: a
 * relative link would name the plain endpoint itself. The host is
 * discovery.advertise, else our address on the route back to the device
 * (so it also works for multicast requests); the port is the first DTLS
 * listen port of that address family.
 */
static void
front_coaps_base(coap_session_t *s, char *buf, size_t bufsz)
{
	const coap_address_t	*pa = coap_session_get_addr_remote(s);
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[INET6_ADDRSTRLEN];
	int			 fd, fam, v6 = 0;
	unsigned		 port = fr.cf->listen[0].port;

	if (fr.cf->disc_advertise != NULL) {
		snprintf(buf, bufsz, "coaps://%s", fr.cf->disc_advertise);
		return;
	}
	snprintf(host, sizeof(host), "localhost");
	fam = pa->addr.sa.sa_family;
	if ((fd = socket(fam, SOCK_DGRAM, 0)) != -1) {
		if (connect(fd, &pa->addr.sa, pa->size) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET6) {
				struct sockaddr_in6 *a6 =
				    (struct sockaddr_in6 *)&ss;

				if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
					inet_ntop(AF_INET,
					    &a6->sin6_addr.s6_addr[12], host,
					    sizeof(host));
				else {
					inet_ntop(AF_INET6, &a6->sin6_addr,
					    host, sizeof(host));
					v6 = 1;
				}
			} else
				inet_ntop(AF_INET, &((struct sockaddr_in *)
				    &ss)->sin_addr, host, sizeof(host));
		}
		close(fd);
	}
	for (size_t i = 0; i < fr.cf->nlisten; i++) {
		const char *la = fr.cf->listen[i].addr;

		/* "::" is dual stack: it serves both families */
		if (strcmp(la, "::") == 0 ||
		    (strchr(la, ':') != NULL) == v6) {
			port = fr.cf->listen[i].port;
			break;
		}
	}
	snprintf(buf, bufsz, "coaps://%s%s%s:%u", v6 ? "[" : "", host,
	    v6 ? "]" : "", port);
}

/*
 * The discovery cache of one request: whether the device may use the
 * routes of a policy (its chain verifies there, no CRL lists it), per
 * policy, so that each is verified once.
 */
struct front_disc_seen {
	const struct authz	*az[ROUTE_MAX_LABELS + 1];
	int			 ok[ROUTE_MAX_LABELS + 1];
	size_t			 n;
	int			 revoked;	/* -1: not known yet */
};

/*
 * May the device of DTLS session s use route rt: would front_authorize
 * let an operation there through? Discovery lists only those links.
 */
static int
front_disc_may(coap_session_t *s, const struct route *rt,
    struct front_disc_seen *seen)
{
	const struct authz	*az = front_authz(rt);
	SSL			*ssl = front_ssl(s);
	char			 why[160];
	size_t			 i;

	if (ssl == NULL)
		return 0;
	if (seen->revoked < 0)
		seen->revoked = pki_revoked(fr.cf->pki, ssl, why,
		    sizeof(why)) == -1;
	if (seen->revoked)
		return 0;
	for (i = 0; i < seen->n && seen->az[i] != az; i++)
		;
	if (i == seen->n) {
		if (i == sizeof(seen->az) / sizeof(seen->az[0]))
			return 0;
		seen->az[i] = az;
		seen->ok[i] = authz_verify_device(az, ssl, why, sizeof(why)) ==
		    0;
		seen->n++;
	}
	return seen->ok[i] && authz_rules_allow(az, ssl, rt->op->name, why,
	    sizeof(why)) == 0;
}

/*
 * The link-format document for s into b->data (cap bytes): one link per
 * served (label, operation) that passes the query, and over DTLS only
 * those the device may use. Returns its length.
 */
static size_t
front_disc_doc(coap_session_t *s, const struct disc_query *dq,
    const char *base, int plain, struct reply_blob *b, size_t cap)
{
	struct front_disc_seen	 seen;
	struct disc_link	 l;
	char			 href[96];
	size_t			 len = 0;

	memset(&seen, 0, sizeof(seen));
	seen.revoked = -1;
	b->data[0] = '\0';
	for (size_t i = 0; i < fr.nroutes; i++) {
		const struct route *rt = &fr.routes[i];

		snprintf(href, sizeof(href), "/.well-known/est%s%s/%s",
		    rt->label[0] != '\0' ? "/" : "", rt->label, rt->op->name);
		l.href = href;
		l.rt = rt->op->rt;
		l.ct = rt->op->ct_attr;
		if (!disc_match(&l, dq) || (!plain && !front_disc_may(s, rt,
		    &seen)))
			continue;
		if (disc_append((char *)b->data, cap, &len, base, &l) == -1)
			break;	/* cannot happen: cap is per route */
	}
	return len;
}

/*
 * The wire size of a request, near enough (RFC 7252 3): header, token,
 * each option with a one-byte delta/length header (more only makes the
 * estimate smaller than the truth), payload marker and payload.
 */
static size_t
front_req_size(const coap_pdu_t *req)
{
	coap_opt_iterator_t	 oi;
	coap_opt_t		*o;
	coap_bin_const_t	 tok = coap_pdu_get_token(req);
	size_t			 n = 4 + tok.length, len = 0;
	const uint8_t		*data;

	coap_option_iterator_init(req, &oi, COAP_OPT_ALL);
	while ((o = coap_option_next(&oi)) != NULL)
		n += 1 + coap_opt_length(o);
	if (coap_get_data(req, &len, &data) && len > 0)
		n += 1 + len;
	return n;
}

/*
 * A plain (unauthenticated, maybe spoofed) discovery answer: at most
 * DISC_PLAIN_FACTOR times the request, in Block2 blocks when the document
 * is larger; the device fetches the rest block by block (RFC 7959 2.4).
 * 0, or -1 for a block past the end (4.02).
 */
static int
front_disc_plain(const coap_pdu_t *req, coap_pdu_t *resp, const uint8_t *doc,
    size_t len)
{
	struct disc_block	 blk;
	unsigned		 v;
	uint8_t			 buf[4];
	long			 b2 = copt_uint(req, COAP_OPTION_BLOCK2, &v) ?
				    (long)v : -1;

	if (disc_plain_block(len, front_req_size(req),
	    coap_pdu_get_token(req).length, b2, &blk) == -1)
		return -1;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
	coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
	    coap_encode_var_safe(buf, sizeof(buf),
	    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), buf);
	if (!blk.whole)
		coap_add_option(resp, COAP_OPTION_BLOCK2, coap_encode_var_safe(
		    buf, sizeof(buf), (blk.num << 4) | ((unsigned)blk.more << 3) |
		    blk.szx), buf);
	if (!blk.whole && blk.num == 0)
		coap_add_option(resp, COAP_OPTION_SIZE2, coap_encode_var_safe(
		    buf, sizeof(buf), (unsigned)len), buf);
	if (blk.len > 0)
		coap_add_data(resp, blk.len, doc + blk.off);
	return 0;
}

/*
 * GET /.well-known/core (RFC 6690; RFC 9148 4.1): one link per served
 * (label, operation) with its rt and ct, filtered by the query. Over DTLS
 * the links are relative and only those the device may use under its
 * authorization; on the plain listener they are absolute coaps links,
 * since EST is not served there, and the answer is at most three times
 * the request. A multicast request whose filter matches nothing gets no
 * answer (RFC 6690 4.1, RFC 7252 8.2).
 */
static void
front_wellknown(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	struct disc_query	 dq;
	struct reply_blob	*b;
	struct est_answer	 a;
	size_t			 len, cap;
	char			 base[160] = "", peer[64];
	uint8_t			 buf[4];
	uint64_t		 t0 = mono_ms();
	int			 plain = coap_session_get_proto(s) !=
				    COAP_PROTO_DTLS;

	if (plain && front_plain_rate(s, resp))
		return;
	if (plain)
		front_coaps_base(s, base, sizeof(base));
	disc_query_parse(q != NULL ? (const char *)q->s : NULL, q != NULL ?
	    q->length : 0, &dq);
	cap = fr.nroutes * DISC_LINK_MAX + 1;
	if ((b = malloc(sizeof(*b) + cap)) == NULL) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(503));
		return;
	}
	len = b->len = front_disc_doc(s, &dq, base, plain, b, cap);
	memset(&a, 0, sizeof(a));
	answer_clear(&a);
	a.code = EST_CODE(2, 5);
	a.len = len;
	a.reason = plain ? "discovery-plain" : "discovery";
	front_peer_str(s, peer, sizeof(peer));
	if (len == 0 && front_is_mcast(s)) {
		front_no_answer(resp);
		a.reason = "discovery-multicast-empty";
	} else if (plain) {
		if (front_disc_plain(req, resp, b->data, len) == -1) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE(402));
			a.code = EST_CODE(4, 2);
			a.reason = "block2-out-of-range";
		}
	} else if (len == 0) {
		/* RFC 6690 4.1: no match, an empty document */
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
		coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(buf, sizeof(buf),
		    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), buf);
	} else {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
		if (!coap_add_data_large_response(r, s, req, resp, q,
		    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT, -1, 0, len, b->data,
		    reply_release_cb, b)) {
			log_warnx("libcoap refused a %zu-byte discovery answer",
			    len);
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE(500));
			a.code = EST_CODE(5, 0);
		}
		b = NULL;	/* libcoap's now (released by reply_release_cb) */
	}
	if (b != NULL)
		OPENSSL_clear_free(b, sizeof(*b) + cap);
	front_req_line(++fr.next_id, front_sess_get(s), peer, "core", "",
	    (int)coap_pdu_get_code(req), -1, 0, 0, 0, &a, t0);
}

/* The Block1 table's limits and per-device, per-source quotas from cf. */
static void
front_blk_limits(const struct config *cf)
{
	const struct blk_quota dq = { cf->block1_device_bytes,
	    cf->block1_device_uploads }, sq = { cf->block1_source_bytes,
	    cf->block1_source_uploads };

	blk_table_set_limits(fr.blk, cf->max_request_body, cf->block1_budget,
	    cf->max_pending * 4);
	blk_table_set_quotas(fr.blk, &dq, &sq);
	blk_table_set_expiry(fr.blk, cf->block1_lifetime_s * 1000ULL);
}

/*
 * Who sends a Block1 upload, for its quotas: the device certificate's
 * fingerprint and the source address (without the port). addr holds 16
 * bytes.
 */
static void
front_blk_who(const struct front_sess *fs, coap_session_t *s,
    struct blk_who *who, uint8_t *addr)
{
	const coap_address_t *a = coap_session_get_addr_remote(s);

	memset(who, 0, sizeof(*who));
	if (fs != NULL) {
		who->dev = fs->id.fp;
		who->devlen = sizeof(fs->id.fp);
	}
	if (a != NULL && a->addr.sa.sa_family == AF_INET6) {
		memcpy(addr, &a->addr.sin6.sin6_addr, 16);
		who->srclen = 16;
	} else if (a != NULL && a->addr.sa.sa_family == AF_INET) {
		memcpy(addr, &a->addr.sin.sin_addr, 4);
		who->srclen = 4;
	}
	who->src = addr;
}

/*
 * limits.rate_per_source: one token per request from the source address.
 * 0 when allowed, else the Max-Age (seconds) to send with 5.03.
 */
static int
front_rate_check(coap_session_t *s)
{
	const coap_address_t	*a = coap_session_get_addr_remote(s);
	uint64_t		 wait;

	if (fr.rl == NULL || a == NULL)
		return 0;
	if (a->addr.sa.sa_family == AF_INET6)
		wait = rl_take(fr.rl, &a->addr.sin6.sin6_addr, 16, mono_ms());
	else if (a->addr.sa.sa_family == AF_INET)
		wait = rl_take(fr.rl, &a->addr.sin.sin_addr, 4, mono_ms());
	else
		return 0;
	if (wait == 0)
		return 0;
	return (int)((wait + 999) / 1000);
}

/*
 * An answer from memory: the same request answered before (RFC 7252 4.5:
 * acted on once, answered as often), else one held for this device
 * (xkey NULL: only that). 0 with a set and the exchange it came from in
 * *from (no payload), or -1.
 */
static int
front_memory(const uint8_t *xkey, const uint8_t *ikey, struct est_answer *a,
    struct xch_answer *from)
{
	const struct xch_answer	*x = NULL;
	uint64_t		 now = mono_ms();
	int			 held = 0;

	if (xkey != NULL && fr.xch != NULL)
		x = xch_get(fr.xch, xkey, now);
	if (x == NULL && (x = xch_get(fr.held, ikey, now)) != NULL)
		held = 1;
	if (x == NULL || (a->payload = malloc(x->len > 0 ? x->len : 1)) ==
	    NULL)
		return -1;
	if (held)
		a->reason = "held";
	else
		a->reason = "repeat";
	memcpy(a->payload, x->payload, x->len);
	a->len = x->len;
	a->code = x->code;
	a->cf = x->cf;
	a->max_age = x->max_age;
	*from = *x;
	from->payload = NULL;
	metrics_inc(METRICS_C_DEDUP_HITS);
	return 0;
}

/*
 * Audit an enrollment answer just handed out again from memory (request
 * number id): which exchange it repeats, and its certificate.
 */
static void
front_audit_memory(const struct front_sess *fs, const struct route *rt,
    uint64_t id, const struct est_answer *a, const struct xch_answer *from)
{
	struct audit_repeat ar = { id, a->reason, from->origin_req,
	    from->origin_ms, from->origin_serial, front_keygen(rt->op) };

	if (fs != NULL && EST_CODE_CLASS(a->code) == 2)
		audit_repeated(fs->peer, &fs->id, rt->op->name, rt->label,
		    &ar);
}

/*
 * How long a new upstream-bound request waits for its answer before the
 * empty ACK: none while draining or when many are pending already (an
 * early ACK then stops the devices' retransmissions).
 */
static uint32_t
front_hold_ms(void)
{
	if (fr.draining || fr.npending > fr.cf->ack_hold_max_pending)
		return 0;
	return fr.cf->ack_hold_ms;
}

/*
 * The CoAP side of rq (deliver.c), which goes upstream or waits for its
 * leader. 0, or -1 with rq freed and a set.
 */
static int
front_deliver(struct front_req *rq, coap_resource_t *r, coap_session_t *s,
    const coap_pdu_t *req, const coap_string_t *q, coap_pdu_t *resp,
    struct est_answer *a)
{
	/* the upstream's own deadline (failover included) comes first */
	uint64_t deadline = fr.cf->routes[rq->route->cfroute].up.timeout_ms +
	    DEADLINE_SLACK_MS;

	rq->d = dlv_begin(s, &rq->sess->ds, r, req, q, rq->has_block1,
	    rq->block1, rq->b2_szx, front_hold_ms(), deadline, resp, rq);
	if (rq->d != NULL)
		return 0;
	front_req_free(rq);
	answer_error(a, EST_CODE(5, 3), "busy", "cannot queue the request");
	a->max_age = (int)fr.cf->busy_max_age_s;
	return -1;
}

/*
 * The request handler of every EST resource and method. See the file
 * comment for the order of the steps.
 */
static void
front_handler(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	const struct route *rt = coap_resource_get_userdata(r);
	const struct est_op	*op = rt->op;
	struct front_sess	*fs;
	struct front_req	*rq;
	struct est_check_in	 in;
	struct est_answer	 a;
	const char		*why = NULL, *idr = NULL;
	unsigned		 code, resp_cf = 0, v, blk1 = 0;
	int			 has_blk1, req_cf = -1;
	size_t			 len = 0, blen = 0;
	const uint8_t		*data = NULL;
	uint8_t			*body = NULL;
	uint64_t		 t0 = mono_ms(), wait;
	EVP_PKEY		*csr_key = NULL;
	struct est_csr		*csr = NULL;
	char			*b64;
	size_t			 b64len;
	char			 path[256], azwhy[200];
	uint8_t			 optbuf[4];
	uint8_t			 xkey[XCH_KEY_LEN], ikey[XCH_KEY_LEN];
	struct xch_answer	 from;

	memset(xkey, 0, sizeof(xkey));
	if (coap_session_get_proto(s) != COAP_PROTO_DTLS) {
		front_plain_refuse(s, req, resp, op->name, rt->label, t0);
		return;
	}
	/* a retransmission of a request on its way: never a second call */
	if (dlv_repeat(s, req, resp))
		return;
	memset(&a, 0, sizeof(a));
	answer_clear(&a);
	fs = front_sess_get(s);
	if (fr.draining) {
		/* draining: leaving; the balancer moves the device on */
		answer_error(&a, EST_CODE(5, 3), "draining",
		    "registrar is shutting down, retry later");
		a.max_age = (int)fr.cf->busy_max_age_s;
		metrics_limit("draining");
		goto answer;
	}
	if ((v = (unsigned)front_rate_check(s)) != 0) {
		answer_error(&a, EST_CODE(5, 3), "rate",
		    "too many requests from this address, retry later");
		a.max_age = (int)v;
		metrics_limit("rate_per_source");
		goto answer;
	}

	copt_check_in(req, &in);
	if (in.has_cf)
		req_cf = (int)in.cf;
	has_blk1 = copt_uint(req, COAP_OPTION_BLOCK1, &blk1);
	coap_get_data(req, &len, &data);

	if ((code = estmap_check(op, &in, &resp_cf, &why)) != 0) {
		answer_error(&a, code, "bad-request", why);
		goto answer;
	}
	/* RFC 7959 2.2: SZX 7 is reserved; libcoap ignores it silently */
	if ((has_blk1 && (blk1 & 7) == 7) || (copt_uint(req,
	    COAP_OPTION_BLOCK2, &v) && (v & 7) == 7)) {
		answer_error(&a, EST_CODE(4, 0), "bad-block",
		    "block size exponent 7 is reserved");
		goto answer;
	}
	if (front_authorize(fs, s, rt, &a) == -1)
		goto answer;

	if (op->method == EST_M_POST) {
		if (has_blk1) {
			enum blk_result	br;
			struct blk_who	who;
			uint8_t		addr[16];

			size_t		ev = blk_evicted(fr.blk);

			front_blk_who(fs, s, &who, addr);
			br = blk_add_from(fr.blk, s, (uintptr_t)op, &who,
			    blk1 >> 4, (blk1 >> 3) & 1, blk1 & 7, data, len,
			    mono_ms(), &body, &blen);
			/* uploads dropped to make room (quotas, budget) */
			for (ev = blk_evicted(fr.blk) - ev; ev > 0; ev--)
				metrics_limit("block1_evicted");
			/* RFC 7959 2.4: a Block2 in the first block applies
			 * to the answer of the whole upload */
			if (fs != NULL && (blk1 >> 4) == 0)
				fs->early_b2[op->id] = copt_uint(req,
				    COAP_OPTION_BLOCK2, &v) ? (int)(v & 7) : -1;
			switch (br) {
			case BLK_CONTINUE:
			case BLK_DUPLICATE:
				/* libcoap turns a 2.xx into 2.31 + echo */
				coap_pdu_set_code(resp,
				    COAP_RESPONSE_CODE(231));
				coap_add_option(resp, COAP_OPTION_BLOCK1,
				    coap_encode_var_safe(optbuf,
				    sizeof(optbuf), blk1), optbuf);
				return;
			case BLK_COMPLETE:
				break;
			case BLK_GAP:
				answer_error(&a, EST_CODE(4, 8),
				    "block1-gap", "block missing or out of "
				    "order");
				goto answer;
			case BLK_TOO_LARGE:
				answer_error(&a, EST_CODE(4, 13),
				    "too-large", "request body too large");
				metrics_limit("max_request_body");
				goto too_large;
			case BLK_BAD:
				answer_error(&a, EST_CODE(4, 0),
				    "bad-block", "bad block size");
				goto answer;
			case BLK_NOMEM:
				answer_error(&a, EST_CODE(5, 3), "busy",
				    "too many uploads in progress");
				a.max_age = (int)fr.cf->busy_max_age_s;
				metrics_limit("block1_budget");
				goto answer;
			}
			data = body;
			len = blen;
		} else if (len > fr.cf->max_request_body) {
			answer_error(&a, EST_CODE(4, 13), "too-large",
			    "request body too large");
			metrics_limit("max_request_body");
			goto too_large;
		}
		/*
		 * RFC 7030 4.4.1, RFC 9148 4.8: for server keygen the CSR's
		 * key and signature are ignored, so only its form is checked
		 */
		if ((csr = csr_parse(data, len, &why)) == NULL ||
		    tc_csr_check(csr, !front_keygen(op), &csr_key,
		    &why) == -1) {
			char d[sizeof(a.diag)];

			snprintf(d, sizeof(d), "bad CSR: %s", why);
			answer_error(&a, EST_CODE(4, 0), "bad-csr", d);
			goto answer;
		}
		/* the route's key policy, CSR identity and PoP linking */
		if ((code = authz_check_csr(front_authz(rt), front_ssl(s),
		    !front_keygen(op), (int)op->id, csr, &idr, azwhy,
		    sizeof(azwhy))) != 0) {
			if (idr != NULL)
				metrics_csr_identity_denied(idr);
			front_deny(fs, rt, code, idr != NULL ? "csr-identity" :
			    code == EST_CODE(4, 0) ? "csr-policy" :
			    code == EST_CODE(4, 1) ? "pop-failed" : "forbidden",
			    azwhy, &a);
			goto answer;
		}
		xch_key(xkey, fs != NULL ? fs->id.fp : NULL, fs != NULL ?
		    sizeof(fs->id.fp) : 0, op->name, rt->label, resp_cf, data,
		    len);
		xch_key_pub(ikey, fs != NULL ? fs->id.fp : NULL, fs != NULL ?
		    sizeof(fs->id.fp) : 0, op->name, rt->label, resp_cf,
		    csr_key);
		if (front_memory(xkey, ikey, &a, &from) == 0) {
			front_answer_now(r, s, req, q, resp, fs, rt, req_cf,
			    len, &a, has_blk1, blk1, t0);
			front_audit_memory(fs, rt, fr.next_id, &a, &from);
			answer_clear(&a);
			EVP_PKEY_free(csr_key);
			csr_free(csr);
			free(body);
			return;
		}
	} else {
		struct cache_etags et;

		front_etags(req, &et);
		if (cache_answer(rt->cache, op, resp_cf, &et, &a) == 0) {
			metrics_inc(METRICS_C_CACHE_HITS);
			goto answer;
		}
		xch_key_pub(ikey, fs != NULL ? fs->id.fp : NULL, fs != NULL ?
		    sizeof(fs->id.fp) : 0, op->name, rt->label, resp_cf, NULL);
		/* a CA bundle held for the device: public, not audited */
		if (front_memory(NULL, ikey, &a, &from) == 0)
			goto answer;
		metrics_inc(METRICS_C_CACHE_MISSES);
	}

	/* service.audit_fail_closed: no certificate nobody audits */
	if (op->method == EST_M_POST && fr.cf->audit_fail_closed &&
	    !audit_writable()) {
		answer_error(&a, EST_CODE(5, 3), "audit",
		    "audit log unavailable, retry later");
		a.max_age = (int)fr.cf->busy_max_age_s;
		metrics_limit("audit");
		goto answer;
	}
	/* admission: every upstream-bound request holds memory until done */
	if (fs == NULL || fr.npending >= fr.cf->max_pending ||
	    fs->pending >= fr.cf->max_pending_per_session ||
	    front_dev_pending(fs) >= fr.cf->max_pending_per_device) {
		answer_error(&a, EST_CODE(5, 3), "busy",
		    "registrar busy, retry later");
		a.max_age = (int)fr.cf->busy_max_age_s;
		metrics_limit(fs == NULL || fr.npending >= fr.cf->max_pending ?
		    "max_pending" : fs->pending >=
		    fr.cf->max_pending_per_session ?
		    "max_pending_per_session" : "max_pending_per_device");
		goto answer;
	}
	/*
	 * B4: a request that would have to queue for a connection longer
	 * than the upstream budget allows is refused now (with a connection
	 * free it starts at once: a slow CA alone is not a queue)
	 */
	if (fr.cf->backlog_shed && fr.pool.nrunning >= fr.pool.cap &&
	    (wait = backlog_wait_ms(&fr.pool, fr.pool.nqueued, t0)) >
	    front_budget_ms(rt->cfroute)) {
		answer_error(&a, EST_CODE(5, 3), "backlog",
		    "upstream busy, retry after Max-Age");
		a.max_age = front_backlog_max_age(wait);
		metrics_limit("upstream_backlog");
		goto answer;
	}
	if (estmap_upstream_path(estmap_upstream_op(op, fr.cf->routes[
	    rt->cfroute].up.renew_as_enroll), rt->label, path, sizeof(path)) ==
	    -1 || (rq = calloc(1, sizeof(*rq))) == NULL) {
		answer_error(&a, EST_CODE(5, 0), "internal",
		    "internal error");
		goto answer;
	}
	rq->magic = REQ_MAGIC;
	rq->id = ++fr.next_id;
	rq->op = op;
	rq->route = rt;
	rq->sess = fs;
	fs->refs++;
	LIST_INIT(&rq->followers);
	rq->resp_cf = resp_cf;
	rq->req_cf = (unsigned)req_cf;
	rq->has_block1 = has_blk1;
	rq->block1 = blk1;
	rq->b2_szx = has_blk1 ? fs->early_b2[op->id] : -1;
	if (has_blk1)
		fs->early_b2[op->id] = -1;
	rq->csr_key = csr_key;
	csr_key = NULL;
	rq->req_len = len;
	rq->t0 = t0;
	memcpy(rq->xkey, xkey, sizeof(rq->xkey));
	memcpy(rq->ikey, ikey, sizeof(rq->ikey));
	if (op->method == EST_M_POST)
		audit_csr_subject(csr, rq->csr_subject,
		    sizeof(rq->csr_subject));
	csr_free(csr);
	csr = NULL;
	answer_clear(&rq->ans);
	TAILQ_INSERT_TAIL(&fr.reqs, rq, entry);
	fr.npending++;
	metrics_gauge_set(METRICS_G_PENDING, fr.npending);
	fs->pending++;
	/* out of memory it is not counted: the global bounds still hold */
	if ((rq->dev = front_dev_find(fs, 1)) != NULL)
		rq->dev->n++;

	b64 = NULL;
	if ((rq->leader = front_find_leader(rq)) != NULL) {
		/* the same device sent the same CSR while it is pending */
		metrics_inc(METRICS_C_DEDUP_HITS);
		log_info("req=%llu peer=%s op=%s waits for the identical "
		    "req=%llu", (unsigned long long)rq->id, fs->peer, op->name,
		    (unsigned long long)rq->leader->id);
		LIST_INSERT_HEAD(&rq->leader->followers, rq, fentry);
		if (front_deliver(rq, r, s, req, q, resp, &a) == 0) {
			free(body);
			return;
		}
		goto answer;
	}
	if (op->method == EST_M_POST &&
	    (b64 = tc_b64_encode(data, len, &b64len)) == NULL) {
		answer_error(&a, EST_CODE(5, 3), "nomem",
		    "out of memory");
		front_req_free(rq);
		goto answer;
	} else {
		/* RFC 9440, opt-in: the device certificate for the CA */
		char *hdrs[3] = { NULL, NULL, NULL };

		if (op->method == EST_M_POST &&
		    authz_forwards_cert(front_authz(rt)) &&
		    authz_client_cert_headers(front_authz(rt), front_ssl(s),
		    &hdrs[0], &hdrs[1]) == -1)
			log_warnx("req=%llu no device certificate to forward",
			    (unsigned long long)rq->id);
		rq->job = upstream_submit_hdrs(fr.up, rt->cfroute, path, b64,
		    b64 != NULL ? b64len : 0, "application/pkcs10",
		    (const char *const *)hdrs, front_upstream_done, rq);
		free(hdrs[0]);
		free(hdrs[1]);
		if (rq->job != NULL) {
			backlog_enter(&fr.pool, &rq->bl, rq, mono_ms());
			front_pool_gauges();
		} else {
			answer_error(&a, EST_CODE(5, 2),
			    "upstream-submit", "cannot reach the upstream");
			free(b64);
			front_req_free(rq);
			goto answer;
		}
	}
	free(b64);
	if (op->method == EST_M_POST &&
	    pend_key(&rq->lpe, rt, rq->xkey, sizeof(rq->xkey)) == 0)
		pend_insert(fr.leaders, &rq->lpe);
	log_debug("req=%llu peer=%s op=%s queued upstream %s",
	    (unsigned long long)rq->id, fs->peer, op->name, path);
	if (front_deliver(rq, r, s, req, q, resp, &a) == 0) {
		free(body);
		return;
	}
	goto answer;

too_large:
	/* RFC 7959 2.9.3: Size1 tells the client our limit */
	coap_add_option(resp, COAP_OPTION_SIZE1, coap_encode_var_safe(optbuf,
	    sizeof(optbuf), fr.cf->max_request_body), optbuf);
answer:
	front_answer_now(r, s, req, q, resp, fs, rt, req_cf, len, &a,
	    0, 0, t0);
	answer_clear(&a);
	EVP_PKEY_free(csr_key);
	csr_free(csr);
	free(body);
}

/* Cancel the pending requests of a session whose DTLS link went away. */
static void
front_sess_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct front_sess *fs = arg;

	(void)fd;
	(void)what;
	/* a session libcoap freed meanwhile went through front_sess_free */
	if (!fs->deleted && coap_session_get_state(fs->session) !=
	    COAP_SESSION_STATE_ESTABLISHED)
		dlv_sess_gone(&fs->ds);
	front_sess_put(fs);
}

/* RFC 7252 4.8: ACK_TIMEOUT of our CON separate answers on session s. */
static void
front_ack_timeout(coap_session_t *s)
{
	coap_session_set_ack_timeout(s, (coap_fixed_point_t){
	    (uint16_t)(fr.cf->dtls_ack_timeout_ms / 1000),
	    (uint16_t)(fr.cf->dtls_ack_timeout_ms % 1000) });
}

/* libcoap session events: identity on connect, cleanup on close. */
static int
front_event_cb(coap_session_t *s, coap_event_t ev)
{
	struct front_sess	*fs;
	static const struct timeval zero_tv;

	switch (ev) {
	case COAP_EVENT_SERVER_SESSION_NEW:
		/*
		 * A HELLO session: a ClientHello whose source address has not
		 * answered a cookie yet. libcoap bounds them (max_handshakes);
		 * our record waits until the cookie came back (setup hook).
		 */
		coap_session_set_mtu(s, fr.cf->dtls_mtu);
		front_ack_timeout(s);
		break;
	case COAP_EVENT_DTLS_CONNECTED:
		front_ack_timeout(s);
		if ((fs = front_sess_get(s)) != NULL) {
			metrics_handshake(1, "ok");
			SSL *ssl = front_ssl(s);

			log_info("dtls: session up peer=%s dev=\"%s\" "
			    "issuer=\"%s\" serial=%s resumed=%d", fs->peer,
			    fs->id.subject, fs->id.issuer, fs->id.serial,
			    ssl != NULL && SSL_session_reused(ssl));
		}
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_DTLS_ERROR:
		fs = coap_session_get_app_data(s);
		/* the SSL goes next: keep this handshake's own reason */
		if (fs != NULL && !fs->connected && fs->refusal == NULL)
			fs->refusal = pki_refusal(front_ssl(s));
		log_info("dtls: session %s peer=%s",
		    ev == COAP_EVENT_DTLS_ERROR ? "failed" : "closed",
		    fs != NULL ? fs->peer : "-");
		/* never from inside libcoap: next loop turn */
		if (fs != NULL && !LIST_EMPTY(&fs->ds.all)) {
			fs->refs++;
			if (event_base_once(fr.base, -1, EV_TIMEOUT,
			    front_sess_gone_cb, fs, &zero_tv) == -1)
				fs->refs--;
		}
		blk_drop_owner(fr.blk, s);
		break;
	case COAP_EVENT_SERVER_SESSION_DEL:
		blk_drop_owner(fr.blk, s);
		front_sess_free(coap_session_get_app_data(s));
		break;
	default:
		break;
	}
	return 0;
}

/*
 * libcoap gave up on a message we sent: a separate answer the device never
 * acknowledged (RFC 7252 4.2: after MAX_RETRANSMIT retransmissions) or
 * reset (RST, 4.2). Its state is freed; the device has to ask again.
 */
static void
front_nack_cb(coap_session_t *s, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	char		 peer[64];
	const char	*why;

	(void)sent;
	switch (reason) {
	case COAP_NACK_TOO_MANY_RETRIES:
		why = "not acknowledged after 4 retransmissions";
		break;
	case COAP_NACK_RST:
		why = "reset by the device";
		break;
	case COAP_NACK_NOT_DELIVERABLE:
	case COAP_NACK_ICMP_ISSUE:
		why = "not deliverable";
		break;
	default:
		why = "DTLS failed";
		break;
	}
	front_peer_str(s, peer, sizeof(peer));
	log_info("coap: message mid=%d to peer=%s %s, given up", (int)mid,
	    peer, why);
}

/*
 * Datagrams read per pass of libcoap over its sessions: a burst costs one
 * pass per batch instead of two per datagram (iobatch.h).
 */
#define FRONT_IO_BATCH	64

/* libcoap's fd is readable: process I/O and due timers, never block. */
static void
front_io_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (fr.iob != NULL)
		iob_run(fr.iob);
	else
		coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
}

/* Warn about refused handshakes at most once per 10 s, with a count. */
static void
front_refused(const char *limit, const char *peer)
{
	uint64_t now = mono_ms();

	metrics_limit(limit);
	fr.refused++;
	log_debug("dtls: handshake refused peer=%s limit=%s", peer, limit);
	if (fr.refused_log_ms != 0 && now - fr.refused_log_ms < 10000)
		return;
	log_warnx("dtls: %u handshake(s) refused, last peer=%s: %s reached",
	    fr.refused, peer, limit);
	fr.refused_log_ms = now;
	fr.refused = 0;
}

/* TLS extension of RFC 7250 4.1; our OpenSSL headers may not name it. */
#define FRONT_EXT_CLIENT_CERT_TYPE	19
#define FRONT_CERT_TYPE_X509		0

/*
 * What every handshake gets, once the peer answered the cookie: admission
 * under dtls.max_sessions, then our identity, trust store, verify mode and
 * chain. 0 aborts the handshake.
 */
static int
front_tls_prepare(SSL *ssl)
{
	coap_session_t	*s = SSL_get_app_data(ssl);

	if (fr.draining)
		return 0;	/* no new devices while we drain */
	if (s != NULL && coap_session_get_app_data(s) == NULL) {
		if (fr.nsessions >= fr.cf->dtls_max_sessions) {
			char peer[64];

			front_peer_str(s, peer, sizeof(peer));
			front_refused("max_sessions", peer);
			return 0;
		}
		if (front_sess_get(s) == NULL)
			return 0;
	}
	/* a renegotiation costs a handshake and could swap the identity */
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
	return pki_use_identity(ssl, fr.cf->pki) &&
	    pki_setup_ssl(ssl, fr.cf->pki) && dtls_resume_prepare(ssl, fr.cf);
}

/*
 * Our ClientHello callback on libcoap's DTLS SSL_CTX. libcoap 4.3.1's own
 * one decodes its PEM certificate and key again for every session (about
 * 0.8 ms of CPU, make bench B0); for a PKI-only server it does nothing
 * else that front_tls_prepare() does not redo: refuse raw public keys,
 * set the verify mode and depth, then call our additional set-up.
 */
static int
front_client_hello_cb(SSL *ssl, int *al, void *arg)
{
	const unsigned char	*ext;
	size_t			 extlen, i;
	int			 x509 = 0;

	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, FRONT_EXT_CLIENT_CERT_TYPE, &ext,
	    &extlen) == 1) {
		/* a one-byte length, then the types the client can send */
		for (i = 1; i < extlen && i <= ext[0]; i++)
			if (ext[i] == FRONT_CERT_TYPE_X509)
				x509 = 1;
		if (!x509) {
			*al = SSL_AD_UNSUPPORTED_EXTENSION;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	if (!front_tls_prepare(ssl)) {
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Put our ClientHello callback on libcoap's DTLS SSL_CTX, once it is known. */
static void
front_hook_ctx(void)
{
	if (front_dtls_ctx != NULL)
		SSL_CTX_set_client_hello_cb(front_dtls_ctx,
		    front_client_hello_cb, NULL);
}

/*
 * libcoap's additional set-up, from its own ClientHello callback: the
 * first handshake and the first after coap_context_set_pki(). It shows
 * us the SSL_CTX, on which our callback then takes over.
 */
static int
front_tls_setup_cb(void *tls, coap_dtls_pki_t *setup)
{
	SSL_CTX	*ctx = SSL_get_SSL_CTX(tls);

	(void)setup;
	log_debug("dtls: libcoap's per-handshake certificate set-up ran");
	if (ctx != NULL && ctx != front_dtls_ctx) {
		front_dtls_ctx = ctx;
		log_info("dtls: certificate and key parsed once, not per "
		    "handshake");
	}
	front_hook_ctx();
	return front_tls_prepare(tls);
}

/* Drop sessions whose handshake outlived dtls.handshake_timeout_s. */
static void
front_handshake_timeouts(uint64_t now)
{
	struct front_sess	*fs;
	uint64_t		 limit = fr.cf->dtls_handshake_timeout_s * 1000ULL;

	LIST_FOREACH(fs, &fr.sessions, entry) {
		if (fs->connected || fs->timed_out || now - fs->t0 < limit ||
		    coap_session_get_type(fs->session) !=
		    COAP_SESSION_TYPE_SERVER ||
		    coap_session_get_state(fs->session) !=
		    COAP_SESSION_STATE_HANDSHAKE)
			continue;
		fs->timed_out = 1;
		front_refused("handshake_timeout", fs->peer);
		/* state NONE: libcoap frees it at its next timer pass */
		coap_session_disconnected(fs->session, COAP_NACK_TLS_FAILED);
	}
}

/* Highest descriptor searched for libcoap's endpoint sockets. */
#define FRONT_FD_SCAN	4096

/* Whether a bound socket address is the one of a listen entry. */
static int
front_same_addr(const struct sockaddr_storage *ss, const coap_address_t *a)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family != a->addr.sa.sa_family)
		return 0;
	if (ss->ss_family == AF_INET)
		return s4->sin_port == a->addr.sin.sin_port &&
		    s4->sin_addr.s_addr == a->addr.sin.sin_addr.s_addr;
	if (ss->ss_family == AF_INET6)
		return s6->sin6_port == a->addr.sin6.sin6_port &&
		    memcmp(&s6->sin6_addr, &a->addr.sin6.sin6_addr,
		    sizeof(s6->sin6_addr)) == 0;
	return 0;
}

/*
 * B4: a crowd's requests arrive in one burst, and a DTLS socket with the
 * kernel's default receive buffer (net.core.rmem_default, about 200 KB:
 * some 150 datagrams) drops the rest, which the devices then resend 2, 6,
 * 14 s later. libcoap 4.3.1 does not expose its endpoint sockets, so find
 * the UDP socket bound to addr among our descriptors and size its buffer
 * (dtls.receive_buffer; SO_RCVBUFFORCE when privileged, else capped at
 * net.core.rmem_max). 0 leaves the kernel's default.
 */
static void
front_rcvbuf(const coap_address_t *addr, uint32_t bytes)
{
	struct sockaddr_storage	ss;
	socklen_t		sl, tl;
	int			fd, type, want = (int)bytes, got;

	if (bytes == 0)
		return;
	for (fd = 0; fd < FRONT_FD_SCAN; fd++) {
		tl = sizeof(type);
		sl = sizeof(ss);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == -1 ||
		    type != SOCK_DGRAM ||
		    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1 ||
		    !front_same_addr(&ss, addr))
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
		    sizeof(want)) == -1 && setsockopt(fd, SOL_SOCKET,
		    SO_RCVBUF, &want, sizeof(want)) == -1) {
			log_warn("listen: cannot size the receive buffer");
			return;
		}
		tl = sizeof(got);
		if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &tl) == 0)
			/* Linux reports twice what it accounts for data */
			log_info("listen: DTLS receive buffer %d bytes%s", got / 2,
			    got / 2 < want ? " (capped: raise "
			    "net.core.rmem_max)" : "");
		return;
	}
	log_warnx("listen: libcoap's DTLS socket not found; receive buffer "
	    "left at the kernel default");
}

/* Bind one listen address for DTLS, or plain UDP (discovery only). */
static int
front_listen(const struct config_listen *l, coap_proto_t proto)
{
	const char	*pn = proto == COAP_PROTO_DTLS ? "DTLS" :
			    "plain CoAP (discovery only)";
	coap_address_t		addr;
	struct sockaddr_storage	ss;
	socklen_t		sslen;
	int			fd;

	coap_address_init(&addr);
	if (addr_parse(l->addr, l->port, &ss, &sslen) == 0 &&
	    sslen <= sizeof(addr.addr)) {
		memcpy(&addr.addr, &ss, sslen);
		addr.size = sslen;
	} else {
		log_warnx("listen: %s: not a numeric address", l->addr);
		return -1;
	}
	/*
	 * libcoap sets SO_REUSEADDR, with which Linux lets a second daemon
	 * bind the same UDP port and silently take half the datagrams. A
	 * plain bind first tells us the port is taken.
	 */
	if ((fd = socket(addr.addr.sa.sa_family, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, &addr.addr.sa, addr.size) == -1) {
		log_warn("listen: cannot bind %s on %s port %u", pn, l->addr,
		    l->port);
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (coap_new_endpoint(fr.ctx, &addr, proto) == NULL) {
		log_warnx("listen: cannot bind %s on %s port %u (address in "
		    "use or not available)", pn, l->addr, l->port);
		return -1;
	}
	log_info("listening for %s on %s port %u", pn, l->addr, l->port);
	if (proto == COAP_PROTO_DTLS)
		front_rcvbuf(&addr, fr.cf->dtls_receive_buffer);
	return 0;
}

/*
 * The plain-CoAP discovery endpoints and their multicast groups
 * (discovery.*). libcoap joins a group on every UDP endpoint.
 */
static int
front_discovery_listen(const struct config *cf)
{
	/* one UDP port, one process: the first worker serves it */
	if (cf->workers > 1 && cf->worker != 0)
		return 0;
	for (size_t i = 0; i < cf->ndisc_listen; i++)
		if (front_listen(&cf->disc_listen[i], COAP_PROTO_UDP) == -1)
			return -1;
	for (size_t i = 0; i < cf->ndisc_mcast; i++) {
		if (coap_join_mcast_group_intf(fr.ctx, cf->disc_mcast[i],
		    cf->disc_interface) == -1) {
			log_warnx("discovery: cannot join multicast group %s%s%s",
			    cf->disc_mcast[i], cf->disc_interface != NULL ?
			    " on " : "", cf->disc_interface != NULL ?
			    cf->disc_interface : "");
			return -1;
		}
		log_info("discovery: joined multicast group %s%s%s",
		    cf->disc_mcast[i], cf->disc_interface != NULL ? " on " : "",
		    cf->disc_interface != NULL ? cf->disc_interface : "");
	}
	return 0;
}

/*
 * Requests for paths we do not serve: 4.04 (RFC 7252 5.9.2.5), with the
 * request line an operator greps for.
 */
static void
front_unknown_handler(coap_resource_t *r, coap_session_t *s,
    const coap_pdu_t *req, const coap_string_t *q, coap_pdu_t *resp)
{
	struct est_answer	 a;
	coap_string_t		*path;
	uint64_t		 t0 = mono_ms();
	size_t			 len = 0;
	const uint8_t		*data;
	char			 name[72];

	(void)r;
	(void)q;
	memset(&a, 0, sizeof(a));
	if (front_is_mcast(s) || (coap_session_get_proto(s) !=
	    COAP_PROTO_DTLS && front_plain_rate(s, resp))) {
		/* RFC 7252 8.2: no error answers to multicast requests */
		front_no_answer(resp);
		return;
	}
	answer_error(&a, EST_CODE(4, 4), "unknown-path", "");
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(404));
	coap_get_data(req, &len, &data);
	/* the path is the device's text: printable, no spaces, bounded */
	name[0] = '/';
	name[1] = '\0';
	if ((path = coap_get_uri_path(req)) != NULL)
		tc_diag_sanitise(path->s, path->length, name + 1,
		    sizeof(name) - 1);
	coap_delete_string(path);
	for (char *c = name; *c != '\0'; c++)
		if (*c == ' ' || *c == '"' || *c == '=')
			*c = '_';
	front_req_line(++fr.next_id, front_sess_get(s), "-", name, "",
	    (int)coap_pdu_get_code(req), -1, len, 0, 0, &a, t0);
}

/*
 * Register one resource per (label, operation) the route enables, for
 * every method: the default root first, then /.well-known/est/<label>/<op>
 * per CA label. A disabled operation has no resource: the unknown-path
 * handler answers it 4.04 and discovery does not list it.
 */
/* The link attributes of an EST resource (RFC 9148 3, RFC 6690 3). */
static void
front_res_attrs(coap_resource_t *r, const struct est_op *op)
{
	char	rt[40], ct[40];

	snprintf(rt, sizeof(rt), "\"%s\"", op->rt);
	coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const(rt), 0);
	/* several values: a quoted, space-separated list */
	if (strchr(op->ct_attr, ' ') != NULL)
		snprintf(ct, sizeof(ct), "\"%s\"", op->ct_attr);
	else
		snprintf(ct, sizeof(ct), "%s", op->ct_attr);
	coap_add_attr(r, coap_make_str_const("ct"), coap_make_str_const(ct), 0);
}

static int
front_resources(void)
{
	static const coap_request_t methods[] = { COAP_REQUEST_GET,
	    COAP_REQUEST_POST, COAP_REQUEST_PUT, COAP_REQUEST_DELETE,
	    COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH };
	char path[96];

	for (size_t n = 0; n < fr.cf->nroutes; n++)
	for (int i = 0; i < EST_OP_COUNT; i++) {
		const struct est_op	*op = estmap_op_by_id(i);
		const char		*label = fr.cf->routes[n].label;
		struct route	*route;
		coap_resource_t		*r;
		coap_str_const_t	*p;

		/* optional in RFC 9148: served (and listed) when enabled */
		if (front_keygen(op) && !fr.cf->server_keygen)
			continue;
		if ((fr.cf->routes[n].ops & (1u << op->id)) == 0)
			continue;
		route = &fr.routes[fr.nroutes];
		route->op = op;
		route->cfroute = n;
		/* a copy: the config generation may change on reload */
		snprintf(route->label, sizeof(route->label), "%s", label);
		route->cache = op->method == EST_M_GET ? cache_add(route) :
		    NULL;
		fr.nroutes++;
		if (*label != '\0')
			snprintf(path, sizeof(path), ".well-known/est/%s/%s",
			    label, op->name);
		else
			snprintf(path, sizeof(path), ".well-known/est/%s",
			    op->name);
		if ((p = coap_new_str_const((const uint8_t *)path,
		    strlen(path))) == NULL ||
		    (r = coap_resource_init(p, COAP_RESOURCE_FLAGS_RELEASE_URI))
		    == NULL)
			return -1;
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]);
		    m++)
			coap_register_request_handler(r, methods[m],
			    front_handler);
		coap_resource_set_userdata(r, route);
		front_res_attrs(r, op);
		coap_add_resource(fr.ctx, r);
	}
	{
		coap_resource_t *w;

		/* replaces libcoap's own: plain CoAP needs absolute links */
		if ((w = coap_resource_init(coap_make_str_const(
		    ".well-known/core"), 0)) == NULL)
			return -1;
		coap_register_request_handler(w, COAP_REQUEST_GET,
		    front_wellknown);
		coap_add_resource(fr.ctx, w);
	}
	{
		coap_resource_t *u;

		if ((u = coap_resource_unknown_init(front_unknown_handler)) ==
		    NULL)
			return -1;
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]);
		    m++)
			coap_register_request_handler(u, methods[m],
			    front_unknown_handler);
		coap_add_resource(fr.ctx, u);
	}
	return 0;
}

/*
 * A queued request that can no longer be answered before its deadline
 * gets 5.03 + Max-Age now (with its followers) instead of a 5.04 later.
 */
static int
front_backlog_visit(struct backlog_ent *e, uint64_t wait, void *arg)
{
	struct front_req	*rq = e->owner;
	uint64_t		 now = *(const uint64_t *)arg, end;

	if (rq == NULL || rq->done)
		return 0;	/* a cache refresh, or already answered */
	end = rq->t0 + front_budget_ms(rq->route->cfroute);
	if (now + wait <= end)
		return 0;
	upstream_cancel(rq->job);
	rq->job = NULL;
	backlog_leave(&fr.pool, e, 0, now);
	log_info("req=%llu peer=%s op=%s refused: %u queued for the upstream, "
	    "about %llu ms to go", (unsigned long long)rq->id, rq->sess->peer,
	    rq->op->name, fr.pool.nqueued, (unsigned long long)wait);
	answer_error(&rq->ans, EST_CODE(5, 3), "backlog",
	    "upstream busy, retry after Max-Age");
	rq->ans.max_age = front_backlog_max_age(wait);
	metrics_limit("upstream_backlog");
	front_followers_done(rq);
	front_finish(rq);
	return 1;
}

/* See coap_front.h. */
void
front_tick(void)
{
	uint64_t now = mono_ms();

	if (fr.cf->backlog_shed)
		backlog_scan(&fr.pool, now, front_backlog_visit, &now);
	front_pool_gauges();

	blk_expire(fr.blk, now);
	metrics_gauge_set(METRICS_G_BLOCK1_BYTES, (int64_t)blk_bytes(fr.blk));
	front_handshake_timeouts(now);
	if (fr.xch != NULL)
		xch_expire(fr.xch, now);
	xch_expire(fr.held, now);
	dlv_tick(now);
	cache_tick();
	/* state changed outside libcoap does not poke its timerfd */
	coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
}

unsigned
front_pending(void)
{
	return fr.npending;
}

const char *
front_libcoap_version(void)
{
	return coap_package_version();
}

/*
 * Hand libcoap our certificate and key (PEM buffers of cf) and the
 * context limits of cf. libcoap keeps pointers into cf's buffers until
 * the next call, so cf must stay alive until then.
 */
static int
front_apply(struct config *cf)
{
	coap_dtls_pki_t	pki;

	memset(&pki, 0, sizeof(pki));
	pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	pki.verify_peer_cert = 1;
	pki.cert_chain_validation = 1;
	pki.cert_chain_verify_depth = (uint8_t)cf->dtls_verify_depth;
	pki.additional_tls_setup_call_back = front_tls_setup_cb;
	pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	pki.pki_key.key.pem_buf.public_cert =
	    (const uint8_t *)cf->pki->dtls_cert_pem;
	pki.pki_key.key.pem_buf.public_cert_len = cf->pki->dtls_cert_len;
	pki.pki_key.key.pem_buf.private_key =
	    (const uint8_t *)cf->pki->dtls_key_pem;
	pki.pki_key.key.pem_buf.private_key_len = cf->pki->dtls_key_len;
	if (coap_context_set_pki(fr.ctx, &pki) != 1) {
		log_warnx("libcoap refused the DTLS certificate and key");
		return -1;
	}
	/* that put libcoap's ClientHello callback back: ours again */
	front_hook_ctx();
	coap_context_set_max_idle_sessions(fr.ctx, cf->dtls_max_idle_sessions);
	coap_context_set_max_handshake_sessions(fr.ctx,
	    cf->dtls_max_handshakes);
	coap_context_set_session_timeout(fr.ctx, cf->dtls_idle_timeout_s);
	fr.pol.retry_max_age = (int)cf->retry_max_age_s;
	fr.pol.att_204_empty = strcmp(cf->att_on_204, "empty") == 0;
	fr.pol.max_body = cf->max_response_body;
	/* a retransmission comes within EXCHANGE_LIFETIME (RFC 7252 4.8.2) */
	dlv_configure(cf->max_pending, EXCHANGE_LIFETIME_MS);
	return 0;
}

/* The finished-exchange table for cf's bounds, NULL when turned off. */
static struct xch_table *
front_xch_new(const struct config *cf)
{
	if (cf->exchange_entries == 0 || cf->exchange_bytes == 0)
		return NULL;
	return xch_table_new(cf->exchange_entries, cf->exchange_bytes,
	    EXCHANGE_LIFETIME_MS);
}

/* The per-source rate table for cf, NULL when the limit is off. */
static struct rl_table *
front_rl_new(const struct config *cf)
{
	if (cf->rate_per_source == 0)
		return NULL;
	return rl_table_new(cf->rate_per_source, cf->rate_burst,
	    cf->rate_sources);
}

/*
 * Other anchors or CRLs: no session or ticket from before may resume (the
 * session id context changes too, pki_setup_ssl), and the cache's memory
 * is given back.
 */
static void
front_trust_changed(const struct config *old, const struct config *cf)
{
	if (old->pki == NULL || cf->pki == NULL ||
	    memcmp(old->pki->trust_id, cf->pki->trust_id,
	    sizeof(cf->pki->trust_id)) == 0 || front_dtls_ctx == NULL)
		return;
	pki_forget_sessions(front_dtls_ctx);
	log_info("reload: device trust anchors or CRLs changed: DTLS session "
	    "cache emptied, session-ticket keys replaced");
}

/* See coap_front.h. */
int
front_reconfigure(struct config *cf)
{
	if (front_apply(cf) == -1) {
		/* back to the generation libcoap had */
		if (front_apply(fr.cf) == -1)
			log_warnx("reload: could not restore the DTLS identity");
		return -1;
	}
	front_blk_limits(cf);
	if (cf->exchange_entries != fr.cf->exchange_entries ||
	    cf->exchange_bytes != fr.cf->exchange_bytes) {
		/* new bounds: start over; only repeats lose their shortcut */
		xch_table_free(fr.xch);
		fr.xch = front_xch_new(cf);
	}
	if (fr.rl != NULL && cf->rate_per_source != 0 &&
	    cf->rate_sources == fr.cf->rate_sources)
		rl_table_set_limits(fr.rl, cf->rate_per_source, cf->rate_burst);
	else {
		rl_table_free(fr.rl);
		fr.rl = front_rl_new(cf);
	}
	cache_configure(cf);
	backlog_set_cap(&fr.pool, cf->routes[0].up.max_connections, mono_ms());
	front_trust_changed(fr.cf, cf);
	gen_ref(cf);
	gen_unref(fr.cf);
	fr.cf = cf;
	return 0;
}

/* See coap_front.h. */
void
front_drain(void)
{
	fr.draining = 1;
	metrics_gauge_set(METRICS_G_DRAINING, 1);
}

/*
 * See coap_front.h. Each request still waiting gets 5.03 + Max-Age now,
 * its followers with it; what can no longer be sent (the device left) is
 * ended as front_finish() does for every answer.
 */
void
front_drain_cutoff(void)
{
	struct front_req	*rq, **cut;
	size_t			 n = 0, i;

	/* followers end with their leaders: collect the others first */
	if ((cut = calloc(fr.npending + 1, sizeof(*cut))) == NULL)
		fatalx("%s: out of memory", __func__);
	TAILQ_FOREACH(rq, &fr.reqs, entry)
		if (!rq->done && rq->leader == NULL && n < fr.npending)
			cut[n++] = rq;
	for (i = 0; i < n; i++) {
		rq = cut[i];
		if (rq->job != NULL) {
			upstream_cancel(rq->job);
			rq->job = NULL;
		}
		backlog_leave(&fr.pool, &rq->bl, 0, mono_ms());
		log_warnx("req=%llu peer=%s op=%s cut off by the drain timeout",
		    (unsigned long long)rq->id, rq->sess->peer, rq->op->name);
		answer_error(&rq->ans, EST_CODE(5, 3), "drain-timeout",
		    "registrar is shutting down, retry later");
		rq->ans.max_age = (int)fr.cf->busy_max_age_s;
		front_followers_done(rq);
		front_finish(rq);
	}
	free(cut);
}

/* See coap_front.h. */
int
front_idle(void)
{
	return fr.npending == 0 && coap_can_exit(fr.ctx);
}

/*
 * Servers up over all routes (*total: configured), and the first route
 * with none up (label, "" for the default route) or NULL.
 */
static unsigned
front_servers_up(unsigned *total, const char **dead)
{
	unsigned n = 0, t;

	*total = 0;
	*dead = NULL;
	for (size_t i = 0; i < fr.cf->nroutes; i++) {
		unsigned u = upstream_route_up(fr.up, i, &t);

		n += u;
		*total += t;
		if (u == 0 && *dead == NULL)
			*dead = fr.cf->routes[i].label;
	}
	return n;
}

/*
 * See coap_front.h. Not ready only when no route can reach a server:
 * with one CA down the others still serve, and a balancer moving devices
 * to another registrar would not reach that CA either.
 */
const char *
front_ready_reason(void)
{
	unsigned	 total;
	const char	*dead;

	if (fr.draining)
		return "draining";
	if (!fr.upstream_seen)
		return "starting";
	if (front_servers_up(&total, &dead) == 0)
		return "no upstream reachable";
	return NULL;
}

/* See coap_front.h. */
void
front_status(char *buf, size_t bufsz)
{
	const char	*dead;
	unsigned	 total, n = front_servers_up(&total, &dead);
	char		 up[96];

	if (!fr.upstream_seen)
		snprintf(up, sizeof(up), "not yet tried");
	else if (dead != NULL)
		snprintf(up, sizeof(up), "%u/%u servers up, none for %s%s", n,
		    total, *dead != '\0' ? "label " : "the default route",
		    dead);
	else
		snprintf(up, sizeof(up), "%u/%u servers up", n, total);
	snprintf(buf, bufsz, "%s; %u sessions (%u in handshake), %u pending, "
	    "upstream %s", fr.draining ? "draining" : "serving",
	    fr.nsessions, fr.nhandshakes, fr.npending, up);
}

/* See coap_front.h. */
int
front_init(struct event_base *base, struct config *cf, struct upstream *up)
{
	int		fd;

	memset(&fr, 0, sizeof(fr));
	fr.base = base;
	fr.cf = gen_ref(cf);
	fr.up = up;
	TAILQ_INIT(&fr.reqs);
	LIST_INIT(&fr.sessions);
	backlog_init(&fr.pool, cf->routes[0].up.max_connections);
	cache_init(&(const struct cache_env){ .up = up, .pool = &fr.pool,
	    .pol = &fr.pol, .pool_changed = front_pool_gauges,
	    .seen = front_upstream_seen }, cf);

	coap_startup();
	coap_set_log_handler(front_coap_log);
	coap_set_log_level(log_get_level() >= LOG_LVL_DEBUG ? LOG_INFO :
	    LOG_WARNING);
	coap_dtls_set_log_level(log_get_level() >= LOG_LVL_DEBUG ? LOG_INFO :
	    LOG_WARNING);
	if (!coap_dtls_is_supported()) {
		log_warnx("libcoap lacks DTLS support");
		return -1;
	}
	fr.xch = front_xch_new(cf);
	if ((fr.held = xch_table_new(FRONT_HELD_ENTRIES, FRONT_HELD_BYTES,
	    EXCHANGE_LIFETIME_MS)) == NULL ||
	    (fr.leaders = pend_table_new()) == NULL ||
	    (fr.devs = pend_table_new()) == NULL) {
		log_warnx("out of memory");
		return -1;
	}
	fr.rl = front_rl_new(cf);
	if ((fr.blk = blk_table_new(cf->max_request_body, cf->block1_budget,
	    cf->max_pending * 4, cf->block1_lifetime_s * 1000ULL)) == NULL ||
	    (fr.ctx = coap_new_context(NULL)) == NULL) {
		log_warnx("cannot create the CoAP context");
		return -1;
	}
	front_blk_limits(cf);
	/* before any endpoint; no SINGLE_BODY with 4.3.1 */
	coap_context_set_block_mode(fr.ctx, COAP_BLOCK_USE_LIBCOAP);
	coap_register_event_handler(fr.ctx, front_event_cb);
	coap_register_nack_handler(fr.ctx, front_nack_cb);
	dlv_init(base, fr.ctx, &(const struct dlv_hooks){
	    .expired = front_dlv_expired, .gone = front_dlv_gone });
	if (front_apply(cf) == -1)
		return -1;
	for (size_t i = 0; i < cf->nlisten; i++)
		if (front_listen(&cf->listen[i], COAP_PROTO_DTLS) == -1)
			return -1;
	if (front_discovery_listen(cf) == -1)
		return -1;
	if (front_resources() == -1) {
		log_warnx("cannot create the EST resources");
		return -1;
	}
	/* no epoll fd means a libcoap we cannot drive */
	if ((fd = coap_context_get_coap_fd(fr.ctx)) == -1) {
		log_warnx("libcoap was built without epoll support");
		return -1;
	}
	fr.iob = iob_new(fr.ctx, FRONT_IO_BATCH);
	if ((fr.ev = event_new(base, fd, EV_READ | EV_PERSIST, front_io_cb,
	    NULL)) == NULL || event_add(fr.ev, NULL) == -1) {
		log_warnx("cannot watch libcoap's fd");
		return -1;
	}
	coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
	/* warm the caches so crts and att go out piggybacked */
	cache_tick();
	return 0;
}

/* See coap_front.h. */
void
front_shutdown(void)
{
	struct front_req	*rq;
	struct front_sess	*fs;

	/* our session references before the context, or endpoints assert */
	while ((rq = TAILQ_FIRST(&fr.reqs)) != NULL) {
		log_info("req=%llu op=%s cancelled: shutting down",
		    (unsigned long long)rq->id, rq->op->name);
		answer_clear(&rq->ans);
		rq->ans.reason = "cancelled-shutdown";
		front_line(rq);
		front_req_free(rq);
	}
	dlv_shutdown();
	cache_shutdown();
	if (fr.ev != NULL)
		event_free(fr.ev);
	iob_free(fr.iob);
	/* SERVER_SESSION_DEL does not fire at context free in 4.3.1 */
	while ((fs = LIST_FIRST(&fr.sessions)) != NULL)
		front_sess_free(fs);
	if (fr.ctx != NULL)
		coap_free_context(fr.ctx);
	blk_table_free(fr.blk);
	xch_table_free(fr.xch);
	xch_table_free(fr.held);
	pend_table_free(fr.leaders);
	pend_table_free(fr.devs);
	rl_table_free(fr.rl);
	coap_cleanup();
	gen_unref(fr.cf);
	memset(&fr, 0, sizeof(fr));
	front_dtls_ctx = NULL;
}
