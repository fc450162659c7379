/*
 * The DTLS side of the front (dtls.h): session records, handshake
 * admission and timeouts, the ClientHello callback, and the per-session
 * check of a route's device policy.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "answer.h"
#include "audit.h"
#include "authz.h"
#include "azmemo.h"
#include "config.h"
#include "dtls.h"
#include "dtls_resume.h"
#include "estcoapd.h"
#include "est_map.h"
#include "log.h"
#include "metrics.h"
#include "pki.h"
#include "reqline.h"
#include "route.h"
#include "util.h"

#define SESS_MAGIC	0x45535353u	/* "ESSS" */

/* TLS extension of RFC 7250 4.1; our OpenSSL headers may not name it. */
#define DTLS_EXT_CLIENT_CERT_TYPE	19
#define DTLS_CERT_TYPE_X509		0

/*
 * Route checks remembered per device certificate (azmemo.h): this many,
 * each for at most DTLS_MEMO_MS and never past the notAfter of a
 * certificate the device presented. The bound also limits how long a
 * check outlives a trust anchor's own expiry.
 */
#define DTLS_MEMO_SLOTS		4096
#define DTLS_MEMO_MS		300000

/*
 * Peers refused for room, remembered so that their next ClientHello may
 * make room (dtls_make_room): a table of this many keys (8 bytes each),
 * one slot per key, made at the first refusal. Under a flood of F new
 * peers per second a device's key outlives its 1 s retransmission wait
 * with a chance of about exp(-F / DTLS_BACK_SLOTS).
 */
#define DTLS_BACK_SLOTS		65536

/*
 * Half-open handshakes per peer address (its port aside), for
 * dtls.handshakes_per_address: a record per address that has one, in a
 * hash of this many buckets made at the first handshake.
 */
#define DTLS_ADDR_BUCKETS	4096

struct dtls_addr {
	uint64_t		 key;		/* dtls_addr_key */
	unsigned		 n;		/* half-open handshakes */
	TAILQ_HEAD(, dtls_sess)	 half;		/* oldest first */
	LIST_ENTRY(dtls_addr)	 bucket;
	LIST_ENTRY(dtls_addr)	 hentry;	/* in dt.heavy */
	int			 heavy;		/* n reached the share */
};
LIST_HEAD(dtls_addrs, dtls_addr);

/* A warning logged at most once per 10 s, with a count. */
struct dtls_warn {
	uint64_t		 last_ms;	/* mono_ms of the last one */
	unsigned		 n;		/* events since */
};

static struct dtls {
	struct event_base	*base;
	const struct config	*cf;		/* the generation in use */
	LIST_HEAD(, dtls_sess)	 sessions;
	unsigned		 nsessions;	/* with a record */
	unsigned		 nhandshakes;	/* records not yet connected */
	/* records whose session libcoap counts as in handshake */
	TAILQ_HEAD(, dtls_sess)	 half;
	unsigned		 nhalf;
	struct dtls_warn	 refused;	/* handshakes refused */
	struct dtls_warn	 evicted;	/* handshakes dropped for room */
	uint64_t		*back;		/* refused peers' keys, or NULL */
	struct dtls_addrs	*addrs;		/* DTLS_ADDR_BUCKETS, or NULL */
	struct dtls_addrs	 heavy;		/* at their share or over */
	struct azmemo		*memo;		/* route checks passed, NULL: off */
	int			 draining;	/* no new handshakes */
	/*
	 * The DTLS SSL_CTX libcoap made, learnt from the first handshake;
	 * from then on dtls_client_hello_cb replaces libcoap's ClientHello
	 * callback.
	 */
	SSL_CTX			*ctx;
} dt;

/* SSL ex_data: the record of the session whose handshake the SSL runs. */
static int	dtls_ssl_idx = -1;

static int	dtls_make_room(coap_session_t *, uint64_t);

/* See dtls.h. */
void
dtls_peer_str(coap_session_t *s, char *buf, size_t bufsz)
{
	const coap_address_t	*a = coap_session_get_addr_remote(s);
	int			 fam = a != NULL ? a->addr.sa.sa_family : -1;

	snprintf(buf, bufsz, "-");
	if ((fam == AF_INET || fam == AF_INET6) &&
	    coap_print_addr(a, (unsigned char *)buf, bufsz) == 0)
		snprintf(buf, bufsz, "-");
}

/* See dtls.h. */
SSL *
dtls_ssl(coap_session_t *s)
{
	coap_tls_library_t	 lib;
	void			*tls = coap_session_get_tls(s, &lib);

	return lib == COAP_TLS_LIBRARY_OPENSSL ? tls : NULL;
}

/* See dtls.h. */
const struct authz *
dtls_authz(const struct route *rt)
{
	return dt.cf->routes[rt->cfroute].auth;
}

