/*
 * Who a device is, as the audit log and the request line name it: the
 * subject, issuer and serial of its certificate (pki_peer_identity() in
 * pki.h fills it). A module of its own so that the audit log needs no
 * part of the PKI module.
 */
#ifndef ESTCOAPD_PEER_H
#define ESTCOAPD_PEER_H

#include <stddef.h>

#include <openssl/x509.h>

struct pki_peer {
	char		subject[256];
	char		issuer[256];
	char		serial[80];	/* hex */
	unsigned char	fp[32];		/* SHA-256 of the certificate DER */
};

/*
 * The serial number of x in hexadecimal, upper case, without leading
 * zeros (OpenSSL's BN_bn2hex), as every record shows it. 0, or -1 with
 * buf empty.
 */
int	peer_serial_hex(const X509 *x, char *buf, size_t bufsz);

#endif
