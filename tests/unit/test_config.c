/*
 * Unit tests for config_load() and gen_check(): defaults, every kind of error, the error
 * positions an operator reads, and that errors are collected, not stopped
 * at the first. Files the config names are made in a temp dir.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "est_map.h"
#include "gen.h"
#include "util.h"

static char	tdir[64];
static char	cfpath[128];

/* A temp dir with empty files for every path a config may name. */
static int
setup(void **state)
{
	const char *names[] = { "c.pem", "k.pem", "ca.pem" };
	char path[160];

	(void)state;
	snprintf(tdir, sizeof(tdir), "/tmp/estcoapd-ut.XXXXXX");
	if (mkdtemp(tdir) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", tdir, names[i]);
		if ((fp = fopen(path, "w")) == NULL)
			return -1;
		fclose(fp);
		/* a world-readable key file is refused */
		if (chmod(path, 0600) == -1)
			return -1;
	}
	snprintf(cfpath, sizeof(cfpath), "%s/estcoapd.json", tdir);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write a config whose %s are replaced by the temp dir, and load it. */
static struct config *
load(const char *fmt, struct errlist *errs)
{
	char		 text[4096], *out = text;
	FILE		*fp;
	struct config	*cf;

	for (const char *p = fmt; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 's') {
			out += snprintf(out, sizeof(text) - (size_t)(out - text),
			    "%s", tdir);
			p++;
		} else
			*out++ = *p;
	}
	*out = '\0';
	fp = fopen(cfpath, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	memset(errs, 0, sizeof(*errs));
	/* what it names on this machine: gen.c */
	if ((cf = config_load(cfpath, errs)) != NULL &&
	    gen_check(cf, errs) == -1) {
		config_free(cf);
		cf = NULL;
	}
	return cf;
}

#define DTLS_OK	"\"dtls\": {\"cert\": \"%s/c.pem\", \"key\": \"%s/k.pem\", " \
		"\"client_ca\": \"%s/ca.pem\"}"
#define UP_OK	"\"upstream\": {\"url\": \"https://ca.example:8443\", " \
		"\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", " \
		"\"ca\": \"%s/ca.pem\"}"

/* The smallest config loads and every default is in place. */
static void
test_config_defaults(void **state)
{
	struct errlist	 e;
	struct config	*cf;

	(void)state;
	cf = load("{" DTLS_OK ", " UP_OK "}", &e);
	assert_non_null(cf);
	assert_int_equal(e.count, 0);
	assert_int_equal(cf->nlisten, 1);
	assert_string_equal(cf->listen[0].addr, "::");
	assert_int_equal(cf->listen[0].port, 5684);
	assert_int_equal(cf->routes[0].up.timeout_ms, 30000);
	assert_int_equal(cf->routes[0].up.connect_timeout_ms, 5000);
	assert_int_equal(cf->max_request_body, 16384);
	assert_int_equal(cf->max_pending, 1024);
	assert_int_equal(cf->dtls_mtu, 1152);
	assert_int_equal(cf->cache_ttl_s, 300);
	assert_true(cf->routes[0].up.send_cte);
	assert_int_equal(cf->routes[0].up.b64_line_length, 64);
	assert_false(cf->routes[0].up.renew_as_enroll);
	assert_string_equal(cf->att_on_204, "not-found");
	assert_string_equal(cf->log_level, "info");
	assert_null(cf->dtls_chain);
	config_free(cf);
}

/* Values given in the file win over defaults. */
static void
test_config_values(void **state)
{
	struct errlist	 e;
	struct config	*cf;

	(void)state;
	cf = load("{\"listen\": [{\"address\": \"127.0.0.1\", \"port\": 15684},"
	    " {\"address\": \"::1\"}], " DTLS_OK ", " UP_OK ", "
	    "\"limits\": {\"max_pending\": 10, \"max_pending_per_session\": 2},"
	    " \"est\": {\"att_on_204\": \"empty\"}, "
	    "\"log\": {\"level\": \"debug\"}}", &e);
	assert_non_null(cf);
	assert_int_equal(cf->nlisten, 2);
	assert_string_equal(cf->listen[0].addr, "127.0.0.1");
	assert_int_equal(cf->listen[0].port, 15684);
	assert_string_equal(cf->listen[1].addr, "::1");
	assert_int_equal(cf->listen[1].port, 5684);
	assert_int_equal(cf->max_pending, 10);
	assert_int_equal(cf->max_pending_per_session, 2);
	assert_string_equal(cf->att_on_204, "empty");
	assert_string_equal(cf->log_level, "debug");
	config_free(cf);
}

/* Labels: est.labels inherit everything, labels.<l> override and inherit. */
static void
test_config_routes(void **state)
{
	struct errlist			 e;
	struct config			*cf;
	const struct config_route	*d, *a, *b;

	(void)state;
	cf = load("{" DTLS_OK ", \"upstream\": {\"servers\": "
	    "[\"https://ca1.example\", \"https://ca2.example:8443\"], "
	    "\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", "
	    "\"ca\": \"%s/ca.pem\", \"timeout_ms\": 9000, "
	    "\"down_time_s\": 5, \"base64_line_length\": 76}, "
	    "\"est\": {\"labels\": [\"plain\"], \"operations\": "
	    "[\"crts\", \"sen\"]}, "
	    "\"labels\": {\"other\": {\"upstream\": {\"url\": "
	    "\"https://other.example\", \"ca\": \"%s/c.pem\", "
	    "\"connect_timeout_ms\": 700, \"base64_line_length\": 0, "
	    "\"send_cte\": false, \"renew_as_enroll\": true}, "
	    "\"operations\": [\"att\"]}}}",
	    &e);
	if (cf == NULL)
		fail_msg("%s", e.text);
	assert_int_equal(cf->nroutes, 3);
	d = config_route_find(cf, "");
	a = config_route_find(cf, "plain");
	b = config_route_find(cf, "other");
	assert_non_null(d);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(config_route_find(cf, "nope"));
	assert_int_equal(d->up.nservers, 2);
	assert_string_equal(d->up.servers[1], "https://ca2.example:8443");
	assert_int_equal(d->up.health_interval_s, 10);
	assert_int_equal(d->ops, (1u << EST_OP_CRTS) | (1u << EST_OP_SEN));
	/* est.labels: everything from the top, default operations */
	assert_int_equal(a->up.nservers, 2);
	assert_int_equal(a->up.timeout_ms, 9000);
	assert_int_equal(a->up.b64_line_length, 76);
	assert_true(a->up.send_cte);
	assert_int_equal(a->ops, (1u << EST_OP_CRTS) | (1u << EST_OP_SEN) |
	    (1u << EST_OP_SREN) | (1u << EST_OP_ATT));
	/* labels.other: its own server and CA, the rest inherited */
	assert_int_equal(b->up.nservers, 1);
	assert_string_equal(b->up.servers[0], "https://other.example");
	assert_non_null(strstr(b->up.ca, "/c.pem"));
	assert_non_null(strstr(b->up.client_key, "/k.pem"));
	assert_int_equal(b->up.connect_timeout_ms, 700);
	assert_int_equal(b->up.timeout_ms, 9000);
	assert_int_equal(b->up.down_time_s, 5);
	assert_int_equal(b->up.b64_line_length, 0);
	assert_false(b->up.send_cte);
	assert_true(b->up.renew_as_enroll);
	assert_false(a->up.renew_as_enroll);
	assert_int_equal(d->up.b64_line_length, 76);
	assert_int_equal(b->ops, 1u << EST_OP_ATT);
	config_free(cf);
}

#define UP_SRV	"\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", " \
		"\"ca\": \"%s/ca.pem\""

/* One bad config per row: the error text an operator must see. */
static const struct {
	const char	*json;
	const char	*want;		/* substring of the error list */
} bad[] = {
	{ "{" DTLS_OK ", " UP_OK ", \"extra\": 1}", ": extra: unknown key" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_body\": 1}}",
	  ": limits.max_body: unknown key" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": \"9\"}}",
	  ": limits.max_pending: must be an integer 1..1000000" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": 0}}",
	  ": limits.max_pending: must be an integer" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": 1.5}}",
	  ": limits.max_pending: must be an integer" },
	/* far outside int64_t: refused, not converted (fuzz_config) */
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": 6e42}}",
	  ": limits.max_pending: must be an integer" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": -1e300}}",
	  ": limits.max_pending: must be an integer" },
	{ "{" DTLS_OK ", " UP_OK ", \"upstream\": 3}",
	  "upstream: must be an object" },
	{ "{" DTLS_OK "}", ": upstream: required section is missing" },
	{ "{\"dtls\": {\"cert\": \"%s/c.pem\", \"key\": \"%s/k.pem\"}, " UP_OK
	  "}", ": dtls.client_ca: required key is missing" },
	{ "{\"dtls\": {\"cert\": \"%s/nope.pem\", \"key\": \"%s/k.pem\", "
	  "\"client_ca\": \"%s/ca.pem\"}, " UP_OK "}",
	  "dtls.cert: /tmp/estcoapd-ut." },
	{ "{\"dtls\": {\"cert\": \"%s\", \"key\": \"%s/k.pem\", "
	  "\"client_ca\": \"%s/ca.pem\"}, " UP_OK "}",
	  "not a regular file" },
	{ "{" DTLS_OK ", \"upstream\": {\"url\": \"http://ca\", "
	  "\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", "
	  "\"ca\": \"%s/ca.pem\"}}", "upstream.url: must be https" },
	{ "{" DTLS_OK ", \"upstream\": {\"url\": \"https://ca/est\", "
	  "\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", "
	  "\"ca\": \"%s/ca.pem\"}}", "upstream.url: must not carry a path" },
	{ "{" DTLS_OK ", " UP_OK ", \"est\": {\"att_on_204\": \"maybe\"}}",
	  "est.att_on_204: \"maybe\" is not one of" },
	{ "{" DTLS_OK ", " UP_OK ", \"upstream\": {}}",
	  ": upstream: duplicate key" },
	{ "{\"listen\": [{\"address\": \"localhost\"}], " DTLS_OK ", " UP_OK
	  "}", "listen[0].address: must be a numeric" },
	{ "{\"listen\": [{\"address\": \"::\", \"port\": 70000}], " DTLS_OK
	  ", " UP_OK "}", "listen[0].port: must be an integer 1..65535" },
	{ "{\"listen\": [{\"address\": \"::\", \"tls\": true}], " DTLS_OK
	  ", " UP_OK "}", "listen[0].tls: unknown key" },
	{ "{\"listen\": [], " DTLS_OK ", " UP_OK "}",
	  "listen: must be a non-empty array" },
	{ "{" DTLS_OK ", " UP_OK ", \"limits\": {\"max_pending\": 2, "
	  "\"max_pending_per_session\": 3}}",
	  "limits.max_pending_per_session: must not exceed" },
	{ "{" DTLS_OK ", \"upstream\": {" UP_SRV "}}",
	  "upstream.url: required key is missing (or upstream.servers)" },
	{ "{" DTLS_OK ", \"upstream\": {\"url\": \"https://a\", "
	  "\"servers\": [\"https://b\"], " UP_SRV "}}",
	  ": upstream: give url or servers, not both" },
	{ "{" DTLS_OK ", \"upstream\": {\"servers\": [], " UP_SRV "}}",
	  "upstream.servers: must be a non-empty array" },
	{ "{" DTLS_OK ", \"upstream\": {\"servers\": [\"https://a\", "
	  "\"http://b\"], " UP_SRV "}}",
	  "upstream.servers[1]: must be https://host[:port]" },
	{ "{" DTLS_OK ", \"upstream\": {\"servers\": [\"https://a\", "
	  "\"https://a\"], " UP_SRV "}}",
	  "upstream.servers[1]: duplicate of upstream.servers[0]" },
	{ "{" DTLS_OK ", " UP_OK ", \"est\": {\"labels\": [\"x\"]}, "
	  "\"labels\": {\"x\": {}}}", "labels.x: label \"x\" is given twice" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"a/b\": {}}}",
	  "labels.a/b: must be 1..32 letters" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": 1}}",
	  "labels.x: must be an object" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"upstream\": "
	  "{\"max_connections\": 3}}}}",
	  "labels.x.upstream.max_connections: only allowed at the top level" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"upstream\": "
	  "{\"url\": \"https://h/p\"}}}}",
	  "labels.x.upstream.url: must not carry a path" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"upstream\": "
	  "{\"timeout_ms\": 300, \"connect_timeout_ms\": 400}}}}",
	  "labels.x.upstream.connect_timeout_ms: must not exceed" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"operations\": "
	  "[\"skg\"]}}}", "labels.x.operations[0]: skg needs est.server_keygen" },
	{ "{" DTLS_OK ", " UP_OK ", \"est\": {\"operations\": [\"crts\", "
	  "\"nope\"]}}", "est.operations[1]: must be one of crts" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"upstream\": "
	  "{\"base64_line_length\": 77}}}}",
	  "labels.x.upstream.base64_line_length: must be an integer 0..76" },
	{ "{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {\"colour\": 1}}}",
	  "labels.x.colour: unknown key" },
	{ "{" DTLS_OK ", " UP_OK ", \"service\": {\"workers\": 0}}",
	  "service.workers: must be an integer 1..64" },
	{ "{\"listen\": [{\"address\": \"::\", \"port\": 65535}], " DTLS_OK
	  ", " UP_OK ", \"service\": {\"workers\": 2}}",
	  "listen[0].port: with 2 workers the last one would need port 65536" },
	{ "{" DTLS_OK ", " UP_OK ", \"service\": {\"workers\": 3, "
	  "\"metrics_port\": 65534}}",
	  "service.metrics_port: with 3 workers the last one would need port "
	  "65536" },
	{ "{\"listen\": [{\"address\": \"::\", \"port\": 5684}, "
	  "{\"address\": \"::\", \"port\": 5686}], " DTLS_OK ", " UP_OK
	  ", \"service\": {\"workers\": 4}}",
	  "listen[1]: its worker ports overlap those of listen[0] (4 workers)" },
	{ "[1, 2]", "the top level must be an object" },
	{ "{\n  \"dtls\": {\n    \"cert\": 1,,\n  }\n}", ".json:3:16: JSON "
	  "syntax error" },
	{ "", ".json:1:1: JSON syntax error" },
	/* comments keep the positions of what follows them */
	{ "{ /* one\n two */ // three\n  \"a\" 1 }", ".json:3:7: JSON "
	  "syntax error" },
	{ "{ /* never closed", ".json:1:4: JSON syntax error" },
};

