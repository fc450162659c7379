/*
 * Unit tests for csr.c (the CSR decoded once per request) and for the
 * audit's pick of the issued certificate, decoded once per answer: every
 * check gives the answer it gave on the DER, from the object alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "authz.h"
#include "csr.h"
#include "est_map.h"
#include "estcoapd.h"
#include "pubkey.h"
#include "testcerts.h"
#include "transcode.h"

#define SUBJ	"/O=Example/CN=device-1"

static EVP_PKEY	*k1, *k2;

/* The DER of a CSR for k with subject SUBJ and nsan SAN extensions. */
static uint8_t *
make_csr_key(EVP_PKEY *k, int nsan, size_t *len)
{
	X509_REQ			*r = X509_REQ_new();
	X509_NAME			*n = testcert_name(SUBJ);
	STACK_OF(X509_EXTENSION)	*sk = sk_X509_EXTENSION_new_null();
	unsigned char			*der = NULL;
	int				 i, dlen;

	assert_non_null(r);
	X509_REQ_set_subject_name(r, n);
	X509_NAME_free(n);
	assert_int_equal(X509_REQ_set_pubkey(r, k), 1);
	for (i = 0; i < nsan; i++)
		sk_X509_EXTENSION_push(sk, testcert_san(i == 0 ?
		    "DNS:a.example" : "DNS:b.example"));
	if (nsan > 0)
		X509_REQ_add_extensions(r, sk);
	sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free);
	/* Ed25519 signs without a separate digest (RFC 8410 6) */
	assert_true(X509_REQ_sign(r, k, EVP_PKEY_is_a(k, "ED25519") ? NULL :
	    EVP_sha256()) > 0);
	assert_true((dlen = i2d_X509_REQ(r, &der)) > 0);
	X509_REQ_free(r);
	*len = (size_t)dlen;
	return der;
}

/* The DER of a CSR for k1 with subject SUBJ and nsan SAN extensions. */
static uint8_t *
make_csr(int nsan, size_t *len)
{
	return make_csr_key(k1, nsan, len);
}

/* A certificate for k with subject subj and serial number serial. */
static X509 *
make_cert(EVP_PKEY *k, const char *subj, long serial)
{
	X509		*x = X509_new();
	X509_NAME	*n = testcert_name(subj);

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_PKEY_is_a(k, "ED25519") ? NULL :
	    EVP_sha256()) > 0);
	return x;
}

/* A certs-only PKCS#7 of a and b (b may be NULL) as DER. */
static uint8_t *
make_p7(X509 *a, X509 *b, size_t *len)
{
	PKCS7		*p7 = PKCS7_new();
	unsigned char	*der = NULL;
	int		 n;

	assert_non_null(p7);
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	(void)PKCS7_set_detached(p7, 1);
	assert_int_equal(PKCS7_add_certificate(p7, a), 1);
	if (b != NULL)
		assert_int_equal(PKCS7_add_certificate(p7, b), 1);
	assert_true((n = i2d_PKCS7(p7, &der)) > 0);
	PKCS7_free(p7);
	*len = (size_t)n;
	return der;
}

/*
 * The DER is overwritten and freed right after csr_parse: every check
 * still answers as it did on the DER (ASan would see a read of it).
 */
