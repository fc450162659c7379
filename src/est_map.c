/*
 * The RFC 9148 <-> RFC 7030 table and the upstream HTTP -> CoAP code
 * mapping (RFC 9148 §4.1 Table 1, §4.3, §4.5; RFC 8075 §7). Pure: no I/O,
 * no globals.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "estcoapd.h"
#include "est_map.h"

/* Accept values per operation (RFC 9148 4.3 Table 3), -1 terminated. */
static const int estmap_acc_certs[] = { CF_PKCS7_CERTS, CF_PKIX_CERT, -1 };
static const int estmap_acc_att[] = { CF_CSRATTRS, -1 };
static const int estmap_acc_skg[] = { CF_MULTIPART_CORE, -1 };

static const struct est_op estmap_ops[EST_OP_COUNT] = {
	[EST_OP_CRTS] = {
		.id = EST_OP_CRTS, .name = "crts", .rt = "ace.est.crts",
		.ct_attr = "281 287", .method = EST_M_GET,
		.up_path = "cacerts", .req_cf = -1, .def_cf = CF_PKCS7_CERTS,
		.accepts = estmap_acc_certs,
	},
	[EST_OP_SEN] = {
		.id = EST_OP_SEN, .name = "sen", .rt = "ace.est.sen",
		.ct_attr = "281 287", .method = EST_M_POST,
		.up_path = "simpleenroll", .req_cf = CF_PKCS10,
		.def_cf = CF_PKCS7_CERTS, .accepts = estmap_acc_certs,
	},
	[EST_OP_SREN] = {
		.id = EST_OP_SREN, .name = "sren", .rt = "ace.est.sren",
		.ct_attr = "281 287", .method = EST_M_POST,
		.up_path = "simplereenroll", .req_cf = CF_PKCS10,
		.def_cf = CF_PKCS7_CERTS, .accepts = estmap_acc_certs,
	},
	[EST_OP_ATT] = {
		.id = EST_OP_ATT, .name = "att", .rt = "ace.est.att",
		.ct_attr = "285", .method = EST_M_GET,
		.up_path = "csrattrs", .req_cf = -1, .def_cf = CF_CSRATTRS,
		.accepts = estmap_acc_att,
	},
	/* RFC 9148 4.8: skg and skc both map to /serverkeygen */
	[EST_OP_SKG] = {
		.id = EST_OP_SKG, .name = "skg", .rt = "ace.est.skg",
		.ct_attr = "62", .method = EST_M_POST,
		.up_path = "serverkeygen", .req_cf = CF_PKCS10,
		.def_cf = CF_MULTIPART_CORE, .accepts = estmap_acc_skg,
	},
	[EST_OP_SKC] = {
		.id = EST_OP_SKC, .name = "skc", .rt = "ace.est.skc",
		.ct_attr = "62", .method = EST_M_POST,
		.up_path = "serverkeygen", .req_cf = CF_PKCS10,
		.def_cf = CF_MULTIPART_CORE, .accepts = estmap_acc_skg,
	},
};

/* Why estmap_check refused: the diagnostic payload (RFC 7252 5.5.2). */
enum estmap_reason {
	ESTMAP_R_METHOD,
	ESTMAP_R_ACCEPT_REPEATED,
	ESTMAP_R_ACCEPT,
	ESTMAP_R_CF,
	ESTMAP_R_COUNT
};

static const char *const estmap_why[ESTMAP_R_COUNT] = {
	[ESTMAP_R_METHOD] = "method not allowed",
	[ESTMAP_R_ACCEPT_REPEATED] = "repeated accept option",
	[ESTMAP_R_ACCEPT] = "accept not supported",
	[ESTMAP_R_CF] = "content-format must be 286",
};

/* The table row for an operation id; NULL when out of range. */
const struct est_op *
estmap_op_by_id(enum est_op_id id)
{
	if ((unsigned)id >= EST_OP_COUNT)
		return NULL;
	return &estmap_ops[id];
}

/* The table row for an EST-coaps path segment ("crts"); NULL: unknown. */
const struct est_op *
estmap_op_by_name(const char *name)
{
	size_t	 i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < EST_OP_COUNT; i++)
		if (strcmp(estmap_ops[i].name, name) == 0)
			return &estmap_ops[i];
	return NULL;
}

/* Is v one of the op's Accept values? */
static int
estmap_accepts(const struct est_op *op, unsigned v)
{
	const int	*a;

	for (a = op->accepts; *a != -1; a++)
		if ((unsigned)*a == v)
			return 1;
	return 0;
}

/*
 * Check one request against its row. The order follows what the client
 * can fix first: method (4.05), a second Accept (4.02, RFC 7252 5.4.5:
 * Accept is critical and not repeatable), an Accept we do not offer
 * (4.06), and for operations with a body a missing or wrong Content-Format
 * (4.15, doc/conformance.md cases 27, 28). A Content-Format on a GET is
 * ignored.
 */
unsigned
estmap_check(const struct est_op *op, const struct est_check_in *in,
    unsigned *resp_cf, const char **why)
{
	if (in->method != op->method) {
		*why = estmap_why[ESTMAP_R_METHOD];
		return EST_CODE(4, 5);
	}
	if (in->n_accept > 1) {
		*why = estmap_why[ESTMAP_R_ACCEPT_REPEATED];
		return EST_CODE(4, 2);
	}
	if (in->n_accept == 1 && !estmap_accepts(op, in->accept)) {
		*why = estmap_why[ESTMAP_R_ACCEPT];
		return EST_CODE(4, 6);
	}
	if (op->req_cf >= 0 &&
	    (!in->has_cf || in->cf != (unsigned)op->req_cf)) {
		*why = estmap_why[ESTMAP_R_CF];
		return EST_CODE(4, 15);
	}
	*resp_cf = in->n_accept == 1 ? in->accept : (unsigned)op->def_cf;
	return 0;
}

