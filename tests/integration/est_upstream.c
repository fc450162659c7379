/*
 * est-testserver: a test-only RFC 7030 EST server over HTTPS with mutual
 * TLS, the upstream that the integration tests put behind estcoapd.
 *
 * Single-threaded on libevent (evhttp over bufferevent_openssl), loopback
 * only.  It serves /cacerts, /simpleenroll, /simplereenroll, /csrattrs and
 * /serverkeygen, with or without one label segment, issues real
 * certificates from a signing CA, logs one line per request and reads a
 * mode file on every request so a test can make it slow, failing or broken
 * on purpose.
 *
 * --profile NAME makes it behave like a real server family (est_profile.h:
 * rfc8951, the default, libest, globalsign, openxpki): how it decodes
 * requests and what it refuses, how it lays out base64, its error texts,
 * TLS limits, serverkeygen key form, and how it defers enrollments (202):
 * mode manual=SECS answers 202 to a public key's first request and issues
 * its repeat (libest -m); under openxpki, approval=manual keeps each new
 * CSR waiting until a request sees approve=1, and the same CSR then picks
 * up the same certificate.
 *
 * /serverkeygen ignores the CSR's key (RFC 7030 4.4.1), makes a key (the
 * profile's kind, or mode skg_alg=, or hands out mode skg_keyfile=; skg_form= picks the encoding: pkcs8,
 * pkcs1 and sec1 with an RSA or EC key, pem, junk), and answers
 * multipart/mixed with a key part and a cert part (RFC 7030 4.4.2).  With -l reqlog the key is
 * also written, as PEM, to <reqlog>.lastkey.pem, replaced on every
 * successful answer.
 *
 * Each request line ends with cte= (the Content-Transfer-Encoding, or -),
 * h2= (1 when the client offered h2 by ALPN; profile globalsign only),
 * cmcra= (1 when the registrar's client certificate has EKU id-kp-cmcRA),
 * cc= (the CN of an RFC 9440 Client-Cert header, or -), ccc= (the number
 * of entries of Client-Cert-Chain, or -) and cn= (the registrar's
 * certificate).  The last request's two header values are kept verbatim
 * in <reqlog>.clientcert, one per line.  The last request with a body is
 * kept in <reqlog>.lastbody: a line "cte=<its Content-Transfer-Encoding or
 * ->", then the body verbatim.
 */

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "est_b64.h"
#include "est_pending.h"
#include "est_profile.h"

#define LISTEN_ADDR	"127.0.0.1"
#define EST_PREFIX	"/.well-known/est/"
#define MAX_BODY	(64 * 1024)	/* our cap on a request body: 413 past it */
#define MAX_BODY_HARD	(4 * 1024 * 1024) /* evhttp's cap: 413, not logged */
#define MAX_FILE	(64 * 1024)	/* -x file and mode file lines are small */
#define OVERSIZE_LEN	(2 * 1024 * 1024) /* body=oversize: ~2 MiB of base64 */
#define CLOSEMID_CLAIM	5000		/* body=closemid: Content-Length sent */
#define CLOSEMID_SEND	100		/* body=closemid: bytes really sent */
#define ENDLESS_CHUNK	16384		/* body=endless: bytes per chunk */
#define ENDLESS_CAP	(256u << 20)	/* body=endless: stop here anyway */
#define ALERT_SEND	100		/* body=alert: bytes before the alert */
#define CERT_DAYS	365
#define CT_PKCS7	"application/pkcs7-mime; smime-type=certs-only"
#define CT_CSRATTRS	"application/csrattrs"
#define CT_TEXT		"text/plain"
#define CT_PKCS8	"application/pkcs8"
#define CT_SKG_KEY "application/pkcs7-mime; smime-type=server-generated-key"
#define SKG_BOUNDARY	"est-server-unique-boundary"
#define SKG_BOUNDARY_Q	"est boundary:1"	/* needs quoting: SP and ':' */
#define SKG_PREAMBLE	"This is the preamble of a serverkeygen answer."
#define SKG_EPILOGUE	"This is the epilogue, after the close delimiter."

enum est_op {
	OP_CACERTS,
	OP_SIMPLEENROLL,
	OP_SIMPLEREENROLL,
	OP_CSRATTRS,
	OP_SERVERKEYGEN,
};

/* One row per EST operation we serve. */
static const struct op_def {
	const char		*name;
	enum evhttp_cmd_type	 method;
	const char		*allow;		/* Allow header for a 405 */
} op_defs[] = {
	[OP_CACERTS] =		{ "cacerts",		EVHTTP_REQ_GET,  "GET" },
	[OP_SIMPLEENROLL] =	{ "simpleenroll",	EVHTTP_REQ_POST, "POST" },
	[OP_SIMPLEREENROLL] =	{ "simplereenroll",	EVHTTP_REQ_POST, "POST" },
	[OP_CSRATTRS] =		{ "csrattrs",		EVHTTP_REQ_GET,  "GET" },
	[OP_SERVERKEYGEN] =	{ "serverkeygen",	EVHTTP_REQ_POST, "POST" },
};
#define NOPS	(sizeof(op_defs) / sizeof(op_defs[0]))

/*
 * Default CsrAttrs: SEQUENCE { challengePassword (1.2.840.113549.1.9.7),
 * ecdsa-with-SHA256 (1.2.840.10045.4.3.2) }, both as bare OIDs (RFC 7030
 * 4.5.2 AttrOrOID).
 */
static const unsigned char default_csrattrs[] = {
	0x30, 0x15,
	0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
};

/* The CsrAttrs example of RFC 7030 4.5.2 (globalsign's label "csrattrs"). */
static const unsigned char rfc7030_csrattrs[] = {
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	0x01, 0x09, 0x07, 0x30, 0x12, 0x06, 0x07, 0x2a, 0x86, 0x48,
	0xce, 0x3d, 0x02, 0x01, 0x31, 0x07, 0x06, 0x05, 0x2b, 0x81,
	0x04, 0x00, 0x22, 0x30, 0x16, 0x06, 0x09, 0x2a, 0x86, 0x48,
	0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e, 0x31, 0x09, 0x06, 0x07,
	0x2b, 0x06, 0x01, 0x01, 0x01, 0x01, 0x16, 0x06, 0x08, 0x2a,
	0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
};

/* The knobs of the mode file, as read for one request. */
struct mode {
	char	op[32];			/* "" = the knobs apply to every op */
	long	delay_ms;		/* answer this late; 0 = at once */
	int	status;			/* 0 = behave normally */
	char	body_text[256];		/* text/plain body of a status answer */
	char	retry_after[128];	/* copied verbatim into Retry-After */
	char	body[32];		/* garbage, notsigned, ... ; "" = normal */
	char	ctype[128];		/* Content-Type override; "" = none */
	int	cte;			/* add Content-Transfer-Encoding: base64 */
	int	close;			/* Connection: close on every answer */
	char	cacerts[PATH_MAX];	/* bundle to serve instead of -b */
	int	chain;			/* chain=1: enroll answers add -b */
	char	skg_keyfile[PATH_MAX];	/* PEM key serverkeygen hands out */
	/* Only /serverkeygen looks at these. */
	int	skg_reverse;		/* skg_order=reverse: cert part first */
	int	skg_encrypted;		/* skg_key=encrypted: CMS key label */
	int	skg_quoted;		/* skg_boundary=quoted */
	int	skg_lf;			/* skg_lf=1: LF, not CRLF, line ends */
	char	skg_broken[16];		/* missing, noboundary, truncated */
	char	skg_alg[16];		/* p256, rsa2048 ...; "" = profile's */
	char	skg_form[8];		/* pkcs8, pkcs1, sec1, pem, junk;
					   "" = the profile's form */
	/* Enrollments the CA does not issue at once (RFC 7030 4.2.3). */
	long	manual;			/* libest -m: 202 + Retry-After this,
					   then issue on the repeat; 0 = off */
	int	approval_manual;	/* OpenXPKI: new CSRs wait (202) */
	int	approve;		/* OpenXPKI: operator approved them */
};

struct server;

