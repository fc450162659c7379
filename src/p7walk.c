/*
 * Certs-only PKCS#7 checked by walking its DER (see p7walk.h).
 */
#include <string.h>

#include "p7walk.h"

#define P7_SEQUENCE	0x30
#define P7_SET		0x31
#define P7_INTEGER	0x02
#define P7_BITSTRING	0x03
#define P7_OID		0x06
#define P7_CTX0		0xa0	/* [0], constructed */
#define P7_CTX1		0xa1	/* [1], constructed */

/* 1.2.840.113549.1.7.2, signedData (RFC 2315 14) */
static const uint8_t p7_signed_data[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
};

/* A DER element: its tag and where its contents are. */
struct p7_tlv {
	uint8_t		 tag;
	const uint8_t	*body;
	size_t		 len;
};

enum { P7_OK = 0, P7_BAD = -1, P7_BER = 1 };

/*
 * The tag differs only in its constructed bit: not DER, but a decoder
 * may take it (OpenSSL does for an implicitly tagged SET OF).
 */
#define P7_BER_TAG(got, want)	(((got) ^ (want)) == 0x20)

/*
 * Read the element at *p (before end) and move *p past it. P7_BER for an
 * indefinite or non-minimal length, P7_BAD when it does not fit.
 */
static int
p7_next(const uint8_t **p, const uint8_t *end, struct p7_tlv *t)
{
	const uint8_t	*q = *p;
	size_t		 len, n;

	if (end - q < 2)
		return P7_BAD;
	t->tag = *q++;
	if ((t->tag & 0x1f) == 0x1f)
		return P7_BAD;		/* no high tag numbers here */
	len = *q++;
	if (len == 0x80)
		return P7_BER;
	if (len > 0x80) {
		n = len & 0x7f;
		if (n > 4 || (size_t)(end - q) < n)
			return P7_BAD;
		if (q[0] == 0 || (n == 1 && q[0] < 0x80))
			return P7_BER;	/* longer than needed */
		for (len = 0; n > 0; n--)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return P7_BAD;
	t->body = q;
	t->len = len;
	*p = q + len;
	return P7_OK;
}

/* The next element, which must have the given tag. */
static int
p7_expect(const uint8_t **p, const uint8_t *end, uint8_t tag,
    struct p7_tlv *t)
{
	int	rc = p7_next(p, end, t);

	if (rc == P7_OK && t->tag != tag)
		return P7_BER_TAG(t->tag, tag) ? P7_BER : P7_BAD;
	return rc;
}

/* One Certificate: SEQUENCE { SEQUENCE, SEQUENCE, BIT STRING }, exactly. */
static int
p7_cert(const struct p7_tlv *c)
{
	const uint8_t	*p = c->body, *end = c->body + c->len;
	struct p7_tlv	 t;
	int		 rc;

	if (c->tag != P7_SEQUENCE)
		return P7_BER_TAG(c->tag, P7_SEQUENCE) ? P7_BER : P7_BAD;
	if ((rc = p7_expect(&p, end, P7_SEQUENCE, &t)) != P7_OK ||
	    (rc = p7_expect(&p, end, P7_SEQUENCE, &t)) != P7_OK ||
	    (rc = p7_expect(&p, end, P7_BITSTRING, &t)) != P7_OK)
		return rc;
	return p == end ? P7_OK : P7_BAD;
}

/* The certificates field: count them, each well-formed. */
static int
p7_certs(const struct p7_tlv *set, int *ncerts)
{
	const uint8_t	*p = set->body, *end = set->body + set->len;
	struct p7_tlv	 c;
	int		 rc;

	while (p < end) {
		if ((rc = p7_next(&p, end, &c)) != P7_OK ||
		    (rc = p7_cert(&c)) != P7_OK)
			return rc;
		(*ncerts)++;
	}
	return P7_OK;
}

/*
 * SignedData ::= SEQUENCE { version, digestAlgorithms SET,
 * contentInfo SEQUENCE, [0] certificates OPTIONAL, [1] crls OPTIONAL,
 * signerInfos SET }
 */
static int
p7_signed(const struct p7_tlv *sd, int *ncerts)
{
	const uint8_t	*p = sd->body, *end = sd->body + sd->len;
	struct p7_tlv	 t;
	int		 rc;

	if ((rc = p7_expect(&p, end, P7_INTEGER, &t)) != P7_OK ||
	    (rc = p7_expect(&p, end, P7_SET, &t)) != P7_OK ||
	    (rc = p7_expect(&p, end, P7_SEQUENCE, &t)) != P7_OK ||
	    (rc = p7_next(&p, end, &t)) != P7_OK)
		return rc;
	if (P7_BER_TAG(t.tag, P7_CTX0) || P7_BER_TAG(t.tag, P7_CTX1) ||
	    P7_BER_TAG(t.tag, P7_SET))
		return P7_BER;
	if (t.tag == P7_CTX0) {
		if ((rc = p7_certs(&t, ncerts)) != P7_OK ||
		    (rc = p7_next(&p, end, &t)) != P7_OK)
			return rc;
	}
	if (t.tag == P7_CTX1 && (rc = p7_next(&p, end, &t)) != P7_OK)
		return rc;
	if (P7_BER_TAG(t.tag, P7_SET))
		return P7_BER;
	return t.tag == P7_SET && p == end ? P7_OK : P7_BAD;
}

/* See p7walk.h. */
int
p7walk_certs(const uint8_t *der, size_t len, int *ncerts, const char **why)
{
	const uint8_t	*p = der, *end = der + len, *q;
	struct p7_tlv	 ci, t, sd;
	int		 rc, n = 0;

	if (len == 0) {
		*why = "empty pkcs#7";
		return P7_BAD;
	}
	if ((rc = p7_expect(&p, end, P7_SEQUENCE, &ci)) != P7_OK)
		goto out;
	if (p != end) {
		*why = "trailing bytes after pkcs#7";
		return P7_BAD;
	}
	q = ci.body;
	end = ci.body + ci.len;
	if ((rc = p7_expect(&q, end, P7_OID, &t)) != P7_OK)
		goto out;
	if (t.len != sizeof(p7_signed_data) ||
	    memcmp(t.body, p7_signed_data, t.len) != 0 || q == end) {
		*why = "pkcs#7 is not signed-data";
		return P7_BAD;
	}
	if ((rc = p7_expect(&q, end, P7_CTX0, &t)) != P7_OK || q != end)
		goto out;
	q = t.body;
	end = t.body + t.len;
	if ((rc = p7_expect(&q, end, P7_SEQUENCE, &sd)) != P7_OK || q != end ||
	    (rc = p7_signed(&sd, &n)) != P7_OK)
		goto out;
	if (n < 1) {
		*why = "pkcs#7 holds no certificate";
		return P7_BAD;
	}
	if (ncerts != NULL)
		*ncerts = n;
	return P7_OK;
out:
	if (rc == P7_OK)
		rc = P7_BAD;	/* an element past its container's end */
	if (rc == P7_BAD)
		*why = "not a der pkcs#7";
	return rc;
}
