/*
 * libFuzzer target: the DER validators a device or the upstream can
 * reach: the CSR decode and checks (with and without signature
 * verification), the PKCS#7 certs-only check and certificate pick (the
 * audit's too), and CsrAttrs. The key of a CSR, and of each certificate
 * of a PKCS#7, is the one the full decode (d2i_PUBKEY) gives, or none
 * when that gives none (pubkey.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "audit.h"
#include "csr.h"
#include "pubkey.h"
#include "transcode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* key (may be NULL) against the full decode of spki. */
static void
fz_same_key(const X509_PUBKEY *spki, EVP_PKEY *key)
{
	unsigned char		*der = NULL;
	const unsigned char	*p;
	EVP_PKEY		*full = NULL;
	int			 n;

	if ((n = i2d_X509_PUBKEY(spki, &der)) > 0) {
		p = der;
		full = d2i_PUBKEY(NULL, &p, n);
	}
	OPENSSL_free(der);
	ERR_clear_error();
	if ((full == NULL) != (key == NULL) ||
	    (full != NULL && EVP_PKEY_eq(full, key) != 1))
		abort();
	EVP_PKEY_free(full);
}

/* The keys of a PKCS#7's certificates (pubkey_get) as fz_same_key. */
static void
fz_p7_keys(const uint8_t *data, size_t size)
{
	const unsigned char	*p = data;
	PKCS7			*p7 = d2i_PKCS7(NULL, &p, (long)size);
	STACK_OF(X509)		*certs;
	EVP_PKEY		*k;

	if (p7 != NULL && PKCS7_type_is_signed(p7) && p7->d.sign != NULL &&
	    (certs = p7->d.sign->cert) != NULL)
		for (int i = 0; i < sk_X509_num(certs); i++) {
			k = pubkey_get(X509_get_X509_PUBKEY(
			    sk_X509_value(certs, i)));
			fz_same_key(X509_get_X509_PUBKEY(sk_X509_value(certs,
			    i)), k);
			EVP_PKEY_free(k);
		}
	PKCS7_free(p7);
	ERR_clear_error();
}

/*
 * The checks of a decoded CSR, with and without the signature, and the
 * audit's subject line; *key gets its key when the signature verifies.
 * The object is freed.
 */
static void
fz_csr(struct est_csr *csr, EVP_PKEY **key)
{
	const char	*why = NULL;
	char		 subj[256];

	fz_same_key(X509_REQ_get_X509_PUBKEY(csr_req(csr)), csr_key(csr));
	if (tc_csr_check(csr, 1, key, &why) == -1 && why == NULL)
		abort();
	why = NULL;
	if (tc_csr_check(csr, 0, NULL, &why) == -1 && why == NULL)
		abort();
	audit_csr_subject(csr, subj, sizeof(subj));
	if (memchr(subj, '\0', sizeof(subj)) == NULL)
		abort();
	csr_free(csr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY	*key = NULL;
	struct est_csr	*csr;
	const char	*why;
	uint8_t		*cert = NULL;
	size_t		 certlen = 0;
	int		 n = 0;
	char		 serial[80], again[80];

	why = NULL;
	if ((csr = csr_parse(data, size, &why)) == NULL && why == NULL)
		abort();
	if (csr != NULL)
		fz_csr(csr, &key);
	why = NULL;
	if (tc_pkcs7_certs_check(data, size, &n, &why) == 0) {
		if (n < 1)
			abort();
		fz_p7_keys(data, size);
		if (tc_pkcs7_pick_cert(data, size, key, &cert, &certlen,
		    &why) == 0)
			free(cert);
		cert = NULL;
		if (tc_pkcs7_pick_cert(data, size, NULL, &cert, &certlen,
		    &why) == 0)
			free(cert);
		/* the audit's pick, decoded once and then remembered */
		audit_cert_serial(data, size, NULL, serial, sizeof(serial));
		audit_cert_serial(data, size, NULL, again, sizeof(again));
		if (strcmp(serial, again) != 0)
			abort();
	} else if (why == NULL)
		abort();
	why = NULL;
	if (tc_csrattrs_check(data, size, &why) == -1 && why == NULL)
		abort();
	EVP_PKEY_free(key);
	return 0;
}
