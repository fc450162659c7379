/*
 * One resumable DTLS session per device (resume_dev.h).
 *
 * The table holds one reference to each device's last cached session; the
 * cache's new-session callback hands it over (return 1), and its remove
 * callback (timeout, eviction, flush, SSL_CTX_free) gives it back. Holding
 * a reference means a pointer here is never dangling, even for a session
 * the cache dropped without calling back.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/lhash.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "resume_dev.h"

typedef struct rd_entry {
	unsigned char	 fp[SHA_DIGEST_LENGTH];	/* device certificate */
	SSL_SESSION	*sess;			/* one reference, ours */
} rd_entry;

DEFINE_LHASH_OF(rd_entry);

static LHASH_OF(rd_entry) *rd;

/* Hash of an entry: its key is already a digest. */
static unsigned long
rd_hash(const struct rd_entry *e)
{
	unsigned long h;

	memcpy(&h, e->fp, sizeof(h));
	return h;
}

/* Order of two entries for the table: their keys. */
static int
rd_cmp(const struct rd_entry *a, const struct rd_entry *b)
{
	return memcmp(a->fp, b->fp, sizeof(a->fp));
}

/* The key of sess's device into key->fp; -1 without a certificate. */
static int
rd_key(SSL_SESSION *sess, struct rd_entry *key)
{
	X509		*peer = SSL_SESSION_get0_peer(sess);
	unsigned	 n = 0;

	if (peer == NULL || X509_digest(peer, EVP_sha1(), key->fp, &n) != 1 ||
	    n != sizeof(key->fp))
		return -1;
	return 0;
}

/*
 * A full handshake put sess in the cache: it becomes its device's
 * session, and the previous one leaves the cache. 1: we keep the
 * reference OpenSSL took for us.
 */
static int
rd_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct rd_entry	 key, *e;
	SSL_SESSION	*old;

	if (rd_key(sess, &key) == -1)
		return 0;
	if ((e = lh_rd_entry_retrieve(rd, &key)) != NULL) {
		if (e->sess == sess)
			return 0;
		old = e->sess;
		e->sess = sess;
		/* its remove callback finds e holding sess: nothing to do */
		SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), old);
		SSL_SESSION_free(old);
		return 1;
	}
	if ((e = OPENSSL_malloc(sizeof(*e))) == NULL)
		return 0;
	*e = key;
	e->sess = sess;
	(void)lh_rd_entry_insert(rd, e);
	if (lh_rd_entry_error(rd)) {
		OPENSSL_free(e);
		return 0;
	}
	return 1;
}

/* The cache dropped sess: forget it if it is its device's session. */
static void
rd_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct rd_entry	 key, *e;

	(void)ctx;
	if (rd == NULL || rd_key(sess, &key) == -1 ||
	    (e = lh_rd_entry_retrieve(rd, &key)) == NULL || e->sess != sess)
		return;
	(void)lh_rd_entry_delete(rd, e);
	OPENSSL_free(e);
	SSL_SESSION_free(sess);
}

/* See resume_dev.h. */
int
resume_dev_attach(SSL_CTX *ctx)
{
	if (rd == NULL && (rd = lh_rd_entry_new(rd_hash, rd_cmp)) == NULL)
		return -1;
	SSL_CTX_sess_set_new_cb(ctx, rd_new_cb);
	SSL_CTX_sess_set_remove_cb(ctx, rd_remove_cb);
	return 0;
}

/* See resume_dev.h. */
unsigned long
resume_dev_count(void)
{
	return rd != NULL ? lh_rd_entry_num_items(rd) : 0;
}

/* Free one entry and its reference. */
static void
rd_free_entry(struct rd_entry *e)
{
	SSL_SESSION_free(e->sess);
	OPENSSL_free(e);
}

/* See resume_dev.h. */
void
resume_dev_free(void)
{
	if (rd == NULL)
		return;
	lh_rd_entry_doall(rd, rd_free_entry);
	lh_rd_entry_free(rd);
	rd = NULL;
}
