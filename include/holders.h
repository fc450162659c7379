/*
 * What each holder (a device identity, a source address) holds of a
 * shared resource: bytes and entries, so that one holder can be held to a
 * quota and the largest found when room is needed. A short list: holders
 * exist only while they hold something, and the caller bounds how many
 * entries there are in all. Pure: no I/O.
 */
#ifndef ESTCOAPD_HOLDERS_H
#define ESTCOAPD_HOLDERS_H

#include <stddef.h>
#include <stdint.h>

/* Longest identity: a SHA-256 certificate fingerprint. */
#define HOLDER_ID_MAX	32

struct holder {
	struct holder	*next;
	size_t		 bytes;		/* held now */
	size_t		 count;		/* entries held now */
	uint8_t		 len;
	uint8_t		 id[HOLDER_ID_MAX];
};

struct holders {
	struct holder	*head;
	size_t		 n;		/* holders now */
};

/*
 * The holder of id (len <= HOLDER_ID_MAX, longer ids are cut), made with
 * nothing held if new; NULL when out of memory.
 */
struct holder	*holder_get(struct holders *, const void *id, size_t len);

/* Add (or, negative, take back) bytes and entries; a holder left with
 * nothing is freed. */
void		 holder_charge(struct holders *, struct holder *,
		    long long bytes, int count);

/*
 * Does a hold more than b would with add more bytes? More entries first
 * (a device with many uploads open is the larger), then more bytes.
 */
int		 holder_larger(const struct holder *a, const struct holder *b,
		    size_t add);

/* The largest holder by that order; NULL if none. */
struct holder	*holder_largest(const struct holders *);

/* Free every holder. */
void		 holders_clear(struct holders *);

#endif
