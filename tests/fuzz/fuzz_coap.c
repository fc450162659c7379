/*
 * libFuzzer target: one datagram as a device sends it after DTLS, through
 * the request path the daemon runs. A libcoap server context on 127.0.0.1
 * has the front's resources (/.well-known/est[/lab1]/<op>, every method;
 * other paths go to the route the datagram's length picks) and a handler
 * that calls req_begin() as coap_front.c does; the datagram goes to it
 * through a loopback socket. The upstream is fake: the link maps
 * upstream_submit_hdrs() and upstream_cancel() to the __wrap_ functions
 * below (GNU ld --wrap, see the Makefile), and the fuzz target answers
 * each exchange itself.
 *
 * The datagram's Message ID also steers what happens around it (the seeds
 * stay plain datagrams): which of three devices sends it, whether it is
 * retransmitted or sent again with another token before the answer (the
 * follower of an identical request) or after it (the exchange memory),
 * whether the device leaves, the registrar drains or is loaded (the
 * empty ACK before the CSR checks) or reloaded, the route policy
 * refuses, and what the upstream answers.
 *
 * Each input starts from a fresh request module (req_init) and ends with
 * req_shutdown(), so that it can be replayed alone. Besides ASan and
 * UBSan, it checks: every request is closed once its upstream exchanges
 * are answered, nothing stays held unacknowledged, every session
 * reference is given back, and the marker of a held request (a 5.08
 * with Hop-Limit 0, which libcoap drops) never reaches a device.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "answer.h"
#include "authz.h"
#include "config.h"
#include "deliver.h"
#include "est_map.h"
#include "est_req.h"
#include "estcoapd.h"
#include "gen.h"
#include "log.h"
#include "pki.h"
#include "route.h"
#include "upstream.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What the Message ID of the datagram steers. */
#define CTL_DEV(c)	((c) & 3)		/* 3: device 0 */
#define CTL_FATE(c)	(((c) >> 2) & 7)	/* the upstream's answer */
#define CTL_COPY(c)	(((c) >> 5) & 3)	/* see fz_copy() */
#define CTL_GONE	0x0080			/* the device leaves */
#define CTL_DRAIN	0x0100			/* draining before it */
#define CTL_CUTOFF	0x0200			/* drain cut-off after it */
#define CTL_DENY	0x0400			/* the route policy refuses */
#define CTL_NOSUBMIT	0x0800			/* the upstream call fails */
#define CTL_LOADED	0x1000			/* ACK first, CSR checks later */
#define CTL_RELOAD	0x2000			/* the other config, mid-way */

#define COPY_NONE	0
#define COPY_RETRANSMIT	1	/* the same datagram before the answer */
#define COPY_FOLLOWER	2	/* another token, before the answer */
#define COPY_MEMORY	3	/* another token, after the answer */

#define FZ_DEVS		3
#define FZ_JOBS		16
#define FZ_PASSES	4

/* ---- the fake upstream ---------------------------------------------------- */

struct fz_job {
	upstream_done_fn	 done;
	void			*arg;
	int			 open;
};

static struct {
	struct fz_job	 jobs[FZ_JOBS];
	unsigned	 n;
	int		 refuse;
} up;

struct upstream_job	*__wrap_upstream_submit_hdrs(struct upstream *, size_t,
			    const char *, const char *, size_t, const char *,
			    const char *const *, upstream_done_fn, void *);
void			 __wrap_upstream_cancel(struct upstream_job *);

struct upstream_job *
__wrap_upstream_submit_hdrs(struct upstream *u, size_t route,
    const char *path, const char *body, size_t len, const char *ctype,
    const char *const *hdrs, upstream_done_fn done, void *arg)
{
	struct fz_job *j;

	(void)u;
	(void)route;
	(void)path;
	(void)body;
	(void)len;
	(void)ctype;
	(void)hdrs;
	if (up.refuse || up.n == FZ_JOBS)
		return NULL;
	j = &up.jobs[up.n++];
	j->done = done;
	j->arg = arg;
	j->open = 1;
	return (struct upstream_job *)j;
}

void
__wrap_upstream_cancel(struct upstream_job *job)
{
	struct fz_job *j = (struct fz_job *)job;

	if (j < up.jobs || j >= up.jobs + up.n || !j->open)
		abort();	/* not ours, or cancelled twice */
	j->open = 0;
}

/* ---- the registrar: libcoap, the front's part, the hooks ----------------- */

