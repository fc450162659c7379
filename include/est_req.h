/*
 * One EST request, from its arrival to the request line it ends with:
 * the check pipeline, the memory of finished exchanges, admission,
 * coalescing of identical requests, the upstream exchange and the
 * answer's delivery (deliver.h). doc/design.md section 3 draws the states.
 *
 * The front (coap_front.c) hands every request of an EST resource to
 * req_begin() and otherwise only configures, ticks and drains this
 * module. The module calls down (upstream, deliver, cache, audit) and
 * reaches the front only through the hooks given to req_init().
 */
#ifndef ESTCOAPD_EST_REQ_H
#define ESTCOAPD_EST_REQ_H

#include <stdint.h>

#include <coap3/coap.h>
#include <openssl/ssl.h>

struct config;
struct dlv_sess;
struct est_answer;
struct event_base;
struct pki_peer;
struct route;
struct upstream;

/*
 * Where a request is (req_set_state() is the only writer):
 *   RECEIVED   checked piggybacked, in the handler
 *   CHECKING   acknowledged at once under load; its CSR checks wait for
 *              the next loop pass, after the ACK went out
 *   FOLLOWING  waits for the answer of an identical request (its leader)
 *   UPSTREAM   its exchange with the CA runs (or queues for a connection)
 *   ANSWERED   its answer is final and handed to deliver.c
 *   CLOSED     its request line, metrics and audit record are written
 */
enum req_state {
	REQ_RECEIVED,
	REQ_CHECKING,
	REQ_FOLLOWING,
	REQ_UPSTREAM,
	REQ_ANSWERED,
	REQ_CLOSED,
};

/* The state's name for logs and tests: "received", ... */
const char	*req_state_name(enum req_state);

/*
 * The device a request comes from: a view of the front's session record,
 * which the request keeps referenced (hooks.sess_ref) until it closes.
 */
struct req_dev {
	void			*sess;		/* opaque; NULL: no device */
	const struct pki_peer	*id;
	const char		*peer;		/* "addr:port" for the log */
	struct dlv_sess		*ds;		/* its requests' CoAP side */
	unsigned		*pending;	/* its requests now */
	int			*early_b2;	/* [EST_OP_COUNT], -1: none */
};

/* Calls into the front, given once to req_init(). */
struct req_hooks {
	void	(*sess_ref)(void *sess);
	void	(*sess_unref)(void *sess);
	/* the session's TLS object while it is up, else NULL */
	SSL	*(*ssl)(void *sess);
	/* the route's device policy: 0, or -1 with the answer set */
	int	(*authorize)(void *sess, const struct route *,
		    struct est_answer *);
	/* a GET op from the route's cache: 0 answered, -1 go upstream */
	int	(*cache_answer)(const struct route *, const coap_pdu_t *req,
		    unsigned resp_cf, struct est_answer *);
	/* a validated GET answer for the route's cache (der taken over) */
	void	(*cache_store)(const struct route *, uint8_t *der, size_t len);
	/* an upstream exchange finished (readiness) */
	void	(*upstream_seen)(void);
};

/* One request of an EST resource, as the CoAP handler got it. */
struct req_in {
	coap_resource_t		*res;
	coap_session_t		*session;
	const coap_pdu_t	*pdu;
	const coap_string_t	*query;
	coap_pdu_t		*resp;
	const struct route	*rt;
	struct req_dev		 dev;
};

int	req_init(struct event_base *, coap_context_t *, struct upstream *,
	    struct config *, const struct req_hooks *);
/* A reload: the new generation's limits and tables (cf referenced). */
void	req_configure(struct config *cf);
/*
 * The handler's step for a new request (a retransmission was recognised
 * before): answers in pdu's response, or keeps the request.
 */
void	req_begin(const struct req_in *);
/* Once a second: expiries, backlog shedding, gauges. */
void	req_tick(uint64_t now_ms);
/* SIGTERM: no new request is admitted. */
void	req_drain(void);
/* The drain timeout: every request still waiting gets 5.03 now. */
void	req_drain_cutoff(void);
/* Requests not yet closed. */
unsigned req_pending(void);
/* The mirror of curl's connection pool, shared with the cache. */
struct backlog *req_pool(void);
/* Publish the pool's gauges after a change to it. */
void	req_pool_gauges(void);
/* A session closes: its Block1 uploads in progress go. */
void	req_session_gone(const coap_session_t *);
/* Close every request (cancelled) and free the module. */
void	req_shutdown(void);

#endif
