/*
 * Unit tests for multipart: splitting multipart/mixed serverkeygen answers
 * and encoding/decoding the CBOR multipart-core array. Bodies are copied
 * into buffers of exactly their length so that ASan sees any read past it.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "multipart.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A string literal as pointer and length, NUL bytes included. */
#define S(s)		s, sizeof(s) - 1

/* Boundaries of 70 and 71 characters (RFC 2046 5.1.1 allows 70). */
#define B70	"0123456789012345678901234567890123456789" \
		"012345678901234567890123456789"
#define B71	B70 "x"

/* Part bodies in the style of RFC 7030 4.4.2; E is the line end. */
#define KEYTXT(E)	"MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7" E \
			"AgEAAkEA0Z3VS5JJcds3xfnygWyF0lYrrQxFOJqk"
#define P7TXT(E)	"MIIDRQYJKoZIhvcNAQcCoIIDNjCCAzICAQExADAL" E \
			"BgkqhkiG9w0BBwGgggMYMIIDFDCCAfygAwIBAgIB"

#define SKG_CT		"multipart/mixed ; boundary=estServerKeyGenBoundary"
#define SKG_DELIM	"--estServerKeyGenBoundary"
#define CT_KEY		"application/pkcs8"
#define CT_P7		"application/pkcs7-mime; smime-type=certs-only"

#define KEYPART(E)	SKG_DELIM E "Content-Type: " CT_KEY E E KEYTXT(E) E
#define P7PART(E)	SKG_DELIM E "Content-Type: " CT_P7 E E P7TXT(E) E
#define SKG(E)		KEYPART(E) P7PART(E) SKG_DELIM "--"

/* The 7030 answer with CRLF and no line break after the close delimiter. */
static const char	 skg_crlf[] = SKG("\r\n");

/* A part the parse must yield. */
struct mp_want {
	const char	*ctype;
	const char	*body;
	size_t		 len;
};

/* One multipart/mixed case: input and what must come out. */
struct mp_case {
	const char	*name;
	const char	*ctype;
	const char	*body;
	size_t		 len;
	const char	*why;		/* NULL: must parse; else in *why */
	size_t		 nparts;
	struct mp_want	 part[MP_MAX_PARTS];
};