/* Comments (// and slash-star) are blanks; "//" inside a string is not one. */
static void
test_config_comments(void **state)
{
	struct errlist	 e = { 0 };
	struct config	*cf;

	(void)state;
	cf = load("// an example\n{ /* the DTLS side */ " DTLS_OK ",\n"
	    "\"upstream\": {\"url\": \"https://ca.example:8443\", // a CA\n"
	    "\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", "
	    "\"ca\": \"%s/ca.pem\"}, \"log\": {\"level\": \"a/*b*/c\"}}\n"
	    "/* the end */", &e);
	assert_null(cf);
	/* the string kept its slashes and stars */
	assert_non_null(strstr(e.text, "log.level: \"a/*b*/c\" is not one of"));
	errlist_free(&e);
	cf = load("// an example\n{ /* the DTLS side */ " DTLS_OK ",\n"
	    "\"upstream\": {\"url\": \"https://ca.example:8443\", // a CA\n"
	    "\"client_cert\": \"%s/c.pem\", \"client_key\": \"%s/k.pem\", "
	    "\"ca\": \"%s/ca.pem\"}}\n/* the end */", &e);
	if (cf == NULL)
		fail_msg("%s", e.text);
	assert_string_equal(cf->routes[0].up.url, "https://ca.example:8443");
	config_free(cf);
}