/* One answer waiting to be sent, now or when its delay timer fires. */
struct pending {
	TAILQ_ENTRY(pending)	 entry;
	struct server		*srv;
	struct evhttp_request	*req;	/* owned by libevent until we reply */
	struct event		*timer;	/* delay_ms timer, NULL if none */
	int			 status;
	struct evbuffer		*body;	/* ours; evhttp drains it on send */
	size_t			 claim_len; /* >0: claim this Content-Length,
					       send the shorter body, close */
	int			 endless;   /* body=endless */
	int			 alert;	    /* body=alert */
	char			 reason[128]; /* status phrase; "" = evhttp's */
	struct b64_layout	 lay;	    /* base64 of this answer */
	char			 label[64]; /* CA label of the path, or "" */
};

/* body=endless: one chunked answer that only stops when the client goes. */
struct endless {
	struct evhttp_request	*req;
	size_t			 sent;	/* bytes so far, < ENDLESS_CAP */
};

/* Everything the server holds, freed in server_free(). */
struct server {
	struct event_base	*base;
	struct evhttp		*http;
	SSL_CTX			*ssl;
	X509			*ca_cert;	/* signs issued certificates */
	EVP_PKEY		*ca_key;
	STACK_OF(X509)		*bundle;	/* -b, served by /cacerts */
	unsigned char		*csrattrs;	/* -x contents, or NULL */
	size_t			 csrattrs_len;
	const char		*modefile;	/* -m, or NULL */
	const char		*reqlog_path;	/* -l, or NULL */
	FILE			*reqlog;
	struct event		*sigterm;
	struct event		*sigint;
	TAILQ_HEAD(, pending)	 pendings;	/* delayed answers */
	const struct prof	*pf;		/* --profile */
	struct pend_table	 waiting;	/* enrollments not issued yet */
};

/* Print the OpenSSL error queue after a message, and empty it. */
static void
ssl_warnx(const char *what)
{
	warnx("%s", what);
	ERR_print_errors_fp(stderr);
}

/* Copy src into dst for a log line: spaces become '_', other odd bytes '?'. */
static void
log_clean(char *dst, size_t dstsz, const char *src)
{
	size_t i;

	if (src == NULL || *src == '\0')
		src = "-";
	for (i = 0; i + 1 < dstsz && src[i] != '\0'; i++) {
		unsigned char c = src[i];

		if (c == ' ' || c == '\t')
			dst[i] = '_';
		else if (c < 0x21 || c > 0x7e)
			dst[i] = '?';
		else
			dst[i] = c;
	}
	dst[i] = '\0';
}

/* The TLS connection behind req, or NULL. */
static SSL *
req_ssl(struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return NULL;
	return bufferevent_openssl_get_ssl(bev);
}

/* The TLS client certificate behind req, or NULL. */
static X509 *
req_peer(struct evhttp_request *req)
{
	SSL *ssl = req_ssl(req);

	return ssl != NULL ? SSL_get0_peer_certificate(ssl) : NULL;
}

/* Find the common name of the TLS client certificate behind req. */
static void
peer_cn(struct evhttp_request *req, char *cn, size_t cnsz)
{
	X509 *peer;

	cn[0] = '\0';
	if ((peer = req_peer(req)) == NULL)
		return;
	if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer),
	    NID_commonName, cn, (int)cnsz) < 0)
		cn[0] = '\0';
	ERR_clear_error();
}

/* 1 when the registrar's TLS client certificate has EKU id-kp-cmcRA. */
static int
peer_cmcra(struct evhttp_request *req)
{
	EXTENDED_KEY_USAGE *eku;
	X509 *peer;
	int i, hit = 0;

	if ((peer = req_peer(req)) == NULL)
		return 0;
	if ((eku = X509_get_ext_d2i(peer, NID_ext_key_usage, NULL, NULL)) ==
	    NULL) {
		ERR_clear_error();
		return 0;
	}
	for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_cmcRA)
			hit = 1;
	EXTENDED_KEY_USAGE_free(eku);
	return hit;
}

/*
 * The CN of the certificate in an RFC 9440 Client-Cert value
 * (":<base64 DER>:"), "bad" when it does not decode, "-" when absent.
 */
static void
client_cert_cn(const char *v, char *cn, size_t cnsz)
{
	unsigned char *der;
	const unsigned char *p;
	size_t n;
	int len;
	X509 *x;

	snprintf(cn, cnsz, "%s", v == NULL ? "-" : "bad");
	if (v == NULL || (n = strlen(v)) < 3 || v[0] != ':' || v[n - 1] != ':' ||
	    (n - 2) % 4 != 0 || (der = malloc(n)) == NULL)
		return;
	len = EVP_DecodeBlock(der, (const unsigned char *)v + 1, (int)n - 2);
	/* EVP_DecodeBlock counts the padding as data */
	if (len > 0 && v[n - 2] == '=')
		len -= v[n - 3] == '=' ? 2 : 1;
	p = der;
	if (len > 0 && (x = d2i_X509(NULL, &p, len)) != NULL) {
		if (p != der + len || X509_NAME_get_text_by_NID(
		    X509_get_subject_name(x), NID_commonName, cn, (int)cnsz) < 0)
			snprintf(cn, cnsz, "bad");
		X509_free(x);
	}
	ERR_clear_error();
	free(der);
}

/* Entries of a Client-Cert-Chain value ("-" when absent). */
static void
client_chain_count(const char *v, char *out, size_t outsz)
{
	int n = 1;

	if (v == NULL) {
		snprintf(out, outsz, "-");
		return;
	}
	for (const char *c = v; *c != '\0'; c++)
		n += *c == ',';
	snprintf(out, outsz, "%d", n);
}

/* Keep the last request's Client-Cert fields in <reqlog>.clientcert. */
static void
client_cert_save(struct server *srv, const char *cc, const char *chain)
{
	char path[1024];
	FILE *f;

	if ((size_t)snprintf(path, sizeof(path), "%s.clientcert",
	    srv->reqlog_path) >= sizeof(path) || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%s\n%s\n", cc != NULL ? cc : "-", chain != NULL ? chain :
	    "-");
	fclose(f);
}

/* Keep the last request body and its CTE header in <reqlog>.lastbody. */
static void
body_save(struct server *srv, struct evhttp_request *req)
{
	struct evbuffer *b = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(b);
	const char *cte = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Transfer-Encoding");
	char path[1024];
	FILE *f;

	if (len == 0 || (size_t)snprintf(path, sizeof(path), "%s.lastbody",
	    srv->reqlog_path) >= sizeof(path) || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "cte=%s\n", cte != NULL ? cte : "-");
	fwrite(evbuffer_pullup(b, -1), 1, len, f);
	fclose(f);
}

