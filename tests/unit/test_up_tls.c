/*
 * Unit tests for up_tls: the upstream identity parsed once, installed by
 * the SSL_CTX callback, and told apart by its cipher-list tag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "config.h"
#include "pki.h"
#include "up_tls.h"

/* A NUL-terminated PEM copy of a BIO's contents; len counts the NUL. */
static char *
bio_pem(BIO *bio, size_t *len)
{
	char	*data, *out;
	long	 n = BIO_get_mem_data(bio, &data);

	assert_true(n > 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	*len = (size_t)n + 1;
	return out;
}

/* A self-signed P-256 certificate and its key, as one route's files. */
static X509 *
make_identity(struct pki_up *pu, const char *cn)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");
	X509		*x = X509_new();
	X509_NAME	*name;
	BIO		*bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());

	assert_non_null(k);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_true(PEM_write_bio_X509(bc, x));
	assert_true(PEM_write_bio_PrivateKey(bk, k, NULL, NULL, 0, NULL,
	    NULL));
	pu->cert_pem = bio_pem(bc, &pu->cert_len);
	pu->key_pem = bio_pem(bk, &pu->key_len);
	/* the route trusts its own certificate */
	pu->ca_pem = strdup(pu->cert_pem);
	pu->ca_len = pu->cert_len;
	BIO_free(bc);
	BIO_free(bk);
	EVP_PKEY_free(k);
	return x;
}

static void
free_identity(struct pki_up *pu)
{
	free(pu->cert_pem);
	free(pu->key_pem);
	free(pu->ca_pem);
	memset(pu, 0, sizeof(*pu));
}

/* Whether a store trusts x (it is self-signed: its own anchor). */
static int
store_trusts(X509_STORE *st, X509 *x)
{
	X509_STORE_CTX	*vc = X509_STORE_CTX_new();
	int		 ok;

	assert_true(X509_STORE_CTX_init(vc, st, x, NULL) == 1);
	ok = X509_verify_cert(vc) == 1;
	X509_STORE_CTX_free(vc);
	return ok;
}

/* Routes parse; the callback installs certificate, key and trust. */
static void
test_up_tls_install(void **state)
{
	struct pki_set	 pki;
	struct up_tls	*t;
	SSL_CTX		*ctx;
	CURL		*e;
	X509		*x0, *x1;

	(void)state;
	memset(&pki, 0, sizeof(pki));
	x0 = make_identity(&pki.up[0], "ra-one");
	x1 = make_identity(&pki.up[1], "ra-two");
	pki.up[2].cert_pem = strdup("not a PEM");
	pki.up[2].cert_len = strlen(pki.up[2].cert_pem) + 1;
	assert_non_null(t = up_tls_new(&pki, 3));
	assert_non_null(e = curl_easy_init());
	assert_int_equal(up_tls_setopt(t, 0, e), 0);
	assert_int_equal(up_tls_setopt(t, 1, e), 0);
	/* unparsable, and past the routes: the blobs are used instead */
	assert_int_equal(up_tls_setopt(t, 2, e), -1);
	assert_int_equal(up_tls_setopt(t, 3, e), -1);
	assert_null(up_tls_data(t, 2));
	curl_easy_cleanup(e);

	/* what libcurl does on a new connection of route 1 */
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(up_tls_ctx_cb(NULL, ctx, up_tls_data(t, 1)),
	    CURLE_OK);
	assert_int_equal(X509_cmp(SSL_CTX_get0_certificate(ctx), x1), 0);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	assert_true(store_trusts(SSL_CTX_get_cert_store(ctx), x1));
	assert_false(store_trusts(SSL_CTX_get_cert_store(ctx), x0));
	SSL_CTX_free(ctx);
	/* the objects outlive any SSL_CTX they were given to */
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(up_tls_ctx_cb(NULL, ctx, up_tls_data(t, 0)),
	    CURLE_OK);
	assert_int_equal(X509_cmp(SSL_CTX_get0_certificate(ctx), x0), 0);
	up_tls_unref(t);
	assert_int_equal(SSL_CTX_check_private_key(ctx), 1);
	SSL_CTX_free(ctx);
	for (int i = 0; i < 3; i++)
		free_identity(&pki.up[i]);
	X509_free(x0);
	X509_free(x1);
}

/*
 * libcurl tells pooled connections apart by their options only: the tag
 * differs between identities, is the same for the same files (a reload
 * that changes nothing keeps the pool), and selects OpenSSL's defaults.
 */
static void
test_up_tls_tags(void **state)
{
	struct pki_set	 a, b;
	struct up_tls	*ta, *tb, *ta2;
	SSL_CTX		*def, *tagged;
	X509		*x[3];

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	x[0] = make_identity(&a.up[0], "ra");
	x[1] = make_identity(&a.up[1], "ra-label");
	x[2] = make_identity(&b.up[0], "ra");	/* rotated: a new key */
	ta = up_tls_new(&a, 2);
	ta2 = up_tls_new(&a, 2);
	tb = up_tls_new(&b, 1);
	assert_non_null(up_tls_ciphers(ta, 0));
	assert_string_not_equal(up_tls_ciphers(ta, 0), up_tls_ciphers(ta, 1));
	assert_string_not_equal(up_tls_ciphers(ta, 0), up_tls_ciphers(tb, 0));
	assert_string_equal(up_tls_ciphers(ta, 0), up_tls_ciphers(ta2, 0));
	def = SSL_CTX_new(TLS_client_method());
	tagged = SSL_CTX_new(TLS_client_method());
	assert_int_equal(SSL_CTX_set_cipher_list(tagged,
	    up_tls_ciphers(ta, 0)), 1);
	assert_int_equal(sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(def)),
	    sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(tagged)));
	for (int i = 0; i < sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(def)); i++)
		assert_ptr_equal(sk_SSL_CIPHER_value(SSL_CTX_get_ciphers(def),
		    i), sk_SSL_CIPHER_value(SSL_CTX_get_ciphers(tagged), i));
	SSL_CTX_free(def);
	SSL_CTX_free(tagged);
	up_tls_unref(ta);
	up_tls_unref(ta2);
	up_tls_unref(tb);
	free_identity(&a.up[0]);
	free_identity(&a.up[1]);
	free_identity(&b.up[0]);
	for (int i = 0; i < 3; i++)
		X509_free(x[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_up_tls_install),
		cmocka_unit_test(test_up_tls_tags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
