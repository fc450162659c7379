/*
 * The request options the checks read, in one walk: Content-Format, the
 * Accept count and the first Accept, the first Block1 and Block2, as
 * coap_check_option() would find them one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <coap3/coap.h>

#include "coap_opt.h"
#include "est_map.h"

/* Add option num with the unsigned value v. */
static void
add_uint(coap_pdu_t *pdu, uint16_t num, unsigned v)
{
	uint8_t	buf[4];

	assert_int_not_equal(coap_add_option(pdu, num,
	    coap_encode_var_safe(buf, sizeof(buf), v), buf), 0);
}

/* A POST with every option the checks read, some twice. */
static void
test_all_options(void **state)
{
	coap_pdu_t		*pdu;
	struct est_check_in	 ci;
	struct copt_blocks	 bl;
	unsigned		 v;

	(void)state;
	pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, 1, 256);
	assert_non_null(pdu);
	assert_int_not_equal(coap_add_option(pdu, COAP_OPTION_URI_PATH, 3,
	    (const uint8_t *)"sen"), 0);
	add_uint(pdu, COAP_OPTION_CONTENT_FORMAT, 286);
	add_uint(pdu, COAP_OPTION_BLOCK2, 0x16);
	add_uint(pdu, COAP_OPTION_ACCEPT, 281);
	add_uint(pdu, COAP_OPTION_ACCEPT, 287);
	add_uint(pdu, COAP_OPTION_BLOCK1, 0x0e);
	add_uint(pdu, COAP_OPTION_SIZE1, 900);
	copt_check_in(pdu, &ci, &bl);
	assert_int_equal(ci.method, COAP_REQUEST_CODE_POST);
	assert_true(ci.has_cf);
	assert_int_equal(ci.cf, 286);
	assert_int_equal(ci.n_accept, 2);
	assert_int_equal(ci.accept, 281);
	assert_true(bl.has_blk1);
	assert_int_equal(bl.blk1, 0x0e);
	assert_true(bl.has_blk2);
	assert_int_equal(bl.blk2, 0x16);
	/* the same as the option-by-option lookups */
	assert_true(copt_uint(pdu, COAP_OPTION_ACCEPT, &v));
	assert_int_equal(v, ci.accept);
	assert_true(copt_uint(pdu, COAP_OPTION_BLOCK1, &v));
	assert_int_equal(v, bl.blk1);
	coap_delete_pdu(pdu);
}

/* A GET with none of them. */
static void
test_no_options(void **state)
{
	coap_pdu_t		*pdu;
	struct est_check_in	 ci;
	struct copt_blocks	 bl;

	(void)state;
	pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, 2, 64);
	assert_non_null(pdu);
	assert_int_not_equal(coap_add_option(pdu, COAP_OPTION_URI_PATH, 4,
	    (const uint8_t *)"crts"), 0);
	memset(&ci, 0xff, sizeof(ci));
	memset(&bl, 0xff, sizeof(bl));
	copt_check_in(pdu, &ci, &bl);
	assert_int_equal(ci.method, COAP_REQUEST_CODE_GET);
	assert_false(ci.has_cf);
	assert_int_equal(ci.n_accept, 0);
	assert_false(bl.has_blk1);
	assert_false(bl.has_blk2);
	coap_delete_pdu(pdu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_no_options),
	};
	int rc;

	coap_startup();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	coap_cleanup();
	return rc;
}