/* Append the request line to the -l file and flush it at once. */
static void
reqlog_write(struct server *srv, struct evhttp_request *req)
{
	/* evhttp_cmd_type values are single bits, in this order. */
	static const char *names[] = { "GET", "POST", "HEAD", "PUT", "DELETE",
	    "OPTIONS", "TRACE", "CONNECT", "PATCH" };
	char method[16], path[512], ctype[256], cnraw[256], cn[256];
	char ccn[128], ccraw[128], nchain[16], cte[32];
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *cc, *chain;
	int bit = ffs((int)evhttp_request_get_command(req)) - 1;
	const char *m = "OTHER";

	if (srv->reqlog == NULL)
		return;
	if (bit >= 0 && bit < (int)(sizeof(names) / sizeof(names[0])))
		m = names[bit];
	log_clean(method, sizeof(method), m);
	log_clean(path, sizeof(path), evhttp_request_get_uri(req));
	log_clean(ctype, sizeof(ctype), evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type"));
	peer_cn(req, cnraw, sizeof(cnraw));
	log_clean(cn, sizeof(cn), cnraw);
	cc = evhttp_find_header(in, "Client-Cert");
	chain = evhttp_find_header(in, "Client-Cert-Chain");
	client_cert_cn(cc, ccraw, sizeof(ccraw));
	log_clean(ccn, sizeof(ccn), ccraw);
	client_chain_count(chain, nchain, sizeof(nchain));
	client_cert_save(srv, cc, chain);
	body_save(srv, req);
	/* cn= stays last: tests anchor it at the end of the line */
	log_clean(cte, sizeof(cte), evhttp_find_header(in,
	    "Content-Transfer-Encoding"));
	fprintf(srv->reqlog, "%s %s ctype=%s len=%zu cte=%s h2=%d cmcra=%d "
	    "cc=%s ccc=%s cn=%s\n", method, path, ctype,
	    evbuffer_get_length(evhttp_request_get_input_buffer(req)), cte,
	    prof_h2_offered(req_ssl(req)), peer_cmcra(req), ccn, nchain, cn);
	fflush(srv->reqlog);
}

/* Copy a mode value into a fixed field; -1 if it does not fit. */
static int
mode_copy(char *dst, size_t dstsz, const char *val)
{
	return (size_t)snprintf(dst, dstsz, "%s", val) >= dstsz ? -1 : 0;
}

/* Set *flag to 0 for the value off, 1 for on; -1 for anything else. */
static int
mode_flag(int *flag, const char *val, const char *off, const char *on)
{
	if (strcmp(val, off) == 0)
		*flag = 0;
	else if (strcmp(val, on) == 0)
		*flag = 1;
	else
		return -1;
	return 0;
}

/* Apply one key=value line of the mode file; -1 on an unknown key or value. */
static int
mode_set(struct mode *m, const char *key, const char *val)
{
	static const char *bodies[] = { "garbage", "notsigned", "zerocerts",
	    "oneline", "spaces", "oversize", "closemid", "truncate",
	    "endless", "alert", "nul", "nopad", "lf" };
	static const char *broken[] = { "missing", "noboundary", "truncated" };
	static const char *forms[] = { "pkcs8", "pkcs1", "sec1", "pem",
	    "junk" };
	char *end;
	long n;
	size_t i;

	if (strcmp(key, "op") == 0) {
		/* Keep even a misspelt name, so the knobs then apply to none. */
		if (mode_copy(m->op, sizeof(m->op), val) == -1)
			mode_copy(m->op, sizeof(m->op), "?");
		for (i = 0; i < NOPS; i++)
			if (strcmp(val, op_defs[i].name) == 0)
				return 0;
		return -1;
	}
	if (strcmp(key, "delay_ms") == 0 || strcmp(key, "status") == 0 ||
	    strcmp(key, "cte") == 0 || strcmp(key, "manual") == 0) {
		errno = 0;
		n = strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0')
			return -1;
		if (key[0] == 'd' && n >= 0 && n <= 600000)
			m->delay_ms = n;
		else if (key[0] == 's' && n >= 100 && n <= 599)
			m->status = (int)n;
		else if (key[0] == 'c' && (n == 0 || n == 1))
			m->cte = (int)n;
		else if (key[0] == 'm' && n >= 0 && n <= 86400)
			m->manual = n;
		else
			return -1;
		return 0;
	}
	if (strcmp(key, "approval") == 0)
		return mode_flag(&m->approval_manual, val, "auto", "manual");
	if (strcmp(key, "approve") == 0)
		return mode_flag(&m->approve, val, "0", "1");
	if (strcmp(key, "chain") == 0)
		return mode_flag(&m->chain, val, "0", "1");
	if (strcmp(key, "skg_keyfile") == 0)
		return val[0] == '/' ? mode_copy(m->skg_keyfile,
		    sizeof(m->skg_keyfile), val) : -1;
	if (strcmp(key, "skg_alg") == 0) {
		static const char *algs[] = { "p256", "rsa2048", "rsa3072",
		    "rsa4096" };
		for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
			if (strcmp(val, algs[i]) == 0)
				return mode_copy(m->skg_alg,
				    sizeof(m->skg_alg), val);
		return -1;
	}
	if (strcmp(key, "body") == 0) {
		for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
			if (strcmp(val, bodies[i]) == 0)
				return mode_copy(m->body, sizeof(m->body), val);
		return -1;
	}
	if (strcmp(key, "body_text") == 0)
		return mode_copy(m->body_text, sizeof(m->body_text), val);
	if (strcmp(key, "retry_after") == 0)
		return mode_copy(m->retry_after, sizeof(m->retry_after), val);
	if (strcmp(key, "ctype") == 0)
		return mode_copy(m->ctype, sizeof(m->ctype), val);
	if (strcmp(key, "cacerts") == 0)
		return mode_copy(m->cacerts, sizeof(m->cacerts), val);
	if (strcmp(key, "skg_order") == 0)
		return mode_flag(&m->skg_reverse, val, "normal", "reverse");
	if (strcmp(key, "skg_key") == 0)
		return mode_flag(&m->skg_encrypted, val, "pkcs8", "encrypted");
	if (strcmp(key, "skg_boundary") == 0)
		return mode_flag(&m->skg_quoted, val, "plain", "quoted");
	if (strcmp(key, "skg_lf") == 0)
		return mode_flag(&m->skg_lf, val, "0", "1");
	if (strcmp(key, "skg_form") == 0) {
		for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
			if (strcmp(val, forms[i]) == 0)
				return mode_copy(m->skg_form,
				    sizeof(m->skg_form), val);
		return -1;
	}
	if (strcmp(key, "close") == 0)
		return mode_flag(&m->close, val, "0", "1");
	if (strcmp(key, "skg_broken") == 0) {
		for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
			if (strcmp(val, broken[i]) == 0)
				return mode_copy(m->skg_broken,
				    sizeof(m->skg_broken), val);
		return -1;
	}
	return -1;
}

/* Read the mode file into m; a missing file means normal behaviour. */
static void
mode_read(const char *path, struct mode *m)
{
	char line[1024], *key, *val, *eq, *e;
	unsigned lineno = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		for (key = line; isspace((unsigned char)*key); key++)
			;
		if (*key == '\0' || *key == '#')
			continue;
		if ((eq = strchr(key, '=')) == NULL) {
			warnx("%s:%u: no '=' in line", path, lineno);
			continue;
		}
		val = eq + 1;
		for (e = eq; e > key && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		while (isspace((unsigned char)*val))
			val++;
		for (e = val + strlen(val); e > val &&
		    isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (mode_set(m, key, val) == -1)
			warnx("%s:%u: ignoring %s=%s", path, lineno, key, val);
	}
	fclose(f);
}

/* Read a PEM bundle; NULL on error.  The caller frees the stack. */
static STACK_OF(X509) *
bundle_load(const char *path)
{
	STACK_OF(X509) *sk;
	unsigned long e;
	X509 *x;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL)
		return NULL;
	if ((sk = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (sk_X509_push(sk, x) == 0) {
			X509_free(x);
			goto fail;
		}
	}
	/* The loop ends on an error; "no start line" just means EOF. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) != ERR_LIB_PEM ||
	    ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
		goto fail;
	ERR_clear_error();
	BIO_free(bio);
	return sk;

fail:
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	return NULL;
}

/* Encode p7 as DER; the caller frees *der with OPENSSL_free(). */
static int
p7_der(PKCS7 *p7, unsigned char **der, size_t *len)
{
	int n;

	*der = NULL;
	if ((n = i2d_PKCS7(p7, der)) <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/*
 * DER of a degenerate certs-only SignedData (RFC 7030 4.1.3, RFC 5652 5):
 * encapsulated content type id-data with no content, no signers, the
 * certificates in the order given.  The caller frees *der.
 */
static int
p7_certs_only(STACK_OF(X509) *certs, unsigned char **der, size_t *len)
{
	PKCS7 *p7;
	int i, rc = -1;

	if ((p7 = PKCS7_new()) == NULL)
		return -1;
	if (!PKCS7_set_type(p7, NID_pkcs7_signed))
		goto out;
	p7->d.sign->contents->type = OBJ_nid2obj(NID_pkcs7_data);
	for (i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i)))
			goto out;
	rc = p7_der(p7, der, len);
out:
	PKCS7_free(p7);
	return rc;
}

/* DER of a PKCS#7 of type data (not SignedData), for body=notsigned. */
static int
p7_data(unsigned char **der, size_t *len)
{
	static const unsigned char text[] = "this is not a certificate";
	PKCS7 *p7;
	int rc = -1;

	if ((p7 = PKCS7_new()) == NULL)
		return -1;
	if (!PKCS7_set_type(p7, NID_pkcs7_data) ||
	    !ASN1_OCTET_STRING_set(p7->d.data, text, sizeof(text) - 1))
		goto out;
	rc = p7_der(p7, der, len);
out:
	PKCS7_free(p7);
	return rc;
}

/* Add one extension given in openssl.cnf syntax to the certificate. */
static int
cert_add_ext(X509V3_CTX *ctx, X509 *x, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Issue a certificate for pub, named as in csr, signed by the CA. */
static X509 *
cert_issue(struct server *srv, X509_REQ *csr, EVP_PKEY *pub)
{
	STACK_OF(X509_EXTENSION) *exts;
	unsigned char serial[16];
	X509V3_CTX ctx;
	BIGNUM *bn = NULL;
	X509 *x;
	int i;

	if ((x = X509_new()) == NULL)
		return NULL;
	/* 16 random bytes, top bit clear (positive), next bit set (16 long). */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] = (serial[0] & 0x7f) | 0x40;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (!X509_set_version(x, 2) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(srv->ca_cert)) ||
	    !X509_set_subject_name(x, X509_REQ_get_subject_name(csr)) ||
	    !X509_set_pubkey(x, pub) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), CERT_DAYS, 0, NULL) == NULL)
		goto fail;
	X509V3_set_ctx(&ctx, srv->ca_cert, x, NULL, NULL, 0);
	if (cert_add_ext(&ctx, x, NID_basic_constraints, "critical,CA:FALSE") ||
	    cert_add_ext(&ctx, x, NID_key_usage, "critical,digitalSignature") ||
	    cert_add_ext(&ctx, x, NID_ext_key_usage, "clientAuth") ||
	    cert_add_ext(&ctx, x, NID_subject_key_identifier, "hash") ||
	    cert_add_ext(&ctx, x, NID_authority_key_identifier, "keyid"))
		goto fail;
	/* Copy subjectAltName from the CSR's extension request, if any. */
	if ((exts = X509_REQ_get_extensions(csr)) != NULL) {
		i = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
		if (i >= 0 && !X509_add_ext(x, sk_X509_EXTENSION_value(exts, i),
		    -1)) {
			sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
			goto fail;
		}
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	if (X509_sign(x, srv->ca_key, EVP_sha256()) <= 0)
		goto fail;
	BN_free(bn);
	return x;
fail:
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Set p to a text/plain answer with the given status. */
static void
answer_text(struct pending *p, int status, const char *text)
{
	p->status = status;
	evhttp_add_header(evhttp_request_get_output_headers(p->req),
	    "Content-Type", CT_TEXT);
	evbuffer_add_printf(p->body, "%s\n", text);
}

/* Set p to an error or pending answer as the profile writes it. */
static void
answer_reply(struct pending *p, const struct prof_reply *r)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
	char n[32];

	p->status = r->status;
	snprintf(p->reason, sizeof(p->reason), "%s", r->reason);
	if (r->ctype != NULL)
		evhttp_add_header(h, "Content-Type", r->ctype);
	if (r->retry_after > 0) {
		snprintf(n, sizeof(n), "%ld", r->retry_after);
		evhttp_add_header(h, "Retry-After", n);
	}
	evbuffer_add(p->body, r->text, strlen(r->text));
}

/* Set p to the profile's answer for error e. */
static void
answer_err(struct pending *p, enum prof_err e)
{
	struct prof_reply r;

	prof_error(p->srv->pf, e, &r);
	answer_reply(p, &r);
}

/* Start a 200 answer of type ctype, with the profile's CTE header. */
static void
answer_ok(struct pending *p, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);

	p->status = 200;
	evhttp_add_header(h, "Content-Type", ctype);
	if (p->srv->pf->cte_out)
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
}

