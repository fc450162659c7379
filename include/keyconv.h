/*
 * Server-generated private keys as the content format says: whatever an
 * EST server returns in its serverkeygen key part (RFC 7030 4.4.2) becomes
 * the PKCS#8 PrivateKeyInfo (RFC 5958) that CoAP content format 284
 * names (RFC 9148 4.8). Pure: no I/O, no globals.
 */
#ifndef ESTCOAPD_KEYCONV_H
#define ESTCOAPD_KEYCONV_H

#include <stddef.h>
#include <stdint.h>

/*
 * Convert one unencrypted private key to PKCS#8 PrivateKeyInfo DER. in is
 * DER or PEM of PKCS#8 PrivateKeyInfo, PKCS#1 RSAPrivateKey or SEC1
 * ECPrivateKey; DER must fill in exactly. A valid PKCS#8 DER comes back
 * byte for byte, the others re-encoded. *out is freed by the caller with
 * OPENSSL_clear_free(*out, *outlen). Nothing of the key is kept or
 * logged; every intermediate copy is wiped. 0 or -1 (*why set, no key
 * bytes in it, OpenSSL error queue drained).
 */
int	keyconv_pkcs8(const uint8_t *in, size_t len, uint8_t **out,
	    size_t *outlen, const char **why);

#endif
