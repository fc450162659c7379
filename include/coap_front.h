/*
 * The CoAP/DTLS front: libcoap context and endpoints on the libevent loop,
 * the EST-coaps resources, the request handler and the separate responses.
 */
#ifndef ESTCOAPD_COAP_FRONT_H
#define ESTCOAPD_COAP_FRONT_H

struct event_base;
struct config;
struct upstream;

/*
 * Create the context, bind every listen address, register resources and
 * start watching libcoap's fd. cf and up must outlive the front.
 * Returns 0, or -1 after logging why.
 */
int	front_init(struct event_base *, struct config *cf, struct upstream *up);

/* Once a second: expire Block1 state, refresh caches, poke libcoap. */
void	front_tick(void);

/* Pending upstream-bound requests now. */
unsigned front_pending(void);

/* Cancel everything pending, free the context and all our state. */
void	front_shutdown(void);

/* libcoap's version string. */
const char *front_libcoap_version(void);

#endif
