/*
 * multipart/mixed (RFC 2046 5.1) as EST serverkeygen answers use it
 * (RFC 7030 4.4.2, RFC 8951), and the CBOR multipart-core (RFC 8710)
 * the device gets instead. Pure: no I/O, no globals.
 */
#ifndef ESTCOAPD_MULTIPART_H
#define ESTCOAPD_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#define MP_MAX_PARTS	4

/* One body part, pointing into the caller's buffer. */
struct mp_part {
	char		 ctype[160];	/* Content-Type value, "" if none */
	const uint8_t	*body;		/* part body, line break before the */
	size_t		 len;		/* next delimiter removed */
};

/*
 * Split body by the boundary parameter of ctype (quoted or not, 1..70
 * characters). Delimiters must start a line; CRLF or LF line ends; the
 * preamble and epilogue are ignored; a missing close delimiter, a part
 * without its header/body separator, more than MP_MAX_PARTS parts or no
 * boundary fail. Header names are matched case-insensitively and header
 * lines other than Content-Type are ignored. 0 or -1 (*why set).
 */
int	mp_parse(const char *ctype, const uint8_t *body, size_t len,
	    struct mp_part *parts, size_t *nparts, const char **why);

/* A CBOR multipart-core item: Content-Format and representation. */
struct mp_item {
	unsigned	 cf;
	const uint8_t	*data;
	size_t		 len;
};

/*
 * Encode [cf, bstr, cf, bstr, ...] (RFC 8710 2) into a malloc'd buffer.
 * NULL on ENOMEM or a length that does not fit.
 */
uint8_t	*mp_cbor_encode(const struct mp_item *items, size_t nitems,
	    size_t *outlen);

/*
 * Decode a multipart-core array into items pointing into buf: the array
 * must be definite, of even length <= 2 * max, each pair an unsigned
 * integer < 65536 and a byte string, with nothing after the array.
 * (RFC 8710 also allows null for a representation: decoded as len 0 and
 * data NULL.) 0 or -1 (*why set).
 */
int	mp_cbor_decode(const uint8_t *buf, size_t len, struct mp_item *items,
	    size_t max, size_t *nitems, const char **why);

#endif