static const struct mp_case	mp_cases[] = {
	{ "rfc7030 crlf", SKG_CT, S(SKG("\r\n") "\r\n"), NULL, 2, {
	    { CT_KEY, S(KEYTXT("\r\n")) }, { CT_P7, S(P7TXT("\r\n")) } } },
	{ "rfc7030 lf only", SKG_CT, S(SKG("\n") "\n"), NULL, 2, {
	    { CT_KEY, S(KEYTXT("\n")) }, { CT_P7, S(P7TXT("\n")) } } },
	{ "no break after close", SKG_CT, S(SKG("\r\n")), NULL, 2, {
	    { CT_KEY, S(KEYTXT("\r\n")) }, { CT_P7, S(P7TXT("\r\n")) } } },
	{ "reverse order", SKG_CT,
	    S(P7PART("\r\n") KEYPART("\r\n") SKG_DELIM "--\r\n"), NULL, 2, {
	    { CT_P7, S(P7TXT("\r\n")) }, { CT_KEY, S(KEYTXT("\r\n")) } } },
	{ "quoted special chars",
	    "multipart/mixed; boundary=\"a'(b)+_,-./:=?z\"",
	    S("--a'(b)+_,-./:=?z\r\nContent-Type: a/b\r\n\r\nx\r\n"
	    "--a'(b)+_,-./:=?z--\r\n"), NULL, 1, { { "a/b", S("x") } } },
	{ "quoted pair", "multipart/mixed; boundary=\"es\\tB\"",
	    S("--estB\r\nContent-Type: a/b\r\n\r\nx\r\n--estB--"), NULL, 1,
	    { { "a/b", S("x") } } },
	{ "quoted inner space", "multipart/mixed; boundary=\"two words\"",
	    S("--two words\r\n\r\nx\r\n--two words--"), NULL, 1,
	    { { "", S("x") } } },
	{ "spaces around =", "multipart/mixed;boundary = estB ",
	    S("--estB\r\n\r\nx\r\n--estB--"), NULL, 1, { { "", S("x") } } },
	{ "other parameters", "multipart/mixed; charset=x; boundary=estB; "
	    "foo=\"bar;baz\";", S("--estB\r\n\r\nx\r\n--estB--"), NULL, 1,
	    { { "", S("x") } } },
	{ "preamble and epilogue", "multipart/mixed; boundary=estB",
	    S("This is the preamble.\r\nIt says --estB mid-line.\r\n"
	    "--estB\r\nContent-Type: a/b\r\n\r\nx\r\n--estB--\r\n"
	    "epilogue\r\n--estB\r\nContent-Type: c/d\r\n\r\ny\r\n"),
	    NULL, 1, { { "a/b", S("x") } } },
	{ "transport padding", "multipart/mixed; boundary=estB",
	    S("--estB \t\r\nContent-Type: a/b\r\n\r\nx\r\n--estB\t\n"
	    "Content-Type: c/d\r\n\r\ny\r\n--estB--  \r\n"), NULL, 2,
	    { { "a/b", S("x") }, { "c/d", S("y") } } },
	{ "boundary not at line start", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/b\r\n\r\nabc --estB\r\n"
	    "xx--estB--\r\n--estBX\r\n--estB--x\r\n--estB-\r\nend\r\n"
	    "--estB--\r\n"), NULL, 1, { { "a/b", S("abc --estB\r\n"
	    "xx--estB--\r\n--estBX\r\n--estB--x\r\n--estB-\r\nend") } } },
	{ "nul bytes", "multipart/mixed; boundary=estB",
	    S("\0pre\0\r\n--estB\r\nX-Bin: \0\r\nContent-Type: a/b\r\n\r\n"
	    "\0\x01\0--estB\r\n\0\r\n--estB--\r\n"), NULL, 1,
	    { { "a/b", S("\0\x01\0--estB\r\n\0") } } },
	{ "case-insensitive", "Multipart/MIXED; BOUNDARY=estB",
	    S("--estB\r\ncontent-type: a/b\r\n\r\nx\r\n--estB\r\n"
	    "CONTENT-TYPE:c/d\r\n\r\ny\r\n--estB--"), NULL, 2,
	    { { "a/b", S("x") }, { "c/d", S("y") } } },
	{ "no headers", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\nbare\r\n--estB--"), NULL, 1,
	    { { "", S("bare") } } },
	{ "empty part body", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/b\r\n\r\n--estB--"), NULL, 1,
	    { { "a/b", S("") } } },
	{ "mixed line ends", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/b\n\r\nx\n--estB\n"
	    "Content-Type: c/d\r\n\ny\r\n--estB--"), NULL, 2,
	    { { "a/b", S("x") }, { "c/d", S("y") } } },
	{ "folded content-type", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: application/pkcs7-mime;\r\n"
	    "\tsmime-type=certs-only \r\nX-After: 1\r\n\r\nx\r\n--estB--"),
	    NULL, 1, { { "application/pkcs7-mime;\tsmime-type=certs-only",
	    S("x") } } },
	{ "other headers ignored", "multipart/mixed; boundary=estB",
	    S("--estB\r\nX-Before: a\r\n  folded\r\nContent-Type : a/b \r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\nx\r\n--estB--"),
	    NULL, 1, { { "a/b", S("x") } } },
	{ "one line break stripped", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\nx\r\n\r\n--estB\n\ny\n\n--estB--"), NULL, 2,
	    { { "", S("x\r\n") }, { "", S("y\n") } } },
	{ "70-char boundary", "multipart/mixed; boundary=" B70,
	    S("--" B70 "\r\n\r\nx\r\n--" B70 "--"), NULL, 1,
	    { { "", S("x") } } },
	{ "four parts", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\n1\r\n--estB\r\n\r\n2\r\n--estB\r\n\r\n3\r\n"
	    "--estB\r\n\r\n4\r\n--estB--"), NULL, 4,
	    { { "", S("1") }, { "", S("2") }, { "", S("3") },
	    { "", S("4") } } },
	{ "159-char content-type", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: " B70 B70 "0123456789012345678\r\n"
	    "\r\nx\r\n--estB--"), NULL, 1,
	    { { B70 B70 "0123456789012345678", S("x") } } },

	{ "missing close", SKG_CT, S(KEYPART("\r\n") P7PART("\r\n")),
	    "missing close delimiter", 0, { { NULL, NULL, 0 } } },
	{ "close cut short", SKG_CT, S(KEYPART("\r\n") SKG_DELIM "-"),
	    "missing close delimiter", 0, { { NULL, NULL, 0 } } },
	{ "delimiter at end", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\nx\r\n--estB"), "missing close delimiter", 0,
	    { { NULL, NULL, 0 } } },
	{ "close with text", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\nx\r\n--estB--x\r\n"), "missing close delimiter",
	    0, { { NULL, NULL, 0 } } },
	{ "no boundary", "multipart/mixed; charset=us-ascii",
	    S("--estB\r\n\r\nx\r\n--estB--"), "no boundary parameter", 0,
	    { { NULL, NULL, 0 } } },
	{ "no parameters", "multipart/mixed",
	    S("--estB\r\n\r\nx\r\n--estB--"), "no boundary parameter", 0,
	    { { NULL, NULL, 0 } } },
	{ "null content-type", NULL,
	    S("--estB\r\n\r\nx\r\n--estB--"), "no content-type", 0,
	    { { NULL, NULL, 0 } } },
	{ "not mixed", "multipart/related; boundary=estB",
	    S("--estB\r\n\r\nx\r\n--estB--"), "not multipart/mixed", 0,
	    { { NULL, NULL, 0 } } },
	{ "mixed prefix only", "multipart/mixedx; boundary=estB",
	    S("--estB\r\n\r\nx\r\n--estB--"), "not multipart/mixed", 0,
	    { { NULL, NULL, 0 } } },
	{ "71-char boundary", "multipart/mixed; boundary=" B71,
	    S("--" B71 "\r\n\r\nx\r\n--" B71 "--"), "longer than 70", 0,
	    { { NULL, NULL, 0 } } },
	{ "71-char quoted boundary", "multipart/mixed; boundary=\"" B71 "\"",
	    S("--" B71 "\r\n\r\nx\r\n--" B71 "--"), "longer than 70", 0,
	    { { NULL, NULL, 0 } } },
	{ "empty boundary", "multipart/mixed; boundary=\"\"",
	    S("--\r\n\r\nx\r\n----"), "empty boundary", 0,
	    { { NULL, NULL, 0 } } },
	{ "unterminated quote", "multipart/mixed; boundary=\"estB",
	    S("--estB\r\n\r\nx\r\n--estB--"), "unterminated", 0,
	    { { NULL, NULL, 0 } } },
	{ "parameter without =", "multipart/mixed; boundary",
	    S("--estB\r\n\r\nx\r\n--estB--"), "malformed content-type", 0,
	    { { NULL, NULL, 0 } } },
	{ "repeated boundary", "multipart/mixed; boundary=a; boundary=estB",
	    S("--estB\r\n\r\nx\r\n--estB--"), "repeated boundary", 0,
	    { { NULL, NULL, 0 } } },
	{ "bad boundary char", "multipart/mixed; boundary=\"es@B\"",
	    S("--es@B\r\n\r\nx\r\n--es@B--"), "invalid character", 0,
	    { { NULL, NULL, 0 } } },
	{ "boundary ends in space", "multipart/mixed; boundary=\"estB \"",
	    S("--estB \r\n\r\nx\r\n--estB --"), "ends in a space", 0,
	    { { NULL, NULL, 0 } } },
	{ "part without blank line", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/b\r\nbody\r\n--estB--\r\n"),
	    "header/body separator", 0, { { NULL, NULL, 0 } } },
	{ "delimiter right after delimiter", "multipart/mixed; boundary=estB",
	    S("--estB\r\n--estB--\r\n"), "header/body separator", 0,
	    { { NULL, NULL, 0 } } },
	{ "five parts", "multipart/mixed; boundary=estB",
	    S("--estB\r\n\r\n1\r\n--estB\r\n\r\n2\r\n--estB\r\n\r\n3\r\n"
	    "--estB\r\n\r\n4\r\n--estB\r\n\r\n5\r\n--estB--"),
	    "too many body parts", 0, { { NULL, NULL, 0 } } },
	{ "empty body", "multipart/mixed; boundary=estB", S(""),
	    "no first delimiter", 0, { { NULL, NULL, 0 } } },
	{ "no delimiter", "multipart/mixed; boundary=estB",
	    S("just text --estB\r\n"), "no first delimiter", 0,
	    { { NULL, NULL, 0 } } },
	{ "close delimiter first", "multipart/mixed; boundary=estB",
	    S("--estB--\r\n--estB\r\n\r\nx\r\n--estB--"), "no body part", 0,
	    { { NULL, NULL, 0 } } },
	{ "header without colon", "multipart/mixed; boundary=estB",
	    S("--estB\r\nbogus\r\n\r\nx\r\n--estB--"), "malformed part header",
	    0, { { NULL, NULL, 0 } } },
	{ "empty header name", "multipart/mixed; boundary=estB",
	    S("--estB\r\n: a/b\r\n\r\nx\r\n--estB--"),
	    "malformed part header", 0, { { NULL, NULL, 0 } } },
	{ "first header folded", "multipart/mixed; boundary=estB",
	    S("--estB\r\n Content-Type: a/b\r\n\r\nx\r\n--estB--"),
	    "folded line without a header", 0, { { NULL, NULL, 0 } } },
	{ "content-type on the next line", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type:\r\n  a/b\r\n\r\nx\r\n--estB--"),
	    NULL, 1, { { "a/b", S("x") } } },
	{ "repeated content-type", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\nx\r\n"
	    "--estB--"), "repeated content-type", 0, { { NULL, NULL, 0 } } },
	{ "control char in content-type", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: a/\0b\r\n\r\nx\r\n--estB--"),
	    "control character", 0, { { NULL, NULL, 0 } } },
	{ "160-char content-type", "multipart/mixed; boundary=estB",
	    S("--estB\r\nContent-Type: " B70 B70 "01234567890123456789\r\n"
	    "\r\nx\r\n--estB--"), "content-type too long", 0,
	    { { NULL, NULL, 0 } } },
};

