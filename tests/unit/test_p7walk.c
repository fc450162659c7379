/*
 * Unit tests for p7walk: certs-only PKCS#7 checked by walking its DER.
 * Made-up bags from OpenSSL, hand-made framings, and a differential run:
 * every mutation OpenSSL's full decoder accepts, the walk accepts with
 * the same count (or hands back as BER).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "p7walk.h"
#include "transcode.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

struct blob {
	uint8_t	*p;
	size_t	 len;
};

static struct blob	p7one, p7two, p7crl, p7zero, p7data;

/* A self-signed certificate for k. */
static X509 *
make_cert(EVP_PKEY *k, const char *cn)
{
	X509		*x = X509_new();
	X509_NAME	*name = X509_get_subject_name(x);

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

/* A certs-only bag of n certificates, with a CRL when crl is set. */
static void
make_p7(X509 **certs, int n, X509_CRL *crl, int type, struct blob *b)
{
	PKCS7		*p7 = PKCS7_new();
	unsigned char	*p = NULL;
	int		 len;

	assert_non_null(p7);
	if (type == NID_pkcs7_signed) {
		assert_int_equal(PKCS7_set_type(p7, type), 1);
		assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
		(void)PKCS7_set_detached(p7, 1);
		for (int i = 0; i < n; i++)
			assert_int_equal(PKCS7_add_certificate(p7, certs[i]), 1);
		if (crl != NULL)
			assert_int_equal(PKCS7_add_crl(p7, crl), 1);
	} else {
		assert_int_equal(PKCS7_set_type(p7, type), 1);
		ASN1_OCTET_STRING_set(p7->d.data, (const unsigned char *)"hi",
		    2);
	}
	assert_true((len = i2d_PKCS7(p7, &p)) > 0);
	b->p = p;
	b->len = (size_t)len;
	PKCS7_free(p7);
}

static int
setup(void **state)
{
	EVP_PKEY	*k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	X509		*c[2];
	X509_CRL	*crl = X509_CRL_new();

	(void)state;
	c[0] = make_cert(k1, "one");
	c[1] = make_cert(k2, "two");
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(c[0]));
	X509_CRL_sign(crl, k1, EVP_sha256());
	make_p7(c, 1, NULL, NID_pkcs7_signed, &p7one);
	make_p7(c, 2, NULL, NID_pkcs7_signed, &p7two);
	make_p7(c, 2, crl, NID_pkcs7_signed, &p7crl);
	make_p7(c, 0, NULL, NID_pkcs7_signed, &p7zero);
	make_p7(NULL, 0, NULL, NID_pkcs7_data, &p7data);
	X509_free(c[0]);
	X509_free(c[1]);
	X509_CRL_free(crl);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	OPENSSL_free(p7one.p);
	OPENSSL_free(p7two.p);
	OPENSSL_free(p7crl.p);
	OPENSSL_free(p7zero.p);
	OPENSSL_free(p7data.p);
	return 0;
}

/* Bags, wrong types and framings. */
static void
test_p7walk_cases(void **state)
{
	static const uint8_t absurd[] = {
		0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x06, 0x09, 0x2a, 0x86,
		0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
	};
	/* a signed-data whose only "certificate" is an INTEGER */
	static const uint8_t notcert[] = {
		0x30, 0x1d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
		0x01, 0x07, 0x02, 0xa0, 0x10, 0x30, 0x0e, 0x02, 0x01, 0x01,
		0x31, 0x00, 0x30, 0x00, 0xa0, 0x03, 0x02, 0x01, 0x05, 0x31,
		0x00,
	};
	const struct {
		const char	*name;
		const uint8_t	*p;
		size_t		 len;
		int		 want, ncerts;
	} cases[] = {
		{ "one", p7one.p, p7one.len, 0, 1 },
		{ "two", p7two.p, p7two.len, 0, 2 },
		{ "with a crl", p7crl.p, p7crl.len, 0, 2 },
		{ "zero", p7zero.p, p7zero.len, -1, 0 },
		{ "data", p7data.p, p7data.len, -1, 0 },
		{ "empty", p7one.p, 0, -1, 0 },
		{ "truncated", p7one.p, p7one.len - 1, -1, 0 },
		{ "half", p7two.p, p7two.len / 2, -1, 0 },
		{ "absurd", absurd, sizeof(absurd), -1, 0 },
		{ "not a certificate", notcert, sizeof(notcert), -1, 0 },
	};
	const char	*why;
	int		 n;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		n = -1;
		why = NULL;
		if (p7walk_certs(cases[i].p, cases[i].len, &n, &why) !=
		    cases[i].want)
			fail_msg("case %s: want %d (%s)", cases[i].name,
			    cases[i].want, why ? why : "-");
		if (cases[i].want == 0)
			assert_int_equal(n, cases[i].ncerts);
		else
			assert_non_null(why);
	}
}