struct fz_dev {
	int			 sock;		/* its client socket */
	uint16_t		 port;		/* ... bound here */
	coap_session_t		*session;	/* the server's, once seen */
	struct pki_peer		 id;
	struct dlv_sess		 ds;
	unsigned		 pending;
	int			 early_b2[EST_OP_COUNT];
	int			 refs;
};

static struct {
	int			 ready;
	struct event_base	*base;
	coap_context_t		*ctx;
	struct config		*cf[2];		/* plain; loaded */
	struct route		 routes[2 * EST_OP_COUNT];
	size_t			 nroutes;
	struct fz_dev		 devs[FZ_DEVS];
	int			 deny;
	size_t			 fallback;	/* route of unknown paths */
	char			*p7b64;		/* a certs-only PKCS#7 */
	char			*attb64;	/* CsrAttrs */
} fz;

static void
fz_sess_ref(void *sess)
{
	((struct fz_dev *)sess)->refs++;
}

static void
fz_sess_unref(void *sess)
{
	if (--((struct fz_dev *)sess)->refs < 0)
		abort();
}

static SSL *
fz_ssl(void *sess)
{
	(void)sess;
	return NULL;
}

static int
fz_authorize(void *sess, const struct route *rt, struct est_answer *a)
{
	(void)sess;
	(void)rt;
	if (!fz.deny)
		return 0;
	answer_error(a, EST_CODE(4, 3), "forbidden", "not for this device");
	return -1;
}

static int
fz_cache_answer(const struct route *rt, const coap_pdu_t *req,
    unsigned resp_cf, struct est_answer *a)
{
	(void)rt;
	(void)req;
	(void)resp_cf;
	(void)a;
	return -1;
}

static void
fz_cache_store(const struct route *rt, uint8_t *der, size_t len)
{
	(void)rt;
	(void)len;
	free(der);
}

static void
fz_seen(void)
{
}

static const struct req_hooks fz_hooks = {
	.sess_ref = fz_sess_ref, .sess_unref = fz_sess_unref, .ssl = fz_ssl,
	.authorize = fz_authorize, .cache_answer = fz_cache_answer,
	.cache_store = fz_cache_store, .upstream_seen = fz_seen,
};

/* The device record of a server session (by the client's port). */
static struct fz_dev *
fz_dev_of(coap_session_t *s)
{
	const coap_address_t *a = coap_session_get_addr_remote(s);

	for (size_t i = 0; i < FZ_DEVS; i++)
		if (a != NULL && a->addr.sa.sa_family == AF_INET &&
		    ntohs(a->addr.sin.sin_port) == fz.devs[i].port) {
			fz.devs[i].session = s;
			return &fz.devs[i];
		}
	abort();
}

/* The front's handler, less DTLS and the rate limit. */
static void
fz_handler(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	const struct route	*rt = coap_resource_get_userdata(r);
	struct fz_dev		*d = fz_dev_of(s);
	struct req_in		 in = { r, s, req, q, resp, NULL,
				    { d, &d->id, "127.0.0.1:1", &d->ds,
				    &d->pending, d->early_b2 } };

	in.rt = rt != NULL ? rt : &fz.routes[fz.fallback];
	if (dlv_repeat(s, req, resp))
		return;
	req_begin(&in);
}

static const coap_request_t fz_methods[] = { COAP_REQUEST_GET,
    COAP_REQUEST_POST, COAP_REQUEST_PUT, COAP_REQUEST_DELETE,
    COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH };

static void
fz_methods_to(coap_resource_t *r)
{
	for (size_t m = 0; m < sizeof(fz_methods) / sizeof(fz_methods[0]); m++)
		coap_register_request_handler(r, fz_methods[m], fz_handler);
}

/* The routes and resources of the default route and of "lab1". */
static void
fz_resources(void)
{
	coap_resource_t		*r;
	coap_str_const_t	*p;
	char			 path[96];

	for (size_t n = 0; n < 2; n++)
		for (int i = 0; i < EST_OP_COUNT; i++) {
			struct route *rt = &fz.routes[fz.nroutes++];

			rt->op = estmap_op_by_id((enum est_op_id)i);
			rt->cfroute = n;
			snprintf(rt->label, sizeof(rt->label), "%s",
			    fz.cf[0]->routes[n].label);
			snprintf(path, sizeof(path), ".well-known/est/%s%s%s",
			    rt->label, n > 0 ? "/" : "", rt->op->name);
			if ((p = coap_new_str_const((const uint8_t *)path,
			    strlen(path))) == NULL || (r = coap_resource_init(p,
			    COAP_RESOURCE_FLAGS_RELEASE_URI)) == NULL)
				abort();
			fz_methods_to(r);
			coap_resource_set_userdata(r, rt);
			coap_add_resource(fz.ctx, r);
		}
	if ((r = coap_resource_unknown_init(fz_handler)) == NULL)
		abort();
	fz_methods_to(r);
	coap_add_resource(fz.ctx, r);
}

