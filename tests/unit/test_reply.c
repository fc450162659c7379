/*
 * Unit tests for reply: the ETag of a representation, and that computing
 * it leaves the OpenSSL error queue empty even when the digest fails
 * (a later TLS call must not read a stale error as its own).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "reply.h"

/* The first 8 bytes of SHA-256("abc"), in memory order. */
static const uint8_t abc_sha256[8] = {
	0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
};

/* The ETag is the start of the SHA-256, and the same every time. */
static void
test_etag_digest(void **state)
{
	uint64_t	want, e;

	(void)state;
	memcpy(&want, abc_sha256, sizeof(want));
	e = reply_etag((const uint8_t *)"abc", 3);
	assert_true(e == want);
	assert_true(reply_etag((const uint8_t *)"abc", 3) == e);
	assert_true(reply_etag((const uint8_t *)"abd", 3) != e);
	assert_true(reply_etag((const uint8_t *)"", 0) != 0);
	assert_int_equal(ERR_peek_error(), 0);
}

/*
 * With no provider that implements SHA-256 (only the null provider is
 * loaded, so the default one never is), the digest fails: 0, and no
 * error left behind.
 */
static void
test_etag_failure_clean(void **state)
{
	OSSL_LIB_CTX	*ctx = OSSL_LIB_CTX_new();
	OSSL_LIB_CTX	*old;
	OSSL_PROVIDER	*null;

	(void)state;
	assert_non_null(ctx);
	assert_non_null(null = OSSL_PROVIDER_load(ctx, "null"));
	old = OSSL_LIB_CTX_set0_default(ctx);
	ERR_clear_error();
	assert_true(reply_etag((const uint8_t *)"abc", 3) == 0);
	assert_int_equal(ERR_peek_error(), 0);
	OSSL_LIB_CTX_set0_default(old);
	OSSL_PROVIDER_unload(null);
	OSSL_LIB_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_etag_digest),
		cmocka_unit_test(test_etag_failure_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
