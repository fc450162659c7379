/*
 * The CSR of a request, decoded once (csr.h).
 */
#include <limits.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csr.h"

struct est_csr {
	X509_REQ	*req;
	EVP_PKEY	*key;		/* req's; NULL: it does not decode */
	GENERAL_NAMES	*sans;		/* the only SAN extension, decoded */
	int		 nsans;		/* SAN extensions: 0, 1, 2 (more) */
};

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

/* See csr.h. */
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
	else if ((c->req = d2i_X509_REQ(NULL, &p, (long)len)) == NULL)
		*why = "csr is not a der pkcs#10 request";
	else if (p != der + len)
		*why = "trailing bytes after csr";
	else {
		c->key = X509_REQ_get0_pubkey(c->req);
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
csr_sans(const struct est_csr *c, GENERAL_NAMES **names)
{
	*names = c->sans;
	return c->nsans;
}
