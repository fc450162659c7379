/*
 * Counters, gauges, a few labelled families and one latency histogram,
 * rendered in the Prometheus text exposition format 0.0.4, and the small
 * evhttp listener that serves them with /healthz and /readyz.
 *
 * Some label values come from strangers (a device picks the EST label in
 * its URI path), so every labelled family holds at most a fixed number of
 * series. Once a family is full, new label sets are counted in one
 * overflow series ("other" values); a real label set equal to it shares
 * that series, so no series is ever written twice.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "estcoapd.h"
#include "est_map.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/*
 * Longest label value kept, NUL included. Server base URLs are the longest
 * values we expect; a longer value is cut at a UTF-8 character boundary.
 */
#define METRICS_LABEL_MAX	128
#define METRICS_NLABELS_MAX	3

/* Upper bounds of the latency buckets in ms; +Inf is the series count. */
static const uint64_t metrics_le_ms[] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000
};
static const char *const metrics_le_str[] = {
	"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	"5", "10", "30", "60"
};
#define METRICS_NBUCKETS	\
	(sizeof(metrics_le_ms) / sizeof(metrics_le_ms[0]))

/*
 * Bounds on the listener: a scrape is one short GET, so a few KB of
 * headers and no body are plenty; an idle or slow client is cut after the
 * timeout (seconds).
 */
#define METRICS_HTTP_MAX_HEADERS	4096
#define METRICS_HTTP_MAX_BODY		1024
#define METRICS_HTTP_TIMEOUT		10
#define METRICS_HTTP_BACKLOG		16

/* One label set of a family and what was counted for it. */
struct metrics_series {
	char		 lv[METRICS_NLABELS_MAX][METRICS_LABEL_MAX];
	uint64_t	 value;		/* counter, or histogram _count */
	uint64_t	 sum_ms;	/* histogram: sum of observations, ms */
	uint64_t	 bucket[METRICS_NBUCKETS];	/* not cumulative */
};

/* A labelled family: its names, its cap and its series. */
struct metrics_family {
	const char	*name;
	const char	*help;
	int		 histogram;	/* else a counter */
	int		 gauge;		/* a gauge: value is set, not counted */
	size_t		 nlabels;
	const char	*label[METRICS_NLABELS_MAX];
	const char	*other[METRICS_NLABELS_MAX];	/* overflow values */
	size_t		 cap;		/* most series, overflow included */
	struct metrics_series *s;	/* grows on demand up to cap */
	size_t		 n;		/* series in use */
	size_t		 size;		/* series allocated */
	int		 warned;	/* overflow or ENOMEM logged */
};

enum metrics_fam {
	MF_REQUESTS,
	MF_UPSTREAM,
	MF_LATENCY,
	MF_HANDSHAKES,
	MF_LIMITS,
	MF_SERVER_UP,
	MF_CSR_IDENTITY,
	MF_COUNT
};

/*
 * Caps: ops x labels x codes is what a device can vary, the rest are set
 * by the code or the config (a few servers, a dozen statuses and reasons).
 */
