/*
 * Unit tests for transcode. Keys, the CSR, certificates and PKCS#7 bundles
 * are made here with the OpenSSL API, so no binary fixture is committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "csr.h"
#include "transcode.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Bytes owned by the fixture; freed with free(). */
struct blob {
	uint8_t	*p;
	size_t	 len;
};

/* Everything the tests need, made once by fx_setup. */
static struct {
	EVP_PKEY	*k1, *k2, *k3;	/* k3 is in no certificate */
	struct blob	 csr1;		/* PKCS#10 for k1, CN=device */
	struct blob	 csr2;		/* PKCS#10 for k2 */
	struct blob	 csr_pem;	/* csr1 as PEM text */
	struct blob	 cert1, cert2;	/* self-signed DER: k1, k2 */
	struct blob	 p7one;		/* certs-only: cert1 */
	struct blob	 p7two;		/* certs-only: cert1, cert2 */
	struct blob	 p7zero;	/* signed-data, no certificates */
	struct blob	 p7data;	/* PKCS#7 of type data */
} fx;

/* Copy an OpenSSL allocation into a blob and free the original. */
static int
blob_take(struct blob *b, unsigned char *p, int len)
{
	if (p == NULL || len <= 0)
		return -1;
	if ((b->p = malloc((size_t)len)) == NULL) {
		OPENSSL_free(p);
		return -1;
	}
	memcpy(b->p, p, (size_t)len);
	b->len = (size_t)len;
	OPENSSL_free(p);
	return 0;
}

/* A PKCS#10 request for k, self-signed, as DER and optionally PEM. */
static int
make_csr(EVP_PKEY *k, struct blob *der, struct blob *pem)
{
	X509_REQ	*req;
	X509_NAME	*name;
	BIO		*bio = NULL;
	unsigned char	*p = NULL;
	char		*mem;
	long		 n;
	int		 rc = -1;

	if ((req = X509_REQ_new()) == NULL)
		return -1;
	name = X509_REQ_get_subject_name(req);
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"device", -1, -1, 0) != 1 ||
	    X509_REQ_set_pubkey(req, k) != 1 ||
	    X509_REQ_sign(req, k, EVP_sha256()) <= 0)
		goto out;
	if (blob_take(der, p, i2d_X509_REQ(req, &p)) == -1)
		goto out;
	if (pem != NULL) {
		if ((bio = BIO_new(BIO_s_mem())) == NULL ||
		    PEM_write_bio_X509_REQ(bio, req) != 1 ||
		    (n = BIO_get_mem_data(bio, &mem)) <= 0 ||
		    (pem->p = malloc((size_t)n)) == NULL)
			goto out;
		memcpy(pem->p, mem, (size_t)n);
		pem->len = (size_t)n;
	}
	rc = 0;
out:
	BIO_free(bio);
	X509_REQ_free(req);
	return rc;
}

