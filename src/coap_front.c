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
#include "dtls.h"
#include "estcoapd.h"
#include "est_map.h"
#include "est_req.h"
#include "answer.h"
#include "exchange.h"
#include "gen.h"
#include "iobatch.h"
#include "log.h"
#include "memtrim.h"
#include "metrics.h"
#include "pending.h"
#include "ratelimit.h"
#include "reply.h"
#include "resume_dev.h"
#include "route.h"
#include "streak.h"
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
#define FRONT_HELD_ENTRIES	4096
#define FRONT_HELD_BYTES	(16u << 20)

/* Max-Age of the 5.03 that tells a device to ask again for a held answer. */
#define FRONT_HELD_MAX_AGE	1

static struct front {
	struct event_base	*base;
	struct config		*cf;
	struct upstream		*up;
	coap_context_t		*ctx;
	struct event		*ev;		/* libcoap's epoll fd */
	struct iob		*iob;		/* datagrams per pass, or NULL */
	struct event		*io_resume;	/* re-adds ev after a streak */
	uint64_t		 io_streak;	/* mono_ms: passes in a row since */
	uint64_t		 io_last;	/* mono_ms: the last pass */
	struct rl_table		*rl;		/* per-source rate, NULL: off */
	/* every (label, op) pair served: (1 + labels) x EST_OP_COUNT */
	struct route		 routes[ROUTE_MAX];
	size_t			 nroutes;
	struct req_policy	 pol;		/* the caches' answers */
	int			 draining;	/* SIGTERM: finish, take no more */
	int			 upstream_seen;	/* any exchange finished yet */
	struct memtrim		 trim;		/* freed heap back after reclaims */
} fr;



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
	((struct dtls_sess *)sess)->refs++;
}

static void
front_sess_unref(void *sess)
{
	dtls_sess_put(sess);
}

static SSL *
front_sess_ssl(void *sess)
{
	struct dtls_sess *fs = sess;

	return fs != NULL && fs->session != NULL ? dtls_ssl(fs->session) :
	    NULL;
}

static int
front_sess_authorize(void *sess, const struct route *rt,
    struct est_answer *a)
{
	struct dtls_sess *fs = sess;

	return dtls_authorize(fs, fs != NULL ? fs->session : NULL, rt, a);
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
	struct dtls_sess	*fs;
	struct est_answer	 a;
	struct req_in		 in = { r, s, req, q, resp, rt, { 0 } };
	int			 wait;

	if (coap_session_get_proto(s) != COAP_PROTO_DTLS) {
		disc_plain_refuse(s, req, resp, rt->op->name, rt->label,
		    mono_ms());
		return;
	}
	if (dlv_repeat(s, req, resp))
		return;
	fs = dtls_sess_get(s);
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
		dtls_req_line(fs, "-", rt->op->name, rt->label, req, 0, &a,
		    mono_ms());
		answer_clear(&a);
		return;
	}
	req_begin(&in);
}

/* libcoap session events: the session side is dtls.c's. */
static int
front_event_cb(coap_session_t *s, coap_event_t ev)
{
	/* a closing session's requests and uploads go with it */
	if (ev == COAP_EVENT_SERVER_SESSION_DEL)
		req_session_gone(s);
	dtls_event(s, ev);
	if (ev == COAP_EVENT_DTLS_CLOSED || ev == COAP_EVENT_DTLS_ERROR)
		req_session_gone(s);
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
	dtls_peer_str(s, peer, sizeof(peer));
	log_info("coap: message mid=%d to peer=%s %s, given up", (int)mid,
	    peer, why);
}

/*
 * Datagrams read per pass of libcoap over its sessions: a burst costs one
 * pass per batch instead of two per datagram (iobatch.h).
 */
#define FRONT_IO_BATCH	64

/*
 * How long passes over libcoap's fd may follow each other before the
 * loop's other work gets a turn: datagrams come first (EVPRIO_DATAGRAMS),
 * but a stream that never lets the socket run dry must not stop the
 * timers, the upstream and the checks of requests already acknowledged
 * for longer than this.
 */
#define FRONT_IO_STREAK_MS	250
#define FRONT_IO_GAP_MS		10	/* a longer pause ends a streak */

/* The other work had its turn: read datagrams again. */
static void
front_io_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fr.io_streak = 0;
	if (event_add(fr.ev, NULL) == -1)
		fatalx("cannot watch libcoap's fd again");
}

/* libcoap's fd is readable: process I/O and due timers, never block. */
static void
front_io_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t start = mono_ms();

	(void)fd;
	(void)what;
	(void)arg;
	/* a pass right after the last one continues its streak */
	if (fr.io_streak == 0 || start - fr.io_last > FRONT_IO_GAP_MS)
		fr.io_streak = start;
	if (fr.iob != NULL)
		iob_run(fr.iob);
	else
		coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
	fr.io_last = mono_ms();
	if (fr.io_last - fr.io_streak >= FRONT_IO_STREAK_MS &&
	    fr.io_resume != NULL) {
		event_del(fr.ev);
		event_active(fr.io_resume, EV_TIMEOUT, 0);
	}
}

