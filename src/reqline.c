/*
 * The request line (reqline.h): its documented format and the one
 * function that writes it.
 */
#include <stdio.h>
#include <string.h>

#include "est_map.h"
#include "log.h"
#include "metrics.h"
#include "reqline.h"

#define NELEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct reqline_field reqline_field[] = {
	{ "req", "N", "request number, from 1 at start; requests answered at "
	    "once are numbered when answered, upstream-bound ones when queued, "
	    "so numbers can appear out of order" },
	{ "peer", "PEER", "the device's address and port" },
	{ "dev", "\"SUBJECT\"", "the Subject of the device certificate" },
	{ "op", "OP", "the operation" },
	{ "label", "LABEL|-", "the CA label of the path, - for none" },
	{ "method", "N", "CoAP method code: 1 GET, 2 POST, 3 PUT, 4 DELETE, "
	    "5 FETCH, 6 PATCH, 7 iPATCH" },
	{ "cf", "N|-", "request Content-Format, - for none" },
	{ "in", "N", "request body bytes, after Block1 reassembly" },
	{ "up", "N|-", "the upstream's HTTP status, - when the upstream was "
	    "not asked or gave no status" },
	{ "up_ms", "N|-", "milliseconds of the upstream exchange, - when the "
	    "upstream was not asked (a number with up=- means the exchange "
	    "ended without an HTTP status)" },
	{ "coap", "CODE|-", "the CoAP code sent, - when none was" },
	{ "out", "N", "payload bytes sent" },
	{ "ms", "N", "milliseconds from arrival to answer" },
	{ "reason", "REASON", "why it ended so: one of the words below" },
};

static const struct reqline_field reqline_value[] = {
	{ "N", "", "a decimal number" },
	{ "PEER", "", "address:port for IPv4, [address]:port for IPv6, - when "
	    "not known" },
	{ "SUBJECT", "", "OpenSSL's one-line form of the name "
	    "(/O=Example/CN=device-0001; bytes outside printable ASCII as "
	    "\\xHH), - without a device certificate; inside the quotes every "
	    "\" and \\ is preceded by a \\" },
	{ "OP", "", "crts, sen, sren, att, skg, skc, core for "
	    "/.well-known/core, or for an unknown path the path, starting with "
	    "/, in printable ASCII without space, \" or =" },
	{ "LABEL", "", "a CA label: letters, digits, -, _ and ." },
	{ "CODE", "", "a CoAP code as class.detail, e.g. 2.04" },
	{ "REASON", "", "a word of letters, digits and -" },
};

/* See reqline.h. */
const struct reqline_field *
reqline_fields(size_t *n)
{
	*n = NELEMS(reqline_field);
	return reqline_field;
}

/* See reqline.h. */
const struct reqline_field *
reqline_values(size_t *n)
{
	*n = NELEMS(reqline_value);
	return reqline_value;
}

/* s in quotes, " and \ escaped, within cap bytes (with the NUL). */
static void
reqline_quote(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s != '\0' && o + 4 <= cap; s++) {
		if (*s == '"' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* See reqline.h. */
size_t
reqline_format(char *buf, size_t len, const struct reqline *l)
{
	char	dev[2 * 256 + 3], cf[16], up[24], upms[24], code[8];
	int	n;

	reqline_quote(dev, sizeof(dev), l->dev != NULL ? l->dev : "-");
	if (l->cf >= 0)
		snprintf(cf, sizeof(cf), "%d", l->cf);
	else
		snprintf(cf, sizeof(cf), "-");
	if (l->up > 0)
		snprintf(up, sizeof(up), "%ld", l->up);
	else
		snprintf(up, sizeof(up), "-");
	if (l->up_asked)
		snprintf(upms, sizeof(upms), "%llu",
		    (unsigned long long)l->up_ms);
	else
		snprintf(upms, sizeof(upms), "-");
	if (l->coap != 0)
		estmap_code_str(l->coap, code);
	else
		snprintf(code, sizeof(code), "-");
	n = snprintf(buf, len, "req=%llu peer=%s dev=%s op=%s label=%s "
	    "method=%d cf=%s in=%zu up=%s up_ms=%s coap=%s out=%zu ms=%llu "
	    "reason=%s", (unsigned long long)l->id, l->peer != NULL ? l->peer :
	    "-", dev, l->op, l->label != NULL && l->label[0] != '\0' ?
	    l->label : "-", l->method, cf, l->in, up, upms, code, l->out,
	    (unsigned long long)l->ms, l->reason != NULL ? l->reason : "-");
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

void
reqline_emit(const struct reqline *l)
{
	char	line[REQLINE_MAX];

	metrics_request(l->op[0] == '/' ? "unknown" : l->op, l->label,
	    l->coap);
	/* formatting costs more than the rest of a cached answer's work */
	if (log_get_level() < LOG_LVL_INFO)
		return;
	reqline_format(line, sizeof(line), l);
	log_info("%s", line);
}

uint64_t
reqline_next_id(void)
{
	static uint64_t id;

	return ++id;
}
