/*
 * Unit tests for keyconv: every form an EST server may put in a
 * serverkeygen key part (PKCS#8, PKCS#1 RSA, SEC1 EC; DER and PEM) comes
 * out as the PKCS#8 DER of the same key; encrypted, public, truncated,
 * padded and garbage input is refused. Keys are made here with OpenSSL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keyconv.h"

/* One encoding of a key, in OpenSSL-allocated memory. */
struct form {
	const char	*name;
	uint8_t		*p;
	size_t		 len;
};

enum { F_P8_DER, F_P8_PEM, F_TRAD_DER, F_TRAD_PEM, F_P8_ENC, F_PUB_PEM,
    F_PUB_DER, F_COUNT };

/* The keys under test and each of their forms. */
static struct {
	EVP_PKEY	*key[2];	/* RSA 2048, EC P-256 */
	struct form	 f[2][F_COUNT];
} fx;

/* The bytes a memory BIO holds, copied into OpenSSL memory. */
static void
bio_take(BIO *b, struct form *f)
{
	char	*data;
	long	 n = BIO_get_mem_data(b, &data);

	assert_true(n > 0);
	assert_non_null(f->p = OPENSSL_malloc((size_t)n));
	memcpy(f->p, data, (size_t)n);
	f->len = (size_t)n;
	BIO_free(b);
}

/* Every form of pk into forms[]. */
static void
make_forms(EVP_PKEY *pk, struct form *forms)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*buf = NULL;
	BIO			*b;
	int			 n;

	assert_non_null(p8 = EVP_PKEY2PKCS8(pk));
	assert_true((n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf)) > 0);
	forms[F_P8_DER] = (struct form){ "pkcs8 der", buf, (size_t)n };
	PKCS8_PRIV_KEY_INFO_free(p8);
	buf = NULL;
	/* PKCS#1 for RSA, SEC1 for EC: the type-specific structure */
	assert_true((n = i2d_PrivateKey(pk, &buf)) > 0);
	forms[F_TRAD_DER] = (struct form){ "pkcs1/sec1 der", buf, (size_t)n };
	buf = NULL;
	assert_true((n = i2d_PUBKEY(pk, &buf)) > 0);
	forms[F_PUB_DER] = (struct form){ "public der", buf, (size_t)n };

	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, pk, NULL, NULL, 0,
	    NULL, NULL), 1);
	forms[F_P8_PEM].name = "pkcs8 pem";
	bio_take(b, &forms[F_P8_PEM]);
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PrivateKey_traditional(b, pk, NULL,
	    NULL, 0, NULL, NULL), 1);
	forms[F_TRAD_PEM].name = "pkcs1/sec1 pem";
	bio_take(b, &forms[F_TRAD_PEM]);
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(b, pk,
	    EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"secret"), 1);
	forms[F_P8_ENC].name = "encrypted pkcs8 pem";
	bio_take(b, &forms[F_P8_ENC]);
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
	forms[F_PUB_PEM].name = "public pem";
	bio_take(b, &forms[F_PUB_PEM]);
}

static int
fx_setup(void **state)
{
	(void)state;
	if ((fx.key[0] = EVP_RSA_gen(2048)) == NULL ||
	    (fx.key[1] = EVP_EC_gen("P-256")) == NULL)
		return -1;
	make_forms(fx.key[0], fx.f[0]);
	make_forms(fx.key[1], fx.f[1]);
	/* the forms really differ: PKCS#1 and SEC1 are not PKCS#8 */
	for (int k = 0; k < 2; k++)
		if (fx.f[k][F_TRAD_DER].len == fx.f[k][F_P8_DER].len &&
		    memcmp(fx.f[k][F_TRAD_DER].p, fx.f[k][F_P8_DER].p,
		    fx.f[k][F_P8_DER].len) == 0)
			return -1;
	return 0;
}

static int
fx_teardown(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < F_COUNT; i++)
			OPENSSL_clear_free(fx.f[k][i].p, fx.f[k][i].len);
		EVP_PKEY_free(fx.key[k]);
	}
	return 0;
}

/* keyconv_pkcs8 on in must give PKCS#8 DER of key k, byte for byte. */
static void
want_pkcs8(int k, const uint8_t *in, size_t len, const char *what)
{
	const unsigned char	*p;
	PKCS8_PRIV_KEY_INFO	*p8;
	EVP_PKEY		*back;
	const char		*why = NULL;
	uint8_t			*out;
	size_t			 outlen;

	if (keyconv_pkcs8(in, len, &out, &outlen, &why) != 0)
		fail_msg("%s: refused: %s", what, why);
	assert_int_equal(ERR_peek_error(), 0);
	assert_int_equal(outlen, fx.f[k][F_P8_DER].len);
	assert_memory_equal(out, fx.f[k][F_P8_DER].p, outlen);
	p = out;
	assert_non_null(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)outlen));
	assert_ptr_equal(p, out + outlen);
	assert_non_null(back = EVP_PKCS82PKEY(p8));
	assert_int_equal(EVP_PKEY_eq(back, fx.key[k]), 1);
	EVP_PKEY_free(back);
	PKCS8_PRIV_KEY_INFO_free(p8);
	OPENSSL_clear_free(out, outlen);
}

