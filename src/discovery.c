/*
 * The link-format document of /.well-known/core and the size bound of
 * plain answers (discovery.h). No I/O, no libcoap: unit-tested alone.
 */
#include <stdio.h>
#include <string.h>

#include "discovery.h"

/*
 * What a plain answer adds to its payload: header (4), token, Content-
 * Format (2), Block2 (up to 4), Size2 (3) and the payload marker (1).
 */
#define DISC_OVERHEAD(tkl)	(14 + (tkl))

/* See discovery.h. */
void
disc_query_parse(const char *s, size_t len, struct disc_query *q)
{
	const char *p = s, *end = s + len;

	q->n = 0;
	if (s == NULL)
		return;
	while (p < end && q->n < DISC_MAX_FILTERS) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp != NULL ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		/* a parameter without '=' is no filter (RFC 6690 4.1) */
		if (eq != NULL && eq > p) {
			q->f[q->n].name = p;
			q->f[q->n].nlen = (size_t)(eq - p);
			q->f[q->n].val = eq + 1;
			q->f[q->n].vlen = (size_t)(stop - eq - 1);
			q->f[q->n].prefix = q->f[q->n].vlen > 0 &&
			    q->f[q->n].val[q->f[q->n].vlen - 1] == '*';
			if (q->f[q->n].prefix)
				q->f[q->n].vlen--;
			q->n++;
		}
		p = stop + 1;
	}
}

/* A value equals filter k's, or begins with its prefix. */
static int
disc_eq(const char *v, size_t vlen, const struct disc_query *q, size_t k)
{
	if (q->f[k].prefix)
		return vlen >= q->f[k].vlen &&
		    memcmp(v, q->f[k].val, q->f[k].vlen) == 0;
	return vlen == q->f[k].vlen && memcmp(v, q->f[k].val, vlen) == 0;
}

/* A space-separated attribute value has a token that matches filter k. */
static int
disc_tokens(const char *v, const struct disc_query *q, size_t k)
{
	while (*v != '\0') {
		size_t n = strcspn(v, " ");

		if (n > 0 && disc_eq(v, n, q, k))
			return 1;
		v += n;
		v += strspn(v, " ");
	}
	return 0;
}

/* See discovery.h. */
int
disc_match(const struct disc_link *l, const struct disc_query *q)
{
	for (size_t k = 0; k < q->n; k++) {
		const char	*name = q->f[k].name;
		size_t		 nlen = q->f[k].nlen;
		int		 hit = 0;

		if (nlen == 4 && memcmp(name, "href", 4) == 0) {
			/* the path, with or without its leading '/' */
			const char *h = l->href + (q->f[k].vlen > 0 &&
			    q->f[k].val[0] == '/' ? 0 : 1);

			hit = disc_eq(h, strlen(h), q, k);
		} else if (nlen == 2 && memcmp(name, "rt", 2) == 0)
			hit = disc_tokens(l->rt, q, k);
		else if (nlen == 2 && memcmp(name, "ct", 2) == 0)
			hit = disc_tokens(l->ct, q, k);
		if (!hit)
			return 0;
	}
	return 1;
}

/* See discovery.h. */
int
disc_append(char *out, size_t cap, size_t *len, const char *base,
    const struct disc_link *l)
{
	int	list = strchr(l->ct, ' ') != NULL;
	int	n;

	if (*len >= cap)
		return -1;
	n = snprintf(out + *len, cap - *len, "%s<%s%s>;rt=\"%s\";ct=%s%s%s",
	    *len > 0 ? "," : "", base, l->href, l->rt, list ? "\"" : "",
	    l->ct, list ? "\"" : "");
	if (n < 0 || (size_t)n >= cap - *len) {
		out[*len] = '\0';
		return -1;
	}
	*len += (size_t)n;
	return 0;
}

/* See discovery.h. */
int
disc_plain_block(size_t doclen, size_t reqlen, size_t tkl, long b2,
    struct disc_block *b)
{
	size_t		budget = DISC_PLAIN_FACTOR * reqlen;
	unsigned	szx = 6, rszx;
	size_t		start = 0;

	memset(b, 0, sizeof(*b));
	if (b2 >= 0) {
		rszx = (unsigned)(b2 & 7);
		if (rszx == 7)
			return -1;	/* reserved (RFC 7959 2.2) */
		start = ((size_t)b2 >> 4) << (rszx + 4);
		if (rszx < szx)
			szx = rszx;
	}
	if (start == 0 && doclen + DISC_OVERHEAD(tkl) <= budget &&
	    (b2 < 0 || doclen <= ((size_t)16 << szx))) {
		b->whole = b2 < 0;
		b->len = doclen;
		b->szx = szx;
		return 0;
	}
	while (szx > 0 && ((size_t)16 << szx) + DISC_OVERHEAD(tkl) > budget)
		szx--;
	if (start >= doclen && !(start == 0 && doclen == 0))
		return -1;
	/* RFC 7959 2.4: a smaller block size than asked, same offset */
	b->szx = szx;
	b->num = (unsigned)(start >> (szx + 4));
	b->off = (size_t)b->num << (szx + 4);
	b->len = doclen - b->off < ((size_t)16 << szx) ? doclen - b->off :
	    (size_t)16 << szx;
	b->more = b->off + b->len < doclen;
	return 0;
}
