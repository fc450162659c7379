/*
 * The upstream RFC 7030 server: libcurl multi driven by the libevent loop,
 * mutual TLS with in-memory credentials, pooled keep-alive connections.
 * It knows nothing of CoAP: a method, a path, a body in; a status, headers
 * and a capped body out.
 */
#ifndef ESTCOAPD_UPSTREAM_H
#define ESTCOAPD_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "upstream_end.h"

struct event_base;
struct config;
struct upstream;
struct upstream_job;

/* What one exchange produced; valid only during the callback. */
struct upstream_result {
	enum upstream_end	 end;
	long			 status;	/* HTTP status, 0 if none */
	const char		*ctype;		/* Content-Type or NULL */
	long			 retry_after;	/* seconds; -1 if absent */
	const uint8_t		*body;
	size_t			 body_len;
	const char		*error;		/* what went wrong, for logs */
	uint64_t		 ms;		/* duration, failover included */
	const char		*server;	/* base URL that answered or
						   failed last */
};

typedef void (*upstream_done_fn)(void *arg, const struct upstream_result *);

/*
 * cf must have its pki_set loaded; the upstream holds a reference, and
 * every job a reference to the generation it started on.
 */
struct upstream		*upstream_new(struct event_base *, struct config *cf);
void			 upstream_free(struct upstream *);

/* Use cf (URL, credentials, timeouts) for jobs submitted from now on. */
void			 upstream_set_config(struct upstream *, struct config *cf);

/*
 * Start one exchange on route (an index of cf->routes of the generation
 * in use): GET when body is NULL, else POST of body, base64 text, copied
 * in lines of the route's upstream.base64_line_length, with content type
 * ctype, and the extra header lines hdrs ("Name: value", NULL-terminated;
 * hdrs NULL: none). path starts with "/". done is called exactly once,
 * from the event loop, unless the job is cancelled first.
 */
struct upstream_job	*upstream_submit_hdrs(struct upstream *, size_t route,
			    const char *path, const char *body, size_t len,
			    const char *ctype, const char *const *hdrs,
			    upstream_done_fn done, void *arg);
void			 upstream_cancel(struct upstream_job *);

/* Servers of route (index of cf->routes) not marked down; *total: all. */
unsigned		 upstream_route_up(const struct upstream *, size_t route,
			    unsigned *total);

#endif
