/*
 * Unit tests for metrics: values and label sets in the rendered text, label
 * escaping, the cap on series, the histogram, a C version of the checks in
 * tests/integration/promcheck.sh, and the HTTP listener on loopback with an
 * evhttp client on the same loop.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "estcoapd.h"
#include "log.h"
#include "metrics.h"

#define NAME_MAX_LEN	128
#define LABELS_MAX	8
#define VALUE_MAX	1024

/*
 * The structural checks of promcheck.sh, in C. A whole text is checked at
 * once; the first problem is written to err with its line number.
 */
struct pc_family {
	char	 name[NAME_MAX_LEN];
	char	 type[16];		/* "" when no TYPE line */
	int	 help, sampled, closed;
};

struct pc_hist {
	char	*key;			/* family, then labels without le */
	int	 line;			/* first line of the series */
	int	 nbuckets, has_inf, has_count, has_sum;
	double	 last_le, last_cum, inf, count;
};

struct pc {
	struct pc_family	*fam;
	size_t			 nfam;
	char			**series;	/* every series key seen */
	size_t			 nseries;
	struct pc_hist		*hist;
	size_t			 nhist;
	size_t			 cur;		/* family of the last line */
	int			 line;
	char			*err;
	size_t			 errlen;
};

/* A parsed sample line. */
struct pc_sample {
	char	 name[NAME_MAX_LEN];
	int	 nl;
	char	 ln[LABELS_MAX][NAME_MAX_LEN];
	char	 lv[LABELS_MAX][VALUE_MAX];	/* as written, escapes kept */
	char	 value[64];
};

/* Note the first problem; always -1. */
static int
pc_fail(struct pc *pc, const char *what)
{
	if (pc->err[0] == '\0')
		snprintf(pc->err, pc->errlen, "line %d: %s", pc->line, what);
	return -1;
}

/* Length of a metric (colon ok) or label name at s; 0 if none. */
static size_t
pc_name(const char *s, int metric)
{
	size_t	 n = 0;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' ||
	    (metric && s[0] == ':')))
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' ||
	    (metric && s[n] == ':'))
		n++;
	return n;
}

/* A decimal float as the format writes it, not +Inf, -Inf or NaN. */
static int
pc_isfloat(const char *s)
{
	int	 digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char)*s)) {
		s++;
		digits++;
	}
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits++;
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* A sample value: a decimal float, +Inf, -Inf or NaN. */
static int
pc_isvalue(const char *s)
{
	return pc_isfloat(s) || strcmp(s, "+Inf") == 0 ||
	    strcmp(s, "-Inf") == 0 || strcmp(s, "NaN") == 0;
}

/* The family called name, made if new; enters its group. */
static struct pc_family *
pc_enter(struct pc *pc, const char *name)
{
	size_t	 i;

	for (i = 0; i < pc->nfam; i++)
		if (strcmp(pc->fam[i].name, name) == 0)
			break;
	if (i == pc->nfam) {
		pc->fam = realloc(pc->fam, (pc->nfam + 1) * sizeof(*pc->fam));
		assert_non_null(pc->fam);
		memset(&pc->fam[i], 0, sizeof(pc->fam[i]));
		snprintf(pc->fam[i].name, sizeof(pc->fam[i].name), "%s", name);
		pc->nfam++;
	}
	if (i != pc->cur) {
		if (pc->fam[i].closed) {
			pc_fail(pc, "family not in one group");
			return NULL;
		}
		if (pc->cur != SIZE_MAX)
			pc->fam[pc->cur].closed = 1;
		pc->cur = i;
	}
	return &pc->fam[i];
}

/* The TYPE of a family seen so far, or "". */
static const char *
pc_type(struct pc *pc, const char *name)
{
	size_t	 i;

	for (i = 0; i < pc->nfam; i++)
		if (strcmp(pc->fam[i].name, name) == 0)
			return pc->fam[i].type;
	return "";
}

/* A HELP or TYPE line; other comments pass. */
static int
pc_comment(struct pc *pc, const char *s)
{
	static const char *const types[] = {
		"counter", "gauge", "histogram", "summary", "untyped"
	};
	struct pc_family	*f;
	char			 name[NAME_MAX_LEN];
	const char		*p;
	size_t			 n, i;
	int			 is_help;

	if (strncmp(s, "# HELP ", 7) == 0)
		is_help = 1;
	else if (strncmp(s, "# TYPE ", 7) == 0)
		is_help = 0;
	else
		return 0;
	s += 7;
	if ((n = pc_name(s, 1)) == 0 || n >= sizeof(name))
		return pc_fail(pc, "bad metric name in HELP or TYPE");
	memcpy(name, s, n);
	name[n] = '\0';
	s += n;
	if ((f = pc_enter(pc, name)) == NULL)
		return -1;
	if (f->sampled)
		return pc_fail(pc, "HELP or TYPE after samples");
	if (is_help) {
		if (f->help)
			return pc_fail(pc, "second HELP");
		f->help = 1;
		if (*s != '\0' && *s != ' ')
			return pc_fail(pc, "bad metric name in HELP");
		for (p = s; *p != '\0'; p++)
			if (*p == '\\' && *++p != '\\' && *p != 'n')
				return pc_fail(pc, "bad escape in HELP");
		return 0;
	}
	if (f->type[0] != '\0')
		return pc_fail(pc, "second TYPE");
	if (*s++ != ' ')
		return pc_fail(pc, "TYPE without a type");
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i]) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0]))
		return pc_fail(pc, "unknown type");
	snprintf(f->type, sizeof(f->type), "%s", s);
	return 0;
}

