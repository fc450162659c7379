/*
 * Unit tests for the CSR identity policy (csrid.c): the device certificate
 * and the CSRs are made here with the OpenSSL API, so every comparison
 * rule (Subject, attributes, each SAN type, wildcards, RDN order, case
 * and space folding) is checked without a DTLS session.
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
#include <openssl/x509v3.h>

#include "authz.h"
#include "config.h"
#include "util.h"
#include "csr.h"
#include "csrid.h"
#include "estcoapd.h"
#include "est_map.h"
#include "testcerts.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The device: the test PKI's IDevID names, plus SANs of every kind. */
#define DEV_SUBJ	"/O=Example Manufacturer/serialNumber=SN-0001/" \
			"CN=device-0001"
#define DEV_SAN		"DNS:device-0001.devices.example, " \
			"DNS:*.wild.example, IP:192.0.2.7, IP:2001:db8::7, " \
			"URI:urn:dev:sn:SN-0001, email:Dev@Devices.Example, " \
			"otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0001"

static EVP_PKEY *key;

/* The device certificate (self-signed: only its names matter here). */
static X509 *
device(const char *subj, const char *san)
{
	X509		*x = X509_new();
	X509_NAME	*n = testcert_name(subj);

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	if (san != NULL) {
		X509_EXTENSION *e = testcert_san(san);

		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* A CSR with those names; csn: add a ChangeSubjectName attribute. */
static X509_REQ *
csr(const char *subj, const char *san, int csn)
{
	X509_REQ	*r = X509_REQ_new();
	X509_NAME	*n = testcert_name(subj);

	assert_non_null(r);
	X509_REQ_set_subject_name(r, n);
	X509_NAME_free(n);
	X509_REQ_set_pubkey(r, key);
	if (san != NULL) {
		STACK_OF(X509_EXTENSION) *sk = sk_X509_EXTENSION_new_null();

		sk_X509_EXTENSION_push(sk, testcert_san(san));
		X509_REQ_add_extensions(r, sk);
		sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	}
	if (csn) {
		ASN1_OBJECT *o = OBJ_txt2obj("1.3.6.1.5.5.7.7.36", 1);

		assert_int_equal(X509_REQ_add1_attr_by_OBJ(r, o,
		    V_ASN1_UTF8STRING, (const unsigned char *)"x", 1), 1);
		ASN1_OBJECT_free(o);
	}
	assert_true(X509_REQ_sign(r, key, EVP_sha256()) > 0);
	return r;
}

/* A policy from JSON text (an "auth" object); no errors expected. */
static struct csrid *
policy(const char *json)
{
	struct errlist	 e = { 0 };
	cJSON		*o = json != NULL ? cJSON_Parse(json) : NULL;
	struct csrid	*id = csrid_parse(o, "auth", "t.json", &e);

	if (e.count != 0)
		fail_msg("%s: %s", json, e.text);
	cJSON_Delete(o);
	return id;
}

/*
 * csrid_check on a request as the request path sees it: encoded, then
 * decoded once (csr_parse).
 */
static int
check_req(const struct csrid *id, X509_REQ *r, X509 *dev,
    const char **reason, char *why, size_t whysz)
{
	unsigned char	*der = NULL;
	int		 n = i2d_X509_REQ(r, &der), rc;
	const char	*err;
	struct est_csr	*c;

	assert_true(n > 0);
	assert_non_null(c = csr_parse(der, (size_t)n, &err));
	OPENSSL_free(der);
	rc = csrid_check(id, c, dev, reason, why, whysz);
	csr_free(c);
	return rc;
}

struct tcase {
	const char	*subj;
	const char	*san;		/* NULL: no SAN extension */
	const char	*want;		/* NULL: allowed, else the reason */
};

/* Run cases against one policy and the standard device. */
static void
run(const char *json, const struct tcase *c, size_t n)
{
	struct csrid	*id = policy(json);
	X509		*dev = device(DEV_SUBJ, DEV_SAN);
	char		 why[200];

	for (size_t i = 0; i < n; i++) {
		X509_REQ	*r = csr(c[i].subj, c[i].san, 0);
		const char	*reason = NULL;
		int		 rc = check_req(id, r, dev, &reason, why,
				    sizeof(why));

		if (c[i].want == NULL && rc != 0)
			fail_msg("%s: %s %s: refused: %s", json ? json : "{}",
			    c[i].subj, c[i].san ? c[i].san : "", why);
		if (c[i].want != NULL && (rc != -1 || reason == NULL ||
		    strcmp(reason, c[i].want) != 0))
			fail_msg("%s: %s %s: want %s, got %s", json ? json :
			    "{}", c[i].subj, c[i].san ? c[i].san : "",
			    c[i].want, rc == 0 ? "allowed" : reason);
		if (rc == -1 && strncmp(why, "csr identity ", 13) != 0)
			fail_msg("why without the reason: %s", why);
		X509_REQ_free(r);
	}
	X509_free(dev);
	csrid_free(id);
}

/* The default: the Subject, compared by RFC 5280 rules; SANs a subset. */
static void
test_subject(void **state)
{
	static const struct tcase c[] = {
		{ DEV_SUBJ, NULL, NULL },
		/* case and inner spaces fold (RFC 5280 7.1, RFC 4518) */
		{ "/O=example  MANUFACTURER/serialNumber=sn-0001/"
		  "CN=Device-0001", NULL, NULL },
		/* the reproductions */
		{ "/O=estcoapd test/CN=ldev-0001",
		  "DNS:ldev-0001.devices.example", "subject" },
		{ "/CN=registrar.example",
		  "DNS:est.example.net, DNS:*.devices.example", "subject" },
		{ "/CN=device-0001", NULL, "subject" },
		/* RDN order matters: a DN is a sequence */
		{ "/CN=device-0001/serialNumber=SN-0001/O=Example Manufacturer",
		  NULL, "subject" },
		/* an extra RDN, or one missing */
		{ DEV_SUBJ "/OU=admins", NULL, "subject" },
		{ "/O=Example Manufacturer/CN=device-0001", NULL, "subject" },
		/* SANs: each one the device certificate's, in any order */
		{ DEV_SUBJ, "IP:2001:db8:0:0::7, DNS:DEVICE-0001.devices.example",
		  NULL },
		{ DEV_SUBJ, "URI:urn:dev:sn:SN-0001, IP:192.0.2.7", NULL },
		{ DEV_SUBJ, "email:Dev@devices.example", NULL },
		{ DEV_SUBJ, "otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0001", NULL },
		{ DEV_SUBJ, "DNS:*.wild.example", NULL },
		{ DEV_SUBJ, "DNS:other.devices.example", "san" },
		{ DEV_SUBJ, "DNS:*.devices.example", "wildcard" },
		{ DEV_SUBJ, "DNS:a.wild.example", "san" },
		{ DEV_SUBJ, "IP:192.0.2.8", "san" },
		{ DEV_SUBJ, "IP:::ffff:192.0.2.7", "san" },
		{ DEV_SUBJ, "URI:urn:dev:sn:SN-0002", "san" },
		{ DEV_SUBJ, "URI:URN:dev:sn:SN-0001", "san" },
		/* the local part of an address keeps its case */
		{ DEV_SUBJ, "email:dev@devices.example", "san" },
		{ DEV_SUBJ, "otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0002", "san" },
		{ DEV_SUBJ, "otherName:1.3.6.1.5.5.7.8.9;UTF8:hwsn-0001", "san" },
		{ DEV_SUBJ, "RID:1.2.3.4", "san" },
	};

	(void)state;
	run(NULL, c, NELEM(c));
	run("{\"csr_identity\": \"subject\"}", c, NELEM(c));
}

/* csr_identity_san: none and any. */
static void
test_san_modes(void **state)
{
	static const struct tcase none[] = {
		{ DEV_SUBJ, NULL, NULL },
		{ DEV_SUBJ, "DNS:device-0001.devices.example", "san" },
	};
	static const struct tcase any[] = {
		{ DEV_SUBJ, "DNS:*.devices.example, IP:10.0.0.1", NULL },
		{ "/CN=device-0001", NULL, "subject" },
	};

	(void)state;
	run("{\"csr_identity_san\": \"none\"}", none, NELEM(none));
	run("{\"csr_identity_san\": \"any\"}", any, NELEM(any));
}

/* Only the named attributes must match; the rest of the Subject is free. */
static void
test_attribute(void **state)
{
	static const struct tcase sn[] = {
		{ "/O=Anything/CN=ldev/serialNumber=SN-0001", NULL, NULL },
		{ "/serialNumber=sn-0001", NULL, NULL },
		{ "/CN=ldev/serialNumber=SN-0002", NULL, "attribute" },
		{ "/CN=ldev", NULL, "attribute" },
		{ "/serialNumber=SN-0001/serialNumber=SN-0002", NULL,
		  "attribute" },
		{ "/serialNumber=SN-0001", "DNS:*.devices.example",
		  "wildcard" },
		{ "/serialNumber=SN-0001", "IP:192.0.2.7", NULL },
		/* a multi-valued RDN: its members are attributes too */
		{ "/O=x/CN=y+serialNumber=SN-0001", NULL, NULL },
	};
	static const struct tcase two[] = {
		{ "/CN=device-0001/serialNumber=SN-0001", NULL, NULL },
		{ "/serialNumber=SN-0001", NULL, "attribute" },
	};
	static const struct tcase ou[] = {
		{ DEV_SUBJ, NULL, "attribute" },	/* the device has none */
	};

	(void)state;
	run("{\"csr_identity\": \"attribute\"}", sn, NELEM(sn));
	run("{\"csr_identity\": \"attribute\", \"csr_identity_attributes\": "
	    "[\"serialNumber\", \"CN\"]}", two, NELEM(two));
	run("{\"csr_identity\": \"attribute\", \"csr_identity_attributes\": "
	    "[\"OU\"]}", ou, NELEM(ou));
}

/* The template: Subject and SANs built from the device's attributes. */
static void
test_template(void **state)
{
	static const struct tcase c[] = {
		{ "/O=Example Operator/CN=device-0001",
		  "DNS:device-0001.ops.example, IP:10.1.2.3", NULL },
		{ "/O=example operator/CN=DEVICE-0001", NULL, NULL },
		{ "/O=Example Operator/CN=device-0001",
		  "URI:urn:sn:SN-0001", NULL },
		{ "/O=Example Operator/CN=device-0002", NULL, "template" },
		{ DEV_SUBJ, NULL, "template" },
		{ "/O=Example Operator/CN=device-0001",
		  "DNS:device-0002.ops.example", "template" },
		{ "/O=Example Operator/CN=device-0001",
		  "DNS:*.ops.example", "wildcard" },
		{ "/O=Example Operator/CN=device-0001",
		  "otherName:1.3.6.1.5.5.7.8.4;UTF8:hwsn-0001", "template" },
		{ "/O=Example Operator/CN=device-0001", "IP:10.1.2.4",
		  "template" },
	};
	static const struct tcase nosubj[] = {
		{ DEV_SUBJ, NULL, NULL },
		{ "/CN=device-0001", NULL, "subject" },
	};
	static const struct tcase missing[] = {
		{ "/OU=x", NULL, "template" },
	};

	(void)state;
	run("{\"csr_identity\": \"template\", \"csr_identity_template\": "
	    "{\"subject\": \"/O=Example Operator/CN=${subject.CN}\", \"san\": "
	    "[\"DNS:${subject.CN}.ops.example\", \"IP:10.1.2.3\", "
	    "\"URI:urn:sn:${subject.serialNumber}\"]}}", c, NELEM(c));
	run("{\"csr_identity\": \"template\", \"csr_identity_template\": "
	    "{}}", nosubj, NELEM(nosubj));
	/* the device has no OU: the template cannot be satisfied */
	run("{\"csr_identity\": \"template\", \"csr_identity_template\": "
	    "{\"subject\": \"/OU=${subject.OU}\"}}", missing, NELEM(missing));
}

/* "any" lets everything through; no device certificate is refused. */
static void
test_any_and_edges(void **state)
{
	static const struct tcase any[] = {
		{ "/CN=registrar.example", "DNS:*.devices.example", NULL },
	};
	struct csrid	*id = policy(NULL);
	X509		*dev = device(DEV_SUBJ, NULL);
	X509_REQ	*r = csr(DEV_SUBJ, NULL, 1);
	const char	*reason;
	char		 why[200];

	(void)state;
	run("{\"csr_identity\": \"any\"}", any, NELEM(any));
	/* ChangeSubjectName would ask the CA for another Subject */
	assert_int_equal(check_req(id, r, dev, &reason, why, sizeof(why)),
	    -1);
	assert_string_equal(reason, "change-subject");
	X509_REQ_free(r);
	r = csr(DEV_SUBJ, NULL, 0);
	assert_int_equal(check_req(id, r, NULL, &reason, why, sizeof(why)),
	    -1);
	assert_string_equal(reason, "no-certificate");
	/* a device without SANs: any SAN in the CSR is refused */
	assert_int_equal(check_req(id, r, dev, &reason, why, sizeof(why)),
	    0);
	X509_REQ_free(r);
	r = csr(DEV_SUBJ, "DNS:device-0001.devices.example", 0);
	assert_int_equal(check_req(id, r, dev, &reason, why, sizeof(why)),
	    -1);
	assert_string_equal(reason, "san");
	assert_non_null(strstr(why, "DNS:device-0001.devices.example"));
	X509_REQ_free(r);
	X509_free(dev);
	csrid_free(id);
}

/* Bad values are named with their path. */
static void
test_parse_errors(void **state)
{
	static const struct {
		const char	*json;
		const char	*want;
	} cases[] = {
		{ "{\"csr_identity\": \"cn\"}", "auth.csr_identity: must be "
		  "\"subject\", \"attribute\", \"template\" or \"any\"" },
		{ "{\"csr_identity_san\": 1}", "auth.csr_identity_san: must be" },
		{ "{\"csr_identity_attributes\": [\"CN\"]}",
		  "only with csr_identity \"attribute\"" },
		{ "{\"csr_identity\": \"attribute\", "
		  "\"csr_identity_attributes\": []}", "array of 1..8" },
		{ "{\"csr_identity\": \"attribute\", "
		  "\"csr_identity_attributes\": [\"colour\"]}",
		  "\"colour\" is not an attribute name" },
		{ "{\"csr_identity\": \"template\"}", "needs "
		  "csr_identity_template" },
		{ "{\"csr_identity_template\": {}}", "only with csr_identity "
		  "\"template\"" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"subject\": \"CN=x\"}}", "must be \"/ATTR=value/...\"" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"subject\": \"/CN=${subject.colour}\"}}",
		  "unknown attribute \"colour\"" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"subject\": \"/CN=${issuer.CN}\"}}",
		  "${subject.ATTRIBUTE}" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"san\": [\"RID:1.2.3\"]}}", "must be DNS:, IP:, URI: or" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"san\": [\"IP:10.1\"]}}", "is not an IP address" },
		{ "{\"csr_identity\": \"template\", \"csr_identity_template\": "
		  "{\"sans\": []}}", "csr_identity_template.sans: unknown key" },
		{ "{\"csr_identity\": \"any\", \"csr_identity_san\": \"any\"}",
		  "csr_identity_san: only with" },
	};

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct errlist	 e = { 0 };
		cJSON		*o = cJSON_Parse(cases[i].json);
		struct authz	*az;

		assert_non_null(o);
		az = authz_parse(o, "auth", "t.json", &e);
		if (e.count == 0 || strstr(e.text, cases[i].want) == NULL)
			fail_msg("%s: want \"%s\", got \"%s\"", cases[i].json,
			    cases[i].want, e.text != NULL ? e.text : "");
		authz_free(az);
		cJSON_Delete(o);
		errlist_free(&e);
	}
}

/* Through authz_check_csr: sen, skg, skc checked; sren by its own rule. */
static void
test_authz_ops(void **state)
{
	struct errlist	 e = { 0 };
	struct authz	*az = authz_parse(NULL, "auth", "t.json", &e);
	X509_REQ	*r = csr("/CN=ldev-0001", NULL, 0);
	unsigned char	*der = NULL;
	const char	*idr;
	char		 why[200];
	int		 n = i2d_X509_REQ(r, &der);
	struct est_csr	*c;

	(void)state;
	assert_true(n > 0);
	assert_non_null(c = csr_parse(der, (size_t)n, &idr));
	assert_int_equal(e.count, 0);
	for (int op = 0; op < EST_OP_COUNT; op++) {
		unsigned code = authz_check_csr(az, NULL, 0, op, c, &idr, why,
		    sizeof(why));

		if (op == EST_OP_SEN || op == EST_OP_SKG || op == EST_OP_SKC) {
			assert_int_equal(code, EST_CODE(4, 3));
			assert_string_equal(idr, "no-certificate");
		} else if (op == EST_OP_SREN) {
			assert_int_equal(code, EST_CODE(4, 3));
			assert_null(idr);
		} else
			assert_int_equal(code, 0);
	}
	csr_free(c);
	OPENSSL_free(der);
	X509_REQ_free(r);
	authz_free(az);
}

static int
setup(void **state)
{
	(void)state;
	key = EVP_EC_gen("P-256");
	return key == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(key);
	return 0;
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_san_modes),
		cmocka_unit_test(test_attribute),
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_any_and_edges),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_authz_ops),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