/* A malloc'd copy of len bytes, so that ASan catches reads past them. */
static uint8_t *
dup_exact(const void *p, size_t len)
{
	uint8_t	*q;

	q = malloc(len > 0 ? len : 1);
	assert_non_null(q);
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

/* Check one multipart case; the case name goes into every failure. */
static void
mp_check(const struct mp_case *c)
{
	struct mp_part	 parts[MP_MAX_PARTS];
	const char	*why = NULL;
	uint8_t		*body;
	size_t		 n = 99, i, off;
	int		 rc;

	memset(parts, 0xa5, sizeof(parts));
	body = dup_exact(c->body, c->len);
	rc = mp_parse(c->ctype, body, c->len, parts, &n, &why);
	if (c->why != NULL) {
		if (rc != -1 || why == NULL || strstr(why, c->why) == NULL)
			fail_msg("%s: rc %d why \"%s\", want -1 \"%s\"",
			    c->name, rc, why ? why : "(null)", c->why);
		if (n != 0)
			fail_msg("%s: nparts %zu after failure", c->name, n);
		free(body);
		return;
	}
	if (rc != 0)
		fail_msg("%s: failed: %s", c->name, why ? why : "(null)");
	if (n != c->nparts)
		fail_msg("%s: %zu parts, want %zu", c->name, n, c->nparts);
	for (i = 0; i < n; i++) {
		if (strcmp(parts[i].ctype, c->part[i].ctype) != 0)
			fail_msg("%s: part %zu ctype \"%s\", want \"%s\"",
			    c->name, i, parts[i].ctype, c->part[i].ctype);
		if (parts[i].len != c->part[i].len ||
		    memcmp(parts[i].body, c->part[i].body, c->part[i].len) != 0)
			fail_msg("%s: part %zu body differs (len %zu, want "
			    "%zu)", c->name, i, parts[i].len, c->part[i].len);
		/* The body must point into the caller's buffer. */
		off = (size_t)(parts[i].body - body);
		if (off > c->len || c->len - off < parts[i].len)
			fail_msg("%s: part %zu not in the body", c->name, i);
	}
	free(body);
}

/* Every multipart/mixed case in the table. */
static void
test_mp_table(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(mp_cases); i++)
		mp_check(&mp_cases[i]);
}

