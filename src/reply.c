/*
 * Answers as CoAP messages (reply.h). Everything here builds or sends one
 * PDU; which message an answer goes in is the front's decision.
 */
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "estcoapd.h"
#include "answer.h"
#include "log.h"
#include "reply.h"

/* A payload this small fits one PDU at any MTU we accept (>= 256). */
#define REPLY_SMALL		128

/*
 * What a response needs besides its payload, at most: token (8), header
 * (4), Content-Format, Max-Age, ETag, Block1 and Size2 options (about 30)
 * and the 42 bytes libcoap keeps free for an Echo option.
 */
#define REPLY_OVERHEAD		96

/* libcoap's warning when it drops the response reply_hold() made. */
#define REPLY_HOLD_LOG		"Proxy return has bad hop limit count"

/* See reply.h. */
uint64_t
reply_etag(const uint8_t *payload, size_t len)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	uint64_t	etag;

	if (EVP_Digest(payload, len, md, NULL, EVP_sha256(), NULL) != 1) {
		/* nobody reads this error; the next OpenSSL call must not */
		ERR_clear_error();
		return 0;
	}
	memcpy(&etag, md, sizeof(etag));
	return etag != 0 ? etag : 1;
}

/* See reply.h. */
void
reply_release_cb(coap_session_t *s, void *app_ptr)
{
	struct reply_blob *b = app_ptr;

	(void)s;
	OPENSSL_clear_free(b, sizeof(*b) + b->len);
}

/*
 * A copy of req (no payload) carrying Block2(0/0/szx): the early Block2
 * negotiation of a Block1 upload's first request (RFC 7959 2.4, RFC 9148
 * App. B.2), which the request of the separate answer no longer has.
 * NULL when req asks for Block2 itself.
 */
static coap_pdu_t *
reply_req_block2(coap_session_t *s, const coap_pdu_t *req, int szx)
{
	coap_opt_iterator_t	 oi;
	coap_opt_filter_t	 drop;
	coap_bin_const_t	 tok = coap_pdu_get_token(req);
	coap_pdu_t		*dup;
	uint8_t			 buf[4];

	if (coap_check_option(req, COAP_OPTION_BLOCK2, &oi) != NULL)
		return NULL;
	coap_option_filter_clear(&drop);
	coap_option_filter_set(&drop, COAP_OPTION_BLOCK1);
	if ((dup = coap_pdu_duplicate(req, s, tok.length, tok.s, &drop)) ==
	    NULL)
		return NULL;
	if (coap_add_option(dup, COAP_OPTION_BLOCK2,
	    coap_encode_var_safe(buf, sizeof(buf), (unsigned)szx), buf) == 0) {
		coap_delete_pdu(dup);
		return NULL;
	}
	return dup;
}

/* Add an option whose value is an unsigned number. */
static void
reply_opt_uint(coap_pdu_t *pdu, uint16_t opt, unsigned v)
{
	uint8_t buf[4];

	coap_add_option(pdu, opt, coap_encode_var_safe(buf, sizeof(buf), v),
	    buf);
}

/* Add an ETag option. */
static void
reply_opt_etag(coap_pdu_t *pdu, uint64_t etag)
{
	uint8_t eb[8];

	coap_add_option(pdu, COAP_OPTION_ETAG,
	    coap_encode_var_safe8(eb, sizeof(eb), etag), eb);
}

/*
 * A small body with an ETag: libcoap 4.3.1 adds the ETag only when it
 * splits a body into blocks, and a body this small never is, so we build
 * the message ourselves. 0 done, -1 not this case.
 */
static int
reply_small(const struct reply_to *to, coap_pdu_t *resp,
    const struct est_answer *a)
{
	coap_opt_iterator_t oi;

	if (a->etag == 0 || a->len > REPLY_SMALL ||
	    coap_check_option(to->req, COAP_OPTION_BLOCK2, &oi) != NULL)
		return -1;
	reply_opt_etag(resp, a->etag);
	reply_opt_uint(resp, COAP_OPTION_CONTENT_FORMAT, (unsigned)a->cf);
	if (a->max_age >= 0)
		reply_opt_uint(resp, COAP_OPTION_MAXAGE, (unsigned)a->max_age);
	coap_add_data(resp, a->len, a->payload);
	return 0;
}

/*
 * A body through libcoap: in one PDU when it fits, else block 0 (or the
 * block the request asks for) with Size2 and an ETag, libcoap keeping a
 * copy for the next blocks (RFC 7959 2.2).
 */