/* See dtls.h. */
void
dtls_deny(const struct dtls_sess *fs, const struct route *rt,
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

/* ms, or less when x's notAfter comes sooner (0: x expired). */
static uint64_t
dtls_until_ms(const X509 *x, uint64_t ms)
{
	int days, secs;

	if (x == NULL)
		return ms;
	if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) ||
	    days < 0 || secs < 0)
		return 0;
	if (days == 0 && (uint64_t)secs * 1000 < ms)
		return (uint64_t)secs * 1000;
	return ms;
}

/*
 * How long a passed route check of ssl's device may be remembered: at
 * most DTLS_MEMO_MS, and not past the notAfter of the certificates it
 * presented (0 when one has expired: an expiry rule let it through).
 */
static uint64_t
dtls_memo_ms(SSL *ssl)
{
	STACK_OF(X509)	*chain = SSL_get_peer_cert_chain(ssl);
	uint64_t	 ms = dtls_until_ms(SSL_get0_peer_certificate(ssl),
			    DTLS_MEMO_MS);

	for (int i = 0; i < sk_X509_num(chain); i++)
		ms = dtls_until_ms(sk_X509_value(chain, i), ms);
	ERR_clear_error();
	return ms;
}

/*
 * The chain check of dtls_authorize(): the route's anchors, CRLs and
 * expiry rule, and no CRL of any route listing the device (refused on
 * every route). A passed check is remembered per certificate, route
 * policy and generation, so that a new session of the device skips it;
 * new CRLs come with a new generation. 1 when passed.
 */
static int
dtls_route_check(struct dtls_sess *fs, const struct authz *az, SSL *ssl)
{
	uint64_t now = mono_ms(), ms;

	if (fs->connected && azmemo_passed(dt.memo, fs->id.fp, az,
	    dt.cf->gen, now)) {
		log_debug("authz: peer=%s passed this route's check before",
		    fs->peer);
		return 1;
	}
	/* the handshake may have verified it against this very store */
	if ((!pki_chain_checked(dt.cf->pki, az, ssl) &&
	    authz_verify_device(az, ssl, fs->az_why, sizeof(fs->az_why)) !=
	    0) || pki_revoked(dt.cf->pki, ssl, fs->az_why, sizeof(fs->az_why))
	    != 0)
		return 0;
	if (fs->connected && (ms = dtls_memo_ms(ssl)) > 0)
		azmemo_put(dt.memo, fs->id.fp, az, dt.cf->gen, now + ms);
	return 1;
}

/*
 * See dtls.h. The handshake trusted the union of all routes' anchors;
 * this device must also verify against the route's own.
 */
int
dtls_authorize(struct dtls_sess *fs, coap_session_t *s,
    const struct route *rt, struct est_answer *a)
{
	const struct authz	*az = dtls_authz(rt);
	SSL			*ssl = dtls_ssl(s);
	char			 why[160];

	if (fs == NULL) {
		dtls_deny(fs, rt, EST_CODE(4, 3), "forbidden",
		    "no device identity", a);
		return -1;
	}
	/* the chain is checked once per session, route and generation */
	if (fs->az != az || fs->az_gen != dt.cf->gen) {
		fs->az = az;
		fs->az_gen = dt.cf->gen;
		fs->az_ok = dtls_route_check(fs, az, ssl);
	}
	if (!fs->az_ok)
		snprintf(why, sizeof(why), "%s", fs->az_why);
	else if (authz_rules_allow(az, ssl, rt->op->name, why, sizeof(why)) ==
	    0)
		return 0;
	dtls_deny(fs, rt, EST_CODE(4, 3), "forbidden", why, a);
	return -1;
}

/* Publish the session gauges. */
static void
dtls_sess_gauges(void)
{
	metrics_gauge_set(METRICS_G_SESSIONS, dt.nsessions);
	metrics_gauge_set(METRICS_G_HANDSHAKES, dt.nhandshakes);
}

/* See dtls.h. */
void
dtls_counts(unsigned *sessions, unsigned *handshakes)
{
	*sessions = dt.nsessions;
	*handshakes = dt.nhandshakes;
}

/* Read the device identity once the handshake is done. */
static void
dtls_sess_identify(struct dtls_sess *fs)
{
	if (fs->connected)
		return;
	if (pki_peer_identity(dtls_ssl(fs->session), &fs->id) == -1)
		return;
	fs->connected = 1;
	dt.nhandshakes--;
	dtls_sess_gauges();
}

/*
 * FNV-1a of a peer's address, and of its port too when port (never 0).
 */
