/*
 * multipart/mixed splitting (RFC 2046 5.1.1) for EST serverkeygen answers
 * (RFC 7030 4.4.2, RFC 8951) and the CBOR multipart-core array (RFC 8710 2)
 * a CoAP device gets in their place (RFC 9148 4.3, 4.8).
 * Pure: no I/O, no globals. No function here reads past the length it was
 * given, and bodies may hold NUL bytes.
 *
 * Decisions, where the RFCs leave room:
 * - Folded part header lines (RFC 5322 2.2.3) are unfolded: a line that
 *   starts with a space or a tab continues the header before it, and the
 *   line break is dropped while the white space is kept.
 * - A boundary must be made of RFC 2046 bchars and must not end in a space.
 * - A line that starts with the delimiter but goes on with other text is
 *   not a delimiter line; it stays in the part.
 * - A repeated boundary parameter or a repeated Content-Type header fails:
 *   we cannot tell which one the sender meant.
 * - The CBOR decoder wants the shortest head for every argument (RFC 8949
 *   4.2.1, preferred serialization) and rejects anything longer; the
 *   encoder only writes shortest heads.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

/* RFC 2046 5.1.1: a boundary is 1 to 70 characters. */
#define MP_BOUNDARY_MAX	70

/* CBOR major types (RFC 8949 3.1) and the one simple value we use. */
#define MP_CBOR_UINT	0u
#define MP_CBOR_BSTR	2u
#define MP_CBOR_ARRAY	4u
#define MP_CBOR_SIMPLE	7u
#define MP_CBOR_NULL	0xf6

/* Additional information values (RFC 8949 3). */
#define MP_AI_1BYTE	24
#define MP_AI_8BYTE	27
#define MP_AI_INDEF	31

/* The array head is written with at most 2 bytes of argument. */
#define MP_CBOR_ARRAY_MAX	UINT16_MAX

/* Content-Formats are 16 bits in CoAP (RFC 7252 12.3). */
#define MP_CF_MAX	UINT16_MAX

/* The uint head is written with at most 4 bytes of argument. */
_Static_assert(UINT_MAX <= UINT32_MAX, "unsigned wider than 32 bits");

/* What a delimiter line turned out to be. */
enum mp_delim {
	MP_DELIM_NONE,
	MP_DELIM_PART,			/* --boundary: a part follows */
	MP_DELIM_CLOSE,			/* --boundary--: the last one */
};

/* Set *why, if there is one, and fail. */
static int
mp_fail(const char **why, const char *msg)
{
	if (why != NULL)
		*why = msg;
	return -1;
}

/* Whether c is white space within a line (RFC 5322 WSP). */
static int
mp_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* Whether c may appear in a boundary (RFC 2046 5.1.1 bchars). */
static int
mp_bchar(int c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("'()+_,-./:=? ", c) != NULL;
}

/* Skip white space in a C string. */
static const char *
mp_skip_wsp(const char *p)
{
	while (mp_wsp((unsigned char)*p))
		p++;
	return p;
}

/*
 * Read one "name=value" parameter at p (after its ';') and return where it
 * ends (at ';' or the NUL), NULL if it is malformed. If it is the boundary,
 * its value goes to b (NUL-terminated) and *blen, and *isb is set.
 */