static struct metrics_family metrics_fams[MF_COUNT] = {
	[MF_REQUESTS] = {
		.name = "estcoapd_requests_total",
		.help = "device requests by operation, EST label and CoAP code",
		.nlabels = 3, .label = { "op", "label", "code" },
		.other = { "other", "", "other" }, .cap = 256,
	},
	[MF_UPSTREAM] = {
		.name = "estcoapd_upstream_requests_total",
		.help = "exchanges with the upstream EST server by HTTP status "
		    "(0: no answer)",
		.nlabels = 2, .label = { "server", "status" },
		.other = { "other", "other" }, .cap = 64,
	},
	[MF_LATENCY] = {
		.name = "estcoapd_upstream_latency_seconds",
		.help = "duration of exchanges with the upstream EST server",
		.histogram = 1, .nlabels = 1, .label = { "server" },
		.other = { "other" }, .cap = 16,
	},
	[MF_HANDSHAKES] = {
		.name = "estcoapd_dtls_handshakes_total",
		.help = "DTLS handshakes with devices by result and reason",
		.nlabels = 2, .label = { "result", "reason" },
		.other = { "other", "other" }, .cap = 32,
	},
	[MF_LIMITS] = {
		.name = "estcoapd_limit_refusals_total",
		.help = "requests refused because a limit was reached",
		.nlabels = 1, .label = { "limit" },
		.other = { "other" }, .cap = 16,
	},
	[MF_SERVER_UP] = {
		.name = "estcoapd_upstream_server_up",
		.help = "1 while an upstream server is considered reachable, 0 "
		    "while it is marked down",
		.gauge = 1, .nlabels = 1, .label = { "server" },
		.other = { "other" }, .cap = 32,
	},
	[MF_CSR_IDENTITY] = {
		.name = "estcoapd_csr_identity_denied_total",
		.help = "CSRs refused because they ask for names the device "
		    "certificate does not hold (auth.csr_identity)",
		.nlabels = 1, .label = { "reason" },
		.other = { "other" }, .cap = 16,
	},
};

static const char *const metrics_counter_name[] = {
#define METRICS_NAME(id, name, help)	[METRICS_C_##id] = name,
	METRICS_COUNTERS(METRICS_NAME)
#undef METRICS_NAME
};
static const char *const metrics_counter_help[] = {
#define METRICS_HELP(id, name, help)	[METRICS_C_##id] = help,
	METRICS_COUNTERS(METRICS_HELP)
#undef METRICS_HELP
};
static const char *const metrics_gauge_name[] = {
#define METRICS_NAME(id, name, help)	[METRICS_G_##id] = name,
	METRICS_GAUGES(METRICS_NAME)
#undef METRICS_NAME
};
static const char *const metrics_gauge_help[] = {
#define METRICS_HELP(id, name, help)	[METRICS_G_##id] = help,
	METRICS_GAUGES(METRICS_HELP)
#undef METRICS_HELP
};

/* The two families render writes itself. */
static const char metrics_build_help[] =
    "version of estcoapd and of the libevent it runs on";
static const char metrics_start_help[] =
    "unix time at which the daemon started counting";

static uint64_t		 metrics_counters[METRICS_C_COUNT];
static int64_t		 metrics_gauges[METRICS_G_COUNT];
static time_t		 metrics_start;		/* 0 until first use */

static struct evhttp	*metrics_http;
static metrics_ready_fn	 metrics_ready;
static void		*metrics_ready_arg;

/* Note the start time on the first call into the module. */
static void
metrics_touch(void)
{
	if (metrics_start == 0)
		metrics_start = time(NULL);
}

/*
 * Copy a label value into dst (METRICS_LABEL_MAX bytes): NULL becomes "",
 * a long value is cut. Label values come from the daemon's own tables
 * and the configuration (CA labels are [A-Za-z0-9._-]), never from a
 * device; a byte outside printable ASCII (other than newline, which
 * rendering escapes with quote and backslash) becomes '?' all the same,
 * so that the exposition stays valid UTF-8 whatever a caller passes.
 */
static void
metrics_label_copy(char dst[METRICS_LABEL_MAX], const char *src)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 o = 0;

	for (; s != NULL && s[o] != '\0' && o + 1 < METRICS_LABEL_MAX; o++)
		dst[o] = (s[o] >= 0x20 && s[o] < 0x7f) || s[o] == '\n' ?
		    (char)s[o] : '?';
	dst[o] = '\0';
}

/* The series of f whose label values are lv, or NULL. */
static struct metrics_series *
metrics_find(struct metrics_family *f,
    char lv[METRICS_NLABELS_MAX][METRICS_LABEL_MAX])
{
	size_t	 i, j;

	for (i = 0; i < f->n; i++) {
		for (j = 0; j < f->nlabels; j++)
			if (strcmp(f->s[i].lv[j], lv[j]) != 0)
				break;
		if (j == f->nlabels)
			return &f->s[i];
	}
	return NULL;
}

