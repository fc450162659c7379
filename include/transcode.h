/*
 * Strict payload conversion between the CoAP (DER) and HTTP (base64) sides,
 * and the validators for what crosses. Pure: no I/O, no globals; every
 * output is allocated with malloc and owned by the caller.
 */
#ifndef ESTCOAPD_TRANSCODE_H
#define ESTCOAPD_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct est_csr;

/*
 * Decode base64 after dropping CR, LF, SP and TAB (RFC 8951 3.1) and any
 * trailing NUL bytes; padding may be missing. Any other character outside
 * the alphabet, wrong padding, non-zero padding bits or a length base64
 * cannot have fails. Output bounded by max_out. 0 or -1 (*why set).
 */
int	 tc_b64_decode(const char *in, size_t inlen, size_t max_out,
	    uint8_t **out, size_t *outlen, const char **why);

/* base64 without line breaks, NUL-terminated; *outlen excludes the NUL. */
char	*tc_b64_encode(const uint8_t *in, size_t len, size_t *outlen);

/*
 * base64 text (whitespace in it dropped) in lines of at most line
 * characters, each ending in LF; line 0: one line without a line break.
 * NUL-terminated, *outlen excludes the NUL; NULL when out of memory.
 */
char	*tc_b64_wrap(const char *b64, size_t len, unsigned line,
	    size_t *outlen);

/*
 * A PKCS#10 request, decoded by csr_parse (csr.h), which checks that it
 * fills its DER exactly: when verify_sig, its self-signature verifies. If
 * pubkey is not NULL it gets a reference to the CSR key (EVP_PKEY_free
 * it). 0 or -1 (*why set).
 */
int	 tc_csr_check(const struct est_csr *csr, int verify_sig,
	    EVP_PKEY **pubkey, const char **why);

/* A PKCS#7 SignedData (certs-only) with >= 1 certificate; *ncerts set. */
int	 tc_pkcs7_certs_check(const uint8_t *der, size_t len, int *ncerts,
	    const char **why);

/*
 * The DER of one certificate out of a PKCS#7 certs-only: the one whose
 * public key equals match (if match is not NULL; none -> -1), else the
 * only certificate (more than one -> -1).
 */
int	 tc_pkcs7_pick_cert(const uint8_t *der, size_t len,
	    const EVP_PKEY *match, uint8_t **cert, size_t *certlen,
	    const char **why);

/*
 * The same pick as tc_pkcs7_pick_cert, as a certificate object (a
 * reference: X509_free it); NULL with *why set. Its key is not decoded
 * (pubkey.h): X509_get0_pubkey gives NULL.
 */
X509	*tc_pkcs7_pick_x509(const uint8_t *der, size_t len,
	    const EVP_PKEY *match, const char **why);

/* CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID, complete DER. */
int	 tc_csrattrs_check(const uint8_t *der, size_t len, const char **why);

/*
 * A diagnostic payload (RFC 7252 5.5.2) from an upstream text body: first
 * line only, printable ASCII kept, others dropped, at most outsz - 1 bytes,
 * NUL-terminated. Returns the length written.
 */
size_t	 tc_diag_sanitise(const uint8_t *in, size_t len, char *out,
	    size_t outsz);

/*
 * Does an HTTP Content-Type (parameters allowed, case-insensitive) name the
 * media type want ("application/pkcs7-mime")? 1 or 0.
 */
int	 tc_ctype_is(const char *ctype, const char *want);

#endif
