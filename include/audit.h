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

struct est_csr;
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
 * A certificate went to a device, in the answer to request number req, at
 * time_ms (audit_now_ms(); 0: now). p7 is the DER PKCS#7 certs-only the
 * upstream returned; csr_key picks the issued certificate out of it.
 */
void	audit_issued(uint64_t req, uint64_t time_ms, const char *peer,
	    const struct pki_peer *dev, const char *op, const char *label,
	    const char *csr_subject, const uint8_t *p7, size_t p7len,
	    EVP_PKEY *csr_key, const char *upstream);

/*
 * The CA issued a certificate the device has not got yet (it left, or
 * must repeat its request to fetch it): event "issued-undelivered", with
 * why. The answer is held for the device's next try.
 */
void	audit_undelivered(uint64_t req, uint64_t time_ms, const char *peer,
	    const struct pki_peer *dev, const char *op, const char *label,
	    const char *csr_subject, const uint8_t *p7, size_t p7len,
	    EVP_PKEY *csr_key, const char *upstream, const char *why);

/* Which exchange an answer from memory repeats (audit_repeated). */
struct audit_repeat {
	uint64_t	 req;		/* the request answered now */
	const char	*how;		/* "repeat", "held", "identical" */
	uint64_t	 orig_req;	/* the request that got the answer */
	uint64_t	 orig_time_ms;	/* the time of its record */
	const char	*serial;	/* the certificate's, hex; "" unknown */
	int		 key;		/* it holds a server-generated key */
};

/*
 * An enrollment answer (a certificate, with skg and skc a key too) handed
 * out again from memory: event "repeated", naming the exchange it
 * repeats. The "issued" record of that exchange has the same "req".
 */
void	audit_repeated(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const struct audit_repeat *);

/* The wall clock in ms since 1970, as audit records give it. */
uint64_t audit_now_ms(void);

/*
 * The hex serial number of the certificate csr_key picks out of the DER
 * PKCS#7 p7 into buf ("" when there is none, or no audit file takes
 * records: only audit records name it).
 */
void	audit_cert_serial(const uint8_t *p7, size_t p7len, EVP_PKEY *csr_key,
	    char *buf, size_t bufsz);

/* A request was refused: by the upstream (4.01/4.03) or at DTLS. */
void	audit_denied(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, const char *code,
	    const char *reason);

/*
 * A route's device policy refused a request (code 4.0x): the counter
 * authz_denied_total, one log line naming the device, and the audit
 * record. dev may be NULL (no identity).
 */
void	audit_deny(const char *peer, const struct pki_peer *dev,
	    const char *op, const char *label, unsigned code, const char *why);

/* The subject of a CSR (csr.h), one line ("/CN=..."), or "-" (NULL). */
void	audit_csr_subject(const struct est_csr *csr, char *buf, size_t bufsz);

#endif