/* Parse "name{l="v",...} value [timestamp]" into smp. */
static int
pc_parse(struct pc *pc, const char *s, struct pc_sample *smp)
{
	const char	*v;
	size_t		 n, vl;
	int		 i;
	char		*end;

	memset(smp, 0, sizeof(*smp));
	if ((n = pc_name(s, 1)) == 0 || n >= sizeof(smp->name))
		return pc_fail(pc, "bad metric name");
	memcpy(smp->name, s, n);
	s += n;
	if (*s == '{' && *++s == '}')
		s++;
	else if (s[-1] == '{') {
		for (;;) {
			if ((n = pc_name(s, 0)) == 0 || n >= NAME_MAX_LEN)
				return pc_fail(pc, "bad label name");
			if (smp->nl == LABELS_MAX)
				return pc_fail(pc, "too many labels");
			if (s[0] == '_' && s[1] == '_')
				return pc_fail(pc, "reserved label name");
			memcpy(smp->ln[smp->nl], s, n);
			for (i = 0; i < smp->nl; i++)
				if (strcmp(smp->ln[i], smp->ln[smp->nl]) == 0)
					return pc_fail(pc, "label given twice");
			s += n;
			if (s[0] != '=' || s[1] != '"')
				return pc_fail(pc, "expected =\"");
			v = s += 2;
			for (; *s != '"'; s++) {
				if (*s == '\0')
					return pc_fail(pc, "unterminated");
				if (*s == '\\' && (s[1] == '\\' ||
				    s[1] == '"' || s[1] == 'n'))
					s++;
				else if (*s == '\\' || *s == '\n')
					return pc_fail(pc, "bad escape");
			}
			vl = (size_t)(s - v);
			if (vl >= VALUE_MAX)
				return pc_fail(pc, "label value too long");
			memcpy(smp->lv[smp->nl++], v, vl);
			s++;
			if (*s == '}')
				break;
			if (*s++ != ',')
				return pc_fail(pc, "expected , or }");
		}
		s++;
	}
	if (*s++ != ' ')
		return pc_fail(pc, "expected one blank before the value");
	n = strcspn(s, " ");
	if (n == 0 || n >= sizeof(smp->value))
		return pc_fail(pc, "bad value");
	memcpy(smp->value, s, n);
	if (!pc_isvalue(smp->value))
		return pc_fail(pc, "bad value");
	s += n;
	if (*s == ' ') {
		s++;
		if (*s == '-')
			s++;
		(void)strtoll(s, &end, 10);
		if (end == s || *end != '\0')
			return pc_fail(pc, "bad timestamp");
	} else if (*s != '\0')
		return pc_fail(pc, "junk after the value");
	return 0;
}

/* Labels sorted by name as text, without label skip (or NULL). */
static void
pc_key(const struct pc_sample *smp, const char *prefix, const char *skip,
    char *out, size_t outlen)
{
	int	 o[LABELS_MAX], i, j, t;
	size_t	 len;

	for (i = 0; i < smp->nl; i++)
		o[i] = i;
	for (i = 1; i < smp->nl; i++)
		for (j = i; j > 0 && strcmp(smp->ln[o[j - 1]],
		    smp->ln[o[j]]) > 0; j--) {
			t = o[j];
			o[j] = o[j - 1];
			o[j - 1] = t;
		}
	snprintf(out, outlen, "%s{", prefix);
	for (i = 0; i < smp->nl; i++) {
		if (skip != NULL && strcmp(smp->ln[o[i]], skip) == 0)
			continue;
		len = strlen(out);
		snprintf(out + len, outlen - len, "%s=\"%s\",",
		    smp->ln[o[i]], smp->lv[o[i]]);
	}
}

/* The value of label l in smp, or NULL. */
static const char *
pc_label(const struct pc_sample *smp, const char *l)
{
	int	 i;

	for (i = 0; i < smp->nl; i++)
		if (strcmp(smp->ln[i], l) == 0)
			return smp->lv[i];
	return NULL;
}

/* The histogram series of key, made if new. */
static struct pc_hist *
pc_hist(struct pc *pc, const char *key)
{
	size_t	 i;

	for (i = 0; i < pc->nhist; i++)
		if (strcmp(pc->hist[i].key, key) == 0)
			return &pc->hist[i];
	pc->hist = realloc(pc->hist, (pc->nhist + 1) * sizeof(*pc->hist));
	assert_non_null(pc->hist);
	memset(&pc->hist[i], 0, sizeof(pc->hist[i]));
	assert_non_null(pc->hist[i].key = strdup(key));
	pc->hist[i].line = pc->line;
	pc->nhist++;
	return &pc->hist[i];
}

/* One histogram sample of family fam. */
static int
pc_histogram(struct pc *pc, const char *fam, const struct pc_sample *smp)
{
	char		 key[4096];
	struct pc_hist	*h;
	const char	*le;
	double		 v, lev;
	size_t		 fl = strlen(fam);
	const char	*sfx = smp->name + fl;

	if (*sfx == '\0')
		return pc_fail(pc, "histogram sample without a suffix");
	le = pc_label(smp, "le");
	if (strcmp(sfx, "_bucket") != 0 && le != NULL)
		return pc_fail(pc, "le outside _bucket");
	if (!pc_isfloat(smp->value) || smp->value[0] == '-') {
		if (strcmp(sfx, "_sum") != 0)
			return pc_fail(pc, "count not finite and >= 0");
	}
	v = strtod(smp->value, NULL);
	pc_key(smp, fam, "le", key, sizeof(key));
	h = pc_hist(pc, key);
	if (strcmp(sfx, "_sum") == 0) {
		h->has_sum = 1;
		return 0;
	}
	if (strcmp(sfx, "_count") == 0) {
		h->has_count = 1;
		h->count = v;
		return 0;
	}
	if (le == NULL)
		return pc_fail(pc, "bucket without le");
	if (h->has_inf)
		return pc_fail(pc, "bucket after +Inf");
	if (strcmp(le, "+Inf") == 0) {
		h->has_inf = 1;
		h->inf = v;
	} else if (pc_isfloat(le)) {
		lev = strtod(le, NULL);
		if (h->nbuckets > 0 && lev <= h->last_le)
			return pc_fail(pc, "le not ascending");
		h->last_le = lev;
	} else
		return pc_fail(pc, "le not a number");
	if (h->nbuckets > 0 && v < h->last_cum)
		return pc_fail(pc, "buckets not cumulative");
	h->last_cum = v;
	h->nbuckets++;
	return 0;
}

