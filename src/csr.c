/*
 * The CSR of a request, decoded once (csr.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csr.h"
#include "pubkey.h"

struct est_csr {
	X509_REQ	*req;
	EVP_PKEY	*key;		/* its key (pubkey.h); NULL: none */
	GENERAL_NAMES	*sans;		/* the only SAN extension, decoded */
	int		 nsans;		/* SAN extensions: 0, 1, 2 (more) */
};

/* A key's SubjectPublicKeyInfo as its CSR carried it (csr_key_spki). */
struct csr_spki {
	int		 len;
	unsigned char	 der[];
};

static int	csr_spki_idx = -1;	/* its EVP_PKEY ex_data index */

/* ex_data: a copy of the SPKI for a copy of the key (EVP_PKEY_dup). */
static int
csr_spki_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d,
    int idx, long argl, void *argp)
{
	const struct csr_spki *k = *from_d;

	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	if (k != NULL)
		*from_d = OPENSSL_memdup(k, sizeof(*k) + (size_t)k->len);
	return 1;
}

/* ex_data: the SPKI goes with the key's last reference. */
static void
csr_spki_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	OPENSSL_free(ptr);
}

/*
 * Keep the SubjectPublicKeyInfo of the request on its key object: the
 * held-answer key of the request hashes it (exchange.h), also after the
 * request is freed. Without it csr_key_spki encodes the key again.
 */
static void
csr_keep_spki(struct est_csr *c)
{
	struct csr_spki	*k;
	unsigned char	*der = NULL;
	int		 n;

	if (csr_spki_idx == -1)
		csr_spki_idx = EVP_PKEY_get_ex_new_index(0, NULL, NULL,
		    csr_spki_dup, csr_spki_free);
	if (c->key == NULL || csr_spki_idx == -1 || (n = i2d_X509_PUBKEY(
	    X509_REQ_get_X509_PUBKEY(c->req), &der)) <= 0) {
		ERR_clear_error();
		return;
	}
	if ((k = OPENSSL_malloc(sizeof(*k) + (size_t)n)) != NULL) {
		k->len = n;
		memcpy(k->der, der, (size_t)n);
		if (EVP_PKEY_set_ex_data(c->key, csr_spki_idx, k) != 1)
			OPENSSL_free(k);
	}
	OPENSSL_free(der);
}

/* The subjectAltName extensions of the request into c (see csr_sans). */
static void
csr_read_sans(struct est_csr *c)
{
	STACK_OF(X509_EXTENSION)	*exts = X509_REQ_get_extensions(c->req);
	int				 i;

	i = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	if (i >= 0) {
		c->nsans = 1;
		if (X509v3_get_ext_by_NID(exts, NID_subject_alt_name, i) >= 0)
			c->nsans = 2;
		else
			c->sans = X509V3_EXT_d2i(X509v3_get_ext(exts, i));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

/*
 * See csr.h. The request is decoded without its key, which pubkey_get
 * then builds from the SubjectPublicKeyInfo (pubkey.h): every reader of
 * the key goes through csr_key, none through X509_REQ_get0_pubkey.
 */
struct est_csr *
csr_parse(const uint8_t *der, size_t len, const char **why)
{
	const unsigned char	*p = der;
	struct est_csr		*c = NULL;

	if (len == 0)
		*why = "empty csr";
	else if (len > LONG_MAX)
		*why = "csr too large";
	else if ((c = calloc(1, sizeof(*c))) == NULL)
		*why = "out of memory";
	else if ((c->req = pubkey_d2i_req(&p, (long)len)) == NULL)
		*why = "csr is not a der pkcs#10 request";
	else if (p != der + len)
		*why = "trailing bytes after csr";
	else {
		c->key = pubkey_get(X509_REQ_get_X509_PUBKEY(c->req));
		csr_keep_spki(c);
		csr_read_sans(c);
		ERR_clear_error();
		return c;
	}
	csr_free(c);
	ERR_clear_error();
	return NULL;
}

/* See csr.h. */
void
csr_free(struct est_csr *c)
{
	if (c == NULL)
		return;
	GENERAL_NAMES_free(c->sans);
	EVP_PKEY_free(c->key);
	X509_REQ_free(c->req);
	free(c);
}

/* See csr.h. */
X509_REQ *
csr_req(const struct est_csr *c)
{
	return c->req;
}

/* See csr.h. */
EVP_PKEY *
csr_key(const struct est_csr *c)
{
	return c->key;
}

/* See csr.h. */
int
csr_key_spki(EVP_PKEY *key, unsigned char **der)
{
	const struct csr_spki	*k;
	int			 n;

	*der = NULL;
	if (csr_spki_idx != -1 &&
	    (k = EVP_PKEY_get_ex_data(key, csr_spki_idx)) != NULL) {
		if ((*der = OPENSSL_memdup(k->der, (size_t)k->len)) == NULL)
			return -1;
		return k->len;
	}
	if ((n = i2d_PUBKEY(key, der)) <= 0) {
		OPENSSL_free(*der);
		*der = NULL;
		ERR_clear_error();
		return -1;
	}
	return n;
}

/* See csr.h. */
int
csr_sans(const struct est_csr *c, GENERAL_NAMES **names)
{
	*names = c->sans;
	return c->nsans;
}
