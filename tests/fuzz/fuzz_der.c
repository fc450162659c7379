/*
 * libFuzzer target: the DER validators a device or the upstream can
 * reach: the CSR check (with and without signature verification), the
 * PKCS#7 certs-only check and certificate pick, and CsrAttrs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "transcode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	EVP_PKEY	*key = NULL;
	const char	*why;
	uint8_t		*cert = NULL;
	size_t		 certlen = 0;
	int		 n = 0;

	why = NULL;
	if (tc_csr_check(data, size, 1, &key, &why) == -1 && why == NULL)
		abort();
	why = NULL;
	if (tc_csr_check(data, size, 0, NULL, &why) == -1 && why == NULL)
		abort();
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
	} else if (why == NULL)
		abort();
	why = NULL;
	if (tc_csrattrs_check(data, size, &why) == -1 && why == NULL)
		abort();
	EVP_PKEY_free(key);
	return 0;
}