/* One sample line. */
static int
pc_sample(struct pc *pc, const char *s)
{
	struct pc_sample	 smp;
	struct pc_family	*f;
	char			 fam[NAME_MAX_LEN], key[4096];
	const char		*ty;
	size_t			 i, n;

	if (pc_parse(pc, s, &smp) == -1)
		return -1;

	snprintf(fam, sizeof(fam), "%s", smp.name);
	n = strlen(fam);
	if (n > 7 && strcmp(fam + n - 7, "_bucket") == 0) {
		fam[n - 7] = '\0';
		if (strcmp(pc_type(pc, fam), "histogram") != 0)
			snprintf(fam, sizeof(fam), "%s", smp.name);
	} else if ((n > 4 && strcmp(fam + n - 4, "_sum") == 0) ||
	    (n > 6 && strcmp(fam + n - 6, "_count") == 0)) {
		fam[n - (fam[n - 1] == 'm' ? 4 : 6)] = '\0';
		ty = pc_type(pc, fam);
		if (strcmp(ty, "histogram") != 0 && strcmp(ty, "summary") != 0)
			snprintf(fam, sizeof(fam), "%s", smp.name);
	}
	if ((f = pc_enter(pc, fam)) == NULL)
		return -1;
	f->sampled = 1;

	pc_key(&smp, smp.name, NULL, key, sizeof(key));
	for (i = 0; i < pc->nseries; i++)
		if (strcmp(pc->series[i], key) == 0)
			return pc_fail(pc, "duplicate series");
	pc->series = realloc(pc->series, (pc->nseries + 1) *
	    sizeof(*pc->series));
	assert_non_null(pc->series);
	assert_non_null(pc->series[pc->nseries++] = strdup(key));

	if (strcmp(f->type, "counter") == 0 && smp.value[0] == '-')
		return pc_fail(pc, "negative counter");
	if (strcmp(f->type, "histogram") == 0)
		return pc_histogram(pc, fam, &smp);
	if (strcmp(f->type, "summary") == 0 && (strcmp(smp.name, fam) ==
	    0) != (pc_label(&smp, "quantile") != NULL))
		return pc_fail(pc, "quantile label misplaced");
	return 0;
}

/* Check a whole exposition text; 0 or -1 with the reason in err. */
static int
prom_check(const char *text, char *err, size_t errlen)
{
	struct pc	 pc;
	const char	*p, *nl;
	char		*line;
	size_t		 i;
	int		 rc = 0;

	memset(&pc, 0, sizeof(pc));
	pc.cur = SIZE_MAX;
	pc.err = err;
	pc.errlen = errlen;
	err[0] = '\0';
	if (*text != '\0' && text[strlen(text) - 1] != '\n') {
		pc.line = 0;
		return pc_fail(&pc, "no newline at the end");
	}
	for (p = text; rc == 0 && *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		pc.line++;
		assert_non_null(line = strndup(p, (size_t)(nl - p)));
		if (line[0] == '\0')
			;
		else if (line[0] == '#')
			rc = pc_comment(&pc, line);
		else
			rc = pc_sample(&pc, line);
		free(line);
	}
	for (i = 0; rc == 0 && i < pc.nhist; i++) {
		pc.line = pc.hist[i].line;
		if (!pc.hist[i].has_inf || !pc.hist[i].has_count ||
		    !pc.hist[i].has_sum)
			rc = pc_fail(&pc, "histogram without +Inf, _count or "
			    "_sum");
		else if (pc.hist[i].inf != pc.hist[i].count)
			rc = pc_fail(&pc, "+Inf bucket differs from _count");
	}

	for (i = 0; i < pc.nseries; i++)
		free(pc.series[i]);
	for (i = 0; i < pc.nhist; i++)
		free(pc.hist[i].key);
	free(pc.series);
	free(pc.hist);
	free(pc.fam);
	return rc;
}

/* Render, check the structure and hand back the text (caller frees). */
static char *
render(void)
{
	char	*text, err[256];
	size_t	 len;

	text = metrics_render(&len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	if (prom_check(text, err, sizeof(err)) == -1)
		fail_msg("render output fails the check: %s\n%s", err, text);
	return text;
}

/* The value of the series written exactly as series, or NULL. */
static const char *
find_value(const char *text, const char *series, char *buf, size_t len)
{
	const char	*p = text;
	size_t		 n = strlen(series);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 :
	    NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			snprintf(buf, len, "%.*s", (int)strcspn(p + n + 1,
			    "\n"), p + n + 1);
			return buf;
		}
	}
	return NULL;
}

/* Assert that series has value want in text. */
static void
assert_series(const char *text, const char *series, const char *want)
{
	char		 buf[64];
	const char	*got;

	got = find_value(text, series, buf, sizeof(buf));
	if (got == NULL)
		fail_msg("no series %s in\n%s", series, text);
	if (strcmp(got, want) != 0)
		fail_msg("%s: got %s, want %s", series, got, want);
}

/* Lines of text that start with prefix. */
static size_t
count_lines(const char *text, const char *prefix)
{
	const char	*p;
	size_t		 n = 0, pl = strlen(prefix);

	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, pl) == 0)
			n++;
	return n;
}

/* Forget every value and close the listener after each test. */
static int
teardown(void **state)
{
	(void)state;
	metrics_shutdown();
	return 0;
}

