/*
 * The request line is written in its documented format: the keys of
 * reqline_fields() in their order, each value of its documented syntax,
 * and a Subject with quotes or backslashes still one quoted value.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reqline.h"

/* A regular expression for one placeholder of the value syntax. */
static const char *
value_re(const char *v, size_t len)
{
	static const struct {
		const char *name, *re;
	} map[] = {
		{ "N", "[0-9]+" },
		{ "PEER", "(-|[0-9.]+:[0-9]+|\\[[0-9a-fA-F:.]+\\]:[0-9]+)" },
		{ "\"SUBJECT\"", "\"([^\"\\\\]|\\\\[\"\\\\])*\"" },
		{ "OP", "(crts|sen|sren|att|skg|skc|core|/[!-~]*)" },
		{ "LABEL", "[A-Za-z0-9_.-]+" },
		{ "CODE", "[0-9]\\.[0-9][0-9]" },
		{ "REASON", "[a-z0-9-]+" },
		{ "-", "-" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == len &&
		    strncmp(map[i].name, v, len) == 0)
			return map[i].re;
	fail_msg("no regular expression for the syntax %.*s", (int)len, v);
	return NULL;
}

/* The documented format as one anchored extended regular expression. */
static void
format_re(char *re, size_t cap)
{
	size_t				 n, o;
	const struct reqline_field	*f = reqline_fields(&n);

	o = (size_t)snprintf(re, cap, "^");
	for (size_t i = 0; i < n; i++) {
		const char *v = f[i].value;

		o += (size_t)snprintf(re + o, cap - o, "%s%s=(", i ? " " : "",
		    f[i].key);
		while (*v != '\0') {
			size_t w = strcspn(v, "|");

			o += (size_t)snprintf(re + o, cap - o, "%s%s",
			    v == f[i].value ? "" : "|", value_re(v, w));
			v += w + (v[w] == '|');
		}
		o += (size_t)snprintf(re + o, cap - o, ")");
	}
	snprintf(re + o, cap - o, "$");
}

static void
assert_documented(const char *line)
{
	char	re[4096];
	regex_t	rx;

	format_re(re, sizeof(re));
	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	if (regexec(&rx, line, 0, NULL, 0) != 0)
		fail_msg("not in the documented format:\n%s\n%s", line, re);
	regfree(&rx);
}

static struct reqline
base_line(void)
{
	struct reqline l = { 7, "127.0.0.1:5684", "/O=Example/CN=d1", "sen",
	    "", 2, 286, 215, 200, 1, 3, (2 << 5) | 4, 505, 4, "ok" };

	return l;
}

/* An ordinary line, field for field. */
static void
test_plain(void **state)
{
	char		buf[REQLINE_MAX];
	struct reqline	l = base_line();

	(void)state;
	reqline_format(buf, sizeof(buf), &l);
	assert_string_equal(buf, "req=7 peer=127.0.0.1:5684 "
	    "dev=\"/O=Example/CN=d1\" op=sen label=- method=2 cf=286 in=215 "
	    "up=200 up_ms=3 coap=2.04 out=505 ms=4 reason=ok");
	assert_documented(buf);
}

/* Every "none" is "-", and the line is still of the format. */
static void
test_none(void **state)
{
	char		buf[REQLINE_MAX];
	struct reqline	l = { 1, NULL, NULL, "/.well-known/est/nope", NULL,
			    1, -1, 0, 0, 0, 0, 0, 0, 0, NULL };

	(void)state;
	reqline_format(buf, sizeof(buf), &l);
	assert_string_equal(buf, "req=1 peer=- dev=\"-\" "
	    "op=/.well-known/est/nope label=- method=1 cf=- in=0 up=- "
	    "up_ms=- coap=- out=0 ms=0 reason=-");
	assert_documented(buf);
	/* an exchange that ended without a status */
	l.up_asked = 1;
	l.up_ms = 30000;
	l.peer = "[::1]:40000";
	l.label = "factory";
	l.coap = (5 << 5) | 4;
	l.reason = "upstream-timeout";
	reqline_format(buf, sizeof(buf), &l);
	assert_non_null(strstr(buf, " up=- up_ms=30000 coap=5.04 "));
	assert_documented(buf);
}

/* A Subject with " and \ stays one value: they are escaped. */
static void
test_quotes(void **state)
{
	char		buf[REQLINE_MAX];
	struct reqline	l = base_line();

	(void)state;
	l.dev = "/O=Evil\" op=crts x=\"/CN=a\\xC3\\xA9\\";
	reqline_format(buf, sizeof(buf), &l);
	assert_non_null(strstr(buf, " dev=\"/O=Evil\\\" op=crts x=\\\"/CN="
	    "a\\\\xC3\\\\xA9\\\\\" op=sen "));
	assert_documented(buf);
}

/* The longest Subject fully escaped still fits, with every field. */
static void
test_longest(void **state)
{
	char		buf[REQLINE_MAX], dev[256];
	struct reqline	l = base_line();

	(void)state;
	memset(dev, '"', sizeof(dev) - 1);
	dev[sizeof(dev) - 1] = '\0';
	l.dev = dev;
	l.reason = "accept-287-several-certs";
	assert_true(reqline_format(buf, sizeof(buf), &l) < sizeof(buf) - 1);
	assert_documented(buf);
}

/* Every key is documented with a syntax and a sentence. */
static void
test_table(void **state)
{
	size_t				 n, nv;
	const struct reqline_field	*f = reqline_fields(&n);
	const struct reqline_field	*v = reqline_values(&nv);

	(void)state;
	assert_int_equal(n, 14);
	assert_string_equal(f[0].key, "req");
	assert_string_equal(f[n - 1].key, "reason");
	for (size_t i = 0; i < n; i++)
		assert_true(f[i].value[0] != '\0' && f[i].text[0] != '\0');
	for (size_t i = 0; i < nv; i++)
		assert_true(v[i].text[0] != '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_longest),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
