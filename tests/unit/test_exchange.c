/*
 * Unit tests for exchange: the request key, and the completed-exchange
 * table with its bounds, expiry, eviction order and the wiping of secret
 * answers. Most table tests are a script of puts, gets and expiries with
 * what each must yield; a long random run is checked against a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include "exchange.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define LIFE		247000		/* EXCHANGE_LIFETIME in ms */
#define FOREVER		UINT64_MAX

/*
 * Seeing the wipe. This definition replaces libcrypto's OPENSSL_cleanse
 * in the test binary (an executable's symbol wins over a shared
 * library's). It copies the start of what it is asked to wipe into a log,
 * then wipes it. A test can then check that a secret payload was wiped
 * while still intact, without keeping a pointer into freed memory.
 * libcrypto's own calls land here too; they only add unrelated records.
 */
#define WIPE_LOG	512
#define WIPE_HEAD	64

static struct {
	size_t		 len;
	uint8_t		 head[WIPE_HEAD];	/* start, before the wipe */
} wipes[WIPE_LOG];
static size_t	 nwipes;

/* Record what is about to be wiped, then wipe it. */
void
OPENSSL_cleanse(void *ptr, size_t len)
{
	volatile uint8_t	*p = ptr;
	size_t			 i;

	if (nwipes < WIPE_LOG) {
		wipes[nwipes].len = len;
		if (len > 0)
			memcpy(wipes[nwipes].head, ptr,
			    len < WIPE_HEAD ? len : WIPE_HEAD);
		nwipes++;
	}
	for (i = 0; i < len; i++)
		p[i] = 0;
}

/* Was a buffer of len bytes starting with data[] wiped since the reset? */
static int
wiped(const uint8_t *data, size_t len)
{
	size_t	 i;

	for (i = 0; i < nwipes && i < WIPE_LOG; i++)
		if (wipes[i].len == len && memcmp(wipes[i].head, data,
		    len < WIPE_HEAD ? len : WIPE_HEAD) == 0)
			return 1;
	return 0;
}

/* Key number n: distinct for distinct n, not a hash on purpose. */
static void
keyn(uint8_t key[XCH_KEY_LEN], unsigned n)
{
	size_t	 i;

	for (i = 0; i < XCH_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 29);
	key[0] = (uint8_t)(n >> 24);
	key[1] = (uint8_t)(n >> 16);
	key[2] = (uint8_t)(n >> 8);
	key[3] = (uint8_t)n;
}

/* Fill buf with bytes that depend on seed, so a mixed-up payload shows. */
static void
fill(uint8_t *buf, size_t len, unsigned seed)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* The answer the scripts store under seed: fields and payload follow it. */
static void
answer(struct xch_answer *a, uint8_t *buf, size_t len, unsigned seed)
{
	fill(buf, len, seed);
	memset(a, 0, sizeof(*a));
	a->code = (seed * 7) & 0xff;
	a->cf = (int)(seed % 1000);
	a->max_age = (int)(seed % 77);
	a->payload = len > 0 ? buf : NULL;
	a->len = len;
}

/* Check that got is the answer stored under seed with len bytes. */
static void
check_answer(const struct xch_answer *got, size_t len, unsigned seed)
{
	struct xch_answer	 want;
	uint8_t			*buf;

	assert_non_null(got);
	assert_non_null(buf = malloc(len > 0 ? len : 1));
	answer(&want, buf, len, seed);
	assert_int_equal(got->code, want.code);
	assert_int_equal(got->cf, want.cf);
	assert_int_equal(got->max_age, want.max_age);
	assert_int_equal(got->len, len);
	assert_non_null(got->payload);		/* even for len 0 */
	if (len > 0)
		assert_memory_equal(got->payload, buf, len);
	free(buf);
}

/* Store the script answer for key number k with len bytes. */
static int
put_n(struct xch_table *t, unsigned k, size_t len, int secret, uint64_t now)
{
	struct xch_answer	 a;
	uint8_t			 key[XCH_KEY_LEN];
	uint8_t			*buf;
	int			 rc;

	keyn(key, k);
	assert_non_null(buf = malloc(len > 0 ? len : 1));
	answer(&a, buf, len, k * 1000 + (unsigned)len);
	rc = xch_put(t, key, &a, secret, now);
	free(buf);
	return rc;
}

/* Look up key number k. */
static const struct xch_answer *
get_n(struct xch_table *t, unsigned k, uint64_t now)
{
	uint8_t	 key[XCH_KEY_LEN];

	keyn(key, k);
	return xch_get(t, key, now);
}