/* Every counter and gauge of the lists, with distinct values. */
static void
test_metrics_counters_gauges(void **state)
{
	static const struct {
		enum metrics_counter	 c;
		const char		*name;
	} counters[] = {
		{ METRICS_C_CACHE_HITS, "estcoapd_cache_hits_total" },
		{ METRICS_C_CACHE_MISSES, "estcoapd_cache_misses_total" },
		{ METRICS_C_DEDUP_HITS, "estcoapd_dedup_hits_total" },
		{ METRICS_C_CERTS_ISSUED,
		    "estcoapd_certificates_issued_total" },
		{ METRICS_C_RELOADS, "estcoapd_reloads_total" },
		{ METRICS_C_RELOAD_FAILURES, "estcoapd_reload_failures_total" },
		{ METRICS_C_AUTHZ_DENIED, "estcoapd_authz_denied_total" },
		{ METRICS_C_AUDIT_FAILURES, "estcoapd_audit_failures_total" },
	};
	static const struct {
		enum metrics_gauge	 g;
		const char		*name;
		int64_t			 v;
		const char		*want;
	} gauges[] = {
		{ METRICS_G_SESSIONS, "estcoapd_dtls_sessions", 7, "7" },
		{ METRICS_G_HANDSHAKES, "estcoapd_dtls_sessions_in_handshake",
		    0, "0" },
		{ METRICS_G_PENDING, "estcoapd_pending_requests", -3, "-3" },
		{ METRICS_G_BLOCK1_BYTES, "estcoapd_block1_bytes", 4096, "4096" },
		{ METRICS_G_CONFIG_GENERATION, "estcoapd_config_generation",
		    INT64_MAX, "9223372036854775807" },
		{ METRICS_G_UPSTREAMS_UP, "estcoapd_upstreams_up", 2, "2" },
		{ METRICS_G_DRAINING, "estcoapd_draining", 1, "1" },
		{ METRICS_G_UPSTREAM_RUNNING, "estcoapd_upstream_running", 512,
		    "512" },
		{ METRICS_G_UPSTREAM_QUEUED, "estcoapd_upstream_queued", 9488,
		    "9488" },
		{ METRICS_G_UPSTREAM_SERVICE_MS, "estcoapd_upstream_service_ms",
		    5000, "5000" },
		{ METRICS_G_AUDIT_WRITABLE, "estcoapd_audit_writable", 1, "1" },
	};
	char	*text, buf[64], help[160];
	size_t	 i, k;

	(void)state;
	assert_int_equal(sizeof(counters) / sizeof(counters[0]),
	    METRICS_C_COUNT);
	assert_int_equal(sizeof(gauges) / sizeof(gauges[0]), METRICS_G_COUNT);

	text = render();
	for (i = 0; i < METRICS_C_COUNT; i++)
		assert_series(text, counters[i].name, "0");
	free(text);

	for (i = 0; i < METRICS_C_COUNT; i++)
		for (k = 0; k <= i; k++)
			metrics_inc(counters[i].c);
	for (i = 0; i < METRICS_G_COUNT; i++) {
		metrics_gauge_set(gauges[i].g, 12345);
		metrics_gauge_set(gauges[i].g, gauges[i].v);
	}
	text = render();
	for (i = 0; i < METRICS_C_COUNT; i++) {
		snprintf(buf, sizeof(buf), "%zu", i + 1);
		assert_series(text, counters[i].name, buf);
		snprintf(help, sizeof(help), "# TYPE %s counter\n",
		    counters[i].name);
		assert_non_null(strstr(text, help));
	}
	for (i = 0; i < METRICS_G_COUNT; i++) {
		assert_series(text, gauges[i].name, gauges[i].want);
		snprintf(help, sizeof(help), "# TYPE %s gauge\n",
		    gauges[i].name);
		assert_non_null(strstr(text, help));
	}
	free(text);
}

/* build_info carries the version; the start time is now. */
static void
test_metrics_build_info(void **state)
{
	char	*text, buf[64], want[64];
	time_t	 before, t;

	(void)state;
	before = time(NULL);
	text = render();
	snprintf(want, sizeof(want), "estcoapd_build_info{version=\"%s\",",
	    ESTCOAPD_VERSION);
	assert_non_null(strstr(text, want));
	assert_int_equal(count_lines(text, "estcoapd_build_info{"), 1);
	assert_non_null(strstr(text, "# TYPE estcoapd_build_info gauge\n"));
	assert_non_null(find_value(text, "estcoapd_start_time_seconds", buf,
	    sizeof(buf)));
	t = (time_t)strtoll(buf, NULL, 10);
	assert_true(t >= before && t <= time(NULL));
	free(text);
}

/* Request label sets: one series each, NULL as "", codes as "c.dd". */
static void
test_metrics_requests(void **state)
{
	static const struct {
		const char	*op, *label;
		unsigned	 code;
		int		 times;
	} in[] = {
		{ "crts", "", EST_CODE(2, 5), 3 },
		{ "sen", "", EST_CODE(2, 1), 2 },
		{ "sen", "arbitrary", EST_CODE(2, 1), 1 },
		{ "sen", "", EST_CODE(4, 0), 1 },
		{ "att", NULL, EST_CODE(4, 4), 1 },
		{ NULL, NULL, EST_CODE(5, 3), 2 },
		{ "unknown", "", EST_CODE(4, 4), 1 },
	};
	static const struct {
		const char	*series;
		const char	*want;
	} out[] = {
		{ "estcoapd_requests_total{op=\"crts\",label=\"\","
		    "code=\"2.05\"}", "3" },
		{ "estcoapd_requests_total{op=\"sen\",label=\"\","
		    "code=\"2.01\"}", "2" },
		{ "estcoapd_requests_total{op=\"sen\",label=\"arbitrary\","
		    "code=\"2.01\"}", "1" },
		{ "estcoapd_requests_total{op=\"sen\",label=\"\","
		    "code=\"4.00\"}", "1" },
		{ "estcoapd_requests_total{op=\"att\",label=\"\","
		    "code=\"4.04\"}", "1" },
		{ "estcoapd_requests_total{op=\"\",label=\"\","
		    "code=\"5.03\"}", "2" },
		{ "estcoapd_requests_total{op=\"unknown\",label=\"\","
		    "code=\"4.04\"}", "1" },
	};
	char	*text;
	size_t	 i;
	int	 k;

	(void)state;
	text = render();
	assert_non_null(strstr(text, "# TYPE estcoapd_requests_total "
	    "counter\n"));
	assert_int_equal(count_lines(text, "estcoapd_requests_total{"), 0);
	free(text);

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		for (k = 0; k < in[i].times; k++)
			metrics_request(in[i].op, in[i].label, in[i].code);
	text = render();
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		assert_series(text, out[i].series, out[i].want);
	assert_int_equal(count_lines(text, "estcoapd_requests_total{"),
	    sizeof(out) / sizeof(out[0]));
	free(text);
}

