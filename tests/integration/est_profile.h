/*
 * Server profiles of the test upstream (est-testserver --profile NAME):
 * what a real EST server family accepts, rejects and answers, as its
 * source code and documentation say (README "Interoperability" lists the
 * sources).  The default profile, rfc8951, follows RFC 7030 as updated
 * by RFC 8951.
 */
#ifndef EST_PROFILE_H
#define EST_PROFILE_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "est_b64.h"

enum prof_id {
	PROF_RFC8951,
	PROF_LIBEST,			/* Cisco libest 3.2.0 estserver */
	PROF_GLOBALSIGN,		/* globalsign/est v1.0.6 estserver */
	PROF_OPENXPKI,			/* OpenXPKI EST (Client/Service/EST.pm) */
};

/* What a request did wrong, in each server's own terms (prof_error()). */
enum prof_err {
	PE_NONE,
	PE_NO_CTYPE,			/* Content-Type missing */
	PE_CTYPE,			/* Content-Type not application/pkcs10 */
	PE_NO_CTE,			/* Content-Transfer-Encoding missing */
	PE_BAD_CTE,			/* Content-Transfer-Encoding not base64 */
	PE_EMPTY,			/* empty body */
	PE_BASE64,			/* body is not base64 to this server */
	PE_CSR,				/* not a PKCS#10 request */
	PE_CSR_SIG,			/* its signature does not verify */
	PE_SUBJECT,			/* reenroll names differ from the TLS
					   client certificate's */
	PE_NOT_IMPL,			/* operation not offered */
	PE_FORBIDDEN,			/* refused by the CA */
	PE_BIT_SIZE,			/* bad Bit-Size header (serverkeygen) */
	PE_INTERNAL,
};

/* How /serverkeygen answers. */
enum prof_skg {
	SKG_RFC8951,			/* P-256 PKCS#8, knob-driven multipart */
	SKG_LIBEST,			/* i2d_PrivateKey: PKCS#1 / SEC1 */
	SKG_GO,				/* PKCS#8 in Go's multipart writer */
	SKG_NONE,			/* not offered: PE_NOT_IMPL */
};

/* How the server keeps enrollments it answered 202 to (est_pending.h). */
enum prof_pend {
	PP_LIBEST,			/* mode manual=SECS: by public key */
	PP_OPENXPKI,			/* by CSR, approved by the operator */
};

struct prof {
	enum prof_id		 id;
	const char		*name;
	int			 tls_max;	/* 0 = the library's */
	int			 alpn_http11;	/* pick http/1.1 by ALPN */
	struct b64_layout	 b64;		/* answers */
	struct b64_layout	 b64_attrs;	/* csrattrs answers */
	int			 attrs_nul;	/* a NUL after csrattrs */
	int			 cte_out;	/* CTE: base64 on answers */
	int			 cte_in;	/* POSTs need CTE: base64 */
	const char		*ct_cacerts;
	size_t			 chunk_over;	/* chunked past this; 0 never */
	int			 close_errors;	/* Connection: close on 202/4xx */
	int			 bare_errors;	/* errors carry no Content-Type */
	enum prof_skg		 skg;
	const char		*skg_alg;	/* default generated key */
	int			 skg_verify;	/* check the skg CSR signature */
	int			 reenroll_tls;	/* sren names = TLS client's */
	enum prof_pend		 pend;
	long			 pend_retry;	/* Retry-After of a pending 202 */
};

/* An error or pending answer as the server family writes it. */
struct prof_reply {
	int		 status;
	char		 reason[128];	/* status line phrase; "" = standard */
	const char	*ctype;		/* NULL = no Content-Type */
	char		 text[512];	/* the body */
	long		 retry_after;	/* seconds; 0 = no Retry-After */
};

/* The profile called name, or NULL. */
const struct prof	*prof_find(const char *name);
/* The names of all profiles, for usage lines. */
const char		*prof_names(void);

/* Load the server certificate chain, set the profile's TLS limits. */
int	prof_tls(const struct prof *pf, SSL_CTX *ctx, const char *chainfile);
/* 1 when the client of ssl offered h2 by ALPN (alpn_http11 profiles). */
int	prof_h2_offered(SSL *ssl);

/* Check Content-Type and Content-Transfer-Encoding of a POST. */
enum prof_err	prof_check_post(const struct prof *pf, const char *ctype,
		    const char *cte);
/*
 * Decode and parse a PKCS#10 body the way the server does, and verify its
 * signature when verify is set.  NULL with *err set on failure.
 */
X509_REQ	*prof_csr_read(const struct prof *pf,
		    const unsigned char *body, size_t len, int verify,
		    enum prof_err *err);
/* 1 when the CSR's Subject and SubjectAltName equal the certificate's. */
int		 prof_same_names(X509_REQ *csr, X509 *cert);

/* The server's answer for an error. */
void	prof_error(const struct prof *pf, enum prof_err e,
	    struct prof_reply *r);
/* The server's 202 answer; tid is the transaction id, or NULL. */
void	prof_pending(const struct prof *pf, long retry, const char *tid,
	    struct prof_reply *r);
/*
 * globalsign's mock CA under the label "triggererrors": by the CSR's
 * common name, 403, 202 + Retry-After 600 or 500.  1 with r set when the
 * request triggers one, else 0.
 */
int	prof_trigger(const struct prof *pf, const char *label,
	    X509_REQ *csr, struct prof_reply *r);

/*
 * Make the serverkeygen key named alg (p256, rsa2048, rsa3072, rsa4096)
 * and encode it as form says: pkcs8 (PrivateKeyInfo DER), pkcs1 or sec1
 * (the type's own DER: RSAPrivateKey, ECPrivateKey), pem (PKCS#8 PEM
 * text), junk (32 bytes that are no key), or "" as the profile does:
 * PKCS#8, or the type's own DER for SKG_LIBEST.  The caller frees *der
 * with OPENSSL_clear_free() and *key.
 */
int	prof_skg_key(const struct prof *pf, const char *alg, const char *form,
	    EVP_PKEY **key, unsigned char **der, size_t *len);

/*
 * The serverkeygen multipart/mixed body of SKG_LIBEST and SKG_GO servers,
 * key part first, into out, and its Content-Type into ctype; -1 if out
 * of memory.
 */
struct evbuffer;
int	prof_multipart(const struct prof *pf, struct evbuffer *out,
	    const char *keyct, const unsigned char *key, size_t keylen,
	    const unsigned char *p7, size_t p7len, char *ctype, size_t ctsz);

#endif