/* The exchange an answer came from is kept with it, for the audit. */
static void
test_xch_origin(void **state)
{
	struct xch_table	*t;
	struct xch_answer	 a;
	const struct xch_answer	*got;
	uint8_t			 key[XCH_KEY_LEN], buf[16];

	(void)state;
	assert_non_null(t = xch_table_new(4, 1024, 247000));
	answer(&a, buf, sizeof(buf), 9);
	a.origin_req = 4711;
	a.origin_ms = 1796000000123ULL;
	snprintf(a.origin_serial, sizeof(a.origin_serial), "5E7BF1E6");
	keyn(key, 1);
	assert_int_equal(xch_put(t, key, &a, 0, 1000), 0);
	memset(&a, 0, sizeof(a));
	assert_non_null(got = xch_get(t, key, 2000));
	check_answer(got, sizeof(buf), 9);
	assert_int_equal(got->origin_req, 4711);
	assert_int_equal(got->origin_ms, 1796000000123ULL);
	assert_string_equal(got->origin_serial, "5E7BF1E6");
	xch_table_free(t);
}

/* ---- xch_key ---- */

/* The parts of a request key; peer and body carry explicit lengths. */
struct parts {
	const char	*peer;
	size_t		 peer_len;
	const char	*op;
	const char	*label;
	unsigned	 cf;
	const char	*body;
	size_t		 body_len;
};

#define B(s)	(s), (sizeof(s) - 1)

/* Every row must give a key different from every other row. */
static const struct parts distinct[] = {
	{ B(""),	"",	"",	0,	B("") },
	{ B("\0"),	"",	"",	0,	B("") },	/* 1 byte, 0 */
	{ B(""),	"",	"",	0,	B("\0") },
	{ B("ab"),	"c",	"",	0,	B("") },	/* peer|op */
	{ B("a"),	"bc",	"",	0,	B("") },
	{ B(""),	"ab",	"",	0,	B("") },	/* op|label */
	{ B(""),	"a",	"b",	0,	B("") },
	{ B(""),	"",	"ab",	0,	B("") },
	{ B(""),	"",	"a",	0,	B("b") },	/* label|body */
	{ B(""),	"",	"",	0,	B("ab") },
	{ B("abc"),	"",	"",	0,	B("") },	/* moved */
	{ B(""),	"",	"abc",	0,	B("") },
	{ B(""),	"",	"",	0,	B("abc") },
	{ B("cert"),	"sen",	"",	281,	B("csr") },
	{ B("cert"),	"sen",	"",	287,	B("csr") },	/* cf */
	{ B("cert"),	"sen",	"",	0x01000119, B("csr") },	/* high byte */
	{ B("cert"),	"sren",	"",	281,	B("csr") },	/* op */
	{ B("cert"),	"sen",	"arbitrary", 281, B("csr") },	/* label */
	{ B("cert"),	"sen",	"",	281,	B("csR") },	/* body */
	{ B("cerT"),	"sen",	"",	281,	B("csr") },	/* peer */
};

/* Key of a parts row. */
static void
key_of(uint8_t key[XCH_KEY_LEN], const struct parts *p)
{
	xch_key(key, (const uint8_t *)p->peer, p->peer_len, p->op, p->label,
	    p->cf, (const uint8_t *)p->body, p->body_len);
}

/* Different parts, including the same bytes split differently, differ. */
static void
test_xch_key_distinct(void **state)
{
	uint8_t	 keys[NELEM(distinct)][XCH_KEY_LEN];
	size_t	 i, j;

	(void)state;
	for (i = 0; i < NELEM(distinct); i++)
		key_of(keys[i], &distinct[i]);
	for (i = 0; i < NELEM(distinct); i++)
		for (j = i + 1; j < NELEM(distinct); j++)
			if (memcmp(keys[i], keys[j], XCH_KEY_LEN) == 0)
				fail_msg("rows %zu and %zu share a key", i, j);
}

/* Known answers, computed independently (Python hashlib) from the spec. */
static const struct {
	struct parts	 p;
	const char	*hex;
} kat[] = {
	{ { B("\x30\x82\x01\x0a"), "sen", "", 281, B("csr-bytes") },
	  "a292027ab4cff4d7e76ec24b171bcb87eafebf329ed87211a71e22fd98989d08" },
	{ { B(""), "", "", 0, B("") },
	  "8b0139f89b70a7792fedf969e5c31c89d6849e02049f1da488b8816acc951d2e" },
	{ { B("\x30\x82\x01\x0a"), "skg", "lbl", 62, B("\x00\x01") },
	  "3d5b5a84d3565db1515d85a0adc658d53bab418085fb3ac4b9cd8d5548cafb34" },
};

/* The encoding is pinned: 8-byte big-endian lengths, cf as 4 bytes. */
static void
test_xch_key_known(void **state)
{
	uint8_t	 key[XCH_KEY_LEN];
	char	 hex[2 * XCH_KEY_LEN + 1];
	size_t	 i, j;

	(void)state;
	for (i = 0; i < NELEM(kat); i++) {
		key_of(key, &kat[i].p);
		for (j = 0; j < XCH_KEY_LEN; j++)
			snprintf(hex + 2 * j, 3, "%02x", key[j]);
		assert_string_equal(hex, kat[i].hex);
	}
}

