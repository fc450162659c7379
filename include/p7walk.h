/*
 * A certs-only PKCS#7 (RFC 2315 9.1 SignedData; RFC 7030 4.1.3 and 4.2.3)
 * checked by walking its DER: ContentInfo of type signedData, SignedData
 * with its fields in order, and each certificate a SEQUENCE of
 * tbsCertificate, signatureAlgorithm and signatureValue (RFC 5280 4.1),
 * every element filling its container exactly. No certificate is
 * decoded: a full decode costs about as much as the rest of an
 * enrollment's answer path, and what the device needs is a well-formed
 * bag of certificates it will verify itself.
 */
#ifndef ESTCOAPD_P7WALK_H
#define ESTCOAPD_P7WALK_H

#include <stddef.h>
#include <stdint.h>

/*
 * 0: DER certs-only with *ncerts (>= 1) certificates. -1: malformed, not
 * signed-data, or no certificate (*why says which). 1: BER the walk does
 * not follow (an indefinite or non-minimal length): decode it in full.
 */
int	p7walk_certs(const uint8_t *der, size_t len, int *ncerts,
	    const char **why);

#endif