/* Upstream exchanges, handshakes and limit refusals. */
static void
test_metrics_families(void **state)
{
	static const char *const srv = "https://ca.example/.well-known/est";
	static const struct {
		const char	*series;
		const char	*want;
	} out[] = {
		{ "estcoapd_upstream_requests_total{server=\"https://"
		    "ca.example/.well-known/est\",status=\"200\"}", "2" },
		{ "estcoapd_upstream_requests_total{server=\"https://"
		    "ca.example/.well-known/est\",status=\"0\"}", "1" },
		{ "estcoapd_upstream_requests_total{server=\"https://"
		    "ca.example/.well-known/est\",status=\"503\"}", "1" },
		{ "estcoapd_upstream_requests_total{server=\"\","
		    "status=\"502\"}", "1" },
		{ "estcoapd_dtls_handshakes_total{result=\"ok\","
		    "reason=\"ok\"}", "2" },
		{ "estcoapd_dtls_handshakes_total{result=\"failed\","
		    "reason=\"unknown_ca\"}", "1" },
		{ "estcoapd_dtls_handshakes_total{result=\"failed\","
		    "reason=\"\"}", "1" },
		{ "estcoapd_limit_refusals_total{limit=\"draining\"}", "2" },
		{ "estcoapd_limit_refusals_total{limit=\"max_pending\"}", "1" },
		{ "estcoapd_limit_refusals_total{limit=\"\"}", "1" },
	};
	char	*text;
	size_t	 i;

	(void)state;
	metrics_upstream(srv, 200, 10);
	metrics_upstream(srv, 200, 10);
	metrics_upstream(srv, 0, 20000);
	metrics_upstream(srv, 503, 1);
	metrics_upstream(NULL, 502, 1);
	metrics_handshake(1, "ok");
	metrics_handshake(1, "ok");
	metrics_handshake(0, "unknown_ca");
	metrics_handshake(0, NULL);
	metrics_limit("draining");
	metrics_limit("draining");
	metrics_limit("max_pending");
	metrics_limit(NULL);

	text = render();
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		assert_series(text, out[i].series, out[i].want);
	assert_non_null(strstr(text,
	    "# TYPE estcoapd_upstream_latency_seconds histogram\n"));
	assert_non_null(strstr(text,
	    "# TYPE estcoapd_dtls_handshakes_total counter\n"));
	assert_non_null(strstr(text,
	    "# TYPE estcoapd_limit_refusals_total counter\n"));
	assert_series(text, "estcoapd_upstream_latency_seconds_count{server="
	    "\"https://ca.example/.well-known/est\"}", "4");
	assert_series(text, "estcoapd_upstream_latency_seconds_count{server="
	    "\"\"}", "1");
	free(text);
}

/* Label values: the three escapes, and what cannot be written raw. */
static void
test_metrics_escaping(void **state)
{
	static char	 longv[300], longu[300];
	static const struct {
		const char	*in;
		const char	*out;		/* as rendered in quotes */
	} cases[] = {
		{ "a\"b", "a\\\"b" },
		{ "a\\b", "a\\\\b" },
		{ "a\nb", "a\\nb" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		{ "\"\"", "\\\"\\\"" },
		{ "x\\n", "x\\\\n" },		/* backslash then n */
		{ "caf\xc3\xa9 \xe2\x9c\x93", "caf?? ???" },
		{ "cr\rtab\tdel\x7f", "cr?tab?del?" },
		{ "bad\xff\xfe", "bad??" },
		{ "overlong\xc0\xaf", "overlong??" },
		{ "surrogate\xed\xa0\x80", "surrogate???" },
		{ "cut\xe2\x9c", "cut??" },
		{ "{},=", "{},=" },
	};
	char	 series[1024], *text, want[300];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		metrics_limit(cases[i].in);
	text = render();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(series, sizeof(series),
		    "estcoapd_limit_refusals_total{limit=\"%s\"}",
		    cases[i].out);
		assert_series(text, series, "1");
	}
	free(text);
	metrics_shutdown();

	/* A long value is cut to 127 bytes; bytes past ASCII are '?'. */
	memset(longv, 'a', sizeof(longv) - 1);
	metrics_limit(longv);
	memset(longu, 'a', 126);
	for (i = 126; i + 2 < sizeof(longu); i += 2)
		memcpy(longu + i, "\xc3\xa9", 2);
	metrics_limit(longu);
	text = render();
	snprintf(want, sizeof(want), "%.127s", longv);
	snprintf(series, sizeof(series),
	    "estcoapd_limit_refusals_total{limit=\"%s\"}", want);
	assert_series(text, series, "1");
	snprintf(want, sizeof(want), "%.126s?", longu);
	snprintf(series, sizeof(series),
	    "estcoapd_limit_refusals_total{limit=\"%s\"}", want);
	assert_series(text, series, "1");
	free(text);

	/* Two values that differ only past the cut are one series. */
	longv[200] = 'b';
	metrics_limit(longv);
	text = render();
	snprintf(want, sizeof(want), "%.127s", longv);
	snprintf(series, sizeof(series),
	    "estcoapd_limit_refusals_total{limit=\"%s\"}", want);
	assert_series(text, series, "2");
	free(text);
}

/*
 * 10000 distinct ops: 255 series of their own, the rest in the overflow
 * series; a known label set keeps counting in its own series, and the
 * output does not grow with more distinct values.
 */
static void
test_metrics_cap(void **state)
{
	char	 op[32], *text;
	size_t	 len1, lines1;
	int	 i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		snprintf(op, sizeof(op), "op%d", i);
		metrics_request(op, "", EST_CODE(2, 5));
	}
	metrics_request("op0", "", EST_CODE(2, 5));
	metrics_request("op254", "", EST_CODE(2, 5));
	text = render();
	lines1 = count_lines(text, "estcoapd_requests_total{");
	assert_int_equal(lines1, 256);
	assert_series(text, "estcoapd_requests_total{op=\"op0\",label=\"\","
	    "code=\"2.05\"}", "2");
	assert_series(text, "estcoapd_requests_total{op=\"op254\",label=\"\","
	    "code=\"2.05\"}", "2");
	assert_null(strstr(text, "op=\"op255\""));
	assert_series(text, "estcoapd_requests_total{op=\"other\",label=\"\","
	    "code=\"other\"}", "9745");
	len1 = strlen(text);
	free(text);

	for (i = 10000; i < 20000; i++) {
		snprintf(op, sizeof(op), "x%d", i);
		metrics_request(op, "label", EST_CODE(4, 4));
	}
	text = render();
	assert_int_equal(count_lines(text, "estcoapd_requests_total{"), 256);
	assert_series(text, "estcoapd_requests_total{op=\"other\",label=\"\","
	    "code=\"other\"}", "19745");
	assert_true(strlen(text) <= len1 + 1);
	free(text);
}