/* Replace whatever p holds by a 500 for a lack of memory. */
static void
answer_oom(struct pending *p)
{
	evbuffer_drain(p->body, evbuffer_get_length(p->body));
	evhttp_clear_headers(evhttp_request_get_output_headers(p->req));
	answer_text(p, 500, "out of memory");
}

/* Set p to a 200 answer whose body is the base64 of der. */
static void
answer_der(struct pending *p, const char *ctype, const unsigned char *der,
    size_t len)
{
	answer_ok(p, ctype);
	if (b64_append(p->body, der, len, &p->lay) == -1)
		answer_oom(p);
}

/* Answer /cacerts with the -b bundle or the mode's cacerts= file. */
static void
op_cacerts(struct pending *p, const struct mode *m)
{
	STACK_OF(X509) *sk = p->srv->bundle, *alt = NULL;
	unsigned char *der;
	size_t len;

	if (m->cacerts[0] != '\0' && (sk = alt = bundle_load(m->cacerts)) ==
	    NULL) {
		ssl_warnx("cannot read the mode's cacerts= bundle");
		answer_text(p, 500, "cannot read cacerts bundle");
		return;
	}
	if (p7_certs_only(sk, &der, &len) == -1) {
		ssl_warnx("cannot build the cacerts PKCS#7");
		answer_text(p, 500, "cannot build PKCS#7");
	} else {
		answer_der(p, p->srv->pf->ct_cacerts, der, len);
		OPENSSL_free(der);
	}
	sk_X509_pop_free(alt, X509_free);
}

/*
 * The CsrAttrs a profile serves without -x: globalsign's mock CA sends an
 * empty sequence, and under the label "csrattrs" the example of RFC 7030
 * 4.5.2; the others our default.
 */
static void
csrattrs_default(const struct pending *p, const unsigned char **der,
    size_t *len)
{
	static const unsigned char empty[] = { 0x30, 0x00 };

	*der = default_csrattrs;
	*len = sizeof(default_csrattrs);
	if (p->srv->pf->id != PROF_GLOBALSIGN)
		return;
	if (strcmp(p->label, "csrattrs") == 0) {
		*der = rfc7030_csrattrs;
		*len = sizeof(rfc7030_csrattrs);
	} else {
		*der = empty;
		*len = sizeof(empty);
	}
}

/* Answer /csrattrs with the -x file or the profile's attributes. */
static void
op_csrattrs(struct pending *p, const struct mode *m)
{
	const unsigned char *der = p->srv->csrattrs;
	size_t len = p->srv->csrattrs_len;

	if (der == NULL)
		csrattrs_default(p, &der, &len);
	/* knobs (body=oneline, spaces) win over the profile's layout */
	if (m->body[0] == '\0')
		p->lay = p->srv->pf->b64_attrs;
	answer_der(p, CT_CSRATTRS, der, len);
	/* libest's estserver counts the C string's NUL in the length */
	if (p->srv->pf->attrs_nul && p->status == 200 &&
	    evbuffer_add(p->body, "", 1) == -1)
		answer_oom(p);
}

/* Keep only the first n bytes of the answer's body. */
static void
body_keep_head(struct pending *p, size_t n)
{
	struct evbuffer *head;

	if (evbuffer_get_length(p->body) <= n ||
	    (head = evbuffer_new()) == NULL)
		return;
	evbuffer_remove_buffer(p->body, head, n);
	evbuffer_free(p->body);
	p->body = head;
}

/*
 * Read the base64 PKCS#10 body of an enrollment request as the profile's
 * server does, checking its signature when verify is set; on failure set
 * p to the error answer and return NULL.  The caller frees the CSR.
 */
static X509_REQ *
csr_read(struct pending *p, int verify)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(p->req);
	size_t len = evbuffer_get_length(in);
	unsigned char *body = NULL;
	enum prof_err e;
	X509_REQ *csr;

	if (len > MAX_BODY) {
		answer_text(p, 413, "request body too large");
		return NULL;
	}
	if (len > 0 && (body = evbuffer_pullup(in, -1)) == NULL) {
		answer_text(p, 500, "out of memory");
		return NULL;
	}
	if ((csr = prof_csr_read(p->srv->pf, body, len, verify, &e)) == NULL)
		answer_err(p, e);
	return csr;
}

/* DER of a certs-only PKCS#7 that holds just cert; the caller frees *der. */
static int
p7_one_cert(X509 *cert, unsigned char **der, size_t *len)
{
	STACK_OF(X509) *one;
	int rc = -1;

	if ((one = sk_X509_new_null()) == NULL)
		return -1;
	if (sk_X509_push(one, cert))
		rc = p7_certs_only(one, der, len);
	sk_X509_free(one);
	return rc;
}

/*
 * libest's estserver -m (mode manual=SECS): the first request for a
 * public key gets 202 + Retry-After, its repeat is issued.  1 when p
 * holds the 202.
 */
static int
gate_manual(struct pending *p, const struct mode *m, X509_REQ *csr)
{
	unsigned char id[PEND_ID_LEN];
	struct pend_entry *e;
	struct prof_reply r;

	if (m->manual == 0 || pend_id_pubkey(csr, id) == -1)
		return 0;
	if ((e = pend_find(&p->srv->waiting, id)) != NULL) {
		pend_drop(e);
		return 0;
	}
	pend_add(&p->srv->waiting, id);
	prof_pending(p->srv->pf, m->manual, NULL, &r);
	answer_reply(p, &r);
	return 1;
}