static void
test_parse_once(void **state)
{
	struct authz	*az = authz_parse(NULL, "auth", "t.json", NULL);
	X509		*dev = make_cert(k1, SUBJ, 1);
	X509		*other = make_cert(k2, "/O=Example/CN=device-2", 2);
	size_t		 len;
	uint8_t		*der = make_csr(0, &len), *copy = malloc(len);
	struct est_csr	*c;
	EVP_PKEY	*pk = NULL;
	GENERAL_NAMES	*g;
	const char	*why = NULL, *idr;
	char		 buf[200];

	(void)state;
	assert_non_null(copy);
	memcpy(copy, der, len);
	assert_non_null(c = csr_parse(copy, len, &why));
	memset(copy, 0xa5, len);
	free(copy);
	assert_int_equal(tc_csr_check(c, 1, &pk, &why), 0);
	assert_int_equal(EVP_PKEY_eq(pk, k1), 1);
	assert_ptr_equal(csr_key(c), pk);
	assert_int_equal(csr_sans(c, &g), 0);
	assert_null(g);
	audit_csr_subject(c, buf, sizeof(buf));
	assert_string_equal(buf, SUBJ);
	/* key policy, CSR identity (its Subject is the device's), PoP off */
	assert_int_equal(authz_check_csr_peer(az, dev, NULL, 0, 1, EST_OP_SEN,
	    c, &idr, buf, sizeof(buf)), 0);
	assert_int_equal(authz_check_csr_peer(az, other, NULL, 0, 1,
	    EST_OP_SEN, c, &idr, buf, sizeof(buf)), EST_CODE(4, 3));
	assert_string_equal(idr, "subject");
	/* re-enrollment: the same names as the certificate renewed */
	assert_int_equal(authz_check_csr_peer(az, dev, NULL, 0, 1,
	    EST_OP_SREN, c, &idr, buf, sizeof(buf)), 0);
	assert_int_equal(authz_check_csr_peer(az, other, NULL, 0, 1,
	    EST_OP_SREN, c, &idr, buf, sizeof(buf)), EST_CODE(4, 3));
	/* no object (the DER did not decode): 4.00 as before */
	assert_int_equal(authz_check_csr_peer(az, dev, NULL, 0, 1, EST_OP_SEN,
	    NULL, &idr, buf, sizeof(buf)), EST_CODE(4, 0));
	assert_string_equal(buf, "bad CSR");
	audit_csr_subject(NULL, buf, sizeof(buf));
	assert_string_equal(buf, "-");
	csr_free(c);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	X509_free(dev);
	X509_free(other);
	authz_free(az);
}

/*
 * The SubjectPublicKeyInfo of a CSR's key: the CSR's own bytes, the same
 * as the key encoded again, kept with the key after the CSR is freed and
 * copied with it; a key from elsewhere is encoded (i2d_PUBKEY).
 */
static void
test_key_spki(void **state)
{
	size_t		 len;
	uint8_t		*der = make_csr(0, &len);
	const char	*why;
	struct est_csr	*c = csr_parse(der, len, &why);
	EVP_PKEY	*key, *dup;
	unsigned char	*want = NULL, *got = NULL;
	int		 n;

	(void)state;
	assert_non_null(c);
	key = csr_key(c);
	assert_int_equal(EVP_PKEY_up_ref(key), 1);
	csr_free(c);
	assert_true((n = i2d_PUBKEY(key, &want)) > 0);
	assert_int_equal(csr_key_spki(key, &got), n);
	assert_memory_equal(got, want, (size_t)n);
	OPENSSL_free(got);
	assert_non_null(dup = EVP_PKEY_dup(key));
	EVP_PKEY_free(key);
	assert_int_equal(csr_key_spki(dup, &got), n);
	assert_memory_equal(got, want, (size_t)n);
	OPENSSL_free(got);
	EVP_PKEY_free(dup);
	OPENSSL_free(want);
	want = NULL;
	assert_true((n = i2d_PUBKEY(k2, &want)) > 0);
	assert_int_equal(csr_key_spki(k2, &got), n);
	assert_memory_equal(got, want, (size_t)n);
	OPENSSL_free(got);
	OPENSSL_free(want);
	OPENSSL_free(der);
}

/* The subjectAltName extensions: none, one, more than one. */
static void
test_sans(void **state)
{
	struct authz	*az = authz_parse(NULL, "auth", "t.json", NULL);
	X509		*dev = make_cert(k1, SUBJ, 1);
	GENERAL_NAMES	*g;
	const char	*why, *idr;
	char		 buf[200];

	(void)state;
	for (int n = 0; n <= 2; n++) {
		size_t		 len;
		uint8_t		*der = make_csr(n, &len);
		struct est_csr	*c = csr_parse(der, len, &why);

		assert_non_null(c);
		assert_int_equal(csr_sans(c, &g), n);
		if (n == 1)
			assert_int_equal(sk_GENERAL_NAME_num(g), 1);
		else
			assert_null(g);
		/* the device has no SAN: none may be asked for; two: bad */
		authz_check_csr_peer(az, dev, NULL, 0, 1, EST_OP_SEN, c, &idr,
		    buf, sizeof(buf));
		assert_string_equal(idr != NULL ? idr : "", n == 0 ? "" :
		    n == 1 ? "san" : "bad-csr");
		csr_free(c);
		OPENSSL_free(der);
	}
	X509_free(dev);
	authz_free(az);
}