/* A self-signed certificate for k. */
static X509 *
make_cert(EVP_PKEY *k, const char *cn)
{
	X509		*x;
	X509_NAME	*name;

	if ((x = X509_new()) == NULL)
		return NULL;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL ||
	    X509_set_pubkey(x, k) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_sign(x, k, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A certs-only PKCS#7 (detached, unsigned) holding n certificates. */
static int
make_p7(X509 **certs, int n, struct blob *b)
{
	PKCS7		*p7;
	unsigned char	*p = NULL;
	int		 i, rc = -1;

	if ((p7 = PKCS7_new()) == NULL)
		return -1;
	if (PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
	    PKCS7_content_new(p7, NID_pkcs7_data) != 1)
		goto out;
	(void)PKCS7_set_detached(p7, 1);
	for (i = 0; i < n; i++)
		if (PKCS7_add_certificate(p7, certs[i]) != 1)
			goto out;
	rc = blob_take(b, p, i2d_PKCS7(p7, &p));
out:
	PKCS7_free(p7);
	return rc;
}

/* A PKCS#7 of type data: valid DER, wrong type. */
static int
make_p7_data(struct blob *b)
{
	PKCS7		*p7;
	unsigned char	*p = NULL;
	int		 rc = -1;

	if ((p7 = PKCS7_new()) == NULL)
		return -1;
	if (PKCS7_set_type(p7, NID_pkcs7_data) == 1 &&
	    ASN1_OCTET_STRING_set(p7->d.data, (const unsigned char *)"hi",
	    2) == 1)
		rc = blob_take(b, p, i2d_PKCS7(p7, &p));
	PKCS7_free(p7);
	return rc;
}

/* The DER of a certificate. */
static int
cert_der(X509 *x, struct blob *b)
{
	unsigned char	*p = NULL;

	return blob_take(b, p, i2d_X509(x, &p));
}

/* Make the keys, CSRs, certificates and bundles once for all tests. */
static int
fx_setup(void **state)
{
	X509	*c[2] = { NULL, NULL };
	int	 rc = -1;

	(void)state;
	if ((fx.k1 = EVP_EC_gen("P-256")) == NULL ||
	    (fx.k2 = EVP_EC_gen("P-256")) == NULL ||
	    (fx.k3 = EVP_EC_gen("P-256")) == NULL)
		return -1;
	if (make_csr(fx.k1, &fx.csr1, &fx.csr_pem) == -1 ||
	    make_csr(fx.k2, &fx.csr2, NULL) == -1)
		return -1;
	if ((c[0] = make_cert(fx.k1, "ca one")) == NULL ||
	    (c[1] = make_cert(fx.k2, "ca two")) == NULL)
		goto out;
	if (cert_der(c[0], &fx.cert1) == -1 ||
	    cert_der(c[1], &fx.cert2) == -1 ||
	    make_p7(c, 1, &fx.p7one) == -1 ||
	    make_p7(c, 2, &fx.p7two) == -1 ||
	    make_p7(c, 0, &fx.p7zero) == -1 ||
	    make_p7_data(&fx.p7data) == -1)
		goto out;
	rc = 0;
out:
	X509_free(c[0]);
	X509_free(c[1]);
	ERR_clear_error();
	return rc;
}

/* Free the fixture. */
static int
fx_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(fx.k1);
	EVP_PKEY_free(fx.k2);
	EVP_PKEY_free(fx.k3);
	free(fx.csr1.p);
	free(fx.csr2.p);
	free(fx.csr_pem.p);
	free(fx.cert1.p);
	free(fx.cert2.p);
	free(fx.p7one.p);
	free(fx.p7two.p);
	free(fx.p7zero.p);
	free(fx.p7data.p);
	return 0;
}

/*
 * A DER request checked as the request path does it: decoded once
 * (csr_parse), then tc_csr_check on the object.
 */
static int
csr_check_der(const uint8_t *der, size_t len, int verify_sig,
    EVP_PKEY **pubkey, const char **why)
{
	struct est_csr	*csr = csr_parse(der, len, why);
	int		 rc = -1;

	if (csr != NULL)
		rc = tc_csr_check(csr, verify_sig, pubkey, why);
	else if (pubkey != NULL)
		*pubkey = NULL;
	csr_free(csr);
	return rc;
}

/* Deterministic junk: the same bytes on every run. */
static void
fill_junk(uint8_t *p, size_t n, uint32_t seed)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* A failed call must leave the OpenSSL error queue empty. */
#define assert_queue_empty()	assert_int_equal(ERR_peek_error(), 0)

/* Decoding: whitespace, alphabet, padding, lengths and max_out. */
static void
test_b64_decode(void **state)
{
	static const struct {
		const char	*in;
		size_t		 inlen;		/* 0: strlen(in) */
		size_t		 max_out;
		int		 want;
		const char	*out;		/* want == 0 */
	} cases[] = {
		/* RFC 4648 10 test vectors */
		{ "", 0, 100, 0, "" },
		{ "Zg==", 0, 100, 0, "f" },
		{ "Zm8=", 0, 100, 0, "fo" },
		{ "Zm9v", 0, 100, 0, "foo" },
		{ "Zm9vYg==", 0, 100, 0, "foob" },
		{ "Zm9vYmE=", 0, 100, 0, "fooba" },
		{ "Zm9vYmFy", 0, 100, 0, "foobar" },
		/* RFC 8951 3.1 whitespace */
		{ "Zm9v\r\nYmFy\r\n", 0, 100, 0, "foobar" },
		{ " Zm9v\tYmFy ", 0, 100, 0, "foobar" },
		{ "Zm\n9v\nYm\nFy", 0, 100, 0, "foobar" },
		{ "Zg=\r\n=", 0, 100, 0, "f" },
		{ "\r\n \t", 0, 100, 0, "" },
		{ "+/+/", 0, 100, 0, "\xfb\xff\xbf" },
		/* what servers send: 64 or 76 columns, LF or CRLF */
		{ "Zm9v\nYmFy\n", 0, 100, 0, "foobar" },
		{ "Zm9vYmFy\r\nZm9v\r\n", 0, 100, 0, "foobarfoo" },
		/* no padding (RFC 4648 3.2) */
		{ "Zg", 0, 100, 0, "f" },
		{ "Zm8", 0, 100, 0, "fo" },
		{ "Zm9vYg", 0, 100, 0, "foob" },
		{ "Zm9vYmE\n", 0, 100, 0, "fooba" },
		{ "Zm9vYmE", 0, 5, 0, "fooba" },
		{ "Zm9vYmE", 0, 4, -1, NULL },
		/* trailing NUL bytes (libest's csrattrs), whitespace */
		{ "Zm9vYmFy\0", 9, 100, 0, "foobar" },
		{ "Zm9vYmE=\n\0", 10, 100, 0, "fooba" },
		{ "Zm9vYmFy\r\n\0\0 \0", 13, 100, 0, "foobar" },
		{ "\0", 1, 100, 0, "" },
		{ "Zm9vYmFy \t\r\n", 0, 100, 0, "foobar" },
		/* outside the alphabet */
		{ "%%%", 0, 100, -1, NULL },
		{ "Zm9v!mFy", 0, 100, -1, NULL },
		{ "Zm9v-_Fy", 0, 100, -1, NULL },	/* base64url */
		{ "Zm9vYmFy\v", 0, 100, -1, NULL },
		{ "Zm9vYmFy\f", 0, 100, -1, NULL },
		{ "Zm9v\0YmFy", 9, 100, -1, NULL },
		{ "Zm9vYmFy\0x", 10, 100, -1, NULL },
		{ "\0Zm9vYmFy", 9, 100, -1, NULL },
		{ "Zm9vYmFy\0\n=", 11, 100, -1, NULL },
		{ "Zm9v\xc3\xa9mFy", 0, 100, -1, NULL },
		/* padding */
		{ "Zg=", 0, 100, -1, NULL },
		{ "Z===", 0, 100, -1, NULL },
		{ "A===", 0, 100, -1, NULL },
		{ "AA==\r\n=", 0, 100, -1, NULL },
		{ "====", 0, 100, -1, NULL },
		{ "=Zm9", 0, 100, -1, NULL },
		{ "Zg=a", 0, 100, -1, NULL },
		{ "Zg==Zg==", 0, 100, -1, NULL },
		{ "Zm9vYg==\r\nYmFy", 0, 100, -1, NULL },
		{ "Zh==", 0, 100, -1, NULL },		/* pad bits set */
		{ "Zm9=", 0, 100, -1, NULL },		/* pad bits set */
		{ "Zh", 0, 100, -1, NULL },		/* pad bits set */
		{ "Zm9", 0, 100, -1, NULL },		/* pad bits set */
		{ "Zm8==", 0, 100, -1, NULL },
		{ "Zm9vY===", 0, 100, -1, NULL },
		/* a length base64 cannot have: 4n + 1 */
		{ "Z", 0, 100, -1, NULL },
		{ "Zm9vY", 0, 100, -1, NULL },
		{ "Zm9vY\n", 0, 100, -1, NULL },
		{ "Zm9vY\0", 6, 100, -1, NULL },
		{ "Zm9vYmF", 0, 100, -1, NULL },	/* pad bits set */
		{ "Zm9vYmFy=", 0, 100, -1, NULL },
		/* max_out bounds the exact decoded length */
		{ "Zm9vYmFy", 0, 6, 0, "foobar" },
		{ "Zm9vYmFy", 0, 5, -1, NULL },
		{ "Zm9vYmE=", 0, 5, 0, "fooba" },
		{ "Zm9vYmE=", 0, 4, -1, NULL },
		{ "Zg==", 0, 1, 0, "f" },
		{ "Zg==", 0, 0, -1, NULL },
		{ "", 0, 0, 0, "" },
	};
	uint8_t		*out;
	const char	*why;
	size_t		 i, inlen, outlen;
	int		 rc;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		inlen = cases[i].inlen ? cases[i].inlen : strlen(cases[i].in);
		why = NULL;
		outlen = 77;
		rc = tc_b64_decode(cases[i].in, inlen, cases[i].max_out, &out,
		    &outlen, &why);
		if (rc != cases[i].want)
			fail_msg("case %zu: rc %d, want %d", i, rc,
			    cases[i].want);
		if (rc == 0) {
			assert_non_null(out);
			assert_int_equal(outlen, strlen(cases[i].out));
			assert_memory_equal(out, cases[i].out, outlen);
			free(out);
		} else {
			assert_null(out);
			assert_int_equal(outlen, 0);
			assert_non_null(why);
		}
	}
}

