/*
 * Certificates and keys: loaded and checked once (start-up, -t), kept in
 * memory; the DTLS hook that installs our trust store and chain on every
 * handshake; the device identity of a session; OpenSSL error logging.
 */
#ifndef ESTCOAPD_PKI_H
#define ESTCOAPD_PKI_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "peer.h"

/* One route's upstream client identity and trust, as curl blobs. */
struct pki_up {
	char		*cert_pem;	/* NUL-terminated; len counts the NUL */
	size_t		 cert_len;
	char		*key_pem;
	size_t		 key_len;
	char		*ca_pem;
	size_t		 ca_len;
};

/* Everything read from the files a config names. */
struct pki_set {
	char		*dtls_cert_pem;	/* NUL-terminated PEM */
	size_t		 dtls_cert_len;	/* including the NUL (libcoap PEM_BUF) */
	char		*dtls_key_pem;
	size_t		 dtls_key_len;
	X509		*dtls_x509;	/* dtls.cert parsed, for handshakes */
	EVP_PKEY	*dtls_pkey;	/* dtls.key parsed */
	STACK_OF(X509)	*dtls_chain;	/* intermediates sent with our cert */
	X509_STORE	*client_trust;	/* handshake: every route's anchors */
	int		 verify_depth;
	int		 allow_expired;	/* some route accepts expired devices */
	int		 has_crl;	/* some route lists a CRL */
	/* digest of every anchor and CRL of client_trust: the DTLS session
	 * id context, so that no session resumes across a change of them */
	unsigned char	 trust_id[16];
	/* the one device policy every route shares, when there is one: its
	 * store then holds exactly client_trust's anchors, CRLs and flags */
	const struct authz *sole_az;

	/* upstream client identity per route, as cf->routes[] */
	struct pki_up	 up[CONFIG_MAX_ROUTES];
};

/* Load and cross-check every file of cf; 0, or -1 with errors in errs. */
int		 pki_load(struct config *cf, struct errlist *errs);
void		 pki_free(struct pki_set *);

/* Install trust store, verify mode and chain on one DTLS server SSL. */
int		 pki_setup_ssl(SSL *ssl, const struct pki_set *);

/* Our parsed certificate and key on one DTLS server SSL (no parsing). */
int		 pki_use_identity(SSL *ssl, const struct pki_set *);

int		 pki_peer_identity(SSL *ssl, struct pki_peer *);

/*
 * Why the device certificate of this handshake was refused ("unknown_ca",
 * "expired", "revoked", "bad_certificate"), or NULL if it was not. Kept
 * with the SSL, so that handshakes failing at the same time each keep
 * their own reason.
 */
const char	*pki_refusal(SSL *ssl);

/*
 * Is the device certificate of ssl (or a CA of its chain) listed by any
 * CRL of any route? The route's own check (authz_verify_device) applies
 * only its own CRLs; a device one CRL lists is refused everywhere. 0, or
 * -1 with why set.
 */
/*
 * 1 when the handshake of ssl itself (not a resumption) verified the
 * device chain under ps's trust against a store equal to az's: checking
 * it again against az would repeat the same verification.
 */
int		 pki_chain_checked(const struct pki_set *, const struct authz *az,
		    SSL *ssl);

int		 pki_revoked(const struct pki_set *, SSL *ssl, char *why,
		    size_t whysz);

/*
 * Forget every DTLS session of ctx: empty the session cache and replace
 * the session-ticket keys, so that no session or ticket from before
 * resumes (after a reload changed the trust anchors or CRLs).
 */
void		 pki_forget_sessions(SSL_CTX *ctx);

/* Log what failed and empty the OpenSSL error queue. */
void		 pki_log_errors(const char *what);

#endif