/*
 * Every family is capped, and a real label set equal to the overflow one
 * shares its series rather than appearing twice.
 */
static void
test_metrics_cap_families(void **state)
{
	static const struct {
		const char	*prefix;
		size_t		 cap;
		const char	*other;		/* overflow series */
		const char	*want;
	} cases[] = {
		/* 15: "other" was a real value and took the overflow in */
		{ "estcoapd_limit_refusals_total{", 15,
		    "estcoapd_limit_refusals_total{limit=\"other\"}", "987" },
		{ "estcoapd_dtls_handshakes_total{", 32,
		    "estcoapd_dtls_handshakes_total{result=\"other\","
		    "reason=\"other\"}", "969" },
		{ "estcoapd_upstream_requests_total{", 64,
		    "estcoapd_upstream_requests_total{server=\"other\","
		    "status=\"other\"}", "937" },
		{ "estcoapd_upstream_latency_seconds_count{", 16,
		    "estcoapd_upstream_latency_seconds_count{server=\"other\"}",
		    "985" },
	};
	char	 v[32], *text;
	size_t	 i;
	int	 k;

	(void)state;
	metrics_limit("other");		/* a real value, first */
	for (k = 0; k < 1000; k++) {
		snprintf(v, sizeof(v), "v%d", k);
		metrics_limit(v);
		metrics_handshake(0, v);
		metrics_upstream(v, 200, 1);
	}
	text = render();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(count_lines(text, cases[i].prefix),
		    cases[i].cap);
		assert_series(text, cases[i].other, cases[i].want);
	}
	free(text);
}

/* Latency buckets are cumulative; _sum in seconds; +Inf equals _count. */
static void
test_metrics_histogram(void **state)
{
	static const uint64_t	 obs[] = {
		0, 5, 6, 10, 11, 99, 100, 101, 999, 1000, 2500, 4999,
		10000, 29999, 60000, 60001, 3600000
	};
	static const struct {
		const char	*le;
		const char	*want;
	} buckets[] = {
		{ "0.005", "2" }, { "0.01", "4" }, { "0.025", "5" },
		{ "0.05", "5" }, { "0.1", "7" }, { "0.25", "8" },
		{ "0.5", "8" }, { "1", "10" }, { "2.5", "11" },
		{ "5", "12" }, { "10", "13" }, { "30", "14" }, { "60", "15" },
		{ "+Inf", "17" },
	};
	const char	*srv = "https://h/";
	char		 series[256], *text;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		metrics_upstream(srv, 200, obs[i]);
	metrics_upstream("https://other/", 0, 7);

	text = render();
	for (i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
		snprintf(series, sizeof(series),
		    "estcoapd_upstream_latency_seconds_bucket{server=\"%s\","
		    "le=\"%s\"}", srv, buckets[i].le);
		assert_series(text, series, buckets[i].want);
	}
	assert_int_equal(count_lines(text,
	    "estcoapd_upstream_latency_seconds_bucket{server=\"https://h/\""),
	    14);
	/* 0+5+6+10+11+99+100+101+999+1000+2500+4999+10000+29999+60000+
	 * 60001+3600000 ms */
	assert_series(text, "estcoapd_upstream_latency_seconds_sum{server="
	    "\"https://h/\"}", "3769.830");
	assert_series(text, "estcoapd_upstream_latency_seconds_count{server="
	    "\"https://h/\"}", "17");
	assert_series(text, "estcoapd_upstream_latency_seconds_bucket{server="
	    "\"https://other/\",le=\"0.005\"}", "0");
	assert_series(text, "estcoapd_upstream_latency_seconds_bucket{server="
	    "\"https://other/\",le=\"0.01\"}", "1");
	assert_series(text, "estcoapd_upstream_latency_seconds_sum{server="
	    "\"https://other/\"}", "0.007");
	free(text);
}

/* After shutdown every value is gone; counting starts again. */
static void
test_metrics_shutdown(void **state)
{
	char	*text;

	(void)state;
	metrics_inc(METRICS_C_RELOADS);
	metrics_gauge_set(METRICS_G_SESSIONS, 4);
	metrics_request("crts", "", EST_CODE(2, 5));
	metrics_upstream("u", 200, 1);
	metrics_shutdown();
	metrics_shutdown();
	text = render();
	assert_series(text, "estcoapd_reloads_total", "0");
	assert_series(text, "estcoapd_dtls_sessions", "0");
	assert_int_equal(count_lines(text, "estcoapd_requests_total{"), 0);
	assert_int_equal(count_lines(text,
	    "estcoapd_upstream_requests_total{"), 0);
	assert_int_equal(count_lines(text,
	    "estcoapd_upstream_latency_seconds_"), 0);
	assert_series(text, "estcoapd_upstream_queued", "0");
	free(text);
	metrics_request("crts", "", EST_CODE(2, 5));
	text = render();
	assert_series(text, "estcoapd_requests_total{op=\"crts\",label=\"\","
	    "code=\"2.05\"}", "1");
	free(text);
}

/* The per-server up gauge is set, not counted. */
static void
test_metrics_server_up(void **state)
{
	char *text;

	(void)state;
	metrics_server_up("https://a", 1);
	metrics_server_up("https://a", 1);
	metrics_server_up("https://b", 1);
	metrics_server_up("https://b", 0);
	text = render();
	assert_series(text, "estcoapd_upstream_server_up{server=\"https://a\"}",
	    "1");
	assert_series(text, "estcoapd_upstream_server_up{server=\"https://b\"}",
	    "0");
	free(text);
	metrics_shutdown();
}

/* CSR identity refusals are counted by reason. */
static void
test_metrics_csr_identity(void **state)
{
	char *text;

	(void)state;
	metrics_csr_identity_denied("subject");
	metrics_csr_identity_denied("subject");
	metrics_csr_identity_denied("wildcard");
	text = render();
	assert_series(text, "estcoapd_csr_identity_denied_total{reason="
	    "\"subject\"}", "2");
	assert_series(text, "estcoapd_csr_identity_denied_total{reason="
	    "\"wildcard\"}", "1");
	free(text);
	metrics_shutdown();
}

