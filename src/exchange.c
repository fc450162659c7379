/*
 * Completed exchanges (RFC 7252 §4.5; doc/conformance.md cases 47, 48):
 * the answer a device got, kept under a SHA-256 key of its request for
 * EXCHANGE_LIFETIME, so a late retransmission or an identical retry is
 * answered from memory. A
 * chained hash table finds an entry; a doubly linked list in insertion
 * order (oldest first) drives expiry and eviction. Entries and payload
 * bytes are both capped. Pure: no I/O, the caller passes the time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "csr.h"
#include "exchange.h"
#include "util.h"

/* Buckets a new table starts with; it doubles as entries arrive. */
#define XCH_BUCKETS_MIN	16

/* Bucket seed used only if the RNG fails; collisions become guessable. */
#define XCH_SEED_FALLBACK	0x9e3779b97f4a7c15ULL

/* One stored answer; the payload follows the struct in one allocation. */
struct xch_entry {
	struct xch_entry	*chain;		/* next in the same bucket */
	struct xch_entry	*older;		/* towards t->oldest */
	struct xch_entry	*newer;		/* towards t->newest */
	uint64_t		 stored_ms;	/* the put's now_ms */
	int			 secret;	/* wipe data[] before free */
	struct xch_answer	 ans;		/* ans.payload == data */
	uint8_t			 key[XCH_KEY_LEN];
	uint8_t			 data[];	/* ans.len bytes */
};

struct xch_table {
	struct xch_entry	**buckets;
	size_t			 nbuckets;	/* a power of two */
	struct xch_entry	*oldest;	/* evicted and expired first */
	struct xch_entry	*newest;
	size_t			 count;		/* <= max_entries */
	size_t			 bytes;		/* sum of ans.len */
	size_t			 max_entries;
	size_t			 max_bytes;
	uint64_t		 lifetime_ms;
	uint64_t		 seed;		/* keys the bucket hash */
};

/* Keys handed out when hashing fails; each one is used once. */
static uint64_t	xch_key_failures;

/* Write v as 8 bytes big-endian. */
static void
xch_be64(uint8_t out[8], uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Read 8 bytes as a big-endian number. */
static uint64_t
xch_load64(const uint8_t in[8])
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* Feed one part to the digest: its length as 8 bytes big-endian, then it. */
static int
xch_key_part(EVP_MD_CTX *ctx, const void *p, size_t len)
{
	uint8_t	 be[8];

	xch_be64(be, (uint64_t)len);
	if (EVP_DigestUpdate(ctx, be, sizeof(be)) != 1)
		return -1;
	if (len > 0 && EVP_DigestUpdate(ctx, p, len) != 1)
		return -1;
	return 0;
}

/*
 * Compute the key of a request. Each part goes in with its length in
 * front, so moving bytes from one part to the next changes the key. If a
 * key cannot be computed (a NULL pointer with a length, or a digest
 * failure) the result is a key that no other call returns, so the request
 * misses the cache and is handled afresh instead of being answered with
 * somebody else's answer.
 */
void
xch_key(uint8_t key[XCH_KEY_LEN], const uint8_t *peer_cert, size_t peer_len,
    const char *op, const char *label, unsigned resp_cf, const uint8_t *body,
    size_t body_len)
{
	EVP_MD_CTX	*ctx;
	uint8_t		 cf[4];
	unsigned int	 mdlen;

	if ((peer_cert == NULL && peer_len > 0) ||
	    (body == NULL && body_len > 0))
		goto unique;
	if (op == NULL)
		op = "";
	if (label == NULL)
		label = "";
	cf[0] = (uint8_t)(resp_cf >> 24);
	cf[1] = (uint8_t)(resp_cf >> 16);
	cf[2] = (uint8_t)(resp_cf >> 8);
	cf[3] = (uint8_t)resp_cf;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    xch_key_part(ctx, peer_cert, peer_len) == -1 ||
	    xch_key_part(ctx, op, strlen(op)) == -1 ||
	    xch_key_part(ctx, label, strlen(label)) == -1 ||
	    xch_key_part(ctx, cf, sizeof(cf)) == -1 ||
	    xch_key_part(ctx, body, body_len) == -1 ||
	    EVP_DigestFinal_ex(ctx, key, &mdlen) != 1 ||
	    mdlen != XCH_KEY_LEN)
		goto fail_ctx;
	EVP_MD_CTX_free(ctx);
	return;

fail_ctx:
	EVP_MD_CTX_free(ctx);
fail:
	/* No logger here: drop the error so it does not surface later. */
	ERR_clear_error();
unique:
	/*
	 * 0xff... with a counter in the last 8 bytes: distinct from every
	 * other failure key, and a SHA-256 output nobody can aim at.
	 */
	memset(key, 0xff, XCH_KEY_LEN);
	xch_be64(key + XCH_KEY_LEN - 8, xch_key_failures++);
}

