/*
 * Unit tests for est_map: the operation table, the request checks and the
 * upstream HTTP -> CoAP mapping (RFC 9148 §4.5, RFC 8075 §7, the table in
 * README's "How requests are handled"), row by row.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "estcoapd.h"
#include "est_map.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Lookups by name and by id agree with the table. */
static void
test_estmap_lookup(void **state)
{
	static const struct {
		const char	*name;
		int		 id;		/* -1: unknown */
		const char	*up_path;
		int		 method;
		int		 req_cf;
		int		 def_cf;
		const char	*rt;
		const char	*ct;
	} cases[] = {
		{ "crts", EST_OP_CRTS, "cacerts", EST_M_GET, -1,
		  CF_PKCS7_CERTS, "ace.est.crts", "281 287" },
		{ "sen", EST_OP_SEN, "simpleenroll", EST_M_POST, CF_PKCS10,
		  CF_PKCS7_CERTS, "ace.est.sen", "281 287" },
		{ "sren", EST_OP_SREN, "simplereenroll", EST_M_POST,
		  CF_PKCS10, CF_PKCS7_CERTS, "ace.est.sren", "281 287" },
		{ "att", EST_OP_ATT, "csrattrs", EST_M_GET, -1, CF_CSRATTRS,
		  "ace.est.att", "285" },
		{ "skg", EST_OP_SKG, "serverkeygen", EST_M_POST, CF_PKCS10,
		  CF_MULTIPART_CORE, "ace.est.skg", "62" },
		{ "skc", EST_OP_SKC, "serverkeygen", EST_M_POST, CF_PKCS10,
		  CF_MULTIPART_CORE, "ace.est.skc", "62" },
		{ "fullcmc", -1, NULL, 0, 0, 0, NULL, NULL },
		{ "cacerts", -1, NULL, 0, 0, 0, NULL, NULL },
		{ "CRTS", -1, NULL, 0, 0, 0, NULL, NULL },
		{ "crts/", -1, NULL, 0, 0, 0, NULL, NULL },
		{ "", -1, NULL, 0, 0, 0, NULL, NULL },
	};
	const struct est_op	*op;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		op = estmap_op_by_name(cases[i].name);
		if (cases[i].id == -1) {
			assert_null(op);
			continue;
		}
		assert_non_null(op);
		assert_ptr_equal(op, estmap_op_by_id(cases[i].id));
		assert_int_equal(op->id, cases[i].id);
		assert_string_equal(op->name, cases[i].name);
		assert_string_equal(op->up_path, cases[i].up_path);
		assert_int_equal(op->method, cases[i].method);
		assert_int_equal(op->req_cf, cases[i].req_cf);
		assert_int_equal(op->def_cf, cases[i].def_cf);
		assert_string_equal(op->rt, cases[i].rt);
		assert_string_equal(op->ct_attr, cases[i].ct);
	}
	assert_null(estmap_op_by_name(NULL));
	assert_null(estmap_op_by_id(EST_OP_COUNT));
	assert_null(estmap_op_by_id((enum est_op_id)-1));
}

/* Each Accept list is -1 terminated and starts with the default. */
static void
test_estmap_accepts(void **state)
{
	const struct est_op	*op;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < EST_OP_COUNT; i++) {
		op = estmap_op_by_id((enum est_op_id)i);
		assert_non_null(op);
		assert_int_equal(op->accepts[0], op->def_cf);
		for (n = 0; op->accepts[n] != -1; n++)
			assert_true(n < 8);
	}
}