/*
 * Every strict prefix of a valid answer fails, whether the bytes after the
 * cut are there (so peeking would be seen) or not (so ASan sees it).
 */
static void
test_mp_prefixes(void **state)
{
	struct mp_part	 parts[MP_MAX_PARTS];
	const char	*why;
	uint8_t		*cut;
	size_t		 k, n, full = sizeof(skg_crlf) - 1;

	(void)state;
	assert_int_equal(mp_parse(SKG_CT, (const uint8_t *)skg_crlf, full,
	    parts, &n, &why), 0);
	assert_int_equal(n, 2);
	for (k = 0; k < full; k++) {
		why = NULL;
		if (mp_parse(SKG_CT, (const uint8_t *)skg_crlf, k, parts, &n,
		    &why) != -1 || why == NULL)
			fail_msg("prefix of %zu bytes parsed", k);
		cut = dup_exact(skg_crlf, k);
		if (mp_parse(SKG_CT, cut, k, parts, &n, &why) != -1)
			fail_msg("exact prefix of %zu bytes parsed", k);
		free(cut);
	}
}

/* A NULL body with length 0 fails cleanly; why may be NULL. */
static void
test_mp_null(void **state)
{
	struct mp_part	 parts[MP_MAX_PARTS];
	const char	*why = NULL;
	size_t		 n = 7;

	(void)state;
	assert_int_equal(mp_parse("multipart/mixed; boundary=b", NULL, 0,
	    parts, &n, &why), -1);
	assert_string_equal(why, "no first delimiter");
	assert_int_equal(n, 0);
	assert_int_equal(mp_parse("text/plain", NULL, 0, parts, &n, NULL),
	    -1);
}