/* Append a zeroed series with values lv to f; NULL on ENOMEM. */
static struct metrics_series *
metrics_append(struct metrics_family *f,
    char lv[METRICS_NLABELS_MAX][METRICS_LABEL_MAX])
{
	struct metrics_series	*ns;
	size_t			 nsize;

	if (f->n == f->size) {
		nsize = f->size == 0 ? 8 : f->size * 2;
		if (nsize > f->cap)
			nsize = f->cap;
		if ((ns = reallocarray(f->s, nsize, sizeof(*ns))) == NULL) {
			if (!f->warned)
				log_warnx("metrics: %s: out of memory, "
				    "dropping samples", f->name);
			f->warned = 1;
			return NULL;
		}
		f->s = ns;
		f->size = nsize;
	}
	ns = &f->s[f->n++];
	memset(ns, 0, sizeof(*ns));
	memcpy(ns->lv, lv, sizeof(ns->lv));
	return ns;
}

/*
 * The series of f for the given label values, made if need be. A full
 * family (one slot left, kept for overflow) sends new label sets to the
 * overflow series. If a real sample ever used the overflow values, that
 * series simply is the overflow one: no duplicate can appear. NULL only
 * on ENOMEM.
 */
static struct metrics_series *
metrics_series_get(struct metrics_family *f, const char *v0, const char *v1,
    const char *v2)
{
	char			 lv[METRICS_NLABELS_MAX][METRICS_LABEL_MAX];
	const char		*v[METRICS_NLABELS_MAX] = { v0, v1, v2 };
	struct metrics_series	*s;
	size_t			 j;

	metrics_touch();
	memset(lv, 0, sizeof(lv));
	for (j = 0; j < f->nlabels; j++)
		metrics_label_copy(lv[j], v[j]);
	if ((s = metrics_find(f, lv)) != NULL)
		return s;
	if (f->n + 1 < f->cap)
		return metrics_append(f, lv);

	if (!f->warned)
		log_warnx("metrics: %s: %zu label sets, counting new ones "
		    "as other", f->name, f->cap - 1);
	f->warned = 1;
	memset(lv, 0, sizeof(lv));
	for (j = 0; j < f->nlabels; j++)
		metrics_label_copy(lv[j], f->other[j]);
	if ((s = metrics_find(f, lv)) != NULL)
		return s;
	return metrics_append(f, lv);
}

/* Count one event of a plain counter. */
void
metrics_inc(enum metrics_counter c)
{
	metrics_touch();
	if ((unsigned)c < METRICS_C_COUNT)
		metrics_counters[c]++;
}

/* Set a gauge to its owner's current value. */
void
metrics_gauge_set(enum metrics_gauge g, int64_t v)
{
	metrics_touch();
	if ((unsigned)g < METRICS_G_COUNT)
		metrics_gauges[g] = v;
}

/* Count one finished device request under its op, label and CoAP code. */
void
metrics_request(const char *op, const char *label, unsigned code)
{
	struct metrics_series	*s;
	char			 cs[8];

	s = metrics_series_get(&metrics_fams[MF_REQUESTS], op, label,
	    estmap_code_str(code, cs));
	if (s != NULL)
		s->value++;
}

/* Count one upstream exchange and put its duration in the histogram. */
void
metrics_upstream(const char *server, long status, uint64_t ms)
{
	struct metrics_series	*s;
	char			 st[24];
	size_t			 i;

	(void)snprintf(st, sizeof(st), "%ld", status);
	s = metrics_series_get(&metrics_fams[MF_UPSTREAM], server, st, NULL);
	if (s != NULL)
		s->value++;

	s = metrics_series_get(&metrics_fams[MF_LATENCY], server, NULL, NULL);
	if (s == NULL)
		return;
	s->value++;
	s->sum_ms += ms;
	for (i = 0; i < METRICS_NBUCKETS; i++)
		if (ms <= metrics_le_ms[i]) {
			s->bucket[i]++;
			break;
		}
}

