/*
 * Server profiles of the test upstream (est_profile.h).  Each behaviour
 * names where the real server family does the same; README
 * "Interoperability" has the links.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "est_profile.h"

#define CT_PKCS7_CO	"application/pkcs7-mime; smime-type=certs-only"
#define CT_GO_TEXT	"text/plain; charset=utf-8"

static const struct prof profiles[] = {
	{
		/* RFC 7030 as updated by RFC 8951: the suite's reference */
		.id = PROF_RFC8951, .name = "rfc8951",
		.b64 = { 64, "\r\n", 1, 0 }, .b64_attrs = { 64, "\r\n", 1, 0 },
		.ct_cacerts = CT_PKCS7_CO,
		.skg = SKG_RFC8951, .skg_alg = "p256",
		.pend = PP_LIBEST, .pend_retry = 1,
	}, {
		/*
		 * est_server_http.c: TLS <= 1.2, no tickets, keep-alive
		 * off after 202 and >= 400; BIO_f_base64 output
		 * (64 columns, LF); cacerts typed without smime-type;
		 * estserver.c: RSA-4096 keys, csrattrs length counts the NUL.
		 */
		.id = PROF_LIBEST, .name = "libest",
		.tls_max = TLS1_2_VERSION,
		.b64 = { 64, "\n", 1, 0 }, .b64_attrs = { 0, "", 0, 0 },
		.attrs_nul = 1, .cte_out = 1,
		.ct_cacerts = "application/pkcs7-mime",
		.close_errors = 1, .bare_errors = 1,
		.skg = SKG_LIBEST, .skg_alg = "rsa4096",
		.pend = PP_LIBEST, .pend_retry = 1,
	}, {
		/*
		 * Go net/http (h2 by ALPN, chunked past its 2 KiB buffer);
		 * encoding.go: 76 columns, CRLF; server.go: reenroll names
		 * must equal the TLS client certificate's; mockca: RSA-2048
		 * PKCS#8 keys, errors by label "triggererrors".
		 */
		.id = PROF_GLOBALSIGN, .name = "globalsign",
		.alpn_http11 = 1,
		.b64 = { 76, "\r\n", 1, 0 }, .b64_attrs = { 76, "\r\n", 1, 0 },
		.cte_out = 1, .cte_in = 1,
		.ct_cacerts = "application/pkcs7-mime",
		.chunk_over = 2048,
		.skg = SKG_GO, .skg_alg = "rsa2048", .skg_verify = 1,
		.reenroll_tls = 1,
		.pend = PP_LIBEST, .pend_retry = 600,
	}, {
		/*
		 * Client/Service/EST.pm: base64 with all whitespace
		 * removed, certs-only type by default, no serverkeygen;
		 * Role/Base.pm: pending workflows picked up by the CSR's
		 * SHA-1, Retry-After 300.
		 */
		.id = PROF_OPENXPKI, .name = "openxpki",
		.b64 = { 0, "", 0, 0 }, .b64_attrs = { 0, "", 0, 0 },
		.cte_out = 1,
		.ct_cacerts = CT_PKCS7_CO,
		.skg = SKG_NONE, .skg_alg = "p256",
		.pend = PP_OPENXPKI, .pend_retry = 300,
	},
};
#define NPROFILES	(sizeof(profiles) / sizeof(profiles[0]))

static int alpn_idx = -1;	/* SSL ex_data: 1 when h2 was offered */

/* See est_profile.h. */
const struct prof *
prof_find(const char *name)
{
	for (size_t i = 0; i < NPROFILES; i++)
		if (strcmp(profiles[i].name, name) == 0)
			return &profiles[i];
	return NULL;
}

/* See est_profile.h. */
const char *
prof_names(void)
{
	return "rfc8951, libest, globalsign, openxpki";
}