/* Byte patterns standing in for a 138-byte key and a 467-byte PKCS#7. */
static uint8_t	 key[138], p7[467];

/* Fill the fake key and PKCS#7 so that a misplaced byte shows. */
static int
setup(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < sizeof(p7); i++)
		p7[i] = (uint8_t)(i * 13 + 5);
	return 0;
}

/* The RFC 9148 §4.8 layout: [284, key(138), 281, p7(467)], 617 bytes. */
static void
test_cbor_skg_layout(void **state)
{
	static const uint8_t	 head1[] = { 0x84, 0x19, 0x01, 0x1c, 0x58,
				    0x8a };
	static const uint8_t	 head2[] = { 0x19, 0x01, 0x19, 0x59, 0x01,
				    0xd3 };
	struct mp_item		 in[2] = {
		{ 284, key, sizeof(key) }, { 281, p7, sizeof(p7) },
	}, out[2];
	const char		*why = NULL;
	uint8_t			*buf;
	size_t			 len, n;

	(void)state;
	buf = mp_cbor_encode(in, 2, &len);
	assert_non_null(buf);
	assert_int_equal(len, 617);
	assert_memory_equal(buf, head1, sizeof(head1));
	assert_memory_equal(buf + 6, key, sizeof(key));
	assert_memory_equal(buf + 144, head2, sizeof(head2));
	assert_memory_equal(buf + 150, p7, sizeof(p7));

	assert_int_equal(mp_cbor_decode(buf, len, out, 2, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].cf, 284);
	assert_ptr_equal(out[0].data, buf + 6);
	assert_int_equal(out[0].len, sizeof(key));
	assert_int_equal(out[1].cf, 281);
	assert_ptr_equal(out[1].data, buf + 150);
	assert_int_equal(out[1].len, sizeof(p7));

	/* Room for one item is not enough. */
	assert_int_equal(mp_cbor_decode(buf, len, out, 1, &n, &why), -1);
	assert_int_equal(n, 0);
	free(buf);
}

/* Heads at every width: content-format and bstr length. */
static const struct {
	unsigned	 cf;
	size_t		 len;
	uint8_t		 cfhead[5];
	size_t		 cfhlen;
	uint8_t		 bhead[5];
	size_t		 bhlen;
	int		 decodes;	/* 0, or -1: cf above 65535 */
} head_cases[] = {
	{ 0, 0, { 0x00 }, 1, { 0x40 }, 1, 0 },
	{ 23, 23, { 0x17 }, 1, { 0x57 }, 1, 0 },
	{ 24, 24, { 0x18, 0x18 }, 2, { 0x58, 0x18 }, 2, 0 },
	{ 255, 255, { 0x18, 0xff }, 2, { 0x58, 0xff }, 2, 0 },
	{ 256, 256, { 0x19, 0x01, 0x00 }, 3, { 0x59, 0x01, 0x00 }, 3, 0 },
	{ 287, 65535, { 0x19, 0x01, 0x1f }, 3, { 0x59, 0xff, 0xff }, 3, 0 },
	{ 65535, 65536, { 0x19, 0xff, 0xff }, 3,
	    { 0x5a, 0x00, 0x01, 0x00, 0x00 }, 5, 0 },
	{ 65536, 70000, { 0x1a, 0x00, 0x01, 0x00, 0x00 }, 5,
	    { 0x5a, 0x00, 0x01, 0x11, 0x70 }, 5, -1 },
	{ UINT_MAX, 1, { 0x1a, 0xff, 0xff, 0xff, 0xff }, 5, { 0x41 }, 1, -1 },
};