/* Every family has one HELP and one TYPE, before its samples. */
static void
test_metrics_help_type(void **state)
{
	static const char *const families[] = {
		"estcoapd_build_info", "estcoapd_start_time_seconds",
		"estcoapd_requests_total", "estcoapd_upstream_requests_total",
		"estcoapd_upstream_latency_seconds",
		"estcoapd_dtls_handshakes_total",
		"estcoapd_limit_refusals_total", "estcoapd_cache_hits_total",
		"estcoapd_draining", "estcoapd_upstream_server_up",
		"estcoapd_csr_identity_denied_total",
	};
	char	 prefix[128], *text;
	size_t	 i;

	(void)state;
	text = render();
	assert_int_equal(count_lines(text, "# HELP "),
	    2 + METRICS_C_COUNT + METRICS_G_COUNT + 7);
	assert_int_equal(count_lines(text, "# TYPE "),
	    2 + METRICS_C_COUNT + METRICS_G_COUNT + 7);
	assert_int_equal(count_lines(text,
	    "# TYPE estcoapd_upstream_server_up gauge"), 1);
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(prefix, sizeof(prefix), "# HELP %s ", families[i]);
		assert_int_equal(count_lines(text, prefix), 1);
		snprintf(prefix, sizeof(prefix), "# TYPE %s ", families[i]);
		assert_int_equal(count_lines(text, prefix), 1);
	}
	free(text);
}

/* The checker itself: it must accept the valid and catch the broken. */
static void
test_prom_check(void **state)
{
	static const struct {
		const char	*text;
		int		 ok;
	} cases[] = {
		{ "", 1 },
		{ "a 1\n", 1 },
		{ "a 1", 0 },
		{ "# HELP a x \\\\ \\n\n# TYPE a gauge\na{b=\"\\\"\"} -Inf\n",
		    1 },
		{ "a{} 1 1700000000000\n", 1 },
		{ "a 1e-3\nb NaN\nc +Inf\n", 1 },
		{ "a inf\n", 0 },
		{ "a x1\n", 0 },
		{ "9a 1\n", 0 },
		{ "a{9b=\"\"} 1\n", 0 },
		{ "a{b=\"\",} 1\n", 0 },
		{ "a{b=\"\"\"} 1\n", 0 },
		{ "a{b=\"\\x\"} 1\n", 0 },
		{ "a{b=\"\",b=\"\"} 1\n", 0 },
		{ "a{__b=\"\"} 1\n", 0 },
		{ "a{b=\"\"}1\n", 0 },
		{ "a{b=\"1\"} 1\na{b=\"1\"} 2\n", 0 },
		{ "a{b=\"1\",c=\"2\"} 1\na{c=\"2\",b=\"1\"} 2\n", 0 },
		{ "a 1\nb 1\na 2\n", 0 },
		{ "a 1 2 3\n", 0 },
		{ "# TYPE a gauge\n# TYPE a gauge\na 1\n", 0 },
		{ "# HELP a x\n# HELP a y\na 1\n", 0 },
		{ "a 1\n# TYPE a gauge\n", 0 },
		{ "# TYPE a countr\na 1\n", 0 },
		{ "# HELP a bad \\x escape\n", 0 },
		{ "# TYPE a counter\na -1\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", 1 },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 3\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
		    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\n"
		    "h_count 2\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
		    "h_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 3\n"
		    "h_count 1\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\n", 0 },
		{ "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
		    0 },
		{ "# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 0 },
		{ "# TYPE h histogram\nh 1\n", 0 },
		{ "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\n"
		    "s_count 1\n", 1 },
		{ "# TYPE s summary\ns 1\n", 0 },
	};
	char	 err[256];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = prom_check(cases[i].text, err, sizeof(err));
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: got %d (%s), want %s:\n%s", i, rc,
			    err, cases[i].ok ? "valid" : "invalid",
			    cases[i].text);
	}
}

/* The answer to one HTTP request made by the test client. */
struct http_result {
	struct event_base	*base;
	int			 done;
	int			 code;		/* 0: no answer */
	char			 ctype[128];
	char			*body;		/* NUL-terminated copy */
};

/* Keep the answer and stop the loop. */
static void
http_done_cb(struct evhttp_request *req, void *arg)
{
	struct http_result	*r = arg;
	struct evbuffer		*in;
	const char		*ct;
	size_t			 len;

	r->done = 1;
	event_base_loopbreak(r->base);
	if (req == NULL)
		return;
	r->code = evhttp_request_get_response_code(req);
	if (r->code != 0) {
		ct = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Content-Type");
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
		in = evhttp_request_get_input_buffer(req);
		len = evbuffer_get_length(in);
		r->body = calloc(1, len + 1);
		if (r->body != NULL)
			evbuffer_remove(in, r->body, len);
	}
}

/* One request to the listener on port; the loop runs until it is done. */
static void
http_fetch(struct event_base *base, uint16_t port, enum evhttp_cmd_type cmd,
    const char *path, struct http_result *r)
{
	struct evhttp_connection	*conn;
	struct evhttp_request		*req;
	struct timeval			 tv = { 5, 0 };

	memset(r, 0, sizeof(*r));
	r->base = base;
	conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	assert_non_null(conn);
	req = evhttp_request_new(http_done_cb, r);
	assert_non_null(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    "127.0.0.1");
	assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	evhttp_connection_free(conn);
	assert_true(r->done);
}

/* A port that was free a moment ago on 127.0.0.1. */
static uint16_t
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static const char *test_ready_reason;	/* what /readyz should say */

/* The readiness callback: hands back test_ready_reason. */
static const char *
test_ready_cb(void *arg)
{
	assert_ptr_equal(arg, &test_ready_reason);
	return test_ready_reason;
}

