/*
 * Unit tests for cache: the crts/att answers kept from the CA, with a fake
 * clock and a fake upstream (cache_env). Fresh hits and their Max-Age,
 * expiry, stale answers while refreshing fails (RFC 7252 5.6.1: the cache
 * serves past freshness only within est.cache_max_stale_s), ETags and
 * 2.03 Valid (RFC 7252 5.10.6), and the refresh backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <coap3/coap.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "answer.h"
#include "backlog.h"
#include "cache.h"
#include "config.h"
#include "estcoapd.h"
#include "est_map.h"
#include "reply.h"
#include "route.h"
#include "transcode.h"
#include "upstream.h"

#define TTL_S		60
#define STALE_S		30

/* The fake world: a clock, an upstream that records what it was asked. */
static struct fake {
	uint64_t		 now;
	unsigned		 submits;
	unsigned		 cancels;
	unsigned		 pool_changes;
	unsigned		 seen;
	char			 path[128];
	size_t			 cfroute;
	upstream_done_fn	 done;		/* of the job in flight */
	void			*arg;
	int			 job;		/* its address is the job */
	struct backlog		 pool;
	struct req_policy	 pol;
	struct config		 cf;
	struct route		 rt;
	struct est_cache	*c;
} fk;

static uint64_t
fake_now(void)
{
	return fk.now;
}

static struct upstream_job *
fake_submit(struct upstream *up, size_t cfroute, const char *path,
    upstream_done_fn done, void *arg)
{
	(void)up;
	fk.submits++;
	fk.cfroute = cfroute;
	snprintf(fk.path, sizeof(fk.path), "%s", path);
	fk.done = done;
	fk.arg = arg;
	return (struct upstream_job *)&fk.job;
}

static void
fake_cancel(struct upstream_job *j)
{
	assert_ptr_equal(j, &fk.job);
	fk.cancels++;
	fk.done = NULL;
}

static void
fake_pool_changed(void)
{
	fk.pool_changes++;
}

static void
fake_seen(const struct upstream_result *r)
{
	(void)r;
	fk.seen++;
}

/* One cached route of op: cache_init, cache_add, no answer yet. */
static void
start(enum est_op_id op, uint32_t ttl_s, uint32_t stale_s)
{
	memset(&fk, 0, sizeof(fk));
	fk.now = 1000000;
	backlog_init(&fk.pool, 4);
	fk.pol.retry_max_age = 60;
	fk.pol.max_body = 1 << 16;
	fk.cf.cache_ttl_s = ttl_s;
	fk.cf.cache_max_stale_s = stale_s;
	fk.cf.nroutes = 1;
	fk.rt.op = estmap_op_by_id(op);
	cache_init(&(const struct cache_env){ .pool = &fk.pool,
	    .pol = &fk.pol, .submit = fake_submit, .cancel = fake_cancel,
	    .now = fake_now, .pool_changed = fake_pool_changed,
	    .seen = fake_seen }, &fk.cf);
	assert_non_null(fk.c = cache_add(&fk.rt));
	fk.rt.cache = fk.c;
}

static int
setup_att(void **state)
{
	(void)state;
	start(EST_OP_ATT, TTL_S, STALE_S);
	return 0;
}

static int
setup_crts(void **state)
{
	(void)state;
	start(EST_OP_CRTS, TTL_S, STALE_S);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	cache_shutdown();
	return 0;
}

/* The CA answers the refresh in flight with der (ctype of the op). */
static void
ca_answers(const uint8_t *der, size_t len)
{
	struct upstream_result	 r;
	upstream_done_fn	 done = fk.done;
	size_t			 b64len;
	char			*b64 = tc_b64_encode(der, len, &b64len);

	assert_non_null(done);
	assert_non_null(b64);
	memset(&r, 0, sizeof(r));
	r.end = UPSTREAM_OK;
	r.status = 200;
	r.ctype = fk.rt.op->id == EST_OP_ATT ? "application/csrattrs" :
	    "application/pkcs7-mime; smime-type=certs-only";
	r.retry_after = -1;
	r.body = (const uint8_t *)b64;
	r.body_len = b64len;
	fk.done = NULL;
	done(fk.arg, &r);
	free(b64);
}

/* The refresh in flight fails: the CA cannot be reached. */
static void
ca_fails(void)
{
	struct upstream_result	 r;
	upstream_done_fn	 done = fk.done;

	assert_non_null(done);
	memset(&r, 0, sizeof(r));
	r.end = UPSTREAM_FAILED;
	r.retry_after = -1;
	r.error = "connection refused";
	fk.done = NULL;
	done(fk.arg, &r);
}

