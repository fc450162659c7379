/*
 * Completed exchanges (RFC 7252 §4.5; doc/conformance.md cases 47, 48):
 * the answer a device got, kept for EXCHANGE_LIFETIME so that a late
 * retransmission or an identical repeated request is answered from memory
 * instead of a new upstream call. Bounded in entries and bytes; entries holding
 * server-generated keys are wiped (OPENSSL_cleanse) when they go. Pure:
 * the caller passes the time.
 */
#ifndef ESTCOAPD_EXCHANGE_H
#define ESTCOAPD_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define XCH_KEY_LEN	32		/* SHA-256 */

struct xch_table;

/* Room for the hex serial number of a certificate (RFC 5280: 20 bytes). */
#define XCH_SERIAL_LEN	68

/* A stored answer; payload owned by the table. */
struct xch_answer {
	unsigned	 code;		/* CoAP code */
	int		 cf;		/* -1 none */
	int		 max_age;	/* -1 none */
	const uint8_t	*payload;
	size_t		 len;
	/* the exchange that got it, for the audit of a repeat */
	uint64_t	 origin_req;	/* its request number; 0 unknown */
	uint64_t	 origin_ms;	/* its wall-clock time, ms since 1970 */
	char		 origin_serial[XCH_SERIAL_LEN];	/* the cert's, hex */
};

/*
 * max_entries and max_bytes bound the table (payload bytes); lifetime_ms
 * is how long an entry answers (EXCHANGE_LIFETIME, 247 s).
 */
struct xch_table *xch_table_new(size_t max_entries, size_t max_bytes,
		    uint64_t lifetime_ms);
void		 xch_table_free(struct xch_table *);

/*
 * The key of a request: SHA-256 over the parts that make two requests
 * "the same": peer certificate DER, operation, label, Accept/response CF
 * and request body. Any part may be empty.
 */
void		 xch_key(uint8_t key[XCH_KEY_LEN], const uint8_t *peer_cert,
		    size_t peer_len, const char *op, const char *label,
		    unsigned resp_cf, const uint8_t *body, size_t body_len);

/*
 * The key of an answer held for a device until it asks again: like
 * xch_key() with the DER SubjectPublicKeyInfo of pub (may be NULL; for
 * a CSR's key the one the CSR carries, csr_key_spki) as the body, so
 * that two CSRs for the same key match (a CSR linked to its DTLS session
 * by proof of possession differs on every session).
 */
void		 xch_key_pub(uint8_t key[XCH_KEY_LEN], const uint8_t *peer_cert,
		    size_t peer_len, const char *op, const char *label,
		    unsigned resp_cf, EVP_PKEY *pub);

/*
 * Store (copying payload) the answer for key; an existing entry for key
 * is replaced. secret: wipe the payload when it goes. Oldest entries are
 * evicted to stay within the bounds; an answer bigger than max_bytes is
 * not stored. 0 stored, -1 not.
 */
int		 xch_put(struct xch_table *, const uint8_t key[XCH_KEY_LEN],
		    const struct xch_answer *, int secret, uint64_t now_ms);

/* The live answer for key, or NULL; valid until the next put/expire. */
const struct xch_answer *xch_get(struct xch_table *,
		    const uint8_t key[XCH_KEY_LEN], uint64_t now_ms);

void		 xch_expire(struct xch_table *, uint64_t now_ms);
size_t		 xch_count(const struct xch_table *);
size_t		 xch_bytes(const struct xch_table *);

#endif
