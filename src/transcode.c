/*
 * Strict payload conversion between the CoAP side (raw DER) and the HTTP
 * side (base64), and the validators for what crosses (RFC 9148 §4.3,
 * RFC 7030 §4, RFC 8951 §3.1).
 * Pure: no I/O, no globals. Every failure drains the OpenSSL error queue
 * so a stale error never shows up in a later, unrelated call.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "csr.h"
#include "p7walk.h"
#include "pubkey.h"
#include "transcode.h"

/* Nesting allowed inside a CSR attribute value before we give up. */
#define TC_DER_MAX_DEPTH	32

/* DER identifier octets the CsrAttrs walker looks for. */
#define TC_DER_OID		0x06
#define TC_DER_SEQUENCE		0x30
#define TC_DER_SET		0x31
#define TC_DER_CONSTRUCTED	0x20

/*
 * Each byte's class in base64 text: its 6-bit value for the alphabet,
 * S whitespace (allowed inside by RFC 8951 3.1), P the padding '=', X
 * anything else. One table lookup per character: an upstream's answer
 * is a few KB of it, decoded on every forwarded request.
 */
#define TC_B64_OTHER	(-1)
#define TC_B64_SPACE	(-2)
#define TC_B64_PAD	(-3)
#define X	TC_B64_OTHER
#define S	TC_B64_SPACE
#define P	TC_B64_PAD
static const signed char tc_b64_class[256] = {
	X, X, X, X, X, X, X, X, X, S, S, X, X, S, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	S, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, P, X, X,
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X
#undef S
#undef P

/* Whitespace allowed inside base64 by RFC 8951 3.1. */
static int
tc_b64_space(unsigned char c)
{
	return tc_b64_class[c] == TC_B64_SPACE;
}

/*
 * The length of in without what servers leave after the base64 text:
 * whitespace and NUL bytes (libest's example server ends its csrattrs
 * with a NUL). A NUL before the end of the text stays and is refused.
 */
static size_t
tc_b64_trim(const unsigned char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == '\0' || tc_b64_space(s[len - 1])))
		len--;
	return len;
}

/*
 * Check the characters of base64 text and count them: *n alphabet
 * characters and *pad '=' after them (whitespace anywhere is skipped).
 * The length must be one base64 can have, padded (RFC 4648 4) or not
 * (RFC 4648 3.2 lets a specification drop the padding).
 */
static int
tc_b64_scan(const unsigned char *s, size_t len, size_t *n, size_t *pad,
    const char **why)
{
	size_t	 i;

	*n = *pad = 0;
	for (i = 0; i < len; i++) {
		int c = tc_b64_class[s[i]];

		if (c == TC_B64_SPACE)
			continue;
		if (c == TC_B64_PAD)
			(*pad)++;
		else if (c == TC_B64_OTHER) {
			*why = "invalid character in base64";
			return -1;
		} else if (*pad > 0) {
			*why = "base64 data after padding";
			return -1;
		} else
			(*n)++;
	}
	if (*n % 4 == 1) {
		*why = "base64 length is not a possible one";
		return -1;
	}
	if (*pad > 0 && (*pad > 2 || (*n + *pad) % 4 != 0)) {
		*why = "wrong amount of base64 padding";
		return -1;
	}
	return 0;
}

/*
 * Decode base64 into a new malloc'd buffer of exactly the decoded length.
 * The first pass validates and sizes, so nothing is allocated for bad
 * input or input that decodes to more than max_out. Line breaks (LF or
 * CRLF, RFC 2045 6.8 or none, RFC 8951 3.1), missing padding and trailing
 * NUL bytes are accepted. Padding bits must be zero (RFC 4648 3.5): a CA
 * that gets that wrong is not to be trusted with the rest. Empty input
 * gives a 1-byte allocation and *outlen 0.
 */
