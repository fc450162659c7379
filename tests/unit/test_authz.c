/*
 * Unit tests for authz: the "auth" parser and the CSR policy checks that
 * need no DTLS session. CSRs are made here with the OpenSSL API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "authz.h"
#include "csr.h"
#include "config.h"
#include "util.h"
#include "estcoapd.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Parse JSON text as an auth section; errors into e. */
static struct authz *
parse(const char *json, struct errlist *e)
{
	cJSON		*o = cJSON_Parse(json);
	struct authz	*az;

	assert_non_null(o);
	az = authz_parse(o, "auth", "t.json", e);
	cJSON_Delete(o);
	return az;
}

/* A DER CSR for a fresh key of the given kind ("P-256", "RSA1024", ...). */
static uint8_t *
make_csr(const char *kind, int with_password, size_t *len)
{
	EVP_PKEY	*k;
	X509_REQ	*r = X509_REQ_new();
	uint8_t		*der = NULL, *copy;
	int		 n;

	if (strcmp(kind, "RSA1024") == 0)
		k = EVP_RSA_gen(1024);
	else if (strcmp(kind, "Ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k = EVP_EC_gen(kind);
	assert_non_null(k);
	assert_non_null(r);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r),
	    "CN", MBSTRING_ASC, (const unsigned char *)"dev", -1, -1, 0), 1);
	assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
	if (with_password)
		assert_int_equal(X509_REQ_add1_attr_by_NID(r,
		    NID_pkcs9_challengePassword, MBSTRING_ASC,
		    (const unsigned char *)"AAAAAAAAAAAAAAAA", -1), 1);
	assert_true(X509_REQ_sign(r, k, strcmp(kind, "Ed25519") == 0 ? NULL :
	    EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	assert_true(n > 0);
	copy = malloc((size_t)n);
	memcpy(copy, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	X509_REQ_free(r);
	EVP_PKEY_free(k);
	return copy;
}

/* Every bad value is named with its path; good ones parse quietly. */
static void
test_parse_errors(void **state)
{
	static const struct {
		const char	*json;
		const char	*want;	/* NULL: no error */
	} cases[] = {
		{ "{}", NULL },
		{ "{\"pop\": \"required\", \"allow_expired\": true, "
		  "\"rules\": [], \"crl\": []}", NULL },
		{ "{\"rules\": [{\"issuer\": \"/O=x/*\", \"operations\": "
		  "[\"crts\", \"sen\"]}]}", NULL },
		{ "{\"colour\": 1}", "auth.colour: unknown key" },
		{ "{\"pop\": \"sometimes\"}", "auth.pop: must be" },
		{ "{\"pop\": \"off\", \"pop\": \"off\"}", "auth.pop: duplicate" },
		{ "{\"trust\": []}", "auth.trust: must be an array of 1..64" },
		{ "{\"trust\": [\"\"]}", "auth.trust[0]: must be a non-empty" },
		{ "{\"allow_expired\": 1}", "auth.allow_expired: must be true" },
		{ "{\"rules\": [{\"operations\": [\"enroll\"]}]}",
		  "auth.rules[0].operations: \"enroll\"" },
		{ "{\"rules\": [{\"issuer\": 3}]}", "auth.rules[0].issuer" },
		{ "{\"rules\": [{\"who\": \"x\"}]}", "auth.rules[0].who: unknown" },
		{ "{\"rules\": [7]}", "auth.rules[0]: must be an object" },
		{ "{\"csr_key_types\": [\"DSA\"]}", "\"DSA\" is not one of" },
		{ "{\"csr_key_types\": []}", "csr_key_types: must be a non-empty" },
		{ "{\"csr_rsa_min_bits\": 512}", "csr_rsa_min_bits: must be an "
		  "integer 1024..16384" },
		{ "{\"csr_rsa_min_bits\": 4096, \"csr_rsa_max_bits\": 2048}",
		  "must not exceed csr_rsa_max_bits" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct errlist	 e = { 0 };
		struct authz	*az = parse(cases[i].json, &e);

		assert_non_null(az);
		if (cases[i].want == NULL && e.count != 0)
			fail_msg("%s: unexpected: %s", cases[i].json, e.text);
		if (cases[i].want != NULL && (e.count == 0 ||
		    strstr(e.text, cases[i].want) == NULL))
			fail_msg("%s: want \"%s\", got \"%s\"", cases[i].json,
			    cases[i].want, e.text != NULL ? e.text : "");
		authz_free(az);
		errlist_free(&e);
	}
}

/*
 * The CSR checks on a DER request as the request path runs them: decoded
 * once (csr_parse; a request that does not decode is 4.00 "bad CSR"),
 * without a DTLS session, or with its parts given directly.
 */
static unsigned
check_der_peer(const struct authz *az, X509 *x, const uint8_t *tlsu,
    size_t tlsulen, int keycheck, int opid, const uint8_t *der, size_t len,
    const char **idr, char *why, size_t whysz)
{
	const char	*err;
	struct est_csr	*c = csr_parse(der, len, &err);
	unsigned	 code;

	code = authz_check_csr_peer(az, x, tlsu, tlsulen, keycheck, opid, c,
	    idr, why, whysz);
	csr_free(c);
	return code;
}

static unsigned
check_der(const struct authz *az, int keycheck, int opid, const uint8_t *der,
    size_t len, const char **idr, char *why, size_t whysz)
{
	return check_der_peer(az, NULL, NULL, 0, keycheck, opid, der, len, idr,
	    why, whysz);
}

/* Defaults: no trust of its own, no CRL, nothing forwarded, PoP off. */
static void
test_defaults(void **state)
{
	struct errlist	 e = { 0 };
	struct authz	*az = authz_parse(NULL, "auth", "t.json", &e);
	uint8_t		*csr;
	size_t		 len;
	char		 why[160];
	const char	*idr;

	(void)state;
	assert_int_equal(e.count, 0);
	assert_false(authz_has_trust(az));
	assert_false(authz_has_crl(az));
	assert_false(authz_allows_expired(az));
	assert_false(authz_forwards_cert(az));
	/* PoP off: a challengePassword is not looked at */
	csr = make_csr("P-256", 1, &len);
	assert_int_equal(check_der(az, 1, 0, csr, len, &idr, why,
	    sizeof(why)), 0);
	free(csr);
	authz_free(az);
}

/* The key policy: default P-256, P-384, RSA 2048..8192; configurable. */
static void
test_key_policy(void **state)
{
	static const struct {
		const char	*kind;
		unsigned	 def;	/* code under the defaults */
		unsigned	 listed;/* under P-521 + Ed25519 + RSA >= 1024 */
	} cases[] = {
		{ "P-256", 0, EST_CODE(4, 0) },
		{ "P-384", 0, EST_CODE(4, 0) },
		{ "P-521", EST_CODE(4, 0), 0 },
		{ "Ed25519", EST_CODE(4, 0), 0 },
		{ "RSA1024", EST_CODE(4, 0), 0 },
	};
	struct errlist	 e = { 0 };
	struct authz	*def = authz_parse(NULL, "auth", "t.json", &e);
	struct authz	*lst = parse("{\"csr_key_types\": [\"P-521\", "
			    "\"Ed25519\", \"RSA\"], \"csr_rsa_min_bits\": 1024}",
			    &e);
	char		 why[160];
	const char	*idr;

	(void)state;
	assert_int_equal(e.count, 0);
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t	 len;
		uint8_t	*csr = make_csr(cases[i].kind, 0, &len);

		if (check_der(def, 1, 0, csr, len, &idr, why,
		    sizeof(why)) != cases[i].def)
			fail_msg("%s under the defaults", cases[i].kind);
		if (check_der(lst, 1, 0, csr, len, &idr, why,
		    sizeof(why)) != cases[i].listed)
			fail_msg("%s under the list", cases[i].kind);
		/* skg/skc: the CSR key is not the certified one */
		assert_int_equal(check_der(def, 0, 0, csr, len, &idr, why,
		    sizeof(why)), 0);
		free(csr);
	}
	authz_free(def);
	authz_free(lst);
}

/* Without a DTLS session: sren and required PoP refuse, rules too. */
static void
test_no_session(void **state)
{
	struct errlist	 e = { 0 };
	struct authz	*az = parse("{\"pop\": \"required\", \"rules\": "
			    "[{\"operations\": [\"crts\"]}]}", &e);
	struct authz	*ip = parse("{\"pop\": \"if-present\"}", &e);
	uint8_t		*csr, *pw;
	size_t		 len, pwlen;
	char		 why[160];
	const char	*idr;

	(void)state;
	assert_int_equal(e.count, 0);
	csr = make_csr("P-256", 0, &len);
	pw = make_csr("P-256", 1, &pwlen);
	assert_int_equal(check_der(az, 1, 1, csr, len, &idr, why,
	    sizeof(why)), EST_CODE(4, 3));
	assert_int_equal(check_der(az, 1, 0, csr, len, &idr, why,
	    sizeof(why)), EST_CODE(4, 1));
	assert_non_null(strstr(why, "required"));
	assert_int_equal(check_der(az, 1, 0, pw, pwlen, &idr, why,
	    sizeof(why)), EST_CODE(4, 1));
	assert_int_equal(check_der(ip, 1, 0, csr, len, &idr, why,
	    sizeof(why)), 0);
	assert_int_equal(check_der(ip, 1, 0, pw, pwlen, &idr, why,
	    sizeof(why)), EST_CODE(4, 1));
	assert_int_equal(check_der(az, 1, 0, (const uint8_t *)
	    "\x30\x00", 2, &idr, why, sizeof(why)), EST_CODE(4, 0));
	assert_int_equal(authz_rules_allow(az, NULL, "crts", why,
	    sizeof(why)), -1);
	assert_int_equal(authz_verify_device(az, NULL, why, sizeof(why)), -1);
	free(csr);
	free(pw);
	authz_free(az);
	authz_free(ip);
}

/*
 * PoP with the session's parts given directly (authz_check_csr_peer):
 * the CSR's challengePassword "AAAAAAAAAAAAAAAA" is base64 of 12 zero
 * bytes, so it matches that tls-unique and no other.
 */
static void
test_pop_peer(void **state)
{
	static const uint8_t	 zero[12], one[12] = { 1 };
	struct errlist		 e = { 0 };
	struct authz		*az = parse("{\"pop\": \"required\"}", &e);
	uint8_t			*pw, *csr;
	size_t			 pwlen, len;
	char			 why[160];
	const char		*idr;

	(void)state;
	assert_int_equal(e.count, 0);
	pw = make_csr("P-256", 1, &pwlen);
	csr = make_csr("P-256", 0, &len);
	assert_int_equal(check_der_peer(az, NULL, zero, sizeof(zero), 1,
	    0, pw, pwlen, &idr, why, sizeof(why)), 0);
	assert_int_equal(check_der_peer(az, NULL, one, sizeof(one), 1,
	    0, pw, pwlen, &idr, why, sizeof(why)), EST_CODE(4, 1));
	assert_non_null(strstr(why, "does not match"));
	assert_int_equal(check_der_peer(az, NULL, zero, 0, 1, 0, pw,
	    pwlen, &idr, why, sizeof(why)), EST_CODE(4, 1));
	assert_non_null(strstr(why, "no tls-unique"));
	assert_int_equal(check_der_peer(az, NULL, zero, sizeof(zero), 1,
	    0, csr, len, &idr, why, sizeof(why)), EST_CODE(4, 1));
	free(pw);
	free(csr);
	authz_free(az);
}

/*
 * A CSR whose public key does not decode (an EC point of an unknown
 * form) is refused by the key check with a reason, not an empty one.
 * Found by the fuzz target csr.
 */
static void
test_bad_key(void **state)
{
	struct errlist	 e = { 0 };
	struct authz	*az = authz_parse(NULL, "auth", "t.json", &e);
	size_t		 len, plen;
	uint8_t		*csr = make_csr("P-256", 0, &len), *at;
	unsigned char	*pub = NULL;
	EVP_PKEY	*k;
	const uint8_t	*p = csr;
	X509_REQ	*r = d2i_X509_REQ(NULL, &p, (long)len);
	char		 why[160];
	const char	*idr;

	(void)state;
	assert_non_null(r);
	assert_non_null(k = X509_REQ_get0_pubkey(r));
	plen = EVP_PKEY_get1_encoded_public_key(k, &pub);
	assert_int_equal(plen, 65);
	assert_non_null(at = memmem(csr, len, pub, plen));
	at[0] = 0x05;		/* no point form (02, 03, 04, 06, 07) */
	why[0] = '\0';
	assert_int_equal(check_der_peer(az, NULL, NULL, 0, 1, 0, csr, len,
	    &idr, why, sizeof(why)), EST_CODE(4, 0));
	assert_non_null(strstr(why, "public key"));
	OPENSSL_free(pub);
	X509_REQ_free(r);
	free(csr);
	authz_free(az);
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_key_policy),
		cmocka_unit_test(test_no_session),
		cmocka_unit_test(test_pop_peer),
		cmocka_unit_test(test_bad_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
