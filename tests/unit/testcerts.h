/*
 * Certificates and certs-only PKCS#7 made with the OpenSSL API for the unit
 * tests, so that no binary fixture is committed. Linked into the tests
 * that list it in the Makefile (TESTCERTS_TESTS). Failures abort the test
 * (cmocka assertions).
 */
#ifndef ESTCOAPD_TESTCERTS_H
#define ESTCOAPD_TESTCERTS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* A fresh P-256 key. */
EVP_PKEY	*testcert_key(void);

/*
 * A v3 certificate for key with CN cn and serial serial, issued by issuer
 * and signed with signkey (issuer NULL: self-issued, signed with signkey),
 * valid from from_days to to_days around now; ca: basicConstraints CA.
 */
X509		*testcert_make(EVP_PKEY *key, const char *cn, long serial,
		    X509 *issuer, EVP_PKEY *signkey, int ca, long from_days,
		    long to_days);

/* The DER of x; free *der with OPENSSL_free. */
void		 testcert_der(X509 *x, uint8_t **der, size_t *len);

/* A certs-only PKCS#7 (RFC 7030 4.1.3) with n certificates; OPENSSL_free. */
void		 testcert_p7(X509 *const *certs, int n, uint8_t **der,
		    size_t *len);

/* A name from "/A=b/C=d" ("+" joins a multi-valued RDN), UTF-8 values. */
X509_NAME	*testcert_name(const char *s);

/* A subjectAltName extension from an openssl-style value ("DNS:a,IP:b"). */
X509_EXTENSION	*testcert_san(const char *san);

#endif
