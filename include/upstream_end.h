/*
 * How one upstream exchange ended: what upstream.c reports and what the
 * HTTP -> CoAP mapping (est_map.c, answer.c) reads. A header of its own,
 * so that the mapping need not include the upstream client.
 */
#ifndef ESTCOAPD_UPSTREAM_END_H
#define ESTCOAPD_UPSTREAM_END_H

enum upstream_end {
	UPSTREAM_OK,		/* an HTTP response arrived: see status */
	UPSTREAM_TIMEOUT,	/* connect or overall deadline passed */
	UPSTREAM_FAILED,	/* refused, TLS, protocol error, oversize */
};

#endif