/* Encoding 0..5 bytes gives the RFC 4648 vectors and decodes back. */
static void
test_b64_roundtrip(void **state)
{
	static const char *const want[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
	};
	uint8_t		 in[300], *out;
	const char	*why;
	char		*s;
	size_t		 i, n, slen, outlen;

	(void)state;
	for (n = 0; n < NELEM(want); n++) {
		assert_non_null(s = tc_b64_encode((const uint8_t *)"foobar",
		    n, &slen));
		assert_int_equal(slen, strlen(want[n]));
		assert_string_equal(s, want[n]);
		assert_int_equal(tc_b64_decode(s, slen, n, &out, &outlen,
		    &why), 0);
		assert_int_equal(outlen, n);
		if (n > 0)
			assert_memory_equal(out, "foobar", n);
		free(out);
		free(s);
	}

	/* Every byte value, every length up to 300; never a newline. */
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(255 - i);
	for (n = 0; n <= sizeof(in); n++) {
		assert_non_null(s = tc_b64_encode(in, n, &slen));
		assert_int_equal(slen, (n + 2) / 3 * 4);
		assert_int_equal(strlen(s), slen);
		assert_null(strchr(s, '\n'));
		assert_int_equal(tc_b64_decode(s, slen, sizeof(in), &out,
		    &outlen, &why), 0);
		assert_int_equal(outlen, n);
		if (n > 0)
			assert_memory_equal(out, in, n);
		free(out);
		free(s);
	}
}

