/*
 * A hash of request records by a short byte key: (DTLS session, token)
 * for recognising a retransmitted request (RFC 7252 4.5, 5.3.1), or a
 * request digest for finding the identical request already on its way
 * upstream. Intrusive: a record embeds a struct pend_ent and the table
 * never allocates per entry, so a lookup costs one hash and a short
 * chain, whatever the number of pending requests. The bucket hash is
 * keyed with a random seed: tokens and bodies come from devices. Pure:
 * no I/O, no libcoap.
 */
#ifndef ESTCOAPD_PENDING_H
#define ESTCOAPD_PENDING_H

#include <stddef.h>
#include <stdint.h>

/* Longest key: a pointer and an 8-byte token, or a 32-byte digest + 8. */
#define PEND_KEY_MAX	40

/* Embedded in a record; the table links it, the caller owns it. */
struct pend_ent {
	struct pend_ent	*chain;		/* next in the same bucket */
	uint64_t	 hash;		/* of key, with the table's seed */
	size_t		 klen;
	uint8_t		 key[PEND_KEY_MAX];
	int		 linked;	/* in a table now */
};

struct pend_table;

/* An empty table; NULL when out of memory. */
struct pend_table *pend_table_new(void);

/* Free the table; the entries are the caller's (unlink them first). */
void		 pend_table_free(struct pend_table *);

/*
 * Set e's key from parts: a pointer value (e.g. the session) and up to
 * PEND_KEY_MAX - sizeof(void *) bytes (e.g. the token). -1 if too long.
 */
int		 pend_key(struct pend_ent *e, const void *ptr,
		    const uint8_t *bytes, size_t len);

/* Link e (its key set) in; several entries may share a key. */
void		 pend_insert(struct pend_table *, struct pend_ent *e);

/* Unlink e; nothing if it is not linked. */
void		 pend_remove(struct pend_table *, struct pend_ent *e);

/*
 * The most recently inserted entry whose key equals probe's, or NULL;
 * with skip set, the next one after skip in the same chain.
 */
struct pend_ent *pend_find(const struct pend_table *,
		    const struct pend_ent *probe, const struct pend_ent *skip);

/* Entries linked now. */
size_t		 pend_count(const struct pend_table *);

#endif
