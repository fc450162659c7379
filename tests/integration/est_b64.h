/*
 * Base64 as the test upstream writes and reads it: the line layouts real
 * EST servers answer with, and the request decoders they use.
 */
#ifndef EST_B64_H
#define EST_B64_H

#include <stddef.h>

#include <event2/buffer.h>

/* How the base64 text of a body is laid out. */
struct b64_layout {
	unsigned	 width;		/* characters per line; 0 = one line */
	const char	*eol;		/* line end, e.g. "\r\n" or "\n" */
	int		 final_eol;	/* the last line is ended too */
	int		 spaces;	/* SP after every 16th, TAB every 40th */
};

/* Append the base64 of der to out as lay says; -1 if out of memory. */
int	b64_append(struct evbuffer *out, const unsigned char *der, size_t len,
	    const struct b64_layout *lay);

/*
 * Decoders; each returns 0 and a malloc'd *der, or -1.
 *   b64_decode_ws:   CR, LF, SP, TAB ignored anywhere; padding required
 *                    (RFC 8951 3.1 tolerance).
 *   b64_decode_go:   Go's encoding/base64 StdEncoding: only CR and LF
 *                    ignored, padding required, nothing after it.
 *   b64_decode_perl: Perl's MIME::Base64 decode_base64: every character
 *                    outside the alphabet ignored, decoding stops at '=',
 *                    padding optional.
 */
int	b64_decode_ws(const unsigned char *in, size_t inlen,
	    unsigned char **der, size_t *derlen);
int	b64_decode_go(const unsigned char *in, size_t inlen,
	    unsigned char **der, size_t *derlen);
int	b64_decode_perl(const unsigned char *in, size_t inlen,
	    unsigned char **der, size_t *derlen);

#endif