/*
 * Wrapping for the upstream: lines of at most N characters, each ending in
 * LF; 0 gives one line without a break; it always decodes back.
 */
static void
test_b64_wrap(void **state)
{
	static const struct {
		const char	*in;
		unsigned	 line;
		const char	*want;
	} cases[] = {
		{ "Zm9vYmFy", 0, "Zm9vYmFy" },
		{ "Zm9vYmFy", 4, "Zm9v\nYmFy\n" },
		{ "Zm9vYmFy", 3, "Zm9\nvYm\nFy\n" },
		{ "Zm9vYmFy", 64, "Zm9vYmFy\n" },
		{ "Zm9v\r\nYmFy\r\n", 0, "Zm9vYmFy" },
		{ "Zm9v\r\nYmFy\r\n", 76, "Zm9vYmFy\n" },
		{ "", 64, "" },
		{ "", 0, "" },
	};
	uint8_t		 in[1000], *out;
	const char	*why;
	char		*b, *w, *nl;
	size_t		 i, n, blen, wlen, outlen;
	unsigned	 line;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		w = tc_b64_wrap(cases[i].in, strlen(cases[i].in),
		    cases[i].line, &wlen);
		assert_non_null(w);
		assert_string_equal(w, cases[i].want);
		assert_int_equal(wlen, strlen(w));
		free(w);
	}
	fill_junk(in, sizeof(in), 7);
	for (line = 0; line <= 76; line += 4) {
		for (n = 0; n < sizeof(in); n += 37) {
			assert_non_null(b = tc_b64_encode(in, n, &blen));
			assert_non_null(w = tc_b64_wrap(b, blen, line, &wlen));
			/* every line but the last is full; LF at the end */
			for (char *p = w; line > 0 && *p != '\0'; p = nl + 1) {
				assert_non_null(nl = strchr(p, '\n'));
				if (nl[1] != '\0')
					assert_int_equal(nl - p, line);
				else
					assert_in_range(nl - p, 1, line);
			}
			if (line == 0)
				assert_null(strchr(w, '\n'));
			assert_int_equal(tc_b64_decode(w, wlen, sizeof(in),
			    &out, &outlen, &why), 0);
			assert_int_equal(outlen, n);
			if (n > 0)
				assert_memory_equal(out, in, n);
			free(out);
			free(w);
			free(b);
		}
	}
}