static void
test_config_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errlist	 e;
		struct config	*cf = load(bad[i].json, &e);

		if (cf != NULL || e.count == 0 ||
		    strstr(e.text, bad[i].want) == NULL)
			fail_msg("row %zu: want \"%s\", got \"%s\"", i,
			    bad[i].want, e.text != NULL ? e.text : "(none)");
		config_free(cf);
		errlist_free(&e);
	}
}

/* A private key file that every user may read is refused; 0640 is not. */
static void
test_config_key_mode(void **state)
{
	struct errlist	 e;
	struct config	*cf;
	char		 key[160];

	(void)state;
	snprintf(key, sizeof(key), "%s/k.pem", tdir);
	assert_int_equal(chmod(key, 0644), 0);
	cf = load("{" DTLS_OK ", " UP_OK "}", &e);
	assert_null(cf);
	assert_non_null(strstr(e.text, "dtls.key: "));
	assert_non_null(strstr(e.text, "private key is readable by every "
	    "user (mode 0644); run \"chmod o-rwx "));
	assert_non_null(strstr(e.text, "upstream.client_key: "));
	errlist_free(&e);
	assert_int_equal(chmod(key, 0640), 0);
	cf = load("{" DTLS_OK ", " UP_OK "}", &e);
	assert_non_null(cf);
	config_free(cf);
	errlist_free(&e);
	assert_int_equal(chmod(key, 0600), 0);
}

