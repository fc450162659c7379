/*
 * Block1 reassembly (RFC 7959 2.5) for request bodies, keyed by an owner
 * (the session) and a key (the resource or Request-Tag). Everything a peer
 * can make us hold is bounded: bytes per body, bytes in total, transfers
 * in total, and idle time; and what one device (all its sessions) and one
 * source address may hold of that. When the total is used up, room is
 * made by dropping a transfer of the device that holds the most, if it
 * holds more than the one asking would. Pure: no I/O; the caller passes
 * the time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block1.h"
#include "holders.h"
#include "util.h"

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
	struct holder	*dev;		/* in t->devs, never NULL */
	struct holder	*src;		/* in t->srcs, never NULL */
};

struct blk_table {
	struct blk_xfer	*head;
	size_t		 max_body;	/* bytes one body may reach */
	size_t		 budget;	/* bytes all transfers may hold */
	size_t		 max_entries;	/* transfers at once */
	uint64_t	 expiry_ms;	/* idle time allowed */
	size_t		 bytes;		/* held now: sum of len */
	size_t		 count;		/* transfers now */
	struct holders	 devs;		/* what each device holds */
	struct holders	 srcs;		/* what each source address holds */
	struct blk_quota dev_q;		/* per device */
	struct blk_quota src_q;		/* per source address */
	size_t		 evicted;	/* transfers dropped to make room */
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
	t->dev_q.bytes = t->dev_q.entries = SIZE_MAX;
	t->src_q = t->dev_q;
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
	holder_charge(&t->devs, x->dev, -(long long)x->len, -1);
	holder_charge(&t->srcs, x->src, -(long long)x->len, -1);
	free(x->data);
	free(x);
}

/* The link to x, which is in the table. */
static struct blk_xfer **
blk_link(struct blk_table *t, const struct blk_xfer *x)
{
	struct blk_xfer	**pp;

	for (pp = &t->head; *pp != x; pp = &(*pp)->next)
		;
	return pp;
}

/*
 * The link to a transfer of holder h (a device holder when src is 0)
 * other than keep: the least recently seen one, or with largest set the
 * one holding the most bytes. NULL when h holds no other.
 */
static struct blk_xfer **
blk_pick(struct blk_table *t, const struct holder *h, int src,
    const struct blk_xfer *keep, int largest)
{
	struct blk_xfer	**pp, **best = NULL;

	for (pp = &t->head; *pp != NULL; pp = &(*pp)->next) {
		const struct blk_xfer *x = *pp;

		if (x == keep || (src ? x->src : x->dev) != h)
			continue;
		if (best == NULL || (largest ? x->len > (*best)->len :
		    x->seen_ms < (*best)->seen_ms))
			best = pp;
	}
	return best;
}

/* Drop *pp to make room for another transfer. */
static void
blk_evict(struct blk_table *t, struct blk_xfer **pp)
{
	blk_unlink(t, pp);
	t->evicted++;
}

/*
 * Keep holder h (of x) within its quota q once add more bytes come:
 * drop h's least recently seen transfers other than x. -1 when x alone
 * is over it.
 */
static int
blk_quota_room(struct blk_table *t, struct blk_xfer *x, int src,
    size_t add)
{
	const struct blk_quota	*q = src ? &t->src_q : &t->dev_q;
	struct holder		*h = src ? x->src : x->dev;
	struct blk_xfer		**pp;

	while (!blk_fits(h->bytes, add, q->bytes) || h->count > q->entries) {
		if ((pp = blk_pick(t, h, src, x, 0)) == NULL)
			return -1;
		blk_evict(t, pp);
	}
	return 0;
}

/*
 * Make room in the whole table for add more bytes of x (x is counted in
 * t->count already). The largest device (holders.h: the most uploads
 * open, then the most bytes) loses its largest transfer, but only while
 * it is larger than x's device would be: a device cannot push out others
 * to grow past them. -1 when no room can be made.
 */
static int
blk_room(struct blk_table *t, struct blk_xfer *x, size_t add)
{
	struct holder	*big;
	struct blk_xfer	**pp;

	while (t->count > t->max_entries ||
	    !blk_fits(t->bytes, add, t->budget)) {
		big = holder_largest(&t->devs);
		if (big == NULL || big == x->dev ||
		    !holder_larger(big, x->dev, add) ||
		    (pp = blk_pick(t, big, 0, x, 1)) == NULL)
			return -1;
		blk_evict(t, pp);
	}
	return 0;
}

