/*
 * Small pieces with no better home: a bounded byte buffer, the monotonic
 * clock, a list of error lines.
 */
#ifndef ESTCOAPD_UTIL_H
#define ESTCOAPD_UTIL_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* A growable byte buffer that refuses to grow past cap. */
struct buf {
	uint8_t	*data;
	size_t	 len;
	size_t	 size;		/* allocated */
	size_t	 cap;		/* hard limit in bytes */
};

void	 buf_init(struct buf *, size_t cap);
int	 buf_append(struct buf *, const void *, size_t);	/* -1 past cap or ENOMEM */
void	 buf_reset(struct buf *);		/* frees and keeps the cap */
void	 buf_wipe(struct buf *);		/* OPENSSL_cleanse, then reset */

uint64_t mono_ms(void);				/* CLOCK_MONOTONIC in ms */
uint64_t mix64(uint64_t);			/* splitmix64 finaliser, for seeded hashes */
/* A secret seed for a hashed table: 64 random bits, fallback if the RNG fails. */
uint64_t seed64(uint64_t fallback);

/* Errors collected while reading or checking, one line each. */
struct errlist {
	char	*text;		/* "\n"-separated, NUL-terminated; malloc'd */
	size_t	 len;
	int	 count;
};

void	 errlist_add(struct errlist *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 errlist_free(struct errlist *);

/*
 * A numeric IPv4 or IPv6 address (never a host name) and a port as a
 * socket address; *len (may be NULL) gets its size. 0, or -1 when s is
 * neither.
 */
int	 addr_parse(const char *s, uint16_t port, struct sockaddr_storage *ss,
	    socklen_t *len);

/* The address bytes of a parsed address (4 or 16 of them in *n). */
const uint8_t *addr_bytes(const struct sockaddr_storage *ss, size_t *n);

/* A parsed address is an IPv4 or IPv6 multicast group. */
int	 addr_is_multicast(const struct sockaddr_storage *ss);

/*
 * A whole file of at most max bytes, NUL-terminated (*lenp excludes the
 * NUL); NULL with errno set (EFBIG past max). Start-up and -t only.
 */
char	*file_read(const char *path, size_t max, size_t *lenp);

/*
 * Turn the comments of JSON text into blanks, in place: // to the end of
 * the line and slash-star to star-slash, outside strings. Newlines stay,
 * so positions in parse errors stay true; an unfinished comment is left
 * for the parser to report.
 */
void	 json_blank_comments(char *text, size_t len);

#endif
