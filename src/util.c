/*
 * Small pieces with no better home: a bounded byte buffer, the
 * monotonic clock and a list of error lines.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

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

/*
 * splitmix64's finaliser: every input bit moves every output bit. The
 * seeded hash tables (exchange, pending, ratelimit) mix with it.
 */
uint64_t
mix64(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
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

/*
 * See util.h. read(2), not stdio: a key file must not leave a copy in a
 * FILE buffer that is freed unwiped; the buffer is wiped on failure.
 */
char *
file_read(const char *path, size_t max, size_t *lenp)
{
	char	*data;
	size_t	 n = 0;
	ssize_t	 r;
	int	 fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((data = malloc(max + 1)) == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	/* one byte more than max tells a file that is too big */
	while (n < max + 1 && (r = read(fd, data + n, max + 1 - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			e = EIO;
			goto fail;
		}
		n += (size_t)r;
	}
	if (n > max) {
		e = EFBIG;
		goto fail;
	}
	close(fd);
	data[n] = '\0';
	*lenp = n;
	return data;
fail:
	OPENSSL_cleanse(data, n);
	free(data);
	close(fd);
	errno = e;
	return NULL;
}

/* See util.h. */
void
json_blank_comments(char *text, size_t len)
{
	char	*p = text, *end = text + len, *e;
	int	 str = 0;

	for (; p < end; p++) {
		if (str) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				str = 0;
		} else if (*p == '"')
			str = 1;
		else if (*p == '/' && p + 1 < end && p[1] == '/') {
			while (p < end && *p != '\n')
				*p++ = ' ';
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			e = memmem(p + 2, (size_t)(end - p - 2), "*/", 2);
			if (e == NULL)
				return;		/* the parser reports it here */
			for (e += 2; p < e; p++)
				if (*p != '\n')
					*p = ' ';
			p--;
		}
	}
}

/* Append one formatted line to an error list. */
void
errlist_add(struct errlist *el, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;
	size_t	 n;
	char	*p;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	if ((p = realloc(el->text, el->len + n + 2)) == NULL)
		return;
	el->text = p;
	memcpy(el->text + el->len, line, n);
	el->len += n;
	el->text[el->len++] = '\n';
	el->text[el->len] = '\0';
	el->count++;
}

/* Forget every line. */
void
errlist_free(struct errlist *el)
{
	free(el->text);
	el->text = NULL;
	el->len = 0;
	el->count = 0;
}

/* See util.h. */
int
addr_parse(const char *s, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	socklen_t		 n;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		n = sizeof(*sin);
	} else if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		n = sizeof(*sin6);
	} else
		return -1;
	if (len != NULL)
		*len = n;
	return 0;
}

/* See util.h. */
const uint8_t *
addr_bytes(const struct sockaddr_storage *ss, size_t *n)
{
	if (ss->ss_family == AF_INET) {
		*n = 4;
		return (const uint8_t *)
		    &((const struct sockaddr_in *)ss)->sin_addr;
	}
	*n = 16;
	return ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
}

/* See util.h. */
int
addr_is_multicast(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return IN_MULTICAST(ntohl(
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr));
	return IN6_IS_ADDR_MULTICAST(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/*
 * See util.h. Device-chosen keys (tokens, addresses, bodies) go into
 * the hashed tables; without the secret a sender could aim them all at
 * one bucket. If the RNG fails the table still works, guessably.
 */
uint64_t
seed64(uint64_t fallback)
{
	uint64_t seed;

	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) == 1)
		return seed;
	ERR_clear_error();
	return fallback;
}