/* Set whether one upstream server (base URL) is up. */
void
metrics_server_up(const char *server, int up)
{
	struct metrics_series *s;

	s = metrics_series_get(&metrics_fams[MF_SERVER_UP], server, NULL,
	    NULL);
	if (s != NULL)
		s->value = up != 0;
}

/* Forget every server of the up gauge (the set changed on reload). */
void
metrics_servers_reset(void)
{
	metrics_fams[MF_SERVER_UP].n = 0;
	metrics_fams[MF_SERVER_UP].warned = 0;
}

/* Count one DTLS handshake outcome with its reason. */
void
metrics_handshake(int ok, const char *reason)
{
	struct metrics_series	*s;

	s = metrics_series_get(&metrics_fams[MF_HANDSHAKES],
	    ok ? "ok" : "failed", reason, NULL);
	if (s != NULL)
		s->value++;
}

/* Count one request refused by the named limit. */
void
metrics_limit(const char *limit)
{
	struct metrics_series	*s;

	s = metrics_series_get(&metrics_fams[MF_LIMITS], limit, NULL, NULL);
	if (s != NULL)
		s->value++;
}

/* Count one CSR refused by the identity policy, by reason. */
void
metrics_csr_identity_denied(const char *reason)
{
	struct metrics_series	*s;

	s = metrics_series_get(&metrics_fams[MF_CSR_IDENTITY], reason, NULL,
	    NULL);
	if (s != NULL)
		s->value++;
}

/* Write a HELP text, escaping backslash and newline as the format says. */
static void
metrics_put_help(FILE *fp, const char *name, const char *help,
    const char *type)
{
	const char	*p;

	fprintf(fp, "# HELP %s ", name);
	for (p = help; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", fp);
		else if (*p == '\n')
			fputs("\\n", fp);
		else
			fputc(*p, fp);
	}
	fprintf(fp, "\n# TYPE %s %s\n", name, type);
}

/* Write a label value, escaping backslash, double quote and newline. */
static void
metrics_put_value(FILE *fp, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			fputs("\\\\", fp);
		else if (*v == '"')
			fputs("\\\"", fp);
		else if (*v == '\n')
			fputs("\\n", fp);
		else
			fputc(*v, fp);
	}
}

/* Write "name{l1="v1",...[,le="x"]} " for one series of f. */
static void
metrics_put_series(FILE *fp, const struct metrics_family *f,
    const char *suffix, const struct metrics_series *s, const char *le)
{
	size_t	 j;

	fprintf(fp, "%s%s{", f->name, suffix);
	for (j = 0; j < f->nlabels; j++) {
		fprintf(fp, "%s%s=\"", j > 0 ? "," : "", f->label[j]);
		metrics_put_value(fp, s->lv[j]);
		fputc('"', fp);
	}
	if (le != NULL)
		fprintf(fp, ",le=\"%s\"", le);
	fputs("} ", fp);
}

/* Write a labelled family: HELP and TYPE always, then its series. */
static void
metrics_put_family(FILE *fp, const struct metrics_family *f)
{
	const struct metrics_series	*s;
	uint64_t			 cum;
	size_t				 i, b;

	metrics_put_help(fp, f->name, f->help,
	    f->histogram ? "histogram" : f->gauge ? "gauge" : "counter");
	for (i = 0; i < f->n; i++) {
		s = &f->s[i];
		if (!f->histogram) {
			metrics_put_series(fp, f, "", s, NULL);
			fprintf(fp, "%" PRIu64 "\n", s->value);
			continue;
		}
		cum = 0;
		for (b = 0; b < METRICS_NBUCKETS; b++) {
			cum += s->bucket[b];
			metrics_put_series(fp, f, "_bucket", s,
			    metrics_le_str[b]);
			fprintf(fp, "%" PRIu64 "\n", cum);
		}
		metrics_put_series(fp, f, "_bucket", s, "+Inf");
		fprintf(fp, "%" PRIu64 "\n", s->value);
		metrics_put_series(fp, f, "_sum", s, NULL);
		fprintf(fp, "%" PRIu64 ".%03" PRIu64 "\n", s->sum_ms / 1000,
		    s->sum_ms % 1000);
		metrics_put_series(fp, f, "_count", s, NULL);
		fprintf(fp, "%" PRIu64 "\n", s->value);
	}
}

