/*
 * CoAP option reading for the request checks (coap_opt.h).
 */
#include <string.h>

#include <coap3/coap.h>

#include "coap_opt.h"
#include "est_map.h"

/* See coap_opt.h. */
int
copt_uint(const coap_pdu_t *pdu, uint16_t num, unsigned *val)
{
	coap_opt_iterator_t	 it;
	coap_opt_t		*o;

	if ((o = coap_check_option(pdu, num, &it)) == NULL)
		return 0;
	*val = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
	return 1;
}

/* The first of a repeated option counts, as with coap_check_option. */
static void
copt_first(int *has, unsigned *val, coap_opt_t *o)
{
	if (*has)
		return;
	*has = 1;
	*val = coap_decode_var_bytes(coap_opt_value(o), coap_opt_length(o));
}

/* See coap_opt.h. */
void
copt_check_in(const coap_pdu_t *pdu, struct est_check_in *in,
    struct copt_blocks *b)
{
	coap_opt_iterator_t	 it;
	coap_opt_t		*o;
	int			 has_accept = 0;

	memset(in, 0, sizeof(*in));
	memset(b, 0, sizeof(*b));
	in->method = (int)coap_pdu_get_code(pdu);
	coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
	while ((o = coap_option_next(&it)) != NULL)
		switch (it.number) {
		case COAP_OPTION_CONTENT_FORMAT:
			copt_first(&in->has_cf, &in->cf, o);
			break;
		case COAP_OPTION_ACCEPT:
			in->n_accept++;
			copt_first(&has_accept, &in->accept, o);
			break;
		case COAP_OPTION_BLOCK1:
			copt_first(&b->has_blk1, &b->blk1, o);
			break;
		case COAP_OPTION_BLOCK2:
			copt_first(&b->has_blk2, &b->blk2, o);
			break;
		default:
			break;
		}
}
