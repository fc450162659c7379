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
#include "est_req.h"
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

static struct front {
	struct event_base	*base;
	struct config		*cf;
	struct upstream		*up;
	coap_context_t		*ctx;
	struct event		*ev;		/* libcoap's epoll fd */
	struct iob		*iob;		/* datagrams per pass, or NULL */
	struct rl_table		*rl;		/* per-source rate, NULL: off */
	uint64_t		 refused_log_ms;/* last "refused" warning */
	unsigned		 refused;	/* handshakes refused since */
	/* every (label, op) pair served: (1 + labels) x EST_OP_COUNT */
	struct route		 routes[ROUTE_MAX];
	size_t			 nroutes;
	LIST_HEAD(, front_sess)	 sessions;
	unsigned		 nsessions;	/* with a record */
	unsigned		 nhandshakes;	/* records not yet connected */
	struct req_policy	 pol;		/* the caches' answers */
	int			 draining;	/* SIGTERM: finish, take no more */
	int			 upstream_seen;	/* any exchange finished yet */
} fr;

/*
 * The DTLS SSL_CTX libcoap made, learnt from the first handshake; from
 * then on front_client_hello_cb replaces libcoap's ClientHello callback.
 */
static SSL_CTX	*front_dtls_ctx;


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

/* Server-side key generation: answers carry a private key. */
static int
front_keygen(const struct est_op *op)
{
	return op->id == EST_OP_SKG || op->id == EST_OP_SKC;
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

/* est_req.c's hooks into the route's cache. */
static int
front_cache_hook(const struct route *rt, const coap_pdu_t *req,
    unsigned resp_cf, struct est_answer *a)
{
	struct cache_etags et;

	front_etags(req, &et);
	return cache_answer(rt->cache, rt->op, resp_cf, &et, a);
}

static void
front_cache_store_hook(const struct route *rt, uint8_t *der, size_t len)
{
	cache_put(rt->cache, der, len);
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
	front_req_line(reqline_next_id(), NULL, peer, opname, label,
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
	front_req_line(reqline_next_id(), front_sess_get(s), peer, "core", "",
	    (int)coap_pdu_get_code(req), -1, 0, 0, 0, &a, t0);
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

/* est_req.c's hooks: the session record it keeps while it runs. */
static void
front_sess_ref(void *sess)
{
	((struct front_sess *)sess)->refs++;
}

static void
front_sess_unref(void *sess)
{
	front_sess_put(sess);
}

static SSL *
front_sess_ssl(void *sess)
{
	struct front_sess *fs = sess;

	return fs != NULL && fs->session != NULL ? front_ssl(fs->session) :
	    NULL;
}

static int
front_sess_authorize(void *sess, const struct route *rt,
    struct est_answer *a)
{
	struct front_sess *fs = sess;

	return front_authorize(fs, fs != NULL ? fs->session : NULL, rt, a);
}

static void
front_seen(void)
{
	fr.upstream_seen = 1;
}

static void
front_cache_seen(const struct upstream_result *r)
{
	(void)r;
	front_seen();
}

/*
 * The request handler of every EST resource and method: plain CoAP is
 * refused, a retransmission of a request on its way is answered from
 * deliver.c (never a second upstream call), the source's rate checked;
 * the rest is est_req.c's.
 */
static void
front_handler(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	const struct route	*rt = coap_resource_get_userdata(r);
	struct front_sess	*fs;
	struct est_answer	 a;
	struct req_in		 in = { r, s, req, q, resp, rt, { 0 } };
	int			 wait;

	if (coap_session_get_proto(s) != COAP_PROTO_DTLS) {
		front_plain_refuse(s, req, resp, rt->op->name, rt->label,
		    mono_ms());
		return;
	}
	if (dlv_repeat(s, req, resp))
		return;
	fs = front_sess_get(s);
	if (fs != NULL)
		in.dev = (struct req_dev){ fs, &fs->id, fs->peer, &fs->ds,
		    &fs->pending, fs->early_b2 };
	if (!fr.draining && (wait = front_rate_check(s)) != 0) {
		memset(&a, 0, sizeof(a));
		answer_clear(&a);
		answer_error(&a, EST_CODE(5, 3), "rate",
		    "too many requests from this address, retry later");
		a.max_age = wait;
		metrics_limit("rate_per_source");
		reply_fill(s, &(struct reply_to){ .res = r, .req = req,
		    .query = q, .b2_szx = -1 }, resp, &a);
		front_req_line(reqline_next_id(), fs, "-", rt->op->name, rt->label,
		    (int)coap_pdu_get_code(req), -1, 0, 0, 0, &a, mono_ms());
		answer_clear(&a);
		return;
	}
	req_begin(&in);
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
		req_session_gone(s);
		break;
	case COAP_EVENT_SERVER_SESSION_DEL:
		req_session_gone(s);
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
	front_req_line(reqline_next_id(), front_sess_get(s), "-", name, "",
	    (int)coap_pdu_get_code(req), -1, len, 0, 0, &a, t0);
}

/* Every method goes to the handler, which answers 4.05 where due. */
static const coap_request_t front_methods[] = { COAP_REQUEST_GET,
    COAP_REQUEST_POST, COAP_REQUEST_PUT, COAP_REQUEST_DELETE,
    COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH };

/* The link attributes of an EST resource (RFC 9148 3: rt, ct). */
static void
front_resource_attrs(coap_resource_t *r, const struct est_op *op)
{
	char rt[40], ct[40];

	snprintf(rt, sizeof(rt), "\"%s\"", op->rt);
	coap_add_attr(r, coap_make_str_const("rt"), coap_make_str_const(rt),
	    0);
	/* several values are quoted (RFC 6690 3) */
	if (strchr(op->ct_attr, ' ') != NULL)
		snprintf(ct, sizeof(ct), "\"%s\"", op->ct_attr);
	else
		snprintf(ct, sizeof(ct), "%s", op->ct_attr);
	coap_add_attr(r, coap_make_str_const("ct"), coap_make_str_const(ct),
	    0);
}

/* The route of config route n and op, and its resource. 0 or -1. */
static int
front_route_add(size_t n, const struct est_op *op)
{
	const char	*label = fr.cf->routes[n].label;
	struct route	*route = &fr.routes[fr.nroutes];
	coap_resource_t	*r;
	coap_str_const_t *p;
	char		 path[96];

	route->op = op;
	route->cfroute = n;
	/* a copy: the config generation may change on reload */
	snprintf(route->label, sizeof(route->label), "%s", label);
	route->cache = op->method == EST_M_GET ? cache_add(route) :
	    NULL;
	fr.nroutes++;
	if (*label != '\0')
		snprintf(path, sizeof(path), ".well-known/est/%s/%s", label,
		    op->name);
	else
		snprintf(path, sizeof(path), ".well-known/est/%s", op->name);
	if ((p = coap_new_str_const((const uint8_t *)path, strlen(path))) ==
	    NULL || (r = coap_resource_init(p,
	    COAP_RESOURCE_FLAGS_RELEASE_URI)) == NULL)
		return -1;
	for (size_t m = 0; m < sizeof(front_methods) / sizeof(front_methods[0]); m++)
		coap_register_request_handler(r, front_methods[m],
		    front_handler);
	coap_resource_set_userdata(r, route);
	front_resource_attrs(r, op);
	coap_add_resource(fr.ctx, r);
	return 0;
}

/*
 * The resources: one per served (label, operation), our
 * /.well-known/core, and the handler of unknown paths.
 */
static int
front_resources(void)
{
	coap_resource_t *w, *u;

	for (size_t n = 0; n < fr.cf->nroutes; n++)
		for (int i = 0; i < EST_OP_COUNT; i++) {
			const struct est_op *op = estmap_op_by_id(i);

			/* optional in RFC 9148: served when enabled */
			if ((front_keygen(op) && !fr.cf->server_keygen) ||
			    (fr.cf->routes[n].ops & (1u << op->id)) == 0)
				continue;
			if (front_route_add(n, op) == -1)
				return -1;
		}
	/* replaces libcoap's own: plain CoAP needs absolute links */
	if ((w = coap_resource_init(coap_make_str_const(".well-known/core"),
	    0)) == NULL)
		return -1;
	coap_register_request_handler(w, COAP_REQUEST_GET, front_wellknown);
	coap_add_resource(fr.ctx, w);
	if ((u = coap_resource_unknown_init(front_unknown_handler)) == NULL)
		return -1;
	for (size_t m = 0; m < sizeof(front_methods) / sizeof(front_methods[0]); m++)
		coap_register_request_handler(u, front_methods[m],
		    front_unknown_handler);
	coap_add_resource(fr.ctx, u);
	return 0;
}

/* See coap_front.h. */
void
front_tick(void)
{
	uint64_t now = mono_ms();

	req_tick(now);
	front_handshake_timeouts(now);
	cache_tick();
	/* state changed outside libcoap does not poke its timerfd */
	coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
}

unsigned
front_pending(void)
{
	return req_pending();
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
	return 0;
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
	req_configure(cf);
	if (fr.rl != NULL && cf->rate_per_source != 0 &&
	    cf->rate_sources == fr.cf->rate_sources)
		rl_table_set_limits(fr.rl, cf->rate_per_source, cf->rate_burst);
	else {
		rl_table_free(fr.rl);
		fr.rl = front_rl_new(cf);
	}
	cache_configure(cf);
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
	req_drain();
	metrics_gauge_set(METRICS_G_DRAINING, 1);
}

/* See coap_front.h. */
void
front_drain_cutoff(void)
{
	req_drain_cutoff();
}

/* See coap_front.h. */
int
front_idle(void)
{
	return req_pending() == 0 && coap_can_exit(fr.ctx);
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
	    fr.nsessions, fr.nhandshakes, req_pending(), up);
}

/* libcoap's start: logging into ours, DTLS support. 0 or -1. */
static int
front_coap_start(void)
{
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
	if ((fr.ctx = coap_new_context(NULL)) == NULL) {
		log_warnx("cannot create the CoAP context");
		return -1;
	}
	/* before any endpoint; no SINGLE_BODY with 4.3.1 */
	coap_context_set_block_mode(fr.ctx, COAP_BLOCK_USE_LIBCOAP);
	coap_register_event_handler(fr.ctx, front_event_cb);
	coap_register_nack_handler(fr.ctx, front_nack_cb);
	return 0;
}

/* Drive libcoap from our loop: its epoll fd, read in batches. */
static int
front_watch(struct event_base *base)
{
	int fd;

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
	return 0;
}

/* See coap_front.h. */
int
front_init(struct event_base *base, struct config *cf, struct upstream *up)
{
	static const struct req_hooks hooks = {
		.sess_ref = front_sess_ref, .sess_unref = front_sess_unref,
		.ssl = front_sess_ssl, .authorize = front_sess_authorize,
		.cache_answer = front_cache_hook,
		.cache_store = front_cache_store_hook,
		.upstream_seen = front_seen,
	};

	memset(&fr, 0, sizeof(fr));
	fr.base = base;
	fr.cf = gen_ref(cf);
	fr.up = up;
	LIST_INIT(&fr.sessions);
	fr.rl = front_rl_new(cf);
	if (front_coap_start() == -1 ||
	    req_init(base, fr.ctx, up, cf, &hooks) == -1)
		return -1;
	cache_init(&(const struct cache_env){ .up = up, .pool = req_pool(),
	    .pol = &fr.pol, .pool_changed = req_pool_gauges,
	    .seen = front_cache_seen }, cf);
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
	if (front_watch(base) == -1)
		return -1;
	coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
	/* warm the caches so crts and att go out piggybacked */
	cache_tick();
	return 0;
}

/* See coap_front.h. */
void
front_shutdown(void)
{
	struct front_sess	*fs;

	/* our session references before the context, or endpoints assert */
	cache_shutdown();
	req_shutdown();
	if (fr.ev != NULL)
		event_free(fr.ev);
	iob_free(fr.iob);
	/* SERVER_SESSION_DEL does not fire at context free in 4.3.1 */
	while ((fs = LIST_FIRST(&fr.sessions)) != NULL)
		front_sess_free(fs);
	if (fr.ctx != NULL)
		coap_free_context(fr.ctx);
	rl_table_free(fr.rl);
	coap_cleanup();
	gen_unref(fr.cf);
	memset(&fr, 0, sizeof(fr));
	front_dtls_ctx = NULL;
}
