/*
 * Base64 for the test upstream: line layouts of answers, and the request
 * decoders of the server families the profiles reproduce (est_b64.h).
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "est_b64.h"

/* See est_b64.h. */
int
b64_append(struct evbuffer *out, const unsigned char *der, size_t len,
    const struct b64_layout *lay)
{
	unsigned char *txt;
	size_t i, tlen;
	int rc = 0;

	if (len > INT_MAX / 2)
		return -1;
	if ((txt = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return -1;
	tlen = (size_t)EVP_EncodeBlock(txt, der, (int)len);
	if (lay->width == 0) {
		rc |= evbuffer_add(out, txt, tlen);
		if (lay->final_eol)
			rc |= evbuffer_add(out, lay->eol, strlen(lay->eol));
		free(txt);
		return rc == 0 ? 0 : -1;
	}
	for (i = 0; i < tlen && rc == 0; i++) {
		rc |= evbuffer_add(out, &txt[i], 1);
		if (lay->spaces && i % 16 == 15 && i + 1 < tlen)
			rc |= evbuffer_add(out, " ", 1);
		if (lay->spaces && i % 40 == 39 && i + 1 < tlen)
			rc |= evbuffer_add(out, "\t", 1);
		if ((i + 1) % lay->width == 0 && i + 1 < tlen)
			rc |= evbuffer_add(out, lay->eol, strlen(lay->eol));
	}
	if (lay->final_eol)
		rc |= evbuffer_add(out, lay->eol, strlen(lay->eol));
	free(txt);
	return rc == 0 ? 0 : -1;
}

/* The value of one base64 alphabet character, -1 for any other byte. */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decode n alphabet characters without padding: 4 give 3 bytes, a tail of
 * 2 or 3 gives 1 or 2; a tail of 1 is dropped.  The caller frees *der.
 */
static int
b64_quads(const unsigned char *txt, size_t n, unsigned char **der,
    size_t *derlen)
{
	unsigned long acc = 0;
	size_t i, o = 0, use = n % 4 == 1 ? n - 1 : n;
	int bits = 0;

	if ((*der = malloc(n / 4 * 3 + 3)) == NULL)
		return -1;
	for (i = 0; i < use; i++) {
		acc = (acc << 6) | (unsigned long)b64_val(txt[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			(*der)[o++] = (unsigned char)(acc >> bits);
			acc &= (1ul << bits) - 1;
		}
	}
	*derlen = o;
	return 0;
}

/*
 * Keep the alphabet characters of in, in order, in a new buffer (*txt,
 * *n) and count the '=' after them (*pad).  skip(c) says which other
 * bytes to ignore; anything else, or a character after '=', fails unless
 * lenient is set (then it is ignored, and decoding stops at '=').
 */
static int
b64_filter(const unsigned char *in, size_t inlen, int (*skip)(unsigned char),
    int lenient, unsigned char **txt, size_t *n, size_t *pad)
{
	size_t i;

	*n = *pad = 0;
	if ((*txt = malloc(inlen + 1)) == NULL)
		return -1;
	for (i = 0; i < inlen; i++) {
		unsigned char c = in[i];

		if (c == '=') {
			if (lenient)
				break;
			(*pad)++;
		} else if (b64_val(c) >= 0 && *pad == 0) {
			(*txt)[(*n)++] = c;
		} else if (!lenient && !skip(c)) {
			free(*txt);
			return -1;
		}
	}
	return 0;
}

static int
skip_ws(unsigned char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

static int
skip_crlf(unsigned char c)
{
	return c == '\r' || c == '\n';
}

/* Strict decoding: padding must complete the last quantum. */
static int
b64_decode_strict(const unsigned char *in, size_t inlen,
    int (*skip)(unsigned char), int need_data, unsigned char **der,
    size_t *derlen)
{
	unsigned char *txt;
	size_t n, pad;
	int rc = -1;

	if (inlen > INT_MAX || b64_filter(in, inlen, skip, 0, &txt, &n,
	    &pad) == -1)
		return -1;
	if ((n == 0 && need_data) || pad > 2 || (n + pad) % 4 != 0 ||
	    n % 4 == 1 || (pad > 0 && pad != 4 - n % 4))
		goto out;
	rc = b64_quads(txt, n, der, derlen);
out:
	free(txt);
	return rc;
}

/* See est_b64.h. */
int
b64_decode_ws(const unsigned char *in, size_t inlen, unsigned char **der,
    size_t *derlen)
{
	return b64_decode_strict(in, inlen, skip_ws, 1, der, derlen);
}

/* See est_b64.h. */
int
b64_decode_go(const unsigned char *in, size_t inlen, unsigned char **der,
    size_t *derlen)
{
	return b64_decode_strict(in, inlen, skip_crlf, 0, der, derlen);
}

/* See est_b64.h. */
int
b64_decode_perl(const unsigned char *in, size_t inlen, unsigned char **der,
    size_t *derlen)
{
	unsigned char *txt;
	size_t n, pad;
	int rc;

	if (inlen > INT_MAX || b64_filter(in, inlen, NULL, 1, &txt, &n,
	    &pad) == -1)
		return -1;
	rc = b64_quads(txt, n, der, derlen);
	free(txt);
	return rc;
}