/*
 * config_load() reads the file it is given and nothing else: a missing
 * certificate is found by gen_check(), and so is a user that does not
 * exist.
 */
static void
test_config_leaf(void **state)
{
	struct errlist	 e = { 0 };
	struct config	*cf;
	FILE		*fp;

	(void)state;
	fp = fopen(cfpath, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"dtls\": {\"cert\": \"%s/none.pem\", \"key\": "
	    "\"%s/k.pem\", \"client_ca\": \"%s/ca.pem\"}, \"upstream\": "
	    "{\"url\": \"https://ca.example\", \"client_cert\": "
	    "\"%s/c.pem\", \"client_key\": \"%s/k.pem\", \"ca\": "
	    "\"%s/ca.pem\"}, \"service\": {\"user\": "
	    "\"no-such-user-estcoapd\"}}", tdir, tdir, tdir, tdir, tdir,
	    tdir);
	fclose(fp);
	cf = config_load(cfpath, &e);
	assert_non_null(cf);
	assert_int_equal(e.count, 0);
	assert_int_equal(gen_check(cf, &e), -1);
	assert_int_equal(e.count, 2);
	assert_non_null(strstr(e.text, "dtls.cert: "));
	assert_non_null(strstr(e.text, "none.pem: No such file"));
	assert_non_null(strstr(e.text, "service.user: no such user "
	    "\"no-such-user-estcoapd\""));
	config_free(cf);
	errlist_free(&e);
}

