/*
 * libFuzzer target: the DER validators a device or the upstream can
 * reach: the CSR decode and checks (with and without signature
 * verification), the PKCS#7 certs-only check and certificate pick (the
 * audit's too), and CsrAttrs. The key of a CSR is the one the full
 * decode (d2i_PUBKEY) gives, or none when that gives none (pubkey.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit.h"
#include "csr.h"
#include "transcode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* csr_key against the full decode of the request's SubjectPublicKeyInfo. */
static void
fz_same_key(const struct est_csr *csr)
{
	unsigned char		*spki = NULL;
	const unsigned char	*p;
	EVP_PKEY		*full = NULL;
	int			 n;

	n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(csr_req(csr)), &spki);
	if (n > 0) {
		p = spki;
		full = d2i_PUBKEY(NULL, &p, n);
	}
	OPENSSL_free(spki);
	ERR_clear_error();
	if ((full == NULL) != (csr_key(csr) == NULL) ||
	    (full != NULL && EVP_PKEY_eq(full, csr_key(csr)) != 1))
		abort();
	EVP_PKEY_free(full);
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

	fz_same_key(csr);
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
