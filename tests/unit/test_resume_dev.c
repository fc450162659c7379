/*
 * One resumable session per device: a device's new full handshake takes
 * its previous session out of the server cache (it can no longer be
 * resumed), its latest one resumes, other devices keep theirs, and the
 * table follows the cache when it is flushed. TLS 1.2 over memory BIOs:
 * the server cache is the same for DTLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "resume_dev.h"
#include "testcerts.h"

struct pki {
	EVP_PKEY	*ca_key, *srv_key, *dev_key[2];
	X509		*ca, *srv, *dev[2];
};

static struct pki pk;

/* The CA, the server and two devices. */
static int
setup(void **state)
{
	(void)state;
	pk.ca_key = testcert_key();
	pk.ca = testcert_make(pk.ca_key, "test CA", 1, NULL, pk.ca_key, 1,
	    -1, 30);
	pk.srv_key = testcert_key();
	pk.srv = testcert_make(pk.srv_key, "server", 2, pk.ca, pk.ca_key, 0,
	    -1, 30);
	for (int i = 0; i < 2; i++) {
		pk.dev_key[i] = testcert_key();
		pk.dev[i] = testcert_make(pk.dev_key[i], i ? "dev-b" : "dev-a",
		    10 + i, pk.ca, pk.ca_key, 0, -1, 30);
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(pk.ca);
	X509_free(pk.srv);
	EVP_PKEY_free(pk.ca_key);
	EVP_PKEY_free(pk.srv_key);
	for (int i = 0; i < 2; i++) {
		X509_free(pk.dev[i]);
		EVP_PKEY_free(pk.dev_key[i]);
	}
	resume_dev_free();
	return 0;
}

/* A server caching sessions, verifying devices against the CA. */
static SSL_CTX *
server_ctx(void)
{
	SSL_CTX		*c = SSL_CTX_new(TLS_server_method());
	X509_STORE	*st;

	assert_non_null(c);
	SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_use_certificate(c, pk.srv), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(c, pk.srv_key), 1);
	st = SSL_CTX_get_cert_store(c);
	assert_int_equal(X509_STORE_add_cert(st, pk.ca), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
	assert_int_equal(SSL_CTX_set_session_id_context(c,
	    (const unsigned char *)"test", 4), 1);
	assert_int_equal(resume_dev_attach(c), 0);
	return c;
}

/* A device's client context. */
static SSL_CTX *
device_ctx(int i)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_non_null(c);
	SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_use_certificate(c, pk.dev[i]), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(c, pk.dev_key[i]), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	return c;
}

/*
 * One handshake of device cc with server sc, offering sess (NULL: a full
 * one). Its session in *out (a reference), whether it resumed in *reused.
 */
static void
handshake(SSL_CTX *sc, SSL_CTX *cc, SSL_SESSION *sess, SSL_SESSION **out,
    int *reused)
{
	SSL	*s = SSL_new(sc), *c = SSL_new(cc);
	BIO	*c2s = BIO_new(BIO_s_mem()), *s2c = BIO_new(BIO_s_mem());
	int	 done_s = 0, done_c = 0, r;

	assert_non_null(s);
	assert_non_null(c);
	BIO_set_mem_eof_return(c2s, -1);
	BIO_set_mem_eof_return(s2c, -1);
	BIO_up_ref(c2s);
	BIO_up_ref(s2c);
	SSL_set_bio(s, c2s, s2c);
	SSL_set_bio(c, s2c, c2s);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	if (sess != NULL)
		assert_int_equal(SSL_set_session(c, sess), 1);
	for (int i = 0; i < 20 && !(done_s && done_c); i++) {
		if (!done_c) {
			r = SSL_do_handshake(c);
			done_c = r == 1;
			assert_true(done_c ||
			    SSL_get_error(c, r) == SSL_ERROR_WANT_READ);
		}
		if (!done_s) {
			r = SSL_do_handshake(s);
			done_s = r == 1;
			assert_true(done_s ||
			    SSL_get_error(s, r) == SSL_ERROR_WANT_READ);
		}
	}
	assert_true(done_s && done_c);
	*reused = SSL_session_reused(s);
	*out = SSL_get1_session(c);
	/* a session that ended without close_notify leaves the cache */
	(void)SSL_shutdown(s);
	(void)SSL_shutdown(c);
	SSL_free(s);
	SSL_free(c);
}

/* A device's new session replaces its previous one in the cache. */
static void
test_latest_only(void **state)
{
	SSL_CTX		*sc = server_ctx(), *cc = device_ctx(0);
	SSL_SESSION	*first, *second, *again;
	int		 reused;

	(void)state;
	handshake(sc, cc, NULL, &first, &reused);
	assert_false(reused);
	handshake(sc, cc, NULL, &second, &reused);
	assert_false(reused);
	/* the first no longer resumes: a full handshake, a new session */
	handshake(sc, cc, first, &again, &reused);
	assert_false(reused);
	assert_int_equal(resume_dev_count(), 1);
	SSL_SESSION_free(again);
	SSL_SESSION_free(first);
	/* that one replaced the second in turn; the latest resumes */
	handshake(sc, cc, NULL, &first, &reused);
	handshake(sc, cc, first, &again, &reused);
	assert_true(reused);
	assert_int_equal(resume_dev_count(), 1);
	SSL_SESSION_free(again);
	SSL_SESSION_free(first);
	SSL_SESSION_free(second);
	SSL_CTX_free(cc);
	SSL_CTX_free(sc);
	assert_int_equal(resume_dev_count(), 0);
}

/* Each device keeps its own session; a flush empties the table. */
static void
test_devices_apart(void **state)
{
	SSL_CTX		*sc = server_ctx(), *cc[2] = { device_ctx(0),
			    device_ctx(1) };
	SSL_SESSION	*s[2], *again;
	int		 reused;

	(void)state;
	for (int i = 0; i < 2; i++)
		handshake(sc, cc[i], NULL, &s[i], &reused);
	for (int i = 0; i < 2; i++) {
		handshake(sc, cc[i], s[i], &again, &reused);
		assert_true(reused);
		SSL_SESSION_free(again);
	}
	assert_int_equal(resume_dev_count(), 2);
	assert_int_equal(SSL_CTX_sess_number(sc), 2);
	SSL_CTX_flush_sessions(sc, 0);
	assert_int_equal(resume_dev_count(), 0);
	for (int i = 0; i < 2; i++) {
		SSL_SESSION_free(s[i]);
		SSL_CTX_free(cc[i]);
	}
	SSL_CTX_free(sc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latest_only),
		cmocka_unit_test(test_devices_apart),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