/* The keys of an auth section are schema rows with defaults and ranges. */
static void
test_config_auth_keys(void **state)
{
	struct config_authkey ak;

	(void)state;
	assert_true(config_auth_key("pop", &ak));
	assert_string_equal(ak.type, "string");
	assert_true(config_auth_key("csr_identity_template", NULL));
	assert_true(config_auth_key("csr_rsa_min_bits", &ak));
	assert_int_equal(ak.def, 2048);
	assert_int_equal(ak.min, 1024);
	assert_int_equal(ak.max, 16384);
	assert_false(config_auth_key("colour", NULL));
	assert_false(config_auth_key("auth", NULL));
	assert_false(config_auth_key("upstream.url", NULL));
}

/* Worker i moves every listen port and the metrics port up by i. */
static void
test_config_workers(void **state)
{
	struct errlist	 e;
	struct config	*cf, *cf2;

	(void)state;
	cf = load("{\"listen\": [{\"address\": \"::\", \"port\": 5684}, "
	    "{\"address\": \"::\", \"port\": 5784}], " DTLS_OK ", " UP_OK
	    ", \"service\": {\"workers\": 3, \"metrics_port\": 9100}}", &e);
	assert_non_null(cf);
	assert_int_equal(cf->workers, 3);
	cf2 = load("{\"listen\": [{\"address\": \"::\", \"port\": 5684}, "
	    "{\"address\": \"::\", \"port\": 5784}], " DTLS_OK ", " UP_OK
	    ", \"service\": {\"workers\": 3, \"metrics_port\": 9100}}", &e);
	assert_non_null(cf2);
	assert_null(config_static_diff(cf, cf2));
	config_worker_ports(cf, 2);
	assert_int_equal(cf->listen[0].port, 5686);
	assert_int_equal(cf->listen[1].port, 5786);
	assert_int_equal(cf->metrics_port, 9102);
	assert_int_equal(cf->worker, 2);
	assert_string_equal(config_static_diff(cf, cf2), "listen");
	config_worker_ports(cf2, 2);
	assert_null(config_static_diff(cf, cf2));
	cf2->workers = 4;
	assert_string_equal(config_static_diff(cf, cf2), "service.workers");
	config_free(cf);
	config_free(cf2);

	/* the default is one process, and metrics_port 0 stays off */
	cf = load("{" DTLS_OK ", " UP_OK "}", &e);
	assert_non_null(cf);
	assert_int_equal(cf->workers, 1);
	config_worker_ports(cf, 1);
	assert_int_equal(cf->metrics_port, 0);
	config_free(cf);
}

