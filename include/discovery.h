/*
 * /.well-known/core (RFC 6690; RFC 9148 4.1) as pure functions: the query
 * filters, one link per served (label, operation), and which Block2 block
 * of the document an unauthenticated plain-CoAP request gets, so that an
 * answer is never more than DISC_PLAIN_FACTOR times the request (RFC 7252
 * 11.3: no amplifier for spoofed sources). The front decides which links
 * a device may see and sends the result.
 */
#ifndef ESTCOAPD_DISCOVERY_H
#define ESTCOAPD_DISCOVERY_H

#include <stddef.h>

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

#endif