/* The reasons a DER body is not a CSR, as tc_csr_check gave them. */
static void
test_parse_errors(void **state)
{
	size_t		 len;
	uint8_t		*der = make_csr(0, &len), *two = malloc(2 * len);
	const char	*why = NULL;

	(void)state;
	assert_null(csr_parse(der, 0, &why));
	assert_string_equal(why, "empty csr");
	assert_null(csr_parse(der, len - 1, &why));
	assert_string_equal(why, "csr is not a der pkcs#10 request");
	assert_non_null(two);
	memcpy(two, der, len);
	memcpy(two + len, der, len);
	assert_null(csr_parse(two, 2 * len, &why));
	assert_string_equal(why, "trailing bytes after csr");
	free(two);
	OPENSSL_free(der);
}

/* The key of the CSR c as the full decode (d2i_PUBKEY) gives it, or NULL. */
static EVP_PKEY *
full_decode(const struct est_csr *c)
{
	unsigned char		*spki = NULL;
	const unsigned char	*p;
	EVP_PKEY		*k;
	int			 n;

	n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(csr_req(c)), &spki);
	assert_true(n > 0);
	p = spki;
	k = d2i_PUBKEY(NULL, &p, n);
	OPENSSL_free(spki);
	ERR_clear_error();
	return k;
}