/*
 * ALPN: pick http/1.1 and note whether h2 was offered.  A Go server would
 * pick h2; evhttp speaks only HTTP/1.1 (README "Interoperability").
 */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "http/1.1";
	int found = 0;

	(void)arg;
	for (unsigned i = 0; i < inlen && in[i] <= inlen - i - 1;
	    i += 1u + in[i]) {
		if (in[i] == 2 && memcmp(&in[i + 1], "h2", 2) == 0)
			SSL_set_ex_data(ssl, alpn_idx, (void *)(uintptr_t)1);
		if (in[i] == 8 && memcmp(&in[i + 1], h11, 8) == 0) {
			*out = &in[i + 1];
			*outlen = 8;
			found = 1;
		}
	}
	return found ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

/* See est_profile.h. */
int
prof_tls(const struct prof *pf, SSL_CTX *ctx, const char *chainfile)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, chainfile) != 1)
		return -1;
	if (pf->tls_max != 0) {
		if (!SSL_CTX_set_max_proto_version(ctx, pf->tls_max))
			return -1;
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	}
	if (pf->alpn_http11) {
		if (alpn_idx == -1 && (alpn_idx = SSL_get_ex_new_index(0,
		    NULL, NULL, NULL, NULL)) == -1)
			return -1;
		SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	}
	return 0;
}

/* See est_profile.h. */
int
prof_h2_offered(SSL *ssl)
{
	return alpn_idx != -1 && ssl != NULL &&
	    SSL_get_ex_data(ssl, alpn_idx) != NULL;
}

/*
 * Whether a Content-Type's media type is want (exact) or starts with it
 * (Go's mime.ParseMediaType, then strings.HasPrefix), ignoring case,
 * blanks and parameters.
 */
static int
media_type_is(const char *ct, const char *want, int exact)
{
	size_t n = strlen(want);

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return 0;
	for (ct += n; exact && (*ct == ' ' || *ct == '\t'); ct++)
		;
	return !exact || *ct == '\0' || *ct == ';';
}

/* See est_profile.h. */
enum prof_err
prof_check_post(const struct prof *pf, const char *ctype, const char *cte)
{
	switch (pf->id) {
	case PROF_LIBEST:
		/* est_server.c: strncmp(ct, "application/pkcs10", 18) */
		if (ctype == NULL ||
		    strncmp(ctype, "application/pkcs10", 18) != 0)
			return PE_CTYPE;
		return PE_NONE;
	case PROF_OPENXPKI:
		/* EST.pm never looks at the request's Content-Type */
		return PE_NONE;
	case PROF_RFC8951:
	case PROF_GLOBALSIGN:
		break;
	}
	if (ctype == NULL)
		return PE_NO_CTYPE;
	if (!media_type_is(ctype, "application/pkcs10",
	    pf->id == PROF_RFC8951))
		return PE_CTYPE;
	if (!pf->cte_in)
		return PE_NONE;
	if (cte == NULL)
		return PE_NO_CTE;
	return strcmp(cte, "base64") == 0 ? PE_NONE : PE_BAD_CTE;
}

/* libest est_server_parse_csr(): d2i_X509_REQ_bio through BIO_f_base64. */
static X509_REQ *
csr_read_bio(const unsigned char *body, size_t len)
{
	X509_REQ *csr;
	BIO *in, *b64;

	if (len > INT32_MAX || (in = BIO_new_mem_buf(body, (int)len)) == NULL)
		return NULL;
	if ((b64 = BIO_new(BIO_f_base64())) == NULL) {
		BIO_free(in);
		return NULL;
	}
	in = BIO_push(b64, in);
	csr = d2i_X509_REQ_bio(in, NULL);
	BIO_free_all(in);
	return csr;
}

/* Decode with dec and parse; trailing bytes fail when strict. */
static X509_REQ *
csr_read_der(const unsigned char *body, size_t len,
    int (*dec)(const unsigned char *, size_t, unsigned char **, size_t *),
    int strict, enum prof_err *err)
{
	const unsigned char *cp;
	unsigned char *der;
	X509_REQ *csr;
	size_t derlen;

	if (dec(body, len, &der, &derlen) == -1) {
		*err = PE_BASE64;
		return NULL;
	}
	cp = der;
	csr = d2i_X509_REQ(NULL, &cp, (long)derlen);
	if (csr != NULL && strict && cp != der + derlen) {
		X509_REQ_free(csr);
		csr = NULL;
	}
	if (csr == NULL)
		*err = PE_CSR;
	free(der);
	return csr;
}