/*
 * OpenXPKI: each CSR is a workflow found again by its SHA-1.  A new one
 * waits when approval=manual until the operator approves (approve=1); an
 * issued one answers its certificate again.  1 when p holds the answer,
 * else *ep is the workflow to issue into (or NULL).
 */
static int
gate_workflow(struct pending *p, const struct mode *m, X509_REQ *csr,
    struct pend_entry **ep)
{
	unsigned char id[PEND_ID_LEN];
	struct pend_entry *e;
	struct prof_reply r;
	char tid[41];

	*ep = NULL;
	if (pend_id_csr(csr, id, tid) == -1)
		return 0;
	if ((e = pend_find(&p->srv->waiting, id)) != NULL &&
	    e->state == PEND_ISSUED) {
		answer_der(p, CT_PKCS7, e->cert, e->certlen);
		return 1;
	}
	if (e == NULL)
		e = pend_add(&p->srv->waiting, id);
	if (m->approval_manual && !m->approve) {
		prof_pending(p->srv->pf, p->srv->pf->pend_retry, tid, &r);
		answer_reply(p, &r);
		return 1;
	}
	*ep = e;
	return 0;
}

/*
 * What the CA does before it issues: globalsign's reenroll name check and
 * triggered errors, the pending gates.  1 when p holds the answer.
 */
static int
enroll_gates(struct pending *p, const struct mode *m, X509_REQ *csr,
    int reenroll, struct pend_entry **ep)
{
	const struct prof *pf = p->srv->pf;
	struct prof_reply r;
	X509 *peer;

	*ep = NULL;
	if (reenroll && pf->reenroll_tls && ((peer = req_peer(p->req)) ==
	    NULL || !prof_same_names(csr, peer))) {
		answer_err(p, PE_SUBJECT);
		return 1;
	}
	if (prof_trigger(pf, p->label, csr, &r)) {
		answer_reply(p, &r);
		return 1;
	}
	if (pf->pend == PP_OPENXPKI)
		return gate_workflow(p, m, csr, ep);
	return gate_manual(p, m, csr);
}

/*
 * The PKCS#7 of an issued cert; with the mode's chain=1 the -b bundle
 * follows it (answers larger than one CoAP block).
 */
static int
p7_issued(const struct server *srv, X509 *cert, int chain,
    unsigned char **der, size_t *len)
{
	STACK_OF(X509) *sk;
	int i, rc = -1;

	if (!chain || srv->bundle == NULL)
		return p7_one_cert(cert, der, len);
	if ((sk = sk_X509_new_null()) == NULL)
		return -1;
	if (sk_X509_push(sk, cert)) {
		for (i = 0; i < sk_X509_num(srv->bundle); i++)
			if (!sk_X509_push(sk, sk_X509_value(srv->bundle, i)))
				break;
		if (i == sk_X509_num(srv->bundle))
			rc = p7_certs_only(sk, der, len);
	}
	sk_X509_free(sk);
	return rc;
}

/* Answer /simpleenroll and /simplereenroll: check the CSR, issue a cert. */
static void
op_enroll(struct pending *p, const struct mode *m, int reenroll)
{
	struct pend_entry *wf;
	unsigned char *p7der;
	X509_REQ *csr;
	X509 *cert = NULL;
	size_t p7len;

	if ((csr = csr_read(p, 1)) == NULL)
		return;
	if (enroll_gates(p, m, csr, reenroll, &wf))
		goto out;
	if ((cert = cert_issue(p->srv, csr, X509_REQ_get0_pubkey(csr))) ==
	    NULL || p7_issued(p->srv, cert, m->chain, &p7der, &p7len) == -1) {
		ssl_warnx("cannot issue a certificate");
		answer_err(p, PE_INTERNAL);
		goto out;
	}
	answer_der(p, CT_PKCS7, p7der, p7len);
	if (wf != NULL && pend_issue(wf, p7der, p7len) == -1)
		warnx("cannot keep the issued answer");
	OPENSSL_free(p7der);
out:
	ERR_clear_error();
	X509_free(cert);
	X509_REQ_free(csr);
}

/* Write key as PEM to <reqlog>.lastkey.pem, through a rename(2). */
static void
lastkey_write(struct server *srv, EVP_PKEY *key)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *f;
	int fd, ok;

	if (srv->reqlog_path == NULL)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s.lastkey.pem",
	    srv->reqlog_path) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		warnx("-l path too long for the lastkey file");
		return;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		warn("%s", tmp);
		return;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		warn("%s", tmp);
		close(fd);
		unlink(tmp);
		return;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok || rename(tmp, path) == -1) {
		warn("cannot write %s", path);
		ERR_clear_error();
		unlink(tmp);
	}
}

/*
 * Set p to a 200 multipart/mixed answer (RFC 2046 5.1) with a key part
 * and a cert part, shaped by the mode's skg_ knobs; -1 if out of memory.
 */
static int
answer_multipart(struct pending *p, const struct mode *m,
    const unsigned char *key, size_t keylen, const unsigned char *p7,
    size_t p7len)
{
	struct {
		const char		*ctype;
		const unsigned char	*der;
		size_t			 len;
	} part[2];
	const char *eol = m->skg_lf ? "\n" : "\r\n";
	const char *bnd = m->skg_quoted ? SKG_BOUNDARY_Q : SKG_BOUNDARY;
	struct evbuffer *out = p->body;
	size_t i, nparts = 2, mid = 0;
	char ct[128];
	int k = m->skg_reverse ? 1 : 0, rc = 0;
	struct b64_layout lay = p->lay;

	/* every base64 line of a part, and the part, ends with eol */
	lay.eol = eol;
	lay.final_eol = 1;

	part[k].ctype = m->skg_encrypted ? CT_SKG_KEY : CT_PKCS8;
	part[k].der = key;
	part[k].len = keylen;
	part[1 - k].ctype = CT_PKCS7;
	part[1 - k].der = p7;
	part[1 - k].len = p7len;
	if (strcmp(m->skg_broken, "missing") == 0)
		nparts = 1;

	/* Each delimiter's leading line end closes the line before it. */
	rc |= evbuffer_add_printf(out, "%s%s", SKG_PREAMBLE, eol) < 0;
	for (i = 0; i < nparts; i++) {
		rc |= evbuffer_add_printf(out, "--%s%s"
		    "Content-Type: %s%s"
		    "Content-Transfer-Encoding: base64%s%s",
		    bnd, eol, part[i].ctype, eol, eol, eol) < 0;
		mid = evbuffer_get_length(out);
		rc |= b64_append(out, part[i].der, part[i].len, &lay);
	}
	if (strcmp(m->skg_broken, "truncated") == 0) {
		/* Cut halfway through the last part's base64. */
		mid += (evbuffer_get_length(out) - mid) / 2;
	} else {
		rc |= evbuffer_add_printf(out, "--%s--%s%s%s", bnd, eol,
		    SKG_EPILOGUE, eol) < 0;
		mid = 0;
	}
	if (rc != 0)
		return -1;
	if (mid > 0)
		body_keep_head(p, mid);

	if (strcmp(m->skg_broken, "noboundary") == 0)
		snprintf(ct, sizeof(ct), "multipart/mixed");
	else if (m->skg_quoted)
		snprintf(ct, sizeof(ct), "multipart/mixed; boundary=\"%s\"",
		    bnd);
	else
		snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%s", bnd);
	p->status = 200;
	evhttp_add_header(evhttp_request_get_output_headers(p->req),
	    "Content-Type", ct);
	return 0;
}

/*
 * The key the CSR asks for: globalsign's mock CA honours a Bit-Size
 * header of 2048, 3072 or 4096; else the mode's skg_alg, the type that
 * its skg_form names, or the profile's.
 * NULL after answering p when the header is bad.
 */
static const char *
skg_alg(struct pending *p, const struct mode *m)
{
	static const char *rsa[] = { "rsa2048", "rsa3072", "rsa4096" };
	const char *bits = evhttp_find_header(evhttp_request_get_input_headers(
	    p->req), "Bit-Size");

	if (p->srv->pf->skg != SKG_GO || bits == NULL) {
		if (m->skg_keyfile[0] != '\0')
			return m->skg_keyfile;
		if (m->skg_alg[0] != '\0')
			return m->skg_alg;
		/* skg_form=pkcs1 or sec1 names the key type */
		if (strcmp(m->skg_form, "pkcs1") == 0)
			return "rsa2048";
		return strcmp(m->skg_form, "sec1") == 0 ? "p256" :
		    p->srv->pf->skg_alg;
	}
	for (size_t i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++)
		if (strcmp(bits, rsa[i] + 3) == 0)
			return rsa[i];
	answer_err(p, PE_BIT_SIZE);
	return NULL;
}

