/*
 * Unit tests for answer.c: how an upstream result (struct upstream_result)
 * becomes the device's CoAP answer, per operation and outcome (RFC 9148
 * §4.5, RFC 8075 §7, README "How requests are handled"): 2xx bodies are
 * checked and transcoded, 202/503 become 5.03 with Max-Age, error statuses
 * keep a printable diagnostic, a body that fails a check is 5.02, CF 287
 * picks the certificate of the CSR key, csrattrs 204 follows
 * est.att_on_204. Certificates and bundles are made here (testcerts.c).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "estcoapd.h"
#include "answer.h"
#include "est_map.h"
#include "multipart.h"
#include "transcode.h"
#include "upstream.h"
#include "testcerts.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define CT_CERTS	"application/pkcs7-mime; smime-type=certs-only"
#define CT_ATTRS	"application/csrattrs"
#define CT_SKG		"multipart/mixed; boundary=xYz"

/* Made once: the CA, a device cert for kdev, bundles, csrattrs. */
static struct {
	EVP_PKEY	*kca, *kdev, *kother;
	uint8_t		*ca_der, *dev_der;	/* X.509 DER */
	size_t		 ca_len, dev_len;
	uint8_t		*p7ca, *p7two, *p7dev;	/* certs-only PKCS#7 DER */
	size_t		 p7ca_len, p7two_len, p7dev_len;
	char		*b64ca, *b64two, *b64dev;	/* their base64 */
	uint8_t		*pk8, *sec1;	/* kdev as PKCS#8, as SEC1 DER */
	size_t		 pk8_len, sec1_len;
} fx;

/* SEQUENCE { challengePassword }: a valid csrattrs body (RFC 7030 4.5.2). */
static const uint8_t attrs_der[] = {
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x09, 0x07,
};

static const struct req_policy pol_def = {
	.retry_max_age = 60, .att_204_empty = 0, .max_body = 65536,
};

static char *
b64(const uint8_t *p, size_t len)
{
	size_t	 n;
	char	*s = tc_b64_encode(p, len, &n);

	assert_non_null(s);
	return s;
}

static int
setup(void **state)
{
	X509			*ca, *dev, *both[2];
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*p = NULL;
	int			 n;

	(void)state;
	fx.kca = testcert_key();
	fx.kdev = testcert_key();
	fx.kother = testcert_key();
	ca = testcert_make(fx.kca, "answer CA", 1, NULL, fx.kca, 1, -1, 30);
	dev = testcert_make(fx.kdev, "device", 2, ca, fx.kca, 0, -1, 30);
	testcert_der(ca, &fx.ca_der, &fx.ca_len);
	testcert_der(dev, &fx.dev_der, &fx.dev_len);
	testcert_p7(&ca, 1, &fx.p7ca, &fx.p7ca_len);
	testcert_p7(&dev, 1, &fx.p7dev, &fx.p7dev_len);
	/* the CA first: the issued certificate is found by key, not place */
	both[0] = ca;
	both[1] = dev;
	testcert_p7(both, 2, &fx.p7two, &fx.p7two_len);
	fx.b64ca = b64(fx.p7ca, fx.p7ca_len);
	fx.b64two = b64(fx.p7two, fx.p7two_len);
	fx.b64dev = b64(fx.p7dev, fx.p7dev_len);
	n = i2d_PrivateKey(fx.kdev, &p);
	assert_true(n > 0);
	fx.sec1 = p;
	fx.sec1_len = (size_t)n;
	p8 = EVP_PKEY2PKCS8(fx.kdev);
	assert_non_null(p8);
	p = NULL;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &p);
	assert_true(n > 0);
	fx.pk8 = p;
	fx.pk8_len = (size_t)n;
	PKCS8_PRIV_KEY_INFO_free(p8);
	X509_free(ca);
	X509_free(dev);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(fx.kca);
	EVP_PKEY_free(fx.kdev);
	EVP_PKEY_free(fx.kother);
	OPENSSL_free(fx.ca_der);
	OPENSSL_free(fx.dev_der);
	OPENSSL_free(fx.p7ca);
	OPENSSL_free(fx.p7two);
	OPENSSL_free(fx.p7dev);
	free(fx.b64ca);
	free(fx.b64two);
	free(fx.b64dev);
	OPENSSL_clear_free(fx.pk8, fx.pk8_len);
	OPENSSL_clear_free(fx.sec1, fx.sec1_len);
	return 0;
}

