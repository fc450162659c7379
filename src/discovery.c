/*
 * /.well-known/core (discovery.h): first the link-format document and the
 * size bound of plain answers, pure functions unit-tested alone; then the
 * plain-CoAP listener and the handler on libcoap.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "answer.h"
#include "authz.h"
#include "coap_opt.h"
#include "config.h"
#include "discovery.h"
#include "dtls.h"
#include "estcoapd.h"
#include "est_map.h"
#include "log.h"
#include "metrics.h"
#include "pki.h"
#include "reply.h"
#include "route.h"
#include "util.h"

/*
 * What a plain answer adds to its payload: header (4), token, Content-
 * Format (2), Block2 (up to 4), Size2 (3) and the payload marker (1).
 */
#define DISC_OVERHEAD(tkl)	(14 + (tkl))

/* See discovery.h. */
void
disc_query_parse(const char *s, size_t len, struct disc_query *q)
{
	const char *p = s, *end = s + len;

	q->n = 0;
	if (s == NULL)
		return;
	while (p < end && q->n < DISC_MAX_FILTERS) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		/* a parameter without '=' is no filter (RFC 6690 4.1) */
		if (eq != NULL && eq > p) {
			q->f[q->n].name = p;
			q->f[q->n].nlen = (size_t)(eq - p);
			q->f[q->n].val = eq + 1;
			q->f[q->n].vlen = (size_t)(stop - eq - 1);
			q->f[q->n].prefix = q->f[q->n].vlen > 0 &&
			    q->f[q->n].val[q->f[q->n].vlen - 1] == '*';
			if (q->f[q->n].prefix)
				q->f[q->n].vlen--;
			q->n++;
		}
		p = stop + 1;
	}
}

/* A value equals filter k's, or begins with its prefix. */
static int
disc_eq(const char *v, size_t vlen, const struct disc_query *q, size_t k)
{
	if (q->f[k].prefix)
		return vlen >= q->f[k].vlen &&
		    memcmp(v, q->f[k].val, q->f[k].vlen) == 0;
	return vlen == q->f[k].vlen && memcmp(v, q->f[k].val, vlen) == 0;
}

/* A space-separated attribute value has a token that matches filter k. */
static int
disc_tokens(const char *v, const struct disc_query *q, size_t k)
{
	while (*v != '\0') {
		size_t n = strcspn(v, " ");

		if (n > 0 && disc_eq(v, n, q, k))
			return 1;
		v += n;
		v += strspn(v, " ");
	}
	return 0;
}

/* See discovery.h. */
int
disc_match(const struct disc_link *l, const struct disc_query *q)
{
	for (size_t k = 0; k < q->n; k++) {
		const char	*name = q->f[k].name;
		size_t		 nlen = q->f[k].nlen;
		int		 hit = 0;

		if (nlen == 4 && memcmp(name, "href", 4) == 0) {
			/* the path, with or without its leading '/' */
			const char *h = l->href + (q->f[k].vlen > 0 &&
			    q->f[k].val[0] == '/' ? 0 : 1);

			hit = disc_eq(h, strlen(h), q, k);
		} else if (nlen == 2 && memcmp(name, "rt", 2) == 0)
			hit = disc_tokens(l->rt, q, k);
		else if (nlen == 2 && memcmp(name, "ct", 2) == 0)
			hit = disc_tokens(l->ct, q, k);
		if (!hit)
			return 0;
	}
	return 1;
}