/* Encode [cf, bstr] for each head width, check the bytes, decode back. */
static void
test_cbor_heads(void **state)
{
	static uint8_t	 data[70000];
	struct mp_item	 it, out;
	const char	*why;
	uint8_t		*buf;
	size_t		 i, len, n, off;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	for (i = 0; i < NELEM(head_cases); i++) {
		it.cf = head_cases[i].cf;
		it.data = data;
		it.len = head_cases[i].len;
		buf = mp_cbor_encode(&it, 1, &len);
		assert_non_null(buf);
		assert_int_equal(len, 1 + head_cases[i].cfhlen +
		    head_cases[i].bhlen + head_cases[i].len);
		assert_int_equal(buf[0], 0x82);
		off = 1;
		assert_memory_equal(buf + off, head_cases[i].cfhead,
		    head_cases[i].cfhlen);
		off += head_cases[i].cfhlen;
		assert_memory_equal(buf + off, head_cases[i].bhead,
		    head_cases[i].bhlen);
		off += head_cases[i].bhlen;
		if (it.len > 0)
			assert_memory_equal(buf + off, data, it.len);
		why = NULL;
		assert_int_equal(mp_cbor_decode(buf, len, &out, 1, &n, &why),
		    head_cases[i].decodes);
		if (head_cases[i].decodes == 0) {
			assert_int_equal(n, 1);
			assert_int_equal(out.cf, it.cf);
			assert_int_equal(out.len, it.len);
			assert_ptr_equal(out.data, buf + off);
		} else
			assert_string_equal(why, "content-format above 65535");
		free(buf);
	}
}

/* Array heads by item count, and the count that no longer fits. */
static void
test_cbor_array_heads(void **state)
{
	static const struct {
		size_t		 nitems;
		uint8_t		 head[3];
		size_t		 hlen;
	} cases[] = {
		{ 0, { 0x80 }, 1 },
		{ 11, { 0x96 }, 1 },
		{ 12, { 0x98, 0x18 }, 2 },
		{ 127, { 0x98, 0xfe }, 2 },
		{ 128, { 0x99, 0x01, 0x00 }, 3 },
		{ 32767, { 0x99, 0xff, 0xfe }, 3 },
	};
	struct mp_item	*in, *out;
	const char	*why;
	uint8_t		*buf, one = 0x5a;
	size_t		 i, j, len, n;

	(void)state;
	in = calloc(32768, sizeof(*in));
	out = calloc(32768, sizeof(*out));
	assert_non_null(in);
	assert_non_null(out);
	for (j = 0; j < 32768; j++) {
		in[j].cf = (unsigned)j;
		in[j].data = j % 2 ? &one : NULL;
		in[j].len = j % 2;
	}
	for (i = 0; i < NELEM(cases); i++) {
		buf = mp_cbor_encode(in, cases[i].nitems, &len);
		assert_non_null(buf);
		assert_memory_equal(buf, cases[i].head, cases[i].hlen);
		assert_int_equal(mp_cbor_decode(buf, len, out,
		    cases[i].nitems, &n, &why), 0);
		assert_int_equal(n, cases[i].nitems);
		for (j = 0; j < n; j++) {
			assert_int_equal(out[j].cf, in[j].cf);
			assert_int_equal(out[j].len, in[j].len);
			if (in[j].data == NULL)
				assert_null(out[j].data);
			else
				assert_int_equal(*out[j].data, one);
		}
		free(buf);
	}
	errno = 0;
	assert_null(mp_cbor_encode(in, 32768, &len));
	assert_int_equal(errno, EOVERFLOW);
	free(in);
	free(out);
}

/* Encoder refusals: NULL data with a length, lengths past 32 bits. */
static void
test_cbor_encode_errors(void **state)
{
	uint8_t		 one = 1;
	struct mp_item	 it;
	size_t		 len;

	(void)state;
	it.cf = 284;
	it.data = NULL;
	it.len = 5;
	errno = 0;
	assert_null(mp_cbor_encode(&it, 1, &len));
	assert_int_equal(errno, EINVAL);

	/* Only the length is looked at: nothing of data is read. */
	it.data = &one;
	it.len = (size_t)UINT32_MAX + 1;
	errno = 0;
	assert_null(mp_cbor_encode(&it, 1, &len));
	assert_int_equal(errno, EOVERFLOW);

	errno = 0;
	assert_null(mp_cbor_encode(NULL, 1, &len));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(mp_cbor_encode(&it, 1, NULL));
	assert_int_equal(errno, EINVAL);
}

