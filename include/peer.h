/*
 * Who a device is, as the audit log and the request line name it: the
 * subject, issuer and serial of its certificate (pki_peer_identity() in
 * pki.h fills it). A header of its own so that the audit log needs no
 * part of the PKI module.
 */
#ifndef ESTCOAPD_PEER_H
#define ESTCOAPD_PEER_H

struct pki_peer {
	char		subject[256];
	char		issuer[256];
	char		serial[80];	/* hex */
	unsigned char	fp[32];		/* SHA-256 of the certificate DER */
};

#endif
