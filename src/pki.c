/*
 * Certificates and keys. Everything is read and checked once, at start-up
 * or by -t; handshakes then use the in-memory copies (doc/design.md,
 * "DTLS, the PKI and authorization").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "authz.h"
#include "config.h"
#include "log.h"
#include "pki.h"
#include "util.h"

/* PEM files are small; a bigger one is not what the key names. */
#define PKI_MAX_FILE	(1024 * 1024)

/* Log what failed and empty the OpenSSL error queue. */
void
pki_log_errors(const char *what)
{
	unsigned long	e;
	char		buf[256];
	int		n = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
		n++;
	}
	if (n == 0)
		log_warnx("%s", what);
}

/* The first OpenSSL error as text, and the queue emptied. */
static const char *
pki_err_text(char *buf, size_t bufsz)
{
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, bufsz, "no PEM data of the expected kind");
	else
		snprintf(buf, bufsz, "%s", ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

/* Read a whole PEM file into a NUL-terminated buffer. */
static char *
pki_slurp(const char *path, size_t *lenp, const char *key, const char *file,
    struct errlist *errs)
{
	char	*data;
	size_t	 n;

	if ((data = file_read(path, PKI_MAX_FILE, &n)) == NULL) {
		errlist_add(errs, "%s: %s: %s: %s", file, key, path,
		    errno == EFBIG ? "larger than 1 MiB" : strerror(errno));
		return NULL;
	}
	if (n == 0) {
		errlist_add(errs, "%s: %s: %s: empty file", file, key, path);
		free(data);
		return NULL;
	}
	*lenp = n + 1;		/* libcoap's PEM_BUF wants the NUL counted */
	return data;
}

/* Every certificate of a PEM buffer; NULL (error added) if there is none. */
static STACK_OF(X509) *
pki_certs(const char *pem, size_t len, const char *key, const char *path,
    const char *file, struct errlist *errs)
{
	STACK_OF(X509)	*sk;
	BIO		*bio;
	X509		*x;
	char		 eb[128];

	if ((sk = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len - 1)) == NULL) {
		sk_X509_free(sk);
		errlist_add(errs, "%s: %s: out of memory", file, key);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	BIO_free(bio);
	if (sk_X509_num(sk) == 0) {
		errlist_add(errs, "%s: %s: %s: no certificate: %s", file, key,
		    path, pki_err_text(eb, sizeof(eb)));
		sk_X509_free(sk);
		return NULL;
	}
	ERR_clear_error();	/* the end of the PEM stream leaves one */
	return sk;
}

/* Parse a private key from PEM (no passphrase: a daemon cannot ask). */
static EVP_PKEY *
pki_key(const char *pem, size_t len, const char *key, const char *path,
    const char *file, struct errlist *errs)
{
	BIO		*bio;
	EVP_PKEY	*pk;
	char		 eb[128];

	if ((bio = BIO_new_mem_buf(pem, (int)len - 1)) == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	if (pk == NULL)
		errlist_add(errs, "%s: %s: %s: not a readable unencrypted "
		    "private key: %s", file, key, path,
		    pki_err_text(eb, sizeof(eb)));
	return pk;
}

/*
 * Check that a certificate file and a key file belong together and that the
 * certificate is within its validity period; the first certificate of the
 * file is the one the key must match. With certp and keyp, a good pair is
 * handed back parsed.
 */
static void
pki_check_pair(const char *certpem, size_t certlen, const char *keypem,
    size_t keylen, const char *certkey, const char *certpath,
    const char *keykey, const char *keypath, const char *file,
    struct errlist *errs, X509 **certp, EVP_PKEY **keyp)
{
	STACK_OF(X509)	*sk;
	EVP_PKEY	*pk;
	X509		*x;
	int		 before = errs->count;

	sk = pki_certs(certpem, certlen, certkey, certpath, file, errs);
	pk = pki_key(keypem, keylen, keykey, keypath, file, errs);
	if (sk != NULL && pk != NULL) {
		x = sk_X509_value(sk, 0);
		if (X509_check_private_key(x, pk) != 1)
			errlist_add(errs, "%s: %s: %s does not match the "
			    "certificate in %s (%s)", file, keykey, keypath,
			    certkey, certpath);
		if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
			errlist_add(errs, "%s: %s: %s: certificate has "
			    "expired", file, certkey, certpath);
		if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
			errlist_add(errs, "%s: %s: %s: certificate is not "
			    "valid yet", file, certkey, certpath);
		if (certp != NULL && keyp != NULL && errs->count == before &&
		    X509_up_ref(x) == 1) {
			/* kept parsed: handshakes reuse them (pki_use_identity) */
			*certp = x;
			*keyp = pk;
			pk = NULL;
		}
	}
	ERR_clear_error();
	EVP_PKEY_free(pk);
	sk_X509_pop_free(sk, X509_free);
}

/*
 * ps->trust_id: SHA-256 (first 16 bytes) of the DER of every anchor and
 * CRL of the handshake store, in the store's order.
 */
static void
pki_trust_id(struct pki_set *ps)
{
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(
				    ps->client_trust);
	EVP_MD_CTX		*md = EVP_MD_CTX_new();
	unsigned char		 h[EVP_MAX_MD_SIZE], *der;
	unsigned		 hl = 0;
	int			 n;

	memset(ps->trust_id, 0, sizeof(ps->trust_id));
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return;
	}
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_OBJECT	*o = sk_X509_OBJECT_value(objs, i);
		X509		*x = X509_OBJECT_get0_X509(o);
		X509_CRL	*c = X509_OBJECT_get0_X509_CRL(o);

		der = NULL;
		n = x != NULL ? i2d_X509(x, &der) : c != NULL ?
		    i2d_X509_CRL(c, &der) : -1;
		if (n > 0)
			EVP_DigestUpdate(md, der, (size_t)n);
		OPENSSL_free(der);
	}
	if (EVP_DigestFinal_ex(md, h, &hl) == 1 && hl >= sizeof(ps->trust_id))
		memcpy(ps->trust_id, h, sizeof(ps->trust_id));
	EVP_MD_CTX_free(md);
	ERR_clear_error();
}