/* CsrAttrs holding one OID 2.5.4.x.y (x, y < 128): a small valid body. */
static const uint8_t *
csrattrs(uint8_t x, uint8_t y, size_t *len)
{
	static uint8_t der[8];

	der[0] = 0x30; der[1] = 6;
	der[2] = 0x06; der[3] = 4; der[4] = 0x55; der[5] = 0x04;
	der[6] = x; der[7] = y;
	*len = sizeof(der);
	return der;
}

/* The cache's answer now; -1: go upstream. */
static int
ask(unsigned cf, const struct cache_etags *et, struct est_answer *a)
{
	memset(a, 0, sizeof(*a));
	return cache_answer(fk.c, fk.rt.op, cf, et, a);
}

/* Fill the att cache with csrattrs(x, y) through a refresh. */
static void
fill_att(uint8_t x, uint8_t y)
{
	const uint8_t	*der;
	size_t		 len;

	cache_tick();
	der = csrattrs(x, y, &len);
	ca_answers(der, len);
}

/* Nothing cached: go upstream; the tick refreshes, once at a time. */
static void
test_cache_fresh_hit(void **state)
{
	struct est_answer	 a;
	const uint8_t		*der;
	size_t			 len;

	(void)state;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	cache_tick();
	assert_int_equal(fk.submits, 1);
	assert_string_equal(fk.path, "/.well-known/est/csrattrs");
	assert_int_equal(fk.pool.nrunning, 1);
	cache_tick();
	assert_int_equal(fk.submits, 1);	/* one in flight is enough */
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	der = csrattrs(1, 2, &len);
	ca_answers(der, len);
	assert_int_equal(fk.pool.nrunning, 0);
	assert_int_equal(fk.seen, 1);
	assert_true(fk.pool_changes >= 2);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.cf, CF_CSRATTRS);
	assert_int_equal(a.max_age, TTL_S);
	assert_string_equal(a.reason, "cached");
	assert_int_equal(a.len, len);
	assert_memory_equal(a.payload, der, len);
	answer_clear(&a);
	/* fresh and not in its last fifth: no refresh */
	cache_tick();
	assert_int_equal(fk.submits, 1);
}

/* Max-Age counts down to the end of the TTL; then go upstream. */
static void
test_cache_max_age(void **state)
{
	struct est_answer	 a;
	uint64_t		 t0 = fk.now;

	(void)state;
	fill_att(1, 2);
	fk.now = t0 + 10500;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_int_equal(a.max_age, TTL_S - 10);	/* 49.5 s left: 50 */
	answer_clear(&a);
	fk.now = t0 + TTL_S * 1000 - 1;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_int_equal(a.max_age, 1);
	answer_clear(&a);
	/* expired, and no refresh failed: not stale, fetch it */
	fk.now = t0 + TTL_S * 1000;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	answer_clear(&a);
}

/* The refresh starts in the last fifth of the TTL, not before. */
static void
test_cache_refresh_early(void **state)
{
	uint64_t	t0 = fk.now;

	(void)state;
	fill_att(1, 2);
	fk.now = t0 + TTL_S * 800 - 1;
	cache_tick();
	assert_int_equal(fk.submits, 1);
	fk.now = t0 + TTL_S * 800;
	cache_tick();
	assert_int_equal(fk.submits, 2);
}

/* Past the TTL, stale only while refreshing fails, up to max_stale. */
static void
test_cache_stale(void **state)
{
	struct est_answer	 a;
	uint64_t		 t0 = fk.now;

	(void)state;
	fill_att(1, 2);
	fk.now = t0 + TTL_S * 1000;
	cache_tick();
	ca_fails();
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_int_equal(a.max_age, 0);
	assert_string_equal(a.reason, "stale");
	answer_clear(&a);
	fk.now = t0 + (TTL_S + STALE_S) * 1000 - 1;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_string_equal(a.reason, "stale");
	answer_clear(&a);
	fk.now = t0 + (TTL_S + STALE_S) * 1000;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	answer_clear(&a);
}

/* est.cache_max_stale_s 0: never stale, even while refreshing fails. */
static void
test_cache_no_stale(void **state)
{
	struct est_answer	 a;
	uint64_t		 t0;

	(void)state;
	cache_shutdown();
	start(EST_OP_ATT, TTL_S, 0);
	t0 = fk.now;
	fill_att(1, 2);
	fk.now = t0 + TTL_S * 1000;
	cache_tick();
	ca_fails();
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	answer_clear(&a);
}

/* The request ETag for tag e, as a device sends it back. */
static void
etag_of(struct cache_etags *et, uint64_t e)
{
	memset(et, 0, sizeof(*et));
	et->tag[0].len = coap_encode_var_safe8(et->tag[0].v,
	    sizeof(et->tag[0].v), e);
	et->n = 1;
}