/* Same parts give the same key; NULL strings and buffers count as empty. */
static void
test_xch_key_same(void **state)
{
	static const uint8_t	 cert[] = { 0x30, 0x82, 0x01, 0x0a };
	uint8_t			 a[XCH_KEY_LEN], b[XCH_KEY_LEN];

	(void)state;
	xch_key(a, cert, sizeof(cert), "sen", "x", 281,
	    (const uint8_t *)"csr", 3);
	xch_key(b, cert, sizeof(cert), "sen", "x", 281,
	    (const uint8_t *)"csr", 3);
	assert_memory_equal(a, b, XCH_KEY_LEN);

	xch_key(a, cert, sizeof(cert), NULL, NULL, 0, NULL, 0);
	xch_key(b, cert, sizeof(cert), "", "", 0, (const uint8_t *)"", 0);
	assert_memory_equal(a, b, XCH_KEY_LEN);

	xch_key(a, NULL, 0, "sen", NULL, 281, NULL, 0);
	xch_key(b, (const uint8_t *)"", 0, "sen", "", 281, NULL, 0);
	assert_memory_equal(a, b, XCH_KEY_LEN);
}

/* A NULL buffer with a length cannot be hashed: its key matches nothing. */
static void
test_xch_key_unusable(void **state)
{
	uint8_t	 empty[XCH_KEY_LEN], a[XCH_KEY_LEN], b[XCH_KEY_LEN];
	uint8_t	 c[XCH_KEY_LEN];

	(void)state;
	xch_key(empty, NULL, 0, NULL, NULL, 0, NULL, 0);
	xch_key(a, NULL, 5, "sen", "", 281, NULL, 0);
	xch_key(b, NULL, 5, "sen", "", 281, NULL, 0);
	xch_key(c, NULL, 0, "sen", "", 281, NULL, 3);
	assert_memory_not_equal(a, b, XCH_KEY_LEN);
	assert_memory_not_equal(a, c, XCH_KEY_LEN);
	assert_memory_not_equal(b, c, XCH_KEY_LEN);
	assert_memory_not_equal(a, empty, XCH_KEY_LEN);
	assert_memory_not_equal(c, empty, XCH_KEY_LEN);
}

/* ---- table: scripts ---- */

enum op {
	PUT,			/* key, len, secret 0: want is the return */
	GET,			/* want 1: hit with len bytes; 0: miss */
	EXPIRE,
};

/* One step of a script and what must hold after it. */
struct step {
	enum op		 op;
	unsigned	 key;		/* key number */
	size_t		 len;		/* PUT: stored; GET: expected */
	uint64_t	 now;
	int		 want;
	size_t		 count;		/* xch_count() after */
	size_t		 bytes;		/* xch_bytes() after */
};

struct script {
	size_t			 max_entries;
	size_t			 max_bytes;
	uint64_t		 lifetime;
	const struct step	*steps;
	size_t			 n;
};

/* A GET step: on a hit the answer must be the one PUT stored with len. */
static void
step_get(struct xch_table *t, const struct step *s)
{
	const struct xch_answer	*a;

	a = get_n(t, s->key, s->now);
	if (!s->want) {
		assert_null(a);
		return;
	}
	check_answer(a, s->len, s->key * 1000 + (unsigned)s->len);
}

/* Run a script (the cmocka state) against a fresh table. */
static void
run_script(void **state)
{
	const struct script	*sc = *state;
	const struct step	*s;
	struct xch_table	*t;
	size_t			 i;

	assert_non_null(t = xch_table_new(sc->max_entries, sc->max_bytes,
	    sc->lifetime));
	for (i = 0; i < sc->n; i++) {
		s = &sc->steps[i];
		switch (s->op) {
		case PUT:
			if (put_n(t, s->key, s->len, 0, s->now) != s->want)
				fail_msg("step %zu: put", i);
			break;
		case GET:
			step_get(t, s);
			break;
		case EXPIRE:
			xch_expire(t, s->now);
			break;
		}
		if (xch_count(t) != s->count || xch_bytes(t) != s->bytes)
			fail_msg("step %zu: count %zu bytes %zu, want %zu %zu",
			    i, xch_count(t), xch_bytes(t), s->count, s->bytes);
	}
	xch_table_free(t);
}