/* See metrics.h. */
void
metrics_describe(metrics_describe_fn fn, void *arg)
{
	char	 labels[METRICS_NLABELS_MAX * (METRICS_LABEL_MAX + 1)];
	size_t	 i, l, n;

	fn(arg, "estcoapd_build_info", "gauge", "version,libevent",
	    metrics_build_help);
	fn(arg, "estcoapd_start_time_seconds", "gauge", "",
	    metrics_start_help);
	for (i = 0; i < METRICS_C_COUNT; i++)
		fn(arg, metrics_counter_name[i], "counter", "",
		    metrics_counter_help[i]);
	for (i = 0; i < METRICS_G_COUNT; i++)
		fn(arg, metrics_gauge_name[i], "gauge", "",
		    metrics_gauge_help[i]);
	for (i = 0; i < MF_COUNT; i++) {
		const struct metrics_family *f = &metrics_fams[i];

		for (l = 0, n = 0, labels[0] = '\0'; l < f->nlabels; l++)
			n += (size_t)snprintf(labels + n, sizeof(labels) - n,
			    "%s%s", l > 0 ? "," : "", f->label[l]);
		fn(arg, f->name, f->histogram ? "histogram" : f->gauge ?
		    "gauge" : "counter", labels, f->help);
	}
}

/* Render every metric as exposition text; the caller frees the buffer. */
char *
metrics_render(size_t *len)
{
	FILE	*fp;
	char	*buf = NULL;
	size_t	 n = 0, i;
	int	 bad;

	metrics_touch();
	if ((fp = open_memstream(&buf, &n)) == NULL) {
		log_warn("metrics: render");
		return NULL;
	}

	metrics_put_help(fp, "estcoapd_build_info", metrics_build_help,
	    "gauge");
	fputs("estcoapd_build_info{version=\"", fp);
	metrics_put_value(fp, ESTCOAPD_VERSION);
	fputs("\",libevent=\"", fp);
	metrics_put_value(fp, event_get_version());
	fputs("\"} 1\n", fp);
	metrics_put_help(fp, "estcoapd_start_time_seconds",
	    metrics_start_help, "gauge");
	fprintf(fp, "estcoapd_start_time_seconds %lld\n",
	    (long long)metrics_start);

	for (i = 0; i < METRICS_C_COUNT; i++) {
		metrics_put_help(fp, metrics_counter_name[i],
		    metrics_counter_help[i], "counter");
		fprintf(fp, "%s %" PRIu64 "\n", metrics_counter_name[i],
		    metrics_counters[i]);
	}
	for (i = 0; i < METRICS_G_COUNT; i++) {
		metrics_put_help(fp, metrics_gauge_name[i],
		    metrics_gauge_help[i], "gauge");
		fprintf(fp, "%s %" PRId64 "\n", metrics_gauge_name[i],
		    metrics_gauges[i]);
	}
	for (i = 0; i < MF_COUNT; i++)
		metrics_put_family(fp, &metrics_fams[i]);

	bad = ferror(fp);
	if (fclose(fp) != 0 || bad) {
		log_warnx("metrics: render: out of memory");
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}

/* Free the rendered text once evbuffer is done with it. */
static void
metrics_free_cb(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)(uintptr_t)data);
}

/* Answer with a short text/plain body. */
static void
metrics_reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *body, const char *body2)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	if (evbuffer_add_printf(out, "%s%s\n", body,
	    body2 != NULL ? body2 : "") == -1) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_send_reply(req, code, reason, NULL);
}

