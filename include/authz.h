/*
 * Who may do what: one route's device policy ("auth" in the config). The
 * trust anchors and CRLs of the route, the allow-list rules (issuer,
 * subject and SAN patterns -> operations), the CSR policy (key types and
 * sizes, the names a CSR may ask for (csrid.h), the RFC 7030 4.2.2
 * re-enrollment identity check, proof-of-possession linking) and whether the device certificate is forwarded
 * upstream (RFC 9440). Parsed with the config, loaded with its PKI, then
 * read-only; the checks take an SSL * and do no I/O.
 */
#ifndef ESTCOAPD_AUTHZ_H
#define ESTCOAPD_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct cJSON;
struct errlist;
struct authz;
struct est_csr;

/* Proof-of-possession linking (RFC 7030 §3.5, RFC 5929 tls-unique). */
enum authz_pop {
	AUTHZ_POP_OFF,		/* challengePassword is not looked at */
	AUTHZ_POP_IF_PRESENT,	/* when present it must be the tls-unique */
	AUTHZ_POP_REQUIRED,	/* it must be present and the tls-unique */
};

/*
 * Parse one "auth" object found at path ("auth", "labels.x.auth"); obj
 * NULL gives the defaults. Errors go to errs as "file: path.key: text".
 */
struct authz	*authz_parse(const struct cJSON *obj, const char *path,
		    const char *file, struct errlist *errs);
void		 authz_free(struct authz *);

/*
 * Read the trust anchors (files, or every regular file of a directory)
 * and CRLs into the route's store. When the policy names no "trust",
 * deflt (dtls.client_ca, may be NULL) is used. Everything loaded is also
 * added to hs, the store of the DTLS handshake (the union of all routes).
 * 0, or -1 with errors added.
 */
int		 authz_load(struct authz *, STACK_OF(X509) *deflt,
		    X509_STORE *hs, const char *file, struct errlist *errs);

/* What the handshake must tolerate for this route; its own anchors. */
bool		 authz_allows_expired(const struct authz *);
bool		 authz_has_trust(const struct authz *);
bool		 authz_has_crl(const struct authz *);
bool		 authz_forwards_cert(const struct authz *);

/*
 * Re-verify the session's device chain against the route's own anchors,
 * CRLs and expiry rule. 0 if it verifies, else -1 with why set.
 */
int		 authz_verify_device(const struct authz *, SSL *ssl, char *why,
		    size_t whysz);

/*
 * The allow-list: may the device of ssl use operation opname? 0 if so,
 * else -1 with why set. Without rules every verified device may.
 */
int		 authz_rules_allow(const struct authz *, SSL *ssl,
		    const char *opname, char *why, size_t whysz);

/*
 * The CSR of a POST (decoded by csr_parse, checked by tc_csr_check) for
 * operation opid (enum est_op_id): key type and size when keycheck (the
 * CSR's key is the one certified, not skg/skc: 4.00); for sren the
 * Subject/SAN of the client certificate and ChangeSubjectName (4.03); for
 * sen, skg and skc the route's CSR identity policy (csrid.h; 4.03 with
 * *idreason set to its short reason, NULL otherwise); the tls-unique in
 * challengePassword (4.01). Returns 0 or the CoAP code, with why set.
 */
unsigned	 authz_check_csr(const struct authz *, SSL *ssl, int keycheck,
		    int opid, const struct est_csr *csr,
		    const char **idreason, char *why, size_t whysz);

/*
 * The same checks with the session's parts given directly: the device
 * certificate x (NULL: none) and the tls-unique (tlsulen 0: none). The
 * unit tests and the fuzz target use it without a DTLS session.
 */
unsigned	 authz_check_csr_peer(const struct authz *, X509 *x,
		    const uint8_t *tlsu, size_t tlsulen, int keycheck, int opid,
		    const struct est_csr *csr, const char **idreason,
		    char *why, size_t whysz);

/*
 * RFC 9440 header lines for the device of ssl: "Client-Cert: :b64:" and,
 * when the chain verifies against the route's anchors, "Client-Cert-Chain:
 * :b64:, ..." (without the device's own). Both malloc'd (*chain may be
 * NULL). 0, or -1 when there is no certificate.
 */
int		 authz_client_cert_headers(const struct authz *, SSL *ssl,
		    char **cert, char **chain);

/* The tls-unique of the session (RFC 5929): 0 and *len set, or -1. */
int		 authz_tls_unique(SSL *ssl, uint8_t *buf, size_t bufsz,
		    size_t *len);

#endif