/* The daemon's own DTLS identity: cert, key (a matching pair), chain. */
static void
pki_load_dtls(struct pki_set *ps, struct config *cf, struct errlist *errs)
{
	const char	*f = cf->file;
	size_t		 len;
	char		*pem;

	ps->dtls_cert_pem = pki_slurp(cf->dtls_cert, &ps->dtls_cert_len,
	    "dtls.cert", f, errs);
	ps->dtls_key_pem = pki_slurp(cf->dtls_key, &ps->dtls_key_len,
	    "dtls.key", f, errs);
	if (ps->dtls_cert_pem != NULL && ps->dtls_key_pem != NULL)
		pki_check_pair(ps->dtls_cert_pem, ps->dtls_cert_len,
		    ps->dtls_key_pem, ps->dtls_key_len, "dtls.cert",
		    cf->dtls_cert, "dtls.key", cf->dtls_key, f, errs,
		    &ps->dtls_x509, &ps->dtls_pkey);

	if (cf->dtls_chain != NULL &&
	    (pem = pki_slurp(cf->dtls_chain, &len, "dtls.chain", f, errs)) !=
	    NULL) {
		ps->dtls_chain = pki_certs(pem, len, "dtls.chain",
		    cf->dtls_chain, f, errs);
		free(pem);
	}
}

/*
 * Load every route's own auth into the handshake store (labels without
 * their own auth share the default route's); the store's flags follow
 * from what was loaded.
 */
static void
pki_load_routes_auth(struct pki_set *ps, struct config *cf,
    STACK_OF(X509) *sk, struct errlist *errs)
{
	unsigned long	 fl = X509_V_FLAG_PARTIAL_CHAIN;
	unsigned	 owned = 0;

	for (size_t i = 0; i < cf->nroutes; i++) {
		struct authz *az = cf->routes[i].auth;

		if (!cf->routes[i].auth_owned)
			continue;
		owned++;
		ps->sole_az = az;
		if (authz_load(az, sk, ps->client_trust, cf->file, errs) == -1)
			continue;
		if (authz_has_crl(az)) {
			fl |= X509_V_FLAG_CRL_CHECK |
			    X509_V_FLAG_CRL_CHECK_ALL;
			ps->has_crl = 1;
		}
		if (authz_allows_expired(az))
			ps->allow_expired = 1;
	}
	X509_STORE_set_flags(ps->client_trust, fl);
	pki_trust_id(ps);
	/* one policy: the handshake store was filled from it alone */
	if (owned != 1)
		ps->sole_az = NULL;
}

/*
 * The handshake trusts the union of every route's anchors and CRLs; each
 * request is checked again against its own route (authz.c).
 */