/* See discovery.h. */
int
disc_append(char *out, size_t cap, size_t *len, const char *base,
    const struct disc_link *l)
{
	int	list = strchr(l->ct, ' ') != NULL;
	int	n;

	if (*len >= cap)
		return -1;
	n = snprintf(out + *len, cap - *len, "%s<%s%s>;rt=\"%s\";ct=%s%s%s",
	    *len > 0 ? "," : "", base, l->href, l->rt, list ? "\"" : "",
	    l->ct, list ? "\"" : "");
	if (n < 0 || (size_t)n >= cap - *len) {
		out[*len] = '\0';
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

/* See discovery.h. */
int
disc_plain_block(size_t doclen, size_t reqlen, size_t tkl, long b2,
    struct disc_block *b)
{
	size_t		budget = DISC_PLAIN_FACTOR * reqlen;
	unsigned	szx = 6, rszx;
	size_t		start = 0;

	memset(b, 0, sizeof(*b));
	if (b2 >= 0) {
		rszx = (unsigned)(b2 & 7);
		if (rszx == 7)
			return -1;	/* reserved (RFC 7959 2.2) */
		start = ((size_t)b2 >> 4) << (rszx + 4);
		if (rszx < szx)
			szx = rszx;
	}
	if (start == 0 && doclen + DISC_OVERHEAD(tkl) <= budget &&
	    (b2 < 0 || doclen <= ((size_t)16 << szx))) {
		b->whole = b2 < 0;
		b->len = doclen;
		b->szx = szx;
		return 0;
	}
	while (szx > 0 && ((size_t)16 << szx) + DISC_OVERHEAD(tkl) > budget)
		szx--;
	if (start >= doclen && !(start == 0 && doclen == 0))
		return -1;
	/* RFC 7959 2.4: a smaller block size than asked, same offset */
	b->szx = szx;
	b->num = (unsigned)(start >> (szx + 4));
	b->off = (size_t)b->num << (szx + 4);
	b->len = doclen - b->off < ((size_t)16 << szx) ? doclen - b->off :
	    (size_t)16 << szx;
	b->more = b->off + b->len < doclen;
	return 0;
}

/* See discovery.h. */
unsigned
disc_coaps_port(const struct config_listen *l, size_t n, int v6)
{
	for (size_t i = 0; i < n; i++)
		/* "::" is dual stack: it serves both families */
		if (strcmp(l[i].addr, "::") == 0 ||
		    (strchr(l[i].addr, ':') != NULL) == v6)
			return l[i].port;
	return n > 0 ? l[0].port : 0;
}

/* The listener's state: what the front gave disc_init(). */
static struct {
	coap_context_t		*ctx;
	const struct config	*cf;
	struct disc_hooks	 h;
	const struct route	*routes;
	size_t			 nroutes;
} disc;

/* See discovery.h. */
void
disc_init(coap_context_t *ctx, const struct config *cf,
    const struct disc_hooks *h)
{
	memset(&disc, 0, sizeof(disc));
	disc.ctx = ctx;
	disc.cf = cf;
	disc.h = *h;
}

/* See discovery.h. */
void
disc_configure(const struct config *cf)
{
	disc.cf = cf;
}

/* See discovery.h. */
int
disc_is_mcast(coap_session_t *s)
{
	return coap_is_mcast(coap_session_get_addr_local(s));
}

/* See discovery.h. A NON request (every multicast one, RFC 7252 8.1). */
void
disc_no_answer(coap_pdu_t *resp)
{
	coap_pdu_set_code(resp, COAP_EMPTY_CODE);
}

/*
 * See discovery.h. A source address there may be forged, and every
 * answer is larger than the request (RFC 7252 11.3: no amplifier for
 * spoofed floods).
 */
int
disc_plain_rate(coap_session_t *s, coap_pdu_t *resp)
{
	char peer[64];

	if (disc.h.rate(s) == 0)
		return 0;
	disc_no_answer(resp);
	metrics_limit("rate_per_source");
	dtls_peer_str(s, peer, sizeof(peer));
	log_debug("plain coap: peer=%s over limits.rate_per_source, no answer",
	    peer);
	return 1;
}

/*
 * See discovery.h. RFC 9148 3 makes DTLS with a client certificate
 * mandatory, so the device is not authenticated: 4.01 (RFC 7252
 * 5.9.2.2), no upstream call.
 */
void
disc_plain_refuse(coap_session_t *s, const coap_pdu_t *req,
    coap_pdu_t *resp, const char *opname, const char *label, uint64_t t0)
{
	struct est_answer	 a;
	char			 peer[64];
	size_t			 len = 0;
	const uint8_t		*data;
	int			 mcast = disc_is_mcast(s);

	if (disc_plain_rate(s, resp))
		return;
	memset(&a, 0, sizeof(a));
	answer_clear(&a);
	answer_error(&a, EST_CODE(4, 1), mcast ? "plain-coap-multicast" :
	    "plain-coap", "EST needs coaps: DTLS with a client certificate "
	    "(RFC 9148 3)");
	dtls_peer_str(s, peer, sizeof(peer));
	coap_get_data(req, &len, &data);
	if (mcast)
		disc_no_answer(resp);
	else {
		coap_pdu_set_code(resp, (coap_pdu_code_t)a.code);
		coap_add_data(resp, strlen(a.diag), (const uint8_t *)a.diag);
	}
	dtls_req_line(NULL, peer, opname, label, req, len, &a, t0);
	answer_clear(&a);
}

/*
 * Our address on the route back to the peer at pa into host (hostsz
 * bytes, "localhost" when unknown); 1 when it is an IPv6 address.
 */
static int
disc_local_host(const coap_address_t *pa, char *host, size_t hostsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 fd, v6 = 0;

	snprintf(host, hostsz, "localhost");
	if ((fd = socket(pa->addr.sa.sa_family, SOCK_DGRAM, 0)) == -1)
		return 0;
	if (connect(fd, &pa->addr.sa, pa->size) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;

			if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
				inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12],
				    host, (socklen_t)hostsz);
			else {
				inet_ntop(AF_INET6, &a6->sin6_addr, host,
				    (socklen_t)hostsz);
				v6 = 1;
			}
		} else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->
			    sin_addr, host, (socklen_t)hostsz);
	}
	close(fd);
	return v6;
}

