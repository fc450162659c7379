/*
 * DTLS session resumption towards devices (see dtls_resume.h).
 *
 * OpenSSL refuses (with a fatal alert) to resume a session on a server
 * that verifies its peers but has no session ID context; libcoap sets
 * none. The context here names the daemon and the config generation, so
 * a session made under one generation's trust is never resumed under
 * another's.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "dtls_resume.h"

/* See dtls_resume.h. */
int
dtls_resume_prepare(SSL *ssl, const struct config *cf)
{
	SSL_CTX		*ctx = SSL_get_SSL_CTX(ssl);
	const char	*mode = cf->dtls_session_resumption;
	char		 sid[SSL_MAX_SID_CTX_LENGTH];
	int		 n, tickets = strcmp(mode, "tickets") == 0;
	int		 cache = strcmp(mode, "cache") == 0;

	n = snprintf(sid, sizeof(sid), "estcoapd/%u", cf->gen);
	if (n <= 0 || (size_t)n >= sizeof(sid) || ctx == NULL)
		return 0;
	/* the SSL_CTX: where sessions are cached and how long they live */
	SSL_CTX_set_session_cache_mode(ctx, cache ? SSL_SESS_CACHE_SERVER :
	    SSL_SESS_CACHE_OFF);
	if (cache)
		SSL_CTX_sess_set_cache_size(ctx, (long)cf->dtls_max_sessions);
	SSL_CTX_set_timeout(ctx, DTLS_RESUME_LIFETIME_S);
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid,
	    (unsigned)n) != 1)
		return 0;
	/* this handshake: its SSL copied the SSL_CTX's settings when made */
	if (tickets) {
		SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
		SSL_clear_options(ssl, SSL_OP_NO_TICKET);
	} else {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_set_options(ssl, SSL_OP_NO_TICKET);
	}
	return SSL_set_session_id_context(ssl, (const unsigned char *)sid,
	    (unsigned)n) == 1;
}