/* Replace the cert part's PKCS#7 as body=notsigned or zerocerts asks. */
static int
skg_spoil(const struct mode *m, unsigned char **p7der, size_t *p7len)
{
	if (strcmp(m->body, "notsigned") != 0 &&
	    strcmp(m->body, "zerocerts") != 0)
		return 0;
	OPENSSL_free(*p7der);
	*p7der = NULL;
	return m->body[0] == 'n' ? p7_data(p7der, p7len) :
	    p7_certs_only(NULL, p7der, p7len);
}

/* Put the key and cert parts into p as the profile's server does. */
static int
skg_answer(struct pending *p, const struct mode *m,
    const unsigned char *key, size_t keylen, const unsigned char *p7,
    size_t p7len)
{
	const struct prof *pf = p->srv->pf;
	char ct[128];

	if (pf->skg == SKG_RFC8951)
		return answer_multipart(p, m, key, keylen, p7, p7len);
	if (prof_multipart(pf, p->body, m->skg_encrypted ? CT_SKG_KEY :
	    CT_PKCS8, key, keylen, p7, p7len, ct, sizeof(ct)) == -1)
		return -1;
	p->status = 200;
	evhttp_add_header(evhttp_request_get_output_headers(p->req),
	    "Content-Type", ct);
	return 0;
}

/*
 * Answer /serverkeygen: take the names from the CSR but not its key
 * (RFC 7030 4.4.1), make a key, issue a cert for it and send both.
 * body=notsigned and body=zerocerts spoil the cert part.
 */
static void
op_serverkeygen(struct pending *p, const struct mode *m)
{
	const struct prof *pf = p->srv->pf;
	unsigned char *keyder = NULL, *p7der = NULL;
	struct pend_entry *wf;
	const char *alg;
	X509_REQ *csr;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t keylen = 0, p7len = 0;

	if (pf->skg == SKG_NONE) {
		answer_err(p, PE_NOT_IMPL);
		return;
	}
	if ((csr = csr_read(p, pf->skg_verify)) == NULL)
		return;
	if (enroll_gates(p, m, csr, 0, &wf) || (alg = skg_alg(p, m)) == NULL)
		goto out;
	if (prof_skg_key(pf, alg, m->skg_form, &key, &keyder, &keylen) ==
	    -1) {
		ssl_warnx("cannot generate a key");
		answer_err(p, PE_INTERNAL);
		goto out;
	}
	if ((cert = cert_issue(p->srv, csr, key)) == NULL ||
	    p7_one_cert(cert, &p7der, &p7len) == -1 ||
	    skg_spoil(m, &p7der, &p7len) == -1) {
		ssl_warnx("cannot issue a certificate");
		answer_err(p, PE_INTERNAL);
		goto out;
	}
	if (skg_answer(p, m, keyder, keylen, p7der, p7len) == -1) {
		answer_oom(p);
		goto out;
	}
	lastkey_write(p->srv, key);
out:
	ERR_clear_error();
	OPENSSL_free(p7der);
	OPENSSL_clear_free(keyder, keyder != NULL ? keylen : 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_REQ_free(csr);
}

/* Set p to the answer the mode's status= asks for. */
static void
answer_status(struct pending *p, const struct mode *m)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);

	if (m->status == 204) {
		p->status = 204;
		return;
	}
	answer_text(p, m->status, m->body_text[0] != '\0' ? m->body_text :
	    "status set by the mode file");
	if (m->status == 302)
		evhttp_add_header(h, "Location", "https://127.0.0.1:1/elsewhere");
}

/*
 * Reshape a 200 body as deployed servers do: body=nul appends a NUL byte
 * (libest's csrattrs), nopad drops the '=' padding (an '=' before '=', a
 * line end or the end), lf drops every CR.
 */
static void
body_reshape(struct evbuffer *b, const char *how)
{
	size_t len = evbuffer_get_length(b), i, o = 0;
	unsigned char *t;

	if (strcmp(how, "nul") == 0) {
		evbuffer_add(b, "", 1);
		return;
	}
	if ((strcmp(how, "nopad") != 0 && strcmp(how, "lf") != 0) ||
	    (t = malloc(len + 1)) == NULL)
		return;
	evbuffer_remove(b, t, len);
	for (i = 0; i < len; i++) {
		if (how[0] == 'l' ? t[i] == '\r' : t[i] == '=' &&
		    (i + 1 == len || strchr("=\r\n", t[i + 1]) != NULL))
			continue;
		t[o++] = t[i];
	}
	evbuffer_add(b, t, o);
	free(t);
}

/* Replace or reshape a 200 answer as the mode's body= asks. */
static void
answer_body_knob(struct pending *p, const struct mode *m)
{
	size_t len = evbuffer_get_length(p->body), i;
	unsigned char *der;
	size_t derlen;
	char line[66];
	int rc;

	if (strcmp(m->body, "garbage") == 0) {
		evbuffer_drain(p->body, len);
		evbuffer_add_printf(p->body, "%%%%%%not base64%%%%%%");
	} else if (strcmp(m->body, "notsigned") == 0 ||
	    strcmp(m->body, "zerocerts") == 0) {
		rc = m->body[0] == 'n' ? p7_data(&der, &derlen) :
		    p7_certs_only(NULL, &der, &derlen);
		evbuffer_drain(p->body, len);
		if (rc == 0) {
			b64_append(p->body, der, derlen, &p->lay);
			OPENSSL_free(der);
		}
	} else if (strcmp(m->body, "oversize") == 0) {
		/* Valid base64 of zero bytes; it decodes, but to junk. */
		evbuffer_drain(p->body, len);
		memset(line, 'A', 64);
		memcpy(line + 64, "\r\n", 2);
		for (i = 0; i < OVERSIZE_LEN / 64; i++)
			evbuffer_add(p->body, line, sizeof(line));
	} else if (strcmp(m->body, "closemid") == 0) {
		p->claim_len = CLOSEMID_CLAIM;
		body_keep_head(p, CLOSEMID_SEND);
	} else if (strcmp(m->body, "endless") == 0) {
		p->endless = 1;
	} else if (strcmp(m->body, "alert") == 0) {
		p->claim_len = len;
		p->alert = 1;
		body_keep_head(p, ALERT_SEND);
	} else if (strcmp(m->body, "truncate") == 0) {
		p->claim_len = len;
		body_keep_head(p, len / 2);
	} else
		body_reshape(p->body, m->body);
}

/* The client of an endless answer left: forget the answer. */
static void
endless_close_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	free(arg);
}