/*
 * Room for add more bytes of x: its device's and its source's quotas,
 * then the whole table. 0, or -1 when there is none.
 */
static int
blk_make_room(struct blk_table *t, struct blk_xfer *x, size_t add)
{
	if (blk_quota_room(t, x, 0, add) == -1 ||
	    blk_quota_room(t, x, 1, add) == -1)
		return -1;
	return blk_room(t, x, add);
}

/* See block1.h. */
void
blk_table_set_limits(struct blk_table *t, size_t max_body, size_t budget,
    size_t max_entries)
{
	struct blk_xfer	**pp = &t->head;
	struct holder	*big;

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
	    (big = holder_largest(&t->devs)) != NULL &&
	    (pp = blk_pick(t, big, 0, NULL, 1)) != NULL)
		blk_unlink(t, pp);
}

/* A holder of hs over quota q, or NULL. */
static struct holder *
blk_over(const struct holders *hs, const struct blk_quota *q)
{
	struct holder *h;

	for (h = hs->head; h != NULL; h = h->next)
		if (h->bytes > q->bytes || h->count > q->entries)
			return h;
	return NULL;
}

/*
 * See block1.h. Lowered quotas hold at once: a holder over its quota
 * loses its least recently seen transfers.
 */
void
blk_table_set_quotas(struct blk_table *t, const struct blk_quota *dev,
    const struct blk_quota *src)
{
	struct holder	*h;
	struct blk_xfer	**pp;

	t->dev_q = *dev;
	t->src_q = *src;
	while ((h = blk_over(&t->devs, &t->dev_q)) != NULL &&
	    (pp = blk_pick(t, h, 0, NULL, 0)) != NULL)
		blk_unlink(t, pp);
	while ((h = blk_over(&t->srcs, &t->src_q)) != NULL &&
	    (pp = blk_pick(t, h, 1, NULL, 0)) != NULL)
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
	holders_clear(&t->devs);
	holders_clear(&t->srcs);
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
	holder_charge(&t->devs, x->dev, (long long)len, 0);
	holder_charge(&t->srcs, x->src, (long long)len, 0);
	return 0;
}

/*
 * A new empty transfer of who, counted in the table and by its holders
 * (so that they stay while room is made for it). NULL when out of memory.
 */
static struct blk_xfer *
blk_new(struct blk_table *t, const void *owner, uintptr_t key,
    const struct blk_who *who, uint64_t now_ms)
{
	struct blk_xfer	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->dev = holder_get(&t->devs, who != NULL ? who->dev : NULL,
	    who != NULL ? who->devlen : 0);
	if (x->dev != NULL)
		holder_charge(&t->devs, x->dev, 0, 1);
	x->src = holder_get(&t->srcs, who != NULL ? who->src : NULL,
	    who != NULL ? who->srclen : 0);
	if (x->src != NULL)
		holder_charge(&t->srcs, x->src, 0, 1);
	if (x->dev == NULL || x->src == NULL) {
		if (x->dev != NULL)
			holder_charge(&t->devs, x->dev, 0, -1);
		if (x->src != NULL)
			holder_charge(&t->srcs, x->src, 0, -1);
		free(x);
		return NULL;
	}
	x->owner = owner;
	x->key = key;
	x->seen_ms = now_ms;
	x->next = t->head;
	t->head = x;
	t->count++;
	return x;
}

/*
 * Start a transfer with block 0 (m = 1). Any transfer with the same
 * (owner, key) was dropped by the caller: RFC 7959 2.5 lets a new
 * sequence replace the old one.
 */
static enum blk_result
blk_start(struct blk_table *t, const void *owner, uintptr_t key,
    const struct blk_who *who, const uint8_t *data, size_t len,
    uint64_t now_ms)
{
	struct blk_xfer	*x;

	if (t->count >= t->max_entries)
		blk_expire(t, now_ms);
	if ((x = blk_new(t, owner, key, who, now_ms)) == NULL)
		return BLK_NOMEM;
	if (blk_make_room(t, x, len) == -1 ||
	    blk_append(t, x, data, len) == -1) {
		blk_unlink(t, blk_link(t, x));
		return BLK_NOMEM;
	}
	return BLK_CONTINUE;
}

/* See block1.h. */
enum blk_result
blk_add(struct blk_table *t, const void *owner, uintptr_t key, uint32_t num,
    int m, unsigned szx, const uint8_t *data, size_t len, uint64_t now_ms,
    uint8_t **body, size_t *bodylen)
{
	return blk_add_from(t, owner, key, NULL, num, m, szx, data, len,
	    now_ms, body, bodylen);
}

