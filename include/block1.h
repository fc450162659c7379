/*
 * Block1 reassembly (RFC 7959 2.5) with a per-body cap, a global byte
 * budget, an entry cap, quotas per device and per source address, and
 * expiry. Pure: no I/O; the caller passes time.
 */
#ifndef ESTCOAPD_BLOCK1_H
#define ESTCOAPD_BLOCK1_H

#include <stddef.h>
#include <stdint.h>

struct blk_table;

/* Who sends a transfer (blk_add_from): the holder its quotas count. */
struct blk_who {
	const void	*dev;		/* device identity, e.g. the SHA-256 */
	size_t		 devlen;	/* of its certificate; <= 32 bytes */
	const void	*src;		/* source address, without the port */
	size_t		 srclen;	/* <= 32 bytes */
};

/* What one holder may hold: bytes and transfers (SIZE_MAX: no limit). */
struct blk_quota {
	size_t		 bytes;
	size_t		 entries;
};

enum blk_result {
	BLK_CONTINUE,		/* more blocks expected: answer 2.31 */
	BLK_DUPLICATE,		/* a block we already have: answer 2.31 again */
	BLK_COMPLETE,		/* the body is whole: see *body */
	BLK_GAP,		/* out of order or unknown transfer: 4.08 */
	BLK_TOO_LARGE,		/* past max_body: 4.13 with Size1 = max_body */
	BLK_BAD,		/* bad block size for NUM/M: 4.00 */
	BLK_NOMEM,		/* budget or entries exhausted: 5.03 */
};

/*
 * max_body: bytes one reassembled body may hold; budget: bytes all buffers
 * together may hold; max_entries: transfers at once; expiry_ms: how long an
 * unfinished transfer may idle (EXCHANGE_LIFETIME).
 */
struct blk_table *blk_table_new(size_t max_body, size_t budget,
		    size_t max_entries, uint64_t expiry_ms);
void		 blk_table_free(struct blk_table *);

/*
 * New limits for a reload, applied to transfers in progress too: one
 * already past the new max_body is dropped, then the largest until the
 * rest fits the new budget and max_entries. A dropped transfer's next
 * block gets BLK_GAP; its restart is held to the new limits.
 */
void		 blk_table_set_limits(struct blk_table *, size_t max_body,
		    size_t budget, size_t max_entries);

/*
 * Quotas per device and per source address (both no limit at first),
 * applied to transfers in progress too: a holder over its new quota
 * loses its least recently seen transfers.
 */
void		 blk_table_set_quotas(struct blk_table *,
		    const struct blk_quota *dev, const struct blk_quota *src);

/*
 * Add one block of the transfer (owner, key) sent by who (NULL: one
 * anonymous holder). szx is 0..6; num, m from the Block1 option. On
 * BLK_COMPLETE body and bodylen get the whole body, owned by the caller
 * (free()), and the transfer is forgotten.
 *
 * A block that would take its device or source past a quota first drops
 * that holder's other transfers, least recently seen first. A block that
 * would take the table past its budget or entry cap drops the largest
 * transfer of the device holding the most, as long as that device holds
 * more than who's would; else it gets BLK_NOMEM and its transfer is
 * dropped.
 */
enum blk_result	 blk_add_from(struct blk_table *, const void *owner,
		    uintptr_t key, const struct blk_who *who, uint32_t num,
		    int m, unsigned szx, const uint8_t *data, size_t len,
		    uint64_t now_ms, uint8_t **body, size_t *bodylen);

/* The same with who NULL. */
enum blk_result	 blk_add(struct blk_table *, const void *owner, uintptr_t key,
		    uint32_t num, int m, unsigned szx, const uint8_t *data,
		    size_t len, uint64_t now_ms, uint8_t **body, size_t *bodylen);

/* A new idle time for unfinished transfers (limits.block1_lifetime_s). */
void		 blk_table_set_expiry(struct blk_table *, uint64_t expiry_ms);

void		 blk_drop_owner(struct blk_table *, const void *owner);

/*
 * The key of an upload within its owner (the session): the route it
 * goes to (label and operation) and its Request-Tag option value (RFC
 * 9175 3.3; tag NULL: none), so that concurrent uploads to two routes,
 * or with two tags, are never spliced into one body.
 */
uintptr_t	 blk_key(const void *route, const uint8_t *tag, size_t taglen);
void		 blk_expire(struct blk_table *, uint64_t now_ms);
size_t		 blk_bytes(const struct blk_table *);	/* held now */
size_t		 blk_count(const struct blk_table *);	/* transfers now */
size_t		 blk_evicted(const struct blk_table *);	/* dropped for room */

#endif
