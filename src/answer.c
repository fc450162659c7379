/*
 * From upstream result to CoAP answer: status mapping (est_map), base64 and
 * DER checks (transcode), the single-certificate form (CF 287). Nothing
 * unchecked from the CA ever reaches a device: a body that fails a check
 * is 5.02 (RFC 8075 §7; doc/conformance.md cases 61-65).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "estcoapd.h"
#include "est_map.h"
#include "answer.h"
#include "keyconv.h"
#include "log.h"
#include "multipart.h"
#include "transcode.h"
#include "upstream.h"

/* Free the payload (wiped: it may hold a server-generated key). */
void
answer_clear(struct est_answer *a)
{
	if (a->payload != NULL)
		OPENSSL_clear_free(a->payload, a->len);
	memset(a, 0, sizeof(*a));
	a->cf = -1;
	a->max_age = -1;
}

/* An error answer with a diagnostic payload (RFC 7252 5.5.2). */
void
answer_error(struct est_answer *a, unsigned code, const char *reason,
    const char *diag)
{
	answer_clear(a);
	a->code = code;
	a->reason = reason;
	snprintf(a->diag, sizeof(a->diag), "%s", diag != NULL ? diag : "");
}

/*
 * A 2xx body we will not pass on: 5.02 with a diagnostic that says why,
 * and one log line naming the server, so that the operator knows which
 * CA to look at. why never holds body bytes (it may be a key).
 */
static void
answer_refused(struct est_answer *a, const struct est_op *op,
    const struct upstream_result *r, const char *reason, const char *what,
    const char *why)
{
	char	 d[sizeof(a->diag)];

	if (why == NULL)
		why = "unexpected content";
	log_warnx("upstream %s: %s answer refused: %s: %s",
	    r->server != NULL ? r->server : "(unknown)", op->up_path, what,
	    why);
	snprintf(d, sizeof(d), "upstream %s: %s", what, why);
	answer_error(a, EST_CODE(5, 2), reason, d);
}

/* The answer to a GET or POST op from a validated DER body. */
static void
answer_der(struct est_answer *a, const struct est_op *op,
    unsigned resp_cf, EVP_PKEY *match, const uint8_t *der, size_t len)
{
	unsigned	 ok = op->method == EST_M_GET ? EST_CODE(2, 5) :
			    EST_CODE(2, 4);
	const char	*why = NULL;
	uint8_t		*cert;
	size_t		 certlen;

	answer_clear(a);
	if (resp_cf == CF_PKIX_CERT) {
		if (tc_pkcs7_pick_cert(der, len, match, &cert, &certlen,
		    &why) == -1) {
			/*
			 * crts: we never guess which of several CA certs the
			 * device wants (4.06, doc/conformance.md case 14).
			 * sen/sren: no cert matches the CSR key (5.02; case
			 * 22 is the one that does).
			 */
			if (op->id == EST_OP_CRTS)
				answer_error(a, EST_CODE(4, 6),
				    "accept-287-several-certs", "CA bundle "
				    "holds several certificates; use 281");
			else
				answer_error(a, EST_CODE(5, 2),
				    "no-matching-cert", "upstream returned "
				    "no certificate for the CSR key");
			return;
		}
		a->payload = cert;
		a->len = certlen;
	} else {
		if ((a->payload = malloc(len > 0 ? len : 1)) == NULL) {
			answer_error(a, EST_CODE(5, 3), "nomem",
			    "out of memory");
			return;
		}
		memcpy(a->payload, der, len);
		a->len = len;
	}
	a->code = ok;
	a->cf = (int)resp_cf;
	a->reason = "ok";
}

/* See answer.h. */
void
answer_body(struct est_answer *a, const struct est_op *op,
    unsigned resp_cf, const uint8_t *der, size_t len)
{
	answer_der(a, op, resp_cf, NULL, der, len);
}

/* Which of the two serverkeygen parts a Content-Type names. */
enum req_part { PART_OTHER, PART_KEY_CLEAR, PART_KEY_CMS, PART_CERTS };

static enum req_part
req_part_kind(const char *ctype)
{
	if (tc_ctype_is(ctype, "application/pkcs8"))
		return PART_KEY_CLEAR;
	if (!tc_ctype_is(ctype, "application/pkcs7-mime"))
		return PART_OTHER;
	/* RFC 7030 4.4.2: the smime-type parameter tells the two apart */
	if (strcasestr(ctype, "server-generated-key") != NULL)
		return PART_KEY_CMS;
	if (strcasestr(ctype, "certs-only") != NULL)
		return PART_CERTS;
	return PART_OTHER;
}

/* The decoded parts of a serverkeygen answer; key bytes are wiped. */
struct req_keygen {
	uint8_t		*key;		/* PKCS#8 DER (284) or CMS (280) */
	size_t		 keylen;
	unsigned	 keycf;
	uint8_t		*p7;		/* certs-only PKCS#7 DER */
	size_t		 p7len;
};

static void
req_keygen_free(struct req_keygen *kg)
{
	if (kg->key != NULL)
		OPENSSL_clear_free(kg->key, kg->keylen);
	free(kg->p7);
	memset(kg, 0, sizeof(*kg));
}

