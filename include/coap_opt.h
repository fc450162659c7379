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

/* How many times option num occurs. */
int	copt_count(const coap_pdu_t *, uint16_t num);

/* Method, Content-Format and Accept options, as estmap_check() wants them. */
void	copt_check_in(const coap_pdu_t *, struct est_check_in *);

#endif
