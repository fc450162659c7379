/*
 * Answers as CoAP messages (RFC 7252 5.2, RFC 7959): an answer put into a
 * response PDU, piggybacked in our own ACK, or sent as a separate CON or
 * NON response; an empty ACK; and holding back the empty ACK libcoap
 * would send for a request the handler leaves unanswered. Block 0 of an
 * answer larger than one PDU is made by libcoap's
 * coap_add_data_large_response(), which also keeps the body for the
 * device's requests for the next blocks.
 */
#ifndef ESTCOAPD_REPLY_H
#define ESTCOAPD_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include <coap3/coap.h>

struct est_answer;

/* A payload handed to libcoap; wiped on release (skg carries keys). */
struct reply_blob {
	size_t	len;
	uint8_t	data[];
};

/* Release callback of coap_add_data_large_response() for a reply_blob. */
void	reply_release_cb(coap_session_t *, void *app_ptr);

/* The request an answer is for, and how it was asked. */
struct reply_to {
	coap_resource_t		*res;
	const coap_pdu_t	*req;		/* token, method, Block2 */
	const coap_string_t	*query;
	int			 has_block1;	/* echo block1 (RFC 7959 2.3) */
	uint32_t		 block1;
	int			 b2_szx;	/* early Block2 SZX, -1 none */
};

/*
 * The ETag of a representation (RFC 7252 5.10.6): the first 8 bytes of
 * the SHA-256 of its payload, never 0. 0 if it cannot be computed; the
 * OpenSSL error queue is left empty either way.
 */
uint64_t reply_etag(const uint8_t *payload, size_t len);

/* Put answer a into resp (code, options, payload or its block 0). */
void	reply_fill(coap_session_t *, const struct reply_to *, coap_pdu_t *resp,
	    const struct est_answer *a);

/*
 * Make the handler's response one that libcoap 4.3.1 drops instead of
 * sending: no empty ACK now, the daemon owes the ACK (reply_empty_ack or
 * reply_send with COAP_MESSAGE_ACK).
 */
void	reply_hold(coap_pdu_t *resp);

/* 1 when a libcoap log line is the drop reply_hold() causes. */
int	reply_hold_log(const char *msg);

/* Send an empty ACK for message id mid. COAP_INVALID_MID on failure. */
coap_mid_t reply_empty_ack(coap_session_t *, coap_mid_t mid);

/*
 * Send answer a for to->req: piggybacked in an ACK of mid (type ACK), or
 * separate with a new message id (CON or NON). The message id sent, or
 * COAP_INVALID_MID.
 */
coap_mid_t reply_send(coap_session_t *, coap_pdu_type_t, coap_mid_t mid,
	    const struct reply_to *, const struct est_answer *a);

/*
 * Whether len payload bytes go in one PDU on this session, without
 * Block2 (somewhat conservative: options and libcoap's reserve for an
 * Echo option are estimated at their largest).
 */
int	reply_one_pdu(coap_session_t *, const struct reply_to *, size_t len);

#endif
