/*
 * The CoAP side of an upstream-bound request (deliver.h): hold, ACK,
 * piggybacked or separate answer, retransmissions, linger.
 *
 * States: HELD (no ACK yet; the hold timer runs), ACKED (empty ACK sent,
 * or a NON request; the deadline timer runs), DONE (answer sent; kept in
 * the linger queue for retransmissions, without a session reference),
 * GONE (the session went before the answer; only the front holds it).
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <openssl/crypto.h>

#include "deliver.h"
#include "answer.h"
#include "log.h"
#include "pending.h"
#include "reply.h"
#include "util.h"

enum dlv_state {
	DLV_HELD,
	DLV_ACKED,
	DLV_DONE,
	DLV_GONE,
};

struct dlv {
	struct pend_ent		 pe;		/* (session, token) */
	coap_session_t		*session;	/* referenced while active */
	struct dlv_sess		*ds;		/* NULL once GONE */
	LIST_ENTRY(dlv)		 sentry;	/* in ds->all */
	TAILQ_ENTRY(dlv)	 lentry;	/* in the linger queue */
	enum dlv_state		 state;
	coap_mid_t		 mid;		/* of the request */
	int			 con;		/* the request is CON */
	int			 piggy;		/* answered in our ACK */
	struct event		*tmr;		/* hold, then deadline */
	uint64_t		 deadline;	/* mono_ms */
	uint64_t		 done_ms;	/* mono_ms when answered */
	coap_pdu_t		*kreq;		/* the request's options */
	coap_string_t		*query;
	struct reply_to		 to;
	struct est_answer	 ans;		/* piggy: sent again on repeat */
	void			*owner;
};

static struct {
	struct event_base	*base;
	coap_context_t		*ctx;
	struct dlv_hooks	 hooks;
	struct pend_table	*byok;		/* (session, token) -> dlv */
	TAILQ_HEAD(, dlv)	 linger;	/* DONE, oldest first */
	size_t			 nlinger;
	size_t			 linger_max;
	uint64_t		 linger_ms;
	unsigned		 nheld;
	struct event		*kick;		/* libcoap's timers, later */
} dl;

/* libcoap computes its next timer in coap_io_process(), not on send. */
static void
dlv_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	coap_io_process(dl.ctx, COAP_IO_NO_WAIT);
}

/* After sending from outside libcoap: let it arm its timers soon. */
static void
dlv_kick(void)
{
	if (dl.kick != NULL && !event_pending(dl.kick, EV_TIMEOUT, NULL))
		event_active(dl.kick, EV_TIMEOUT, 0);
}

/* See deliver.h. */
void
dlv_init(struct event_base *base, coap_context_t *ctx,
    const struct dlv_hooks *hooks)
{
	memset(&dl, 0, sizeof(dl));
	dl.base = base;
	dl.ctx = ctx;
	dl.hooks = *hooks;
	TAILQ_INIT(&dl.linger);
	dl.linger_max = 1024;
	dl.linger_ms = 247000;
	if ((dl.byok = pend_table_new()) == NULL)
		fatalx("%s: out of memory", __func__);
	if ((dl.kick = event_new(base, -1, 0, dlv_kick_cb, NULL)) == NULL)
		fatalx("%s: cannot make an event", __func__);
}

/* See deliver.h. */
void
dlv_configure(size_t linger_max, uint64_t linger_ms)
{
	dl.linger_max = linger_max;
	dl.linger_ms = linger_ms;
}

/* Free a dlv that is in no list and no table any more. */
static void
dlv_free(struct dlv *d)
{
	if (d->tmr != NULL)
		event_free(d->tmr);
	coap_delete_pdu(d->kreq);
	coap_delete_string(d->query);
	if (d->ans.payload != NULL)
		OPENSSL_cleanse(d->ans.payload, d->ans.len);
	answer_clear(&d->ans);
	free(d);
}

/* Take d out of its session's list, the hash and the linger queue. */
static void
dlv_unlink(struct dlv *d)
{
	pend_remove(dl.byok, &d->pe);
	if (d->ds != NULL) {
		LIST_REMOVE(d, sentry);
		if (d->state == DLV_HELD || d->state == DLV_ACKED)
			d->ds->active--;
		d->ds = NULL;
	}
	if (d->state == DLV_DONE) {
		TAILQ_REMOVE(&dl.linger, d, lentry);
		dl.nlinger--;
	}
	if (d->state == DLV_HELD)
		dl.nheld--;
	if ((d->state == DLV_HELD || d->state == DLV_ACKED) &&
	    d->session != NULL)
		coap_session_release(d->session);
	d->session = NULL;
}

/* Forget d entirely. */
static void
dlv_forget(struct dlv *d)
{
	dlv_unlink(d);
	dlv_free(d);
}

