/*
 * The request's state machine (est_req.h). A request of an EST resource
 * goes through these steps, each a function below:
 *
 *   req_begin      retransmission already handled by the front; drain,
 *                  options (RFC 9148 4), Block1 limits, route policy
 *   req_body       the whole body: Block1 reassembly (RFC 7959 2.5)
 *   req_get        GET: cache, held bundle, else upstream
 *   req_post       POST: piggybacked checks when the registrar is not
 *                  loaded; under load the empty ACK first (RFC 7252
 *                  5.2.2) and the CSR checks on the next loop pass
 *   req_csr        CSR form, key policy, CSR identity, PoP
 *   req_memory     an identical finished exchange answers again (RFC
 *                  7252 4.5: acted on once, answered as often)
 *   req_admit      pending limits, upstream backlog shedding
 *   req_start      leader/follower coalescing, the upstream call
 *   req_finish     the final answer to deliver.c, or held for the device
 *   req_close      request line, requests_total, audit record, free
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "answer.h"
#include "audit.h"
#include "authz.h"
#include "backlog.h"
#include "block1.h"
#include "coap_opt.h"
#include "config.h"
#include "csr.h"
#include "deliver.h"
#include "est_map.h"
#include "est_req.h"
#include "estcoapd.h"
#include "exchange.h"
#include "gen.h"
#include "log.h"
#include "metrics.h"
#include "pending.h"
#include "pki.h"
#include "reply.h"
#include "reqline.h"
#include "route.h"
#include "transcode.h"
#include "upstream.h"
#include "util.h"

#define REQ_MAGIC	0x45535452u	/* "ESTR" */

/* RFC 7252 4.8.2: how long a peer may retransmit or resume a transfer. */
#define EXCHANGE_LIFETIME_MS	247000

/* Extra time the request deadline gives curl to report its own timeout. */
#define DEADLINE_SLACK_MS	3000

/*
 * Answers held for a device that could not take them (it left, or a
 * separate answer in blocks it cannot fetch), until it asks again: at
 * most this many, this many bytes, EXCHANGE_LIFETIME each.
 */
#define HELD_ENTRIES		4096
#define HELD_BYTES		(16u << 20)

/* Max-Age of the 5.03 that tells a device to ask again for a held answer. */
#define HELD_MAX_AGE		1

/* RFC 9175 3.2: Request-Tag tells concurrent Block1 uploads apart. */
#define OPT_REQUEST_TAG		292

/*
 * CSR checks run per turn for requests acknowledged first; the turn
 * comes when no datagram waits (EVPRIO_CHECKS), and a short one lets the
 * next datagram in soon.
 */
#define CHECK_BATCH		16

/* A device's upstream-bound requests over all its sessions. */
struct req_devcount {
	struct pend_ent		 pe;		/* by certificate fingerprint */
	unsigned		 n;
};

struct est_req {
	uint32_t		 magic;
	enum req_state		 state;
	TAILQ_ENTRY(est_req)	 entry;		/* in rs.reqs */
	TAILQ_ENTRY(est_req)	 centry;	/* in rs.checking */
	uint64_t		 id;
	const struct route	*rt;
	const struct est_op	*op;
	struct req_dev		 dev;		/* sess referenced */
	struct req_devcount	*dc;
	struct dlv		*d;		/* CoAP side; NULL: gone */
	struct upstream_job	*job;
	struct backlog_ent	 bl;		/* job's place in the pool */
	unsigned		 resp_cf;
	int			 req_cf;	/* -1: none */
	int			 has_block1;
	uint32_t		 block1;
	int			 b2_szx;
	uint8_t			*body;		/* CHECKING: the CSR */
	size_t			 len;
	EVP_PKEY		*csr_key;
	char			 csr_subject[160];
	uint8_t			*p7;		/* issued PKCS#7, for the audit */
	size_t			 p7len;
	uint8_t			 xkey[XCH_KEY_LEN];	/* exchange key (POST) */
	uint8_t			 ikey[XCH_KEY_LEN];	/* held-answer key */
	uint64_t		 audit_ms;
	/* a follower: the leader's exchange, whose answer it gets */
	uint64_t		 orig_req;
	uint64_t		 orig_ms;
	char			 orig_serial[XCH_SERIAL_LEN];
	struct pend_ent		 lpe;		/* in rs.leaders while leading */
	struct est_req		*leader;
	LIST_HEAD(, est_req)	 followers;
	LIST_ENTRY(est_req)	 fentry;
	struct est_answer	 ans;
	const char		*held_why;	/* audited as undelivered */
	const char		*repeat_why;	/* from memory: "repeat", ... */
	int			 delivered;	/* ans went to the device */
	int			 audited;	/* its refusal is audited */
	long			 up_status;
	uint64_t		 up_ms;
	char			 up_server[CONFIG_URL_MAX];
	uint64_t		 t0;		/* mono_ms on arrival */
};

static struct req_state_all {
	struct event_base	*base;
	struct config		*cf;
	struct upstream		*up;
	struct req_hooks	 hk;
	struct blk_table	*blk;
	struct xch_table	*xch;		/* finished enrollments */
	struct xch_table	*held;		/* undelivered answers */
	struct pend_table	*leaders;	/* POSTs upstream, by xkey */
	struct pend_table	*devs;		/* req_devcount by fingerprint */
	TAILQ_HEAD(, est_req)	 reqs;
	TAILQ_HEAD(, est_req)	 checking;	/* CHECKING, oldest first */
	struct event		*check_ev;
	unsigned		 npending;
	struct req_policy	 pol;
	int			 draining;
	struct backlog		 pool;		/* curl's connections, mirrored */
} rs;

static void	req_finish(struct est_req *);

static const char *const req_state_names[] = {
	[REQ_RECEIVED] = "received", [REQ_CHECKING] = "checking",
	[REQ_FOLLOWING] = "following", [REQ_UPSTREAM] = "upstream",
	[REQ_ANSWERED] = "answered", [REQ_CLOSED] = "closed",
};

const char *
req_state_name(enum req_state st)
{
	return (unsigned)st < sizeof(req_state_names) /
	    sizeof(req_state_names[0]) ? req_state_names[st] : "?";
}

/*
 * The one place a request changes state. The transitions allowed are
 * those of est_req.h; any other is a bug, fatal rather than silent.
 */
static void
req_set_state(struct est_req *rq, enum req_state to)
{
	static const unsigned ok[] = {
		[REQ_RECEIVED] = 1u << REQ_CHECKING | 1u << REQ_FOLLOWING |
		    1u << REQ_UPSTREAM | 1u << REQ_ANSWERED | 1u << REQ_CLOSED,
		[REQ_CHECKING] = 1u << REQ_FOLLOWING | 1u << REQ_UPSTREAM |
		    1u << REQ_ANSWERED | 1u << REQ_CLOSED,
		[REQ_FOLLOWING] = 1u << REQ_ANSWERED | 1u << REQ_CLOSED,
		[REQ_UPSTREAM] = 1u << REQ_ANSWERED | 1u << REQ_CLOSED,
		[REQ_ANSWERED] = 1u << REQ_CLOSED,
		[REQ_CLOSED] = 0,
	};

	if ((ok[rq->state] & (1u << to)) == 0)
		fatalx("req=%llu: %s -> %s", (unsigned long long)rq->id,
		    req_state_name(rq->state), req_state_name(to));
	if (rq->state == REQ_CHECKING)
		TAILQ_REMOVE(&rs.checking, rq, centry);
	rq->state = to;
	log_debug("req=%llu %s", (unsigned long long)rq->id,
	    req_state_name(to));
}