/* See est_profile.h. */
X509_REQ *
prof_csr_read(const struct prof *pf, const unsigned char *body, size_t len,
    int verify, enum prof_err *err)
{
	X509_REQ *csr = NULL;
	EVP_PKEY *pub;

	*err = PE_NONE;
	if (len == 0 && pf->id != PROF_LIBEST && pf->id != PROF_GLOBALSIGN)
		*err = PE_EMPTY;
	else if (pf->id == PROF_LIBEST) {
		if ((csr = csr_read_bio(body, len)) == NULL)
			*err = PE_CSR;
	} else if (pf->id == PROF_GLOBALSIGN)
		csr = csr_read_der(body, len, b64_decode_go, 1, err);
	else if (pf->id == PROF_OPENXPKI)
		csr = csr_read_der(body, len, b64_decode_perl, 0, err);
	else
		csr = csr_read_der(body, len, b64_decode_ws, 1, err);
	if (csr != NULL && verify && ((pub = X509_REQ_get0_pubkey(csr)) ==
	    NULL || X509_REQ_verify(csr, pub) != 1)) {
		X509_REQ_free(csr);
		csr = NULL;
		*err = PE_CSR_SIG;
	}
	ERR_clear_error();
	return csr;
}

/* The value of the SubjectAltName extension in exts, or NULL. */
static const ASN1_OCTET_STRING *
san_value(const STACK_OF(X509_EXTENSION) *exts)
{
	int i = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);

	return i < 0 ? NULL :
	    X509_EXTENSION_get_data(X509v3_get_ext(exts, i));
}

/* See est_profile.h; globalsign server.go enroll() compares raw bytes. */
int
prof_same_names(X509_REQ *csr, X509 *cert)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
	const ASN1_OCTET_STRING *a, *b;
	unsigned char *d1 = NULL, *d2 = NULL;
	int n1, n2, same;

	n1 = i2d_X509_NAME(X509_REQ_get_subject_name(csr), &d1);
	n2 = i2d_X509_NAME(X509_get_subject_name(cert), &d2);
	same = n1 > 0 && n1 == n2 && memcmp(d1, d2, (size_t)n1) == 0;
	a = san_value(exts);
	b = san_value(X509_get0_extensions(cert));
	if (same && (a != NULL || b != NULL))
		same = a != NULL && b != NULL && ASN1_STRING_cmp(a, b) == 0;
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ERR_clear_error();
	return same;
}

/* One error as a server family states it. */
struct perr {
	enum prof_err	 e;
	int		 status;
	const char	*text;
};

/* Our own wording. */
static const struct perr err_rfc8951[] = {
	{ PE_NO_CTYPE, 415, "Content-Type must be application/pkcs10" },
	{ PE_CTYPE, 415, "Content-Type must be application/pkcs10" },
	{ PE_EMPTY, 400, "empty request body" },
	{ PE_BASE64, 400, "request body is not base64" },
	{ PE_CSR, 400, "body is not a DER PKCS#10 request" },
	{ PE_CSR_SIG, 400, "CSR signature does not verify" },
	{ PE_NOT_IMPL, 501, "not implemented" },
	{ PE_INTERNAL, 500, "internal error" },
};

/* est_locl.h EST_BODY_*, sent by est_send_http_error(). */
static const struct perr err_libest[] = {
	{ PE_NO_CTYPE, 400, "Invalid content type used.\n" },
	{ PE_CTYPE, 400, "Invalid content type used.\n" },
	{ PE_CSR, 400, "Invalid or corrupted pkcs10 request.\n" },
	{ PE_CSR_SIG, 400, "Invalid or corrupted pkcs10 request.\n" },
	{ PE_NOT_IMPL, 404, "Requested content is currently not available "
	    "on the server.\n" },
	{ PE_INTERNAL, 500, "An unknown error has occured.\n" },
};