/* A CSR: good, then each way it can be broken (conformance #31-#36). */
static void
test_csr_check(void **state)
{
	static const uint8_t absurd[] = {
		0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x82, 0x01, 0x00,
		0x02, 0x01, 0x00,
	};
	uint8_t		*buf, junk[512], *pos;
	EVP_PKEY	*pk;
	const char	*why;
	size_t		 n = fx.csr1.len;

	(void)state;
	/* good, with and without the signature check and key */
	assert_int_equal(csr_check_der(fx.csr1.p, n, 1, &pk, &why), 0);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, fx.k1), 1);
	assert_int_not_equal(EVP_PKEY_eq(pk, fx.k2), 1);
	EVP_PKEY_free(pk);
	assert_int_equal(csr_check_der(fx.csr1.p, n, 1, NULL, &why), 0);
	assert_int_equal(csr_check_der(fx.csr1.p, n, 0, NULL, &why), 0);
	assert_int_equal(csr_check_der(fx.csr2.p, fx.csr2.len, 1, NULL, &why),
	    0);

	/* empty and truncated */
	pk = fx.k1;
	assert_int_equal(csr_check_der(fx.csr1.p, 0, 0, &pk, &why), -1);
	assert_null(pk);
	assert_int_equal(csr_check_der(fx.csr1.p, n - 1, 0, NULL, &why), -1);
	assert_queue_empty();
	assert_int_equal(csr_check_der(fx.csr1.p, n / 2, 0, NULL, &why), -1);
	assert_int_equal(csr_check_der(fx.csr1.p, 1, 0, NULL, &why), -1);
	assert_int_equal(csr_check_der(fx.csr1.p, 4, 0, NULL, &why), -1);
	assert_queue_empty();

	/* one trailing byte */
	assert_non_null(buf = malloc(n + 1));
	memcpy(buf, fx.csr1.p, n);
	buf[n] = 0;
	assert_int_equal(csr_check_der(buf, n + 1, 0, NULL, &why), -1);
	assert_string_equal(why, "trailing bytes after csr");
	assert_queue_empty();
	/* two CSRs back to back */
	free(buf);
	assert_non_null(buf = malloc(n * 2));
	memcpy(buf, fx.csr1.p, n);
	memcpy(buf + n, fx.csr1.p, n);
	assert_int_equal(csr_check_der(buf, n * 2, 1, NULL, &why), -1);
	free(buf);

	/* PEM text, junk, an absurd length */
	assert_int_equal(csr_check_der(fx.csr_pem.p, fx.csr_pem.len, 0, NULL,
	    &why), -1);
	assert_queue_empty();
	fill_junk(junk, sizeof(junk), 1);
	assert_int_equal(csr_check_der(junk, sizeof(junk), 0, NULL, &why),
	    -1);
	junk[0] = 0x30;
	junk[1] = 0x82;
	junk[2] = 0x01;
	junk[3] = 0xfc;
	assert_int_equal(csr_check_der(junk, sizeof(junk), 0, NULL, &why),
	    -1);
	assert_int_equal(csr_check_der(absurd, sizeof(absurd), 0, NULL, &why),
	    -1);
	assert_queue_empty();

	/* other DER objects are not CSRs */
	assert_int_equal(csr_check_der(fx.cert1.p, fx.cert1.len, 0, NULL,
	    &why), -1);
	assert_int_equal(csr_check_der(fx.p7one.p, fx.p7one.len, 0, NULL,
	    &why), -1);
	assert_queue_empty();

	/* corrupted signature: fails only when the signature is checked */
	assert_non_null(buf = malloc(n));
	memcpy(buf, fx.csr1.p, n);
	buf[n - 1] ^= 0x01;
	pk = fx.k1;
	assert_int_equal(csr_check_der(buf, n, 1, &pk, &why), -1);
	assert_null(pk);
	assert_string_equal(why, "csr signature does not verify");
	assert_queue_empty();
	assert_int_equal(csr_check_der(buf, n, 0, NULL, &why), 0);

	/* corrupted signed content */
	memcpy(buf, fx.csr1.p, n);
	assert_non_null(pos = memmem(buf, n, "device", 6));
	pos[0] = 'D';
	assert_int_equal(csr_check_der(buf, n, 1, NULL, &why), -1);
	assert_queue_empty();
	assert_int_equal(csr_check_der(buf, n, 0, NULL, &why), 0);
	free(buf);
}

/* PKCS#7 certs-only: counts, wrong types, framing. */
static void
test_pkcs7_certs_check(void **state)
{
	static const uint8_t absurd[] = {
		0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06, 0x09, 0x2a, 0x86,
		0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
	};
	const struct {
		const char		*name;
		const uint8_t		*p;
		size_t			 len;
		int			 want;
		int			 ncerts;
	} cases[] = {
		{ "one", fx.p7one.p, fx.p7one.len, 0, 1 },
		{ "two", fx.p7two.p, fx.p7two.len, 0, 2 },
		{ "zero", fx.p7zero.p, fx.p7zero.len, -1, 0 },
		{ "data", fx.p7data.p, fx.p7data.len, -1, 0 },
		{ "empty", fx.p7one.p, 0, -1, 0 },
		{ "truncated", fx.p7one.p, fx.p7one.len - 1, -1, 0 },
		{ "half", fx.p7two.p, fx.p7two.len / 2, -1, 0 },
		{ "csr", fx.csr1.p, fx.csr1.len, -1, 0 },
		{ "cert", fx.cert1.p, fx.cert1.len, -1, 0 },
		{ "pem", fx.csr_pem.p, fx.csr_pem.len, -1, 0 },
		{ "absurd", absurd, sizeof(absurd), -1, 0 },
	};
	uint8_t		*buf;
	const char	*why;
	size_t		 i;
	int		 n;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		n = -1;
		why = NULL;
		if (tc_pkcs7_certs_check(cases[i].p, cases[i].len, &n, &why) !=
		    cases[i].want)
			fail_msg("case %s: want %d (%s)", cases[i].name,
			    cases[i].want, why ? why : "-");
		if (cases[i].want == 0)
			assert_int_equal(n, cases[i].ncerts);
		else
			assert_non_null(why);
		assert_queue_empty();
	}
	assert_int_equal(tc_pkcs7_certs_check(fx.p7one.p, fx.p7one.len, NULL,
	    &why), 0);

	/* one trailing byte */
	assert_non_null(buf = malloc(fx.p7one.len + 1));
	memcpy(buf, fx.p7one.p, fx.p7one.len);
	buf[fx.p7one.len] = 0;
	assert_int_equal(tc_pkcs7_certs_check(buf, fx.p7one.len + 1, &n,
	    &why), -1);
	assert_queue_empty();
	free(buf);
}