/* Every outcome of estmap_check, in the order it checks. */
static void
test_estmap_check(void **state)
{
	static const struct {
		enum est_op_id	 op;
		int		 method;
		int		 has_cf;
		unsigned	 cf;
		int		 n_accept;
		unsigned	 accept;
		unsigned	 want;		/* 0: proceed */
		unsigned	 want_cf;	/* when want == 0 */
		const char	*why;		/* when want != 0 */
	} cases[] = {
		/* GET operations. */
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 0, 0, 0, 281, NULL },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 1, 281, 0, 281, NULL },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 1, 287, 0, 287, NULL },
		{ EST_OP_CRTS, EST_M_GET, 1, 0, 0, 0, 0, 281, NULL },
		{ EST_OP_CRTS, EST_M_GET, 1, 286, 1, 287, 0, 287, NULL },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 1, 0, EST_CODE(4, 6), 0,
		  "accept not supported" },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 1, 62, EST_CODE(4, 6), 0,
		  "accept not supported" },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 1, 285, EST_CODE(4, 6), 0,
		  "accept not supported" },
		{ EST_OP_CRTS, EST_M_GET, 0, 0, 2, 281, EST_CODE(4, 2), 0,
		  "repeated accept option" },
		{ EST_OP_CRTS, EST_M_POST, 0, 0, 0, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		{ EST_OP_CRTS, EST_M_FETCH, 0, 0, 0, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		{ EST_OP_ATT, EST_M_GET, 0, 0, 0, 0, 0, 285, NULL },
		{ EST_OP_ATT, EST_M_GET, 0, 0, 1, 285, 0, 285, NULL },
		{ EST_OP_ATT, EST_M_GET, 1, 40, 0, 0, 0, 285, NULL },
		{ EST_OP_ATT, EST_M_GET, 0, 0, 1, 281, EST_CODE(4, 6), 0,
		  "accept not supported" },
		{ EST_OP_ATT, EST_M_DELETE, 0, 0, 0, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		/* POST operations. */
		{ EST_OP_SEN, EST_M_POST, 1, 286, 0, 0, 0, 281, NULL },
		{ EST_OP_SEN, EST_M_POST, 1, 286, 1, 281, 0, 281, NULL },
		{ EST_OP_SEN, EST_M_POST, 1, 286, 1, 287, 0, 287, NULL },
		{ EST_OP_SEN, EST_M_POST, 1, 0, 0, 0, EST_CODE(4, 15), 0,
		  "content-format must be 286" },
		{ EST_OP_SEN, EST_M_POST, 0, 0, 0, 0, EST_CODE(4, 15), 0,
		  "content-format must be 286" },
		{ EST_OP_SEN, EST_M_POST, 1, 286, 1, 285, EST_CODE(4, 6), 0,
		  "accept not supported" },
		{ EST_OP_SEN, EST_M_POST, 1, 286, 3, 281, EST_CODE(4, 2), 0,
		  "repeated accept option" },
		{ EST_OP_SEN, EST_M_GET, 1, 286, 0, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		{ EST_OP_SREN, EST_M_POST, 1, 286, 0, 0, 0, 281, NULL },
		{ EST_OP_SREN, EST_M_POST, 1, 286, 1, 287, 0, 287, NULL },
		{ EST_OP_SREN, EST_M_PUT, 1, 286, 0, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		{ EST_OP_SREN, EST_M_POST, 1, 281, 0, 0, EST_CODE(4, 15), 0,
		  "content-format must be 286" },
		/* Precedence: method, then repeated Accept, Accept, CF. */
		{ EST_OP_SEN, EST_M_GET, 0, 0, 2, 0, EST_CODE(4, 5), 0,
		  "method not allowed" },
		{ EST_OP_SEN, EST_M_POST, 0, 0, 2, 0, EST_CODE(4, 2), 0,
		  "repeated accept option" },
		{ EST_OP_SEN, EST_M_POST, 0, 0, 1, 0, EST_CODE(4, 6), 0,
		  "accept not supported" },
	};
	const struct est_op	*op;
	struct est_check_in	 in;
	const char		*why;
	unsigned		 cf, got;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		op = estmap_op_by_id(cases[i].op);
		in = (struct est_check_in){
			.method = cases[i].method,
			.has_cf = cases[i].has_cf,
			.cf = cases[i].cf,
			.n_accept = cases[i].n_accept,
			.accept = cases[i].accept,
		};
		cf = 9999;
		why = NULL;
		got = estmap_check(op, &in, &cf, &why);
		if (got != cases[i].want)
			fail_msg("case %zu: code %u, want %u", i, got,
			    cases[i].want);
		if (cases[i].want == 0)
			assert_int_equal(cf, cases[i].want_cf);
		else
			assert_string_equal(why, cases[i].why);
	}
}

/* The upstream path with and without a label, and truncation. */
static void
test_estmap_upstream_path(void **state)
{
	static const struct {
		enum est_op_id	 op;
		const char	*label;
		size_t		 bufsz;
		int		 want;
		const char	*path;
	} cases[] = {
		{ EST_OP_CRTS, NULL, 64, 0, "/.well-known/est/cacerts" },
		{ EST_OP_CRTS, "", 64, 0, "/.well-known/est/cacerts" },
		{ EST_OP_SEN, "iot", 64, 0,
		  "/.well-known/est/iot/simpleenroll" },
		{ EST_OP_SREN, NULL, 64, 0,
		  "/.well-known/est/simplereenroll" },
		{ EST_OP_ATT, "p1", 64, 0, "/.well-known/est/p1/csrattrs" },
		/* 24 characters need 25 bytes. */
		{ EST_OP_CRTS, NULL, 25, 0, "/.well-known/est/cacerts" },
		{ EST_OP_CRTS, NULL, 24, -1, NULL },
		{ EST_OP_CRTS, NULL, 1, -1, NULL },
		{ EST_OP_CRTS, NULL, 0, -1, NULL },
	};
	char	 buf[64];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		assert_int_equal(estmap_upstream_path(
		    estmap_op_by_id(cases[i].op), cases[i].label, buf,
		    cases[i].bufsz), cases[i].want);
		if (cases[i].want == 0)
			assert_string_equal(buf, cases[i].path);
	}
}

/* sren goes upstream as sen only with renew_as_enroll; others as they are. */
static void
test_estmap_upstream_op(void **state)
{
	const struct est_op	*sen = estmap_op_by_id(EST_OP_SEN);
	const struct est_op	*sren = estmap_op_by_id(EST_OP_SREN);
	char			 buf[64];

	(void)state;
	assert_ptr_equal(estmap_upstream_op(sren, 0), sren);
	assert_ptr_equal(estmap_upstream_op(sren, 1), sen);
	for (int i = 0; i < EST_OP_COUNT; i++) {
		const struct est_op *op = estmap_op_by_id((enum est_op_id)i);

		assert_ptr_equal(estmap_upstream_op(op, 0), op);
		if (i != EST_OP_SREN)
			assert_ptr_equal(estmap_upstream_op(op, 1), op);
	}
	assert_null(estmap_upstream_op(NULL, 1));
	assert_int_equal(estmap_upstream_path(estmap_upstream_op(sren, 1),
	    "field", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/.well-known/est/field/simpleenroll");
}

#define GET	EST_OP_CRTS
#define POST	EST_OP_SEN
#define ATT	EST_OP_ATT
#define C(c, dd)	EST_CODE(c, dd)

/* Every row of the mapping, plus the edges of each range. */
static void
test_estmap_http_to_coap(void **state)
{
	static const struct {
		enum est_op_id		 op;
		enum upstream_end	 outcome;
		long			 status;
		long			 retry_after;
		int			 def_max_age;
		unsigned		 code;
		int			 use_body;
		int			 max_age;
		int			 diag;
	} cases[] = {
		/* 200 */
		{ GET, UPSTREAM_OK, 200, -1, 60, C(2, 5), 1, -1, 0 },
		{ ATT, UPSTREAM_OK, 200, -1, 60, C(2, 5), 1, -1, 0 },
		{ POST, UPSTREAM_OK, 200, -1, 60, C(2, 4), 1, -1, 0 },
		{ EST_OP_SREN, UPSTREAM_OK, 200, 5, 60, C(2, 4), 1, -1, 0 },
		/* 202: Retry-After, else the default, never negative. */
		{ POST, UPSTREAM_OK, 202, 120, 60, C(5, 3), 0, 120, 0 },
		{ POST, UPSTREAM_OK, 202, 0, 60, C(5, 3), 0, 0, 0 },
		{ POST, UPSTREAM_OK, 202, -1, 60, C(5, 3), 0, 60, 0 },
		{ POST, UPSTREAM_OK, 202, -1, -5, C(5, 3), 0, 0, 0 },
		{ POST, UPSTREAM_OK, 202, LONG_MAX, 60, C(5, 3), 0, INT_MAX,
		  0 },
		{ GET, UPSTREAM_OK, 202, 30, 60, C(5, 3), 0, 30, 0 },
		/* 204 */
		{ ATT, UPSTREAM_OK, 204, -1, 60, C(2, 5), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 204, -1, 60, C(5, 2), 0, -1, 0 },
		{ POST, UPSTREAM_OK, 204, -1, 60, C(5, 2), 0, -1, 0 },
		/* Other 1xx and 2xx. */
		{ GET, UPSTREAM_OK, 100, -1, 60, C(5, 2), 0, -1, 0 },
		{ POST, UPSTREAM_OK, 201, -1, 60, C(5, 2), 0, -1, 0 },
		{ POST, UPSTREAM_OK, 203, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 206, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 299, -1, 60, C(5, 2), 0, -1, 0 },
		/* 3xx */
		{ GET, UPSTREAM_OK, 300, -1, 60, C(5, 2), 0, -1, 0 },
		{ POST, UPSTREAM_OK, 302, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 304, -1, 60, C(5, 2), 0, -1, 0 },
		{ POST, UPSTREAM_OK, 307, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 399, -1, 60, C(5, 2), 0, -1, 0 },
		/* 4xx passed through */
		{ POST, UPSTREAM_OK, 400, -1, 60, C(4, 0), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 401, -1, 60, C(4, 1), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 403, -1, 60, C(4, 3), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 404, -1, 60, C(4, 4), 0, -1, 1 },
		{ ATT, UPSTREAM_OK, 404, -1, 60, C(4, 4), 0, -1, 1 },
		/* registrar-CA mismatch */
		{ POST, UPSTREAM_OK, 405, -1, 60, C(5, 2), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 406, -1, 60, C(5, 2), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 415, -1, 60, C(5, 2), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 413, -1, 60, C(4, 13), 0, -1, 1 },
		/* come back later */
		{ POST, UPSTREAM_OK, 423, -1, 60, C(5, 3), 0, 60, 1 },
		{ POST, UPSTREAM_OK, 423, 10, 60, C(5, 3), 0, 10, 1 },
		{ GET, UPSTREAM_OK, 429, 7, 60, C(5, 3), 0, 7, 1 },
		{ GET, UPSTREAM_OK, 429, -1, 90, C(5, 3), 0, 90, 1 },
		/* other 4xx */
		{ POST, UPSTREAM_OK, 402, -1, 60, C(4, 0), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 409, -1, 60, C(4, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 410, -1, 60, C(4, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 418, -1, 60, C(4, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 451, -1, 60, C(4, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 499, -1, 60, C(4, 0), 0, -1, 1 },
		/* 5xx */
		{ POST, UPSTREAM_OK, 500, -1, 60, C(5, 0), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 501, -1, 60, C(5, 1), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 502, -1, 60, C(5, 2), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 503, 30, 60, C(5, 3), 0, 30, 1 },
		{ GET, UPSTREAM_OK, 503, -1, 60, C(5, 3), 0, 60, 1 },
		{ POST, UPSTREAM_OK, 504, -1, 60, C(5, 4), 0, -1, 1 },
		{ POST, UPSTREAM_OK, 505, -1, 60, C(5, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 511, -1, 60, C(5, 0), 0, -1, 1 },
		{ GET, UPSTREAM_OK, 599, -1, 60, C(5, 0), 0, -1, 1 },
		/* nonsense statuses */
		{ GET, UPSTREAM_OK, 0, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, -1, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 600, -1, 60, C(5, 2), 0, -1, 0 },
		{ GET, UPSTREAM_OK, 999, -1, 60, C(5, 2), 0, -1, 0 },
		/* no HTTP status at all; the status is ignored */
		{ POST, UPSTREAM_TIMEOUT, 0, -1, 60, C(5, 4), 0, -1, 0 },
		{ GET, UPSTREAM_TIMEOUT, 200, 5, 60, C(5, 4), 0, -1, 0 },
		{ POST, UPSTREAM_FAILED, 0, -1, 60, C(5, 2), 0, -1, 0 },
		{ ATT, UPSTREAM_FAILED, 200, -1, 60, C(5, 2), 0, -1, 0 },
	};
	struct est_code_map	 m;
	char			 a[8], b[8];
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(&m, 0x5a, sizeof(m));
		estmap_http_to_coap(estmap_op_by_id(cases[i].op),
		    cases[i].outcome, cases[i].status, cases[i].retry_after,
		    cases[i].def_max_age, &m);
		if (m.code != cases[i].code)
			fail_msg("case %zu (%ld): code %s, want %s", i,
			    cases[i].status, estmap_code_str(m.code, a),
			    estmap_code_str(cases[i].code, b));
		if (m.use_body != cases[i].use_body ||
		    m.max_age != cases[i].max_age ||
		    m.diag_from_body != cases[i].diag)
			fail_msg("case %zu (%ld): use_body %d max_age %d "
			    "diag %d", i, cases[i].status, m.use_body,
			    m.max_age, m.diag_from_body);
	}
}

/* Codes print as c.dd. */
static void
test_estmap_code_str(void **state)
{
	static const struct {
		unsigned	 code;
		const char	*s;
	} cases[] = {
		{ C(0, 0), "0.00" },
		{ C(2, 4), "2.04" },
		{ C(2, 5), "2.05" },
		{ C(2, 31), "2.31" },
		{ C(4, 0), "4.00" },
		{ C(4, 13), "4.13" },
		{ C(4, 15), "4.15" },
		{ C(5, 3), "5.03" },
		{ C(7, 31), "7.31" },
		{ 0x44, "2.04" },
	};
	char	 buf[8];
	size_t	 i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(estmap_code_str(cases[i].code, buf), buf);
		assert_string_equal(buf, cases[i].s);
	}
	/* every code byte as "%u.%02u" would print it */
	for (unsigned code = 0; code < 256; code++) {
		char want[16];

		snprintf(want, sizeof(want), "%u.%02u", code >> 5, code & 0x1f);
		assert_string_equal(estmap_code_str(code, buf), want);
	}
}

/* Run every test; the exit status is the number of failures. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_estmap_lookup),
		cmocka_unit_test(test_estmap_accepts),
		cmocka_unit_test(test_estmap_check),
		cmocka_unit_test(test_estmap_upstream_path),
		cmocka_unit_test(test_estmap_upstream_op),
		cmocka_unit_test(test_estmap_http_to_coap),
		cmocka_unit_test(test_estmap_code_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
