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

/*
 * Open path for appending at start (NULL: no audit log); 0, or -1 logged
 * (a symbolic link, not a regular file, no access). audit_reopen: the same
 * on SIGHUP, the new file opened before the old one is closed; -1 when
 * no file takes records now (retried, see audit_file.h).
 */
int	audit_open(const char *path);
int	audit_reopen(const char *path);
void	audit_close(void);

/*
 * Hand the audit file to uid:gid before dropping root, only if this
 * process created it. 0 or -1.
 */
int	audit_chown(uid_t uid, gid_t gid);

/*
 * 1 when records can be written (or no audit log is configured); 0 after
 * a failed open or write until a retry succeeds. service.audit_fail_closed
 * refuses enrollments meanwhile.
 */
int	audit_writable(void);

/* Once a second: retry a failed open or write (with backoff). */
void	audit_tick(uint64_t now_ms);

/*
 * A certificate went to a device. p7 is the DER PKCS#7 certs-only the
 * upstream returned; csr_key picks the issued certificate out of it.
 */
void	audit_issued(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *csr_subject,
	    const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key,
	    const char *upstream);

/*
 * The CA issued a certificate the device has not got yet (it left, or
 * must repeat its request to fetch it): event "issued-undelivered", with
 * why. The answer is held for the device's next try.
 */
void	audit_undelivered(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *csr_subject,
	    const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key,
	    const char *upstream, const char *why);

/* A request was refused: by the upstream (4.01/4.03) or at DTLS. */
void	audit_denied(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *code,
	    const char *reason);

/* The subject of a DER PKCS#10, one line ("/CN=..."), or "-". */
void	audit_csr_subject(const uint8_t *der, size_t len, char *buf,
	    size_t bufsz);

#endif
