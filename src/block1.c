/*
 * Block1 reassembly (RFC 7959 2.5) for request bodies, keyed by an owner
 * (the session) and a key (the resource or Request-Tag). Everything a peer
 * can make us hold is bounded: bytes per body, bytes in total, transfers
 * in total, and idle time. Pure: no I/O; the caller passes the time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block1.h"

/* SZX 7 is reserved over UDP (BERT is TCP only, RFC 8323). */
#define BLK_SZX_MAX	6

/* One transfer being reassembled. */
struct blk_xfer {
	struct blk_xfer	*next;
	const void	*owner;		/* compared, not dereferenced */
	uintptr_t	 key;
	uint8_t		*data;		/* len bytes, malloc'd */
	size_t		 len;		/* bytes received in order */
	uint64_t	 seen_ms;	/* last block added or repeated */
};

struct blk_table {
	struct blk_xfer	*head;
	size_t		 max_body;	/* bytes one body may reach */
	size_t		 budget;	/* bytes all transfers may hold */
	size_t		 max_entries;	/* transfers at once */
	uint64_t	 expiry_ms;	/* idle time allowed */
	size_t		 bytes;		/* held now: sum of len */
	size_t		 count;		/* transfers now */
};

/* A new empty table with the given limits; NULL when out of memory. */
struct blk_table *
blk_table_new(size_t max_body, size_t budget, size_t max_entries,
    uint64_t expiry_ms)
{
	struct blk_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->max_body = max_body;
	t->budget = budget;
	t->max_entries = max_entries;
	t->expiry_ms = expiry_ms;
	return t;
}


/*
 * Does adding add to have stay within limit? No subtraction that can
 * wrap: a reload may lower limit below what is held already.
 */
static int
blk_fits(size_t have, size_t add, size_t limit)
{
	return have <= limit && add <= limit - have;
}

/* Unlink and free the transfer *pp points at. */
static void
blk_unlink(struct blk_table *t, struct blk_xfer **pp)
{
	struct blk_xfer	*x = *pp;

	*pp = x->next;
	t->bytes -= x->len;
	t->count--;
	free(x->data);
	free(x);
}

/* The link to the transfer holding the most bytes; NULL when empty. */
static struct blk_xfer **
blk_largest(struct blk_table *t)
{
	struct blk_xfer	**pp, **big = NULL;

	for (pp = &t->head; *pp != NULL; pp = &(*pp)->next)
		if (big == NULL || (*pp)->len > (*big)->len)
			big = pp;
	return big;
}

/*
 * See block1.h. A transfer already past the new max_body is dropped now,
 * then the largest ones until the rest fits the new budget and entry cap:
 * a lowered limit holds at once, not only for transfers started later.
 */
void
blk_table_set_limits(struct blk_table *t, size_t max_body, size_t budget,
    size_t max_entries)
{
	struct blk_xfer	**pp = &t->head;

	t->max_body = max_body;
	t->budget = budget;
	t->max_entries = max_entries;
	while (*pp != NULL) {
		if ((*pp)->len > max_body)
			blk_unlink(t, pp);
		else
			pp = &(*pp)->next;
	}
	while ((t->bytes > budget || t->count > max_entries) &&
	    (pp = blk_largest(t)) != NULL)
		blk_unlink(t, pp);
}

/* Free the table and every transfer still in it. */
void
blk_table_free(struct blk_table *t)
{
	if (t == NULL)
		return;
	while (t->head != NULL)
		blk_unlink(t, &t->head);
	free(t);
}

/* Has x been idle for longer than the table allows at now_ms? */
static int
blk_idle(const struct blk_table *t, const struct blk_xfer *x,
    uint64_t now_ms)
{
	return now_ms > x->seen_ms && now_ms - x->seen_ms > t->expiry_ms;
}

/* Where the link to transfer (owner, key) lives, or NULL if none. */
static struct blk_xfer **
blk_find(struct blk_table *t, const void *owner, uintptr_t key)
{
	struct blk_xfer	**pp;

	for (pp = &t->head; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->owner == owner && (*pp)->key == key)
			return pp;
	return NULL;
}

