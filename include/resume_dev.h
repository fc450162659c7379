/*
 * One resumable DTLS session per device (dtls.session_resumption
 * "cache"). A device offers only the session of its last handshake; the
 * server cache, keyed by session ID, kept every older one too, an hour
 * each (about 6.6 KB: the session holds the device's decoded
 * certificates), so a fleet that re-handshakes filled it with sessions
 * nobody can resume. Here a device's new full handshake removes its
 * previous session from the cache. The key is the SHA-1 of the device
 * certificate, which OpenSSL computed when it decoded it: a table key
 * only, not a security check (the cache still checks everything on a
 * resumption).
 */
#ifndef ESTCOAPD_RESUME_DEV_H
#define ESTCOAPD_RESUME_DEV_H

#include <openssl/ssl.h>

/* Hook the server cache of ctx (idempotent). 0, or -1 out of memory. */
int	resume_dev_attach(SSL_CTX *ctx);

/* Sessions remembered now (one per device). */
unsigned long	resume_dev_count(void);

/* Forget every device (at exit, after the SSL_CTXs are gone). */
void	resume_dev_free(void);

#endif
