/*
 * Server-generated keys to PKCS#8 (RFC 5958) for content format 284
 * (RFC 9148 4.8). EST servers differ in what their serverkeygen key part
 * holds: RFC 7030 4.4.2 asks for PKCS#8, and some send the key's own
 * structure instead (libest: PKCS#1 RSAPrivateKey). A device must get
 * what the content format says, so everything OpenSSL can read as an
 * unencrypted private key is re-encoded, and anything else refused.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keyconv.h"

/* The key structures other than PKCS#8 that a DER key part may hold. */
static const int keyconv_types[] = {
	EVP_PKEY_RSA,		/* PKCS#1 RSAPrivateKey (RFC 8017 A.1.2) */
	EVP_PKEY_EC,		/* SEC1 ECPrivateKey (RFC 5915 3) */
};

/* PEM pass phrase callback: an encrypted key is refused, never prompted. */
static int
keyconv_nopass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Does in start, after whitespace, like PEM ("-----BEGIN ")? */
static int
keyconv_is_pem(const uint8_t *in, size_t len)
{
	static const char	 tag[] = "-----BEGIN ";
	size_t			 i = 0;

	while (i < len && (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' ||
	    in[i] == '\n'))
		i++;
	return len - i >= sizeof(tag) - 1 &&
	    memcmp(in + i, tag, sizeof(tag) - 1) == 0;
}

/* Is in exactly one DER SEQUENCE, nothing before or after it? */
static int
keyconv_one_sequence(const uint8_t *in, size_t len)
{
	const unsigned char	*p = in;
	long			 plen;
	int			 tag, xclass, r;

	r = ASN1_get_object(&p, &plen, &tag, &xclass, (long)len);
	if ((r & 0x80) || r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    xclass != V_ASN1_UNIVERSAL)
		return 0;
	return (size_t)(p - in) + (size_t)plen == len;
}

/* A key from PEM: "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY". */
static EVP_PKEY *
keyconv_from_pem(const uint8_t *in, size_t len, const char **why)
{
	EVP_PKEY	*pk = NULL;
	BIO		*b;

	if ((b = BIO_new_mem_buf(in, (int)len)) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	if ((pk = PEM_read_bio_PrivateKey(b, NULL, keyconv_nopass,
	    NULL)) == NULL)
		*why = "PEM key is encrypted, not a private key or malformed";
	BIO_free(b);
	return pk;
}

/*
 * A key from DER: PKCS#8 (then *is_p8 is set) or a type-specific
 * structure. The whole input must be the one structure.
 */
static EVP_PKEY *
keyconv_from_der(const uint8_t *in, size_t len, int *is_p8,
    const char **why)
{
	const unsigned char	*p = in;
	PKCS8_PRIV_KEY_INFO	*p8;
	EVP_PKEY		*pk = NULL;
	size_t			 i;

	*is_p8 = 0;
	if (!keyconv_one_sequence(in, len)) {
		*why = "key is not one complete DER structure";
		return NULL;
	}
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) != NULL) {
		if (p == in + len && (pk = EVP_PKCS82PKEY(p8)) != NULL)
			*is_p8 = 1;
		PKCS8_PRIV_KEY_INFO_free(p8);
		if (pk == NULL)
			*why = "PKCS#8 key of an unknown or broken algorithm";
		return pk;
	}
	for (i = 0; i < sizeof(keyconv_types) / sizeof(keyconv_types[0]);
	    i++) {
		p = in;
		pk = d2i_PrivateKey(keyconv_types[i], NULL, &p, (long)len);
		if (pk != NULL && p == in + len)
			return pk;
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	*why = "not a PKCS#8, PKCS#1 RSA or SEC1 EC private key";
	return NULL;
}

/* Encode pk as PKCS#8 PrivateKeyInfo DER into a new buffer. */
static int
keyconv_encode(const EVP_PKEY *pk, uint8_t **out, size_t *outlen,
    const char **why)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*buf = NULL;
	int			 n;

	if ((p8 = EVP_PKEY2PKCS8(pk)) == NULL) {
		*why = "key cannot be encoded as PKCS#8";
		return -1;
	}
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0 || buf == NULL) {
		*why = "key cannot be encoded as PKCS#8";
		return -1;
	}
	*out = buf;
	*outlen = (size_t)n;
	return 0;
}

/* Copy in (a checked PKCS#8 DER) into a new buffer. */
static int
keyconv_copy(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
    const char **why)
{
	if ((*out = OPENSSL_malloc(len)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	memcpy(*out, in, len);
	*outlen = len;
	return 0;
}

/* See keyconv.h. */
int
keyconv_pkcs8(const uint8_t *in, size_t len, uint8_t **out, size_t *outlen,
    const char **why)
{
	EVP_PKEY	*pk;
	int		 is_p8 = 0, rc;

	*out = NULL;
	*outlen = 0;
	if (len == 0 || len > INT_MAX) {
		*why = len == 0 ? "empty key" : "key too large";
		return -1;
	}
	/* the forms tried and refused leave errors: none of them stay */
	ERR_set_mark();
	if (keyconv_is_pem(in, len))
		pk = keyconv_from_pem(in, len, why);
	else
		pk = keyconv_from_der(in, len, &is_p8, why);
	if (pk == NULL)
		rc = -1;
	else if (is_p8)
		rc = keyconv_copy(in, len, out, outlen, why);
	else
		rc = keyconv_encode(pk, out, outlen, why);
	EVP_PKEY_free(pk);
	ERR_pop_to_mark();
	return rc;
}