/* Serve /metrics. */
static void
metrics_http_metrics(struct evhttp_request *req)
{
	struct evbuffer	*out = evhttp_request_get_output_buffer(req);
	char		*text;
	size_t		 len;

	if ((text = metrics_render(&len)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (evbuffer_add_reference(out, text, len, metrics_free_cb,
	    NULL) == -1) {
		free(text);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", NULL);
}

/* Route one request: 404 for unknown paths, 405 for other methods. */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri;
	const char		*path = NULL, *why;
	enum evhttp_cmd_type	 cmd;

	(void)arg;
	if ((uri = evhttp_request_get_evhttp_uri(req)) != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/healthz") != 0 && strcmp(path, "/readyz") != 0)) {
		metrics_reply_text(req, HTTP_NOTFOUND, "Not Found",
		    "not found", NULL);
		return;
	}
	cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		metrics_reply_text(req, HTTP_BADMETHOD, "Method Not Allowed",
		    "method not allowed", NULL);
		return;
	}

	if (strcmp(path, "/metrics") == 0)
		metrics_http_metrics(req);
	else if (strcmp(path, "/healthz") == 0)
		metrics_reply_text(req, HTTP_OK, "OK", "ok", NULL);
	else {
		why = metrics_ready != NULL ?
		    metrics_ready(metrics_ready_arg) : NULL;
		if (why == NULL)
			metrics_reply_text(req, HTTP_OK, "OK", "ready", NULL);
		else
			metrics_reply_text(req, HTTP_SERVUNAVAIL,
			    "Service Unavailable", "", why);
	}
}

/* Start the HTTP listener on a numeric addr:port of the given loop. */
int
metrics_listen(struct event_base *base, const char *addr, uint16_t port,
    metrics_ready_fn ready, void *arg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct evconnlistener	*lev;
	struct evhttp		*http;

	metrics_touch();
	if (metrics_http != NULL) {
		log_warnx("metrics: already listening");
		return -1;
	}
	if (base == NULL || addr == NULL ||
	    addr_parse(addr, port, &ss, &sslen) == -1) {
		log_warnx("metrics: listen address %s: not a numeric IPv4 or "
		    "IPv6 address", addr != NULL ? addr : "(none)");
		return -1;
	}

	if ((http = evhttp_new(base)) == NULL) {
		log_warnx("metrics: evhttp_new failed");
		return -1;
	}
	evhttp_set_max_headers_size(http, METRICS_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(http, METRICS_HTTP_MAX_BODY);
	evhttp_set_timeout(http, METRICS_HTTP_TIMEOUT);
	/* Let every method reach the callback, which answers 405 itself. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, metrics_http_cb, NULL);

	/* Bound here rather than by name: no resolver, and v6 means v6. */
	lev = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
	    (ss.ss_family == AF_INET6 ? LEV_OPT_BIND_IPV6ONLY : 0),
	    METRICS_HTTP_BACKLOG, (struct sockaddr *)&ss, (int)sslen);
	if (lev == NULL) {
		log_warn("metrics: listen on %s port %u", addr, port);
		evhttp_free(http);
		return -1;
	}
	if (evhttp_bind_listener(http, lev) == NULL) {
		log_warnx("metrics: evhttp_bind_listener failed");
		evconnlistener_free(lev);
		evhttp_free(http);
		return -1;
	}

	metrics_http = http;
	metrics_ready = ready;
	metrics_ready_arg = arg;
	log_info("metrics: listening on %s port %u", addr, port);
	return 0;
}

/* Close the listener and its connections and forget every value. */
void
metrics_shutdown(void)
{
	size_t	 i;

	if (metrics_http != NULL)
		evhttp_free(metrics_http);
	metrics_http = NULL;
	metrics_ready = NULL;
	metrics_ready_arg = NULL;

	for (i = 0; i < MF_COUNT; i++) {
		free(metrics_fams[i].s);
		metrics_fams[i].s = NULL;
		metrics_fams[i].n = metrics_fams[i].size = 0;
		metrics_fams[i].warned = 0;
	}
	memset(metrics_counters, 0, sizeof(metrics_counters));
	memset(metrics_gauges, 0, sizeof(metrics_gauges));
	metrics_start = 0;
}