/* a and b are the same key: type, size, point or modulus, encoding. */
static void
assert_same_key(EVP_PKEY *a, EVP_PKEY *b)
{
	unsigned char	*da = NULL, *db = NULL;
	int		 na, nb;

	assert_int_equal(EVP_PKEY_eq(a, b), 1);
	assert_int_equal(EVP_PKEY_get_base_id(a), EVP_PKEY_get_base_id(b));
	assert_int_equal(EVP_PKEY_get_bits(a), EVP_PKEY_get_bits(b));
	assert_true((na = i2d_PUBKEY(a, &da)) > 0);
	assert_true((nb = i2d_PUBKEY(b, &db)) > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(da, db, (size_t)na);
	OPENSSL_free(da);
	OPENSSL_free(db);
}

/* A fresh key: "P-256", "P-256c" (compressed point), "RSA", "ED25519". */
static EVP_PKEY *
make_key(const char *kind)
{
	EVP_PKEY	*k;

	if (strcmp(kind, "RSA") == 0)
		k = EVP_RSA_gen(2048);
	else if (strcmp(kind, "ED25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(kind, "P-256c") == 0) {
		k = EVP_EC_gen("P-256");
		assert_non_null(k);
		assert_int_equal(EVP_PKEY_set_utf8_string_param(k,
		    OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED), 1);
	} else
		k = EVP_EC_gen(kind);
	assert_non_null(k);
	return k;
}

/* The CSR der decoded and its signature checked: 0, or -1 and *why. */
static int
check_sig(const uint8_t *der, size_t len, const char **why)
{
	struct est_csr	*c = csr_parse(der, len, why);
	int		 rc;

	assert_non_null(c);
	rc = tc_csr_check(c, 1, NULL, why);
	csr_free(c);
	return rc;
}

/*
 * Every key type: the decode leaves the request's own key undecoded and
 * the thread's default library context as it was; csr_key is the key the
 * full decode gives, in its encoding too (a compressed point stays
 * compressed); the signature verifies with it, and does not when one
 * byte of the signature or of the signed request info is changed.
 */
static void
test_key_types(void **state)
{
	static const struct {
		const char	*kind;
		int		 ptlen;		/* EC: the point's length */
	} t[] = {
		{ "P-256", 65 }, { "P-384", 97 }, { "P-521", 133 },
		{ "P-256c", 33 }, { "RSA", 0 }, { "ED25519", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		EVP_PKEY		*k = make_key(t[i].kind), *full;
		size_t			 len;
		uint8_t			*der = make_csr_key(k, 0, &len), *at;
		OSSL_LIB_CTX		*before = OSSL_LIB_CTX_set0_default(NULL);
		const char		*why = NULL;
		struct est_csr		*c = csr_parse(der, len, &why);
		const unsigned char	*pt;
		int			 ptlen;
		EVP_MD			*md;

		print_message("%s\n", t[i].kind);
		assert_non_null(c);
		assert_int_equal(ERR_peek_error(), 0);
		assert_ptr_equal(OSSL_LIB_CTX_set0_default(NULL), before);
		assert_non_null(md = EVP_MD_fetch(NULL, "SHA2-256", NULL));
		EVP_MD_free(md);
		assert_null(X509_REQ_get0_pubkey(csr_req(c)));
		ERR_clear_error();
		assert_int_equal(X509_PUBKEY_get0_param(NULL, &pt, &ptlen, NULL,
		    X509_REQ_get_X509_PUBKEY(csr_req(c))), 1);
		if (t[i].ptlen != 0)
			assert_int_equal(ptlen, t[i].ptlen);
		assert_non_null(csr_key(c));
		assert_non_null(full = full_decode(c));
		assert_same_key(csr_key(c), full);
		assert_same_key(csr_key(c), k);
		assert_int_equal(tc_csr_check(c, 1, NULL, &why), 0);
		csr_free(c);
		der[len - 1] ^= 0x01;		/* the signature's last byte */
		assert_int_equal(check_sig(der, len, &why), -1);
		assert_string_equal(why, "csr signature does not verify");
		der[len - 1] ^= 0x01;
		assert_non_null(at = memmem(der, len, "device-1", 8));
		at[0] ^= 0x01;			/* the subject: signed info */
		assert_int_equal(check_sig(der, len, &why), -1);
		assert_string_equal(why, "csr signature does not verify");
		at[0] ^= 0x01;
		assert_int_equal(check_sig(der, len, &why), 0);
		EVP_PKEY_free(full);
		EVP_PKEY_free(k);
		OPENSSL_free(der);
	}
}

/*
 * The key of the CSR der with the byte at changed to v: csr_key is NULL
 * exactly when the full decode gives none, else the same key. 1 when
 * there is none (and tc_csr_check says so), 0 when there is.
 */
static int
key_with(uint8_t *der, size_t len, uint8_t *at, uint8_t v)
{
	uint8_t		 was = *at;
	const char	*why = NULL;
	struct est_csr	*c;
	EVP_PKEY	*full;
	int		 none;

	*at = v;
	assert_non_null(c = csr_parse(der, len, &why));
	assert_int_equal(ERR_peek_error(), 0);
	full = full_decode(c);
	if ((none = full == NULL)) {
		assert_null(csr_key(c));
		assert_int_equal(tc_csr_check(c, 1, NULL, &why), -1);
		assert_string_equal(why, "csr public key unusable");
	} else
		assert_same_key(csr_key(c), full);
	EVP_PKEY_free(full);
	csr_free(c);
	*at = was;
	return none;
}

/*
 * An EC point not on its curve, or not a point: no key, as with the full
 * decode. A changed x of a compressed point is on the curve for about
 * half the values: both decodes agree on each. After pubkey_shutdown
 * (the daemon's exit) a decode starts afresh.
 */
static void
test_bad_point(void **state)
{
	static const char *const kinds[] = { "P-256", "P-256c" };

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY	*k = make_key(kinds[i]);
		size_t		 len, plen;
		uint8_t		*der = make_csr_key(k, 0, &len), *at;
		const char	*why;
		struct est_csr	*c = csr_parse(der, len, &why);
		const uint8_t	*pt;
		int		 n, v, off = 0;

		/* the point as the CSR carries it */
		assert_non_null(c);
		assert_int_equal(X509_PUBKEY_get0_param(NULL, &pt, &n, NULL,
		    X509_REQ_get_X509_PUBKEY(csr_req(c))), 1);
		plen = (size_t)n;
		assert_int_equal(plen, i == 0 ? 65 : 33);
		assert_non_null(at = memmem(der, len, pt, plen));
		csr_free(c);
		assert_int_equal(key_with(der, len, at, 0x05), 1); /* no form */
		assert_int_equal(key_with(der, len, at, at[0]), 0);
		/* y changed (uncompressed), x changed (compressed) */
		for (v = 1; v < 256; v++)
			off += key_with(der, len, at + plen - 1,
			    (uint8_t)(at[plen - 1] ^ v));
		if (i == 0)
			assert_int_equal(off, 255);
		else
			assert_true(off > 0);
		OPENSSL_free(der);
		EVP_PKEY_free(k);
		pubkey_shutdown();
	}
}

/*
 * The pick of the issued certificate by the CSR key, for every key type:
 * the certificates' keys, built by pubkey_get like the CSR's, match
 * exactly the certificate of the same key. The certificate picked is
 * whole (its extensions read as valid, its DER the one sent), its key
 * left undecoded, and the thread's default library context is back.
 */
static void
test_pick_key_types(void **state)
{
	static const char *const kinds[] = { "P-256", "P-384", "P-256c",
	    "RSA", "ED25519" };

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY	*k = make_key(kinds[i]);
		X509		*a = make_cert(k, SUBJ, 0x11);
		X509		*b = make_cert(k1, SUBJ, 0x22), *x;
		size_t		 len, clen, plen;
		uint8_t		*csr = make_csr_key(k, 0, &len);
		uint8_t		*p7 = make_p7(b, a, &plen), *cert, *want = NULL;
		OSSL_LIB_CTX	*before = OSSL_LIB_CTX_set0_default(NULL);
		const char	*why = NULL;
		struct est_csr	*c = csr_parse(csr, len, &why);
		int		 n;

		print_message("%s\n", kinds[i]);
		assert_non_null(c);
		assert_non_null(x = tc_pkcs7_pick_x509(p7, plen, csr_key(c),
		    &why));
		assert_ptr_equal(OSSL_LIB_CTX_set0_default(NULL), before);
		assert_int_equal(X509_cmp(x, a), 0);
		assert_null(X509_get0_pubkey(x));
		ERR_clear_error();
		assert_int_equal(X509_get_extension_flags(x) & EXFLAG_INVALID,
		    0);
		X509_free(x);
		assert_int_equal(tc_pkcs7_pick_cert(p7, plen, csr_key(c), &cert,
		    &clen, &why), 0);
		assert_true((n = i2d_X509(a, &want)) > 0);
		assert_int_equal(clen, (size_t)n);
		assert_memory_equal(cert, want, clen);
		free(cert);
		OPENSSL_free(want);
		/* the other one by k1; none by k2 */
		assert_non_null(x = tc_pkcs7_pick_x509(p7, plen, k1, &why));
		assert_int_equal(X509_cmp(x, b), 0);
		X509_free(x);
		assert_null(tc_pkcs7_pick_x509(p7, plen, k2, &why));
		assert_string_equal(why, "no certificate matches the csr key");
		csr_free(c);
		OPENSSL_free(csr);
		OPENSSL_free(p7);
		X509_free(a);
		X509_free(b);
		EVP_PKEY_free(k);
	}
}

/*
 * The audit's pick: by the CSR key, or without one the only certificate;
 * asked again for the same answer, or for another one in the same
 * buffer, it gives what a fresh decode gives.
 */
static void
test_audit_pick(void **state)
{
	X509	*a = make_cert(k1, SUBJ, 0x11), *b = make_cert(k2, SUBJ, 0x22);
	size_t	 l2, la, lb;
	uint8_t	*p2 = make_p7(b, a, &l2), *pa = make_p7(a, NULL, &la);
	uint8_t	*pb = make_p7(b, NULL, &lb), *buf = malloc(la + lb);
	char	 s[80];

	char	 path[] = "/tmp/test_csr.audit.XXXXXX";
	int	 fd;

	(void)state;
	assert_non_null(buf);
	/* no audit file: no record names a serial, none is decoded */
	audit_cert_serial(p2, l2, k1, s, sizeof(s));
	assert_string_equal(s, "");
	assert_true((fd = mkstemp(path)) >= 0);
	close(fd);
	assert_true(unlink(path) == 0);
	assert_int_equal(audit_open(path), 0);
	audit_cert_serial(p2, l2, k1, s, sizeof(s));
	assert_string_equal(s, "11");
	audit_cert_serial(p2, l2, k1, s, sizeof(s));
	assert_string_equal(s, "11");
	audit_cert_serial(p2, l2, k2, s, sizeof(s));
	assert_string_equal(s, "22");
	audit_cert_serial(p2, l2, NULL, s, sizeof(s));
	assert_string_equal(s, "");		/* several: none */
	memcpy(buf, pa, la);
	audit_cert_serial(buf, la, NULL, s, sizeof(s));
	assert_string_equal(s, "11");
	memcpy(buf, pb, lb);
	audit_cert_serial(buf, lb, NULL, s, sizeof(s));
	assert_string_equal(s, "22");
	audit_cert_serial(NULL, 0, k1, s, sizeof(s));
	assert_string_equal(s, "");
	audit_close();				/* forgets the pick */
	unlink(path);
	free(buf);
	OPENSSL_free(p2);
	OPENSSL_free(pa);
	OPENSSL_free(pb);
	X509_free(a);
	X509_free(b);
}

static int
setup(void **state)
{
	(void)state;
	k1 = EVP_EC_gen("P-256");
	k2 = EVP_EC_gen("P-256");
	return k1 != NULL && k2 != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	pubkey_shutdown();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_once),
		cmocka_unit_test(test_key_spki),
		cmocka_unit_test(test_sans),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_bad_point),
		cmocka_unit_test(test_pick_key_types),
		cmocka_unit_test(test_audit_pick),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