/* errors.go and http.go estError descriptions. */
static const struct perr err_globalsign[] = {
	{ PE_NO_CTYPE, 415, "malformed or missing Content-Type header" },
	{ PE_CTYPE, 415, "Content-Type must be application/pkcs10" },
	{ PE_NO_CTE, 415, "missing Content-Transfer-Encoding header" },
	{ PE_BAD_CTE, 415, "Content-Transfer-Encoding must be base64" },
	{ PE_EMPTY, 400, "malformed PKCS10 certificate signing request" },
	{ PE_BASE64, 400, "invalid base64 encoding" },
	{ PE_CSR, 400, "malformed PKCS10 certificate signing request" },
	{ PE_CSR_SIG, 400, "invalid PKCS10 certificate signing request "
	    "signature" },
	{ PE_SUBJECT, 403, "Subject and SubjectAltName fields in CSR must "
	    "be identical to certificate being renewed" },
	{ PE_FORBIDDEN, 403, "triggered forbidden response" },
	{ PE_BIT_SIZE, 400, "invalid bit size value" },
	{ PE_INTERNAL, 500, "internal server error" },
};

/* Response.pm %named_messages. */
static const struct perr err_openxpki[] = {
	{ PE_EMPTY, 400, "Request body is empty" },
	{ PE_BASE64, 400, "Unable to parse request" },
	{ PE_CSR, 400, "Unable to parse request" },
	{ PE_CSR_SIG, 400, "Unable to parse request" },
	{ PE_NOT_IMPL, 501, "Operation not implemented" },
	{ PE_INTERNAL, 500, "Server Error" },
};

/* The standard phrase of the statuses these servers send. */
static const char *
std_phrase(int status)
{
	switch (status) {
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 415: return "Unsupported Media Type";
	case 501: return "Not Implemented";
	default: return "Internal Server Error";
	}
}

/* The entry for e in a table, or its PE_INTERNAL entry. */
static const struct perr *
perr_find(const struct perr *t, size_t n, enum prof_err e)
{
	const struct perr *fallback = &t[n - 1];

	for (size_t i = 0; i < n; i++)
		if (t[i].e == e)
			return &t[i];
	return fallback;
}

/* See est_profile.h. */
void
prof_error(const struct prof *pf, enum prof_err e, struct prof_reply *r)
{
#define FIND(t) perr_find((t), sizeof(t) / sizeof((t)[0]), e)
	const struct perr *pe;

	memset(r, 0, sizeof(*r));
	switch (pf->id) {
	case PROF_LIBEST:
		/* mg_send_http_error(): no Content-Type */
		pe = FIND(err_libest);
		snprintf(r->text, sizeof(r->text), "Error %d: %s\n%s",
		    pe->status, std_phrase(pe->status), pe->text);
		break;
	case PROF_GLOBALSIGN:
		pe = FIND(err_globalsign);
		r->ctype = CT_GO_TEXT;
		snprintf(r->text, sizeof(r->text), "%d %s\n", pe->status,
		    pe->text);
		break;
	case PROF_OPENXPKI:
		/* prepare() set the certs-only type; errors keep it */
		pe = FIND(err_openxpki);
		r->ctype = CT_PKCS7_CO;
		snprintf(r->reason, sizeof(r->reason), "%s", pe->text);
		snprintf(r->text, sizeof(r->text), "%s\n", pe->text);
		break;
	case PROF_RFC8951:
	default:
		pe = FIND(err_rfc8951);
		r->ctype = "text/plain";
		snprintf(r->text, sizeof(r->text), "%s\n", pe->text);
		break;
	}
	r->status = pe->status;
#undef FIND
}

/* See est_profile.h. */
void
prof_pending(const struct prof *pf, long retry, const char *tid,
    struct prof_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 202;
	r->retry_after = retry;
	switch (pf->id) {
	case PROF_LIBEST:
		/* est_server_send_http_retry_after(): headers only */
		break;
	case PROF_GLOBALSIGN:
		r->ctype = CT_GO_TEXT;
		snprintf(r->text, sizeof(r->text),
		    "202 triggered deferred response\n");
		break;
	case PROF_OPENXPKI:
		r->ctype = CT_PKCS7_CO;
		snprintf(r->reason, sizeof(r->reason),
		    "Request Pending - Retry Later (%s)", tid != NULL ? tid :
		    "");
		snprintf(r->text, sizeof(r->text), "%s\n", r->reason);
		break;
	case PROF_RFC8951:
	default:
		r->ctype = "text/plain";
		snprintf(r->text, sizeof(r->text), "request pending\n");
		break;
	}
}

