/*
 * The audit log: one JSON object per line for every certificate handed to
 * a device and every denied request. Appended with one write(2) per line,
 * so a crash never leaves half a line; reopened on SIGHUP (logrotate).
 */
#ifndef ESTCOAPD_AUDIT_H
#define ESTCOAPD_AUDIT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct pki_peer;

/* Open (or reopen) path for appending; NULL closes. 0, or -1 logged. */
int	audit_open(const char *path);
void	audit_close(void);

/* Hand the open audit file to uid:gid (before dropping root). 0 or -1. */
int	audit_chown(uid_t uid, gid_t gid);

/*
 * A certificate went to a device. p7 is the DER PKCS#7 certs-only the
 * upstream returned; csr_key picks the issued certificate out of it.
 */
void	audit_issued(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *csr_subject,
	    const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key,
	    const char *upstream);

/* A request was refused: by the upstream (4.01/4.03) or at DTLS. */
void	audit_denied(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *code,
	    const char *reason);

/* The subject of a DER PKCS#10, one line ("/CN=..."), or "-". */
void	audit_csr_subject(const uint8_t *der, size_t len, char *buf,
	    size_t bufsz);

#endif