/* The routes, methods and answers of the listener. */
static void
test_metrics_http(void **state)
{
	static const struct {
		enum evhttp_cmd_type	 cmd;
		const char		*path;
		const char		*ready;	/* the callback's answer */
		int			 code;
		const char		*ctype;	/* prefix */
		const char		*body;	/* exact, or NULL */
	} cases[] = {
		{ EVHTTP_REQ_GET, "/metrics", NULL, 200,
		    "text/plain; version=0.0.4; charset=utf-8", NULL },
		{ EVHTTP_REQ_GET, "/metrics?x=1", NULL, 200,
		    "text/plain; version=0.0.4", NULL },
		{ EVHTTP_REQ_HEAD, "/metrics", NULL, 200,
		    "text/plain; version=0.0.4", "" },
		{ EVHTTP_REQ_GET, "/healthz", "draining", 200, "text/plain",
		    "ok\n" },
		{ EVHTTP_REQ_GET, "/readyz", NULL, 200, "text/plain",
		    "ready\n" },
		{ EVHTTP_REQ_GET, "/readyz", "draining", 503, "text/plain",
		    "draining\n" },
		{ EVHTTP_REQ_GET, "/readyz", "no upstream reachable", 503,
		    "text/plain", "no upstream reachable\n" },
		{ EVHTTP_REQ_GET, "/", NULL, 404, "text/plain", NULL },
		{ EVHTTP_REQ_GET, "/metrics/x", NULL, 404, "text/plain", NULL },
		{ EVHTTP_REQ_GET, "/METRICS", NULL, 404, "text/plain", NULL },
		{ EVHTTP_REQ_POST, "/metrics", NULL, 405, "text/plain", NULL },
		{ EVHTTP_REQ_PUT, "/healthz", NULL, 405, "text/plain", NULL },
		{ EVHTTP_REQ_DELETE, "/readyz", NULL, 405, "text/plain", NULL },
	};
	struct event_base	*base;
	struct http_result	 r;
	char			 err[256];
	uint16_t		 port;
	size_t			 i;

	(void)state;
	assert_non_null(base = event_base_new());
	port = free_port();
	assert_int_equal(metrics_listen(base, "127.0.0.1", port,
	    test_ready_cb, &test_ready_reason), 0);
	assert_int_equal(metrics_listen(base, "127.0.0.1", port,
	    test_ready_cb, &test_ready_reason), -1);
	metrics_request("sen", "l\"1", EST_CODE(2, 4));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_ready_reason = cases[i].ready;
		http_fetch(base, port, cases[i].cmd, cases[i].path, &r);
		if (r.code != cases[i].code)
			fail_msg("%s: code %d, want %d", cases[i].path, r.code,
			    cases[i].code);
		assert_non_null(r.body);
		assert_true(strncmp(r.ctype, cases[i].ctype,
		    strlen(cases[i].ctype)) == 0);
		if (cases[i].body != NULL)
			assert_string_equal(r.body, cases[i].body);
		if (cases[i].code == 200 && cases[i].cmd == EVHTTP_REQ_GET &&
		    strncmp(cases[i].path, "/metrics", 8) == 0) {
			if (prom_check(r.body, err, sizeof(err)) == -1)
				fail_msg("/metrics: %s", err);
			assert_non_null(strstr(r.body, "op=\"sen\","
			    "label=\"l\\\"1\",code=\"2.04\"} 1\n"));
		}
		free(r.body);
	}

	metrics_shutdown();
	event_base_free(base);
}

/* Without a ready callback /readyz is always ready. */
static void
test_metrics_http_no_ready(void **state)
{
	struct event_base	*base;
	struct http_result	 r;
	uint16_t		 port;

	(void)state;
	assert_non_null(base = event_base_new());
	port = free_port();
	assert_int_equal(metrics_listen(base, "127.0.0.1", port, NULL, NULL),
	    0);
	http_fetch(base, port, EVHTTP_REQ_GET, "/readyz", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "ready\n");
	free(r.body);
	metrics_shutdown();
	event_base_free(base);
}

/* Only numeric addresses are bound; names are refused. */
static void
test_metrics_listen_addr(void **state)
{
	static const struct {
		const char	*addr;
		int		 want;
	} cases[] = {
		{ "localhost", -1 },
		{ "", -1 },
		{ "127.1", -1 },
		{ "1.2.3.4.5", -1 },
		{ "[::1]", -1 },
		{ "example.com", -1 },
		{ NULL, -1 },
		{ "127.0.0.1", 0 },
		{ "::1", 0 },
	};
	struct event_base	*base;
	size_t			 i;
	int			 rc;

	(void)state;
	assert_non_null(base = event_base_new());
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = metrics_listen(base, cases[i].addr, free_port(), NULL,
		    NULL);
		/* ::1 may be missing on a host without IPv6. */
		if (rc == -1 && cases[i].want == 0 &&
		    strchr(cases[i].addr, ':') != NULL)
			continue;
		if (rc != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].addr ?
			    cases[i].addr : "(null)", rc, cases[i].want);
		metrics_shutdown();
	}
	assert_int_equal(metrics_listen(NULL, "127.0.0.1", free_port(), NULL,
	    NULL), -1);
	event_base_free(base);
}

/* Quiet logging (overflow warnings are expected) and run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_metrics_counters_gauges,
		    teardown),
		cmocka_unit_test_teardown(test_metrics_build_info, teardown),
		cmocka_unit_test_teardown(test_metrics_requests, teardown),
		cmocka_unit_test_teardown(test_metrics_families, teardown),
		cmocka_unit_test_teardown(test_metrics_escaping, teardown),
		cmocka_unit_test_teardown(test_metrics_cap, teardown),
		cmocka_unit_test_teardown(test_metrics_cap_families, teardown),
		cmocka_unit_test_teardown(test_metrics_histogram, teardown),
		cmocka_unit_test_teardown(test_metrics_shutdown, teardown),
		cmocka_unit_test_teardown(test_metrics_csr_identity, teardown),
		cmocka_unit_test_teardown(test_metrics_help_type, teardown),
		cmocka_unit_test_teardown(test_metrics_server_up, teardown),
		cmocka_unit_test(test_prom_check),
		cmocka_unit_test_teardown(test_metrics_http, teardown),
		cmocka_unit_test_teardown(test_metrics_http_no_ready,
		    teardown),
		cmocka_unit_test_teardown(test_metrics_listen_addr, teardown),
	};

	log_init(1, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