/* Replacing a key swaps the answer and makes it the newest entry. */
static const struct step replace[] = {
	{ PUT, 1, 10,	0,	0,  1, 10 },
	{ PUT, 2, 20,	10,	0,  2, 30 },
	{ PUT, 1, 3,	20,	0,  2, 23 },	/* replaces, k1 now newest */
	{ GET, 1, 3,	20,	1,  2, 23 },
	{ PUT, 3, 5,	30,	0,  2, 8 },	/* full: k2 is the oldest */
	{ GET, 2, 0,	30,	0,  2, 8 },
	{ GET, 1, 3,	1019,	1,  2, 8 },	/* lifetime restarted at 20 */
	{ GET, 1, 3,	1020,	0,  1, 5 },
	{ GET, 3, 5,	1029,	1,  1, 5 },
};

/* Lifetime boundary: now - stored < lifetime hits, == lifetime misses. */
static const struct step lifetime[] = {
	{ PUT, 0, 16,	1000,		0,  1, 16 },
	{ GET, 0, 16,	1000,		1,  1, 16 },
	{ GET, 0, 16,	1000 + LIFE - 1, 1, 1, 16 },
	{ GET, 0, 16,	1000 + LIFE,	0,  0, 0 },	/* and dropped */
	{ GET, 0, 16,	1000,		0,  0, 0 },
	{ PUT, 1, 8,	5000,		0,  1, 8 },
	{ GET, 1, 8,	4000,		1,  1, 8 },	/* clock stepped back */
	{ EXPIRE, 0, 0,	5000 + LIFE - 1, 0, 1, 8 },
	{ EXPIRE, 0, 0,	5000 + LIFE,	0,  0, 0 },
};

/* A lifetime near UINT64_MAX must not wrap into "already expired". */
static const struct step forever[] = {
	{ PUT, 0, 4,	10,		0,  1, 4 },
	{ GET, 0, 4,	UINT64_MAX,	1,  1, 4 },
	{ EXPIRE, 0, 0,	UINT64_MAX,	0,  1, 4 },
};

/* Lifetime 0: stored, but never answers. */
static const struct step instant[] = {
	{ PUT, 0, 4,	5,	0,  1, 4 },
	{ GET, 0, 4,	5,	0,  0, 0 },
};

/* xch_expire drops exactly the expired ones, oldest first. */
static const struct step expire[] = {
	{ PUT, 0, 10,	0,	0,  1, 10 },
	{ PUT, 1, 20,	10,	0,  2, 30 },
	{ PUT, 2, 30,	20,	0,  3, 60 },
	{ PUT, 3, 40,	30,	0,  4, 100 },
	{ EXPIRE, 0, 0,	99,	0,  4, 100 },
	{ EXPIRE, 0, 0,	100,	0,  3, 90 },
	{ GET, 1, 20,	115,	0,  2, 70 },	/* 10 + 100 <= 115 */
	{ GET, 2, 30,	115,	1,  2, 70 },
	{ EXPIRE, 0, 0,	129,	0,  1, 40 },
	{ GET, 3, 40,	129,	1,  1, 40 },
	{ EXPIRE, 0, 0,	130,	0,  0, 0 },
	{ EXPIRE, 0, 0,	1000,	0,  0, 0 },	/* on an empty table */
};

/* At max_entries the oldest goes first. */
static const struct step evict_entries[] = {
	{ PUT, 0, 10,	0,	0,  1, 10 },
	{ PUT, 1, 10,	1,	0,  2, 20 },
	{ PUT, 2, 10,	2,	0,  3, 30 },
	{ PUT, 3, 10,	3,	0,  3, 30 },
	{ PUT, 4, 10,	4,	0,  3, 30 },
	{ GET, 0, 10,	5,	0,  3, 30 },
	{ GET, 1, 10,	5,	0,  3, 30 },
	{ GET, 2, 10,	5,	1,  3, 30 },
	{ GET, 3, 10,	5,	1,  3, 30 },
	{ GET, 4, 10,	5,	1,  3, 30 },
};

/* Several old entries go to make room for one big one, and no more. */
static const struct step evict_bytes[] = {
	{ PUT, 0, 20,	0,	0,  1, 20 },
	{ PUT, 1, 20,	1,	0,  2, 40 },
	{ PUT, 2, 20,	2,	0,  3, 60 },
	{ PUT, 3, 20,	3,	0,  4, 80 },
	{ PUT, 4, 70,	4,	0,  2, 90 },	/* 80 -> 20, then + 70 */
	{ GET, 0, 20,	5,	0,  2, 90 },
	{ GET, 1, 20,	5,	0,  2, 90 },
	{ GET, 2, 20,	5,	0,  2, 90 },
	{ GET, 3, 20,	5,	1,  2, 90 },
	{ GET, 4, 70,	5,	1,  2, 90 },
};