/* (Re)arm d's timer to fire in ms. */
static void
dlv_arm(struct dlv *d, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (event_add(d->tmr, &tv) == -1)
		log_warnx("deliver: cannot arm a timer");
}

/* The hold ended without an answer: acknowledge now (RFC 7252 5.2.2). */
static void
dlv_hold_over(struct dlv *d)
{
	uint64_t now = mono_ms();

	if (reply_empty_ack(d->session, d->mid) == COAP_INVALID_MID)
		log_info("deliver: empty ACK mid=%d not sent", (int)d->mid);
	d->state = DLV_ACKED;
	dl.nheld--;
	dlv_kick();
	dlv_arm(d, d->deadline > now ? d->deadline - now : 0);
}

/* Hold or deadline timer. */
static void
dlv_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlv *d = arg;

	(void)fd;
	(void)what;
	if (d->state == DLV_HELD)
		dlv_hold_over(d);
	else if (d->state == DLV_ACKED)
		dl.hooks.expired(d->owner);
}

/* See deliver.h. */
int
dlv_repeat(coap_session_t *s, const coap_pdu_t *req, coap_pdu_t *resp)
{
	coap_bin_const_t	 tok = coap_pdu_get_token(req);
	struct pend_ent		 probe, *e;
	struct dlv		*d;

	if (pend_key(&probe, s, tok.s, tok.length) == -1 ||
	    (e = pend_find(dl.byok, &probe, NULL)) == NULL)
		return 0;
	d = (struct dlv *)((char *)e - offsetof(struct dlv, pe));
	if (d->state == DLV_DONE && d->mid != coap_pdu_get_mid(req)) {
		/* the token is used again for a new request */
		dlv_forget(d);
		return 0;
	}
	log_debug("deliver: repeated request mid=%d (%s)",
	    (int)coap_pdu_get_mid(req), d->state == DLV_HELD ? "held" :
	    d->state == DLV_ACKED ? "acknowledged" : "answered");
	if (d->state == DLV_HELD || !d->con)
		reply_hold(resp);	/* still ours to answer; NON: silent */
	else if (d->state == DLV_DONE && d->piggy)
		reply_fill(s, &d->to, resp, &d->ans);
	/* else code 0: libcoap acknowledges it (empty ACK) */
	return 1;
}

/* A dlv with a copy of req's options and query; NULL out of memory. */
static struct dlv *
dlv_new(coap_session_t *s, coap_resource_t *r, const coap_pdu_t *req,
    const coap_string_t *query)
{
	coap_bin_const_t	 tok = coap_pdu_get_token(req);
	struct dlv		*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	answer_clear(&d->ans);
	if ((d->tmr = event_new(dl.base, -1, 0, dlv_timer_cb, d)) == NULL ||
	    (d->kreq = coap_pdu_duplicate(req, s, tok.length, tok.s, NULL)) ==
	    NULL ||
	    (query != NULL && (d->query = coap_new_string(query->length)) ==
	    NULL)) {
		dlv_free(d);
		return NULL;
	}
	if (d->query != NULL)
		memcpy(d->query->s, query->s, query->length);
	d->to.res = r;
	d->to.req = d->kreq;
	d->to.query = d->query;
	d->mid = coap_pdu_get_mid(req);
	d->con = coap_pdu_get_type(req) == COAP_MESSAGE_CON;
	/* a token too long for the hash: no retransmission detection */
	if (pend_key(&d->pe, s, tok.s, tok.length) == 0)
		pend_insert(dl.byok, &d->pe);
	return d;
}

/* See deliver.h. */
struct dlv *
dlv_begin(coap_session_t *s, struct dlv_sess *ds, coap_resource_t *r,
    const coap_pdu_t *req, const coap_string_t *query, int has_block1,
    uint32_t block1, int b2_szx, uint32_t hold_ms, uint64_t deadline_ms,
    coap_pdu_t *resp, void *owner)
{
	struct dlv *d;

	if ((d = dlv_new(s, r, req, query)) == NULL)
		return NULL;
	d->to.has_block1 = has_block1;
	d->to.block1 = block1;
	d->to.b2_szx = b2_szx;
	d->owner = owner;
	d->session = coap_session_reference(s);
	d->ds = ds;
	LIST_INSERT_HEAD(&ds->all, d, sentry);
	ds->active++;
	d->deadline = mono_ms() + deadline_ms;
	if (d->con && hold_ms > 0 && hold_ms < deadline_ms) {
		d->state = DLV_HELD;
		dl.nheld++;
		reply_hold(resp);
		dlv_arm(d, hold_ms);
		return d;
	}
	d->state = DLV_ACKED;
	if (!d->con)
		reply_hold(resp);	/* RFC 7252 5.2.3: no ACK for a NON */
	/* else code 0: libcoap sends the empty ACK as the handler returns */
	dlv_arm(d, deadline_ms);
	return d;
}