/*
 * Block 0: the same bytes while we hold only block 0 are a
 * retransmission. Otherwise block 0 is a new sequence, which replaces the
 * old one (RFC 7959 2.5) even when its first block looks like the old
 * one's: a second CSR from the same device often starts with the same
 * bytes. pp: the transfer held, or NULL.
 */
static enum blk_result
blk_add_first(struct blk_table *t, struct blk_xfer **pp, const void *owner,
    uintptr_t key, const struct blk_who *who, int m, const uint8_t *data,
    size_t len, uint64_t now_ms, uint8_t **body, size_t *bodylen)
{
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
		return blk_start(t, owner, key, who, data, len, now_ms);
	if ((*body = blk_copy(data, len)) == NULL)
		return BLK_NOMEM;
	*bodylen = len;
	return BLK_COMPLETE;
}

/* The last block appended: hand the body over, forget the transfer. */
static enum blk_result
blk_add_last(struct blk_table *t, struct blk_xfer **pp, const uint8_t *data,
    size_t len, uint8_t **body, size_t *bodylen)
{
	struct blk_xfer	*x = *pp;

	if (blk_append(t, x, data, len) == -1) {
		blk_unlink(t, pp);
		return BLK_NOMEM;
	}
	*body = x->data;
	*bodylen = x->len;
	x->data = NULL;
	blk_unlink(t, pp);
	if (*body == NULL && (*body = malloc(1)) == NULL)
		return BLK_NOMEM;
	return BLK_COMPLETE;
}

/* A block after block 0 of the transfer at pp, at byte offset off. */
static enum blk_result
blk_add_next(struct blk_table *t, struct blk_xfer **pp, uint64_t off, int m,
    const uint8_t *data, size_t len, uint64_t now_ms, uint8_t **body,
    size_t *bodylen)
{
	struct blk_xfer	*x = *pp;

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
	if (!m)
		return blk_add_last(t, pp, data, len, body, bodylen);
	/* making room may drop others: pp is found again */
	if (blk_make_room(t, x, len) == -1 ||
	    blk_append(t, x, data, len) == -1) {
		blk_unlink(t, blk_link(t, x));
		return BLK_NOMEM;
	}
	x->seen_ms = now_ms;
	return BLK_CONTINUE;
}

/*
 * Add one Block1 block; see block1.h. Order of checks: block shape
 * (BLK_BAD), then where the block sits against what we hold (restart,
 * BLK_GAP, BLK_DUPLICATE), then limits (BLK_TOO_LARGE, BLK_NOMEM).
 * The budget and the quotas count bytes the table keeps between calls,
 * so they are not charged for a final block, whose body leaves the table
 * at once.
 */
enum blk_result
blk_add_from(struct blk_table *t, const void *owner, uintptr_t key,
    const struct blk_who *who, uint32_t num, int m, unsigned szx,
    const uint8_t *data, size_t len, uint64_t now_ms, uint8_t **body,
    size_t *bodylen)
{
	struct blk_xfer	**pp;
	size_t		 size;

	*body = NULL;
	*bodylen = 0;
	if (szx > BLK_SZX_MAX)
		return BLK_BAD;
	size = (size_t)1 << (szx + 4);
	/* RFC 7959 2.2: only the last block may be shorter. */
	if (len > size || (m && len != size))
		return BLK_BAD;

	pp = blk_find(t, owner, key);
	if (pp != NULL && blk_idle(t, *pp, now_ms)) {
		blk_unlink(t, pp);
		pp = NULL;
	}
	if (num == 0)
		return blk_add_first(t, pp, owner, key, who, m, data, len,
		    now_ms, body, bodylen);
	if (pp == NULL)
		return BLK_GAP;
	return blk_add_next(t, pp, (uint64_t)num * size, m, data, len, now_ms,
	    body, bodylen);
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

/* See block1.h. */
size_t
blk_evicted(const struct blk_table *t)
{
	return t->evicted;
}

/* See block1.h. */
uintptr_t
blk_key(const void *route, const uint8_t *tag, size_t taglen)
{
	uint64_t h = mix64((uint64_t)(uintptr_t)route);

	if (tag == NULL)
		return (uintptr_t)h;
	/* "no tag" and an empty tag are two uploads (RFC 9175 3.2) */
	h = mix64(h ^ 0x5254u ^ ((uint64_t)taglen << 32));
	for (size_t i = 0; i < taglen; i++)
		h = mix64(h ^ tag[i]);
	return (uintptr_t)h;
}
