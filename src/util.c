/*
 * Small pieces with no better home: a bounded byte buffer and the
 * monotonic clock.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "util.h"

/* First allocation of a buffer; doubled from there, never past cap. */
#define BUF_MIN_SIZE	256

/* Set up an empty buffer that will never hold more than cap bytes. */
void
buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	b->cap = cap;
}

/*
 * Append n bytes. Fails with EMSGSIZE past the cap or on size_t overflow,
 * and with ENOMEM; the buffer is unchanged on failure.
 */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t	*nd;
	size_t	 need, nsize;

	if (n == 0)
		return 0;
	if (b->len > SIZE_MAX - n || b->len + n > b->cap) {
		errno = EMSGSIZE;
		return -1;
	}
	need = b->len + n;
	if (need > b->size) {
		nsize = b->size == 0 ? BUF_MIN_SIZE : b->size;
		while (nsize < need && nsize <= SIZE_MAX / 2)
			nsize *= 2;
		if (nsize < need || nsize > b->cap)
			nsize = b->cap;
		/*
		 * Not realloc: a buffer may hold key material, and realloc
		 * could leave a copy behind in the block it frees.
		 */
		if ((nd = malloc(nsize)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		if (b->data != NULL) {
			memcpy(nd, b->data, b->len);
			OPENSSL_cleanse(b->data, b->size);
			free(b->data);
		}
		b->data = nd;
		b->size = nsize;
	}
	memcpy(b->data + b->len, p, n);
	b->len = need;
	return 0;
}

/* Free the contents and keep the cap, so the buffer can be used again. */
void
buf_reset(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->size = 0;
}

/* Overwrite the whole allocation with zeroes, then reset. */
void
buf_wipe(struct buf *b)
{
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->size);
	buf_reset(b);
}

/* Milliseconds on CLOCK_MONOTONIC: for deadlines, never for wall time. */
uint64_t
mono_ms(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* See util.h. */
char *
file_read(const char *path, size_t max, size_t *lenp)
{
	FILE	*fp;
	char	*data;
	size_t	 n;
	int	 e;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if ((data = malloc(max + 1)) == NULL) {
		fclose(fp);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(data, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		e = ferror(fp) ? EIO : EFBIG;
		free(data);
		fclose(fp);
		errno = e;
		return NULL;
	}
	fclose(fp);
	data[n] = '\0';
	*lenp = n;
	return data;
}
