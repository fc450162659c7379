/*
 * libFuzzer target: the serverkeygen key converter. Whatever it accepts
 * must come out as one complete PKCS#8 PrivateKeyInfo that OpenSSL loads.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "keyconv.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char	*p;
	PKCS8_PRIV_KEY_INFO	*p8;
	EVP_PKEY		*pk;
	uint8_t			*out = NULL;
	size_t			 outlen = 0;
	const char		*why = NULL;

	if (keyconv_pkcs8(data, size, &out, &outlen, &why) == -1) {
		if (why == NULL || out != NULL || ERR_peek_error() != 0)
			abort();
		return 0;
	}
	p = out;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)outlen)) == NULL ||
	    p != out + outlen || (pk = EVP_PKCS82PKEY(p8)) == NULL)
		abort();	/* labelled 284, so it must be PKCS#8 */
	EVP_PKEY_free(pk);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_clear_free(out, outlen);
	return 0;
}