/* null goes out as 0xf6 and comes back as data NULL; an empty bstr not. */
static void
test_cbor_null(void **state)
{
	static const uint8_t	 want[] = { 0x84, 0x19, 0x01, 0x18, 0xf6,
				    0x19, 0x01, 0x1f, 0x40 };
	uint8_t			 empty;
	struct mp_item		 in[2] = {
		{ 280, NULL, 0 }, { 287, &empty, 0 },
	}, out[2];
	const char		*why;
	uint8_t			*buf;
	size_t			 len, n;

	(void)state;
	buf = mp_cbor_encode(in, 2, &len);
	assert_non_null(buf);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(mp_cbor_decode(buf, len, out, 2, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].cf, 280);
	assert_null(out[0].data);
	assert_int_equal(out[0].len, 0);
	assert_int_equal(out[1].cf, 287);
	assert_ptr_equal(out[1].data, buf + len);
	assert_int_equal(out[1].len, 0);
	free(buf);
}

/* One CBOR input for the decoder and what it must give. */
struct cbor_case {
	const char	*name;
	const char	*in;		/* bytes */
	size_t		 len;
	size_t		 max;
	const char	*why;		/* NULL: decodes; else in *why */
	size_t		 n;
	unsigned	 cf[2];
	size_t		 dlen[2];
	int		 null[2];
};

static const struct cbor_case	cbor_cases[] = {
	{ "empty array", S("\x80"), 2, NULL, 0, { 0 }, { 0 }, { 0 } },
	{ "null representation", S("\x82\x19\x01\x18\xf6"), 2, NULL, 1,
	    { 280 }, { 0 }, { 1 } },
	{ "cf 65535", S("\x82\x19\xff\xff\x41\xaa"), 1, NULL, 1,
	    { 65535 }, { 1 }, { 0 } },
	{ "two pairs", S("\x84\x00\x42\x01\x02\x17\xf6"), 2, NULL, 2,
	    { 0, 23 }, { 2, 0 }, { 0, 1 } },

	{ "empty input", S(""), 2, "cbor empty", 0, { 0 }, { 0 }, { 0 } },
	{ "odd count", S("\x83\x00\x40\x00"), 2, "odd length", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "indefinite array", S("\x9f\x00\x40\xff"), 2, "indefinite", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "indefinite bstr", S("\x82\x00\x5f\x41\x00\xff"), 2, "indefinite",
	    0, { 0 }, { 0 }, { 0 } },
	{ "not an array", S("\xa1\x00\x40"), 2, "not an array", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "tagged array", S("\xc1\x82\x00\x40"), 2, "not an array", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "too many items", S("\x84\x00\x40\x00\x40"), 1, "too many items",
	    0, { 0 }, { 0 }, { 0 } },
	{ "text string", S("\x82\x00\x61\x41"), 2,
	    "not a byte string or null", 0, { 0 }, { 0 }, { 0 } },
	{ "undefined", S("\x82\x00\xf7"), 2, "not a byte string or null", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "half float", S("\x82\x00\xf9\x00\x00"), 2,
	    "not a byte string or null", 0, { 0 }, { 0 }, { 0 } },
	{ "negative cf", S("\x82\x20\x40"), 2, "not an unsigned integer", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "tagged cf", S("\x82\xc1\x00\x40"), 2, "not an unsigned integer",
	    0, { 0 }, { 0 }, { 0 } },
	{ "null cf", S("\x82\xf6\x40"), 2, "not an unsigned integer", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "cf 65536", S("\x82\x1a\x00\x01\x00\x00\x40"), 2,
	    "above 65535", 0, { 0 }, { 0 }, { 0 } },
	{ "cf 64-bit", S("\x82\x1b\x00\x00\x00\x01\x00\x00\x00\x00\x40"), 2,
	    "above 65535", 0, { 0 }, { 0 }, { 0 } },
	{ "truncated bstr", S("\x82\x00\x43\x01\x02"), 2,
	    "longer than the cbor", 0, { 0 }, { 0 }, { 0 } },
	{ "bstr of 4 GB", S("\x82\x00\x5a\xff\xff\xff\xff\x00\x00"), 2,
	    "longer than the cbor", 0, { 0 }, { 0 }, { 0 } },
	{ "bstr of 2^64-1", S("\x82\x00\x5b\xff\xff\xff\xff\xff\xff\xff\xff"
	    "\x00"), 2, "longer than the cbor", 0, { 0 }, { 0 }, { 0 } },
	{ "truncated head", S("\x82\x19\x01"), 2, "head truncated", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "missing pair", S("\x84\x00\x40"), 2, "cbor truncated", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "missing representation", S("\x82\x00"), 2, "cbor truncated", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "trailing byte", S("\x82\x00\x40\x00"), 2, "bytes after", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "two arrays", S("\x80\x80"), 2, "bytes after", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "reserved ai", S("\x82\x1c\x40"), 2, "reserved", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "non-minimal uint", S("\x82\x18\x05\x40"), 2, "shortest form", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "non-minimal uint16", S("\x82\x19\x00\xff\x40"), 2,
	    "shortest form", 0, { 0 }, { 0 }, { 0 } },
	{ "non-minimal bstr", S("\x82\x00\x58\x01\xaa"), 2, "shortest form",
	    0, { 0 }, { 0 }, { 0 } },
	{ "non-minimal bstr32", S("\x82\x00\x5a\x00\x00\xff\xff"), 2,
	    "shortest form", 0, { 0 }, { 0 }, { 0 } },
	{ "non-minimal array", S("\x98\x02\x00\x40"), 2, "shortest form", 0,
	    { 0 }, { 0 }, { 0 } },
	{ "non-minimal array64",
	    S("\x9b\x00\x00\x00\x00\xff\xff\xff\xff\x00\x40"), 2,
	    "shortest form", 0, { 0 }, { 0 }, { 0 } },
	{ "huge array", S("\x9b\xff\xff\xff\xff\xff\xff\xff\xfe\x00\x40"), 2,
	    "too many items", 0, { 0 }, { 0 }, { 0 } },
};