static const char *
mp_param(const char *p, char *b, size_t *blen, int *isb, const char **why)
{
	const char	*name;
	size_t		 nlen, n = 0;

	name = p;
	while (*p != '\0' && *p != '=' && *p != ';' && !mp_wsp(*p))
		p++;
	nlen = (size_t)(p - name);
	p = mp_skip_wsp(p);
	if (nlen == 0 || *p != '=') {
		mp_fail(why, "malformed content-type parameter");
		return NULL;
	}
	p = mp_skip_wsp(p + 1);
	*isb = nlen == 8 && strncasecmp(name, "boundary", 8) == 0;
	if (*p == '"') {
		/* RFC 2045 5.1 quoted-string; a backslash quotes any char. */
		for (p++; *p != '"'; p++) {
			if (*p == '\\')
				p++;
			if (*p == '\0') {
				mp_fail(why, "unterminated quoted string in "
				    "content-type");
				return NULL;
			}
			if (*isb && n++ < MP_BOUNDARY_MAX)
				b[n - 1] = *p;
		}
		p++;
	} else {
		for (; *p != '\0' && *p != ';' && *p != '"' &&
		    !mp_wsp(*p); p++)
			if (*isb && n++ < MP_BOUNDARY_MAX)
				b[n - 1] = *p;
	}
	p = mp_skip_wsp(p);
	if (*p != '\0' && *p != ';') {
		mp_fail(why, "malformed content-type parameter");
		return NULL;
	}
	if (*isb) {
		if (n > MP_BOUNDARY_MAX) {
			mp_fail(why, "boundary longer than 70 characters");
			return NULL;
		}
		b[n] = '\0';
		*blen = n;
	}
	return p;
}

/*
 * Check that ctype is multipart/mixed and copy its boundary parameter into
 * b (MP_BOUNDARY_MAX + 1 bytes), *blen getting its length.
 */
static int
mp_boundary(const char *ctype, char *b, size_t *blen, const char **why)
{
	static const char	 mixed[] = "multipart/mixed";
	const char		*p, *type;
	size_t			 tlen, i;
	int			 isb, found = 0;

	if (ctype == NULL)
		return mp_fail(why, "no content-type");
	type = p = mp_skip_wsp(ctype);
	while (*p != '\0' && *p != ';')
		p++;
	tlen = (size_t)(p - type);
	while (tlen > 0 && mp_wsp(type[tlen - 1]))
		tlen--;
	if (tlen != sizeof(mixed) - 1 || strncasecmp(type, mixed, tlen) != 0)
		return mp_fail(why, "content-type is not multipart/mixed");
	while (*p == ';') {
		p = mp_skip_wsp(p + 1);
		if (*p == '\0' || *p == ';')
			continue;		/* "a; b;" or "a;; b" */
		if ((p = mp_param(p, b, blen, &isb, why)) == NULL)
			return -1;
		if (isb && found++)
			return mp_fail(why, "repeated boundary parameter");
	}
	if (!found)
		return mp_fail(why, "no boundary parameter");
	if (*blen == 0)
		return mp_fail(why, "empty boundary");
	for (i = 0; i < *blen; i++)
		if (!mp_bchar((unsigned char)b[i]))
			return mp_fail(why, "invalid character in boundary");
	if (b[*blen - 1] == ' ')
		return mp_fail(why, "boundary ends in a space");
	return 0;
}

/*
 * Whether the line at body[p] is a delimiter line: "--boundary", "--" more
 * for the close delimiter, transport padding, then a line break (or, for
 * the close delimiter only, the end of the body). *next gets the offset
 * just past the line.
 */
static enum mp_delim
mp_delim_at(const uint8_t *body, size_t len, size_t p, const char *dash,
    size_t dlen, size_t *next)
{
	enum mp_delim	 kind = MP_DELIM_PART;

	if (len - p < dlen || memcmp(body + p, dash, dlen) != 0)
		return MP_DELIM_NONE;
	p += dlen;
	if (len - p >= 2 && body[p] == '-' && body[p + 1] == '-') {
		kind = MP_DELIM_CLOSE;
		p += 2;
	}
	while (p < len && mp_wsp(body[p]))
		p++;
	if (p == len) {
		if (kind != MP_DELIM_CLOSE)
			return MP_DELIM_NONE;
		*next = p;
		return kind;
	}
	if (body[p] == '\r' && len - p >= 2)
		p++;
	if (body[p] != '\n')
		return MP_DELIM_NONE;
	*next = p + 1;
	return kind;
}

/*
 * Find the first delimiter line at or after from, which must be the start
 * of a line. *at gets where that line starts and *next where it ends.
 */