/* The last chunk of an endless answer went out: queue the next one. */
static void
endless_more_cb(struct evhttp_connection *evcon, void *arg)
{
	struct endless	*e = arg;
	struct evbuffer	*b;
	char		 line[66];

	(void)evcon;
	if (e->sent >= ENDLESS_CAP) {
		evhttp_send_reply_end(e->req);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		errx(1, "out of memory");
	/* base64 lines of zero bytes: valid, and never the end */
	memset(line, 'A', 64);
	memcpy(line + 64, "\r\n", 2);
	for (size_t i = 0; i < ENDLESS_CHUNK / sizeof(line); i++)
		evbuffer_add(b, line, sizeof(line));
	e->sent += evbuffer_get_length(b);
	evhttp_send_reply_chunk_with_cb(e->req, b, endless_more_cb, e);
	evbuffer_free(b);
}

/* Start an endless chunked answer on p's request. */
static void
endless_start(struct pending *p)
{
	struct evhttp_connection	*evcon;
	struct endless			*e;

	if ((evcon = evhttp_request_get_connection(p->req)) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		evhttp_send_reply(p->req, 503, NULL, NULL);
		return;
	}
	e->req = p->req;
	evhttp_connection_set_closecb(evcon, endless_close_cb, e);
	evhttp_remove_header(evhttp_request_get_output_headers(p->req),
	    "Content-Length");
	evhttp_send_reply_start(p->req, 200, NULL);
	endless_more_cb(evcon, e);
}

/*
 * body=alert: the head of the body went out; now a fatal TLS alert
 * record straight onto the TCP stream, in the clear, and a hang-up.
 */
static void
alert_cb(struct evhttp_connection *evcon, void *arg)
{
	/* alert, TLS 1.2 record version, length 2, fatal, internal_error */
	static const unsigned char rec[] = { 21, 3, 3, 0, 2, 2, 80 };
	struct bufferevent	*bev = evhttp_connection_get_bufferevent(evcon);
	evutil_socket_t		 fd = bev != NULL ? bufferevent_getfd(bev) : -1;

	(void)arg;
	if (fd != -1) {
		if (write(fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			warnx("alert: short write");
		shutdown(fd, SHUT_RDWR);
	}
}

/*
 * Send p as its profile's server would: libest closes the connection
 * after a 202 or an error, Go chunks what outgrows its 2 KiB buffer.
 * Also right for a client that left during a delay: evhttp then only
 * frees the request it handed over to us.
 */
static void
send_plain(struct pending *p)
{
	const struct prof *pf = p->srv->pf;
	const char *reason = p->reason[0] != '\0' ? p->reason : NULL;

	if (pf->close_errors && (p->status == 202 || p->status >= 400))
		evhttp_add_header(evhttp_request_get_output_headers(p->req),
		    "Connection", "close");
	if (pf->chunk_over > 0 && evbuffer_get_length(p->body) >
	    pf->chunk_over && evhttp_request_get_connection(p->req) != NULL) {
		evhttp_send_reply_start(p->req, p->status, reason);
		evhttp_send_reply_chunk(p->req, p->body);
		evhttp_send_reply_end(p->req);
		return;
	}
	evhttp_send_reply(p->req, p->status, reason, p->body);
}

/* Put the answer on the wire and free p. */
static void
pending_send(struct pending *p)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
	char cl[32];

	if (p->endless) {
		endless_start(p);
	} else if (p->alert && evhttp_request_get_connection(p->req) != NULL) {
		snprintf(cl, sizeof(cl), "%zu", p->claim_len);
		evhttp_remove_header(h, "Content-Length");
		evhttp_add_header(h, "Content-Length", cl);
		evhttp_send_reply_start(p->req, p->status, NULL);
		evhttp_send_reply_chunk_with_cb(p->req, p->body, alert_cb,
		    NULL);
	} else if (p->claim_len > 0 &&
	    evhttp_request_get_connection(p->req) != NULL) {
		/*
		 * With our own Content-Length evhttp does not chunk, and
		 * "Connection: close" makes it drop the connection once the
		 * short body is out, so the client sees a cut-off answer.
		 */
		snprintf(cl, sizeof(cl), "%zu", p->claim_len);
		evhttp_remove_header(h, "Content-Length");
		evhttp_add_header(h, "Content-Length", cl);
		evhttp_add_header(h, "Connection", "close");
		evhttp_send_reply_start(p->req, p->status,
		    NULL);
		evhttp_send_reply_chunk(p->req, p->body);
		evhttp_send_reply_end(p->req);
	} else {
		send_plain(p);
	}
	if (p->timer != NULL)
		event_free(p->timer);
	evbuffer_free(p->body);
	free(p);
}

/* The delay of a pending answer is over: send it. */
static void
pending_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&p->srv->pendings, p, entry);
	pending_send(p);
}

/*
 * Map a request path to an operation and its CA label ("" for none, cut
 * to labelsz); -1 if it is not one of ours.
 */
static int
route(const char *path, char *label, size_t labelsz)
{
	const char *op, *slash;
	size_t i;

	label[0] = '\0';
	if (path == NULL || strncmp(path, EST_PREFIX, strlen(EST_PREFIX)) != 0)
		return -1;
	op = path + strlen(EST_PREFIX);
	/* One optional label segment: <label>/<op>. */
	if ((slash = strchr(op, '/')) != NULL) {
		if (slash == op)
			return -1;
		snprintf(label, labelsz, "%.*s", (int)(slash - op), op);
		op = slash + 1;
	}
	for (i = 0; i < NOPS; i++)
		if (strcmp(op, op_defs[i].name) == 0)
			return (int)i;
	return -1;
}

/* The base64 layout of p's answer: the profile's, or the mode's body=. */
static void
answer_layout(struct pending *p, const struct mode *m)
{
	static const struct b64_layout oneline = { 0, "", 0, 0 };
	static const struct b64_layout spaces = { 64, "\r\n", 1, 1 };

	if (strcmp(m->body, "oneline") == 0)
		p->lay = oneline;
	else if (strcmp(m->body, "spaces") == 0)
		p->lay = spaces;
	else
		p->lay = p->srv->pf->b64;
}

/* 1 when the profile refuses a POST's Content-Type or CTE (p answered). */
static int
post_refused(struct pending *p)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(p->req);
	enum prof_err e;

	e = prof_check_post(p->srv->pf, evhttp_find_header(in, "Content-Type"),
	    evhttp_find_header(in, "Content-Transfer-Encoding"));
	if (e == PE_NONE)
		return 0;
	answer_err(p, e);
	return 1;
}

/* Handle one request: log it, route it, build the answer, send or delay. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct timeval tv;
	struct pending *p;
	struct mode m;
	int op;

	reqlog_write(srv, req);
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->body = evbuffer_new()) == NULL) {
		free(p);
		evhttp_send_reply(req, 500, NULL, NULL);
		return;
	}
	p->srv = srv;
	p->req = req;

	op = route(uri != NULL ? evhttp_uri_get_path(uri) : NULL, p->label,
	    sizeof(p->label));
	if (op == -1) {
		answer_text(p, 404, "no such EST resource");
		pending_send(p);
		return;
	}
	if (evhttp_request_get_command(req) != op_defs[op].method) {
		answer_text(p, 405, "method not allowed");
		evhttp_add_header(h, "Allow", op_defs[op].allow);
		pending_send(p);
		return;
	}

	mode_read(srv->modefile, &m);
	if (m.op[0] != '\0' && strcmp(m.op, op_defs[op].name) != 0)
		memset(&m, 0, sizeof(m));
	answer_layout(p, &m);
	if (m.status != 0 && m.status != 200)
		answer_status(p, &m);
	else if (op_defs[op].method == EVHTTP_REQ_POST && post_refused(p))
		;
	else if (op == OP_CACERTS)
		op_cacerts(p, &m);
	else if (op == OP_CSRATTRS)
		op_csrattrs(p, &m);
	else if (op == OP_SERVERKEYGEN)
		op_serverkeygen(p, &m);
	else
		op_enroll(p, &m, op == OP_SIMPLEREENROLL);

	/* op_serverkeygen() already put these into its cert part. */
	if (op == OP_SERVERKEYGEN && (strcmp(m.body, "notsigned") == 0 ||
	    strcmp(m.body, "zerocerts") == 0))
		m.body[0] = '\0';
	if (p->status == 200)
		answer_body_knob(p, &m);
	if (m.retry_after[0] != '\0' && p->status != 200)
		evhttp_add_header(h, "Retry-After", m.retry_after);
	if (m.ctype[0] != '\0') {
		evhttp_remove_header(h, "Content-Type");
		evhttp_add_header(h, "Content-Type", m.ctype);
	}
	if (m.cte && !srv->pf->cte_out)
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");
	if (m.close)
		evhttp_add_header(h, "Connection", "close");

	if (m.delay_ms == 0) {
		pending_send(p);
		return;
	}
	tv.tv_sec = m.delay_ms / 1000;
	tv.tv_usec = (m.delay_ms % 1000) * 1000;
	if ((p->timer = evtimer_new(srv->base, pending_timer_cb, p)) == NULL ||
	    evtimer_add(p->timer, &tv) == -1) {
		warnx("cannot arm the delay timer, answering at once");
		pending_send(p);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->pendings, p, entry);
}