/* Check a void * that should be a request. */
static struct est_req *
req_from(void *arg)
{
	struct est_req *rq = arg;

	if (rq == NULL || rq->magic != REQ_MAGIC)
		fatalx("%s: not a request (%p)", __func__, arg);
	return rq;
}

/* Server-side key generation: answers carry a private key. */
static int
req_keygen(const struct est_op *op)
{
	return op->id == EST_OP_SKG || op->id == EST_OP_SKC;
}

/* The device policy of a route. */
static const struct authz *
req_authz(const struct route *rt)
{
	return rs.cf->routes[rt->cfroute].auth;
}

/* See est_req.h: what the pool mirror knows (backlog.h). */
void
req_pool_gauges(void)
{
	metrics_gauge_set(METRICS_G_UPSTREAM_RUNNING, rs.pool.nrunning);
	metrics_gauge_set(METRICS_G_UPSTREAM_QUEUED, rs.pool.nqueued);
	metrics_gauge_set(METRICS_G_UPSTREAM_SERVICE_MS,
	    (int64_t)backlog_service_ms(&rs.pool, mono_ms()));
}

/*
 * How long an upstream-bound request of a route may take, queue included:
 * nine tenths of upstream.timeout_ms, so that the answer comes before
 * curl's own deadline (which counts the time in curl's queue too).
 */
static uint64_t
req_budget_ms(size_t cfroute)
{
	return (uint64_t)rs.cf->routes[cfroute].up.timeout_ms * 9 / 10;
}

/*
 * Max-Age for a request the pool cannot serve in time: the expected wait,
 * plus up to a quarter more at random so that the refused devices do not
 * all come back in the same second, within busy_max_age_s .. 3600 s.
 */
static int
req_backlog_max_age(uint64_t wait_ms)
{
	uint64_t s = (wait_ms + 999) / 1000;

	if (s / 4 > 0)
		s += arc4random_uniform((uint32_t)(s / 4) + 1);
	if (s < rs.cf->busy_max_age_s)
		s = rs.cf->busy_max_age_s;
	return s > 3600 ? 3600 : (int)s;
}

/* 5.03 + Max-Age busy_max_age_s, counted under limit. */
static void
req_busy(struct est_answer *a, const char *reason, const char *diag,
    const char *limit)
{
	answer_error(a, EST_CODE(5, 3), reason, diag);
	a->max_age = (int)rs.cf->busy_max_age_s;
	if (limit != NULL)
		metrics_limit(limit);
}

/* ---- the device's count of pending requests ---------------------------- */

