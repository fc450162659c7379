/*
 * /.well-known/core (RFC 6690; RFC 9148 4.1) as pure functions: the query
 * filters, one link per served (label, operation), and which Block2 block
 * of the document an unauthenticated plain-CoAP request gets, so that an
 * answer is never more than DISC_PLAIN_FACTOR times the request (RFC 7252
 * 11.3: no amplifier for spoofed sources); then the plain-CoAP listener
 * (discovery.*) and the GET /.well-known/core handler on libcoap, which
 * shows a DTLS device only the links its authorization lets it use
 * (dtls.h), and refuses EST over plain CoAP.
 */
#ifndef ESTCOAPD_DISCOVERY_H
#define ESTCOAPD_DISCOVERY_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct config;
struct config_listen;
struct route;

/* Most filters of one query (RFC 6690 4.1). */
#define DISC_MAX_FILTERS	4

/* An answer to a plain request: at most this many times its size. */
#define DISC_PLAIN_FACTOR	3

/* Bytes one link may take: base, href with label, rt and the ct list. */
#define DISC_LINK_MAX		(160 + 256)

/* One served resource. */
struct disc_link {
	const char	*href;		/* "/.well-known/est/label/sen" */
	const char	*rt;		/* "ace.est.sen" */
	const char	*ct;		/* "286" or "287 281" */
};

/* The filters of one query: name=value, a trailing '*' makes a prefix. */
struct disc_query {
	struct {
		const char	*name;
		size_t		 nlen;
		const char	*val;
		size_t		 vlen;
		int		 prefix;
	}		 f[DISC_MAX_FILTERS];
	size_t		 n;
};

/* Split a query ("a=b&c=d*", not NUL-terminated) into q. */
void	disc_query_parse(const char *s, size_t len, struct disc_query *q);

/* Does the link pass every filter of q? (href, rt, ct; others never) */
int	disc_match(const struct disc_link *, const struct disc_query *q);

/*
 * Append the link to out (cap bytes, *len used so far), as
 * "<base href>;rt=\"..\";ct=.." with a ',' before all but the first.
 * 0, or -1 (nothing appended) when it does not fit.
 */
int	disc_append(char *out, size_t cap, size_t *len, const char *base,
	    const struct disc_link *);

/* The part of a document one plain answer carries. */
struct disc_block {
	int		 whole;		/* no Block2: the document fits */
	unsigned	 num;		/* Block2 NUM, SZX and M of the answer */
	unsigned	 szx;
	int		 more;
	size_t		 off;		/* bytes of the document to send */
	size_t		 len;
};

/*
 * Which bytes of a doclen-byte document answer a request of reqlen bytes
 * with a token of tkl bytes (b2: the request's Block2 value, -1 when it
 * has none), so that the answer stays within DISC_PLAIN_FACTOR * reqlen:
 * the whole document when it fits, else the asked block in the largest
 * block size that does (16 bytes at least). 0, or -1 when the asked block
 * lies past the end (4.02, RFC 7959 2.2) or its SZX is 7.
 */
int	disc_plain_block(size_t doclen, size_t reqlen, size_t tkl, long b2,
	    struct disc_block *);

/*
 * The port of the "coaps://" links of plain answers: the first DTLS
 * listen entry (of n) of the address family (v6), "::" serving both;
 * else the first entry's.
 */
unsigned	disc_coaps_port(const struct config_listen *, size_t n, int v6);

/* What the listener needs of the front. */
struct disc_hooks {
	/* limits.rate_per_source for s: 0, or the seconds to wait */
	int		(*rate)(coap_session_t *s);
	/* bind one listen entry for proto; 0, or -1 logged */
	int		(*listen)(const struct config_listen *, coap_proto_t);
};

/* Once, before the other calls below; cf is the configuration in use. */
void	disc_init(coap_context_t *, const struct config *cf,
	    const struct disc_hooks *);

/* Reload: cf is in use from now on. */
void	disc_configure(const struct config *cf);

/*
 * Bind the plain-CoAP discovery endpoints and join their multicast
 * groups (the first worker only). 0, or -1 logged.
 */
int	disc_listen(void);

/*
 * Register GET /.well-known/core (replacing libcoap's own) for the n
 * served routes, which must outlive the context. 0, or -1.
 */
int	disc_resource(const struct route *routes, size_t n);

/* The request came to a multicast group. */
int	disc_is_mcast(coap_session_t *);

/* Send nothing (a NON request then gets no answer at all). */
void	disc_no_answer(coap_pdu_t *resp);

/*
 * Plain CoAP past limits.rate_per_source: no answer at all (resp made
 * empty), counted and logged. 1 when dropped, else 0.
 */
int	disc_plain_rate(coap_session_t *, coap_pdu_t *resp);

/*
 * An EST operation over plain CoAP: 4.01, or nothing for multicast,
 * with its request line (t0: its arrival, mono_ms).
 */
void	disc_plain_refuse(coap_session_t *, const coap_pdu_t *req,
	    coap_pdu_t *resp, const char *opname, const char *label,
	    uint64_t t0);

#endif