/*
 * "coaps://host:port" for the links the plain listener returns: a
 * relative link would name the plain endpoint itself. The host is
 * discovery.advertise, else our address on the route back to the device
 * (so it also works for multicast requests); the port is the first DTLS
 * listen port of that address family.
 */
static void
disc_coaps_base(coap_session_t *s, char *buf, size_t bufsz)
{
	char	host[INET6_ADDRSTRLEN];
	int	v6;

	if (disc.cf->disc_advertise != NULL) {
		snprintf(buf, bufsz, "coaps://%s", disc.cf->disc_advertise);
		return;
	}
	v6 = disc_local_host(coap_session_get_addr_remote(s), host,
	    sizeof(host));
	snprintf(buf, bufsz, "coaps://%s%s%s:%u", v6 ? "[" : "", host,
	    v6 ? "]" : "", disc_coaps_port(disc.cf->listen, disc.cf->nlisten,
	    v6));
}

/*
 * The discovery cache of one request: whether the device may use the
 * routes of a policy (its chain verifies there, no CRL lists it), per
 * policy, so that each is verified once.
 */
struct disc_seen {
	const struct authz	*az[ROUTE_MAX_LABELS + 1];
	int			 ok[ROUTE_MAX_LABELS + 1];
	size_t			 n;
	int			 revoked;	/* -1: not known yet */
};

/*
 * May the device of DTLS session s use route rt: would dtls_authorize
 * let an operation there through? Discovery lists only those links.
 */