/* One ETag per body, stable; naming it gets 2.03 with Max-Age. */
static void
test_cache_etag_valid(void **state)
{
	struct est_answer	 a;
	struct cache_etags	 et;
	uint64_t		 e;

	(void)state;
	fill_att(1, 2);
	fk.now += 5000;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	e = a.etag;
	assert_true(e != 0);
	assert_true(e == reply_etag(a.payload, a.len));
	answer_clear(&a);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_true(a.etag == e);
	answer_clear(&a);
	/* a second tag that is not ours does not get in the way */
	etag_of(&et, e ^ 1);
	et.n = 2;
	et.tag[1].len = coap_encode_var_safe8(et.tag[1].v,
	    sizeof(et.tag[1].v), e);
	assert_int_equal(ask(CF_CSRATTRS, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 3));
	assert_null(a.payload);
	assert_true(a.etag == e);
	assert_int_equal(a.max_age, TTL_S - 5);
	assert_string_equal(a.reason, "valid");
	answer_clear(&a);
	/* a tag that is not ours: the whole answer */
	et.n = 1;
	assert_int_equal(ask(CF_CSRATTRS, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_non_null(a.payload);
	answer_clear(&a);
	/* another body from the CA: another tag, the old one not valid */
	fk.now += TTL_S * 1000;
	fill_att(3, 4);
	etag_of(&et, e);
	assert_int_equal(ask(CF_CSRATTRS, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	assert_true(a.etag != e && a.etag != 0);
	answer_clear(&a);
}

/*
 * An ETag value with a leading zero byte is another ETag (RFC 7252 3.2:
 * opaque): the bytes are compared, not the numbers. Needs a body whose
 * tag is shorter than 8 bytes; found by trying bodies.
 */
static void
test_cache_etag_leading_zero(void **state)
{
	struct est_answer	 a;
	struct cache_etags	 et;
	const uint8_t		*der = NULL;
	size_t			 len = 0;
	unsigned		 x, y;

	(void)state;
	for (x = 0; x < 128; x++) {
		for (y = 0; y < 128; y++) {
			der = csrattrs((uint8_t)x, (uint8_t)y, &len);
			if (reply_etag(der, len) >> 56 == 0)
				break;
		}
		if (y < 128)
			break;
	}
	assert_true(x < 128);
	fill_att((uint8_t)x, (uint8_t)y);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_true(a.etag >> 56 == 0);
	etag_of(&et, a.etag);
	answer_clear(&a);
	assert_true(et.tag[0].len < 8);
	memmove(et.tag[0].v + 1, et.tag[0].v, et.tag[0].len);
	et.tag[0].v[0] = 0;
	et.tag[0].len++;
	assert_int_equal(ask(CF_CSRATTRS, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	answer_clear(&a);
	/* and without the zero, it is ours */
	memmove(et.tag[0].v, et.tag[0].v + 1, --et.tag[0].len);
	assert_int_equal(ask(CF_CSRATTRS, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 3));
	answer_clear(&a);
}

/* A certs-only PKCS#7 with one fresh self-signed certificate. */
static uint8_t *
one_cert_p7(size_t *len)
{
	EVP_PKEY	*k = EVP_EC_gen("P-256");
	X509		*x = X509_new();
	PKCS7		*p7 = PKCS7_new();
	uint8_t		*der = NULL;
	int		 n;

	assert_non_null(k);
	assert_non_null(x);
	assert_non_null(p7);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x),
	    "CN", MBSTRING_ASC, (const unsigned char *)"ca", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_signed), 1);
	assert_int_equal(PKCS7_content_new(p7, NID_pkcs7_data), 1);
	(void)PKCS7_set_detached(p7, 1);
	assert_int_equal(PKCS7_add_certificate(p7, x), 1);
	assert_true((n = i2d_PKCS7(p7, &der)) > 0);
	*len = (size_t)n;
	PKCS7_free(p7);
	X509_free(x);
	EVP_PKEY_free(k);
	return der;
}

/* crts in 281 and in 287: two representations, two stable ETags. */
static void
test_cache_etag_per_format(void **state)
{
	struct est_answer	 a;
	struct cache_etags	 et;
	uint8_t			*der;
	size_t			 len;
	uint64_t		 e281, e287;

	(void)state;
	cache_tick();
	assert_string_equal(fk.path, "/.well-known/est/cacerts");
	der = one_cert_p7(&len);
	ca_answers(der, len);
	OPENSSL_free(der);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ask(CF_PKCS7_CERTS, NULL, &a), 0);
		assert_int_equal(a.cf, CF_PKCS7_CERTS);
		e281 = a.etag;
		answer_clear(&a);
		assert_int_equal(ask(CF_PKIX_CERT, NULL, &a), 0);
		assert_int_equal(a.cf, CF_PKIX_CERT);
		e287 = a.etag;
		assert_true(e287 == reply_etag(a.payload, a.len));
		answer_clear(&a);
		assert_true(e281 != e287 && e281 != 0 && e287 != 0);
	}
	/* the 281 tag does not validate the 287 representation */
	etag_of(&et, e281);
	assert_int_equal(ask(CF_PKIX_CERT, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 5));
	answer_clear(&a);
	etag_of(&et, e287);
	assert_int_equal(ask(CF_PKIX_CERT, &et, &a), 0);
	assert_int_equal(a.code, EST_CODE(2, 3));
	answer_clear(&a);
}

/* Fail the refresh in flight; the next one waits exactly wait_ms. */
static void
fail_and_expect_wait(uint64_t wait_ms)
{
	unsigned	n;

	ca_fails();
	n = fk.submits;
	fk.now += wait_ms - 1;
	cache_tick();
	assert_int_equal(fk.submits, n);
	fk.now += 1;
	cache_tick();
	assert_int_equal(fk.submits, n + 1);
}

/* Retries after 1, 2, 4 ... s, capped at 60 s; success starts over. */
static void
test_cache_backoff(void **state)
{
	static const uint64_t	 waits[] = { 1000, 2000, 4000, 8000, 16000,
				    32000, 60000, 60000 };
	size_t			 len;
	const uint8_t		*der;

	(void)state;
	cache_tick();
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
		fail_and_expect_wait(waits[i]);
	der = csrattrs(1, 2, &len);
	ca_answers(der, len);
	/* fresh again; past the TTL the next failure waits 1 s */
	fk.now += TTL_S * 1000;
	cache_tick();
	fail_and_expect_wait(1000);
}

/* A success ends stale serving: past the TTL it goes upstream again. */
static void
test_cache_success_resets(void **state)
{
	struct est_answer	 a;
	const uint8_t		*der;
	size_t			 len;

	(void)state;
	fill_att(1, 2);
	fk.now += TTL_S * 1000;
	cache_tick();
	ca_fails();
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_string_equal(a.reason, "stale");
	answer_clear(&a);
	fk.now += 1000;
	cache_tick();
	der = csrattrs(1, 2, &len);
	ca_answers(der, len);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_string_equal(a.reason, "cached");
	answer_clear(&a);
	fk.now += TTL_S * 1000;
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	answer_clear(&a);
}

/* Other upstream servers on reload: the answer and refresh are dropped. */
static void
test_cache_configure(void **state)
{
	struct est_answer	 a;
	static struct config	 cf2, cf3;

	(void)state;
	fill_att(1, 2);
	cf2 = fk.cf;
	cache_configure(&cf2);		/* same servers: kept */
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	answer_clear(&a);
	fk.now += TTL_S * 900;
	cache_tick();			/* a refresh in flight */
	assert_non_null(fk.done);
	cf3 = cf2;
	snprintf(cf3.routes[0].up.servers[0], CONFIG_URL_MAX,
	    "https://other.example");
	cf3.routes[0].up.nservers = 1;
	cache_configure(&cf3);
	assert_int_equal(fk.cancels, 1);
	assert_int_equal(fk.pool.nrunning, 0);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	answer_clear(&a);
}

/* What the request path hands over is kept only when caching is on. */
static void
test_cache_put(void **state)
{
	struct est_answer	 a;
	const uint8_t		*der;
	uint8_t			*copy;
	size_t			 len;

	(void)state;
	der = csrattrs(5, 6, &len);
	cache_put(NULL, NULL, 0);
	assert_non_null(copy = malloc(len));
	memcpy(copy, der, len);
	cache_put(NULL, copy, len);	/* freed, or the leak check says */
	assert_non_null(copy = malloc(len));
	memcpy(copy, der, len);
	cache_put(fk.c, copy, len);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), 0);
	assert_memory_equal(a.payload, der, len);
	answer_clear(&a);
	cache_shutdown();
	start(EST_OP_ATT, 0, STALE_S);	/* est.cache_ttl_s 0: off */
	assert_non_null(copy = malloc(len));
	memcpy(copy, der, len);
	cache_put(fk.c, copy, len);
	assert_int_equal(ask(CF_CSRATTRS, NULL, &a), -1);
	cache_tick();
	assert_int_equal(fk.submits, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_fresh_hit,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_max_age,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_refresh_early,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_stale,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_no_stale,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_etag_valid,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_etag_leading_zero,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_etag_per_format,
		    setup_crts, teardown),
		cmocka_unit_test_setup_teardown(test_cache_backoff,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_success_resets,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_configure,
		    setup_att, teardown),
		cmocka_unit_test_setup_teardown(test_cache_put,
		    setup_att, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
