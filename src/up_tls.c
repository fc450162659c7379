/*
 * Upstream TLS identity and trust, parsed once per generation (up_tls.h).
 *
 * libcurl reuses a pooled connection (and resumes a cached TLS session)
 * for any transfer whose TLS options compare equal; what an SSL_CTX
 * callback installs is not part of that comparison. So that a connection
 * made with one identity or trust never serves another (a label with its
 * own client certificate, or the files after a reload), each identity
 * carries a tag in its cipher list: a name OpenSSL does not know and
 * skips, made of a digest of the certificate, key and CA files. The list
 * selects exactly OpenSSL's default ciphers.
 *
 * libcurl 7.87 to 8.2 set up a connection's trust store after the SSL_CTX
 * callback, from a store it caches per multi handle when no CA blob is
 * given; that cached store (another route's) would replace ours, so the
 * cache is turned off for these transfers (CURLOPT_CA_CACHE_TIMEOUT 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "log.h"
#include "pki.h"
#include "up_tls.h"

/* One route's identity and trust, ready for any number of SSL_CTXs. */
struct up_ident {
	X509		*cert;
	STACK_OF(X509)	*chain;		/* sent after cert */
	EVP_PKEY	*key;
	X509_STORE	*store;		/* upstream.ca */
	char		 ciphers[64];	/* "DEFAULT:!estcoapd-id-<digest>" */
};

struct up_tls {
	unsigned	 refs;
	size_t		 n;
	struct up_ident	 id[CONFIG_MAX_ROUTES];
};

/* A memory BIO over a PEM buffer whose length counts its NUL. */
static BIO *
up_tls_bio(const char *pem, size_t len)
{
	if (pem == NULL || len < 2)
		return NULL;
	return BIO_new_mem_buf(pem, (int)(len - 1));
}

/* The leaf certificate and the chain after it. 0 or -1. */
static int
up_tls_certs(struct up_ident *id, const struct pki_up *pu)
{
	BIO	*bio = up_tls_bio(pu->cert_pem, pu->cert_len);
	X509	*x;

	if (bio == NULL || (id->chain = sk_X509_new_null()) == NULL) {
		BIO_free(bio);
		return -1;
	}
	id->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	while (id->cert != NULL &&
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(id->chain, x)) {
			X509_free(x);
			break;
		}
	BIO_free(bio);
	return id->cert != NULL ? 0 : -1;
}

/* The private key. 0 or -1. */
static int
up_tls_key(struct up_ident *id, const struct pki_up *pu)
{
	BIO	*bio = up_tls_bio(pu->key_pem, pu->key_len);

	if (bio == NULL)
		return -1;
	id->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return id->key != NULL ? 0 : -1;
}

/*
 * The trust store, verifying as libcurl does with a CA file: anchors
 * first, and an intermediate listed there is an anchor too. 0 or -1.
 */
static int
up_tls_store(struct up_ident *id, const struct pki_up *pu)
{
	BIO	*bio = up_tls_bio(pu->ca_pem, pu->ca_len);
	X509	*x;
	int	 n = 0;

	if (bio == NULL || (id->store = X509_STORE_new()) == NULL) {
		BIO_free(bio);
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		n += X509_STORE_add_cert(id->store, x) == 1;
		X509_free(x);
	}
	BIO_free(bio);
	X509_STORE_set_flags(id->store, X509_V_FLAG_TRUSTED_FIRST |
	    X509_V_FLAG_PARTIAL_CHAIN);
	return n > 0 ? 0 : -1;
}

/* The cipher list naming this identity's content. 0 or -1. */
static int
up_tls_tag(struct up_ident *id, const struct pki_up *pu)
{
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	unsigned char	 d[EVP_MAX_MD_SIZE];
	unsigned	 dlen = 0;
	int		 ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, pu->cert_pem, pu->cert_len) &&
	    EVP_DigestUpdate(md, pu->key_pem, pu->key_len) &&
	    EVP_DigestUpdate(md, pu->ca_pem, pu->ca_len) &&
	    EVP_DigestFinal_ex(md, d, &dlen) && dlen >= 8;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	snprintf(id->ciphers, sizeof(id->ciphers),
	    "DEFAULT:!estcoapd-id-%02x%02x%02x%02x%02x%02x%02x%02x", d[0], d[1],
	    d[2], d[3], d[4], d[5], d[6], d[7]);
	return 0;
}

/* Free one identity's objects (it may be partly built). */
static void
up_tls_clear(struct up_ident *id)
{
	X509_free(id->cert);
	sk_X509_pop_free(id->chain, X509_free);
	EVP_PKEY_free(id->key);
	X509_STORE_free(id->store);
	memset(id, 0, sizeof(*id));
}

/* See up_tls.h. */
struct up_tls *
up_tls_new(const struct pki_set *pki, size_t nroutes)
{
	struct up_tls	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->refs = 1;
	t->n = nroutes < CONFIG_MAX_ROUTES ? nroutes : CONFIG_MAX_ROUTES;
	for (size_t i = 0; pki != NULL && i < t->n; i++) {
		struct up_ident		*id = &t->id[i];
		const struct pki_up	*pu = &pki->up[i];

		if (up_tls_certs(id, pu) == -1 || up_tls_key(id, pu) == -1 ||
		    up_tls_store(id, pu) == -1 || up_tls_tag(id, pu) == -1) {
			up_tls_clear(id);
			log_debug("upstream: route %zu: identity left to "
			    "libcurl", i);
		}
	}
	ERR_clear_error();
	return t;
}

/* See up_tls.h. */
struct up_tls *
up_tls_ref(struct up_tls *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

/* See up_tls.h. */
void
up_tls_unref(struct up_tls *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->n; i++)
		up_tls_clear(&t->id[i]);
	free(t);
}

/* See up_tls.h. */
CURLcode
up_tls_ctx_cb(CURL *e, void *sslctx, void *arg)
{
	const struct up_ident	*id = arg;
	SSL_CTX			*ctx = sslctx;

	(void)e;
	if (SSL_CTX_use_certificate(ctx, id->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, id->key) != 1)
		goto fail;
	for (int i = 0; i < sk_X509_num(id->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(id->chain,
		    i)) != 1)
			goto fail;
	if (X509_STORE_up_ref(id->store) != 1)
		goto fail;
	SSL_CTX_set_cert_store(ctx, id->store);
	return CURLE_OK;
fail:
	ERR_clear_error();
	return CURLE_SSL_CERTPROBLEM;
}

/* See up_tls.h. */
void *
up_tls_data(struct up_tls *t, size_t route)
{
	if (t == NULL || route >= t->n || t->id[route].cert == NULL)
		return NULL;
	return &t->id[route];
}

/* See up_tls.h. */
const char *
up_tls_ciphers(struct up_tls *t, size_t route)
{
	struct up_ident	*id = up_tls_data(t, route);

	return id != NULL ? id->ciphers : NULL;
}

/* See up_tls.h. */
int
up_tls_setopt(struct up_tls *t, size_t route, CURL *e)
{
	struct up_ident	*id = up_tls_data(t, route);

	if (id == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, up_tls_ctx_cb) !=
	    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, id) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, id->ciphers) !=
	    CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAINFO, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, 0L) != CURLE_OK)
		return -1;
	return 0;
}