/* An HTTP result with a text body. */
static struct upstream_result
http(long status, const char *ctype, const char *body, long retry_after)
{
	struct upstream_result	 r;

	memset(&r, 0, sizeof(r));
	r.end = UPSTREAM_OK;
	r.status = status;
	r.ctype = ctype;
	r.retry_after = retry_after;
	r.body = (const uint8_t *)body;
	r.body_len = body != NULL ? strlen(body) : 0;
	r.server = "https://ca.test";
	return r;
}

static const struct est_op *
op(enum est_op_id id)
{
	const struct est_op	*o = estmap_op_by_id(id);

	assert_non_null(o);
	return o;
}

/* Map r for id with resp_cf and csr_key under pol; the DER is freed. */
static void
run(struct est_answer *a, enum est_op_id id, unsigned resp_cf,
    EVP_PKEY *csr_key, const struct upstream_result *r,
    const struct req_policy *pol)
{
	uint8_t	*der = (uint8_t *)"junk";
	size_t	 derlen = 0;

	memset(a, 0, sizeof(*a));
	answer_upstream(a, op(id), resp_cf, csr_key, r, pol, &der, &derlen);
	free(der);
}

static void
assert_bytes(const struct est_answer *a, const uint8_t *p, size_t len)
{
	assert_int_equal(a->len, len);
	assert_non_null(a->payload);
	assert_memory_equal(a->payload, p, len);
}

/* Every diagnostic is printable ASCII, and never empty for an error. */
static void
assert_printable_diag(const struct est_answer *a)
{
	assert_true(a->diag[0] != '\0');
	for (const char *c = a->diag; *c != '\0'; c++)
		if (*c < 0x20 || *c > 0x7e)
			fail_msg("unprintable byte 0x%02x in diag \"%s\"",
			    (unsigned char)*c, a->diag);
}

static void
assert_error(const struct est_answer *a, unsigned code, const char *reason)
{
	char	 b1[8], b2[8];

	if (a->code != code)
		fail_msg("code %s, want %s (reason %s, diag \"%s\")",
		    estmap_code_str(a->code, b1), estmap_code_str(code, b2),
		    a->reason, a->diag);
	if (reason != NULL)
		assert_string_equal(a->reason, reason);
	assert_null(a->payload);
	assert_int_equal(a->cf, -1);
	assert_printable_diag(a);
}

/* crts: 2.05 with the bundle (281) or its only certificate (287). */
static void
test_crts_ok(void **state)
{
	struct upstream_result	 r = http(200, CT_CERTS, fx.b64ca, -1);
	struct est_answer	 a;
	uint8_t			*der = NULL;
	size_t			 derlen = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	answer_upstream(&a, op(EST_OP_CRTS), CF_PKCS7_CERTS, NULL, &r,
	    &pol_def, &der, &derlen);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_PKCS7_CERTS);
	assert_int_equal(a.max_age, -1);
	assert_bytes(&a, fx.p7ca, fx.p7ca_len);
	/* the decoded DER comes back for the cache */
	assert_int_equal(derlen, fx.p7ca_len);
	assert_memory_equal(der, fx.p7ca, derlen);
	free(der);
	answer_clear(&a);

	run(&a, EST_OP_CRTS, CF_PKIX_CERT, NULL, &r, &pol_def);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_PKIX_CERT);
	assert_bytes(&a, fx.ca_der, fx.ca_len);
	answer_clear(&a);

	/* 287 never guesses among several CA certificates */
	r = http(200, CT_CERTS, fx.b64two, -1);
	run(&a, EST_OP_CRTS, CF_PKIX_CERT, NULL, &r, &pol_def);
	assert_error(&a, EST_CODE(4, 6), "accept-287-several-certs");
	answer_clear(&a);
}

