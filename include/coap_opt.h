/*
 * Reading the CoAP options of a request the way the front checks them.
 * Shared by the request handler and the CoAP fuzz target, so that the
 * fuzzer exercises the code that runs, not a copy of it.
 */
#ifndef ESTCOAPD_COAP_OPT_H
#define ESTCOAPD_COAP_OPT_H

#include <stdint.h>

#include <coap3/coap.h>

struct est_check_in;

/* Value of the first option num as an unsigned; 1 if present, else 0. */
int	copt_uint(const coap_pdu_t *, uint16_t num, unsigned *val);

/* The first Block1 and Block2 options of a request (RFC 7959 2.2). */
struct copt_blocks {
	int		 has_blk1;
	unsigned	 blk1;
	int		 has_blk2;
	unsigned	 blk2;
};

/*
 * Method, Content-Format and Accept options, as estmap_check() wants
 * them, and the block options, in one walk over the options (each
 * coap_check_option() walks them all again).
 */
void	copt_check_in(const coap_pdu_t *, struct est_check_in *,
	    struct copt_blocks *);

#endif