/*
 * The operation op is forwarded as: sren as simpleenroll on a route with
 * upstream.renew_as_enroll (a CA that compares a renewal CSR with the TLS
 * client certificate, which behind a registrar is the RA's), else op.
 */
const struct est_op *
estmap_upstream_op(const struct est_op *op, int renew_as_enroll)
{
	if (op != NULL && op->id == EST_OP_SREN && renew_as_enroll)
		return estmap_op_by_id(EST_OP_SEN);
	return op;
}

/* "/.well-known/est[/label]/<up_path>" into buf; -1 on truncation. */
int
estmap_upstream_path(const struct est_op *op, const char *label, char *buf,
    size_t bufsz)
{
	int	 n;

	if (op == NULL || buf == NULL || bufsz == 0)
		return -1;
	if (label != NULL && *label != '\0')
		n = snprintf(buf, bufsz, "/.well-known/est/%s/%s", label,
		    op->up_path);
	else
		n = snprintf(buf, bufsz, "/.well-known/est/%s", op->up_path);
	if (n < 0 || (size_t)n >= bufsz)
		return -1;
	return 0;
}

/* Max-Age in seconds from Retry-After, else the default; >= 0, <= INT_MAX. */
static int
estmap_max_age(long retry_after, int default_max_age)
{
	if (retry_after < 0)
		return default_max_age < 0 ? 0 : default_max_age;
	return retry_after > INT_MAX ? INT_MAX : (int)retry_after;
}

/* The HTTP statuses with a CoAP code of their own (RFC 8075 §7). */
static const struct {
	long		 status;
	unsigned	 code;
} estmap_status_codes[] = {
	{ 400, EST_CODE(4, 0) },
	{ 401, EST_CODE(4, 1) },
	{ 403, EST_CODE(4, 3) },
	{ 404, EST_CODE(4, 4) },
	/* a registrar-CA mismatch, not the device's fault: 5.02 */
	{ 405, EST_CODE(5, 2) },
	{ 406, EST_CODE(5, 2) },
	{ 415, EST_CODE(5, 2) },
	{ 413, EST_CODE(4, 13) },
	{ 500, EST_CODE(5, 0) },
	{ 501, EST_CODE(5, 1) },
	{ 502, EST_CODE(5, 2) },
	{ 504, EST_CODE(5, 4) },
};

/*
 * The statuses that say "come back later": 202 (RFC 9148 4.5, 4.7), 423,
 * 429 and 503 become 5.03 with Max-Age from Retry-After.
 */
static int
estmap_is_retry(long http_status)
{
	return http_status == 202 || http_status == 423 ||
	    http_status == 429 || http_status == 503;
}

/* The CoAP code of an error or unlisted status; 5.02 when none fits. */
static unsigned
estmap_status_code(long http_status)
{
	for (size_t i = 0; i < sizeof(estmap_status_codes) /
	    sizeof(estmap_status_codes[0]); i++)
		if (estmap_status_codes[i].status == http_status)
			return estmap_status_codes[i].code;
	if (http_status >= 400 && http_status <= 499)
		return EST_CODE(4, 0);
	if (http_status >= 500 && http_status <= 599)
		return EST_CODE(5, 0);
	/* 1xx, other 2xx, 3xx (never followed) and nonsense stay 5.02. */
	return EST_CODE(5, 2);
}

/*
 * Map how the upstream exchange ended to a CoAP code (RFC 9148 §4.5,
 * RFC 8075 §7; doc/conformance.md cases 54-69). Every 4xx and 5xx status
 * lets the caller copy the sanitised text body as a diagnostic (RFC 7252
 * §5.5.2); 1xx, 2xx, 3xx and transport failures do not.
 */
void
estmap_http_to_coap(const struct est_op *op, enum upstream_end outcome,
    long http_status, long retry_after, int default_max_age,
    struct est_code_map *out)
{
	out->code = EST_CODE(5, 2);
	out->use_body = 0;
	out->max_age = -1;
	out->diag_from_body = 0;

	if (outcome == UPSTREAM_TIMEOUT) {
		out->code = EST_CODE(5, 4);
		return;
	}
	if (outcome != UPSTREAM_OK)
		return;		/* UPSTREAM_FAILED and unknown: 5.02 */

	out->diag_from_body = http_status >= 400 && http_status <= 599;
	if (http_status == 200) {
		out->code = op->method == EST_M_GET ? EST_CODE(2, 5) :
		    EST_CODE(2, 4);
		out->use_body = 1;
	} else if (estmap_is_retry(http_status)) {
		out->code = EST_CODE(5, 3);
		out->max_age = estmap_max_age(retry_after, default_max_age);
	} else if (http_status == 204) {
		/* RFC 8951 4: for csrattrs, as good as an empty SEQUENCE. */
		if (op->id == EST_OP_ATT)
			out->code = EST_CODE(2, 5);
	} else
		out->code = estmap_status_code(http_status);
}

/* Format a CoAP code as "c.dd" into buf and return buf. */
const char *
estmap_code_str(unsigned code, char buf[8])
{
	unsigned detail = EST_CODE_DETAIL(code);	/* 0..31 */

	/* "%u.%02u" by hand: this runs for every request (its metric) */
	buf[0] = (char)('0' + (EST_CODE_CLASS(code) & 0x7));
	buf[1] = '.';
	buf[2] = (char)('0' + detail / 10);
	buf[3] = (char)('0' + detail % 10);
	buf[4] = '\0';
	return buf;
}