static void
reply_large(coap_session_t *s, const struct reply_to *to, coap_pdu_t *resp,
    const struct est_answer *a)
{
	const coap_pdu_t	*req = to->req;
	coap_pdu_t		*dup = NULL;
	struct reply_blob	*copy;

	/* the data must live until libcoap's release callback */
	if ((copy = malloc(sizeof(*copy) + a->len)) == NULL) {
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(503));
		return;
	}
	copy->len = a->len;
	memcpy(copy->data, a->payload, a->len);
	if (to->b2_szx >= 0 &&
	    (dup = reply_req_block2(s, req, to->b2_szx)) != NULL)
		req = dup;
	if (!coap_add_data_large_response(to->res, s, req, resp, to->query,
	    (uint16_t)a->cf, a->max_age, a->etag, a->len, copy->data,
	    reply_release_cb, copy) &&
	    COAP_RESPONSE_CLASS(coap_pdu_get_code(resp)) != 4) {
		/* a 4.xx is libcoap's own, e.g. Block2 past the end */
		log_warnx("libcoap refused a %zu-byte answer", a->len);
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE(500));
	}
	coap_delete_pdu(dup);
}

/* See reply.h. */
void
reply_fill(coap_session_t *s, const struct reply_to *to, coap_pdu_t *resp,
    const struct est_answer *a)
{
	coap_pdu_set_code(resp, (coap_pdu_code_t)a->code);
	if (to->has_block1)
		reply_opt_uint(resp, COAP_OPTION_BLOCK1, to->block1);
	if (a->code == EST_CODE(2, 3)) {
		/* RFC 7252 5.10.6.2: Valid carries the ETag, no payload */
		reply_opt_etag(resp, a->etag);
		reply_opt_uint(resp, COAP_OPTION_MAXAGE, (unsigned)a->max_age);
		return;
	}
	if (a->payload != NULL && a->code < EST_CODE(3, 0)) {
		if (reply_small(to, resp, a) == -1)
			reply_large(s, to, resp, a);
		return;
	}
	if (a->max_age >= 0)
		reply_opt_uint(resp, COAP_OPTION_MAXAGE, (unsigned)a->max_age);
	if (a->diag[0] != '\0')
		coap_add_data(resp, strlen(a->diag), (const uint8_t *)a->diag);
}

/*
 * See reply.h. libcoap 4.3.1 sends the empty ACK itself when a handler
 * leaves the response code 0, and has no call to hold it back (RFC 7252
 * 5.2.2 allows the server to wait a little and piggyback). A 5.08 with a
 * Hop-Limit of 0 (RFC 8768 3) is one it refuses to send: it checks the
 * hop limit of a 5.08 on the way out and drops the message. The request
 * stays unacknowledged; the device retransmits it if we wait too long.
 */
void
reply_hold(coap_pdu_t *resp)
{
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE(508));
	coap_add_option(resp, COAP_OPTION_HOP_LIMIT, 0, NULL);
}

/* See reply.h. */
int
reply_hold_log(const char *msg)
{
	return strncmp(msg, REPLY_HOLD_LOG, sizeof(REPLY_HOLD_LOG) - 1) == 0;
}

/* See reply.h. */
coap_mid_t
reply_empty_ack(coap_session_t *s, coap_mid_t mid)
{
	coap_pdu_t *ack;

	if ((ack = coap_pdu_init(COAP_MESSAGE_ACK, 0, mid, 0)) == NULL)
		return COAP_INVALID_MID;
	return coap_send(s, ack);
}

/* See reply.h. */
coap_mid_t
reply_send(coap_session_t *s, coap_pdu_type_t type, coap_mid_t mid,
    const struct reply_to *to, const struct est_answer *a)
{
	coap_bin_const_t	 tok = coap_pdu_get_token(to->req);
	coap_pdu_t		*pdu;

	if (type != COAP_MESSAGE_ACK)
		mid = coap_new_message_id(s);
	if ((pdu = coap_pdu_init(type, 0, mid, coap_session_max_pdu_size(s)))
	    == NULL)
		return COAP_INVALID_MID;
	if (!coap_add_token(pdu, tok.length, tok.s)) {
		coap_delete_pdu(pdu);
		return COAP_INVALID_MID;
	}
	reply_fill(s, to, pdu, a);
	return coap_send(s, pdu);
}

/* See reply.h. */
int
reply_one_pdu(coap_session_t *s, const struct reply_to *to, size_t len)
{
	coap_opt_iterator_t	 oi;
	coap_opt_t		*o;
	size_t			 max = coap_session_max_pdu_size(s);
	int			 szx = to->b2_szx;

	if ((o = coap_check_option(to->req, COAP_OPTION_BLOCK2, &oi)) != NULL)
		szx = (int)COAP_OPT_BLOCK_SZX(o);
	if (szx >= 0 && szx < 7 && len > (16u << szx))
		return 0;
	return len <= REPLY_SMALL || len + REPLY_OVERHEAD <= max;
}