/* TLS extension of RFC 7250 4.1; our OpenSSL headers may not name it. */
#define FRONT_EXT_CLIENT_CERT_TYPE	19
#define FRONT_CERT_TYPE_X509		0

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
	if (disc_is_mcast(s) || (coap_session_get_proto(s) !=
	    COAP_PROTO_DTLS && disc_plain_rate(s, resp))) {
		/* RFC 7252 8.2: no error answers to multicast requests */
		disc_no_answer(resp);
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
	dtls_req_line(dtls_sess_get(s), "-", name, "", req, len, &a, t0);
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
	coap_resource_t *u;

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
	if (disc_resource(fr.routes, fr.nroutes) == -1)
		return -1;
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
	uint64_t	now = mono_ms();
	unsigned	nsess, nhs;

	req_tick(now);
	dtls_tick(now);
	cache_tick();
	/* state changed outside libcoap does not poke its timerfd */
	coap_io_process(fr.ctx, COAP_IO_NO_WAIT);
	dtls_counts(&nsess, &nhs);
	memtrim_tick(&fr.trim, nsess);
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
 * Hand libcoap our certificate and key (PEM buffers of cf, dtls.c) and
 * the context limits of cf. libcoap keeps pointers into cf's buffers
 * until the next call, so cf must stay alive until then.
 */
static int
front_apply(struct config *cf)
{
	if (dtls_apply(fr.ctx, cf) == -1)
		return -1;
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
	dtls_configure(cf);
	gen_ref(cf);
	gen_unref(fr.cf);
	fr.cf = cf;
	disc_configure(cf);
	return 0;
}

/* See coap_front.h. */
void
front_drain(void)
{
	fr.draining = 1;
	dtls_drain();
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
	unsigned	 nsess, nhs;

	if (!fr.upstream_seen)
		snprintf(up, sizeof(up), "not yet tried");
	else if (dead != NULL)
		snprintf(up, sizeof(up), "%u/%u servers up, none for %s%s", n,
		    total, *dead != '\0' ? "label " : "the default route",
		    dead);
	else
		snprintf(up, sizeof(up), "%u/%u servers up", n, total);
	dtls_counts(&nsess, &nhs);
	snprintf(buf, bufsz, "%s; %u sessions (%u in handshake), %u pending, "
	    "upstream %s", fr.draining ? "draining" : "serving",
	    nsess, nhs, req_pending(), up);
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
	    NULL)) == NULL) {
		log_warnx("cannot watch libcoap's fd");
		return -1;
	}
	/* a loop made without priorities (tests) runs them in one */
	(void)event_priority_set(fr.ev, EVPRIO_DATAGRAMS);
	/* with the checks: the lowest, so everything else runs first */
	if ((fr.io_resume = event_new(base, -1, 0, front_io_resume_cb,
	    NULL)) == NULL) {
		log_warnx("cannot watch libcoap's fd");
		return -1;
	}
	(void)event_priority_set(fr.io_resume, EVPRIO_CHECKS);
	if (event_add(fr.ev, NULL) == -1) {
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
	dtls_init(base, cf);
	fr.rl = front_rl_new(cf);
	if (front_coap_start() == -1 ||
	    req_init(base, fr.ctx, up, cf, &hooks) == -1)
		return -1;
	cache_init(&(const struct cache_env){ .up = up, .pool = req_pool(),
	    .pol = &fr.pol, .pool_changed = req_pool_gauges,
	    .seen = front_cache_seen }, cf);
	disc_init(fr.ctx, cf, &(const struct disc_hooks){
	    .rate = front_rate_check, .listen = front_listen });
	if (front_apply(cf) == -1)
		return -1;
	for (size_t i = 0; i < cf->nlisten; i++)
		if (front_listen(&cf->listen[i], COAP_PROTO_DTLS) == -1)
			return -1;
	if (disc_listen() == -1)
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
	/* our session references before the context, or endpoints assert */
	cache_shutdown();
	req_shutdown();
	if (fr.ev != NULL)
		event_free(fr.ev);
	if (fr.io_resume != NULL)
		event_free(fr.io_resume);
	iob_free(fr.iob);
	/* SERVER_SESSION_DEL does not fire at context free in 4.3.1 */
	dtls_shutdown();
	if (fr.ctx != NULL)
		coap_free_context(fr.ctx);
	resume_dev_free();
	rl_table_free(fr.rl);
	coap_cleanup();
	gen_unref(fr.cf);
	memset(&fr, 0, sizeof(fr));
}