/*
 * A clear key part as PKCS#8 DER (284 says PKCS#8, RFC 9148 4.8): base64
 * of DER or PEM, or PEM text as it is; PKCS#8, PKCS#1 or SEC1 (keyconv).
 */
static int
req_key_clear(const struct mp_part *pt, size_t max, uint8_t **key,
    size_t *keylen, const char **why)
{
	static const char	 pem[] = "-----BEGIN ";
	uint8_t			*raw = NULL;
	size_t			 rawlen = 0;
	int			 rc;

	if (memmem(pt->body, pt->len, pem, sizeof(pem) - 1) != NULL)
		return keyconv_pkcs8(pt->body, pt->len, key, keylen, why);
	if (tc_b64_decode((const char *)pt->body, pt->len, max, &raw,
	    &rawlen, why) == -1)
		return -1;
	rc = keyconv_pkcs8(raw, rawlen, key, keylen, why);
	OPENSSL_clear_free(raw, rawlen > 0 ? rawlen : 1);
	return rc;
}

/* Decode one part into kg: the key (converted) or the certificates. */
static int
req_keygen_part(const struct mp_part *pt, size_t max, struct req_keygen *kg,
    const char **why)
{
	enum req_part	 k = req_part_kind(pt->ctype);

	if (k == PART_OTHER) {
		*why = "a part of an unknown content type";
		return -1;
	}
	if ((k == PART_CERTS && kg->p7 != NULL) ||
	    (k != PART_CERTS && kg->key != NULL)) {
		*why = "two key parts or two certificate parts";
		return -1;
	}
	if (k == PART_CERTS)
		return tc_b64_decode((const char *)pt->body, pt->len, max,
		    &kg->p7, &kg->p7len, why);
	kg->keycf = k == PART_KEY_CLEAR ? CF_PKCS8 : CF_PKCS7_SGK;
	if (k == PART_KEY_CLEAR)
		return req_key_clear(pt, max, &kg->key, &kg->keylen, why);
	/* CMS-protected (280): passed on unopened */
	return tc_b64_decode((const char *)pt->body, pt->len, max, &kg->key,
	    &kg->keylen, why);
}

/* Split and decode a serverkeygen answer: exactly one key, one PKCS#7. */
static int
req_keygen_parts(const struct upstream_result *r, size_t max,
    struct req_keygen *kg, const char **why)
{
	struct mp_part	 parts[MP_MAX_PARTS];
	size_t		 n;
	int		 ncerts;

	*why = "no multipart/mixed content type";
	if (r->ctype == NULL || mp_parse(r->ctype, r->body, r->body_len,
	    parts, &n, why) == -1)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (req_keygen_part(&parts[i], max, kg, why) == -1)
			return -1;
	if (kg->key == NULL || kg->p7 == NULL || kg->keylen == 0) {
		*why = "no key part, an empty one or no certificate part";
		return -1;
	}
	return tc_pkcs7_certs_check(kg->p7, kg->p7len, &ncerts, why);
}

/*
 * skg / skc (RFC 9148 4.8, RFC 7030 4.4.2): a multipart/mixed answer with
 * a key part and a certs-only part, in either order, becomes the CBOR
 * multipart-core [key CF, key, cert CF, cert]. A CMS-protected key is
 * copied as it is (280); a clear one is PKCS#8 (284), converted if the
 * server sent another form. Key bytes are wiped. The decoded PKCS#7 goes
 * back in *derp for the audit log.
 */
static void
answer_keygen(struct est_answer *a, const struct est_op *op,
    const struct upstream_result *r, const struct req_policy *pol,
    uint8_t **derp, size_t *derlenp)
{
	struct req_keygen	 kg;
	struct mp_item		 items[2];
	size_t			 certlen = 0, outlen;
	uint8_t			*cert = NULL, *out;
	const char		*why = NULL;

	memset(&kg, 0, sizeof(kg));
	if (req_keygen_parts(r, pol->max_body, &kg, &why) == -1)
		goto bad;
	items[0] = (struct mp_item){ kg.keycf, kg.key, kg.keylen };
	if (op->id == EST_OP_SKC) {
		if (tc_pkcs7_pick_cert(kg.p7, kg.p7len, NULL, &cert, &certlen,
		    &why) == -1)
			goto bad;
		items[1] = (struct mp_item){ CF_PKIX_CERT, cert, certlen };
	} else
		items[1] = (struct mp_item){ CF_PKCS7_CERTS, kg.p7, kg.p7len };
	if ((out = mp_cbor_encode(items, 2, &outlen)) == NULL) {
		answer_error(a, EST_CODE(5, 3), "nomem", "out of memory");
		goto out;
	}
	answer_clear(a);
	a->code = EST_CODE(2, 4);
	a->cf = CF_MULTIPART_CORE;
	a->payload = out;
	a->len = outlen;
	a->reason = "ok";
	if (derp != NULL) {
		*derp = kg.p7;
		*derlenp = kg.p7len;
		kg.p7 = NULL;
	}
	goto out;
bad:
	answer_refused(a, op, r, "upstream-bad-multipart",
	    "malformed multipart answer", why);
out:
	req_keygen_free(&kg);
	free(cert);
}

