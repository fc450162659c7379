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

/* See coap_opt.h. */
int
copt_count(const coap_pdu_t *pdu, uint16_t num)
{
	coap_opt_iterator_t	it;
	coap_opt_filter_t	f;
	int			n = 0;

	coap_option_filter_clear(&f);
	coap_option_filter_set(&f, num);
	coap_option_iterator_init(pdu, &it, &f);
	while (coap_option_next(&it) != NULL)
		n++;
	return n;
}

/* See coap_opt.h. */
void
copt_check_in(const coap_pdu_t *pdu, struct est_check_in *in)
{
	memset(in, 0, sizeof(*in));
	in->method = (int)coap_pdu_get_code(pdu);
	in->has_cf = copt_uint(pdu, COAP_OPTION_CONTENT_FORMAT, &in->cf);
	in->n_accept = copt_count(pdu, COAP_OPTION_ACCEPT);
	if (in->n_accept > 0)
		copt_uint(pdu, COAP_OPTION_ACCEPT, &in->accept);
}