/* See exchange.h. */
void
xch_key_pub(uint8_t key[XCH_KEY_LEN], const uint8_t *peer_cert,
    size_t peer_len, const char *op, const char *label, unsigned resp_cf,
    EVP_PKEY *pub)
{
	unsigned char	*spki = NULL;
	int		 n = 0;

	if (pub != NULL && (n = csr_key_spki(pub, &spki)) <= 0) {
		/* a key that cannot be encoded: a key no other call gets */
		xch_key(key, NULL, 1, op, label, resp_cf, NULL, 0);
		return;
	}
	xch_key(key, peer_cert, peer_len, op, label, resp_cf, spki,
	    (size_t)n);
	OPENSSL_free(spki);
}

/*
 * The bucket of key. Keys are SHA-256 outputs, but a client can grind
 * request bodies until their keys share low bits; the secret seed means
 * it cannot know which bits to aim for.
 */
static size_t
xch_slot(const struct xch_table *t, const uint8_t key[XCH_KEY_LEN])
{
	uint64_t	 h = t->seed;
	size_t		 i;

	for (i = 0; i < XCH_KEY_LEN; i += 8)
		h = mix64(h ^ xch_load64(key + i));
	return (size_t)h & (t->nbuckets - 1);
}

/* Has e outlived the table's lifetime at now_ms? */
static int
xch_expired(const struct xch_table *t, const struct xch_entry *e,
    uint64_t now_ms)
{
	uint64_t	 age;

	/* A clock that stepped back makes an entry young, not ancient. */
	age = now_ms > e->stored_ms ? now_ms - e->stored_ms : 0;
	return age >= t->lifetime_ms;
}

/* The entry stored under key, expired or not, or NULL. */
static struct xch_entry *
xch_find(const struct xch_table *t, const uint8_t key[XCH_KEY_LEN])
{
	struct xch_entry	*e;

	for (e = t->buckets[xch_slot(t, key)]; e != NULL; e = e->chain)
		if (CRYPTO_memcmp(e->key, key, XCH_KEY_LEN) == 0)
			return e;
	return NULL;
}

/* Free one entry, wiping its payload first if it holds key material. */
static void
xch_entry_free(struct xch_entry *e)
{
	if (e->secret)
		OPENSSL_cleanse(e->data, e->ans.len);
	free(e);
}

/* Unlink e from its bucket and from the age list, then free it. */
static void
xch_drop(struct xch_table *t, struct xch_entry *e)
{
	struct xch_entry	**pp;

	for (pp = &t->buckets[xch_slot(t, e->key)]; *pp != e;
	    pp = &(*pp)->chain)
		;
	*pp = e->chain;

	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		t->newest = e->older;

	t->count--;
	t->bytes -= e->ans.len;
	xch_entry_free(e);
}

/*
 * Double the buckets once there are more entries than buckets, so chains
 * stay short on average. Since count <= max_entries, there are never more
 * than twice max_entries buckets. If memory is short the table keeps its
 * buckets: lookups get slower, nothing breaks.
 */
static void
xch_grow(struct xch_table *t)
{
	struct xch_entry	**nb, *e;
	size_t			 n, slot;

	if (t->count <= t->nbuckets ||
	    t->nbuckets > SIZE_MAX / 2 / sizeof(*nb))
		return;
	n = t->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	free(t->buckets);
	t->buckets = nb;
	t->nbuckets = n;
	for (e = t->oldest; e != NULL; e = e->newer) {
		slot = xch_slot(t, e->key);
		e->chain = nb[slot];
		nb[slot] = e;
	}
}