/* sen/sren: 2.04; 287 picks the certificate of the CSR key. */
static void
test_enroll_ok(void **state)
{
	static const enum est_op_id ids[] = { EST_OP_SEN, EST_OP_SREN };
	struct upstream_result	 r = http(200, CT_CERTS, fx.b64two, -1);
	struct est_answer	 a;

	(void)state;
	for (size_t i = 0; i < NELEM(ids); i++) {
		run(&a, ids[i], CF_PKCS7_CERTS, fx.kdev, &r, &pol_def);
		assert_int_equal(a.code, EST_CODE(2, 4));
		assert_int_equal(a.cf, CF_PKCS7_CERTS);
		assert_bytes(&a, fx.p7two, fx.p7two_len);
		answer_clear(&a);

		run(&a, ids[i], CF_PKIX_CERT, fx.kdev, &r, &pol_def);
		assert_int_equal(a.code, EST_CODE(2, 4));
		assert_int_equal(a.cf, CF_PKIX_CERT);
		assert_bytes(&a, fx.dev_der, fx.dev_len);
		answer_clear(&a);

		/* no certificate for the CSR key: refused, not guessed */
		run(&a, ids[i], CF_PKIX_CERT, fx.kother, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "no-matching-cert");
		answer_clear(&a);
	}
}

/* att: 2.05 with the checked csrattrs; 204 by est.att_on_204. */
static void
test_att(void **state)
{
	char			*body = b64(attrs_der, sizeof(attrs_der));
	struct upstream_result	 r = http(200, CT_ATTRS, body, -1);
	struct req_policy	 pol = pol_def;
	struct est_answer	 a;
	static const uint8_t	 empty[] = { 0x30, 0x00 };

	(void)state;
	run(&a, EST_OP_ATT, CF_CSRATTRS, NULL, &r, &pol);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_CSRATTRS);
	assert_bytes(&a, attrs_der, sizeof(attrs_der));
	answer_clear(&a);

	r = http(204, NULL, NULL, -1);
	pol.att_204_empty = 0;
	run(&a, EST_OP_ATT, CF_CSRATTRS, NULL, &r, &pol);
	assert_error(&a, EST_CODE(4, 4), "no-csrattrs");
	answer_clear(&a);

	pol.att_204_empty = 1;
	run(&a, EST_OP_ATT, CF_CSRATTRS, NULL, &r, &pol);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_CSRATTRS);
	assert_bytes(&a, empty, sizeof(empty));
	answer_clear(&a);

	/* 204 is no answer for any other operation */
	run(&a, EST_OP_CRTS, CF_PKCS7_CERTS, NULL, &r, &pol);
	assert_error(&a, EST_CODE(5, 2), "upstream-status");
	answer_clear(&a);
	free(body);
}

/*
 * The multipart/mixed serverkeygen answer: a clear key part (key: 0 empty,
 * 1 PKCS#8, 2 SEC1) and a certs-only part.
 */
static char *
skg_body(int key)
{
	char	*k = key == 2 ? b64(fx.sec1, fx.sec1_len) :
		    b64(fx.pk8, fx.pk8_len), *s;
	int	 n;

	n = asprintf(&s, "--xYz\r\n"
	    "Content-Type: application/pkcs8\r\n\r\n%s\r\n"
	    "--xYz\r\n"
	    "Content-Type: " CT_CERTS "\r\n\r\n%s\r\n"
	    "--xYz--\r\n", key != 0 ? k : "", fx.b64dev);
	assert_true(n > 0);
	free(k);
	return s;
}