static uint64_t
dtls_peer_hash(coap_session_t *s, int port)
{
	const coap_address_t	*a = coap_session_get_addr_remote(s);
	const unsigned char	*p[2] = { NULL, NULL };
	size_t			 n[2] = { 0, 0 };
	uint64_t		 h = 14695981039346656037ULL;

	if (a != NULL && a->addr.sa.sa_family == AF_INET) {
		p[0] = (const void *)&a->addr.sin.sin_port;
		n[0] = port ? sizeof(a->addr.sin.sin_port) : 0;
		p[1] = (const void *)&a->addr.sin.sin_addr;
		n[1] = sizeof(a->addr.sin.sin_addr);
	} else if (a != NULL && a->addr.sa.sa_family == AF_INET6) {
		p[0] = (const void *)&a->addr.sin6.sin6_port;
		n[0] = port ? sizeof(a->addr.sin6.sin6_port) : 0;
		p[1] = (const void *)&a->addr.sin6.sin6_addr;
		n[1] = sizeof(a->addr.sin6.sin6_addr);
	}
	for (size_t i = 0; i < 2; i++)
		for (size_t j = 0; j < n[i]; j++)
			h = (h ^ p[i][j]) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* The address records at shutdown (their sessions are gone already). */
static void
dtls_addrs_free(void)
{
	struct dtls_addr *a;

	for (size_t i = 0; dt.addrs != NULL && i < DTLS_ADDR_BUCKETS; i++)
		while ((a = LIST_FIRST(&dt.addrs[i])) != NULL) {
			LIST_REMOVE(a, bucket);
			free(a);
		}
	free(dt.addrs);
	dt.addrs = NULL;
	LIST_INIT(&dt.heavy);
}

/* The half-open handshakes of the address key, NULL when it has none. */
static struct dtls_addr *
dtls_addr_find(uint64_t key)
{
	struct dtls_addr *a;

	if (dt.addrs == NULL)
		return NULL;
	LIST_FOREACH(a, &dt.addrs[key % DTLS_ADDR_BUCKETS], bucket)
		if (a->key == key)
			return a;
	return NULL;
}

/* Whether a holds its share of the table (dtls.handshakes_per_address). */
static void
dtls_addr_weigh(struct dtls_addr *a)
{
	uint32_t share = dt.cf->dtls_handshakes_per_address;
	int heavy = share != 0 && a->n >= share;

	if (heavy && !a->heavy)
		LIST_INSERT_HEAD(&dt.heavy, a, hentry);
	else if (!heavy && a->heavy)
		LIST_REMOVE(a, hentry);
	a->heavy = heavy;
}

/* Count the new half-open handshake fs under its address. */
static void
dtls_addr_join(struct dtls_sess *fs)
{
	uint64_t		 key = dtls_peer_hash(fs->session, 0);
	struct dtls_addr	*a;

	if (dt.addrs == NULL && (dt.addrs = calloc(DTLS_ADDR_BUCKETS,
	    sizeof(*dt.addrs))) == NULL)
		return;
	if ((a = dtls_addr_find(key)) == NULL) {
		if ((a = calloc(1, sizeof(*a))) == NULL)
			return;
		a->key = key;
		TAILQ_INIT(&a->half);
		LIST_INSERT_HEAD(&dt.addrs[key % DTLS_ADDR_BUCKETS], a, bucket);
	}
	TAILQ_INSERT_TAIL(&a->half, fs, aentry);
	a->n++;
	fs->addr = a;
	dtls_addr_weigh(a);
}

/* fs is no longer half-open: uncount it, and forget an address left bare. */
static void
dtls_addr_leave(struct dtls_sess *fs)
{
	struct dtls_addr *a = fs->addr;

	if (a == NULL)
		return;
	TAILQ_REMOVE(&a->half, fs, aentry);
	fs->addr = NULL;
	a->n--;
	dtls_addr_weigh(a);
	if (a->n == 0) {
		LIST_REMOVE(a, bucket);
		free(a);
	}
}

/* The session of fs is no longer one libcoap counts as in handshake. */
static void
dtls_half_leave(struct dtls_sess *fs)
{
	if (!fs->half)
		return;
	TAILQ_REMOVE(&dt.half, fs, hentry);
	fs->half = 0;
	dt.nhalf--;
	dtls_addr_leave(fs);
}

/* See dtls.h. The record is created when libcoap announces the session. */
struct dtls_sess *
dtls_sess_get(coap_session_t *s)
{
	struct dtls_sess	*fs = coap_session_get_app_data(s);

	/* plain CoAP (the discovery listener) has no device behind it */
	if (coap_session_get_proto(s) != COAP_PROTO_DTLS)
		return NULL;
	if (fs != NULL) {
		if (fs->magic != SESS_MAGIC)
			fatalx("%s: bad session record", __func__);
		dtls_sess_identify(fs);
		return fs;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->magic = SESS_MAGIC;
	fs->session = s;
	fs->t0 = mono_ms();
	dtls_peer_str(s, fs->peer, sizeof(fs->peer));
	snprintf(fs->id.subject, sizeof(fs->id.subject), "-");
	snprintf(fs->id.issuer, sizeof(fs->id.issuer), "-");
	snprintf(fs->id.serial, sizeof(fs->id.serial), "-");
	for (size_t i = 0; i < EST_OP_COUNT; i++)
		fs->early_b2[i] = -1;
	LIST_INIT(&fs->ds.all);
	LIST_INSERT_HEAD(&dt.sessions, fs, entry);
	TAILQ_INSERT_TAIL(&dt.half, fs, hentry);
	fs->half = 1;
	dt.nhalf++;
	dtls_addr_join(fs);
	coap_session_set_app_data(s, fs);
	dt.nsessions++;
	dt.nhandshakes++;
	dtls_sess_gauges();
	return fs;
}

/* See dtls.h. */
void
dtls_sess_put(struct dtls_sess *fs)
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
dtls_sess_free(struct dtls_sess *fs)
{
	SSL *ssl;

	if (fs == NULL)
		return;
	if ((ssl = dtls_ssl(fs->session)) != NULL)
		SSL_set_ex_data(ssl, dtls_ssl_idx, NULL);
	dtls_half_leave(fs);
	if (!fs->connected) {
		/* it never got past the handshake */
		dt.nhandshakes--;
		metrics_handshake(0, fs->refusal != NULL ? fs->refusal :
		    "handshake");
	}
	dt.nsessions--;
	dtls_sess_gauges();
	/* answered requests lingering for retransmissions go with it */
	dlv_sess_gone(&fs->ds);
	LIST_REMOVE(fs, entry);
	coap_session_set_app_data(fs->session, NULL);
	fs->session = NULL;
	fs->deleted = 1;
	fs->refs++;
	dtls_sess_put(fs);
}

/*
 * Count one event of w: the number of them since the last warning when
 * another is due (at most one per 10 s), else 0.
 */
static unsigned
dtls_warn_due(struct dtls_warn *w)
{
	uint64_t	now = mono_ms();
	unsigned	n;

	w->n++;
	if (w->last_ms != 0 && now - w->last_ms < 10000)
		return 0;
	n = w->n;
	w->last_ms = now;
	w->n = 0;
	return n;
}

/* A handshake refused by limit: counted, warned about now and then. */
static void
dtls_refused(const char *limit, const char *peer)
{
	unsigned n;

	metrics_limit(limit);
	log_debug("dtls: handshake refused peer=%s limit=%s", peer, limit);
	if ((n = dtls_warn_due(&dt.refused)) != 0)
		log_warnx("dtls: %u handshake(s) refused, last peer=%s: %s "
		    "reached", n, peer, limit);
}

/*
 * Admission of a handshake whose peer answered the cookie: under
 * dtls.max_sessions (else refused: 0), and under dtls.max_handshakes,
 * where a stalled handshake may make room (else -1: the ClientHello is
 * dropped unanswered and the device sends it again). 1: admitted.
 */
static int
dtls_admit(coap_session_t *s)
{
	const char	*limit = NULL;
	char		 peer[64];
	int		 rc = 1;

	if (dt.nsessions >= dt.cf->dtls_max_sessions) {
		limit = "max_sessions";
		rc = 0;
	} else if (!dtls_make_room(s, mono_ms())) {
		limit = "max_handshakes";
		rc = -1;
	}
	if (limit != NULL) {
		dtls_peer_str(s, peer, sizeof(peer));
		dtls_refused(limit, peer);
	}
	return rc;
}

/*
 * The peer of a handshake answered our flight. DTLS calls back with the
 * header of each record and of each handshake message taken in (RFC 6347
 * 4.1, 4.2.2): a message other than a ClientHello, or a record other than
 * a handshake one (ChangeCipherSpec, say), is part of the answer. A
 * ClientHello is not: a peer that lost our flight resends it, but so does
 * a new client on the same address and port (a NAT's or a flood's reused
 * port), whose ClientHellos this handshake swallows; our own
 * retransmission of the flight (1 s) gets the former an answer in time.
 */
static void
dtls_msg_cb(int write_p, int version, int content_type, const void *buf,
    size_t len, SSL *ssl, void *arg)
{
	const unsigned char	*h = buf;
	struct dtls_sess	*fs;

	(void)version;
	(void)arg;
	if (write_p || content_type != SSL3_RT_HEADER || len == 0 ||
	    (fs = SSL_get_ex_data(ssl, dtls_ssl_idx)) == NULL)
		return;
	if ((len == DTLS1_HM_HEADER_LENGTH && h[0] != SSL3_MT_CLIENT_HELLO) ||
	    (len == DTLS1_RT_HEADER_LENGTH && h[0] != SSL3_RT_HANDSHAKE))
		fs->heard = 1;
}

/*
 * What every handshake gets, once the peer answered the cookie: admission
 * (dtls_admit), then our identity, trust store, verify mode and chain.
 * 0 aborts the handshake, -1 drops its ClientHello unanswered.
 */
static int
dtls_tls_prepare(SSL *ssl)
{
	coap_session_t		*s = SSL_get_app_data(ssl);
	struct dtls_sess	*fs;
	int			 rc;

	if (dt.draining)
		return 0;	/* no new devices while we drain */
	if (s != NULL && coap_session_get_app_data(s) == NULL) {
		if ((rc = dtls_admit(s)) != 1)
			return rc;
		if ((fs = dtls_sess_get(s)) == NULL)
			return 0;
		SSL_set_ex_data(ssl, dtls_ssl_idx, fs);
		/* a sign of life spares it (dtls_make_room) */
		SSL_set_msg_callback(ssl, dtls_msg_cb);
	}
	/* a renegotiation costs a handshake and could swap the identity */
	SSL_set_options(ssl, SSL_OP_NO_RENEGOTIATION);
	return pki_use_identity(ssl, dt.cf->pki) &&
	    pki_setup_ssl(ssl, dt.cf->pki) && dtls_resume_prepare(ssl, dt.cf);
}

/*
 * Our ClientHello callback on libcoap's DTLS SSL_CTX. libcoap 4.3.1's own
 * one decodes its PEM certificate and key again for every session (about
 * 0.8 ms of CPU, make bench B0); for a PKI-only server it does nothing
 * else that dtls_tls_prepare() does not redo: refuse raw public keys,
 * set the verify mode and depth, then call our additional set-up.
 */
static int
dtls_client_hello_cb(SSL *ssl, int *al, void *arg)
{
	const unsigned char	*ext;
	size_t			 extlen, i;
	int			 x509 = 0, rc;

	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, DTLS_EXT_CLIENT_CERT_TYPE, &ext,
	    &extlen) == 1) {
		/* a one-byte length, then the types the client can send */
		for (i = 1; i < extlen && i <= ext[0]; i++)
			if (ext[i] == DTLS_CERT_TYPE_X509)
				x509 = 1;
		if (!x509) {
			*al = SSL_AD_UNSUPPORTED_EXTENSION;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	/*
	 * RETRY: SSL_accept() stops without an alert and libcoap 4.3.1
	 * frees the session quietly; the device resends its ClientHello.
	 */
	if ((rc = dtls_tls_prepare(ssl)) < 0)
		return SSL_CLIENT_HELLO_RETRY;
	if (rc == 0) {
		*al = SSL_AD_HANDSHAKE_FAILURE;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* Put our ClientHello callback on libcoap's DTLS SSL_CTX, once it is known. */
static void
dtls_hook_ctx(void)
{
	if (dt.ctx != NULL)
		SSL_CTX_set_client_hello_cb(dt.ctx, dtls_client_hello_cb, NULL);
}

/*
 * libcoap's additional set-up, from its own ClientHello callback: the
 * first handshake and the first after coap_context_set_pki(). It shows
 * us the SSL_CTX, on which our callback then takes over.
 */
static int
dtls_tls_setup_cb(void *tls, coap_dtls_pki_t *setup)
{
	SSL_CTX	*ctx = SSL_get_SSL_CTX(tls);

	(void)setup;
	log_debug("dtls: libcoap's per-handshake certificate set-up ran");
	if (ctx != NULL && ctx != dt.ctx) {
		dt.ctx = ctx;
		log_info("dtls: certificate and key parsed once, not per "
		    "handshake");
	}
	dtls_hook_ctx();
	return dtls_tls_prepare(tls) > 0;
}

/* See dtls.h. */
int
dtls_apply(coap_context_t *ctx, const struct config *cf)
{
	coap_dtls_pki_t	pki;

	memset(&pki, 0, sizeof(pki));
	pki.version = COAP_DTLS_PKI_SETUP_VERSION;
	pki.verify_peer_cert = 1;
	pki.cert_chain_validation = 1;
	pki.cert_chain_verify_depth = (uint8_t)cf->dtls_verify_depth;
	pki.additional_tls_setup_call_back = dtls_tls_setup_cb;
	pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
	pki.pki_key.key.pem_buf.public_cert =
	    (const uint8_t *)cf->pki->dtls_cert_pem;
	pki.pki_key.key.pem_buf.public_cert_len = cf->pki->dtls_cert_len;
	pki.pki_key.key.pem_buf.private_key =
	    (const uint8_t *)cf->pki->dtls_key_pem;
	pki.pki_key.key.pem_buf.private_key_len = cf->pki->dtls_key_len;
	if (coap_context_set_pki(ctx, &pki) != 1) {
		log_warnx("libcoap refused the DTLS certificate and key");
		return -1;
	}
	/* that put libcoap's ClientHello callback back: ours again */
	dtls_hook_ctx();
	coap_context_set_max_idle_sessions(ctx, cf->dtls_max_idle_sessions);
	/*
	 * libcoap counts peers still in their cookie exchange too: an eighth
	 * more, so that ours (dtls_admit) is the limit that a new device
	 * meets once it has answered the cookie
	 */
	coap_context_set_max_handshake_sessions(ctx, cf->dtls_max_handshakes +
	    cf->dtls_max_handshakes / 8 + 1);
	coap_context_set_session_timeout(ctx, cf->dtls_idle_timeout_s);
	return 0;
}

/*
 * See dtls.h. Other anchors or CRLs: no session or ticket from before may
 * resume (the session id context changes too, pki_setup_ssl), and the
 * cache's memory is given back.
 */
void
dtls_configure(const struct config *cf)
{
	const struct config *old = dt.cf;

	dt.cf = cf;
	if (old->pki == NULL || cf->pki == NULL ||
	    memcmp(old->pki->trust_id, cf->pki->trust_id,
	    sizeof(cf->pki->trust_id)) == 0 || dt.ctx == NULL)
		return;
	pki_forget_sessions(dt.ctx);
	log_info("reload: device trust anchors or CRLs changed: DTLS session "
	    "cache emptied, session-ticket keys replaced");
}

/* See dtls.h. */
void
dtls_drain(void)
{
	dt.draining = 1;
}

/*
 * Drop the handshake of fs (state NONE: libcoap frees the session at its
 * next timer pass); 0 when libcoap no longer counted it anyway.
 */
static int
dtls_drop(struct dtls_sess *fs)
{
	dtls_half_leave(fs);
	if (coap_session_get_type(fs->session) != COAP_SESSION_TYPE_SERVER ||
	    coap_session_get_state(fs->session) != COAP_SESSION_STATE_HANDSHAKE)
		return 0;
	coap_session_disconnected(fs->session, COAP_NACK_TLS_FAILED);
	return 1;
}

/* A half-open handshake dropped for room (why: the key that let it go). */
static void
dtls_evicted(const struct dtls_sess *fs, const char *why)
{
	unsigned n;

	metrics_limit("handshake_evicted");
	log_debug("dtls: handshake dropped for room peer=%s (%s)", fs->peer,
	    why);
	if ((n = dtls_warn_due(&dt.evicted)) != 0)
		log_warnx("dtls: %u half-open handshake(s) dropped to keep room "
		    "under dtls.max_handshakes, last peer=%s: %s", n, fs->peer,
		    why);
}

/*
 * Why a half-open handshake may go to keep room: older than
 * dtls.handshake_evict_s, or its peer silent (it never answered our
 * flight) for dtls.handshake_stall_ms; NULL: it stays.
 */
static const char *
dtls_evictable(const struct dtls_sess *fs, uint64_t now)
{
	uint64_t age = dt.cf->dtls_handshake_evict_s * 1000ULL;
	uint64_t stall = dt.cf->dtls_handshake_stall_ms;

	if (age != 0 && now - fs->t0 >= age)
		return "older than dtls.handshake_evict_s";
	if (stall != 0 && !fs->heard && now - fs->t0 >= stall)
		return "silent for dtls.handshake_stall_ms";
	return NULL;
}

/*
 * Whether fewer than an eighth of dtls.max_handshakes (at least one) are
 * free for handshakes past their cookie.
 */
static int
dtls_near_full(void)
{
	uint32_t max = dt.cf->dtls_max_handshakes;

	return dt.nhalf + max / 8 + 1 > max;
}

/*
 * Near dtls.max_handshakes, half-open handshakes past their cookie go,
 * oldest first, until an eighth of the limit (at least one) is free
 * again: those older than dtls.handshake_evict_s (slowloris that still
 * trickles), and those whose peer has not answered our flight for
 * dtls.handshake_stall_ms. The latter also frees an address and port
 * that a new client reuses (a NAT's, or on one host): libcoap hands its
 * datagrams to the old handshake, which swallows them. A spoofed
 * ClientHello cannot make anything go: it never passes the cookie.
 */
static void
dtls_evict(uint64_t now)
{
	struct dtls_sess	*fs, *next;
	const char		*why;

	for (fs = TAILQ_FIRST(&dt.half); fs != NULL && dtls_near_full();
	    fs = next) {
		next = TAILQ_NEXT(fs, hentry);
		if ((why = dtls_evictable(fs, now)) != NULL && dtls_drop(fs))
			dtls_evicted(fs, why);
	}
}

/* The key of a peer's address and port. */
static uint64_t
dtls_peer_key(coap_session_t *s)
{
	return dtls_peer_hash(s, 1);
}

/* Whether the peer of key was refused for room lately (then forgotten). */
static int
dtls_came_back(uint64_t key)
{
	uint64_t *slot;

	if (dt.back == NULL)
		return 0;
	slot = &dt.back[key % DTLS_BACK_SLOTS];
	if (*slot != key)
		return 0;
	*slot = 0;
	return 1;
}

/* Remember a peer refused for room (a lost key costs it one more try). */
static void
dtls_note_refused(uint64_t key)
{
	if (dt.back == NULL &&
	    (dt.back = calloc(DTLS_BACK_SLOTS, sizeof(*dt.back))) == NULL)
		return;
	dt.back[key % DTLS_BACK_SLOTS] = key;
}

/*
 * The oldest half-open handshake whose peer has not answered our flight,
 * ms or more after its ClientHello, goes; 1 when one did.
 */
static int
dtls_drop_silent(uint64_t now, uint64_t ms)
{
	struct dtls_sess *fs, *next;

	for (fs = TAILQ_FIRST(&dt.half); fs != NULL && now - fs->t0 >= ms;
	    fs = next) {
		/* in order of age: the ones after it are younger */
		next = TAILQ_NEXT(fs, hentry);
		if (!fs->heard && dtls_drop(fs)) {
			dtls_evicted(fs, "silent for dtls.handshake_stall_ms, "
			    "for a new handshake");
			return 1;
		}
	}
	return 0;
}

/*
 * Whether the address of s holds its share of the table
 * (dtls.handshakes_per_address) or more half-open handshakes.
 */
static int
dtls_peer_heavy(coap_session_t *s)
{
	uint32_t		 share = dt.cf->dtls_handshakes_per_address;
	const struct dtls_addr	*mine;

	if (share == 0)
		return 0;
	mine = dtls_addr_find(dtls_peer_hash(s, 0));
	return mine != NULL && mine->n >= share;
}

/*
 * At dtls.max_handshakes, one address's share (dtls.handshakes_per_address):
 * a device from an address under its share (the caller checks) takes the
 * place of the oldest handshake of an address at its share or over whose
 * peer has not answered our flight for a quarter of
 * dtls.handshake_stall_ms. A flood from a few addresses, even ones that
 * answer the cookie, then delays the devices of other addresses by no
 * retransmission. 1 when one gave way.
 */
static int
dtls_fair_share(coap_session_t *s, uint64_t now)
{
	uint32_t		 share = dt.cf->dtls_handshakes_per_address;
	uint64_t		 grace = dt.cf->dtls_handshake_stall_ms / 4;
	struct dtls_addr	*a;
	struct dtls_sess	*fs;

	if (share == 0)
		return 0;	/* dt.heavy may hold ones weighed before */
	LIST_FOREACH(a, &dt.heavy, hentry)
		TAILQ_FOREACH(fs, &a->half, aentry) {
			if (a->n < share)
				break;	/* weighed under an earlier share */
			if (now - fs->t0 < grace)
				break;	/* the ones after it are younger */
			if (!fs->heard && fs->session != s && dtls_drop(fs)) {
				dtls_evicted(fs, "dtls.handshakes_per_address "
				    "reached by its address");
				return 1;
			}
		}
	return 0;
}

/*
 * Room under dtls.max_handshakes for one more handshake past its cookie,
 * that of s (its peer proved its address): at the limit, the oldest
 * handshake whose peer has not answered our flight goes, once that has
 * lasted twice dtls.handshake_stall_ms; else the ClientHello is dropped
 * unanswered and its peer noted, and when it resends it (a device's
 * timer: 1 s, then doubling) dtls.handshake_stall_ms is enough. Our
 * flight leaves at once, so a peer owes us its answer within a round
 * trip; one whose answer or our flight was lost answers our
 * retransmission (1 s). An answer spares a handshake for good
 * (dtls.handshake_evict_s and dtls.handshake_timeout_s still apply).
 * Devices that retry get in ahead of a flood that does not, and such a
 * flood gets few flights (our costly part). 1 when there is room.
 */
static int
dtls_make_room(coap_session_t *s, uint64_t now)
{
	uint64_t	stall = dt.cf->dtls_handshake_stall_ms, key;
	int		heavy = dtls_peer_heavy(s);

	/*
	 * an address at its share gets nothing while the table is nearly
	 * full: the room its handshakes gave way for stays with the devices
	 * of other addresses, and a flood from it gets none of our costly
	 * flights (make bench B8 stall) whenever one of them gets in
	 */
	if (heavy && dtls_near_full())
		return 0;
	if (dt.nhalf < dt.cf->dtls_max_handshakes)
		return 1;
	if (!heavy && dtls_fair_share(s, now))
		return 1;
	if (stall == 0)
		return 0;
	key = dtls_peer_key(s);
	if (dtls_drop_silent(now, dtls_came_back(key) ? stall : 2 * stall))
		return 1;
	dtls_note_refused(key);
	return dt.nhalf < dt.cf->dtls_max_handshakes;
}

/* See dtls.h. */
void
dtls_tick(uint64_t now)
{
	struct dtls_sess	*fs;
	uint64_t		 limit = dt.cf->dtls_handshake_timeout_s * 1000ULL;

	/* the queue is in order of age: the timed-out ones come first */
	while ((fs = TAILQ_FIRST(&dt.half)) != NULL && now - fs->t0 >= limit)
		if (dtls_drop(fs))
			dtls_refused("handshake_timeout", fs->peer);
	dtls_evict(now);
}

/* Cancel the pending requests of a session whose DTLS link went away. */
static void
dtls_sess_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dtls_sess *fs = arg;

	(void)fd;
	(void)what;
	/* a session libcoap freed meanwhile went through dtls_sess_free */
	if (!fs->deleted && coap_session_get_state(fs->session) !=
	    COAP_SESSION_STATE_ESTABLISHED)
		dlv_sess_gone(&fs->ds);
	dtls_sess_put(fs);
}

/* RFC 7252 4.8: ACK_TIMEOUT of our CON separate answers on session s. */
static void
dtls_ack_timeout(coap_session_t *s)
{
	coap_session_set_ack_timeout(s, (coap_fixed_point_t){
	    (uint16_t)(dt.cf->dtls_ack_timeout_ms / 1000),
	    (uint16_t)(dt.cf->dtls_ack_timeout_ms % 1000) });
}

/* The handshake of s is done: log who came. */
static void
dtls_connected(coap_session_t *s)
{
	struct dtls_sess	*fs;
	SSL			*ssl;

	dtls_ack_timeout(s);
	if ((fs = dtls_sess_get(s)) == NULL)
		return;
	dtls_half_leave(fs);
	metrics_handshake(1, "ok");
	if ((ssl = dtls_ssl(s)) != NULL)
		SSL_set_msg_callback(ssl, NULL);
	log_info("dtls: session up peer=%s dev=\"%s\" issuer=\"%s\" serial=%s "
	    "resumed=%d", fs->peer, fs->id.subject, fs->id.issuer,
	    fs->id.serial, ssl != NULL && SSL_session_reused(ssl));
}

/* The DTLS link of s closed or failed: its pending requests go. */
static void
dtls_closed(coap_session_t *s, coap_event_t ev)
{
	struct dtls_sess	*fs = coap_session_get_app_data(s);
	static const struct timeval zero_tv;

	/* the SSL goes next: keep this handshake's own reason */
	if (fs != NULL && !fs->connected && fs->refusal == NULL)
		fs->refusal = pki_refusal(dtls_ssl(s));
	if (fs != NULL)
		dtls_half_leave(fs);
	log_info("dtls: session %s peer=%s", ev == COAP_EVENT_DTLS_ERROR ?
	    "failed" : "closed", fs != NULL ? fs->peer : "-");
	/* never from inside libcoap: next loop turn */
	if (fs != NULL && !LIST_EMPTY(&fs->ds.all)) {
		fs->refs++;
		if (event_base_once(dt.base, -1, EV_TIMEOUT, dtls_sess_gone_cb,
		    fs, &zero_tv) == -1)
			fs->refs--;
	}
}

/* See dtls.h: identity on connect, cleanup on close. */
void
dtls_event(coap_session_t *s, coap_event_t ev)
{
	switch (ev) {
	case COAP_EVENT_SERVER_SESSION_NEW:
		/*
		 * A HELLO session: a ClientHello whose source address has not
		 * answered a cookie yet. libcoap bounds them (max_handshakes);
		 * our record waits until the cookie came back (setup hook).
		 */
		coap_session_set_mtu(s, dt.cf->dtls_mtu);
		dtls_ack_timeout(s);
		break;
	case COAP_EVENT_DTLS_CONNECTED:
		dtls_connected(s);
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_DTLS_ERROR:
		dtls_closed(s, ev);
		break;
	case COAP_EVENT_SERVER_SESSION_DEL:
		dtls_sess_free(coap_session_get_app_data(s));
		break;
	default:
		break;
	}
}

/*
 * An SSL that ran a record's handshake is freed. libcoap 4.3.1 frees a
 * session whose first SSL_accept() failed after our ClientHello callback
 * (no cipher in common, say) without any event, so its record goes now,
 * while the session still exists; that session has no SSL of its own yet.
 * Every other SSL goes at a close, which libcoap reports.
 */
static void
dtls_ssl_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct dtls_sess	*fs = ptr;
	coap_tls_library_t	 lib;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (fs == NULL || fs->magic != SESS_MAGIC || fs->session == NULL ||
	    coap_session_get_tls(fs->session, &lib) != NULL)
		return;
	dtls_sess_free(fs);
}

/* See dtls.h. */
void
dtls_init(struct event_base *base, const struct config *cf)
{
	memset(&dt, 0, sizeof(dt));
	dt.base = base;
	dt.cf = cf;
	LIST_INIT(&dt.sessions);
	TAILQ_INIT(&dt.half);
	LIST_INIT(&dt.heavy);
	/* without it every new session checks again: slower, still right */
	dt.memo = azmemo_new(DTLS_MEMO_SLOTS);
	if (dtls_ssl_idx < 0 && (dtls_ssl_idx = SSL_get_ex_new_index(0, NULL,
	    NULL, NULL, dtls_ssl_free_cb)) < 0)
		fatalx("%s: no SSL ex_data index", __func__);
}

/* See dtls.h. SERVER_SESSION_DEL does not fire at context free in 4.3.1. */
void
dtls_shutdown(void)
{
	struct dtls_sess *fs;

	while ((fs = LIST_FIRST(&dt.sessions)) != NULL)
		dtls_sess_free(fs);
	azmemo_free(dt.memo);
	free(dt.back);
	dtls_addrs_free();
	memset(&dt, 0, sizeof(dt));
}

/* See dtls.h. */
void
dtls_req_line(const struct dtls_sess *fs, const char *peer, const char *op,
    const char *label, const coap_pdu_t *req, size_t req_len,
    const struct est_answer *a, uint64_t t0)
{
	struct reqline	l = { reqline_next_id(), fs != NULL ? fs->peer : peer,
			    fs != NULL ? fs->id.subject : NULL, op, label,
			    (int)coap_pdu_get_code(req), -1, req_len, 0, 0, 0,
			    a->code, a->len, mono_ms() - t0, a->reason };

	reqline_emit(&l);
}
