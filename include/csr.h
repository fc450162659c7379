/*
 * A PKCS#10 request (RFC 2986) decoded once per request. Every check on
 * the request path reads this object and none the DER again: the form
 * and signature (transcode.h), the route's key policy, CSR identity and
 * proof-of-possession (authz.h, csrid.h) and the audit's CSR subject
 * (audit.h). The public key, which OpenSSL 3.0 would decode through its
 * provider decoders at about ten times the cost of the rest of the
 * request, is built from the SubjectPublicKeyInfo for the common key
 * types (pubkey.h); csr_key is the only way to it.
 */
#ifndef ESTCOAPD_CSR_H
#define ESTCOAPD_CSR_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

struct est_csr;

/*
 * Decode a CSR that fills der exactly. Nothing is kept pointing into der:
 * the caller may free it at once. NULL with *why set ("empty csr", "csr
 * too large", "csr is not a der pkcs#10 request", "trailing bytes after
 * csr", "out of memory").
 */
struct est_csr	*csr_parse(const uint8_t *der, size_t len, const char **why);
void		 csr_free(struct est_csr *);

/* The decoded request, owned by the object. */
X509_REQ	*csr_req(const struct est_csr *);

/* Its public key, owned by the object; NULL when the key does not decode. */
EVP_PKEY	*csr_key(const struct est_csr *);

/*
 * The DER SubjectPublicKeyInfo of key: for the key of a CSR (csr_key,
 * also after csr_free while a reference is held) the one the CSR carries,
 * kept on the key object; for another key the key encoded (i2d_PUBKEY,
 * which OpenSSL 3 does through its provider encoders at about 150 times
 * the cost). The length and in *der a copy (OPENSSL_free it), or -1.
 */
int		 csr_key_spki(EVP_PKEY *key, unsigned char **der);

/*
 * The subjectAltName extensions of the request: how many there are (0, 1,
 * or 2 for "more than one"), and in *names the entries of the only one,
 * owned by the object; NULL when there is none, more than one, or it does
 * not decode.
 */
int		 csr_sans(const struct est_csr *, GENERAL_NAMES **names);

#endif