/* Picking one certificate: by key, or the only one (RFC 9148 §4.3). */
static void
test_pkcs7_pick_cert(void **state)
{
	const struct {
		const char		*name;
		const struct blob	*p7;
		EVP_PKEY		*match;
		const struct blob	*want;	/* NULL: -1 */
	} cases[] = {
		{ "one, any", &fx.p7one, NULL, &fx.cert1 },
		{ "one, k1", &fx.p7one, fx.k1, &fx.cert1 },
		{ "one, k2", &fx.p7one, fx.k2, NULL },
		{ "two, any", &fx.p7two, NULL, NULL },
		{ "two, k1", &fx.p7two, fx.k1, &fx.cert1 },
		{ "two, k2", &fx.p7two, fx.k2, &fx.cert2 },
		{ "two, k3", &fx.p7two, fx.k3, NULL },
		{ "zero, any", &fx.p7zero, NULL, NULL },
		{ "zero, k1", &fx.p7zero, fx.k1, NULL },
		{ "data", &fx.p7data, NULL, NULL },
		{ "csr", &fx.csr1, fx.k1, NULL },
	};
	uint8_t		*cert;
	EVP_PKEY	*pk;
	const char	*why;
	size_t		 i, certlen;
	int		 rc;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		why = NULL;
		rc = tc_pkcs7_pick_cert(cases[i].p7->p, cases[i].p7->len,
		    cases[i].match, &cert, &certlen, &why);
		if (rc != (cases[i].want != NULL ? 0 : -1))
			fail_msg("case %s: rc %d (%s)", cases[i].name, rc,
			    why ? why : "-");
		assert_queue_empty();
		if (cases[i].want == NULL) {
			assert_null(cert);
			assert_int_equal(certlen, 0);
			assert_non_null(why);
			continue;
		}
		assert_int_equal(certlen, cases[i].want->len);
		assert_memory_equal(cert, cases[i].want->p, certlen);
		free(cert);
	}

	/* The sen + Accept 287 flow: the CSR's key picks the cert. */
	assert_int_equal(csr_check_der(fx.csr2.p, fx.csr2.len, 1, &pk, &why),
	    0);
	assert_int_equal(tc_pkcs7_pick_cert(fx.p7two.p, fx.p7two.len, pk,
	    &cert, &certlen, &why), 0);
	assert_int_equal(certlen, fx.cert2.len);
	assert_memory_equal(cert, fx.cert2.p, certlen);
	free(cert);
	EVP_PKEY_free(pk);
}

/* Wrap a NULL value in depth SEQUENCEs inside one attribute. */
static size_t
nested_attrs(uint8_t *buf, size_t depth)
{
	static const uint8_t oid[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };
	size_t	 vlen = 2 + 2 * depth, d;

	/* 30 L1 30 L2 <oid> 31 L3 [30 ..]^depth 05 00 */
	buf[0] = 0x30;
	buf[1] = (uint8_t)(2 + sizeof(oid) + 2 + vlen);
	buf[2] = 0x30;
	buf[3] = (uint8_t)(sizeof(oid) + 2 + vlen);
	memcpy(buf + 4, oid, sizeof(oid));
	buf[4 + sizeof(oid)] = 0x31;
	buf[5 + sizeof(oid)] = (uint8_t)vlen;
	for (d = 0; d < depth; d++) {
		buf[6 + sizeof(oid) + 2 * d] = 0x30;
		buf[7 + sizeof(oid) + 2 * d] = (uint8_t)(vlen - 2 - 2 * d);
	}
	buf[6 + sizeof(oid) + 2 * depth] = 0x05;
	buf[7 + sizeof(oid) + 2 * depth] = 0x00;
	return 8 + sizeof(oid) + 2 * depth;
}

#define X(...)	(const uint8_t[]){ __VA_ARGS__ }, \
		sizeof((const uint8_t[]){ __VA_ARGS__ })