static void
pki_load_trust(struct pki_set *ps, struct config *cf, struct errlist *errs)
{
	const char	*f = cf->file;
	STACK_OF(X509)	*sk = NULL;
	size_t		 len;
	char		*pem;

	if (cf->dtls_client_ca != NULL && (pem = pki_slurp(cf->dtls_client_ca,
	    &len, "dtls.client_ca", f, errs)) != NULL) {
		sk = pki_certs(pem, len, "dtls.client_ca", cf->dtls_client_ca,
		    f, errs);
		free(pem);
	}
	if ((ps->client_trust = X509_STORE_new()) == NULL)
		errlist_add(errs, "%s: out of memory", f);
	else if (cf->dtls_client_ca == NULL || sk != NULL)
		pki_load_routes_auth(ps, cf, sk, errs);
	sk_X509_pop_free(sk, X509_free);
}

/* "[labels.<label>.]upstream.<what>": the key route i took a file from. */
static void
pki_route_key(char *buf, size_t bufsz, const struct config *cf, size_t i,
    const char *what)
{
	snprintf(buf, bufsz, "%s%s%supstream.%s", i > 0 ? "labels." : "",
	    cf->routes[i].label, i > 0 ? "." : "", what);
}

/* Route i's upstream client cert and key (a matching pair) and CA. */
static void
pki_load_upstream(struct pki_set *ps, struct config *cf, size_t i,
    struct errlist *errs)
{
	const struct config_upstream	*u = &cf->routes[i].up;
	struct pki_up			*pu = &ps->up[i];
	const char			*f = cf->file;
	char				 kc[96], kk[96], ka[96];
	STACK_OF(X509)			*sk;

	/* an error names the key the route took the file from */
	pki_route_key(kc, sizeof(kc), cf, i, "client_cert");
	pki_route_key(kk, sizeof(kk), cf, i, "client_key");
	pki_route_key(ka, sizeof(ka), cf, i, "ca");
	pu->cert_pem = pki_slurp(u->client_cert, &pu->cert_len, kc, f, errs);
	pu->key_pem = pki_slurp(u->client_key, &pu->key_len, kk, f, errs);
	if (pu->cert_pem != NULL && pu->key_pem != NULL)
		pki_check_pair(pu->cert_pem, pu->cert_len, pu->key_pem,
		    pu->key_len, kc, u->client_cert, kk, u->client_key, f,
		    errs, NULL, NULL);
	pu->ca_pem = pki_slurp(u->ca, &pu->ca_len, ka, f, errs);
	if (pu->ca_pem != NULL && (sk = pki_certs(pu->ca_pem, pu->ca_len, ka,
	    u->ca, f, errs)) != NULL)
		sk_X509_pop_free(sk, X509_free);
}

/* Load and cross-check every file of cf into cf->pki. */
int
pki_load(struct config *cf, struct errlist *errs)
{
	struct pki_set	*ps;
	int		 before = errs->count;

	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		errlist_add(errs, "%s: out of memory", cf->file);
		return -1;
	}
	ps->verify_depth = (int)cf->dtls_verify_depth;
	pki_load_dtls(ps, cf, errs);
	pki_load_trust(ps, cf, errs);
	for (size_t i = 0; i < cf->nroutes; i++)
		pki_load_upstream(ps, cf, i, errs);

	ERR_clear_error();
	if (errs->count != before) {
		pki_free(ps);
		return -1;
	}
	cf->pki = ps;
	return 0;
}

/* Free a loaded set, wiping the private keys. */
void
pki_free(struct pki_set *ps)
{
	if (ps == NULL)
		return;
	free(ps->dtls_cert_pem);
	if (ps->dtls_key_pem != NULL)
		OPENSSL_clear_free(ps->dtls_key_pem, ps->dtls_key_len);
	X509_free(ps->dtls_x509);
	EVP_PKEY_free(ps->dtls_pkey);
	sk_X509_pop_free(ps->dtls_chain, X509_free);
	X509_STORE_free(ps->client_trust);
	for (size_t i = 0; i < CONFIG_MAX_ROUTES; i++) {
		free(ps->up[i].cert_pem);
		if (ps->up[i].key_pem != NULL)
			OPENSSL_clear_free(ps->up[i].key_pem,
			    ps->up[i].key_len);
		free(ps->up[i].ca_pem);
	}
	free(ps);
}

static int	 pki_ssl_idx = -1;	/* SSL ex_data: expired leaf allowed */
static int	 pki_why_idx = -1;	/* SSL ex_data: why it was refused */
static int	 pki_tid_idx = -1;	/* SSL ex_data: trust_id it was set up
					   with (a copy, freed with the SSL) */