/* keyconv_pkcs8 on in must fail, say why, and leave no OpenSSL error. */
static void
want_refused(const uint8_t *in, size_t len, const char *what)
{
	const char	*why = NULL;
	uint8_t		*out = (uint8_t *)"x";
	size_t		 outlen = 77;

	if (keyconv_pkcs8(in, len, &out, &outlen, &why) != -1)
		fail_msg("%s: accepted", what);
	assert_null(out);
	assert_int_equal(outlen, 0);
	assert_non_null(why);
	assert_int_equal(ERR_peek_error(), 0);
}

/* RSA and P-256; PKCS#8, PKCS#1/SEC1; DER and PEM: all become PKCS#8. */
static void
test_forms(void **state)
{
	static const int ok[] = { F_P8_DER, F_P8_PEM, F_TRAD_DER,
	    F_TRAD_PEM };

	(void)state;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
			want_pkcs8(k, fx.f[k][ok[i]].p, fx.f[k][ok[i]].len,
			    fx.f[k][ok[i]].name);
}

/* PEM with text around it, as a MIME part may carry it. */
static void
test_pem_framing(void **state)
{
	char	 buf[8192];
	int	 n;

	(void)state;
	for (int k = 0; k < 2; k++) {
		n = snprintf(buf, sizeof(buf), "\r\n\r\n%.*s\r\n",
		    (int)fx.f[k][F_TRAD_PEM].len,
		    (const char *)fx.f[k][F_TRAD_PEM].p);
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		want_pkcs8(k, (const uint8_t *)buf, (size_t)n, "framed pem");
		OPENSSL_cleanse(buf, sizeof(buf));
	}
}

/* Encrypted and public keys: never converted, never prompted for. */
static void
test_not_a_clear_private_key(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		want_refused(fx.f[k][F_P8_ENC].p, fx.f[k][F_P8_ENC].len,
		    "encrypted pkcs8");
		want_refused(fx.f[k][F_PUB_PEM].p, fx.f[k][F_PUB_PEM].len,
		    "public key pem");
		want_refused(fx.f[k][F_PUB_DER].p, fx.f[k][F_PUB_DER].len,
		    "public key der");
	}
}

/* Each DER form cut short, or with a byte after it, is refused. */
static void
test_truncated_and_trailing(void **state)
{
	static const int der[] = { F_P8_DER, F_TRAD_DER };
	uint8_t		 buf[4096];
	size_t		 len, cut;

	(void)state;
	for (int k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(der) / sizeof(der[0]); i++) {
			const struct form *f = &fx.f[k][der[i]];

			len = f->len;
			assert_true(len + 1 <= sizeof(buf));
			memcpy(buf, f->p, len);
			for (cut = 1; cut < len; cut += cut < 8 ? 1 : 37)
				want_refused(buf, len - cut, "truncated der");
			buf[len] = 0;
			want_refused(buf, len + 1, "der + one byte");
			OPENSSL_cleanse(buf, sizeof(buf));
		}
		/* a PEM cut in its base64 */
		want_refused(fx.f[k][F_TRAD_PEM].p,
		    fx.f[k][F_TRAD_PEM].len / 2, "truncated pem");
	}
}

/* Garbage, empty input, other DER structures. */
static void
test_garbage(void **state)
{
	static const uint8_t seq0[] = { 0x30, 0x00 };
	static const uint8_t ints[] = { 0x30, 0x06, 0x02, 0x01, 0x00,
	    0x02, 0x01, 0x05 };
	static const uint8_t octets[] = { 0x04, 0x03, 0x01, 0x02, 0x03 };
	static const uint8_t indef[] = { 0x30, 0x80, 0x02, 0x01, 0x00,
	    0x00, 0x00 };
	static const char pem[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n";
	uint8_t junk[512];

	(void)state;
	want_refused((const uint8_t *)"", 0, "empty");
	want_refused((const uint8_t *)"hello", 5, "text");
	want_refused(seq0, sizeof(seq0), "empty sequence");
	want_refused(ints, sizeof(ints), "two integers");
	want_refused(octets, sizeof(octets), "octet string");
	want_refused(indef, sizeof(indef), "indefinite length");
	want_refused((const uint8_t *)pem, sizeof(pem) - 1, "pem of junk");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	junk[0] = 0x30;
	junk[1] = 0x82;
	junk[2] = 0x01;
	junk[3] = 0xfc;
	want_refused(junk, sizeof(junk), "sequence of junk");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_pem_framing),
		cmocka_unit_test(test_not_a_clear_private_key),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, fx_setup, fx_teardown);
}