/* CsrAttrs: the RFC 7030 example, the empty SEQUENCE, and breakage. */
static void
test_csrattrs_check(void **state)
{
	/* RFC 7030 4.5.2 example */
	static const char rfc7030[] = "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSu"
	    "BBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==";
	/* Automatic: the compound literals are not constant expressions. */
	const struct {
		const char	*name;
		const uint8_t	*p;
		size_t		 len;
		int		 want;
	} cases[] = {
		{ "empty sequence", X(0x30, 0x00), 0 },
		{ "one oid", X(0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48,
		  0x86, 0xf7, 0x0d, 0x01, 0x09, 0x07), 0 },
		{ "oid 0.0", X(0x30, 0x03, 0x06, 0x01, 0x00), 0 },
		{ "attribute", X(0x30, 0x14, 0x30, 0x12, 0x06, 0x07, 0x2a,
		  0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x31, 0x07, 0x06, 0x05,
		  0x2b, 0x81, 0x04, 0x00, 0x22), 0 },
		{ "two values", X(0x30, 0x0c, 0x30, 0x0a, 0x06, 0x01, 0x00,
		  0x31, 0x05, 0x05, 0x00, 0x02, 0x01, 0x07), 0 },
		{ "high tag value", X(0x30, 0x0a, 0x30, 0x08, 0x06, 0x01,
		  0x00, 0x31, 0x03, 0x9f, 0x21, 0x00), 0 },
		/* framing */
		{ "truncated", X(0x30), -1 },
		{ "short", X(0x30, 0x01), -1 },
		{ "trailing byte", X(0x30, 0x00, 0x00), -1 },
		{ "two sequences", X(0x30, 0x00, 0x30, 0x00), -1 },
		{ "set", X(0x31, 0x00), -1 },
		{ "octet string", X(0x04, 0x00), -1 },
		{ "indefinite", X(0x30, 0x80, 0x00, 0x00), -1 },
		{ "non-minimal length", X(0x30, 0x81, 0x00), -1 },
		{ "long form for short", X(0x30, 0x81, 0x05, 0x06, 0x03, 0x2a,
		  0x03, 0x04), -1 },
		{ "leading zero length", X(0x30, 0x82, 0x00, 0x01, 0x05), -1 },
		{ "absurd length", X(0x30, 0x84, 0xff, 0xff, 0xff, 0xff,
		  0x06, 0x01, 0x00), -1 },
		{ "reserved length", X(0x30, 0xff, 0x00), -1 },
		/* elements */
		{ "integer", X(0x30, 0x03, 0x02, 0x01, 0x05), -1 },
		{ "null", X(0x30, 0x02, 0x05, 0x00), -1 },
		{ "empty oid", X(0x30, 0x02, 0x06, 0x00), -1 },
		{ "oid open end", X(0x30, 0x03, 0x06, 0x01, 0x80), -1 },
		{ "oid padded", X(0x30, 0x04, 0x06, 0x02, 0x80, 0x01), -1 },
		{ "oid overrun", X(0x30, 0x03, 0x06, 0x02, 0x00), -1 },
		{ "empty set", X(0x30, 0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b,
		  0x81, 0x04, 0x00, 0x22, 0x31, 0x00), -1 },
		{ "no set", X(0x30, 0x09, 0x30, 0x07, 0x06, 0x05, 0x2b,
		  0x81, 0x04, 0x00, 0x22), -1 },
		{ "set first", X(0x30, 0x0a, 0x30, 0x08, 0x31, 0x03, 0x06,
		  0x01, 0x00, 0x06, 0x01, 0x00), -1 },
		{ "extra element", X(0x30, 0x0e, 0x30, 0x0c, 0x06, 0x01,
		  0x00, 0x31, 0x03, 0x02, 0x01, 0x01, 0x05, 0x00, 0x05,
		  0x00), -1 },
		{ "empty attribute", X(0x30, 0x02, 0x30, 0x00), -1 },
		{ "broken value", X(0x30, 0x0b, 0x30, 0x09, 0x06, 0x01,
		  0x00, 0x31, 0x04, 0x30, 0x05, 0x02, 0x01), -1 },
		{ "bad oid in value", X(0x30, 0x09, 0x30, 0x07, 0x06, 0x01,
		  0x00, 0x31, 0x02, 0x06, 0x00), -1 },
		{ "high tag < 31", X(0x30, 0x0a, 0x30, 0x08, 0x06, 0x01,
		  0x00, 0x31, 0x03, 0x9f, 0x1e, 0x00), -1 },
		{ "high tag padded", X(0x30, 0x0b, 0x30, 0x09, 0x06, 0x01,
		  0x00, 0x31, 0x04, 0x9f, 0x80, 0x21, 0x00), -1 },
	};
	uint8_t		*der, buf[200], junk[300];
	const char	*why;
	size_t		 i, len;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		why = NULL;
		if (tc_csrattrs_check(cases[i].p, cases[i].len, &why) !=
		    cases[i].want)
			fail_msg("case %s: want %d (%s)", cases[i].name,
			    cases[i].want, why ? why : "-");
		if (cases[i].want != 0)
			assert_non_null(why);
	}

	assert_int_equal(tc_b64_decode(rfc7030, strlen(rfc7030), 1000, &der,
	    &len, &why), 0);
	assert_int_equal(len, 67);
	assert_int_equal(tc_csrattrs_check(der, len, &why), 0);
	assert_int_equal(tc_csrattrs_check(der, len - 1, &why), -1);
	free(der);

	assert_int_equal(tc_csrattrs_check(buf, 0, &why), -1);

	/* long-form lengths: 30 81 80 30 7e 06 01 00 31 79 04 77 <119> */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, X(0x30, 0x81, 0x80, 0x30, 0x7e, 0x06, 0x01, 0x00, 0x31,
	    0x79, 0x04, 0x77));
	assert_int_equal(tc_csrattrs_check(buf, 131, &why), 0);
	assert_int_equal(tc_csrattrs_check(buf, 130, &why), -1);
	assert_int_equal(tc_csrattrs_check(buf, 132, &why), -1);
	len = nested_attrs(buf, 10);
	assert_int_equal(tc_csrattrs_check(buf, len, &why), 0);
	len = nested_attrs(buf, 40);
	assert_int_equal(tc_csrattrs_check(buf, len, &why), -1);

	fill_junk(junk, sizeof(junk), 7);
	assert_int_equal(tc_csrattrs_check(junk, sizeof(junk), &why), -1);
	assert_int_equal(tc_csrattrs_check(fx.csr1.p, fx.csr1.len, &why), -1);
	assert_int_equal(tc_csrattrs_check(fx.p7one.p, fx.p7one.len, &why),
	    -1);
}