static enum mp_delim
mp_find(const uint8_t *body, size_t len, size_t from, const char *dash,
    size_t dlen, size_t *at, size_t *next)
{
	const uint8_t	*nl;
	enum mp_delim	 kind;
	size_t		 p = from;

	for (;;) {
		kind = mp_delim_at(body, len, p, dash, dlen, next);
		if (kind != MP_DELIM_NONE) {
			*at = p;
			return kind;
		}
		if (p >= len || (nl = memchr(body + p, '\n', len - p)) == NULL)
			return MP_DELIM_NONE;
		p = (size_t)(nl - body) + 1;
	}
}

/*
 * Find the line at body[p] within end: *eol gets where its content ends
 * (before CRLF or LF) and *next where the next line starts. -1 when no
 * line break is left before end.
 */
static int
mp_line(const uint8_t *body, size_t p, size_t end, size_t *eol, size_t *next)
{
	const uint8_t	*nl;

	if (p >= end || (nl = memchr(body + p, '\n', end - p)) == NULL)
		return -1;
	*next = (size_t)(nl - body) + 1;
	*eol = *next - 1;
	if (*eol > p && body[*eol - 1] == '\r')
		(*eol)--;
	return 0;
}

/*
 * Append body[p, end) to the part's Content-Type, leading white space
 * dropped; no control characters.
 */
static int
mp_ctype_append(struct mp_part *part, size_t *vlen, const uint8_t *body,
    size_t p, size_t end, const char **why)
{
	for (; p < end; p++) {
		if (*vlen == 0 && mp_wsp(body[p]))
			continue;
		if ((body[p] < 0x20 && body[p] != '\t') || body[p] == 0x7f)
			return mp_fail(why,
			    "control character in content-type");
		if (*vlen + 1 >= sizeof(part->ctype))
			return mp_fail(why, "content-type too long");
		part->ctype[(*vlen)++] = (char)body[p];
	}
	part->ctype[*vlen] = '\0';
	return 0;
}

/* Parse one header line body[p, eol) into part; *in_ct tracks folding. */
static int
mp_header(const uint8_t *body, size_t p, size_t eol, struct mp_part *part,
    size_t *vlen, int *in_ct, int *seen_ct, const char **why)
{
	const uint8_t	*colon;
	size_t		 nlen;

	if (mp_wsp(body[p])) {
		if (*in_ct == -1)
			return mp_fail(why, "folded line without a header");
		if (*in_ct == 1)
			return mp_ctype_append(part, vlen, body, p, eol, why);
		return 0;
	}
	if ((colon = memchr(body + p, ':', eol - p)) == NULL)
		return mp_fail(why, "malformed part header");
	nlen = (size_t)(colon - (body + p));
	while (nlen > 0 && mp_wsp(body[p + nlen - 1]))
		nlen--;
	if (nlen == 0)
		return mp_fail(why, "malformed part header");
	*in_ct = nlen == 12 &&
	    strncasecmp((const char *)body + p, "content-type", 12) == 0;
	if (!*in_ct)
		return 0;
	if ((*seen_ct)++)
		return mp_fail(why, "repeated content-type in a part");
	return mp_ctype_append(part, vlen, body, (size_t)(colon - body) + 1,
	    eol, why);
}

/*
 * Read the headers of the part in body[start, end): they end at the first
 * empty line, and *bstart gets the offset just past it. Only Content-Type
 * is kept, unfolded and with white space trimmed from both ends.
 */
static int
mp_part_headers(const uint8_t *body, size_t start, size_t end,
    struct mp_part *part, size_t *bstart, const char **why)
{
	size_t	 p, eol, next, sep, vlen = 0;
	int	 in_ct = -1, seen_ct = 0;

	/* Find the separator first so that its absence is what we report. */
	for (p = start; ; p = next) {
		if (mp_line(body, p, end, &eol, &next) == -1)
			return mp_fail(why,
			    "part without header/body separator");
		if (eol == p)
			break;
	}
	sep = p;
	*bstart = next;
	part->ctype[0] = '\0';
	for (p = start; p < sep; p = next) {
		if (mp_line(body, p, sep, &eol, &next) == -1)
			return mp_fail(why, "part header without line end");
		if (mp_header(body, p, eol, part, &vlen, &in_ct, &seen_ct,
		    why) == -1)
			return -1;
	}
	while (vlen > 0 && mp_wsp(part->ctype[vlen - 1]))
		vlen--;
	part->ctype[vlen] = '\0';
	return 0;
}