/* Link e in as the newest entry; the caller made room for it. */
static void
xch_link(struct xch_table *t, struct xch_entry *e)
{
	size_t	 slot;

	slot = xch_slot(t, e->key);
	e->chain = t->buckets[slot];
	t->buckets[slot] = e;

	e->newer = NULL;
	e->older = t->newest;
	if (t->newest != NULL)
		t->newest->newer = e;
	else
		t->oldest = e;
	t->newest = e;

	t->count++;
	t->bytes += e->ans.len;
	xch_grow(t);
}

/* A new empty table with the given bounds; NULL when out of memory. */
struct xch_table *
xch_table_new(size_t max_entries, size_t max_bytes, uint64_t lifetime_ms)
{
	struct xch_table	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->nbuckets = XCH_BUCKETS_MIN;
	if ((t->buckets = calloc(t->nbuckets, sizeof(*t->buckets))) == NULL) {
		free(t);
		return NULL;
	}
	t->max_entries = max_entries;
	t->max_bytes = max_bytes;
	t->lifetime_ms = lifetime_ms;
	t->seed = seed64(XCH_SEED_FALLBACK);
	return t;
}

/* Free the table and every entry in it, wiping the secret ones. */
void
xch_table_free(struct xch_table *t)
{
	struct xch_entry	*e, *next;

	if (t == NULL)
		return;
	for (e = t->oldest; e != NULL; e = next) {
		next = e->newer;
		xch_entry_free(e);
	}
	free(t->buckets);
	free(t);
}

/*
 * Store a copy of the answer as the newest entry; see exchange.h. Every
 * check that can refuse runs before the table is touched, so a refused
 * put leaves it exactly as it was, including an older answer for the same
 * key. After the allocation nothing can fail.
 */
int
xch_put(struct xch_table *t, const uint8_t key[XCH_KEY_LEN],
    const struct xch_answer *a, int secret, uint64_t now_ms)
{
	struct xch_entry	*e, *old;

	if (a == NULL || (a->payload == NULL && a->len > 0))
		return -1;
	if (t->max_entries == 0 || a->len > t->max_bytes)
		return -1;
	if (a->len > SIZE_MAX - sizeof(*e))
		return -1;
	if ((e = malloc(sizeof(*e) + a->len)) == NULL)
		return -1;
	memcpy(e->key, key, XCH_KEY_LEN);
	e->stored_ms = now_ms;
	e->secret = secret != 0;
	e->ans = *a;
	e->ans.payload = e->data;
	if (a->len > 0)
		memcpy(e->data, a->payload, a->len);

	if ((old = xch_find(t, key)) != NULL)
		xch_drop(t, old);
	/* Expired entries make room before any live one is evicted. */
	xch_expire(t, now_ms);
	/* len <= max_bytes, so the subtraction cannot wrap. */
	while (t->count >= t->max_entries ||
	    t->bytes > t->max_bytes - a->len)
		xch_drop(t, t->oldest);
	xch_link(t, e);
	return 0;
}

/*
 * The live answer for key, or NULL. An expired entry is dropped here
 * rather than returned. The pointer is valid until the next put, expire
 * or free.
 */
const struct xch_answer *
xch_get(struct xch_table *t, const uint8_t key[XCH_KEY_LEN], uint64_t now_ms)
{
	struct xch_entry	*e;

	if ((e = xch_find(t, key)) == NULL)
		return NULL;
	if (xch_expired(t, e, now_ms)) {
		xch_drop(t, e);
		return NULL;
	}
	return &e->ans;
}

/*
 * Drop expired entries, oldest first, stopping at the first live one.
 * With a clock that never steps back that is all of them; otherwise a
 * straggler is dropped by xch_get or evicted in turn.
 */
void
xch_expire(struct xch_table *t, uint64_t now_ms)
{
	while (t->oldest != NULL && xch_expired(t, t->oldest, now_ms))
		xch_drop(t, t->oldest);
}

/* Entries held now. */
size_t
xch_count(const struct xch_table *t)
{
	return t->count;
}

/* Payload bytes held now. */
size_t
xch_bytes(const struct xch_table *t)
{
	return t->bytes;
}
