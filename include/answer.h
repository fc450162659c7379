/*
 * What the device is told: the answer of one EST request, built from an
 * upstream result or a cached body. No libcoap and no sockets here.
 */
#ifndef ESTCOAPD_ANSWER_H
#define ESTCOAPD_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct est_op;
struct upstream_result;

/* One CoAP answer; payload is owned and freed by answer_clear(). */
struct est_answer {
	unsigned	 code;		/* CoAP code, EST_CODE(c, dd) */
	int		 cf;		/* Content-Format, -1 for none */
	int		 max_age;	/* seconds, -1 for no option */
	uint8_t		*payload;	/* DER for 2.xx; NULL otherwise */
	size_t		 len;
	char		 diag[136];	/* diagnostic payload for errors */
	uint64_t	 etag;		/* ETag option value, 0 for none */
	const char	*reason;	/* one word or phrase for the log line */
};

/* Policy knobs of the mapping, from the config. */
struct req_policy {
	int		 retry_max_age;	/* 202/503 without Retry-After */
	int		 att_204_empty;	/* 1: 2.05 + 30 00; 0: 4.04 */
	size_t		 max_body;	/* bytes of a decoded upstream body */
};

void	answer_clear(struct est_answer *);
void	answer_error(struct est_answer *, unsigned code, const char *reason,
	    const char *diag);

/*
 * Map an upstream result to the answer for op, whose negotiated response
 * Content-Format is resp_cf. csr_key (may be NULL) picks the issued cert
 * for CF 287. The decoded upstream DER is also handed back in *der (owned
 * by the caller, may be NULL) so that GET answers can be cached.
 */
void	answer_upstream(struct est_answer *, const struct est_op *,
	    unsigned resp_cf, EVP_PKEY *csr_key, const struct upstream_result *,
	    const struct req_policy *, uint8_t **der, size_t *derlen);

/* The answer to a GET op from an already validated DER body (cache). */
void	answer_body(struct est_answer *, const struct est_op *,
	    unsigned resp_cf, const uint8_t *der, size_t len);

#endif
