/*
 * The registrar's TLS identity and trust towards the upstream, parsed once
 * per config generation and handed to libcurl through its SSL_CTX callback
 * (CURLOPT_SSL_CTX_FUNCTION), instead of PEM blobs that libcurl decodes
 * again for every new connection (the private key alone costs more than a
 * handshake's public-key operations with OpenSSL 3.0).
 */
#ifndef ESTCOAPD_UP_TLS_H
#define ESTCOAPD_UP_TLS_H

#include <stddef.h>

#include <curl/curl.h>

struct pki_set;
struct up_tls;

/*
 * The identities of a generation's first nroutes routes (pki->up[]).
 * A route whose files do not parse stays without (its exchanges fall
 * back to the blobs). NULL when out of memory.
 */
struct up_tls	*up_tls_new(const struct pki_set *pki, size_t nroutes);
struct up_tls	*up_tls_ref(struct up_tls *);
void		 up_tls_unref(struct up_tls *);

/*
 * Give an easy handle the route's identity and trust; 0, or -1 when the
 * route has none parsed (then set the PEM blobs as before). The handle
 * must not outlive the reference its transfer holds.
 */
int		 up_tls_setopt(struct up_tls *, size_t route, CURL *e);

/*
 * What up_tls_setopt() hands libcurl, for the unit tests: the callback,
 * its data for a route (NULL: none parsed) and the route's cipher list.
 */
CURLcode	 up_tls_ctx_cb(CURL *e, void *sslctx, void *arg);
void		*up_tls_data(struct up_tls *, size_t route);
const char	*up_tls_ciphers(struct up_tls *, size_t route);

#endif
