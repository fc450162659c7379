/*
 * Certificates for the unit tests, made with the OpenSSL API (see
 * testcerts.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>

#include "testcerts.h"

EVP_PKEY *
testcert_key(void)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* basicConstraints, the one extension the tests need. */
static void
testcert_bc(X509 *x, X509 *issuer, int ca)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    ca ? "critical,CA:true" : "CA:false");
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

X509 *
testcert_make(EVP_PKEY *key, const char *cn, long serial, X509 *issuer,
    EVP_PKEY *signkey, int ca, long from_days, long to_days)
{
	X509		*x = X509_new();
	X509_NAME	*n = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(n);
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial),
	    1);
	assert_int_equal(X509_set_subject_name(x, n), 1);
	assert_int_equal(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : n), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x),
	    from_days * 86400));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x),
	    to_days * 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	testcert_bc(x, issuer, ca);
	assert_true(X509_sign(x, signkey, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

void
testcert_der(X509 *x, uint8_t **der, size_t *len)
{
	unsigned char	*p = NULL;
	int		 n = i2d_X509(x, &p);

	assert_true(n > 0);
	*der = p;
	*len = (size_t)n;
}

void
testcert_p7(X509 *const *certs, int n, uint8_t **der, size_t *len)
{
	PKCS7		*p7 = PKCS7_new();
	unsigned char	*p = NULL;
	int		 dl;

	assert_non_null(p7);
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	(void)PKCS7_set_detached(p7, 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(PKCS7_add_certificate(p7, certs[i]), 1);
	dl = i2d_PKCS7(p7, &p);
	assert_true(dl > 0);
	*der = p;
	*len = (size_t)dl;
	PKCS7_free(p7);
}

/* See testcerts.h. */
X509_NAME *
testcert_name(const char *s)
{
	X509_NAME	*n = X509_NAME_new();
	char		*copy = strdup(s), *c, *save = NULL;

	assert_non_null(n);
	assert_non_null(copy);
	for (c = strtok_r(copy, "/", &save); c != NULL;
	    c = strtok_r(NULL, "/", &save)) {
		char *plus, *part = c;

		do {
			char *eq;

			if ((plus = strchr(part, '+')) != NULL)
				*plus = '\0';
			eq = strchr(part, '=');
			assert_non_null(eq);
			*eq = '\0';
			assert_int_equal(X509_NAME_add_entry_by_txt(n, part,
			    MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1,
			    part == c ? 0 : -1), 1);
			part = plus != NULL ? plus + 1 : NULL;
		} while (part != NULL);
	}
	free(copy);
	return n;
}

/* See testcerts.h. */
X509_EXTENSION *
testcert_san(const char *san)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL,
	    NID_subject_alt_name, san);

	assert_non_null(e);
	return e;
}