/* Free an SSL's copy of the trust_id it was set up with. */
static void
pki_tid_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* The SSL ex_data indexes, made once. */
static void
pki_ex_indexes(void)
{
	if (pki_ssl_idx < 0)
		pki_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (pki_why_idx < 0)
		pki_why_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (pki_tid_idx < 0)
		pki_tid_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    pki_tid_free);
}

/* See pki.h. */
const char *
pki_refusal(SSL *ssl)
{
	return ssl != NULL && pki_why_idx >= 0 ? SSL_get_ex_data(ssl,
	    pki_why_idx) : NULL;
}

/* The short reason for a verification error, for metrics and audit. */
static const char *
pki_reason(int err)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "unknown_ca";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "expired";
	case X509_V_ERR_CERT_REVOKED:
		return "revoked";
	default:
		return "bad_certificate";
	}
}

/* Log why a device certificate was refused; keep OpenSSL's verdict. */
static int
pki_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	char		 subj[256] = "?";
	X509		*x;
	struct pki_peer	 dev;
	SSL		*ssl;
	const char	*why;

	if (ok)
		return 1;
	ssl = X509_STORE_CTX_get_ex_data(ctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return 1;	/* no CRL configured for that CA */
	case X509_V_ERR_CERT_HAS_EXPIRED:
		/* some route accepts expired IDevIDs; it decides per request */
		if (X509_STORE_CTX_get_error_depth(ctx) == 0 && ssl != NULL &&
		    pki_ssl_idx >= 0 && SSL_get_ex_data(ssl, pki_ssl_idx) !=
		    NULL)
			return 1;
		break;
	default:
		break;
	}
	why = pki_reason(X509_STORE_CTX_get_error(ctx));
	if (ssl != NULL && pki_why_idx >= 0)
		SSL_set_ex_data(ssl, pki_why_idx, (void *)why);
	memset(&dev, 0, sizeof(dev));
	snprintf(dev.serial, sizeof(dev.serial), "-");
	if ((x = X509_STORE_CTX_get_current_cert(ctx)) != NULL) {
		X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
		X509_NAME_oneline(X509_get_issuer_name(x), dev.issuer,
		    sizeof(dev.issuer));
	}
	snprintf(dev.subject, sizeof(dev.subject), "%s", subj);
	audit_denied(NULL, &dev, "-", "", "dtls", why);
	log_info("dtls: device certificate refused: depth=%d subject=\"%s\" "
	    "error=\"%s\"", X509_STORE_CTX_get_error_depth(ctx), subj,
	    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	return 0;
}

/* Remember on ssl which anchors and CRLs its handshake verifies against. */
static void
pki_keep_trust_id(SSL *ssl, const struct pki_set *ps)
{
	unsigned char *tid;

	if (pki_tid_idx < 0)
		return;
	/* a second ClientHello (after a cookie) finds the first copy */
	if ((tid = SSL_get_ex_data(ssl, pki_tid_idx)) == NULL &&
	    ((tid = malloc(sizeof(ps->trust_id))) == NULL ||
	    SSL_set_ex_data(ssl, pki_tid_idx, tid) != 1)) {
		free(tid);
		return;
	}
	memcpy(tid, ps->trust_id, sizeof(ps->trust_id));
}

/*
 * Runs from libcoap's ClientHello hook after its own set-up, so what we set
 * wins (doc/design.md, "libcoap 4.3.1"): our trust store, a required
 * client certificate and the intermediates of our own certificate.
 */
int
pki_setup_ssl(SSL *ssl, const struct pki_set *ps)
{
	pki_ex_indexes();
	if (pki_ssl_idx >= 0)
		SSL_set_ex_data(ssl, pki_ssl_idx, ps->allow_expired ?
		    (void *)ps : NULL);
	pki_keep_trust_id(ssl, ps);
	/*
	 * Resumed sessions keep the device certificate, and every request
	 * re-checks it against its route (authz.c) and every CRL
	 * (pki_revoked); their session id context names trust_id
	 * (dtls_resume.c), so none made under other anchors resumes.
	 */
	if (SSL_set1_verify_cert_store(ssl, ps->client_trust) != 1) {
		pki_log_errors("dtls: cannot set the device trust store");
		return 0;
	}
	/* RFC 9148 3: every function needs a client certificate. */
	SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, pki_verify_cb);
	SSL_set_verify_depth(ssl, ps->verify_depth);
	if (ps->dtls_chain != NULL && SSL_set1_chain(ssl, ps->dtls_chain) !=
	    1) {
		pki_log_errors("dtls: cannot attach the certificate chain");
		return 0;
	}
	return 1;
}