/* skg/skc: 2.04, multipart-core [284 key, 281 bundle or 287 cert]. */
static void
test_keygen(void **state)
{
	char			*body = skg_body(1), *nokey = skg_body(0);
	char			*sec1 = skg_body(2);
	struct upstream_result	 r;
	struct est_answer	 a;
	struct mp_item		 it[2];
	size_t			 n;
	const char		*why;

	(void)state;
	for (int skc = 0; skc <= 1; skc++) {
		/* skc gets a SEC1 key: PKCS#8 is what 284 says */
		r = http(200, CT_SKG, skc ? sec1 : body, -1);
		run(&a, skc ? EST_OP_SKC : EST_OP_SKG, CF_MULTIPART_CORE,
		    NULL, &r, &pol_def);
		assert_int_equal(a.code, EST_CODE(2, 4));
		assert_int_equal(a.cf, CF_MULTIPART_CORE);
		assert_int_equal(mp_cbor_decode(a.payload, a.len, it, 2, &n,
		    &why), 0);
		assert_int_equal(n, 2);
		assert_int_equal(it[0].cf, CF_PKCS8);
		assert_int_equal(it[0].len, fx.pk8_len);
		assert_memory_equal(it[0].data, fx.pk8, fx.pk8_len);
		if (skc) {
			assert_int_equal(it[1].cf, CF_PKIX_CERT);
			assert_int_equal(it[1].len, fx.dev_len);
			assert_memory_equal(it[1].data, fx.dev_der, fx.dev_len);
		} else {
			assert_int_equal(it[1].cf, CF_PKCS7_CERTS);
			assert_int_equal(it[1].len, fx.p7dev_len);
			assert_memory_equal(it[1].data, fx.p7dev,
			    fx.p7dev_len);
		}
		answer_clear(&a);

		/* an empty key part, or not multipart at all: 5.02 */
		r = http(200, CT_SKG, nokey, -1);
		run(&a, skc ? EST_OP_SKC : EST_OP_SKG, CF_MULTIPART_CORE,
		    NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-multipart");
		answer_clear(&a);
		r = http(200, CT_CERTS, fx.b64dev, -1);
		run(&a, skc ? EST_OP_SKC : EST_OP_SKG, CF_MULTIPART_CORE,
		    NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-multipart");
		answer_clear(&a);
	}
	free(body);
	free(nokey);
	free(sec1);
}

/* A key part sent as PEM text, and one CMS-protected (280, unopened). */
static void
test_keygen_key_forms(void **state)
{
	static const char	 cms[] = "MAMCAQA=";	/* base64 of 30 03 02 01 00 */
	static const uint8_t	 cms_der[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	char			*b = NULL, *pem = NULL, *k;
	BIO			*bio = BIO_new(BIO_s_mem());
	struct upstream_result	 r;
	struct est_answer	 a;
	struct mp_item		 it[2];
	size_t			 n;
	const char		*why;
	long			 len;

	(void)state;
	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, fx.kdev, NULL, NULL, 0,
	    NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &k);
	assert_true(asprintf(&pem, "%.*s", (int)len, k) > 0);
	BIO_free(bio);
	assert_true(asprintf(&b, "--xYz\r\nContent-Type: application/pkcs8"
	    "\r\n\r\n%s\r\n--xYz\r\nContent-Type: " CT_CERTS "\r\n\r\n%s"
	    "\r\n--xYz--\r\n", pem, fx.b64dev) > 0);
	r = http(200, CT_SKG, b, -1);
	run(&a, EST_OP_SKG, CF_MULTIPART_CORE, NULL, &r, &pol_def);
	assert_int_equal(a.code, EST_CODE(2, 4));
	assert_int_equal(mp_cbor_decode(a.payload, a.len, it, 2, &n, &why), 0);
	assert_int_equal(it[0].cf, CF_PKCS8);
	assert_int_equal(it[0].len, fx.pk8_len);
	assert_memory_equal(it[0].data, fx.pk8, fx.pk8_len);
	answer_clear(&a);
	free(b);

	assert_true(asprintf(&b, "--xYz\r\nContent-Type: " CT_CERTS "\r\n\r\n"
	    "%s\r\n--xYz\r\nContent-Type: application/pkcs7-mime; "
	    "smime-type=server-generated-key\r\n\r\n%s\r\n--xYz--\r\n",
	    fx.b64dev, cms) > 0);
	r = http(200, CT_SKG, b, -1);
	run(&a, EST_OP_SKG, CF_MULTIPART_CORE, NULL, &r, &pol_def);
	assert_int_equal(a.code, EST_CODE(2, 4));
	assert_int_equal(mp_cbor_decode(a.payload, a.len, it, 2, &n, &why), 0);
	assert_int_equal(it[0].cf, CF_PKCS7_SGK);
	assert_int_equal(it[0].len, sizeof(cms_der));
	assert_memory_equal(it[0].data, cms_der, sizeof(cms_der));
	assert_int_equal(it[1].cf, CF_PKCS7_CERTS);
	answer_clear(&a);
	free(b);
	free(pem);
}

/* 202 and 503 (and 423, 429): 5.03 with Max-Age, for every operation. */
static void
test_retry(void **state)
{
	static const struct {
		long	 status, retry_after;
		int	 def_max_age, max_age;
	} cases[] = {
		{ 202, -1, 60, 60 },		/* the configured default */
		{ 503, -1, 60, 60 },
		{ 202, 5, 60, 5 },		/* Retry-After wins */
		{ 503, 0, 60, 0 },
		{ 503, 3600, 1, 3600 },
		{ 202, (long)INT_MAX + 10, 60, INT_MAX },	/* clamped */
		{ 503, -1, -5, 0 },		/* never negative */
		{ 429, 7, 60, 7 },
		{ 423, -1, 30, 30 },
	};
	struct req_policy	 pol = pol_def;
	struct upstream_result	 r;
	struct est_answer	 a;

	(void)state;
	for (int id = 0; id < EST_OP_COUNT; id++)
		for (size_t i = 0; i < NELEM(cases); i++) {
			r = http(cases[i].status, "text/plain", "later",
			    cases[i].retry_after);
			pol.retry_max_age = cases[i].def_max_age;
			run(&a, (enum est_op_id)id, CF_PKCS7_CERTS, NULL, &r,
			    &pol);
			assert_error(&a, EST_CODE(5, 3), "upstream-status");
			if (a.max_age != cases[i].max_age)
				fail_msg("op %d case %zu: max_age %d, want "
				    "%d", id, i, a.max_age,
				    cases[i].max_age);
			answer_clear(&a);
		}
}

/* Error statuses: the code, no Max-Age, the text body as diagnostic. */
static void
test_error_status(void **state)
{
	static const struct {
		long		 status;
		unsigned	 code;
	} cases[] = {
		{ 400, EST_CODE(4, 0) }, { 401, EST_CODE(4, 1) },
		{ 403, EST_CODE(4, 3) }, { 404, EST_CODE(4, 4) },
		{ 409, EST_CODE(4, 0) }, { 413, EST_CODE(4, 13) },
		{ 405, EST_CODE(5, 2) }, { 415, EST_CODE(5, 2) },
		{ 500, EST_CODE(5, 0) }, { 501, EST_CODE(5, 1) },
		{ 502, EST_CODE(5, 2) }, { 504, EST_CODE(5, 4) },
		{ 599, EST_CODE(5, 0) }, { 302, EST_CODE(5, 2) },
		{ 201, EST_CODE(5, 2) },
	};
	struct upstream_result	 r;
	struct est_answer	 a;
	char			 want[64];

	(void)state;
	for (int id = 0; id < EST_OP_COUNT; id++)
		for (size_t i = 0; i < NELEM(cases); i++) {
			long s = cases[i].status;

			r = http(s, "text/plain; charset=utf-8",
			    "denied\x01\tby policy", -1);
			run(&a, (enum est_op_id)id, CF_PKCS7_CERTS, NULL, &r,
			    &pol_def);
			assert_error(&a, cases[i].code, "upstream-status");
			assert_int_equal(a.max_age, -1);
			snprintf(want, sizeof(want), "upstream answered HTTP "
			    "%ld", s);
			/* 4xx/5xx text bodies are the diagnostic, cleaned */
			if (s >= 400)
				assert_non_null(strstr(a.diag, "by policy"));
			else
				assert_string_equal(a.diag, want);
			answer_clear(&a);

			/* a body that is not text is not shown */
			r = http(s, "text/html", "<b>secret</b>", -1);
			run(&a, (enum est_op_id)id, CF_PKCS7_CERTS, NULL, &r,
			    &pol_def);
			assert_error(&a, cases[i].code, "upstream-status");
			assert_string_equal(a.diag, want);
			answer_clear(&a);
		}
}

/* A timeout is 5.04, any other transport failure 5.02. */
static void
test_transport(void **state)
{
	struct upstream_result	 r = http(0, NULL, NULL, -1);
	struct est_answer	 a;

	(void)state;
	for (int id = 0; id < EST_OP_COUNT; id++) {
		r.end = UPSTREAM_TIMEOUT;
		run(&a, (enum est_op_id)id, CF_PKCS7_CERTS, NULL, &r,
		    &pol_def);
		assert_error(&a, EST_CODE(5, 4), "upstream-timeout");
		answer_clear(&a);
		r.end = UPSTREAM_FAILED;
		run(&a, (enum est_op_id)id, CF_PKCS7_CERTS, NULL, &r,
		    &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-failed");
		answer_clear(&a);
	}
}

/* A 200 body that fails a check never reaches the device: 5.02. */
static void
test_bad_body(void **state)
{
	static const enum est_op_id ids[] = {
		EST_OP_CRTS, EST_OP_SEN, EST_OP_SREN, EST_OP_ATT,
	};
	char			*junk = b64((const uint8_t *)"\x30\x03\x02\x01"
			    "\x05not der", 12);
	char			*attrs = b64(attrs_der, sizeof(attrs_der));
	struct upstream_result	 r;
	struct est_answer	 a;
	const char		*ct, *good;

	(void)state;
	for (size_t i = 0; i < NELEM(ids); i++) {
		ct = ids[i] == EST_OP_ATT ? CT_ATTRS : CT_CERTS;
		good = ids[i] == EST_OP_ATT ? attrs : fx.b64ca;
		r = http(200, ct, "!!not base64\x7f\x80", -1);
		run(&a, ids[i], CF_PKCS7_CERTS, NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-base64");
		answer_clear(&a);

		r = http(200, ct, junk, -1);
		run(&a, ids[i], CF_PKCS7_CERTS, NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-der");
		answer_clear(&a);

		r = http(200, "text/plain", good, -1);
		run(&a, ids[i], CF_PKCS7_CERTS, NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-type");
		answer_clear(&a);

		r = http(200, NULL, good, -1);
		run(&a, ids[i], CF_PKCS7_CERTS, NULL, &r, &pol_def);
		assert_error(&a, EST_CODE(5, 2), "upstream-bad-type");
		answer_clear(&a);
	}
	/* csrattrs are not a certificate bundle, nor the reverse */
	r = http(200, CT_CERTS, attrs, -1);
	run(&a, EST_OP_CRTS, CF_PKCS7_CERTS, NULL, &r, &pol_def);
	assert_error(&a, EST_CODE(5, 2), "upstream-bad-der");
	answer_clear(&a);
	free(junk);
	free(attrs);
}

/* answer_body (the cache) and answer_error. */
static void
test_body_and_error(void **state)
{
	struct est_answer	 a;
	char			 longdiag[400];

	(void)state;
	memset(&a, 0, sizeof(a));
	answer_body(&a, op(EST_OP_CRTS), CF_PKCS7_CERTS, fx.p7two,
	    fx.p7two_len);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_PKCS7_CERTS);
	assert_bytes(&a, fx.p7two, fx.p7two_len);
	answer_body(&a, op(EST_OP_CRTS), CF_PKIX_CERT, fx.p7ca, fx.p7ca_len);
	assert_int_equal(a.cf, CF_PKIX_CERT);
	assert_bytes(&a, fx.ca_der, fx.ca_len);
	answer_body(&a, op(EST_OP_CRTS), CF_PKIX_CERT, fx.p7two,
	    fx.p7two_len);
	assert_error(&a, EST_CODE(4, 6), "accept-287-several-certs");

	memset(longdiag, 'x', sizeof(longdiag) - 1);
	longdiag[sizeof(longdiag) - 1] = '\0';
	answer_error(&a, EST_CODE(4, 3), "why", longdiag);
	assert_error(&a, EST_CODE(4, 3), "why");
	assert_int_equal(strlen(a.diag), sizeof(a.diag) - 1);
	assert_int_equal(a.max_age, -1);
	answer_error(&a, EST_CODE(5, 0), "none", NULL);
	assert_string_equal(a.diag, "");
	answer_clear(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crts_ok),
		cmocka_unit_test(test_enroll_ok),
		cmocka_unit_test(test_att),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_keygen_key_forms),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_error_status),
		cmocka_unit_test(test_transport),
		cmocka_unit_test(test_bad_body),
		cmocka_unit_test(test_body_and_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
