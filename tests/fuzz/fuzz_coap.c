/*
 * libFuzzer target: one datagram as the CoAP request path sees it after
 * DTLS. libcoap parses it (as coap_io_process would), then the checks of
 * front_handler run on it: Uri-Path routing, Content-Format and Accept
 * (estmap_check), the SZX 7 rule and Block1 reassembly into one table
 * that lives across inputs, so budgets and expiry are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "block1.h"
#include "coap_opt.h"
#include "est_map.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct blk_table	*fz_blk;
static uint64_t		 fz_now;

/* Route by Uri-Path: .well-known/est[/label]/<op>; NULL when unknown. */
static const struct est_op *
fz_route(const coap_pdu_t *pdu)
{
	coap_opt_iterator_t	 oi;
	coap_opt_filter_t	 f;
	coap_opt_t		*o;
	char			 seg[4][64];
	size_t			 n = 0;

	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, COAP_OPTION_URI_PATH);
	coap_option_iterator_init(pdu, &oi, &f);
	while ((o = coap_option_next(&oi)) != NULL) {
		size_t l = coap_opt_length(o);

		if (n == 4 || l >= sizeof(seg[0]))
			return NULL;
		memcpy(seg[n], coap_opt_value(o), l);
		seg[n][l] = '\0';
		n++;
	}
	if (n < 3 || strcmp(seg[0], ".well-known") != 0 ||
	    strcmp(seg[1], "est") != 0)
		return NULL;
	return estmap_op_by_name(seg[n - 1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	coap_pdu_t		*pdu;
	const struct est_op	*op;
	struct est_check_in	 in;
	unsigned		 resp_cf, blk1 = 0, v;
	const char		*why;
	size_t			 len = 0, blen;
	const uint8_t		*payload = NULL;
	uint8_t			*body = NULL;

	if (fz_blk == NULL) {
		coap_startup();
		coap_set_log_level(LOG_EMERG);
		/* small limits so that the budget paths are reached */
		fz_blk = blk_table_new(4096, 16384, 8, 2000);
	}
	fz_now += 10;
	if ((pdu = coap_pdu_init(0, 0, 0, size)) == NULL)
		return 0;
	if (!coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu)) {
		coap_delete_pdu(pdu);
		return 0;
	}
	copt_check_in(pdu, &in);
	coap_get_data(pdu, &len, &payload);
	(void)copt_uint(pdu, COAP_OPTION_BLOCK2, &v);
	if ((op = fz_route(pdu)) == NULL)
		op = estmap_op_by_id((enum est_op_id)(size % EST_OP_COUNT));
	why = NULL;
	if (estmap_check(op, &in, &resp_cf, &why) != 0 && why == NULL)
		abort();	/* every refusal carries a diagnostic */
	if (copt_uint(pdu, COAP_OPTION_BLOCK1, &blk1) && (blk1 & 7) != 7) {
		/* owner: one of a few pretend sessions */
		const void *owner = (const void *)(uintptr_t)(1 +
		    coap_pdu_get_mid(pdu) % 3);

		switch (blk_add(fz_blk, owner, (uintptr_t)op, blk1 >> 4,
		    (blk1 >> 3) & 1, blk1 & 7, payload, len, fz_now, &body,
		    &blen)) {
		case BLK_COMPLETE:
			if (blen > 4096)
				abort();	/* past max_body */
			free(body);
			break;
		default:
			break;
		}
		if (blk_bytes(fz_blk) > 16384)
			abort();	/* past the budget */
		if ((coap_pdu_get_mid(pdu) & 0xff) == 0)
			blk_drop_owner(fz_blk, owner);
		blk_expire(fz_blk, fz_now);
	}
	coap_delete_pdu(pdu);
	return 0;
}
