/*
 * How the answer of an upstream-bound request reaches the device (RFC
 * 7252 5.2): the request is held unacknowledged for up to
 * coap.ack_hold_ms so that a quick answer goes piggybacked in our ACK;
 * past that an empty ACK, and the answer later in its own CON (or NON,
 * for a NON request). A retransmitted request, found by (session, token)
 * in a hash, gets the empty ACK or the piggybacked answer again, never a
 * second upstream call (RFC 7252 4.5). A request answered piggybacked
 * lingers, with its answer, until its exchange is over or the session
 * goes.
 *
 * The front owns the request record; a struct dlv is its CoAP side,
 * owned here once the answer is sent. The front is called back through
 * the hooks it gave dlv_init(), never by name.
 */
#ifndef ESTCOAPD_DELIVER_H
#define ESTCOAPD_DELIVER_H

#include <sys/queue.h>

#include <stdint.h>

#include <coap3/coap.h>

struct event_base;
struct est_answer;
struct dlv;

/* The requests of one DTLS session; embedded in the front's record. */
struct dlv_sess {
	LIST_HEAD(, dlv)	 all;
	unsigned		 active;	/* not yet answered */
};

/* Calls into the front; owner is what dlv_begin() was given. */
struct dlv_hooks {
	/* the request's deadline passed without an answer */
	void	(*expired)(void *owner);
	/* the session went; the dlv is detached (dlv_answer says so) */
	void	(*gone)(void *owner);
};

/* What dlv_answer() did. */
enum dlv_sent {
	DLV_SENT_ACK,		/* piggybacked in the ACK */
	DLV_SENT_SEPARATE,	/* in its own CON or NON */
	DLV_SENT_NONE,		/* the session is gone: nothing sent */
};

/* Once, before any other call; base runs the hold timers. */
void	dlv_init(struct event_base *base, coap_context_t *ctx,
	    const struct dlv_hooks *);

/* Free every dlv (releasing their sessions); the hooks are not called. */
void	dlv_shutdown(void);

/*
 * Bounds: answered requests kept for retransmissions (at most linger_max,
 * each at most linger_ms).
 */
void	dlv_configure(size_t linger_max, uint64_t linger_ms);

/*
 * The handler's first step: if req repeats a request we know (same
 * session and token), answer it in resp as its state says and return 1;
 * else 0 (a new request; an old answered one with this token is
 * forgotten).
 */
int	dlv_repeat(coap_session_t *, const coap_pdu_t *req, coap_pdu_t *resp);

/*
 * A new upstream-bound request, from the handler: keeps a copy of req's
 * options (for the answer and its blocks), takes a session reference,
 * sets resp so that libcoap sends the empty ACK now (hold_ms 0) or
 * nothing (we hold it, or req is NON), and arms the hold and the
 * deadline (deadline_ms from now). NULL when out of memory: resp is then
 * untouched.
 */
struct dlv *dlv_begin(coap_session_t *, struct dlv_sess *, coap_resource_t *,
	    const coap_pdu_t *req, const coap_string_t *query, int has_block1,
	    uint32_t block1, int b2_szx, uint32_t hold_ms, uint64_t deadline_ms,
	    coap_pdu_t *resp, void *owner);

/*
 * Whether an answer of len bytes would go separate (the hold is over) in
 * blocks to a CON request without Block1: a libcoap 4.3.4 or older
 * client cannot ask for its block 1.
 */
int	dlv_blocked(const struct dlv *, size_t len);

/* 1 while an answer can still be sent: the session is up. */
int	dlv_alive(const struct dlv *);

/*
 * Send the final answer (copied where kept). The dlv belongs to this
 * module from now on: the caller forgets it.
 */
enum dlv_sent dlv_answer(struct dlv *, const struct est_answer *);

/* The request ends unanswered (cancelled): forget it. */
void	dlv_drop(struct dlv *);

/*
 * The session's DTLS link closed: answered requests are forgotten, the
 * others detached and their owners told (hooks.gone). Call it outside
 * libcoap's callbacks.
 */
void	dlv_sess_gone(struct dlv_sess *);

/* Drop what lingers past its time; once a second. */
void	dlv_tick(uint64_t now_ms);

/* Requests held unacknowledged now. */
unsigned dlv_held(void);

#endif