/*
 * A configuration: the default route takes any CSR identity, "lab1"
 * wants the device's own subject and a PoP it cannot have (ssl NULL).
 * coap and limits are those sections. Nothing it names is read.
 */
static struct config *
fz_config(const char *coap, const char *limits)
{
	struct config	*cf;
	struct errlist	 errs;
	char		 path[64];
	FILE		*fp;
	int		 fd;

	snprintf(path, sizeof(path), "/tmp/estcoapd-fuzz.XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (fp = fdopen(fd, "w")) == NULL)
		abort();
	fprintf(fp, "{\"dtls\": {\"cert\": \"/n/c.pem\", "
	    "\"key\": \"/n/k.pem\", \"client_ca\": \"/n/ca.pem\"}, "
	    "\"upstream\": {\"url\": \"https://ca.invalid:8443\", "
	    "\"client_cert\": \"/n/c.pem\", \"client_key\": \"/n/k.pem\", "
	    "\"ca\": \"/n/ca.pem\"}, "
	    "\"auth\": {\"csr_identity\": \"any\"}, "
	    "\"est\": {\"server_keygen\": true}, "
	    "\"coap\": {%s}, \"limits\": {%s}, "
	    "\"labels\": {\"lab1\": {\"auth\": {\"pop\": \"if-present\"}}}}",
	    coap, limits);
	fclose(fp);
	memset(&errs, 0, sizeof(errs));
	cf = config_load(path, &errs);
	unlink(path);
	if (cf == NULL || cf->nroutes != 2) {
		fprintf(stderr, "%s\n", errs.text != NULL ? errs.text : "?");
		abort();
	}
	/* the device policies, as gen.c makes them */
	for (size_t i = 0; i < cf->nroutes; i++) {
		struct config_route *rt = &cf->routes[i];

		rt->auth = !rt->auth_owned ? cf->routes[0].auth :
		    authz_parse(rt->auth_json, i == 0 ? "auth" :
		    "labels.lab1.auth", cf->file, &errs);
	}
	if (errs.count > 0) {
		fprintf(stderr, "%s\n", errs.text);
		abort();
	}
	return cf;
}

/* A self-signed certificate as certs-only PKCS#7, and a CsrAttrs. */
static void
fz_bodies(void)
{
	static const uint8_t att[] = { 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07 };
	EVP_PKEY	*k = EVP_EC_gen("P-256");
	X509		*x = X509_new();
	PKCS7		*p7 = PKCS7_new();
	unsigned char	*der = NULL;
	int		 len;

	if (k == NULL || x == NULL || p7 == NULL)
		abort();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"device", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	if (X509_sign(x, k, EVP_sha256()) <= 0 ||
	    PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1 ||
	    PKCS7_add_certificate(p7, x) != 1 ||
	    (len = i2d_PKCS7(p7, &der)) <= 0 ||
	    (fz.p7b64 = malloc(4 * ((size_t)len + 2) / 3 + 4)) == NULL ||
	    (fz.attb64 = malloc(4 * (sizeof(att) + 2) / 3 + 4)) == NULL)
		abort();
	EVP_EncodeBlock((unsigned char *)fz.p7b64, der, len);
	EVP_EncodeBlock((unsigned char *)fz.attb64, att, (int)sizeof(att));
	OPENSSL_free(der);
	PKCS7_free(p7);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A UDP socket bound to 127.0.0.1; its address in *a. */
static int
fz_udp(struct sockaddr_in *a)
{
	socklen_t	alen = sizeof(*a);
	int		fd;

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)a, sizeof(*a)) == -1 ||
	    getsockname(fd, (struct sockaddr *)a, &alen) == -1)
		abort();
	return fd;
}