/* Make the TLS layer of each new connection (evhttp_set_bevcb). */
static struct bufferevent *
tls_bev_cb(struct event_base *base, void *arg)
{
	struct server *srv = arg;
	struct bufferevent *bev;
	SSL *ssl;

	/* Returning NULL would make evhttp serve plain HTTP: never do it. */
	if ((ssl = SSL_new(srv->ssl)) == NULL)
		errx(1, "SSL_new failed");
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		errx(1, "bufferevent_openssl_socket_new failed");
	/* Clients that close without close_notify are just EOF to us. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* SIGTERM or SIGINT: leave the loop; main() frees everything. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	(void)sig;
	(void)what;
	event_base_loopbreak(srv->base);
}

/*
 * Build the TLS context: our chain and key, required client certs, the
 * profile's version and ALPN limits.
 */
static SSL_CTX *
tls_setup(const struct prof *pf, const char *cert, const char *key,
    const char *clientca)
{
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    prof_tls(pf, ctx, cert) == -1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, clientca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(clientca)) == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/*
	 * Without a session id context OpenSSL fails every resumed handshake
	 * of a verified client; real EST servers resume, and so do we.
	 */
	if (SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)"est-testserver", 14) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Load the signing CA certificate and its key, and check they match. */
static int
ca_load(struct server *srv, const char *certpath, const char *keypath)
{
	BIO *bio;

	if ((bio = BIO_new_file(certpath, "r")) == NULL)
		return -1;
	srv->ca_cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (srv->ca_cert == NULL || (bio = BIO_new_file(keypath, "r")) == NULL)
		return -1;
	srv->ca_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (srv->ca_key == NULL || X509_check_private_key(srv->ca_cert,
	    srv->ca_key) != 1)
		return -1;
	return 0;
}

/* Read a small binary file whole; the caller frees *buf. */
static int
file_read(const char *path, unsigned char **buf, size_t *len)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if ((*buf = malloc(MAX_FILE + 1)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(*buf, 1, MAX_FILE + 1, f);
	if (ferror(f) || n == 0 || n > MAX_FILE) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		errno = EINVAL;
		return -1;
	}
	fclose(f);
	*len = n;
	return 0;
}

/* Write "PORT\n" to path through a temporary file and rename(2). */
static int
portfile_write(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	if (fprintf(f, "%u\n", port) < 0 || fclose(f) != 0) {
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Free all the server holds.  A delayed answer is first handed back to
 * evhttp as a 503: that frees a request whose client already left, and
 * evhttp_free() drops the others with their connections.
 */
static void
server_free(struct server *srv)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&srv->pendings)) != NULL) {
		TAILQ_REMOVE(&srv->pendings, p, entry);
		evbuffer_drain(p->body, evbuffer_get_length(p->body));
		evhttp_clear_headers(evhttp_request_get_output_headers(p->req));
		p->claim_len = 0;
		answer_text(p, 503, "shutting down");
		pending_send(p);
	}
	if (srv->http != NULL)
		evhttp_free(srv->http);
	if (srv->sigterm != NULL)
		event_free(srv->sigterm);
	if (srv->sigint != NULL)
		event_free(srv->sigint);
	if (srv->base != NULL)
		event_base_free(srv->base);
	SSL_CTX_free(srv->ssl);
	X509_free(srv->ca_cert);
	EVP_PKEY_free(srv->ca_key);
	sk_X509_pop_free(srv->bundle, X509_free);
	free(srv->csrattrs);
	pend_free(&srv->waiting);
	if (srv->reqlog != NULL)
		fclose(srv->reqlog);
}

/* Print the command line synopsis and exit. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: est-testserver -p port -c cert -k key "
	    "-C client-ca -a ca-cert -A ca-key\n"
	    "           -b cacerts.pem [-P portfile] [-l reqlog] "
	    "[-m modefile] [-x csrattrs.der]\n"
	    "           [--profile NAME]   NAME: %s\n", prof_names());
	exit(2);
}

/* Parse options, load the PKI, listen on loopback and run the loop. */
int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cert = NULL, *key = NULL, *clientca = NULL;
	const char *cacert = NULL, *cakey = NULL, *bundle = NULL;
	const char *portfile = NULL, *reqlog = NULL, *csrattrs = NULL;
	struct evhttp_bound_socket *bound;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int one;
	struct server srv;
	long port = -1;
	char *end;
	int ch;

	memset(&srv, 0, sizeof(srv));
	TAILQ_INIT(&srv.pendings);
	srv.pf = prof_find("rfc8951");
	while ((ch = getopt_long(argc, argv, "p:c:k:C:a:A:b:P:l:m:x:R:h",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'R':
			if ((srv.pf = prof_find(optarg)) == NULL)
				errx(2, "--profile: unknown %s (%s)", optarg,
				    prof_names());
			break;
		case 'p':
			errno = 0;
			port = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    port < 0 || port > 65535)
				errx(2, "-p: bad port %s", optarg);
			break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'C': clientca = optarg; break;
		case 'a': cacert = optarg; break;
		case 'A': cakey = optarg; break;
		case 'b': bundle = optarg; break;
		case 'P': portfile = optarg; break;
		case 'l': reqlog = srv.reqlog_path = optarg; break;
		case 'm': srv.modefile = optarg; break;
		case 'x': csrattrs = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || port == -1 || cert == NULL || key == NULL ||
	    clientca == NULL || cacert == NULL || cakey == NULL ||
	    bundle == NULL)
		usage();

	/* A broken pipe is a client gone, not a reason to die. */
	signal(SIGPIPE, SIG_IGN);
	if ((srv.ssl = tls_setup(srv.pf, cert, key, clientca)) == NULL) {
		ssl_warnx("cannot set up TLS from -c/-k/-C");
		return 1;
	}
	if (ca_load(&srv, cacert, cakey) == -1) {
		ssl_warnx("cannot load the signing CA from -a/-A");
		goto fail;
	}
	if ((srv.bundle = bundle_load(bundle)) == NULL ||
	    sk_X509_num(srv.bundle) == 0) {
		ssl_warnx("-b: no certificates read");
		goto fail;
	}
	if (csrattrs != NULL && file_read(csrattrs, &srv.csrattrs,
	    &srv.csrattrs_len) == -1) {
		warn("-x %s", csrattrs);
		goto fail;
	}
	if (reqlog != NULL && (srv.reqlog = fopen(reqlog, "a")) == NULL) {
		warn("-l %s", reqlog);
		goto fail;
	}

	if ((srv.base = event_base_new()) == NULL ||
	    (srv.http = evhttp_new(srv.base)) == NULL) {
		warnx("cannot set up libevent");
		goto fail;
	}
	evhttp_set_bevcb(srv.http, tls_bev_cb, &srv);
	/* evhttp would type an untyped body text/html; libest sends none */
	if (srv.pf->bare_errors)
		evhttp_set_default_content_type(srv.http, NULL);
	evhttp_set_gencb(srv.http, request_cb, &srv);
	evhttp_set_max_body_size(srv.http, MAX_BODY_HARD);
	evhttp_set_max_headers_size(srv.http, 16 * 1024);
	evhttp_set_timeout(srv.http, 60);
	/* Let every method through to request_cb so it can answer 405. */
	evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH);
	/* Loopback only, by construction: there is no address option. */
	if ((bound = evhttp_bind_socket_with_handle(srv.http, LISTEN_ADDR,
	    (ev_uint16_t)port)) == NULL) {
		warn("bind %s:%ld", LISTEN_ADDR, port);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &slen) == -1) {
		warn("getsockname");
		goto fail;
	}
	port = ntohs(sin.sin_port);
	/*
	 * Accepted sockets inherit TCP_NODELAY on Linux.  Without it an
	 * answer written in two TLS records waits for the client's delayed
	 * ACK (~40 ms), which the benchmarks would measure instead of us.
	 */
	one = 1;
	if (setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP,
	    TCP_NODELAY, &one, sizeof(one)) == -1)
		warn("TCP_NODELAY");
	if ((srv.sigterm = evsignal_new(srv.base, SIGTERM, signal_cb,
	    &srv)) == NULL || evsignal_add(srv.sigterm, NULL) == -1 ||
	    (srv.sigint = evsignal_new(srv.base, SIGINT, signal_cb,
	    &srv)) == NULL || evsignal_add(srv.sigint, NULL) == -1) {
		warnx("cannot set up signal events");
		goto fail;
	}
	if (portfile != NULL && portfile_write(portfile, (unsigned)port) ==
	    -1) {
		warn("-P %s", portfile);
		goto fail;
	}
	fprintf(stderr, "est-testserver: listening on %s:%ld\n", LISTEN_ADDR,
	    port);

	event_base_dispatch(srv.base);
	server_free(&srv);
	return 0;

fail:
	server_free(&srv);
	return 1;
}
