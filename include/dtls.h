/*
 * The DTLS side of the front: one record per DTLS session (who the
 * device is, what it has pending), admission of new handshakes
 * (dtls.max_sessions), their timeout (dtls.handshake_timeout_s), our
 * ClientHello callback on libcoap's SSL_CTX, the reason a handshake
 * failed, and the per-session check of a route's device policy.
 *
 * The front hands this module the configuration in use and libcoap's
 * session events; it never calls the front.
 */
#ifndef ESTCOAPD_DTLS_H
#define ESTCOAPD_DTLS_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>
#include <openssl/ssl.h>

#include "deliver.h"
#include "est_map.h"
#include "pki.h"

struct authz;
struct config;
struct est_answer;
struct event_base;
struct route;

/* Per DTLS session: who the device is and what it has pending. */
struct dtls_sess {
	uint32_t		 magic;
	LIST_ENTRY(dtls_sess)	 entry;
	coap_session_t		*session;
	struct pki_peer		 id;
	char			 peer[64];	/* [addr]:port */
	unsigned		 pending;
	int			 connected;	/* handshake done */
	uint64_t		 t0;		/* mono_ms: ClientHello passed */
	int			 heard;		/* its peer answered our flight */
	/* in the queue of handshakes libcoap counts, oldest first */
	TAILQ_ENTRY(dtls_sess)	 hentry;
	int			 half;
	/* and in its address's queue (dtls.handshakes_per_address) */
	struct dtls_addr	*addr;		/* NULL: not counted there */
	TAILQ_ENTRY(dtls_sess)	 aentry;
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

/* Once, before libcoap runs; cf is the configuration in use. */
void	dtls_init(struct event_base *, const struct config *cf);

/*
 * Give libcoap cf's DTLS certificate and key (libcoap keeps pointers into
 * cf until the next call) and its session limits. 0, or -1 logged.
 */
int	dtls_apply(coap_context_t *, const struct config *cf);

/*
 * Reload: cf is in use from now on. Other trust anchors or CRLs empty
 * the DTLS session cache.
 */
void	dtls_configure(const struct config *cf);

/* SIGTERM: no new handshakes. */
void	dtls_drain(void);

/*
 * Once a second: drop handshakes past dtls.handshake_timeout_s, and near
 * dtls.max_handshakes those past dtls.handshake_evict_s, oldest first.
 */
void	dtls_tick(uint64_t now);

/* libcoap's session events, from the front's event handler. */
void	dtls_event(coap_session_t *, coap_event_t);

/* Forget every record (before the context goes). */
void	dtls_shutdown(void);

/* Sessions with a record, and those of them still in their handshake. */
void	dtls_counts(unsigned *sessions, unsigned *handshakes);

/* The record of a DTLS session (made on first use); NULL for plain CoAP. */
struct dtls_sess	*dtls_sess_get(coap_session_t *);

/* Drop a reference taken with refs++; the last one frees a gone record. */
void	dtls_sess_put(struct dtls_sess *);

/* The OpenSSL object of a DTLS session, or NULL. */
SSL	*dtls_ssl(coap_session_t *);

/* "[addr]:port" (IPv6) or "addr:port" of a session's peer; "-" if none. */
void	dtls_peer_str(coap_session_t *, char *buf, size_t bufsz);

/*
 * The request line of a request answered at once, without a request
 * record or an upstream call: fs's device (NULL: plain CoAP, peer then
 * names the source), the method of req, req_len body bytes, t0 its
 * arrival (mono_ms).
 */
void	dtls_req_line(const struct dtls_sess *fs, const char *peer,
	    const char *op, const char *label, const coap_pdu_t *req,
	    size_t req_len, const struct est_answer *a, uint64_t t0);

/* The device policy of a route, in the configuration in use. */
const struct authz	*dtls_authz(const struct route *);

/*
 * May the device of session s (record fs, NULL: none) use route rt: its
 * chain verifies against the route's anchors, CRLs and expiry rule (once
 * per session, route and generation), no CRL of any route lists it, and
 * the route's rules allow the operation. 0, or -1 with a set to 4.03,
 * logged, audited and counted.
 */
int	dtls_authorize(struct dtls_sess *fs, coap_session_t *s,
	    const struct route *rt, struct est_answer *a);

/* Refuse a request by the route's policy: a, log, audit and counter. */
void	dtls_deny(const struct dtls_sess *fs, const struct route *rt,
	    unsigned code, const char *reason, const char *why,
	    struct est_answer *a);

#endif
