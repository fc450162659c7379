/*
 * Block1 reassembly (RFC 7959 2.5) with a per-body cap, a global byte
 * budget, an entry cap and expiry. Pure: no I/O; the caller passes time.
 */
#ifndef ESTCOAPD_BLOCK1_H
#define ESTCOAPD_BLOCK1_H

#include <stddef.h>
#include <stdint.h>

struct blk_table;

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
 * Add one block of the transfer (owner, key). szx is 0..6; num, m from the
 * Block1 option. On BLK_COMPLETE body and bodylen get the whole body, owned by
 * the caller (free()), and the transfer is forgotten.
 */
enum blk_result	 blk_add(struct blk_table *, const void *owner, uintptr_t key,
		    uint32_t num, int m, unsigned szx, const uint8_t *data,
		    size_t len, uint64_t now_ms, uint8_t **body, size_t *bodylen);

/* A new idle time for unfinished transfers (limits.block1_lifetime_s). */
void		 blk_table_set_expiry(struct blk_table *, uint64_t expiry_ms);

void		 blk_drop_owner(struct blk_table *, const void *owner);
void		 blk_expire(struct blk_table *, uint64_t now_ms);
size_t		 blk_bytes(const struct blk_table *);	/* held now */
size_t		 blk_count(const struct blk_table *);	/* transfers now */

#endif