/* static_diff of a config with one changed section against the base. */
static const char *
reload_diff(const char *extra, char *buf, size_t bufsz)
{
	struct errlist	 e = { 0 };
	struct config	*a, *b;
	const char	*d;
	char		 fmt[1024];

	a = load("{" DTLS_OK ", " UP_OK ", \"labels\": {\"x\": {}}}", &e);
	assert_non_null(a);
	/* extra may hold %s for the temp dir: no printf here */
	fmt[0] = '\0';
	strncat(fmt, "{" DTLS_OK ", " UP_OK ", ", sizeof(fmt) - 1);
	strncat(fmt, extra, sizeof(fmt) - strlen(fmt) - 2);
	strcat(fmt, "}");
	b = load(fmt, &e);
	if (b == NULL)
		fail_msg("%s", e.text);
	d = config_static_diff(a, b);
	snprintf(buf, bufsz, "%s", d != NULL ? d : "(none)");
	config_free(a);
	config_free(b);
	return buf;
}

/* The .reload column decides which changes a reload refuses, and names them. */
static void
test_config_reload_column(void **state)
{
	char b[80];

	(void)state;
	/* reloadable */
	assert_string_equal(reload_diff("\"labels\": {\"x\": {}}, "
	    "\"limits\": {\"max_pending\": 7}", b, sizeof(b)), "(none)");
	assert_string_equal(reload_diff("\"labels\": {\"x\": {\"upstream\": "
	    "{\"timeout_ms\": 9000}}}, \"log\": {\"level\": \"debug\"}",
	    b, sizeof(b)), "(none)");
	/* restart only: a key, a whole section, a route's key */
	assert_string_equal(reload_diff("\"labels\": {\"x\": {}}, "
	    "\"service\": {\"metrics_address\": \"::1\"}", b, sizeof(b)),
	    "service.metrics_address");
	assert_string_equal(reload_diff("\"labels\": {\"x\": {}}, "
	    "\"est\": {\"server_keygen\": true}", b, sizeof(b)),
	    "est.server_keygen");
	assert_string_equal(reload_diff("\"labels\": {\"x\": {}}, "
	    "\"discovery\": {\"interface\": \"lo\"}", b, sizeof(b)),
	    "discovery");
	assert_string_equal(reload_diff("\"labels\": {\"y\": {}}", b,
	    sizeof(b)), "labels (the set of CA labels)");
	assert_string_equal(reload_diff("\"labels\": {\"x\": "
	    "{\"operations\": [\"crts\"]}}", b, sizeof(b)),
	    "labels.x.operations");
	assert_string_equal(reload_diff("\"labels\": {\"x\": {}}, "
	    "\"est\": {\"operations\": [\"crts\", \"sen\"]}", b, sizeof(b)),
	    "est.operations");
}

/* Errors are collected: three wrong keys, three lines. */
static void
test_config_collects(void **state)
{
	struct errlist	 e;
	struct config	*cf;

	(void)state;
	cf = load("{" DTLS_OK ", " UP_OK ", \"a\": 1, \"b\": 2, "
	    "\"limits\": {\"max_pending\": -1}}", &e);
	assert_null(cf);
	assert_int_equal(e.count, 3);
	assert_non_null(strstr(e.text, ": a: unknown key"));
	assert_non_null(strstr(e.text, ": b: unknown key"));
	assert_non_null(strstr(e.text, "limits.max_pending"));
	errlist_free(&e);
}

/* A missing config file names the file and the reason. */
static void
test_config_missing_file(void **state)
{
	struct errlist	 e = { 0 };

	(void)state;
	assert_null(config_load("/nonexistent/estcoapd.json", &e));
	assert_int_equal(e.count, 1);
	assert_non_null(strstr(e.text,
	    "/nonexistent/estcoapd.json: No such file"));
	errlist_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_routes),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_collects),
		cmocka_unit_test(test_config_key_mode),
		cmocka_unit_test(test_config_leaf),
		cmocka_unit_test(test_config_auth_keys),
		cmocka_unit_test(test_config_workers),
		cmocka_unit_test(test_config_reload_column),
		cmocka_unit_test(test_config_comments),
		cmocka_unit_test(test_config_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
