/*
 * Who a device is (peer.h): the serial number of a certificate in the one
 * form the request line, the session record and the audit log show.
 */
#include <stdio.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "peer.h"

/* See peer.h. */
int
peer_serial_hex(const X509 *x, char *buf, size_t bufsz)
{
	BIGNUM	*bn;
	char	*hex = NULL;

	if (bufsz == 0)
		return -1;
	buf[0] = '\0';
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) !=
	    NULL)
		hex = BN_bn2hex(bn);
	if (hex != NULL)
		snprintf(buf, bufsz, "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return hex != NULL ? 0 : -1;
}
