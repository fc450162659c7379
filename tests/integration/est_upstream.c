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
 * /serverkeygen ignores the CSR's key and signature (RFC 7030 4.4.1), makes
 * a P-256 key (RSA with skg_form=pkcs1), and answers multipart/mixed with a
 * key part and a cert part (RFC 7030 4.4.2).  With -l reqlog the key is
 * also written, as PEM, to <reqlog>.lastkey.pem, replaced on every
 * successful answer.
 *
 * Each request line ends with cmcra= (1 when the registrar's client
 * certificate has EKU id-kp-cmcRA), cc= (the CN of an RFC 9440
 * Client-Cert header, or -), ccc= (the number of entries of
 * Client-Cert-Chain, or -) and cn= (the registrar's certificate). The last request's two header values are kept
 * verbatim in <reqlog>.clientcert, one per line. The last request with a
 * body is kept in <reqlog>.lastbody: a line "cte=<its
 * Content-Transfer-Encoding or ->", then the body verbatim.
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

/* How the base64 text of a body is laid out. */
enum b64_style {
	B64_WRAP,			/* CRLF after every 64 characters */
	B64_ONELINE,			/* no line breaks at all */
	B64_SPACES,			/* CRLF every 64, plus SP and TAB inside */
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
	char	cacerts[PATH_MAX];	/* bundle to serve instead of -b */
	/* Only /serverkeygen looks at these. */
	int	skg_reverse;		/* skg_order=reverse: cert part first */
	int	skg_encrypted;		/* skg_key=encrypted: CMS key label */
	int	skg_quoted;		/* skg_boundary=quoted */
	int	skg_lf;			/* skg_lf=1: LF, not CRLF, line ends */
	char	skg_broken[16];		/* missing, noboundary, truncated */
	char	skg_form[8];		/* pkcs8, pkcs1, sec1, pem, junk */
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

/* Find the common name of the TLS client certificate behind req. */
static void
peer_cn(struct evhttp_request *req, char *cn, size_t cnsz)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	X509 *peer;
	SSL *ssl;

	cn[0] = '\0';
	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    (peer = SSL_get0_peer_certificate(ssl)) == NULL)
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
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	EXTENDED_KEY_USAGE *eku;
	X509 *peer;
	SSL *ssl;
	int i, hit = 0;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL ||
	    (peer = SSL_get0_peer_certificate(ssl)) == NULL)
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
	char ccn[128], ccraw[128], nchain[16];
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
	fprintf(srv->reqlog, "%s %s ctype=%s len=%zu cmcra=%d cc=%s ccc=%s "
	    "cn=%s\n", method, path, ctype,
	    evbuffer_get_length(evhttp_request_get_input_buffer(req)),
	    peer_cmcra(req), ccn, nchain, cn);
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
	    strcmp(key, "cte") == 0) {
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
		else
			return -1;
		return 0;
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

/* Append base64 of der to out, laid out as style asks, lines ended by eol. */
static int
b64_append(struct evbuffer *out, const unsigned char *der, size_t len,
    enum b64_style style, const char *eol)
{
	unsigned char *txt;
	size_t i, tlen;
	int rc = 0;

	if (len > INT_MAX / 2)
		return -1;
	if ((txt = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return -1;
	tlen = (size_t)EVP_EncodeBlock(txt, der, (int)len);
	if (style == B64_ONELINE) {
		rc = evbuffer_add(out, txt, tlen);
		free(txt);
		return rc;
	}
	for (i = 0; i < tlen && rc == 0; i++) {
		rc |= evbuffer_add(out, &txt[i], 1);
		/* SP after every 16th and TAB after every 40th character. */
		if (style == B64_SPACES && i % 16 == 15 && i + 1 < tlen)
			rc |= evbuffer_add(out, " ", 1);
		if (style == B64_SPACES && i % 40 == 39 && i + 1 < tlen)
			rc |= evbuffer_add(out, "\t", 1);
		if (i % 64 == 63 || i + 1 == tlen)
			rc |= evbuffer_add(out, eol, strlen(eol));
	}
	free(txt);
	return rc;
}

/*
 * Decode a base64 request body, tolerating CR, LF, SP and TAB anywhere
 * (RFC 8951 3.1).  The caller frees *der.
 */
static int
b64_decode(const unsigned char *in, size_t inlen, unsigned char **der,
    size_t *derlen)
{
	unsigned char *txt;
	size_t i, n = 0, pad = 0;
	int dlen;

	if (inlen > INT_MAX || (txt = malloc(inlen + 1)) == NULL)
		return -1;
	for (i = 0; i < inlen; i++) {
		unsigned char c = in[i];

		if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
			continue;
		if (!(isalnum(c) || c == '+' || c == '/' || c == '=') ||
		    (pad > 0 && c != '='))
			goto fail;
		if (c == '=')
			pad++;
		txt[n++] = c;
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto fail;
	if ((*der = malloc(n / 4 * 3)) == NULL)
		goto fail;
	/* EVP_DecodeBlock counts the zero bytes that '=' stands for. */
	if ((dlen = EVP_DecodeBlock(*der, txt, (int)n)) < 0 ||
	    (size_t)dlen < pad) {
		free(*der);
		goto fail;
	}
	*derlen = (size_t)dlen - pad;
	free(txt);
	return 0;
fail:
	free(txt);
	return -1;
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

/* Set p to a 200 answer whose body is the base64 of der. */
static void
answer_der(struct pending *p, const char *ctype, const unsigned char *der,
    size_t len, enum b64_style style)
{
	p->status = 200;
	evhttp_add_header(evhttp_request_get_output_headers(p->req),
	    "Content-Type", ctype);
	if (b64_append(p->body, der, len, style, "\r\n") == -1) {
		evbuffer_drain(p->body, evbuffer_get_length(p->body));
		evhttp_clear_headers(evhttp_request_get_output_headers(p->req));
		answer_text(p, 500, "out of memory");
	}
}

/* Answer /cacerts with the -b bundle or the mode's cacerts= file. */
static void
op_cacerts(struct pending *p, const struct mode *m, enum b64_style style)
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
		answer_der(p, CT_PKCS7, der, len, style);
		OPENSSL_free(der);
	}
	sk_X509_pop_free(alt, X509_free);
}

/* Answer /csrattrs with the -x file or the built-in attributes. */
static void
op_csrattrs(struct pending *p, enum b64_style style)
{
	if (p->srv->csrattrs != NULL)
		answer_der(p, CT_CSRATTRS, p->srv->csrattrs,
		    p->srv->csrattrs_len, style);
	else
		answer_der(p, CT_CSRATTRS, default_csrattrs,
		    sizeof(default_csrattrs), style);
}

/* Check that a Content-Type names application/pkcs10, parameters allowed. */
static int
ctype_is_pkcs10(const char *ct)
{
	static const char want[] = "application/pkcs10";
	size_t n = sizeof(want) - 1;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
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
 * Read the base64 PKCS#10 body of an enrollment request; on failure set p
 * to the error answer and return NULL.  The caller frees the CSR.
 */
static X509_REQ *
csr_read(struct pending *p)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(p->req);
	const unsigned char *cp;
	unsigned char *der, *body;
	X509_REQ *csr;
	size_t len = evbuffer_get_length(in), derlen;

	if (!ctype_is_pkcs10(evhttp_find_header(
	    evhttp_request_get_input_headers(p->req), "Content-Type"))) {
		answer_text(p, 415, "Content-Type must be application/pkcs10");
		return NULL;
	}
	if (len > MAX_BODY) {
		answer_text(p, 413, "request body too large");
		return NULL;
	}
	if (len == 0 || (body = evbuffer_pullup(in, -1)) == NULL) {
		answer_text(p, 400, "empty request body");
		return NULL;
	}
	if (b64_decode(body, len, &der, &derlen) == -1) {
		answer_text(p, 400, "request body is not base64");
		return NULL;
	}
	cp = der;
	if ((csr = d2i_X509_REQ(NULL, &cp, (long)derlen)) == NULL ||
	    cp != der + derlen) {
		answer_text(p, 400, "body is not a DER PKCS#10 request");
		X509_REQ_free(csr);
		csr = NULL;
	}
	ERR_clear_error();
	free(der);
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

/* Answer /simpleenroll and /simplereenroll: check the CSR, issue a cert. */
static void
op_enroll(struct pending *p, enum b64_style style)
{
	unsigned char *p7der;
	X509_REQ *csr;
	EVP_PKEY *pub;
	X509 *cert = NULL;
	size_t p7len;

	if ((csr = csr_read(p)) == NULL)
		return;
	if ((pub = X509_REQ_get0_pubkey(csr)) == NULL ||
	    X509_REQ_verify(csr, pub) != 1) {
		answer_text(p, 400, "CSR signature does not verify");
		goto out;
	}
	if ((cert = cert_issue(p->srv, csr, pub)) == NULL ||
	    p7_one_cert(cert, &p7der, &p7len) == -1) {
		ssl_warnx("cannot issue a certificate");
		answer_text(p, 500, "cannot issue certificate");
		goto out;
	}
	answer_der(p, CT_PKCS7, p7der, p7len, style);
	OPENSSL_free(p7der);
out:
	ERR_clear_error();
	X509_free(cert);
	X509_REQ_free(csr);
}

/* DER PrivateKeyInfo (RFC 5958) of key; the caller frees *der. */
static int
key_pkcs8_der(EVP_PKEY *key, unsigned char **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8;
	int n;

	*der = NULL;
	if ((p8 = EVP_PKEY2PKCS8(key)) == NULL)
		return -1;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/*
 * The key part as the mode's skg_form= asks: PKCS#8 DER (pkcs8, the
 * default), the key type's own DER (pkcs1 for RSA, sec1 for EC), PKCS#8
 * PEM text (pem) or 32 bytes that are no key (junk).
 */
static int
key_form_der(EVP_PKEY *key, const char *form, unsigned char **der,
    size_t *len)
{
	BIO *b;
	char *data;
	long n;
	int i;

	*der = NULL;
	if (form[0] == '\0' || strcmp(form, "pkcs8") == 0)
		return key_pkcs8_der(key, der, len);
	if (strcmp(form, "junk") == 0) {
		if ((*der = OPENSSL_malloc(32)) == NULL)
			return -1;
		memset(*der, 0x5a, 32);
		*len = 32;
		return 0;
	}
	if (strcmp(form, "pem") != 0) {
		if ((i = i2d_PrivateKey(key, der)) <= 0)
			return -1;
		*len = (size_t)i;
		return 0;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL,
	    NULL) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (*der = OPENSSL_memdup(data, (size_t)n)) != NULL)
		*len = (size_t)n;
	BIO_free(b);
	return *der != NULL ? 0 : -1;
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
    enum b64_style style, const unsigned char *key, size_t keylen,
    const unsigned char *p7, size_t p7len)
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
		rc |= b64_append(out, part[i].der, part[i].len, style, eol);
		if (style == B64_ONELINE)
			rc |= evbuffer_add(out, eol, strlen(eol));
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
 * Answer /serverkeygen: take the names from the CSR but neither its key
 * nor its signature (RFC 7030 4.4.1), make a P-256 key, issue a cert for
 * it and send both.  body=notsigned and body=zerocerts spoil the cert part.
 */
static void
op_serverkeygen(struct pending *p, const struct mode *m, enum b64_style style)
{
	unsigned char *keyder = NULL, *p7der = NULL;
	X509_REQ *csr;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t keylen = 0, p7len = 0;
	int rc;

	if ((csr = csr_read(p)) == NULL)
		return;
	/* skg_form=pkcs1: an RSA key, as libest sends it */
	key = strcmp(m->skg_form, "pkcs1") == 0 ? EVP_RSA_gen(2048) :
	    EVP_EC_gen("P-256");
	if (key == NULL ||
	    key_form_der(key, m->skg_form, &keyder, &keylen) == -1) {
		ssl_warnx("cannot generate a key");
		answer_text(p, 500, "cannot generate key");
		goto out;
	}
	if ((cert = cert_issue(p->srv, csr, key)) == NULL ||
	    p7_one_cert(cert, &p7der, &p7len) == -1) {
		ssl_warnx("cannot issue a certificate");
		answer_text(p, 500, "cannot issue certificate");
		goto out;
	}
	if (strcmp(m->body, "notsigned") == 0 ||
	    strcmp(m->body, "zerocerts") == 0) {
		OPENSSL_free(p7der);
		p7der = NULL;
		rc = m->body[0] == 'n' ? p7_data(&p7der, &p7len) :
		    p7_certs_only(NULL, &p7der, &p7len);
		if (rc == -1) {
			answer_text(p, 500, "cannot build PKCS#7");
			goto out;
		}
	}
	if (answer_multipart(p, m, style, keyder, keylen, p7der,
	    p7len) == -1) {
		evbuffer_drain(p->body, evbuffer_get_length(p->body));
		evhttp_clear_headers(evhttp_request_get_output_headers(p->req));
		answer_text(p, 500, "out of memory");
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
			b64_append(p->body, der, derlen, B64_WRAP, "\r\n");
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
		/* Also right for a client that left during the delay: evhttp
		 * then only frees the request it handed over to us. */
		evhttp_send_reply(p->req, p->status, NULL,
		    p->body);
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

/* Map a request path to an operation; -1 if it is not one of ours. */
static int
route(const char *path)
{
	const char *op, *slash;
	size_t i;

	if (path == NULL || strncmp(path, EST_PREFIX, strlen(EST_PREFIX)) != 0)
		return -1;
	op = path + strlen(EST_PREFIX);
	/* One optional label segment: <label>/<op>. */
	if ((slash = strchr(op, '/')) != NULL) {
		if (slash == op)
			return -1;
		op = slash + 1;
	}
	for (i = 0; i < NOPS; i++)
		if (strcmp(op, op_defs[i].name) == 0)
			return (int)i;
	return -1;
}

/* Handle one request: log it, route it, build the answer, send or delay. */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum b64_style style = B64_WRAP;
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

	op = route(uri != NULL ? evhttp_uri_get_path(uri) : NULL);
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
	if (strcmp(m.body, "oneline") == 0)
		style = B64_ONELINE;
	else if (strcmp(m.body, "spaces") == 0)
		style = B64_SPACES;

	if (m.status != 0 && m.status != 200)
		answer_status(p, &m);
	else if (op == OP_CACERTS)
		op_cacerts(p, &m, style);
	else if (op == OP_CSRATTRS)
		op_csrattrs(p, style);
	else if (op == OP_SERVERKEYGEN)
		op_serverkeygen(p, &m, style);
	else
		op_enroll(p, style);

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
	if (m.cte)
		evhttp_add_header(h, "Content-Transfer-Encoding", "base64");

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

/* Build the TLS context: our chain and key, required client certs. */
static SSL_CTX *
tls_setup(const char *cert, const char *key, const char *clientca)
{
	STACK_OF(X509_NAME) *names;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
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
	    "[-m modefile] [-x csrattrs.der]\n");
	exit(2);
}

/* Parse options, load the PKI, listen on loopback and run the loop. */
int
main(int argc, char *argv[])
{
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
	while ((ch = getopt(argc, argv, "p:c:k:C:a:A:b:P:l:m:x:h")) != -1) {
		switch (ch) {
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
	if ((srv.ssl = tls_setup(cert, key, clientca)) == NULL) {
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