/* See multipart.h. */
int
mp_parse(const char *ctype, const uint8_t *body, size_t len,
    struct mp_part *parts, size_t *nparts, const char **why)
{
	char		 dash[2 + MP_BOUNDARY_MAX + 1];
	size_t		 dlen, at, next, start, bstart, end, n = 0;
	enum mp_delim	 kind;

	*nparts = 0;
	if (mp_boundary(ctype, dash + 2, &dlen, why) == -1)
		return -1;
	dash[0] = dash[1] = '-';
	dlen += 2;
	if (body == NULL && len > 0)
		return mp_fail(why, "no body");
	kind = mp_find(body, len, 0, dash, dlen, &at, &next);
	if (kind == MP_DELIM_NONE)
		return mp_fail(why, "no first delimiter");
	if (kind == MP_DELIM_CLOSE)
		return mp_fail(why, "no body part");
	do {
		start = next;
		kind = mp_find(body, len, start, dash, dlen, &at, &next);
		if (kind == MP_DELIM_NONE)
			return mp_fail(why, "missing close delimiter");
		if (n == MP_MAX_PARTS)
			return mp_fail(why, "too many body parts");
		if (mp_part_headers(body, start, at, &parts[n], &bstart,
		    why) == -1)
			return -1;
		/* RFC 2046 5.1.1: the line break belongs to the delimiter. */
		end = at;
		if (end > bstart) {
			end--;
			if (end > bstart && body[end - 1] == '\r')
				end--;
		}
		parts[n].body = body + bstart;
		parts[n].len = end - bstart;
		n++;
	} while (kind == MP_DELIM_PART);
	*nparts = n;
	return 0;
}

/* Length of the head for argument v, v <= UINT32_MAX. */
static size_t
mp_cbor_head_len(uint64_t v)
{
	if (v < MP_AI_1BYTE)
		return 1;
	if (v <= UINT8_MAX)
		return 2;
	if (v <= UINT16_MAX)
		return 3;
	return 5;
}

/* Write the shortest head for major type and v <= UINT32_MAX; its end. */
static uint8_t *
mp_cbor_head(uint8_t *p, unsigned major, uint64_t v)
{
	size_t	 n, i;

	n = mp_cbor_head_len(v) - 1;
	if (n == 0) {
		*p++ = (uint8_t)(major << 5 | v);
		return p;
	}
	*p++ = (uint8_t)(major << 5 | (n == 1 ? 24u : n == 2 ? 25u : 26u));
	for (i = n; i > 0; i--)
		*p++ = (uint8_t)(v >> (8 * (i - 1)));
	return p;
}

/*
 * See multipart.h. An item with data NULL and len 0 is written as null
 * (RFC 8710 2), which is how mp_cbor_decode hands null back.
 */
uint8_t *
mp_cbor_encode(const struct mp_item *items, size_t nitems, size_t *outlen)
{
	uint8_t	*out, *p;
	size_t	 total, add, i;

	if (outlen == NULL || (items == NULL && nitems > 0)) {
		errno = EINVAL;
		return NULL;
	}
	*outlen = 0;
	if (nitems > MP_CBOR_ARRAY_MAX / 2) {
		errno = EOVERFLOW;
		return NULL;
	}
	total = mp_cbor_head_len(2 * nitems);
	for (i = 0; i < nitems; i++) {
		if (items[i].data == NULL && items[i].len > 0) {
			errno = EINVAL;
			return NULL;
		}
		if (items[i].len > UINT32_MAX) {
			errno = EOVERFLOW;
			return NULL;
		}
		add = mp_cbor_head_len(items[i].cf) + (items[i].data == NULL ?
		    1 : mp_cbor_head_len(items[i].len));
		if (add > SIZE_MAX - total ||
		    items[i].len > SIZE_MAX - total - add) {
			errno = EOVERFLOW;
			return NULL;
		}
		total += add + items[i].len;
	}
	if ((out = malloc(total)) == NULL)
		return NULL;
	p = mp_cbor_head(out, MP_CBOR_ARRAY, 2 * nitems);
	for (i = 0; i < nitems; i++) {
		p = mp_cbor_head(p, MP_CBOR_UINT, items[i].cf);
		if (items[i].data == NULL) {
			*p++ = MP_CBOR_NULL;
			continue;
		}
		p = mp_cbor_head(p, MP_CBOR_BSTR, items[i].len);
		if (items[i].len > 0)
			memcpy(p, items[i].data, items[i].len);
		p += items[i].len;
	}
	*outlen = total;
	return out;
}