/* Diagnostics: first line, printable ASCII, bounded, terminated. */
static void
test_diag_sanitise(void **state)
{
	static const struct {
		const char	*in;
		size_t		 inlen;		/* 0: strlen(in) */
		size_t		 outsz;
		const char	*want;
	} cases[] = {
		{ "bad csr", 0, 64, "bad csr" },
		{ "bad csr\r\nsecond line", 0, 64, "bad csr" },
		{ "bad csr\nsecond line", 0, 64, "bad csr" },
		{ "\r\n\r\n  first\nsecond", 0, 64, "first" },
		{ "a\tb", 0, 64, "a b" },
		{ "caf\xc3\xa9 ok", 0, 64, "caf ok" },
		{ "x\0y\x7f\x1bz", 6, 64, "xyz" },
		{ "trailing   \r\n", 0, 64, "trailing" },
		{ "abcdef", 0, 4, "abc" },
		{ "abcdef", 0, 7, "abcdef" },
		{ "abcdef", 0, 1, "" },
		{ "", 0, 64, "" },
		{ "\r\n", 0, 64, "" },
		{ "\x01\x02\x03", 0, 64, "" },
	};
	char	 out[64], big[400];
	size_t	 i, inlen, n;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		inlen = cases[i].inlen ? cases[i].inlen : strlen(cases[i].in);
		memset(out, 'Q', sizeof(out));
		n = tc_diag_sanitise((const uint8_t *)cases[i].in, inlen, out,
		    cases[i].outsz);
		assert_string_equal(out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
		assert_true(n < cases[i].outsz);
	}

	/* outsz 0 writes nothing */
	out[0] = 'Q';
	assert_int_equal(tc_diag_sanitise((const uint8_t *)"abc", 3, out, 0),
	    0);
	assert_int_equal(out[0], 'Q');

	/* a long body stops at outsz - 1 */
	memset(big, 'a', sizeof(big));
	assert_int_equal(tc_diag_sanitise((const uint8_t *)big, sizeof(big),
	    out, 64), 63);
	assert_int_equal(strlen(out), 63);
}

/* Content-Type matching: case, whitespace and parameters. */
static void
test_ctype_is(void **state)
{
	static const char p7[] = "application/pkcs7-mime";
	static const struct {
		const char	*ctype;
		const char	*want;
		int		 is;
	} cases[] = {
		{ "application/pkcs7-mime", p7, 1 },
		{ "application/pkcs7-mime; smime-type=certs-only", p7, 1 },
		{ "Application/PKCS7-MIME;smime-type=certs-only", p7, 1 },
		{ "  application/pkcs7-mime  ; x=y", p7, 1 },
		{ "\tapplication/pkcs7-mime\t", p7, 1 },
		{ "application/pkcs7-mime;", p7, 1 },
		{ "application/pkcs7-mime-x", p7, 0 },
		{ "application/pkcs7", p7, 0 },
		{ "application/pkcs7-mim", p7, 0 },
		{ "application/pkcs7-mime x", p7, 0 },
		{ "xapplication/pkcs7-mime", p7, 0 },
		{ "text/plain", p7, 0 },
		{ "text/plain; charset=utf-8", "text/plain", 1 },
		{ "application/csrattrs", "application/csrattrs", 1 },
		{ "", p7, 0 },
		{ NULL, p7, 0 },
		{ p7, "", 0 },
		{ p7, NULL, 0 },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		if (tc_ctype_is(cases[i].ctype, cases[i].want) != cases[i].is)
			fail_msg("case %zu: \"%s\" vs \"%s\"", i,
			    cases[i].ctype ? cases[i].ctype : "(null)",
			    cases[i].want ? cases[i].want : "(null)");
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64_decode),
		cmocka_unit_test(test_b64_roundtrip),
		cmocka_unit_test(test_b64_wrap),
		cmocka_unit_test(test_csr_check),
		cmocka_unit_test(test_pkcs7_certs_check),
		cmocka_unit_test(test_pkcs7_pick_cert),
		cmocka_unit_test(test_csrattrs_check),
		cmocka_unit_test(test_diag_sanitise),
		cmocka_unit_test(test_ctype_is),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