static int
disc_may(coap_session_t *s, const struct route *rt, struct disc_seen *seen)
{
	const struct authz	*az = dtls_authz(rt);
	SSL			*ssl = dtls_ssl(s);
	char			 why[160];
	size_t			 i;

	if (ssl == NULL)
		return 0;
	if (seen->revoked < 0)
		seen->revoked = pki_revoked(disc.cf->pki, ssl, why,
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
disc_doc(coap_session_t *s, const struct disc_query *dq, const char *base,
    int plain, struct reply_blob *b, size_t cap)
{
	struct disc_seen	 seen;
	struct disc_link	 l;
	char			 href[96];
	size_t			 len = 0;

	memset(&seen, 0, sizeof(seen));
	seen.revoked = -1;
	b->data[0] = '\0';
	for (size_t i = 0; i < disc.nroutes; i++) {
		const struct route *rt = &disc.routes[i];

		snprintf(href, sizeof(href), "/.well-known/est%s%s/%s",
		    rt->label[0] != '\0' ? "/" : "", rt->label, rt->op->name);
		l.href = href;
		l.rt = rt->op->rt;
		l.ct = rt->op->ct_attr;
		if (!disc_match(&l, dq) || (!plain && !disc_may(s, rt, &seen)))
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
disc_req_size(const coap_pdu_t *req)
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

/* Content-Format application/link-format (RFC 6690 7.2) on resp. */
static void
disc_link_format(coap_pdu_t *resp)
{
	uint8_t buf[4];

	coap_add_option(resp, COAP_OPTION_CONTENT_FORMAT,
	    coap_encode_var_safe(buf, sizeof(buf),
	    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT), buf);
}

/*
 * A plain (unauthenticated, maybe spoofed) discovery answer: at most
 * DISC_PLAIN_FACTOR times the request, in Block2 blocks when the document
 * is larger; the device fetches the rest block by block (RFC 7959 2.4).
 * 0, or -1 for a block past the end (4.02).
 */
static int
disc_plain(const coap_pdu_t *req, coap_pdu_t *resp, const uint8_t *doc,
    size_t len)
{
	struct disc_block	 blk;
	unsigned		 v;
	uint8_t			 buf[4];
	long			 b2 = copt_uint(req, COAP_OPTION_BLOCK2, &v) ?
				    (long)v : -1;

	if (disc_plain_block(len, disc_req_size(req),
	    coap_pdu_get_token(req).length, b2, &blk) == -1)
		return -1;
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
	disc_link_format(resp);
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
 * Send the document (len bytes of b) in resp, as a's code and reason
 * say. 1 when libcoap took b (it releases it), else 0.
 */
static int
disc_send(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp, int plain,
    struct reply_blob *b, struct est_answer *a)
{
	size_t len = b->len;

	if (len == 0 && disc_is_mcast(s)) {
		disc_no_answer(resp);
		a->reason = "discovery-multicast-empty";
	} else if (plain) {
		if (disc_plain(req, resp, b->data, len) == -1) {
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE(402));
			a->code = EST_CODE(4, 2);
			a->reason = "block2-out-of-range";
		}
	} else if (len == 0) {
		/* RFC 6690 4.1: no match, an empty document */
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
		disc_link_format(resp);
	} else {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(205));
		if (!coap_add_data_large_response(r, s, req, resp, q,
		    COAP_MEDIATYPE_APPLICATION_LINK_FORMAT, -1, 0, len, b->data,
		    reply_release_cb, b)) {
			log_warnx("libcoap refused a %zu-byte discovery answer",
			    len);
			coap_pdu_set_code(resp, COAP_RESPONSE_CODE(500));
			a->code = EST_CODE(5, 0);
		}
		return 1;	/* libcoap's now (released by reply_release_cb) */
	}
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
disc_wellknown(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	struct disc_query	 dq;
	struct reply_blob	*b;
	struct est_answer	 a;
	size_t			 cap;
	char			 base[160] = "", peer[64];
	uint64_t		 t0 = mono_ms();
	int			 plain = coap_session_get_proto(s) !=
				    COAP_PROTO_DTLS;

	if (plain && disc_plain_rate(s, resp))
		return;
	if (plain)
		disc_coaps_base(s, base, sizeof(base));
	disc_query_parse(q != NULL ? (const char *)q->s : NULL, q != NULL ?
	    q->length : 0, &dq);
	cap = disc.nroutes * DISC_LINK_MAX + 1;
	if ((b = malloc(sizeof(*b) + cap)) == NULL) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(503));
		return;
	}
	b->len = disc_doc(s, &dq, base, plain, b, cap);
	memset(&a, 0, sizeof(a));
	answer_clear(&a);
	a.code = EST_CODE(2, 5);
	a.len = b->len;
	a.reason = plain ? "discovery-plain" : "discovery";
	dtls_peer_str(s, peer, sizeof(peer));
	if (!disc_send(r, s, req, q, resp, plain, b, &a))
		OPENSSL_clear_free(b, sizeof(*b) + cap);
	dtls_req_line(dtls_sess_get(s), peer, "core", "", req, 0, &a, t0);
}

/* See discovery.h. */
int
disc_resource(const struct route *routes, size_t n)
{
	coap_resource_t *w;

	disc.routes = routes;
	disc.nroutes = n;
	/* replaces libcoap's own: plain CoAP needs absolute links */
	if ((w = coap_resource_init(coap_make_str_const(".well-known/core"),
	    0)) == NULL)
		return -1;
	coap_register_request_handler(w, COAP_REQUEST_GET, disc_wellknown);
	coap_add_resource(disc.ctx, w);
	return 0;
}

/* See discovery.h. libcoap joins a group on every UDP endpoint. */
int
disc_listen(void)
{
	const struct config *cf = disc.cf;

	/* one UDP port, one process: the first worker serves it */
	if (cf->workers > 1 && cf->worker != 0)
		return 0;
	for (size_t i = 0; i < cf->ndisc_listen; i++)
		if (disc.h.listen(&cf->disc_listen[i], COAP_PROTO_UDP) == -1)
			return -1;
	for (size_t i = 0; i < cf->ndisc_mcast; i++) {
		if (coap_join_mcast_group_intf(disc.ctx, cf->disc_mcast[i],
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