/* Bigger than max_bytes: refused, nothing evicted, old answer kept. */
static const struct step oversize[] = {
	{ PUT, 0, 20,	0,	0,  1, 20 },
	{ PUT, 1, 20,	1,	0,  2, 40 },
	{ PUT, 2, 20,	2,	0,  3, 60 },
	{ PUT, 3, 20,	3,	0,  4, 80 },
	{ PUT, 4, 101,	4,	-1, 4, 80 },
	{ PUT, 1, 101,	4,	-1, 4, 80 },	/* same key as a stored one */
	{ GET, 0, 20,	5,	1,  4, 80 },
	{ GET, 1, 20,	5,	1,  4, 80 },
	{ GET, 2, 20,	5,	1,  4, 80 },
	{ GET, 3, 20,	5,	1,  4, 80 },
	{ PUT, 5, 100,	6,	0,  1, 100 },	/* exactly max_bytes fits */
	{ GET, 3, 20,	7,	0,  1, 100 },
	{ GET, 5, 100,	7,	1,  1, 100 },
};

/* Both bounds exactly reached; zero-length answers count as entries. */
static const struct step exact[] = {
	{ PUT, 0, 25,	0,	0,  1, 25 },
	{ PUT, 1, 25,	1,	0,  2, 50 },
	{ PUT, 2, 0,	2,	0,  2, 25 },	/* entry bound evicts k0 */
	{ GET, 2, 0,	3,	1,  2, 25 },
	{ GET, 1, 25,	3,	1,  2, 25 },
};

/* Expired entries make room before live ones are evicted. */
static const struct step expired_first[] = {
	{ PUT, 0, 10,	0,	0,  1, 10 },
	{ PUT, 1, 10,	0,	0,  2, 20 },
	{ PUT, 2, 10,	90,	0,  3, 30 },
	{ PUT, 3, 5,	100,	0,  2, 15 },	/* k0, k1 expired at 100 */
	{ GET, 2, 10,	100,	1,  2, 15 },
};

/* max_entries 0 stores nothing. */
static const struct step no_entries[] = {
	{ PUT, 0, 0,	0,	-1, 0, 0 },
	{ GET, 0, 0,	0,	0,  0, 0 },
};

/* max_bytes 0 still stores empty answers. */
static const struct step no_bytes[] = {
	{ PUT, 0, 0,	0,	0,  1, 0 },
	{ PUT, 1, 1,	0,	-1, 1, 0 },
	{ PUT, 2, 0,	0,	0,  2, 0 },
	{ PUT, 3, 0,	0,	0,  2, 0 },
	{ GET, 0, 0,	0,	0,  2, 0 },
	{ GET, 3, 0,	0,	1,  2, 0 },
};

/* A lookup on an empty table, and a miss on a non-empty one. */
static const struct step empty[] = {
	{ GET, 0, 0,	0,	0,  0, 0 },
	{ GET, 7, 0,	FOREVER, 0, 0, 0 },
	{ EXPIRE, 0, 0,	FOREVER, 0, 0, 0 },
	{ PUT, 1, 3,	0,	0,  1, 3 },
	{ GET, 2, 0,	0,	0,  1, 3 },
};

#define SCRIPT(name, ent, bytes, life) \
	static const struct script name##_script = \
	    { ent, bytes, life, name, NELEM(name) }
SCRIPT(replace, 2, 1000, 1000);
SCRIPT(lifetime, 4, 1000, LIFE);
SCRIPT(forever, 4, 1000, FOREVER);
SCRIPT(instant, 4, 1000, 0);
SCRIPT(expire, 10, 1000, 100);
SCRIPT(evict_entries, 3, 1000, LIFE);
SCRIPT(evict_bytes, 10, 100, LIFE);
SCRIPT(oversize, 10, 100, LIFE);
SCRIPT(exact, 2, 50, LIFE);
SCRIPT(expired_first, 10, 30, 100);
SCRIPT(no_entries, 0, 100, LIFE);
SCRIPT(no_bytes, 2, 0, LIFE);
SCRIPT(empty, 4, 100, LIFE);

/* ---- table: single tests ---- */

