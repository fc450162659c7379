/*
 * DTLS session resumption towards devices (see dtls_resume.h).
 *
 * OpenSSL refuses (with a fatal alert) to resume a session on a server
 * that verifies its peers but has no session ID context; libcoap sets
 * none. The context here names the daemon and the device trust (the
 * digest of every anchor and CRL, pki.h trust_id), so a session made
 * under other anchors or CRLs is never resumed, and a reload that keeps
 * them keeps the sessions.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "pki.h"
#include "dtls_resume.h"
#include "resume_dev.h"

/* See dtls_resume.h. */
int
dtls_resume_prepare(SSL *ssl, const struct config *cf)
{
	SSL_CTX		*ctx = SSL_get_SSL_CTX(ssl);
	const char	*mode = cf->dtls_session_resumption;
	unsigned char	 sid[8 + sizeof(cf->pki->trust_id)];
	unsigned	 n = sizeof(sid);
	int		 tickets = strcmp(mode, "tickets") == 0;
	int		 cache = strcmp(mode, "cache") == 0;

	if (ctx == NULL || cf->pki == NULL)
		return 0;
	memcpy(sid, "estcoapd", 8);
	memcpy(sid + 8, cf->pki->trust_id, sizeof(cf->pki->trust_id));
	/* the SSL_CTX: where sessions are cached and how long they live */
	SSL_CTX_set_session_cache_mode(ctx, cache ? SSL_SESS_CACHE_SERVER :
	    SSL_SESS_CACHE_OFF);
	if (cache) {
		SSL_CTX_sess_set_cache_size(ctx, (long)cf->dtls_max_sessions);
		/* a device's new session replaces its previous one */
		if (resume_dev_attach(ctx) == -1)
			return 0;
	}
	SSL_CTX_set_timeout(ctx, DTLS_RESUME_LIFETIME_S);
	if (SSL_CTX_set_session_id_context(ctx, sid, n) != 1)
		return 0;
	/* this handshake: its SSL copied the SSL_CTX's settings when made */
	if (tickets) {
		SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
		SSL_clear_options(ssl, SSL_OP_NO_TICKET);
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_set_options(ssl, SSL_OP_NO_TICKET);
	}
	return SSL_set_session_id_context(ssl, sid, n) == 1;
}
