/*
 * Per-holder accounting of bytes and entries: see holders.h.
 */
#include <stdlib.h>
#include <string.h>

#include "holders.h"

/* See holders.h. */
struct holder *
holder_get(struct holders *hs, const void *id, size_t len)
{
	struct holder *h;

	if (len > HOLDER_ID_MAX)
		len = HOLDER_ID_MAX;
	for (h = hs->head; h != NULL; h = h->next)
		if (h->len == len && (len == 0 || memcmp(h->id, id, len) == 0))
			return h;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->len = (uint8_t)len;
	if (len > 0)
		memcpy(h->id, id, len);
	h->next = hs->head;
	hs->head = h;
	hs->n++;
	return h;
}

/* See holders.h. */
void
holder_charge(struct holders *hs, struct holder *h, long long bytes,
    int count)
{
	struct holder **pp;

	if (bytes < 0 && (size_t)-bytes > h->bytes)
		h->bytes = 0;
	else
		h->bytes += (size_t)bytes;
	if (count < 0 && (size_t)-count > h->count)
		h->count = 0;
	else
		h->count += (size_t)count;
	if (h->bytes != 0 || h->count != 0)
		return;
	for (pp = &hs->head; *pp != NULL; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			hs->n--;
			free(h);
			return;
		}
}

/* See holders.h. */
int
holder_larger(const struct holder *a, const struct holder *b, size_t add)
{
	if (a->count != b->count)
		return a->count > b->count;
	return a->bytes > b->bytes && a->bytes - b->bytes > add;
}

/* See holders.h. */
struct holder *
holder_largest(const struct holders *hs)
{
	struct holder *h, *big = NULL;

	for (h = hs->head; h != NULL; h = h->next)
		if (big == NULL || holder_larger(h, big, 0))
			big = h;
	return big;
}

/* See holders.h. */
void
holders_clear(struct holders *hs)
{
	struct holder *h;

	while ((h = hs->head) != NULL) {
		hs->head = h->next;
		free(h);
	}
	hs->n = 0;
}