/* See est_profile.h. */
int
prof_trigger(const struct prof *pf, const char *label, X509_REQ *csr,
    struct prof_reply *r)
{
	char cn[128];

	if (pf->id != PROF_GLOBALSIGN || label == NULL ||
	    strcmp(label, "triggererrors") != 0 ||
	    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(csr),
	    NID_commonName, cn, sizeof(cn)) < 0) {
		ERR_clear_error();
		return 0;
	}
	if (strcmp(cn, "Trigger Error Forbidden") == 0)
		prof_error(pf, PE_FORBIDDEN, r);
	else if (strcmp(cn, "Trigger Error Deferred") == 0)
		prof_pending(pf, pf->pend_retry, NULL, r);
	else if (strcmp(cn, "Trigger Error Unknown") == 0)
		prof_error(pf, PE_INTERNAL, r);
	else
		return 0;
	return 1;
}

/*
 * Generate the key alg names, or read it from a PEM file when alg is a
 * path (mode skg_keyfile=: a big RSA key without the time to make one);
 * NULL for an unknown name.
 */
static EVP_PKEY *
key_gen(const char *alg)
{
	EVP_PKEY *key;
	FILE *f;

	if (alg[0] == '/') {
		if ((f = fopen(alg, "r")) == NULL)
			return NULL;
		key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		return key;
	}
	if (strcmp(alg, "p256") == 0)
		return EVP_EC_gen("P-256");
	if (strcmp(alg, "rsa2048") == 0)
		return EVP_RSA_gen(2048);
	if (strcmp(alg, "rsa3072") == 0)
		return EVP_RSA_gen(3072);
	if (strcmp(alg, "rsa4096") == 0)
		return EVP_RSA_gen(4096);
	return NULL;
}

/* PKCS#8 of key as PEM text; -1 on error. */
static int
key_pem(EVP_PKEY *key, unsigned char **der, size_t *len)
{
	char *data;
	long n;
	BIO *b;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (PEM_write_bio_PKCS8PrivateKey(b, key, NULL, NULL, 0, NULL,
	    NULL) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (*der = OPENSSL_memdup(data, (size_t)n)) != NULL)
		*len = (size_t)n;
	BIO_free(b);
	return *der != NULL ? 0 : -1;
}

/* Encode key as form says (prof_skg_key()); -1 on error. */
static int
key_encode(EVP_PKEY *key, const char *form, unsigned char **der,
    size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8;
	int n;

	if (strcmp(form, "pem") == 0)
		return key_pem(key, der, len);
	if (strcmp(form, "junk") == 0) {
		if ((*der = OPENSSL_malloc(32)) == NULL)
			return -1;
		memset(*der, 0x5a, 32);
		*len = 32;
		return 0;
	}
	if (strcmp(form, "pkcs1") == 0 || strcmp(form, "sec1") == 0) {
		/* est_server.c: i2d_PrivateKey(), the type's own form */
		n = i2d_PrivateKey(key, der);
	} else {
		if ((p8 = EVP_PKEY2PKCS8(key)) == NULL)
			return -1;
		n = i2d_PKCS8_PRIV_KEY_INFO(p8, der);
		PKCS8_PRIV_KEY_INFO_free(p8);
	}
	if (n <= 0)
		return -1;
	*len = (size_t)n;
	return 0;
}

/* See est_profile.h. */
int
prof_skg_key(const struct prof *pf, const char *alg, const char *form,
    EVP_PKEY **key, unsigned char **der, size_t *len)
{
	*der = NULL;
	if ((*key = key_gen(alg)) == NULL)
		return -1;
	if (form[0] == '\0')
		form = pf->skg == SKG_LIBEST ? "pkcs1" : "pkcs8";
	if (key_encode(*key, form, der, len) == 0)
		return 0;
	EVP_PKEY_free(*key);
	*key = NULL;
	return -1;
}
