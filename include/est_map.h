/*
 * The RFC 9148 <-> RFC 7030 table: short path, method, formats, upstream
 * path, and the HTTP -> CoAP code mapping. Pure: no I/O, no globals.
 */
#ifndef ESTCOAPD_EST_MAP_H
#define ESTCOAPD_EST_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "upstream_end.h"

enum est_op_id {
	EST_OP_CRTS,
	EST_OP_SEN,
	EST_OP_SREN,
	EST_OP_ATT,
	EST_OP_SKG,		/* server keygen, cert part as PKCS#7 */
	EST_OP_SKC,		/* server keygen, cert part as one X.509 */
	EST_OP_COUNT
};

/* CoAP method numbers (RFC 7252 12.1.1, RFC 8132). */
#define EST_M_GET	1
#define EST_M_POST	2
#define EST_M_PUT	3
#define EST_M_DELETE	4
#define EST_M_FETCH	5
#define EST_M_PATCH	6
#define EST_M_IPATCH	7

/* One row of the EST table. */
struct est_op {
	enum est_op_id	 id;
	const char	*name;		/* "crts": the EST-coaps path segment */
	const char	*rt;		/* "ace.est.crts" */
	const char	*ct_attr;	/* link-format ct value, e.g. "281 287" */
	int		 method;	/* EST_M_GET or EST_M_POST */
	const char	*up_path;	/* "cacerts": the RFC 7030 operation */
	int		 req_cf;	/* -1: no body; else the required CF */
	int		 def_cf;	/* response CF when there is no Accept */
	const int	*accepts;	/* Accept values honoured, -1 terminated */
};

/* What a request looked like, as far as the table checks go. */
struct est_check_in {
	int		 method;	/* EST_M_* */
	int		 has_cf;	/* Content-Format option present */
	unsigned	 cf;
	int		 n_accept;	/* number of Accept options */
	unsigned	 accept;	/* first Accept value */
};

const struct est_op	*estmap_op_by_id(enum est_op_id);
const struct est_op	*estmap_op_by_name(const char *);	/* NULL: unknown */

/*
 * Check method, Accept and Content-Format for one operation. Returns 0 when
 * the request may proceed and sets *resp_cf; otherwise the CoAP code to
 * answer (4.05, 4.02, 4.06, 4.15) and *why a short diagnostic.
 */
unsigned	 estmap_check(const struct est_op *, const struct est_check_in *,
		    unsigned *resp_cf, const char **why);

/*
 * The operation op goes upstream as: sren becomes sen when renew_as_enroll
 * (the route's upstream.renew_as_enroll); every other op is itself.
 */
const struct est_op	*estmap_upstream_op(const struct est_op *,
		    int renew_as_enroll);

/* Build "/.well-known/est[/label]/<up_path>" into buf; -1 on truncation. */
int		 estmap_upstream_path(const struct est_op *, const char *label,
		    char *buf, size_t bufsz);

/* The CoAP answer for an upstream status before the body is looked at. */
struct est_code_map {
	unsigned	 code;		/* CoAP code */
	int		 use_body;	/* 1: 2xx payload to transcode */
	int		 max_age;	/* -1: no Max-Age option; else seconds */
	int		 diag_from_body;/* 1: copy a sanitised text body as diagnostic */
};

/*
 * Map an upstream result (RFC 9148 §4.5, RFC 8075 §7). retry_after < 0
 * means absent.
 * default_max_age is used for 202/503/423/429 without Retry-After.
 * csrattrs 204 gives 2.05 with use_body 0: the caller then answers CF 285
 * with the empty SEQUENCE 30 00 or 4.04 (est.att_on_204,
 * doc/conformance.md case 17). Every 4xx/5xx status sets
 * diag_from_body; max_age is -1 unless the code is 5.03.
 */
void		 estmap_http_to_coap(const struct est_op *, enum upstream_end,
		    long http_status, long retry_after, int default_max_age,
		    struct est_code_map *out);

/* "2.05", "4.04", ... into a static buffer per call site. */
const char	*estmap_code_str(unsigned code, char buf[8]);

#endif