/* Answers with every field shape survive a round trip, as copies. */
static void
test_xch_roundtrip(void **state)
{
	static const struct {
		unsigned	 code;
		int		 cf;
		int		 max_age;
		size_t		 len;
		int		 null;		/* payload NULL (len 0) */
	} rows[] = {
		{ 69,	281,	60,	600,	0 },	/* 2.05 */
		{ 68,	-1,	-1,	0,	1 },	/* 2.04, no payload */
		{ 68,	-1,	-1,	0,	0 },	/* empty, not NULL */
		{ 163,	0,	0,	1,	0 },	/* 5.03 */
		{ 132,	62,	86400,	1024,	0 },
		{ 0,	65535,	INT32_MAX, 3,	0 },
	};
	struct xch_table	*t;
	struct xch_answer	 a;
	const struct xch_answer	*got;
	uint8_t			 key[XCH_KEY_LEN], buf[NELEM(rows)][1024];
	size_t			 i, total = 0;

	(void)state;
	assert_non_null(t = xch_table_new(16, 4096, LIFE));
	for (i = 0; i < NELEM(rows); i++) {
		fill(buf[i], rows[i].len, (unsigned)i);
		a.code = rows[i].code;
		a.cf = rows[i].cf;
		a.max_age = rows[i].max_age;
		a.payload = rows[i].null ? NULL : buf[i];
		a.len = rows[i].len;
		keyn(key, (unsigned)i);
		assert_int_equal(xch_put(t, key, &a, 0, 100), 0);
		total += rows[i].len;
	}
	/* The table keeps its own copies. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(xch_count(t), NELEM(rows));
	assert_int_equal(xch_bytes(t), total);
	for (i = 0; i < NELEM(rows); i++) {
		keyn(key, (unsigned)i);
		assert_non_null(got = xch_get(t, key, 101));
		fill(buf[i], rows[i].len, (unsigned)i);
		assert_int_equal(got->code, rows[i].code);
		assert_int_equal(got->cf, rows[i].cf);
		assert_int_equal(got->max_age, rows[i].max_age);
		assert_int_equal(got->len, rows[i].len);
		assert_non_null(got->payload);
		if (rows[i].len > 0)
			assert_memory_equal(got->payload, buf[i],
			    rows[i].len);
	}
	xch_table_free(t);
}

/* Malformed answers are refused and leave the table alone. */
static void
test_xch_put_bad(void **state)
{
	struct xch_table	*t;
	struct xch_answer	 a = { .code = 69, .cf = -1, .max_age = -1,
				    .payload = NULL, .len = 5 };
	uint8_t			 key[XCH_KEY_LEN];

	(void)state;
	assert_non_null(t = xch_table_new(4, 100, LIFE));
	keyn(key, 1);
	assert_int_equal(xch_put(t, key, NULL, 0, 0), -1);
	assert_int_equal(xch_put(t, key, &a, 0, 0), -1);
	assert_int_equal(xch_count(t), 0);
	assert_int_equal(xch_bytes(t), 0);
	assert_null(xch_get(t, key, 0));
	xch_table_free(NULL);
	xch_table_free(t);
}

/* The ways an entry can leave the table. */
enum leave {
	LEAVE_REPLACE,
	LEAVE_EVICT_COUNT,
	LEAVE_EVICT_BYTES,
	LEAVE_EXPIRE,
	LEAVE_GET_EXPIRED,
	LEAVE_TABLE_FREE,
};

static const char *const leave_names[] = {
	"replace", "evict-count", "evict-bytes", "expire", "get-expired",
	"table-free",
};

/*
 * Store k0 (48 bytes) with the given secret flag, make it leave by path,
 * and say whether its payload went through OPENSSL_cleanse.
 */
static int
leave_wiped(enum leave path, int secret)
{
	struct xch_table	*t;
	struct xch_answer	 a;
	uint8_t			 key[XCH_KEY_LEN], p[48];

	/* 2 entries, 100 bytes, lifetime 1000. */
	assert_non_null(t = xch_table_new(2, 100, 1000));
	keyn(key, 0);
	answer(&a, p, sizeof(p), 0xe000 + path * 2 + (unsigned)secret);
	nwipes = 0;
	assert_int_equal(xch_put(t, key, &a, secret, 0), 0);
	assert_false(wiped(p, sizeof(p)));	/* not before it goes */

	switch (path) {
	case LEAVE_REPLACE:
		assert_int_equal(put_n(t, 0, 10, 0, 1), 0);
		break;
	case LEAVE_EVICT_COUNT:
		assert_int_equal(put_n(t, 1, 1, 0, 1), 0);
		assert_int_equal(put_n(t, 2, 1, 0, 2), 0);
		break;
	case LEAVE_EVICT_BYTES:
		assert_int_equal(put_n(t, 1, 60, 0, 1), 0);
		break;
	case LEAVE_EXPIRE:
		xch_expire(t, 1000);
		break;
	case LEAVE_GET_EXPIRED:
		assert_null(xch_get(t, key, 1000));
		break;
	case LEAVE_TABLE_FREE:
		xch_table_free(t);
		return wiped(p, sizeof(p));
	}
	/* The old k0 is gone and only the new entries are counted. */
	if (path == LEAVE_REPLACE)
		check_answer(xch_get(t, key, 1), 10, 0 * 1000 + 10);
	else
		assert_null(xch_get(t, key, 1));
	assert_int_equal(xch_count(t),
	    path == LEAVE_EVICT_COUNT ? 2 : path == LEAVE_REPLACE ||
	    path == LEAVE_EVICT_BYTES ? 1 : 0);
	xch_table_free(t);
	return wiped(p, sizeof(p));
}

/* Secret payloads are cleansed on every way out; others are not. */
static void
test_xch_secret_wipe(void **state)
{
	enum leave	 path;

	(void)state;
	for (path = LEAVE_REPLACE; path <= LEAVE_TABLE_FREE; path++) {
		if (!leave_wiped(path, 1))
			fail_msg("%s: secret payload not wiped",
			    leave_names[path]);
		if (leave_wiped(path, 0))
			fail_msg("%s: ordinary payload wiped",
			    leave_names[path]);
	}
}

/* A secret empty answer is stored and freed without trouble. */
static void
test_xch_secret_empty(void **state)
{
	struct xch_table	*t;

	(void)state;
	assert_non_null(t = xch_table_new(1, 10, LIFE));
	assert_int_equal(put_n(t, 0, 0, 1, 0), 0);
	assert_int_equal(put_n(t, 0, 0, 1, 1), 0);
	assert_int_equal(put_n(t, 1, 0, 1, 2), 0);
	assert_int_equal(xch_count(t), 1);
	xch_table_free(t);
}

/* Many entries: the hash table grows and every key is still found. */
static void
test_xch_many(void **state)
{
	struct xch_table	*t;
	unsigned		 k, n = 5000;

	(void)state;
	assert_non_null(t = xch_table_new(n, n * 8, LIFE));
	for (k = 0; k < n; k++)
		assert_int_equal(put_n(t, k, 8, k & 1, k), 0);
	assert_int_equal(xch_count(t), n);
	assert_int_equal(xch_bytes(t), n * 8);
	for (k = 0; k < n; k++)
		check_answer(get_n(t, k, n), 8, k * 1000 + 8);
	assert_null(get_n(t, n, n));
	assert_int_equal(put_n(t, n, 8, 0, n), 0);	/* evicts k0 */
	assert_null(get_n(t, 0, n));
	check_answer(get_n(t, 1, n), 8, 1 * 1000 + 8);
	assert_int_equal(xch_count(t), n);
	xch_expire(t, n + LIFE);
	assert_int_equal(xch_count(t), 0);
	assert_int_equal(xch_bytes(t), 0);
	xch_table_free(t);
}

/* Free a table that still holds entries; ASan's leak check watches. */
static void
test_xch_free_full(void **state)
{
	struct xch_table	*t;
	unsigned		 k;

	(void)state;
	assert_non_null(t = xch_table_new(100, 10000, LIFE));
	for (k = 0; k < 60; k++)
		assert_int_equal(put_n(t, k % 40, k, k % 3 == 0, k), 0);
	assert_int_equal(xch_count(t), 40);
	xch_table_free(t);
}

/* ---- random run against a model ---- */

#define R_ENTRIES	8
#define R_BYTES		256
#define R_LIFE		2000
#define R_PUTS		10000
#define R_POOL		64		/* keys that repeat */

/* The model's view of one entry, in insertion order. */
struct mentry {
	unsigned	 key;
	size_t		 len;
	uint64_t	 stored;
	unsigned	 seed;
};

static struct mentry	 model[R_ENTRIES];
static size_t		 nmodel;
static uint64_t		 rng = 0x2545f4914f6cdd1dULL;

/* xorshift64*: a fixed seed makes a failure repeatable. */
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Remove model entry i, keeping the order of the rest. */
static void
model_drop(size_t i)
{
	memmove(&model[i], &model[i + 1], (nmodel - i - 1) * sizeof(model[0]));
	nmodel--;
}

/* Index of key in the model, or -1. */
static long
model_find(unsigned key)
{
	size_t	 i;

	for (i = 0; i < nmodel; i++)
		if (model[i].key == key)
			return (long)i;
	return -1;
}

/* Payload bytes the model holds. */
static size_t
model_bytes(void)
{
	size_t	 i, sum = 0;

	for (i = 0; i < nmodel; i++)
		sum += model[i].len;
	return sum;
}

/* The put the table must do: refuse, replace, expire, evict, append. */
static int
model_put(unsigned key, size_t len, unsigned seed, uint64_t now)
{
	long	 i;

	if (len > R_BYTES)
		return -1;
	if ((i = model_find(key)) != -1)
		model_drop((size_t)i);
	while (nmodel > 0 && now - model[0].stored >= R_LIFE)
		model_drop(0);
	while (nmodel >= R_ENTRIES || model_bytes() + len > R_BYTES)
		model_drop(0);
	model[nmodel].key = key;
	model[nmodel].len = len;
	model[nmodel].stored = now;
	model[nmodel].seed = seed;
	nmodel++;
	return 0;
}

/* 10k random puts with gets and expiries; the table tracks the model. */
static void
test_xch_random(void **state)
{
	struct xch_table	*t;
	const struct xch_answer	*got;
	struct xch_answer	 a;
	uint8_t			 key[XCH_KEY_LEN], buf[R_BYTES + 1];
	uint64_t		 now = 0;
	unsigned		 i, k, seed;
	size_t			 len;
	long			 m;
	int			 rc;

	(void)state;
	nmodel = 0;
	assert_non_null(t = xch_table_new(R_ENTRIES, R_BYTES, R_LIFE));
	for (i = 0; i < R_PUTS; i++) {
		now += rnd() % 60;
		/* Mostly a small pool, so replacements and hits happen. */
		k = rnd() % 4 == 0 ? R_POOL + i : (unsigned)(rnd() % R_POOL);
		len = rnd() % 50 == 0 ? R_BYTES + 1 : rnd() % 97;
		seed = i;
		keyn(key, k);
		answer(&a, buf, len, seed);
		rc = xch_put(t, key, &a, (int)(rnd() & 1), now);
		assert_int_equal(rc, model_put(k, len, seed, now));

		k = (unsigned)(rnd() % R_POOL);
		keyn(key, k);
		got = xch_get(t, key, now);
		if ((m = model_find(k)) != -1 &&
		    now - model[m].stored >= R_LIFE) {
			model_drop((size_t)m);
			m = -1;
		}
		if (m == -1)
			assert_null(got);
		else
			check_answer(got, model[m].len, model[m].seed);

		if (rnd() % 16 == 0) {
			xch_expire(t, now);
			while (nmodel > 0 && now - model[0].stored >= R_LIFE)
				model_drop(0);
		}
		assert_true(xch_count(t) <= R_ENTRIES);
		assert_true(xch_bytes(t) <= R_BYTES);
		assert_int_equal(xch_count(t), nmodel);
		assert_int_equal(xch_bytes(t), model_bytes());
	}
	xch_table_free(t);
}

#define SCRIPT_TEST(name) \
	{ "script_" #name, run_script, NULL, NULL, \
	    (void *)(uintptr_t)&name##_script }

/* Run every test; the exit status is the number of failures. */
/*
 * The held-answer key: the same public key gives the same key whatever
 * the CSR around it; another key, device or operation another one; no key
 * is the empty body of xch_key.
 */
static void
test_xch_key_pub(void **state)
{
	static const uint8_t	 fp[] = "device certificate";
	EVP_PKEY		*a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256");
	EVP_PKEY		*a2;
	unsigned char		*der = NULL;
	const unsigned char	*p;
	uint8_t			 k1[XCH_KEY_LEN], k2[XCH_KEY_LEN];
	int			 n;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	/* a copy of a's public key only, as a CSR would carry it */
	n = i2d_PUBKEY(a, &der);
	assert_true(n > 0);
	p = der;
	assert_non_null(a2 = d2i_PUBKEY(NULL, &p, n));
	xch_key_pub(k1, fp, sizeof(fp), "sen", "", 281, a);
	xch_key_pub(k2, fp, sizeof(fp), "sen", "", 281, a2);
	assert_memory_equal(k1, k2, XCH_KEY_LEN);
	xch_key_pub(k2, fp, sizeof(fp), "sen", "", 281, b);
	assert_memory_not_equal(k1, k2, XCH_KEY_LEN);
	xch_key_pub(k2, fp, sizeof(fp) - 1, "sen", "", 281, a);
	assert_memory_not_equal(k1, k2, XCH_KEY_LEN);
	xch_key_pub(k2, fp, sizeof(fp), "skg", "", 281, a);
	assert_memory_not_equal(k1, k2, XCH_KEY_LEN);
	xch_key_pub(k1, fp, sizeof(fp), "crts", "", 281, NULL);
	xch_key(k2, fp, sizeof(fp), "crts", "", 281, NULL, 0);
	assert_memory_equal(k1, k2, XCH_KEY_LEN);
	OPENSSL_free(der);
	EVP_PKEY_free(a);
	EVP_PKEY_free(a2);
	EVP_PKEY_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xch_key_distinct),
		cmocka_unit_test(test_xch_key_pub),
		cmocka_unit_test(test_xch_key_known),
		cmocka_unit_test(test_xch_key_same),
		cmocka_unit_test(test_xch_key_unusable),
		SCRIPT_TEST(empty),
		SCRIPT_TEST(replace),
		SCRIPT_TEST(lifetime),
		SCRIPT_TEST(forever),
		SCRIPT_TEST(instant),
		SCRIPT_TEST(expire),
		SCRIPT_TEST(evict_entries),
		SCRIPT_TEST(evict_bytes),
		SCRIPT_TEST(oversize),
		SCRIPT_TEST(exact),
		SCRIPT_TEST(expired_first),
		SCRIPT_TEST(no_entries),
		SCRIPT_TEST(no_bytes),
		cmocka_unit_test(test_xch_roundtrip),
		cmocka_unit_test(test_xch_put_bad),
		cmocka_unit_test(test_xch_secret_wipe),
		cmocka_unit_test(test_xch_secret_empty),
		cmocka_unit_test(test_xch_many),
		cmocka_unit_test(test_xch_free_full),
		cmocka_unit_test(test_xch_random),
		cmocka_unit_test(test_xch_origin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