int
tc_b64_decode(const char *in, size_t inlen, size_t max_out, uint8_t **out,
    size_t *outlen, const char **why)
{
	const unsigned char	*s = (const unsigned char *)in;
	uint8_t			*buf;
	size_t			 i, n, pad, total, o = 0;
	uint32_t		 acc = 0;
	int			 k = 0;

	*out = NULL;
	*outlen = 0;
	inlen = tc_b64_trim(s, inlen);
	if (tc_b64_scan(s, inlen, &n, &pad, why) == -1)
		return -1;
	total = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (total > max_out) {
		*why = "decoded body too large";
		return -1;
	}
	if ((buf = malloc(total > 0 ? total : 1)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	/* four characters make three bytes */
	for (i = 0; i < inlen; i++) {
		int c = tc_b64_class[s[i]];

		if (c < 0)		/* whitespace or padding: scan checked */
			continue;
		acc = acc << 6 | (uint32_t)c;
		if (++k == 4) {
			buf[o++] = (uint8_t)(acc >> 16);
			buf[o++] = (uint8_t)(acc >> 8);
			buf[o++] = (uint8_t)acc;
			acc = 0;
			k = 0;
		}
	}
	/* a last 2 or 3 (the scan refused 1): 12 or 18 bits, 1 or 2 bytes */
	if (k == 2) {
		buf[o++] = (uint8_t)(acc >> 4);
		acc &= 0xf;
	} else if (k == 3) {
		buf[o++] = (uint8_t)(acc >> 10);
		buf[o++] = (uint8_t)(acc >> 2);
		acc &= 0x3;
	}
	if (acc != 0) {
		OPENSSL_clear_free(buf, total > 0 ? total : 1);
		*why = "non-zero base64 padding bits";
		return -1;
	}
	*out = buf;
	*outlen = total;
	return 0;
}

/* Encode as one line of base64; the caller frees the result. */
char *
tc_b64_encode(const uint8_t *in, size_t len, size_t *outlen)
{
	unsigned char	*out;
	size_t		 sz;
	int		 n;

	/* EVP_EncodeBlock counts in int: 4 * ceil(len / 3) must fit. */
	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	sz = (len + 2) / 3 * 4 + 1;
	if ((out = malloc(sz)) == NULL)
		return NULL;
	n = EVP_EncodeBlock(out, in, (int)len);
	if (n < 0 || (size_t)n >= sz) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	if (outlen != NULL)
		*outlen = (size_t)n;
	return (char *)out;
}

/*
 * Lay base64 text out in lines of at most line characters, each ending in
 * LF, the last one too (RFC 2045 6.8 allows at most 76; RFC 7030's
 * examples use 64). line 0: one line, no line break (RFC 4648, RFC 8951).
 * Whitespace already in b64 is dropped first.
 */
char *
tc_b64_wrap(const char *b64, size_t len, unsigned line, size_t *outlen)
{
	size_t	 i, n = 0, col = 0, o = 0, sz;
	char	*out;

	for (i = 0; i < len; i++)
		n += !tc_b64_space((unsigned char)b64[i]);
	if (line > 0 && n > 0)
		sz = n + (n + line - 1) / line + 1;
	else
		sz = n + 1;
	if (sz <= n || (out = malloc(sz)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (tc_b64_space((unsigned char)b64[i]))
			continue;
		out[o++] = b64[i];
		if (line > 0 && ++col == line) {
			out[o++] = '\n';
			col = 0;
		}
	}
	if (line > 0 && col > 0)
		out[o++] = '\n';
	out[o] = '\0';
	if (outlen != NULL)
		*outlen = o;
	return out;
}

/*
 * The checks of a decoded PKCS#10 request: optionally its self-signature
 * verifies, and optionally a reference to its key is handed back.
 */
int
tc_csr_check(const struct est_csr *csr, int verify_sig, EVP_PKEY **pubkey,
    const char **why)
{
	EVP_PKEY	*pk = csr_key(csr);

	if (pubkey != NULL)
		*pubkey = NULL;
	if ((verify_sig || pubkey != NULL) && pk == NULL) {
		*why = "csr public key unusable";
		goto fail;
	}
	if (verify_sig && X509_REQ_verify(csr_req(csr), pk) != 1) {
		*why = "csr signature does not verify";
		goto fail;
	}
	if (pubkey != NULL) {
		if (EVP_PKEY_up_ref(pk) != 1) {
			*why = "out of memory";
			goto fail;
		}
		*pubkey = pk;
	}
	return 0;

fail:
	ERR_clear_error();
	return -1;
}

/*
 * Parse a certs-only PKCS#7 SignedData that fills der exactly and holds
 * at least one certificate. On success *certs points into the returned
 * object, which the caller frees with PKCS7_free.
 */
static PKCS7 *
tc_pkcs7_parse(const uint8_t *der, size_t len, STACK_OF(X509) **certs,
    const char **why)
{
	const unsigned char	*p = der;
	PKCS7			*p7 = NULL;

	if (len == 0) {
		*why = "empty pkcs#7";
		goto fail;
	}
	if (len > LONG_MAX) {
		*why = "pkcs#7 too large";
		goto fail;
	}
	/* the certificates' keys undecoded: tc_pkcs7_pick_x509 */
	if ((p7 = pubkey_d2i_pkcs7(&p, (long)len)) == NULL) {
		*why = "not a der pkcs#7";
		goto fail;
	}
	if (p != der + len) {
		*why = "trailing bytes after pkcs#7";
		goto fail;
	}
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
		*why = "pkcs#7 is not signed-data";
		goto fail;
	}
	*certs = p7->d.sign->cert;
	if (*certs == NULL || sk_X509_num(*certs) < 1) {
		*why = "pkcs#7 holds no certificate";
		goto fail;
	}
	return p7;

fail:
	PKCS7_free(p7);
	ERR_clear_error();
	return NULL;
}

/*
 * Check a certs-only PKCS#7 and count its certificates: its DER walked
 * (p7walk.h), BER decoded in full.
 */
int
tc_pkcs7_certs_check(const uint8_t *der, size_t len, int *ncerts,
    const char **why)
{
	STACK_OF(X509)	*certs;
	PKCS7		*p7;
	int		 rc;

	if ((rc = p7walk_certs(der, len, ncerts, why)) != 1)
		return rc;
	if ((p7 = tc_pkcs7_parse(der, len, &certs, why)) == NULL)
		return -1;
	if (ncerts != NULL)
		*ncerts = sk_X509_num(certs);
	PKCS7_free(p7);
	return 0;
}

/* See transcode.h. */
X509 *
tc_pkcs7_pick_x509(const uint8_t *der, size_t len, const EVP_PKEY *match,
    const char **why)
{
	STACK_OF(X509)	*certs;
	PKCS7		*p7;
	X509		*x = NULL, *c;
	EVP_PKEY	*pk;
	int		 i;

	if ((p7 = tc_pkcs7_parse(der, len, &certs, why)) == NULL)
		return NULL;
	if (match != NULL) {
		for (i = 0; i < sk_X509_num(certs) && x == NULL; i++) {
			c = sk_X509_value(certs, i);
			pk = pubkey_get(X509_get_X509_PUBKEY(c));
			if (pk != NULL && EVP_PKEY_eq(pk, match) == 1)
				x = c;
			EVP_PKEY_free(pk);
		}
		if (x == NULL)
			*why = "no certificate matches the csr key";
	} else if (sk_X509_num(certs) != 1)
		*why = "pkcs#7 holds more than one certificate";
	else
		x = sk_X509_value(certs, 0);
	if (x != NULL && X509_up_ref(x) != 1) {
		*why = "out of memory";
		x = NULL;
	}
	PKCS7_free(p7);
	ERR_clear_error();
	return x;
}

/*
 * Copy one certificate out of a certs-only PKCS#7 as DER: the first whose
 * key equals match, or without match the only one (RFC 9148 §4.3, §4.4;
 * doc/conformance.md cases 13, 14, 22).
 * The caller frees *cert.
 */
int
tc_pkcs7_pick_cert(const uint8_t *der, size_t len, const EVP_PKEY *match,
    uint8_t **cert, size_t *certlen, const char **why)
{
	X509		*x;
	unsigned char	*buf = NULL, *q;
	int		 n;

	*cert = NULL;
	*certlen = 0;
	if ((x = tc_pkcs7_pick_x509(der, len, match, why)) == NULL)
		return -1;
	if ((n = i2d_X509(x, NULL)) <= 0) {
		*why = "certificate does not encode";
		goto fail;
	}
	if ((buf = malloc((size_t)n)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	q = buf;
	if (i2d_X509(x, &q) != n) {
		*why = "certificate does not encode";
		goto fail;
	}
	X509_free(x);
	*cert = buf;
	*certlen = (size_t)n;
	return 0;

fail:
	free(buf);
	X509_free(x);
	ERR_clear_error();
	return -1;
}

/*
 * Read one DER TLV from *pp, which may not pass end: the first identifier
 * octet in *id, the contents in *val and *vlen. Only the definite, minimal
 * length forms are DER; high tag numbers must be minimal too.
 */
static int
tc_der_tlv(const uint8_t **pp, const uint8_t *end, unsigned *id,
    const uint8_t **val, size_t *vlen)
{
	const uint8_t	*p = *pp;
	size_t		 l, n, i;
	uint32_t	 tagno = 0;

	if (p >= end)
		return -1;
	*id = *p++;
	if ((*id & 0x1f) == 0x1f) {
		/* High tag number: base 128, no leading 0x80, >= 31. */
		if (p >= end || *p == 0x80)
			return -1;
		for (i = 0;; i++) {
			if (p >= end || i >= 4)
				return -1;
			tagno = tagno << 7 | (*p & 0x7f);
			if ((*p++ & 0x80) == 0)
				break;
		}
		if (tagno < 31)
			return -1;
	}
	if (p >= end)
		return -1;
	l = *p++;
	if (l & 0x80) {
		n = l & 0x7f;
		/* 0x80 is BER's indefinite length; 0xff is reserved. */
		if (n == 0 || n > sizeof(size_t) || n == 0x7f)
			return -1;
		if ((size_t)(end - p) < n || *p == 0)
			return -1;
		for (l = 0, i = 0; i < n; i++)
			l = l << 8 | *p++;
		if (l < 0x80)
			return -1;
	}
	if (l > (size_t)(end - p))
		return -1;
	*val = p;
	*vlen = l;
	*pp = p + l;
	return 0;
}

/* Are these OBJECT IDENTIFIER contents well formed (X.690 8.19)? */
static int
tc_der_oid_ok(const uint8_t *v, size_t len)
{
	size_t	 i;
	int	 start = 1;

	if (len == 0 || (v[len - 1] & 0x80))
		return 0;
	for (i = 0; i < len; i++) {
		if (start && v[i] == 0x80)
			return 0;	/* subidentifier not minimal */
		start = (v[i] & 0x80) == 0;
	}
	return 1;
}

/* Is one element well formed, including everything nested in it? */
static int
tc_der_value_ok(unsigned id, const uint8_t *v, size_t len, int depth)
{
	const uint8_t	*p = v, *end = v + len, *cv;
	size_t		 clen;
	unsigned	 cid;

	if (depth > TC_DER_MAX_DEPTH)
		return 0;
	if (id == TC_DER_OID)
		return tc_der_oid_ok(v, len);
	if ((id & TC_DER_CONSTRUCTED) == 0)
		return 1;
	while (p < end) {
		if (tc_der_tlv(&p, end, &cid, &cv, &clen) == -1 ||
		    !tc_der_value_ok(cid, cv, clen, depth + 1))
			return 0;
	}
	return 1;
}

/*
 * Is this one AttrOrOID (RFC 7030 4.5.2)? Either an OBJECT IDENTIFIER or
 * an Attribute: SEQUENCE { OBJECT IDENTIFIER, SET SIZE (1..MAX) OF ANY }.
 */
static int
tc_csrattr_ok(unsigned id, const uint8_t *v, size_t len)
{
	const uint8_t	*p = v, *end = v + len, *ev, *sp, *send;
	size_t		 elen;
	unsigned	 eid;

	if (id == TC_DER_OID)
		return tc_der_oid_ok(v, len);
	if (id != TC_DER_SEQUENCE)
		return 0;
	if (tc_der_tlv(&p, end, &eid, &ev, &elen) == -1 ||
	    eid != TC_DER_OID || !tc_der_oid_ok(ev, elen))
		return 0;
	if (tc_der_tlv(&p, end, &eid, &ev, &elen) == -1 ||
	    eid != TC_DER_SET || elen == 0)
		return 0;
	if (p != end)
		return 0;		/* more than type and values */
	sp = ev;
	send = ev + elen;
	while (sp < send) {
		if (tc_der_tlv(&sp, send, &eid, &ev, &elen) == -1 ||
		    !tc_der_value_ok(eid, ev, elen, 1))
			return 0;
	}
	return 1;
}

/* Check that der is exactly one CsrAttrs SEQUENCE; 30 00 is fine. */
int
tc_csrattrs_check(const uint8_t *der, size_t len, const char **why)
{
	const uint8_t	*p = der, *end = der + len, *v, *ap, *aend, *ev;
	size_t		 vlen, elen;
	unsigned	 id, eid;

	if (len == 0) {
		*why = "empty csrattrs";
		return -1;
	}
	if (tc_der_tlv(&p, end, &id, &v, &vlen) == -1 ||
	    id != TC_DER_SEQUENCE) {
		*why = "csrattrs is not a der sequence";
		return -1;
	}
	if (p != end) {
		*why = "trailing bytes after csrattrs";
		return -1;
	}
	ap = v;
	aend = v + vlen;
	while (ap < aend) {
		if (tc_der_tlv(&ap, aend, &eid, &ev, &elen) == -1 ||
		    !tc_csrattr_ok(eid, ev, elen)) {
			*why = "malformed csrattrs element";
			return -1;
		}
	}
	return 0;
}

/*
 * Turn an upstream text body into a CoAP diagnostic: leading blank lines
 * and spaces skipped, the first line only, TAB as a space, other bytes
 * outside printable ASCII dropped, trailing spaces trimmed.
 */
size_t
tc_diag_sanitise(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	size_t	 i = 0, n = 0;
	uint8_t	 c;

	if (outsz == 0)
		return 0;
	while (i < len && (tc_b64_space(in[i])))
		i++;
	for (; i < len && n < outsz - 1; i++) {
		c = in[i];
		if (c == '\r' || c == '\n')
			break;
		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c > 0x7e)
			continue;
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}

/*
 * Does an HTTP Content-Type name the media type want? Case-insensitive,
 * optional whitespace around the type, parameters after ';' ignored.
 */
int
tc_ctype_is(const char *ctype, const char *want)
{
	const char	*p;
	size_t		 n;

	if (ctype == NULL || want == NULL || (n = strlen(want)) == 0)
		return 0;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	if (strncasecmp(ctype, want, n) != 0)
		return 0;
	for (p = ctype + n; *p == ' ' || *p == '\t'; p++)
		;
	return *p == '\0' || *p == ';';
}