/* The server's endpoint and the devices' sockets, connected to it. */
static void
fz_coap(void)
{
	struct sockaddr_in	srv, a;
	coap_address_t		addr;
	int			fd;

	fd = fz_udp(&srv);
	close(fd);
	coap_address_init(&addr);
	addr.size = sizeof(srv);
	memcpy(&addr.addr.sin, &srv, sizeof(srv));
	if ((fz.ctx = coap_new_context(NULL)) == NULL)
		abort();
	/* as the front: before any endpoint */
	coap_context_set_block_mode(fz.ctx, COAP_BLOCK_USE_LIBCOAP);
	if (coap_new_endpoint(fz.ctx, &addr, COAP_PROTO_UDP) == NULL)
		abort();
	for (size_t i = 0; i < FZ_DEVS; i++) {
		struct fz_dev *d = &fz.devs[i];

		d->sock = fz_udp(&a);
		d->port = ntohs(a.sin_port);
		if (connect(d->sock, (struct sockaddr *)&srv, sizeof(srv)) ==
		    -1)
			abort();
		snprintf(d->id.subject, sizeof(d->id.subject),
		    "CN=device-%zu", i);
		memset(d->id.fp, (int)(0x10 + i), sizeof(d->id.fp));
	}
}

static void
fz_init(void)
{
	coap_startup();
	/* FUZZ_COAP_DEBUG=1: every step on stderr, to see what an input does */
	coap_set_log_level(getenv("FUZZ_COAP_DEBUG") != NULL ? LOG_DEBUG :
	    LOG_EMERG);
	log_init(1, getenv("FUZZ_COAP_DEBUG") != NULL ? LOG_LVL_DEBUG :
	    LOG_LVL_ERR);
	fz.cf[0] = fz_config("", "\"max_pending_per_session\": 3");
	/* loaded: the empty ACK at once; a smaller exchange memory */
	fz.cf[1] = fz_config("\"ack_hold_max_pending\": 0",
	    "\"exchange_entries\": 2, \"max_pending_per_device\": 2");
	fz_bodies();
	if ((fz.base = event_base_new()) == NULL)
		abort();
	fz_coap();
	fz_resources();
	fz.ready = 1;
}

/* ---- one input ------------------------------------------------------------- */

/*
 * Is this the marker of a held request (reply_hold(): 5.08 with a
 * Hop-Limit of 0), which libcoap must drop? libcoap's own 5.08, for a
 * request with Hop-Limit 1 (RFC 8768 3), echoes that 1.
 */
static int
fz_is_hold_marker(const uint8_t *buf, size_t n)
{
	coap_opt_iterator_t	 it;
	coap_opt_t		*o;
	coap_pdu_t		*pdu;
	int			 m;

	if (buf[1] != COAP_RESPONSE_CODE(508))
		return 0;
	if ((pdu = coap_pdu_init(0, 0, 0, n)) == NULL)
		abort();
	m = !coap_pdu_parse(COAP_PROTO_UDP, buf, n, pdu) ||
	    ((o = coap_check_option(pdu, COAP_OPTION_HOP_LIMIT, &it)) !=
	    NULL && coap_decode_var_bytes(coap_opt_value(o),
	    coap_opt_length(o)) == 0);
	coap_delete_pdu(pdu);
	return m;
}