/*
 * csrattrs 204 (RFC 8951 §4: no attributes): 4.04 by RFC 9148 §4.5, or
 * the empty SEQUENCE with est.att_on_204 "empty" (doc/conformance.md
 * case 17).
 */
static void
answer_att_204(struct est_answer *a, const struct est_op *op,
    unsigned resp_cf, const struct req_policy *pol)
{
	static const uint8_t	 empty_seq[] = { 0x30, 0x00 };

	if (pol->att_204_empty)
		answer_der(a, op, resp_cf, NULL, empty_seq, sizeof(empty_seq));
	else
		answer_error(a, EST_CODE(4, 4), "no-csrattrs",
		    "no CSR attributes");
}

/* An error status: the sanitised text body, else the status, as diag. */
static void
answer_status(struct est_answer *a, const struct est_code_map *m,
    const struct upstream_result *r)
{
	char	 d[sizeof(a->diag)];

	d[0] = '\0';
	if (m->diag_from_body && r->body_len > 0 && (r->ctype == NULL ||
	    tc_ctype_is(r->ctype, "text/plain")))
		tc_diag_sanitise(r->body, r->body_len, d, sizeof(d));
	if (d[0] == '\0')
		snprintf(d, sizeof(d), "upstream answered HTTP %ld", r->status);
	answer_error(a, m->code, "upstream-status", d);
}

/* The answer when est_map says the body is not used (m->use_body 0). */
static void
answer_no_body(struct est_answer *a, const struct est_op *op,
    unsigned resp_cf, enum upstream_end o, const struct est_code_map *m,
    const struct upstream_result *r, const struct req_policy *pol)
{
	if (o == UPSTREAM_TIMEOUT)
		answer_error(a, m->code, "upstream-timeout",
		    "upstream EST server did not answer in time");
	else if (o == UPSTREAM_FAILED)
		answer_error(a, m->code, "upstream-failed",
		    "upstream EST server unreachable or failed");
	else if (op->id == EST_OP_ATT && r->status == 204 &&
	    m->code == EST_CODE(2, 5)) {
		answer_att_204(a, op, resp_cf, pol);
		return;
	} else
		answer_status(a, m, r);
	a->max_age = m->max_age;
}

/*
 * The DER of a 2xx body, after checking its type, its base64 and its
 * structure (csrattrs or certs-only PKCS#7). -1 with the 5.02 answer set.
 */
static int
answer_checked_der(struct est_answer *a, const struct est_op *op,
    const struct upstream_result *r, const struct req_policy *pol,
    uint8_t **der, size_t *derlen)
{
	const char	*why = NULL, *want;
	int		 n, ncerts;

	want = op->id == EST_OP_ATT ? "application/csrattrs" :
	    "application/pkcs7-mime";
	if (r->ctype == NULL || !tc_ctype_is(r->ctype, want)) {
		answer_refused(a, op, r, "upstream-bad-type",
		    "wrong content type", r->ctype != NULL ? "not the EST one" :
		    "none");
		return -1;
	}
	if (tc_b64_decode((const char *)r->body, r->body_len, pol->max_body,
	    der, derlen, &why) == -1) {
		answer_refused(a, op, r, "upstream-bad-base64",
		    "body is not valid base64", why);
		return -1;
	}
	if (op->id == EST_OP_ATT)
		n = tc_csrattrs_check(*der, *derlen, &why);
	else
		n = tc_pkcs7_certs_check(*der, *derlen, &ncerts, &why);
	if (n == -1) {
		answer_refused(a, op, r, "upstream-bad-der",
		    op->id == EST_OP_ATT ? "CSR attributes are malformed" :
		    "PKCS#7 is malformed or holds no certificate", why);
		free(*der);
		*der = NULL;
		return -1;
	}
	return 0;
}

/* See answer.h. */
void
answer_upstream(struct est_answer *a, const struct est_op *op,
    unsigned resp_cf, EVP_PKEY *csr_key, const struct upstream_result *r,
    const struct req_policy *pol, uint8_t **derp, size_t *derlenp)
{
	struct est_code_map	 m;
	enum upstream_end	 o = r->end;
	uint8_t			*der = NULL;
	size_t			 derlen = 0;

	if (derp != NULL)
		*derp = NULL;
	answer_clear(a);
	estmap_http_to_coap(op, o, r->status, r->retry_after,
	    pol->retry_max_age, &m);
	if (!m.use_body) {
		answer_no_body(a, op, resp_cf, o, &m, r, pol);
		return;
	}
	if (op->id == EST_OP_SKG || op->id == EST_OP_SKC) {
		answer_keygen(a, op, r, pol, derp, derlenp);
		return;
	}
	/* a 2xx with a body: check type, decode, validate */
	if (answer_checked_der(a, op, r, pol, &der, &derlen) == -1)
		return;
	answer_der(a, op, resp_cf, csr_key, der, derlen);
	if (derp != NULL) {
		*derp = der;
		*derlenp = derlen;
	} else
		free(der);
}