/* The count of dev's device, made when make is set; NULL: none. */
static struct req_devcount *
req_devcount(const struct req_dev *dev, int make)
{
	struct pend_ent		 probe, *e;
	struct req_devcount	*d;

	if (pend_key(&probe, NULL, dev->id->fp, sizeof(dev->id->fp)) == -1)
		return NULL;
	if ((e = pend_find(rs.devs, &probe, NULL)) != NULL)
		return (struct req_devcount *)((char *)e -
		    offsetof(struct req_devcount, pe));
	if (!make || (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->pe = probe;
	d->pe.linked = 0;
	pend_insert(rs.devs, &d->pe);
	return d;
}

/* One request less for its device; the record goes with the last. */
static void
req_devcount_put(struct req_devcount *d)
{
	if (d == NULL || --d->n > 0)
		return;
	pend_remove(rs.devs, &d->pe);
	free(d);
}

/* ---- ending a request ---------------------------------------------------- */

/* The time of rq's audit record (wall clock, ms), fixed at first use. */
static uint64_t
req_audit_ms(struct est_req *rq)
{
	if (rq->audit_ms == 0)
		rq->audit_ms = audit_now_ms();
	return rq->audit_ms;
}

/* Audit what a delivered enrollment handed out or was refused. */
static void
req_audit_delivered(struct est_req *rq)
{
	const struct req_dev	*dv = &rq->dev;
	char			 code[8];

	if (rq->ans.code == EST_CODE(2, 4) && rq->p7 != NULL) {
		metrics_inc(METRICS_C_CERTS_ISSUED);
		/* skg/skc: the CSR key is not the certified one */
		audit_issued(rq->id, req_audit_ms(rq), dv->peer, dv->id,
		    rq->op->name, rq->rt->label, rq->csr_subject, rq->p7,
		    rq->p7len, req_keygen(rq->op) ? NULL : rq->csr_key,
		    rq->up_server);
	} else if (EST_CODE_CLASS(rq->ans.code) == 2 && rq->orig_req != 0) {
		struct audit_repeat ar = { rq->id, rq->repeat_why != NULL ?
		    rq->repeat_why : "identical", rq->orig_req,
		    rq->orig_ms, rq->orig_serial, req_keygen(rq->op) };

		/* a follower: the leader's certificate, handed out again */
		audit_repeated(dv->peer, dv->id, rq->op->name, rq->rt->label,
		    &ar);
	} else if (rq->ans.code == EST_CODE(4, 1) ||
	    rq->ans.code == EST_CODE(4, 3))
		audit_denied(dv->peer, dv->id, rq->op->name, rq->rt->label,
		    estmap_code_str(rq->ans.code, code), rq->ans.diag);
}

/* The audit record of rq's end: delivered, held for the device, or none. */
static void
req_audit(struct est_req *rq)
{
	const struct req_dev *dv = &rq->dev;

	if (rq->held_why != NULL && rq->p7 != NULL)
		audit_undelivered(rq->id, req_audit_ms(rq), dv->peer, dv->id,
		    rq->op->name, rq->rt->label, rq->csr_subject, rq->p7,
		    rq->p7len, req_keygen(rq->op) ? NULL : rq->csr_key,
		    rq->up_server, rq->held_why);
	else if (rq->delivered && !rq->audited)
		req_audit_delivered(rq);
}

/* Unlink rq from the leader/follower web; followers are left alone. */
static void
req_unlink(struct est_req *rq)
{
	struct est_req *f;

	while ((f = LIST_FIRST(&rq->followers)) != NULL) {
		LIST_REMOVE(f, fentry);
		f->leader = NULL;
	}
	if (rq->leader != NULL)
		LIST_REMOVE(rq, fentry);
	rq->leader = NULL;
	pend_remove(rs.leaders, &rq->lpe);
}

/*
 * The end of every request, however it ends (answered, device gone,
 * drained, shut down): its audit record, its request line and count in
 * requests_total, and its memory.
 */
static void
req_close(struct est_req *rq)
{
	struct reqline l = { rq->id, rq->dev.peer, rq->dev.id->subject,
	    rq->op->name, rq->rt->label, rq->op->method, rq->req_cf, rq->len,
	    rq->up_status, rq->up_status != 0 || rq->up_ms != 0, rq->up_ms,
	    rq->ans.code, rq->ans.len, mono_ms() - rq->t0, rq->ans.reason };

	req_audit(rq);
	reqline_emit(&l);
	req_set_state(rq, REQ_CLOSED);
	req_unlink(rq);
	if (rq->job != NULL)
		upstream_cancel(rq->job);
	backlog_leave(&rs.pool, &rq->bl, 0, mono_ms());
	req_pool_gauges();
	dlv_drop(rq->d);
	if (*rq->dev.pending > 0)
		(*rq->dev.pending)--;
	rs.hk.sess_unref(rq->dev.sess);
	req_devcount_put(rq->dc);
	rs.npending--;
	metrics_gauge_set(METRICS_G_PENDING, rs.npending);
	TAILQ_REMOVE(&rs.reqs, rq, entry);
	EVP_PKEY_free(rq->csr_key);
	free(rq->p7);
	free(rq->body);
	answer_clear(&rq->ans);
	rq->magic = 0;
	free(rq);
}

/*
 * rq's answer as the exchange memory keeps it, with the exchange it came
 * from: rq's own, or for a follower its leader's.
 */
static void
req_xch_answer(struct est_req *rq, struct xch_answer *x)
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
	x->origin_ms = req_audit_ms(rq);
	/* skg/skc: the CSR key is not the certified one */
	audit_cert_serial(rq->p7, rq->p7len, req_keygen(rq->op) ? NULL :
	    rq->csr_key, x->origin_serial, sizeof(x->origin_serial));
}

/*
 * Remember a finished enrollment's certificate answer: a retransmission
 * after it, or the same CSR again, then costs no second issuance. Only
 * 2.xx: after a 5.03 the device must be able to try again for real.
 */
static void
req_remember(struct est_req *rq)
{
	struct xch_answer x;

	if (rs.xch == NULL || rq->op->method != EST_M_POST ||
	    EST_CODE_CLASS(rq->ans.code) != 2)
		return;
	req_xch_answer(rq, &x);
	xch_put(rs.xch, rq->xkey, &x, req_keygen(rq->op), mono_ms());
}

/*
 * Keep rq's answer for the device's next try (keyed by its identity,
 * route, operation, format and CSR key, so that a PoP CSR made on a new
 * session matches); req_close audits the certificate as undelivered.
 */
static void
req_hold_answer(struct est_req *rq, const char *why)
{
	struct xch_answer x;

	req_xch_answer(rq, &x);
	if (xch_put(rs.held, rq->ikey, &x, req_keygen(rq->op), mono_ms()) ==
	    -1)
		log_warnx("req=%llu the %zu-byte answer could not be held",
		    (unsigned long long)rq->id, rq->ans.len);
	rq->held_why = why;
	req_remember(rq);
}

/* A 2.xx answer with a body: what a device must not lose. */
static int
req_precious(const struct est_req *rq)
{
	return EST_CODE_CLASS(rq->ans.code) == 2 && rq->ans.payload != NULL;
}

/*
 * The device left before the answer (RFC 7252 gives it no other way to
 * get it): a certificate the CA issued is held for its next try.
 */
static void
req_undelivered(struct est_req *rq)
{
	if (req_precious(rq)) {
		req_hold_answer(rq, "device left before the answer");
		log_info("req=%llu op=%s the device left: answer held for "
		    "its next try", (unsigned long long)rq->id, rq->op->name);
		rq->ans.reason = "undelivered";
	} else
		log_info("req=%llu op=%s the device left: answer not sent",
		    (unsigned long long)rq->id, rq->op->name);
	req_close(rq);
}

/*
 * coap.large_separate "retry": the separate answer would go in blocks to
 * a client that cannot ask for block 1 (libcoap 4.3.4 and older, for a
 * request without Block1). It is held, and the device told to repeat the
 * request: the repeat gets it piggybacked, which every client follows.
 */
static void
req_hold_large(struct est_req *rq)
{
	char	d[sizeof(rq->ans.diag)];
	size_t	len = rq->ans.len;

	req_hold_answer(rq, "separate answer larger than one block; held "
	    "for the device's repeat");
	log_info("req=%llu op=%s %zu-byte answer held: a separate answer in "
	    "blocks is not fetched by every client; 5.03, repeat",
	    (unsigned long long)rq->id, rq->op->name, len);
	metrics_limit("large_separate");
	snprintf(d, sizeof(d), "answer of %zu bytes ready: repeat the "
	    "request", len);
	/* the audit record still wants the certificate: keep rq->p7 */
	answer_clear(&rq->ans);
	answer_error(&rq->ans, EST_CODE(5, 3), "held-large", d);
	rq->ans.max_age = HELD_MAX_AGE;
}

/*
 * The answer of rq is final: send it (deliver.c: piggybacked when the
 * hold has not ended, else separate), hold it for the device when it
 * cannot take it now, and close the request.
 */
static void
req_finish(struct est_req *rq)
{
	req_set_state(rq, REQ_ANSWERED);
	if (rq->d != NULL && !dlv_alive(rq->d)) {
		dlv_drop(rq->d);
		rq->d = NULL;
	}
	if (rq->d == NULL) {
		req_undelivered(rq);
		return;
	}
	if (strcmp(rs.cf->large_separate, "retry") == 0 &&
	    req_precious(rq) && dlv_blocked(rq->d, rq->ans.len))
		req_hold_large(rq);
	else {
		rq->delivered = 1;
		req_remember(rq);
	}
	(void)dlv_answer(rq->d, &rq->ans);
	rq->d = NULL;			/* deliver.c's now */
	req_close(rq);
}

/* Give the followers of leader (identical requests) its answer. */
static void
req_followers_done(struct est_req *leader)
{
	struct est_req	*f;
	char		 serial[XCH_SERIAL_LEN];
	uint64_t	 at = req_audit_ms(leader);

	if (LIST_EMPTY(&leader->followers))
		return;
	/* skg/skc: the CSR key is not the certified one */
	audit_cert_serial(leader->p7, leader->p7len, req_keygen(leader->op) ?
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
		req_finish(f);
	}
}

/* rq ends now with the answer it holds; its followers with it. */
static void
req_end(struct est_req *rq)
{
	if (rq->job != NULL) {
		upstream_cancel(rq->job);
		rq->job = NULL;
	}
	backlog_leave(&rs.pool, &rq->bl, 0, mono_ms());
	req_followers_done(rq);
	req_finish(rq);
}

/* rq ends without an answer (no device to send it to): the line only. */
static void
req_cancel(struct est_req *rq, const char *reason, const char *why)
{
	log_info("req=%llu op=%s cancelled: %s", (unsigned long long)rq->id,
	    rq->op->name, why);
	answer_clear(&rq->ans);
	rq->ans.reason = reason;
	req_close(rq);
}

/* ---- the upstream and deliver.c call back ------------------------------- */

/* The upstream finished: make the answer and send it. */
static void
req_upstream_done(void *arg, const struct upstream_result *r)
{
	struct est_req	*rq = req_from(arg);
	uint8_t		*der = NULL;
	size_t		 derlen = 0;

	rq->job = NULL;			/* upstream frees it after we return */
	rs.hk.upstream_seen();
	/* only an HTTP answer tells how long the CA takes */
	backlog_leave(&rs.pool, &rq->bl, r->end == UPSTREAM_OK, mono_ms());
	req_pool_gauges();
	rq->up_status = r->end == UPSTREAM_OK ? r->status : 0;
	rq->up_ms = r->ms;
	if (r->server != NULL)
		snprintf(rq->up_server, sizeof(rq->up_server), "%s", r->server);
	answer_upstream(&rq->ans, rq->op, rq->resp_cf, rq->csr_key, r,
	    &rs.pol, &der, &derlen);
	if (r->error != NULL)
		log_info("req=%llu upstream: %s", (unsigned long long)rq->id,
		    r->error);
	if (der != NULL && rq->op->method == EST_M_POST) {
		rq->p7 = der;		/* the issued PKCS#7, for the audit */
		rq->p7len = derlen;
	} else if (der != NULL && rq->rt->cache != NULL &&
	    rs.cf->cache_ttl_s > 0)
		rs.hk.cache_store(rq->rt, der, derlen);
	else
		free(der);
	req_followers_done(rq);
	req_finish(rq);
}

/* deliver.c: the request's deadline passed before the upstream answered. */
static void
req_dlv_expired(void *owner)
{
	struct est_req *rq = req_from(owner);

	answer_error(&rq->ans, EST_CODE(5, 4), "deadline",
	    "upstream EST server did not answer in time");
	req_end(rq);
}

/*
 * deliver.c: the device's DTLS session went before the answer. A POST
 * the CA works on (or that waits for one that does) runs to completion:
 * the CA may issue, and the certificate is then held for the device. The
 * rest is cancelled.
 */
static void
req_dlv_gone(void *owner)
{
	struct est_req *rq = req_from(owner);

	dlv_drop(rq->d);		/* detached: nothing to send */
	rq->d = NULL;
	if (rq->op->method == EST_M_POST && (rq->state == REQ_UPSTREAM ||
	    rq->state == REQ_FOLLOWING)) {
		log_info("req=%llu op=%s device left (DTLS session closed); "
		    "the upstream exchange runs to completion",
		    (unsigned long long)rq->id, rq->op->name);
		return;
	}
	req_cancel(rq, "cancelled-dtls-closed", "DTLS session closed");
}

/* What the handler steps learn about a request before it has a record. */
struct req_ctx {
	const struct req_in	*in;
	const struct est_op	*op;
	struct est_answer	 a;
	unsigned		 resp_cf;
	int			 req_cf;
	int			 has_blk1;
	uint32_t		 blk1;
	const uint8_t		*data;
	size_t			 len;
	uint8_t			*body;		/* reassembled, owned */
	int			 too_large;	/* answer with Size1 */
	uint64_t		 t0;		/* mono_ms on arrival */
};

/* ---- answering in the handler ------------------------------------------- */

/*
 * Answer a request that never got a record (c->a), piggybacked, and log
 * it. Its request number.
 */
static uint64_t
req_answer_now(const struct req_ctx *c)
{
	const struct req_in	*in = c->in;
	const struct est_answer	*a = &c->a;
	struct reply_to		 to = { .res = in->res, .req = in->pdu,
				    .query = in->query, .b2_szx = -1 };
	struct reqline		 l = { reqline_next_id(), in->dev.peer,
				    in->dev.id != NULL ? in->dev.id->subject :
				    NULL, in->rt->op->name, in->rt->label,
				    (int)coap_pdu_get_code(in->pdu), c->req_cf,
				    c->len, 0, 0, 0, a->code, a->len,
				    mono_ms() - c->t0, a->reason };

	reply_fill(in->session, &to, in->resp, a);
	reqline_emit(&l);
	return l.id;
}

/* An answer from memory (c->a), audited as the repeat it is. */
static void
req_answer_memory(const struct req_ctx *c, const struct xch_answer *from)
{
	const struct req_in	*in = c->in;
	struct audit_repeat	 ar = { 0, c->a.reason, from->origin_req,
				    from->origin_ms, from->origin_serial,
				    req_keygen(in->rt->op) };

	ar.req = req_answer_now(c);
	if (in->dev.id != NULL && EST_CODE_CLASS(c->a.code) == 2)
		audit_repeated(in->dev.peer, in->dev.id, in->rt->op->name,
		    in->rt->label, &ar);
}

/*
 * An answer from memory: the same request answered before (RFC 7252 4.5:
 * acted on once, answered as often), else one held for this device
 * (xkey NULL: only that). 0 with a set and the exchange it came from in
 * *from (no payload), or -1.
 */
static int
req_memory(const uint8_t *xkey, const uint8_t *ikey, struct est_answer *a,
    struct xch_answer *from)
{
	const struct xch_answer	*x = NULL;
	uint64_t		 now = mono_ms();
	int			 held = 0;

	if (xkey != NULL && rs.xch != NULL)
		x = xch_get(rs.xch, xkey, now);
	if (x == NULL && (x = xch_get(rs.held, ikey, now)) != NULL)
		held = 1;
	if (x == NULL || (a->payload = malloc(x->len > 0 ? x->len : 1)) ==
	    NULL)
		return -1;
	a->reason = held ? "held" : "repeat";
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

/* ---- the pipeline ---------------------------------------------------------- */


/*
 * Who sends a Block1 upload, for its quotas: the device certificate's
 * fingerprint and the source address (without the port). addr holds 16
 * bytes.
 */
static void
req_blk_who(const struct req_in *in, struct blk_who *who, uint8_t *addr)
{
	const coap_address_t *a = coap_session_get_addr_remote(in->session);

	memset(who, 0, sizeof(*who));
	if (in->dev.id != NULL) {
		who->dev = in->dev.id->fp;
		who->devlen = sizeof(in->dev.id->fp);
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

/* The upload a Block1 block belongs to in its session (blk_key). */
static uintptr_t
req_blk_key(const struct req_in *in)
{
	coap_opt_iterator_t	 it;
	coap_opt_t		*o;

	if ((o = coap_check_option(in->pdu, OPT_REQUEST_TAG, &it)) == NULL)
		return blk_key(in->rt, NULL, 0);
	return blk_key(in->rt, coap_opt_value(o), coap_opt_length(o));
}

/* Answer a Block1 block that is not the last: 2.31 Continue + echo. */
static void
req_blk_continue(const struct req_ctx *c)
{
	uint8_t buf[4];

	/* libcoap turns a 2.xx into 2.31 + echo */
	coap_pdu_set_code(c->in->resp, COAP_RESPONSE_CODE(231));
	coap_add_option(c->in->resp, COAP_OPTION_BLOCK1,
	    coap_encode_var_safe(buf, sizeof(buf), c->blk1), buf);
}

/* The answer for a Block1 result other than CONTINUE or COMPLETE. */
static void
req_blk_error(struct req_ctx *c, enum blk_result br)
{
	switch (br) {
	case BLK_GAP:
		answer_error(&c->a, EST_CODE(4, 8), "block1-gap",
		    "block missing or out of order");
		break;
	case BLK_TOO_LARGE:
		answer_error(&c->a, EST_CODE(4, 13), "too-large",
		    "request body too large");
		metrics_limit("max_request_body");
		c->too_large = 1;
		break;
	case BLK_NOMEM:
		req_busy(&c->a, "busy", "too many uploads in progress",
		    "block1_budget");
		break;
	default:
		answer_error(&c->a, EST_CODE(4, 0), "bad-block",
		    "bad block size");
		break;
	}
}

/*
 * The whole body of a POST. 1: it is there (c->data, c->len); 0: a
 * block was taken and answered 2.31; -1: refused, c->a set.
 */
static int
req_body(struct req_ctx *c)
{
	const struct req_in	*in = c->in;
	enum blk_result		 br;
	struct blk_who		 who;
	uint8_t			 addr[16];
	unsigned		 v;
	size_t			 ev = blk_evicted(rs.blk), blen = 0;

	if (!c->has_blk1) {
		if (c->len <= rs.cf->max_request_body)
			return 1;
		blk_error:
		req_blk_error(c, BLK_TOO_LARGE);
		return -1;
	}
	req_blk_who(in, &who, addr);
	br = blk_add_from(rs.blk, in->session, req_blk_key(in), &who,
	    c->blk1 >> 4, (c->blk1 >> 3) & 1, c->blk1 & 7, c->data, c->len,
	    mono_ms(), &c->body, &blen);
	/* uploads dropped to make room (quotas, budget) */
	for (ev = blk_evicted(rs.blk) - ev; ev > 0; ev--)
		metrics_limit("block1_evicted");
	/* RFC 7959 2.4: a Block2 in the first block applies to the answer */
	if (in->dev.early_b2 != NULL && (c->blk1 >> 4) == 0)
		in->dev.early_b2[c->op->id] = copt_uint(in->pdu,
		    COAP_OPTION_BLOCK2, &v) ? (int)(v & 7) : -1;
	if (br == BLK_CONTINUE || br == BLK_DUPLICATE) {
		req_blk_continue(c);
		return 0;
	}
	if (br == BLK_TOO_LARGE)
		goto blk_error;
	if (br != BLK_COMPLETE) {
		req_blk_error(c, br);
		return -1;
	}
	c->data = c->body;
	c->len = blen;
	return 1;
}

/*
 * The CSR of a POST: its form (RFC 7030 4.4.1, RFC 9148 4.8: for server
 * keygen the CSR's key and signature are ignored, so only its form is
 * checked), then the route's key policy, CSR identity and PoP linking.
 * 0 with *key and subject set, or -1 with a set.
 */
static int
req_csr(const struct route *rt, const struct req_dev *dev, SSL *ssl,
    const uint8_t *data, size_t len, EVP_PKEY **key, char *subject,
    size_t subjsz, struct est_answer *a)
{
	const struct est_op	*op = rt->op;
	const char		*why = NULL, *idr = NULL;
	char			 azwhy[200], d[sizeof(a->diag)];
	unsigned		 code;
	struct est_csr		*csr;

	/* decoded once: every check below reads the object (csr.h) */
	if ((csr = csr_parse(data, len, &why)) == NULL ||
	    tc_csr_check(csr, !req_keygen(op), key, &why) == -1) {
		snprintf(d, sizeof(d), "bad CSR: %s", why);
		answer_error(a, EST_CODE(4, 0), "bad-csr", d);
		csr_free(csr);
		return -1;
	}
	if ((code = authz_check_csr(req_authz(rt), ssl, !req_keygen(op),
	    (int)op->id, csr, &idr, azwhy, sizeof(azwhy))) != 0) {
		if (idr != NULL)
			metrics_csr_identity_denied(idr);
		answer_error(a, code, idr != NULL ? "csr-identity" :
		    code == EST_CODE(4, 0) ? "csr-policy" :
		    code == EST_CODE(4, 1) ? "pop-failed" : "forbidden", azwhy);
		audit_deny(dev->peer, dev->id, op->name, rt->label, code, azwhy);
		EVP_PKEY_free(*key);
		*key = NULL;
		csr_free(csr);
		return -1;
	}
	audit_csr_subject(csr, subject, subjsz);
	csr_free(csr);
	return 0;
}

/*
 * Admission: every upstream-bound request holds memory until done, and
 * one that would queue for a connection longer than the upstream budget
 * allows is refused now (with a connection free it starts at once: a
 * slow CA alone is not a queue). 0, or -1 with a set.
 */
static int
req_admit(const struct req_in *in, uint64_t t0, struct est_answer *a)
{
	const struct req_dev	*dv = &in->dev;
	const struct config	*cf = rs.cf;
	const struct req_devcount *dc;
	uint64_t		 wait;

	/* service.audit_fail_closed: no certificate nobody audits */
	if (in->rt->op->method == EST_M_POST && cf->audit_fail_closed &&
	    !audit_writable()) {
		req_busy(a, "audit", "audit log unavailable, retry later",
		    "audit");
		return -1;
	}
	dc = dv->sess != NULL ? req_devcount(dv, 0) : NULL;
	if (dv->sess == NULL || rs.npending >= cf->max_pending ||
	    *dv->pending >= cf->max_pending_per_session ||
	    (dc != NULL && dc->n >= cf->max_pending_per_device)) {
		req_busy(a, "busy", "registrar busy, retry later",
		    dv->sess == NULL || rs.npending >= cf->max_pending ?
		    "max_pending" : *dv->pending >=
		    cf->max_pending_per_session ? "max_pending_per_session" :
		    "max_pending_per_device");
		return -1;
	}
	if (cf->backlog_shed && rs.pool.nrunning >= rs.pool.cap &&
	    (wait = backlog_wait_ms(&rs.pool, rs.pool.nqueued, t0)) >
	    req_budget_ms(in->rt->cfroute)) {
		answer_error(a, EST_CODE(5, 3), "backlog",
		    "upstream busy, retry after Max-Age");
		a->max_age = req_backlog_max_age(wait);
		metrics_limit("upstream_backlog");
		return -1;
	}
	return 0;
}

/*
 * How long a new upstream-bound request waits for its answer before the
 * empty ACK: none while draining or when many are pending already (an
 * early ACK then stops the devices' retransmissions).
 */
static uint32_t
req_hold_ms(void)
{
	if (rs.draining || rs.npending >= rs.cf->ack_hold_max_pending)
		return 0;
	return rs.cf->ack_hold_ms;
}

/* The record of an admitted request, counted pending; NULL: no memory. */
static struct est_req *
req_new(const struct req_ctx *c, uint64_t t0)
{
	const struct req_in	*in = c->in;
	struct est_req		*rq;

	if ((rq = calloc(1, sizeof(*rq))) == NULL)
		return NULL;
	rq->magic = REQ_MAGIC;
	rq->state = REQ_RECEIVED;
	rq->id = reqline_next_id();
	rq->rt = in->rt;
	rq->op = c->op;
	rq->dev = in->dev;
	rs.hk.sess_ref(rq->dev.sess);
	if ((rq->dc = req_devcount(&rq->dev, 1)) != NULL)
		rq->dc->n++;
	LIST_INIT(&rq->followers);
	rq->resp_cf = c->resp_cf;
	rq->req_cf = c->req_cf;
	rq->has_block1 = c->has_blk1;
	rq->block1 = c->blk1;
	rq->b2_szx = c->has_blk1 ? in->dev.early_b2[c->op->id] : -1;
	if (c->has_blk1)
		in->dev.early_b2[c->op->id] = -1;
	rq->len = c->len;
	rq->t0 = t0;
	answer_clear(&rq->ans);
	TAILQ_INSERT_TAIL(&rs.reqs, rq, entry);
	rs.npending++;
	metrics_gauge_set(METRICS_G_PENDING, rs.npending);
	(*rq->dev.pending)++;
	return rq;
}

/*
 * The CoAP side of rq (deliver.c): the empty ACK now (hold_ms 0) or
 * after the hold. 0, or -1 when out of memory, rq->ans then set.
 */
static int
req_deliver(struct est_req *rq, const struct req_in *in, uint32_t hold_ms)
{
	/* the upstream's own deadline (failover included) comes first */
	uint64_t deadline = rs.cf->routes[rq->rt->cfroute].up.timeout_ms +
	    DEADLINE_SLACK_MS;

	rq->d = dlv_begin(in->session, rq->dev.ds, in->res, in->pdu,
	    in->query, rq->has_block1, rq->block1, rq->b2_szx, hold_ms,
	    deadline, in->resp, rq);
	if (rq->d != NULL)
		return 0;
	answer_clear(&rq->ans);
	req_busy(&rq->ans, "busy", "cannot queue the request", NULL);
	return -1;
}

/* rq's answer goes piggybacked in the handler's response; rq closes. */
static void
req_reply_now(struct est_req *rq, const struct req_in *in)
{
	struct reply_to	to = { .res = in->res, .req = in->pdu,
			    .query = in->query, .b2_szx = -1 };

	reply_fill(in->session, &to, in->resp, &rq->ans);
	req_close(rq);
}

/*
 * A pending request identical to rq (same device certificate, operation,
 * response format and CSR) whose upstream exchange is running, or NULL.
 */
static struct est_req *
req_find_leader(const struct est_req *rq)
{
	static const uint8_t	 zero[XCH_KEY_LEN];
	struct pend_ent		 probe, *e = NULL;
	struct est_req		*l;

	if (rq->op->method != EST_M_POST ||
	    memcmp(rq->xkey, zero, sizeof(zero)) == 0 ||
	    pend_key(&probe, rq->rt, rq->xkey, sizeof(rq->xkey)) == -1)
		return NULL;
	while ((e = pend_find(rs.leaders, &probe, e)) != NULL) {
		l = (struct est_req *)((char *)e -
		    offsetof(struct est_req, lpe));
		if (l != rq && l->state == REQ_UPSTREAM)
			return l;
	}
	return NULL;
}

/* The upstream call of rq (POST body data); 0, or -1 with rq->ans set. */
static int
req_submit(struct est_req *rq, const uint8_t *data, size_t len)
{
	const struct route	*rt = rq->rt;
	char			*b64 = NULL, *hdrs[3] = { NULL, NULL, NULL };
	size_t			 b64len = 0;
	char			 path[256];
	SSL			*ssl;

	if (estmap_upstream_path(estmap_upstream_op(rq->op, rs.cf->routes[
	    rt->cfroute].up.renew_as_enroll), rt->label, path,
	    sizeof(path)) == -1) {
		answer_error(&rq->ans, EST_CODE(5, 0), "internal",
		    "internal error");
		return -1;
	}
	if (rq->op->method == EST_M_POST &&
	    (b64 = tc_b64_encode(data, len, &b64len)) == NULL) {
		answer_error(&rq->ans, EST_CODE(5, 3), "nomem",
		    "out of memory");
		return -1;
	}
	/* RFC 9440, opt-in: the device certificate for the CA */
	ssl = rs.hk.ssl(rq->dev.sess);
	if (rq->op->method == EST_M_POST &&
	    authz_forwards_cert(req_authz(rt)) &&
	    authz_client_cert_headers(req_authz(rt), ssl, &hdrs[0],
	    &hdrs[1]) == -1)
		log_warnx("req=%llu no device certificate to forward",
		    (unsigned long long)rq->id);
	rq->job = upstream_submit_hdrs(rs.up, rt->cfroute, path, b64, b64len,
	    "application/pkcs10", (const char *const *)hdrs,
	    req_upstream_done, rq);
	free(hdrs[0]);
	free(hdrs[1]);
	free(b64);
	if (rq->job == NULL) {
		answer_error(&rq->ans, EST_CODE(5, 2), "upstream-submit",
		    "cannot reach the upstream");
		return -1;
	}
	backlog_enter(&rs.pool, &rq->bl, rq, mono_ms());
	req_pool_gauges();
	log_debug("req=%llu peer=%s op=%s queued upstream %s",
	    (unsigned long long)rq->id, rq->dev.peer, rq->op->name, path);
	return 0;
}

/*
 * Start rq: wait for an identical request on its way (the same device
 * sent the same CSR), or go upstream. 0, or -1 with rq->ans set.
 */
static int
req_start(struct est_req *rq, const uint8_t *data, size_t len)
{
	if ((rq->leader = req_find_leader(rq)) != NULL) {
		metrics_inc(METRICS_C_DEDUP_HITS);
		log_info("req=%llu peer=%s op=%s waits for the identical "
		    "req=%llu", (unsigned long long)rq->id, rq->dev.peer,
		    rq->op->name, (unsigned long long)rq->leader->id);
		LIST_INSERT_HEAD(&rq->leader->followers, rq, fentry);
		req_set_state(rq, REQ_FOLLOWING);
		return 0;
	}
	if (req_submit(rq, data, len) == -1)
		return -1;
	req_set_state(rq, REQ_UPSTREAM);
	if (rq->op->method == EST_M_POST &&
	    pend_key(&rq->lpe, rq->rt, rq->xkey, sizeof(rq->xkey)) == 0)
		pend_insert(rs.leaders, &rq->lpe);
	return 0;
}

/* The held-answer key of a request: device, route, format, CSR key. */
static void
req_ikey(uint8_t *ikey, const struct req_in *in, unsigned resp_cf,
    EVP_PKEY *key)
{
	const struct pki_peer *id = in->dev.id;

	xch_key_pub(ikey, id != NULL ? id->fp : NULL, id != NULL ?
	    sizeof(id->fp) : 0, in->rt->op->name, in->rt->label, resp_cf,
	    key);
}

/*
 * Admission, then the request's record; NULL when refused or out of
 * memory, the refusal then answered piggybacked.
 */
static struct est_req *
req_admitted(struct req_ctx *c, uint64_t t0)
{
	struct est_req *rq;

	if (req_admit(c->in, t0, &c->a) == 0 && (rq = req_new(c, t0)) != NULL)
		return rq;
	if (c->a.code == 0)
		req_busy(&c->a, "nomem", "out of memory", NULL);
	req_answer_now(c);
	return NULL;
}

/* Admit, record, start and deliver; the body (POST) is data/len. */
static void
req_launch(struct req_ctx *c, uint64_t t0, const uint8_t *ikey,
    const uint8_t *xkey, EVP_PKEY **key, const char *subject)
{
	struct est_req *rq;

	if ((rq = req_admitted(c, t0)) == NULL)
		return;
	memcpy(rq->ikey, ikey, sizeof(rq->ikey));
	if (xkey != NULL)
		memcpy(rq->xkey, xkey, sizeof(rq->xkey));
	if (key != NULL) {
		rq->csr_key = *key;
		*key = NULL;
		snprintf(rq->csr_subject, sizeof(rq->csr_subject), "%s",
		    subject);
	}
	if (req_start(rq, c->data, c->len) == -1 ||
	    req_deliver(rq, c->in, req_hold_ms()) == -1)
		req_reply_now(rq, c->in);
}

/* A GET op: the cache, a bundle held for the device, else upstream. */
static void
req_get(struct req_ctx *c, uint64_t t0)
{
	const struct req_in	*in = c->in;
	struct xch_answer	 from;
	uint8_t			 ikey[XCH_KEY_LEN];

	if (in->rt->cache != NULL &&
	    rs.hk.cache_answer(in->rt, in->pdu, c->resp_cf, &c->a) == 0) {
		metrics_inc(METRICS_C_CACHE_HITS);
		req_answer_now(c);
		return;
	}
	req_ikey(ikey, in, c->resp_cf, NULL);
	/* a CA bundle held for the device: public, not audited */
	if (req_memory(NULL, ikey, &c->a, &from) == 0) {
		req_answer_now(c);
		return;
	}
	metrics_inc(METRICS_C_CACHE_MISSES);
	req_launch(c, t0, ikey, NULL, NULL, NULL);
}

/*
 * A POST while the registrar is not loaded: every check in the handler,
 * so that a refusal goes piggybacked; then memory, admission, start.
 */
static void
req_post_now(struct req_ctx *c, uint64_t t0)
{
	const struct req_in	*in = c->in;
	const struct pki_peer	*id = in->dev.id;
	struct xch_answer	 from;
	uint8_t			 xkey[XCH_KEY_LEN], ikey[XCH_KEY_LEN];
	EVP_PKEY		*key = NULL;
	char			 subject[160];

	if (req_csr(in->rt, &in->dev, rs.hk.ssl(in->dev.sess), c->data,
	    c->len, &key, subject, sizeof(subject), &c->a) == -1) {
		req_answer_now(c);
		return;
	}
	xch_key(xkey, id != NULL ? id->fp : NULL, id != NULL ?
	    sizeof(id->fp) : 0, c->op->name, in->rt->label, c->resp_cf,
	    c->data, c->len);
	req_ikey(ikey, in, c->resp_cf, key);
	if (req_memory(xkey, ikey, &c->a, &from) == 0) {
		req_answer_memory(c, &from);
		EVP_PKEY_free(key);
		return;
	}
	req_launch(c, t0, ikey, xkey, &key, subject);
	EVP_PKEY_free(key);
}

/*
 * A POST under load (RFC 7252 5.2.2): admitted, then the empty ACK at
 * once and the CSR checks on the next loop pass, after libcoap sent it;
 * a refusal found then goes in the separate response.
 */
static void
req_post_later(struct req_ctx *c, uint64_t t0)
{
	struct est_req *rq;

	if ((rq = req_admitted(c, t0)) == NULL)
		return;
	if (c->body != NULL) {
		rq->body = c->body;
		c->body = NULL;
	} else if ((rq->body = malloc(c->len > 0 ? c->len : 1)) != NULL &&
	    c->len > 0)
		memcpy(rq->body, c->data, c->len);	/* data NULL when empty */
	if (rq->body == NULL) {
		req_busy(&rq->ans, "nomem", "out of memory", NULL);
		req_reply_now(rq, c->in);
		return;
	}
	req_set_state(rq, REQ_CHECKING);
	TAILQ_INSERT_TAIL(&rs.checking, rq, centry);
	if (req_deliver(rq, c->in, 0) == -1) {
		req_reply_now(rq, c->in);
		return;
	}
	event_active(rs.check_ev, EV_TIMEOUT, 0);
}

/* The deferred CSR step of one CHECKING request. */
static void
req_check(struct est_req *rq)
{
	struct xch_answer	 from;
	const struct pki_peer	*id = rq->dev.id;

	/* every way out leaves CHECKING, and so the queue */
	if (req_csr(rq->rt, &rq->dev, rs.hk.ssl(rq->dev.sess), rq->body,
	    rq->len, &rq->csr_key, rq->csr_subject, sizeof(rq->csr_subject),
	    &rq->ans) == -1) {
		rq->audited = 1;	/* req_csr did, as when piggybacked */
		req_finish(rq);
		return;
	}
	xch_key(rq->xkey, id->fp, sizeof(id->fp), rq->op->name,
	    rq->rt->label, rq->resp_cf, rq->body, rq->len);
	xch_key_pub(rq->ikey, id->fp, sizeof(id->fp), rq->op->name,
	    rq->rt->label, rq->resp_cf, rq->csr_key);
	if (req_memory(rq->xkey, rq->ikey, &rq->ans, &from) == 0) {
		rq->orig_req = from.origin_req;
		rq->orig_ms = from.origin_ms;
		rq->repeat_why = rq->ans.reason;
		memcpy(rq->orig_serial, from.origin_serial,
		    sizeof(rq->orig_serial));
		req_finish(rq);
		return;
	}
	if (req_start(rq, rq->body, rq->len) == -1) {
		req_finish(rq);
		return;
	}
	free(rq->body);
	rq->body = NULL;
}

/* The loop pass after the handlers: CSR checks of CHECKING requests. */
static void
req_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct est_req	*rq;
	unsigned	 n = 0;

	(void)fd;
	(void)what;
	(void)arg;
	while ((rq = TAILQ_FIRST(&rs.checking)) != NULL && n++ < CHECK_BATCH)
		req_check(rq);
	if (!TAILQ_EMPTY(&rs.checking))
		event_active(rs.check_ev, EV_TIMEOUT, 0);
}

/*
 * The first steps of every request: drain, options (RFC 9148 4), the
 * reserved SZX 7 (RFC 7959 2.2; libcoap ignores it silently), the route
 * policy; then the body and the method's path. 0 when the request went
 * on, -1 when c->a is the answer.
 */
static int
req_checks(struct req_ctx *c)
{
	const struct req_in	*in = c->in;
	struct est_check_in	 ci;
	struct copt_blocks	 bl;
	const char		*why = NULL;
	unsigned		 code;

	if (rs.draining) {
		/* draining: leaving; the balancer moves the device on */
		req_busy(&c->a, "draining", "registrar is shutting down, "
		    "retry later", "draining");
		return -1;
	}
	copt_check_in(in->pdu, &ci, &bl);
	if (ci.has_cf)
		c->req_cf = (int)ci.cf;
	c->has_blk1 = bl.has_blk1;
	c->blk1 = bl.blk1;
	coap_get_data(in->pdu, &c->len, &c->data);
	if ((code = estmap_check(c->op, &ci, &c->resp_cf, &why)) != 0) {
		answer_error(&c->a, code, "bad-request", why);
		return -1;
	}
	if ((c->has_blk1 && (c->blk1 & 7) == 7) ||
	    (bl.has_blk2 && (bl.blk2 & 7) == 7)) {
		answer_error(&c->a, EST_CODE(4, 0), "bad-block",
		    "block size exponent 7 is reserved");
		return -1;
	}
	return rs.hk.authorize(in->dev.sess, in->rt, &c->a);
}

/* See est_req.h. */
void
req_begin(const struct req_in *in)
{
	struct req_ctx	c;
	uint64_t	t0 = mono_ms();
	uint8_t		buf[4];
	int		r;

	memset(&c, 0, sizeof(c));
	c.in = in;
	c.op = in->rt->op;
	c.req_cf = -1;
	c.t0 = t0;
	answer_clear(&c.a);
	if (req_checks(&c) == -1)
		req_answer_now(&c);
	else if (c.op->method != EST_M_POST)
		req_get(&c, t0);
	else if ((r = req_body(&c)) == -1) {
		/* RFC 7959 2.9.3: Size1 tells the client our limit */
		if (c.too_large)
			coap_add_option(in->resp, COAP_OPTION_SIZE1,
			    coap_encode_var_safe(buf, sizeof(buf),
			    rs.cf->max_request_body), buf);
		req_answer_now(&c);
	} else if (r == 1 && req_hold_ms() == 0)
		req_post_later(&c, t0);
	else if (r == 1)
		req_post_now(&c, t0);
	answer_clear(&c.a);
	free(c.body);
}

/*
 * A queued request that can no longer be answered before its deadline
 * gets 5.03 + Max-Age now (with its followers) instead of a 5.04 later.
 */
static int
req_backlog_visit(struct backlog_ent *e, uint64_t wait, void *arg)
{
	struct est_req	*rq = e->owner;
	uint64_t	 now = *(const uint64_t *)arg, end;

	if (rq == NULL || rq->state != REQ_UPSTREAM)
		return 0;	/* a cache refresh, or already answered */
	end = rq->t0 + req_budget_ms(rq->rt->cfroute);
	if (now + wait <= end)
		return 0;
	upstream_cancel(rq->job);
	rq->job = NULL;
	backlog_leave(&rs.pool, e, 0, now);
	log_info("req=%llu peer=%s op=%s refused: %u queued for the upstream, "
	    "about %llu ms to go", (unsigned long long)rq->id, rq->dev.peer,
	    rq->op->name, rs.pool.nqueued, (unsigned long long)wait);
	answer_error(&rq->ans, EST_CODE(5, 3), "backlog",
	    "upstream busy, retry after Max-Age");
	rq->ans.max_age = req_backlog_max_age(wait);
	metrics_limit("upstream_backlog");
	req_end(rq);
	return 1;
}

/* See est_req.h. */
void
req_tick(uint64_t now)
{
	if (rs.cf->backlog_shed)
		backlog_scan(&rs.pool, now, req_backlog_visit, &now);
	req_pool_gauges();
	blk_expire(rs.blk, now);
	metrics_gauge_set(METRICS_G_BLOCK1_BYTES, (int64_t)blk_bytes(rs.blk));
	if (rs.xch != NULL)
		xch_expire(rs.xch, now);
	xch_expire(rs.held, now);
	dlv_tick(now);
}

/* See est_req.h. */
void
req_drain(void)
{
	rs.draining = 1;
}

/*
 * See est_req.h. Each request still waiting gets 5.03 + Max-Age now,
 * its followers with it; what can no longer be sent (the device left) is
 * ended as req_finish() does for every answer.
 */
void
req_drain_cutoff(void)
{
	struct est_req	*rq, **cut;
	size_t		 n = 0, i;

	/* followers end with their leaders: collect the others first */
	if ((cut = calloc(rs.npending + 1, sizeof(*cut))) == NULL)
		fatalx("%s: out of memory", __func__);
	TAILQ_FOREACH(rq, &rs.reqs, entry)
		if ((rq->state == REQ_UPSTREAM || rq->state == REQ_CHECKING) &&
		    n < rs.npending)
			cut[n++] = rq;
	for (i = 0; i < n; i++) {
		rq = cut[i];
		log_warnx("req=%llu peer=%s op=%s cut off by the drain timeout",
		    (unsigned long long)rq->id, rq->dev.peer, rq->op->name);
		answer_clear(&rq->ans);
		req_busy(&rq->ans, "drain-timeout", "registrar is shutting "
		    "down, retry later", NULL);
		req_end(rq);
	}
	free(cut);
}

/* See est_req.h. */
void
req_session_gone(const coap_session_t *s)
{
	if (rs.blk != NULL)
		blk_drop_owner(rs.blk, s);
}

/* See est_req.h. */
unsigned
req_pending(void)
{
	return rs.npending;
}

/* See est_req.h. */
struct backlog *
req_pool(void)
{
	return &rs.pool;
}

/* The finished-exchange table for cf's bounds, NULL when turned off. */
static struct xch_table *
req_xch_new(const struct config *cf)
{
	if (cf->exchange_entries == 0 || cf->exchange_bytes == 0)
		return NULL;
	return xch_table_new(cf->exchange_entries, cf->exchange_bytes,
	    EXCHANGE_LIFETIME_MS);
}

/* The Block1 table's limits and per-device, per-source quotas from cf. */
static void
req_blk_limits(const struct config *cf)
{
	const struct blk_quota dq = { cf->block1_device_bytes,
	    cf->block1_device_uploads }, sq = { cf->block1_source_bytes,
	    cf->block1_source_uploads };

	blk_table_set_limits(rs.blk, cf->max_request_body, cf->block1_budget,
	    cf->max_pending * 4);
	blk_table_set_quotas(rs.blk, &dq, &sq);
	blk_table_set_expiry(rs.blk, cf->block1_lifetime_s * 1000ULL);
}

/* The mapping policy and deliver.c's bounds from cf. */
static void
req_policy(const struct config *cf)
{
	rs.pol.retry_max_age = (int)cf->retry_max_age_s;
	rs.pol.att_204_empty = strcmp(cf->att_on_204, "empty") == 0;
	rs.pol.max_body = cf->max_response_body;
	/* a retransmission comes within EXCHANGE_LIFETIME (RFC 7252 4.8.2) */
	dlv_configure(cf->max_pending, EXCHANGE_LIFETIME_MS);
}

/* See est_req.h. */
void
req_configure(struct config *cf)
{
	req_blk_limits(cf);
	if (cf->exchange_entries != rs.cf->exchange_entries ||
	    cf->exchange_bytes != rs.cf->exchange_bytes) {
		/* new bounds: start over; only repeats lose their shortcut */
		xch_table_free(rs.xch);
		rs.xch = req_xch_new(cf);
	}
	req_policy(cf);
	backlog_set_cap(&rs.pool, cf->routes[0].up.max_connections, mono_ms());
	gen_ref(cf);
	gen_unref(rs.cf);
	rs.cf = cf;
}

/* See est_req.h. */
int
req_init(struct event_base *base, coap_context_t *ctx, struct upstream *up,
    struct config *cf, const struct req_hooks *hk)
{
	memset(&rs, 0, sizeof(rs));
	rs.base = base;
	rs.cf = gen_ref(cf);
	rs.up = up;
	rs.hk = *hk;
	TAILQ_INIT(&rs.reqs);
	TAILQ_INIT(&rs.checking);
	backlog_init(&rs.pool, cf->routes[0].up.max_connections);
	rs.xch = req_xch_new(cf);
	if ((rs.held = xch_table_new(HELD_ENTRIES, HELD_BYTES,
	    EXCHANGE_LIFETIME_MS)) == NULL ||
	    (rs.leaders = pend_table_new()) == NULL ||
	    (rs.devs = pend_table_new()) == NULL ||
	    (rs.blk = blk_table_new(cf->max_request_body, cf->block1_budget,
	    cf->max_pending * 4, cf->block1_lifetime_s * 1000ULL)) == NULL ||
	    (rs.check_ev = event_new(base, -1, 0, req_check_cb, NULL)) ==
	    NULL) {
		log_warnx("out of memory");
		return -1;
	}
	/* after every datagram waiting: their ACKs first (estcoapd.h) */
	(void)event_priority_set(rs.check_ev, EVPRIO_CHECKS);
	req_blk_limits(cf);
	dlv_init(base, ctx, &(const struct dlv_hooks){
	    .expired = req_dlv_expired, .gone = req_dlv_gone });
	req_policy(cf);
	return 0;
}

/*
 * See est_req.h. Requests first, then deliver.c: our session references
 * go before the context, or libcoap's endpoints assert.
 */
void
req_shutdown(void)
{
	struct est_req *rq;

	while ((rq = TAILQ_FIRST(&rs.reqs)) != NULL)
		req_cancel(rq, "cancelled-shutdown", "shutting down");
	dlv_shutdown();
	if (rs.check_ev != NULL)
		event_free(rs.check_ev);
	blk_table_free(rs.blk);
	xch_table_free(rs.xch);
	xch_table_free(rs.held);
	pend_table_free(rs.leaders);
	pend_table_free(rs.devs);
	gen_unref(rs.cf);
	memset(&rs, 0, sizeof(rs));
}
