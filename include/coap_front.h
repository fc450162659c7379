/*
 * The CoAP/DTLS front: libcoap context and endpoints on the libevent loop,
 * the EST-coaps resources, the request handler and the separate responses.
 */
#ifndef ESTCOAPD_COAP_FRONT_H
#define ESTCOAPD_COAP_FRONT_H

#include <stddef.h>

struct event_base;
struct config;
struct upstream;

/*
 * Create the context, bind every listen address, register resources and
 * start watching libcoap's fd. cf and up must outlive the front.
 * Returns 0, or -1 after logging why.
 */
int	front_init(struct event_base *, struct config *cf, struct upstream *up);

/*
 * Reload: use cf (certificate and key, limits, policy) from now on.
 * Sessions and pending requests stay. 0, or -1 with the old one kept.
 */
int	front_reconfigure(struct config *cf);

/* SIGTERM: refuse new handshakes, answer new requests 5.03. */
void	front_drain(void);

/* The drain timeout passed: answer what is still pending with 5.03. */
void	front_drain_cutoff(void);

/* 1 when nothing is pending and libcoap has nothing left to send. */
int	front_idle(void);

/* NULL when ready for traffic, else why not (for /readyz). */
const char *front_ready_reason(void);

/* One line for systemd's STATUS=. */
void	front_status(char *buf, size_t bufsz);

/* Once a second: expire Block1 state, refresh caches, poke libcoap. */
void	front_tick(void);

/* Pending upstream-bound requests now. */
unsigned front_pending(void);

/* Cancel everything pending, free the context and all our state. */
void	front_shutdown(void);

/* libcoap's version string. */
const char *front_libcoap_version(void);

#endif