/* Copy len bytes into a new malloc'd body; never NULL for len 0. */
static uint8_t *
blk_copy(const uint8_t *data, size_t len)
{
	uint8_t	*p;

	if ((p = malloc(len > 0 ? len : 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(p, data, len);
	return p;
}

/*
 * Append len bytes to x, growing its buffer to exactly the new length.
 * Limits were checked by the caller.
 */
static int
blk_append(struct blk_table *t, struct blk_xfer *x, const uint8_t *data,
    size_t len)
{
	uint8_t	*p;

	if (len == 0)
		return 0;
	if ((p = realloc(x->data, x->len + len)) == NULL)
		return -1;
	memcpy(p + x->len, data, len);
	x->data = p;
	x->len += len;
	t->bytes += len;
	return 0;
}

/*
 * Start a transfer with block 0 (m = 1). Any transfer with the same
 * (owner, key) was dropped by the caller: RFC 7959 2.5 lets a new
 * sequence replace the old one.
 */
static enum blk_result
blk_start(struct blk_table *t, const void *owner, uintptr_t key,
    const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct blk_xfer	*x;

	if (t->count >= t->max_entries)
		blk_expire(t, now_ms);
	if (t->count >= t->max_entries || !blk_fits(t->bytes, len, t->budget))
		return BLK_NOMEM;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return BLK_NOMEM;
	if ((x->data = blk_copy(data, len)) == NULL) {
		free(x);
		return BLK_NOMEM;
	}
	x->owner = owner;
	x->key = key;
	x->len = len;
	x->seen_ms = now_ms;
	x->next = t->head;
	t->head = x;
	t->count++;
	t->bytes += len;
	return BLK_CONTINUE;
}

/*
 * Add one Block1 block; see block1.h. Order of checks: block shape
 * (BLK_BAD), then where the block sits against what we hold (restart,
 * BLK_GAP, BLK_DUPLICATE), then limits (BLK_TOO_LARGE, BLK_NOMEM).
 * The budget counts bytes the table keeps between calls, so it is not
 * charged for a final block, whose body leaves the table at once.
 */
enum blk_result
blk_add(struct blk_table *t, const void *owner, uintptr_t key, uint32_t num,
    int m, unsigned szx, const uint8_t *data, size_t len, uint64_t now_ms,
    uint8_t **body, size_t *bodylen)
{
	struct blk_xfer	**pp, *x;
	uint64_t	 off;
	size_t		 size;

	*body = NULL;
	*bodylen = 0;
	if (szx > BLK_SZX_MAX)
		return BLK_BAD;
	size = (size_t)1 << (szx + 4);
	/* RFC 7959 2.2: only the last block may be shorter. */
	if (len > size || (m && len != size))
		return BLK_BAD;
	off = (uint64_t)num * size;

	pp = blk_find(t, owner, key);
	if (pp != NULL && blk_idle(t, *pp, now_ms)) {
		blk_unlink(t, pp);
		pp = NULL;
	}

	if (num == 0) {
		/*
		 * Block 0 again while we hold only block 0, same bytes: a
		 * retransmission. Otherwise block 0 is a new sequence,
		 * which replaces the old one (RFC 7959 2.5) even when its
		 * first block looks like the old one's: a second CSR from
		 * the same device often starts with the same bytes.
		 */
		if (pp != NULL && m && (*pp)->len == len &&
		    memcmp((*pp)->data, data, len) == 0) {
			(*pp)->seen_ms = now_ms;
			return BLK_DUPLICATE;
		}
		if (pp != NULL)
			blk_unlink(t, pp);
		if (len > t->max_body)
			return BLK_TOO_LARGE;
		if (m)
			return blk_start(t, owner, key, data, len, now_ms);
		if ((*body = blk_copy(data, len)) == NULL)
			return BLK_NOMEM;
		*bodylen = len;
		return BLK_COMPLETE;
	}

	if (pp == NULL)
		return BLK_GAP;
	x = *pp;
	if (off < x->len) {
		/* A block we already hold: fine if it is the same one. */
		if (m && off + len <= x->len &&
		    memcmp(x->data + off, data, len) == 0) {
			x->seen_ms = now_ms;
			return BLK_DUPLICATE;
		}
		return BLK_GAP;
	}
	/*
	 * The client may switch to smaller blocks (RFC 7959 2.5); any size
	 * is fine as long as the block starts where we stopped.
	 */
	if (off != x->len)
		return BLK_GAP;
	if (!blk_fits(x->len, len, t->max_body)) {
		blk_unlink(t, pp);
		return BLK_TOO_LARGE;
	}
	if (m) {
		if (!blk_fits(t->bytes, len, t->budget) ||
		    blk_append(t, x, data, len) == -1) {
			blk_unlink(t, pp);
			return BLK_NOMEM;
		}
		x->seen_ms = now_ms;
		return BLK_CONTINUE;
	}
	if (blk_append(t, x, data, len) == -1) {
		blk_unlink(t, pp);
		return BLK_NOMEM;
	}
	/* Hand the body over; the transfer is forgotten. */
	*body = x->data;
	*bodylen = x->len;
	t->bytes -= x->len;
	x->data = NULL;
	x->len = 0;
	blk_unlink(t, pp);
	if (*body == NULL && (*body = malloc(1)) == NULL)
		return BLK_NOMEM;
	return BLK_COMPLETE;
}

/* Drop every transfer of one owner, e.g. when its DTLS session closes. */
void
blk_drop_owner(struct blk_table *t, const void *owner)
{
	struct blk_xfer	**pp = &t->head;

	while (*pp != NULL) {
		if ((*pp)->owner == owner)
			blk_unlink(t, pp);
		else
			pp = &(*pp)->next;
	}
}

/* See block1.h. */
void
blk_table_set_expiry(struct blk_table *t, uint64_t expiry_ms)
{
	t->expiry_ms = expiry_ms;
}

/* Drop every transfer idle for longer than expiry_ms at now_ms. */
void
blk_expire(struct blk_table *t, uint64_t now_ms)
{
	struct blk_xfer	**pp = &t->head;

	while (*pp != NULL) {
		if (blk_idle(t, *pp, now_ms))
			blk_unlink(t, pp);
		else
			pp = &(*pp)->next;
	}
}

/* Bytes the table holds now. */
size_t
blk_bytes(const struct blk_table *t)
{
	return t->bytes;
}

/* Transfers in progress now. */
size_t
blk_count(const struct blk_table *t)
{
	return t->count;
}
