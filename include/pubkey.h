/*
 * The public keys of a PKCS#10 request (RFC 2986 4.1, its
 * SubjectPublicKeyInfo) and of the certificates of a certs-only PKCS#7
 * (RFC 7030 4.1.3, 4.2.3), decoded without OpenSSL 3.0's provider
 * decoders where the key type is known.
 *
 * OpenSSL 3.0 decodes every SubjectPublicKeyInfo it meets through its
 * decoder framework, which first lists every decoder and key manager of
 * the provider: about 1 M instructions for one P-256 key, most of the cost
 * of decoding a CSR or a certificate. pubkey_d2i_req and pubkey_d2i_pkcs7
 * decode with that step skipped (the keys stay undecoded); pubkey_get
 * then builds a key from its algorithm identifier and bits for the common
 * types (EC on P-256, P-384, P-521, rsaEncryption), and for any other
 * type, or anything it does not take, does the full decode as before.
 * The key is the same either way (tests/unit/test_csr.c).
 */
#ifndef ESTCOAPD_PUBKEY_H
#define ESTCOAPD_PUBKEY_H

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/*
 * d2i_X509_REQ, except that the request's own public key is not decoded:
 * X509_REQ_get0_pubkey gives NULL for it, use pubkey_get. Everything else
 * (names, attributes, the encoding the signature covers) is as usual. It
 * swaps the calling thread's default library context for the call only.
 */
X509_REQ	*pubkey_d2i_req(const unsigned char **der, long len);

/*
 * d2i_PKCS7 with the same difference for the certificates it holds:
 * X509_get0_pubkey gives NULL, pubkey_get(X509_get_X509_PUBKEY(x)) the
 * key. Their names, extensions and encodings are as usual.
 */
PKCS7		*pubkey_d2i_pkcs7(const unsigned char **der, long len);

/* The key of spki, a new reference; NULL when it does not decode. */
EVP_PKEY	*pubkey_get(const X509_PUBKEY *spki);

/*
 * Free what the module keeps for the process (a library context, the
 * curves' parameters), at exit.
 */
void		 pubkey_shutdown(void);

#endif