/* Every decoder case in the table, from an exact-size copy. */
static void
test_cbor_decode_table(void **state)
{
	const struct cbor_case	*c;
	struct mp_item		 out[2];
	const char		*why;
	uint8_t			*buf;
	size_t			 i, j, n;
	int			 rc;

	(void)state;
	for (i = 0; i < NELEM(cbor_cases); i++) {
		c = &cbor_cases[i];
		buf = dup_exact(c->in, c->len);
		why = NULL;
		n = 99;
		rc = mp_cbor_decode(buf, c->len, out, c->max, &n, &why);
		if (c->why != NULL) {
			if (rc != -1 || why == NULL ||
			    strstr(why, c->why) == NULL)
				fail_msg("%s: rc %d why \"%s\", want \"%s\"",
				    c->name, rc, why ? why : "(null)",
				    c->why);
			if (n != 0)
				fail_msg("%s: %zu items after failure",
				    c->name, n);
			free(buf);
			continue;
		}
		if (rc != 0 || n != c->n)
			fail_msg("%s: rc %d n %zu why \"%s\"", c->name, rc, n,
			    why ? why : "(null)");
		for (j = 0; j < n; j++) {
			if (out[j].cf != c->cf[j] || out[j].len != c->dlen[j])
				fail_msg("%s: item %zu: cf %u len %zu",
				    c->name, j, out[j].cf, out[j].len);
			if ((out[j].data == NULL) != c->null[j])
				fail_msg("%s: item %zu: data %p", c->name, j,
				    (const void *)out[j].data);
		}
		free(buf);
	}
}

/* Every strict prefix of the skg encoding fails, read from exact copies. */
static void
test_cbor_prefixes(void **state)
{
	struct mp_item	 in[2] = {
		{ 284, key, sizeof(key) }, { 281, p7, sizeof(p7) },
	}, out[2];
	const char	*why;
	uint8_t		*buf, *cut;
	size_t		 len, k, n;

	(void)state;
	buf = mp_cbor_encode(in, 2, &len);
	assert_non_null(buf);
	for (k = 0; k < len; k++) {
		cut = dup_exact(buf, k);
		why = NULL;
		if (mp_cbor_decode(cut, k, out, 2, &n, &why) != -1 ||
		    why == NULL)
			fail_msg("prefix of %zu bytes decoded", k);
		free(cut);
	}
	free(buf);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mp_table),
		cmocka_unit_test(test_mp_prefixes),
		cmocka_unit_test(test_mp_null),
		cmocka_unit_test(test_cbor_skg_layout),
		cmocka_unit_test(test_cbor_heads),
		cmocka_unit_test(test_cbor_array_heads),
		cmocka_unit_test(test_cbor_encode_errors),
		cmocka_unit_test(test_cbor_null),
		cmocka_unit_test(test_cbor_decode_table),
		cmocka_unit_test(test_cbor_prefixes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