/* See pki.h. */
int
pki_chain_checked(const struct pki_set *ps, const struct authz *az, SSL *ssl)
{
	const unsigned char *tid;

	/*
	 * A resumed session was verified at an earlier handshake (the
	 * device certificate may have expired since); a handshake set up
	 * under other anchors or CRLs kept another trust_id.
	 */
	if (ps == NULL || az == NULL || ps->sole_az != az || ssl == NULL ||
	    SSL_session_reused(ssl) || SSL_get0_peer_certificate(ssl) ==
	    NULL || pki_tid_idx < 0 ||
	    (tid = SSL_get_ex_data(ssl, pki_tid_idx)) == NULL)
		return 0;
	return memcmp(tid, ps->trust_id, sizeof(ps->trust_id)) == 0;
}
/* Revocation only: every other verification error is someone else's. */
static int
pki_revoked_cb(int ok, X509_STORE_CTX *ctx)
{
	return ok || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_CERT_REVOKED;
}

/* See pki.h. */
int
pki_revoked(const struct pki_set *ps, SSL *ssl, char *why, size_t whysz)
{
	X509_STORE_CTX	*ctx;
	X509		*leaf;
	int		 rc = 0;

	if (ps == NULL || !ps->has_crl || ssl == NULL ||
	    (leaf = SSL_get0_peer_certificate(ssl)) == NULL)
		return 0;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, ps->client_trust, leaf,
	    SSL_get_peer_cert_chain(ssl)) != 1) {
		snprintf(why, whysz, "out of memory");
		rc = -1;
	} else {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK |
		    X509_V_FLAG_CRL_CHECK_ALL | X509_V_FLAG_PARTIAL_CHAIN);
		X509_STORE_CTX_set_verify_cb(ctx, pki_revoked_cb);
		if (X509_verify_cert(ctx) != 1 && X509_STORE_CTX_get_error(ctx)
		    == X509_V_ERR_CERT_REVOKED) {
			snprintf(why, whysz, "client certificate not accepted: "
			    "certificate revoked (a CRL of a route lists it)");
			rc = -1;
		}
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* See pki.h. */
void
pki_forget_sessions(SSL_CTX *ctx)
{
	unsigned char keys[80];		/* name, HMAC and AES keys */

	SSL_CTX_flush_sessions(ctx, 0);
	if (RAND_bytes(keys, sizeof(keys)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys)) != 1) {
		/* no fresh keys: no tickets at all rather than old ones */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		pki_log_errors("dtls: cannot replace the session-ticket keys");
	}
	OPENSSL_cleanse(keys, sizeof(keys));
	ERR_clear_error();
}

/*
 * Our certificate and key on one DTLS server SSL, from the objects parsed
 * at load time: two reference counts, no PEM decoding (doc/bench/results.md,
 * B2).
 */
int
pki_use_identity(SSL *ssl, const struct pki_set *ps)
{
	if (ps->dtls_x509 == NULL || ps->dtls_pkey == NULL ||
	    SSL_use_cert_and_key(ssl, ps->dtls_x509, ps->dtls_pkey, NULL,
	    1) != 1) {
		pki_log_errors("dtls: cannot install our certificate and key");
		return 0;
	}
	return 1;
}

/* Subject, issuer and serial of the session's verified peer certificate. */
int
pki_peer_identity(SSL *ssl, struct pki_peer *id)
{
	X509		*x;

	snprintf(id->subject, sizeof(id->subject), "-");
	snprintf(id->issuer, sizeof(id->issuer), "-");
	snprintf(id->serial, sizeof(id->serial), "-");
	if (ssl == NULL || (x = SSL_get0_peer_certificate(ssl)) == NULL)
		return -1;
	X509_NAME_oneline(X509_get_subject_name(x), id->subject,
	    sizeof(id->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), id->issuer,
	    sizeof(id->issuer));
	if (peer_serial_hex(x, id->serial, sizeof(id->serial)) == -1)
		snprintf(id->serial, sizeof(id->serial), "-");
	if (X509_digest(x, EVP_sha256(), id->fp, NULL) != 1)
		memset(id->fp, 0, sizeof(id->fp));
	ERR_clear_error();
	return 0;
}