/*
 * BER the walk does not follow goes back to the caller, and
 * tc_pkcs7_certs_check() decodes it in full: the outer SEQUENCE with an
 * indefinite length, and with a length one byte longer than needed.
 */
static void
test_p7walk_ber(void **state)
{
	uint8_t		*b;
	const char	*why;
	size_t		 hl, blen;
	int		 n = 0;

	(void)state;
	/* p7two starts 30 82 hi lo: its body follows 4 header bytes */
	assert_int_equal(p7two.p[1], 0x82);
	hl = 4;
	blen = p7two.len - hl;
	assert_non_null(b = malloc(blen + 4));
	b[0] = 0x30;
	b[1] = 0x80;
	memcpy(b + 2, p7two.p + hl, blen);
	b[2 + blen] = 0;
	b[3 + blen] = 0;
	assert_int_equal(p7walk_certs(b, blen + 4, &n, &why), 1);
	assert_int_equal(tc_pkcs7_certs_check(b, blen + 4, &n, &why), 0);
	assert_int_equal(n, 2);
	free(b);

	assert_non_null(b = malloc(blen + 5));
	b[0] = 0x30;
	b[1] = 0x83;
	b[2] = 0;
	b[3] = (uint8_t)(blen >> 8);
	b[4] = (uint8_t)blen;
	memcpy(b + 5, p7two.p + hl, blen);
	assert_int_equal(p7walk_certs(b, blen + 5, &n, &why), 1);
	free(b);
	ERR_clear_error();
}

/* What OpenSSL's decoder makes of a buffer: certificates, or -1. */
static int
full_decode(const uint8_t *der, size_t len)
{
	const unsigned char	*p = der;
	PKCS7			*p7 = d2i_PKCS7(NULL, &p, (long)len);
	int			 n = -1;

	if (p7 != NULL && p == der + len && PKCS7_type_is_signed(p7) &&
	    p7->d.sign != NULL && p7->d.sign->cert != NULL &&
	    sk_X509_num(p7->d.sign->cert) > 0)
		n = sk_X509_num(p7->d.sign->cert);
	PKCS7_free(p7);
	ERR_clear_error();
	return n;
}

/*
 * Every single-byte change and every truncation of two bags: what the
 * full decoder accepts, the walk accepts with the same count or hands
 * back; what the walk accepts is never past the buffer (ASan watches).
 */
static void
test_p7walk_differential(void **state)
{
	const struct blob	*bags[] = { &p7two, &p7crl };
	static const uint8_t	 vals[] = { 0x00, 0x01, 0x30, 0x31, 0x7f,
	    0x80, 0x81, 0x82, 0xa0, 0xa1, 0xff };
	uint8_t			*b;
	const char		*why;
	int			 full, walk, n;

	(void)state;
	for (size_t k = 0; k < NELEM(bags); k++) {
		const struct blob *g = bags[k];

		assert_non_null(b = malloc(g->len));
		for (size_t i = 0; i < g->len; i++)
			for (size_t v = 0; v < NELEM(vals); v++) {
				memcpy(b, g->p, g->len);
				if (b[i] == vals[v])
					continue;
				b[i] = vals[v];
				full = full_decode(b, g->len);
				n = 0;
				walk = p7walk_certs(b, g->len, &n, &why);
				if (full > 0 && walk == -1)
					fail_msg("byte %zu = %02x: decoder "
					    "took it, walk said %s", i, vals[v],
					    why);
				if (full > 0 && walk == 0)
					assert_int_equal(n, full);
			}
		for (size_t l = 0; l < g->len; l++) {
			memcpy(b, g->p, l);
			walk = p7walk_certs(b, l, &n, &why);
			assert_int_not_equal(walk, 0);
		}
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p7walk_cases),
		cmocka_unit_test(test_p7walk_ber),
		cmocka_unit_test(test_p7walk_differential),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
