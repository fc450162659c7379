/*
 * Unit tests for pki.c's handshake verification: why a device certificate
 * was refused is kept per SSL, so that handshakes failing at the same time
 * are each counted under their own reason. The certificates are made
 * here; the verification is the one the handshake runs (the SSL's verify
 * callback on an X509_STORE_CTX that names the SSL).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "pki.h"
#include "testcerts.h"

static EVP_PKEY	*key;

/* A certificate for cn by issuer (NULL: self-signed), valid from..to days. */
static X509 *
cert(const char *cn, X509 *issuer, int ca, long from, long to)
{
	return testcert_make(key, cn, ca ? 1 : 2, issuer, key, ca, from, to);
}

/* Run the SSL's own verify callback on leaf; 1 when it verifies. */
static int
verify(SSL *ssl, X509_STORE *store, X509 *leaf)
{
	X509_STORE_CTX	*ctx = X509_STORE_CTX_new();
	int		 ok;

	assert_non_null(ctx);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	X509_STORE_CTX_set_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx(),
	    ssl);
	X509_STORE_CTX_set_verify_cb(ctx, SSL_get_verify_callback(ssl));
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	return ok == 1;
}

/* Two handshakes refused for different reasons keep their own. */
static void
test_refusal_per_ssl(void **state)
{
	SSL_CTX		*sctx = SSL_CTX_new(DTLS_server_method());
	X509		*ca = cert("test CA", NULL, 1, -1, 30);
	X509		*expired = cert("expired device", ca, 0, -30, -1);
	X509		*good = cert("good device", ca, 0, -1, 30);
	X509		*rogue = cert("rogue device", NULL, 0, -1, 30);
	struct pki_set	 ps;
	SSL		*a, *b, *c;

	(void)state;
	memset(&ps, 0, sizeof(ps));
	ps.verify_depth = 4;
	ps.client_trust = X509_STORE_new();
	X509_STORE_add_cert(ps.client_trust, ca);
	assert_non_null(sctx);
	a = SSL_new(sctx);
	b = SSL_new(sctx);
	c = SSL_new(sctx);
	assert_int_equal(pki_setup_ssl(a, &ps), 1);
	assert_int_equal(pki_setup_ssl(b, &ps), 1);
	assert_int_equal(pki_setup_ssl(c, &ps), 1);
	assert_null(pki_refusal(a));
	/* a fails first, b after it, before either session is gone */
	assert_false(verify(a, ps.client_trust, rogue));
	assert_false(verify(b, ps.client_trust, expired));
	assert_true(verify(c, ps.client_trust, good));
	assert_string_equal(pki_refusal(a), "unknown_ca");
	assert_string_equal(pki_refusal(b), "expired");
	assert_null(pki_refusal(c));
	assert_null(pki_refusal(NULL));
	SSL_free(a);
	SSL_free(b);
	SSL_free(c);
	SSL_CTX_free(sctx);
	X509_STORE_free(ps.client_trust);
	X509_free(ca);
	X509_free(expired);
	X509_free(good);
	X509_free(rogue);
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
/* The serial as every record shows it: BN_bn2hex, whole bytes. */
static void
test_serial_hex(void **state)
{
	X509	*x = cert("serial", NULL, 0, 0, 1);
	char	 buf[80], tiny[4];

	(void)state;
	assert_int_equal(peer_serial_hex(x, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "02");
	assert_int_equal(ASN1_INTEGER_set_uint64(X509_get_serialNumber(x),
	    0x0123456789abcdefULL), 1);
	assert_int_equal(peer_serial_hex(x, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0123456789ABCDEF");
	/* cut to the buffer, never past it */
	assert_int_equal(peer_serial_hex(x, tiny, sizeof(tiny)), 0);
	assert_string_equal(tiny, "012");
	X509_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal_per_ssl),
		cmocka_unit_test(test_serial_hex),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