/* See deliver.h. */
int
dlv_blocked(const struct dlv *d, size_t len)
{
	return d->state == DLV_ACKED && d->con && !d->to.has_block1 &&
	    d->session != NULL && !reply_one_pdu(d->session, &d->to, len);
}

/* See deliver.h. */
int
dlv_alive(const struct dlv *d)
{
	return (d->state == DLV_HELD || d->state == DLV_ACKED) &&
	    d->session != NULL && coap_session_get_state(d->session) ==
	    COAP_SESSION_STATE_ESTABLISHED;
}

/* Keep an answered d for retransmissions, the oldest going first. */
static void
dlv_linger(struct dlv *d, const struct est_answer *a)
{
	event_del(d->tmr);
	if (d->piggy && a->payload != NULL &&
	    (d->ans.payload = malloc(a->len > 0 ? a->len : 1)) != NULL) {
		memcpy(d->ans.payload, a->payload, a->len);
		d->ans.len = a->len;
	}
	d->ans.code = a->code;
	d->ans.cf = a->cf;
	d->ans.max_age = a->max_age;
	d->ans.etag = a->etag;
	memcpy(d->ans.diag, a->diag, sizeof(d->ans.diag));
	d->done_ms = mono_ms();
	TAILQ_INSERT_TAIL(&dl.linger, d, lentry);
	dl.nlinger++;
	while (dl.nlinger > dl.linger_max)
		dlv_forget(TAILQ_FIRST(&dl.linger));
}

/* See deliver.h. */
enum dlv_sent
dlv_answer(struct dlv *d, const struct est_answer *a)
{
	coap_mid_t	mid;
	int		held = d->state == DLV_HELD;

	if (d->state == DLV_GONE || d->session == NULL ||
	    coap_session_get_state(d->session) !=
	    COAP_SESSION_STATE_ESTABLISHED) {
		dlv_forget(d);
		return DLV_SENT_NONE;
	}
	event_del(d->tmr);
	/* RFC 7252 5.2.1 piggybacked; 5.2.2 separate, CON; 5.2.3 NON */
	mid = reply_send(d->session, held ? COAP_MESSAGE_ACK : d->con ?
	    COAP_MESSAGE_CON : COAP_MESSAGE_NON, d->mid, &d->to, a);
	if (mid == COAP_INVALID_MID)
		log_info("deliver: answer to mid=%d not sent", (int)d->mid);
	d->piggy = held;
	/* the state before DONE decides what dlv_unlink undoes */
	if (held)
		dl.nheld--;
	d->ds->active--;
	coap_session_release(d->session);
	d->state = DLV_DONE;
	dlv_kick();
	dlv_linger(d, a);
	return held ? DLV_SENT_ACK : DLV_SENT_SEPARATE;
}

/* See deliver.h. */
void
dlv_drop(struct dlv *d)
{
	if (d != NULL)
		dlv_forget(d);
}

/* Detach an active d: its session went. */
static void
dlv_detach(struct dlv *d)
{
	event_del(d->tmr);
	dlv_unlink(d);
	d->state = DLV_GONE;
}

/* See deliver.h. */
void
dlv_sess_gone(struct dlv_sess *ds)
{
	LIST_HEAD(, dlv)	 gone = LIST_HEAD_INITIALIZER(gone);
	struct dlv		*d, *next;

	for (d = LIST_FIRST(&ds->all); d != NULL; d = next) {
		next = LIST_NEXT(d, sentry);
		if (d->state == DLV_DONE) {
			dlv_forget(d);
			continue;
		}
		dlv_detach(d);
		LIST_INSERT_HEAD(&gone, d, sentry);
	}
	/* the hooks may drop d: nothing of it is used after the call */
	while ((d = LIST_FIRST(&gone)) != NULL) {
		LIST_REMOVE(d, sentry);
		dl.hooks.gone(d->owner);
	}
}

/* See deliver.h. */
void
dlv_tick(uint64_t now_ms)
{
	struct dlv *d;

	while ((d = TAILQ_FIRST(&dl.linger)) != NULL &&
	    now_ms - d->done_ms >= dl.linger_ms)
		dlv_forget(d);
}

/* See deliver.h. */
void
dlv_shutdown(void)
{
	struct dlv *d;

	while ((d = TAILQ_FIRST(&dl.linger)) != NULL)
		dlv_forget(d);
	if (dl.kick != NULL)
		event_free(dl.kick);
	pend_table_free(dl.byok);
	memset(&dl, 0, sizeof(dl));
}

/* See deliver.h. */
unsigned
dlv_held(void)
{
	return dl.nheld;
}