/* What a device got: never the hold marker; a CON is acknowledged. */
static void
fz_dev_read(struct fz_dev *d)
{
	uint8_t		 buf[2048], ack[4];
	ssize_t		 n;

	while ((n = recv(d->sock, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		if (n < 4 || fz_is_hold_marker(buf, (size_t)n))
			abort();
		if (((buf[0] >> 4) & 3) == COAP_MESSAGE_CON) {
			ack[0] = 0x60;
			ack[1] = 0;
			ack[2] = buf[2];
			ack[3] = buf[3];
			(void)send(d->sock, ack, sizeof(ack), 0);
		}
	}
}

/* A few passes of the loop: events, libcoap, the devices. */
static void
fz_pump(void)
{
	for (int i = 0; i < FZ_PASSES; i++) {
		event_base_loop(fz.base, EVLOOP_NONBLOCK);
		coap_io_process(fz.ctx, COAP_IO_NO_WAIT);
		for (size_t k = 0; k < FZ_DEVS; k++)
			fz_dev_read(&fz.devs[k]);
	}
}

/* The upstream answers every open exchange as fate says. */
static void
fz_answer(unsigned fate, const uint8_t *data, size_t size)
{
	struct upstream_result	r;
	const char		*b64;

	for (unsigned i = 0; i < up.n; i++) {
		struct fz_job *j = &up.jobs[i];

		if (!j->open)
			continue;
		j->open = 0;
		memset(&r, 0, sizeof(r));
		r.retry_after = -1;
		r.ms = 1;
		r.server = "https://ca.invalid:8443";
		r.end = UPSTREAM_OK;
		switch (fate) {
		case 0:		/* a certificate, or the attributes */
		case 1:
			b64 = fate == 0 ? fz.p7b64 : fz.attb64;
			r.status = 200;
			r.ctype = fate == 0 ? "application/pkcs7-mime" :
			    "application/csrattrs";
			r.body = (const uint8_t *)b64;
			r.body_len = strlen(b64);
			break;
		case 2:		/* come back later */
			r.status = 202;
			r.retry_after = (long)(size % 5000);
			break;
		case 3:
			r.end = UPSTREAM_TIMEOUT;
			break;
		case 4:
			r.end = UPSTREAM_FAILED;
			r.error = "refused";
			break;
		case 5:		/* the datagram, as a refusal's text */
			r.status = 400 + (long)(size % 200);
			r.ctype = "text/plain";
			r.body = data;
			r.body_len = size;
			break;
		default:	/* the datagram, as the answer's body */
			r.status = fate == 6 ? 200 : 204;
			r.ctype = size % 2 ? "application/pkcs7-mime" :
			    "application/csrattrs";
			r.body = data;
			r.body_len = size;
			break;
		}
		j->done(j->arg, &r);
	}
}

/*
 * The same request again: the datagram as it was (a retransmission), or
 * with another Message ID and token (a new request, identical).
 */
static void
fz_copy(struct fz_dev *d, const uint8_t *data, size_t size, int retransmit)
{
	uint8_t *c;

	if (retransmit) {
		(void)send(d->sock, data, size, 0);
		return;
	}
	/* a token to change, in a datagram of version 1 */
	if (size < 5 || (data[0] & 0x0f) == 0 || (data[0] & 0x0f) > 8 ||
	    (c = malloc(size)) == NULL)
		return;
	memcpy(c, data, size);
	c[3] ^= 0x5a;
	c[4] ^= 0x80;
	(void)send(d->sock, c, size, 0);
	free(c);
}

/* Fresh state for an input: the request module and the devices. */
static void
fz_begin(unsigned ctl)
{
	memset(&up, 0, sizeof(up));
	for (size_t i = 0; i < FZ_DEVS; i++) {
		struct fz_dev *d = &fz.devs[i];

		LIST_INIT(&d->ds.all);
		d->ds.active = 0;
		d->pending = 0;
		d->refs = 0;
		for (int k = 0; k < EST_OP_COUNT; k++)
			d->early_b2[k] = -1;
	}
	if (req_init(fz.base, fz.ctx, NULL, fz.cf[(ctl & CTL_LOADED) != 0],
	    &fz_hooks) == -1)
		abort();
}

/* The end of an input: everything closed, every reference back. */
static void
fz_end(unsigned fate, const uint8_t *data, size_t size)
{
	for (int i = 0; i < FZ_PASSES && req_pending() > 0; i++) {
		fz_answer(fate, data, size);
		fz_pump();
	}
	if (req_pending() != 0 || dlv_held() != 0)
		abort();	/* a request left behind */
	req_shutdown();
	for (size_t i = 0; i < FZ_DEVS; i++)
		if (fz.devs[i].refs != 0 || fz.devs[i].pending != 0 ||
		    fz.devs[i].ds.active != 0)
			abort();
	fz_pump();		/* what libcoap still sends */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned	 ctl = size >= 4 ? (unsigned)data[2] << 8 | data[3] : 0;
	struct fz_dev	*d = &fz.devs[CTL_DEV(ctl) % FZ_DEVS];

	if (!fz.ready)
		fz_init();
	if (size == 0)
		return 0;
	fz_begin(ctl);
	fz.fallback = size % fz.nroutes;
	fz.deny = (ctl & CTL_DENY) != 0;
	up.refuse = (ctl & CTL_NOSUBMIT) != 0;
	if (ctl & CTL_DRAIN)
		req_drain();
	(void)send(d->sock, data, size, 0);
	fz_pump();
	if (CTL_COPY(ctl) == COPY_RETRANSMIT ||
	    CTL_COPY(ctl) == COPY_FOLLOWER) {
		fz_copy(d, data, size, CTL_COPY(ctl) == COPY_RETRANSMIT);
		fz_pump();
	}
	if (ctl & CTL_RELOAD)
		req_configure(fz.cf[(ctl & CTL_LOADED) == 0]);
	if ((ctl & CTL_GONE) && d->session != NULL) {
		dlv_sess_gone(&d->ds);
		req_session_gone(d->session);
	}
	if (ctl & CTL_CUTOFF)
		req_drain_cutoff();
	fz_answer(CTL_FATE(ctl), data, size);
	fz_pump();
	if (CTL_COPY(ctl) == COPY_MEMORY) {
		fz_copy(d, data, size, 0);
		fz_pump();
	}
	req_tick(mono_ms());
	fz_end(CTL_FATE(ctl), data, size);
	return 0;
}
