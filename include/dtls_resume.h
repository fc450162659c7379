/*
 * DTLS session resumption towards devices (dtls.session_resumption):
 * "tickets" (RFC 5077: the server keeps nothing, but writes and encrypts
 * a ticket on every full handshake), "cache" (RFC 5246 7.3: the server
 * keeps each device's last session, up to dtls.max_sessions, and the
 * device resumes it by its session ID; resume_dev.h) or "off". A resumed handshake skips the certificate
 * messages and every public-key operation; a device that closed its
 * session and retries after a 5.03 + Max-Age saves most of a handshake.
 */
#ifndef ESTCOAPD_DTLS_RESUME_H
#define ESTCOAPD_DTLS_RESUME_H

#include <openssl/ssl.h>

struct config;

/* How long a session may be resumed after its full handshake. */
#define DTLS_RESUME_LIFETIME_S	3600

/*
 * Set up one server handshake (from the ClientHello callback) and its
 * SSL_CTX for cf's mode. Resumption is bound to the device trust (the
 * digest of every anchor and CRL): after a reload that changes them
 * every device makes a full handshake again, checked against the new
 * trust; one that keeps them keeps the sessions. 0 on failure.
 */
int	dtls_resume_prepare(SSL *ssl, const struct config *cf);

#endif