/*
 * Read the head at buf[*off]: its major type and argument. Definite
 * lengths only, and the argument must take the fewest bytes it can.
 */
static int
mp_cbor_read_head(const uint8_t *buf, size_t len, size_t *off,
    unsigned *major, uint64_t *v, const char **why)
{
	static const uint64_t	 least[] = { 24, 0x100, 0x10000, 0x100000000 };
	size_t			 n, i;
	unsigned		 ai;

	if (*off >= len)
		return mp_fail(why, "cbor truncated");
	*major = buf[*off] >> 5;
	ai = buf[*off] & 0x1f;
	(*off)++;
	if (ai < MP_AI_1BYTE) {
		*v = ai;
		return 0;
	}
	if (ai == MP_AI_INDEF)
		return mp_fail(why, "cbor indefinite length");
	if (ai > MP_AI_8BYTE)
		return mp_fail(why, "cbor reserved additional information");
	n = (size_t)1 << (ai - MP_AI_1BYTE);
	if (len - *off < n)
		return mp_fail(why, "cbor head truncated");
	for (*v = 0, i = 0; i < n; i++)
		*v = *v << 8 | buf[*off + i];
	*off += n;
	/* Major type 7 carries floats here, not a number to shorten. */
	if (*major != MP_CBOR_SIMPLE && *v < least[ai - MP_AI_1BYTE])
		return mp_fail(why, "cbor head not in its shortest form");
	return 0;
}

/* See multipart.h. */
int
mp_cbor_decode(const uint8_t *buf, size_t len, struct mp_item *items,
    size_t max, size_t *nitems, const char **why)
{
	size_t		 off = 0, n, i;
	uint64_t	 v;
	unsigned	 major;

	*nitems = 0;
	if (buf == NULL || len == 0)
		return mp_fail(why, "cbor empty");
	if (mp_cbor_read_head(buf, len, &off, &major, &v, why) == -1)
		return -1;
	if (major != MP_CBOR_ARRAY)
		return mp_fail(why, "cbor not an array");
	if (v % 2 != 0)
		return mp_fail(why, "cbor array of odd length");
	if (v / 2 > max)
		return mp_fail(why, "cbor array has too many items");
	n = (size_t)(v / 2);
	for (i = 0; i < n; i++) {
		if (mp_cbor_read_head(buf, len, &off, &major, &v, why) == -1)
			return -1;
		if (major != MP_CBOR_UINT)
			return mp_fail(why, "content-format not an unsigned "
			    "integer");
		if (v > MP_CF_MAX)
			return mp_fail(why, "content-format above 65535");
		items[i].cf = (unsigned)v;
		if (off < len && buf[off] == MP_CBOR_NULL) {
			off++;
			items[i].data = NULL;
			items[i].len = 0;
			continue;
		}
		if (mp_cbor_read_head(buf, len, &off, &major, &v, why) == -1)
			return -1;
		if (major != MP_CBOR_BSTR)
			return mp_fail(why, "representation not a byte string "
			    "or null");
		if (v > len - off)
			return mp_fail(why, "byte string longer than the cbor");
		items[i].data = buf + off;
		items[i].len = (size_t)v;
		off += (size_t)v;
	}
	if (off != len)
		return mp_fail(why, "bytes after the cbor array");
	*nitems = n;
	return 0;
}
