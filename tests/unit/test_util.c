/*
 * Unit tests for util: the bounded buffer and the monotonic clock.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

/* Appends up to the cap succeed; one byte more fails and changes nothing. */
static void
test_buf_cap(void **state)
{
	struct buf	 b;
	uint8_t		 chunk[100];
	size_t		 i;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	buf_init(&b, 1000);
	for (i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 1000);
	assert_true(b.size <= b.cap);
	errno = 0;
	assert_int_equal(buf_append(&b, "y", 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 1000);
	for (i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'x');
	buf_reset(&b);
}

/* Exactly the cap in one go fits; cap + 1 in one go does not. */
static void
test_buf_cap_edges(void **state)
{
	static const struct {
		size_t	 cap;
		size_t	 n;
		int	 want;
	} cases[] = {
		{ .cap = 0, .n = 0, .want = 0 },
		{ .cap = 0, .n = 1, .want = -1 },
		{ .cap = 1, .n = 1, .want = 0 },
		{ .cap = 255, .n = 255, .want = 0 },
		{ .cap = 256, .n = 257, .want = -1 },
		{ .cap = 5000, .n = 5000, .want = 0 },
		{ .cap = 5000, .n = 5001, .want = -1 },
	};
	static uint8_t	 src[5001];
	struct buf	 b;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, cases[i].cap);
		assert_int_equal(buf_append(&b, src, cases[i].n),
		    cases[i].want);
		if (cases[i].want == 0) {
			assert_int_equal(b.len, cases[i].n);
			if (cases[i].n > 0)
				assert_memory_equal(b.data, src, cases[i].n);
		} else
			assert_int_equal(b.len, 0);
		buf_reset(&b);
	}
}

/* len + n wrapping around SIZE_MAX must be refused, not wrapped. */
static void
test_buf_overflow(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_append(&b, "abc", 3), 0);
	errno = 0;
	assert_int_equal(buf_append(&b, "abc", SIZE_MAX - 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(buf_append(&b, "abc", SIZE_MAX), -1);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "abc", 3);
	buf_reset(&b);
}

/* Growth keeps the contents across many reallocations. */
static void
test_buf_grow(void **state)
{
	struct buf	 b;
	uint8_t		 c;
	size_t		 i;

	(void)state;
	buf_init(&b, 70000);
	for (i = 0; i < 70000; i++) {
		c = (uint8_t)(i * 7);
		assert_int_equal(buf_append(&b, &c, 1), 0);
	}
	assert_int_equal(b.len, 70000);
	assert_true(b.size <= 70000);
	for (i = 0; i < 70000; i++)
		assert_int_equal(b.data[i], (uint8_t)(i * 7));
	buf_reset(&b);
}

/* Reset and wipe free the data and keep the cap for reuse. */
static void
test_buf_reset_wipe(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, "secret", 6), 0);
	buf_wipe(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.size, 0);
	assert_int_equal(b.cap, 10);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	buf_reset(&b);
	assert_null(b.data);
	assert_int_equal(b.cap, 10);
	buf_wipe(&b);			/* empty: nothing to do */
	buf_reset(&b);
}

/* The monotonic clock never goes backwards. */
static void
test_mono_ms(void **state)
{
	uint64_t	 a, b;

	(void)state;
	a = mono_ms();
	b = mono_ms();
	assert_true(a > 0);
	assert_true(b >= a);
}

/* Run every test; the exit status is the number of failures. */
/* Numeric addresses only, both families, the port in network order. */
static void
test_addr_parse(void **state)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = 0;
	const uint8_t		*b;
	size_t			 n;
	static const uint8_t	 v4[4] = { 127, 0, 0, 1 };

	(void)state;
	assert_int_equal(addr_parse("127.0.0.1", 5684, &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5684);
	b = addr_bytes(&ss, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(b, v4, 4);
	assert_false(addr_is_multicast(&ss));
	assert_int_equal(addr_parse("::1", 0, &ss, NULL), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	b = addr_bytes(&ss, &n);
	assert_int_equal(n, 16);
	assert_int_equal(b[15], 1);
	assert_int_equal(addr_parse("ff02::fd", 0, &ss, NULL), 0);
	assert_true(addr_is_multicast(&ss));
	assert_int_equal(addr_parse("224.0.1.187", 0, &ss, NULL), 0);
	assert_true(addr_is_multicast(&ss));
	assert_int_equal(addr_parse("localhost", 0, &ss, NULL), -1);
	assert_int_equal(addr_parse("1.2.3", 0, &ss, NULL), -1);
	assert_int_equal(addr_parse("", 0, &ss, NULL), -1);
	assert_int_equal(addr_parse("[::1]", 0, &ss, NULL), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_cap_edges),
		cmocka_unit_test(test_buf_overflow),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_reset_wipe),
		cmocka_unit_test(test_mono_ms),
		cmocka_unit_test(test_addr_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
